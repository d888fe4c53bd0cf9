/*
 * gmm.c: the Gaussian mixture model object: creation, copies and the derived quantities
 * (Cholesky factors, log-determinants) that scoring and EM use.
 *
 * Scoring and EM live in gmm_em.c, files in gmm_io.c; this file owns the object.
 */
#include "gmmkit/gmm.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <lapacke.h>

#include "gmmkit/limits.h"
#include "gmm_internal.h"
#include "vector_kernel.h"

/* The allocator to pass to gk_alloc: NULL (malloc) when the model was made without one. */
static const gk_allocator *gmm_allocator(const gk_gmm *g) {
  return g->alloc.fn ? &g->alloc : NULL;
}

const char *const gk_cov_type_names[] = {"diag", "full", NULL};

const char *gk_cov_type_name(gk_cov_type t) {
  return gk_cov_type_names[t == GK_COV_FULL ? GK_COV_FULL : GK_COV_DIAG];
}

size_t gk_gmm_cov_size(gk_cov_type t, size_t d) {
  return t == GK_COV_FULL ? d * d : d;
}

void gk_gmm_free(gk_gmm *g) {
  if (!g) return;
  gk_allocator a = g->alloc;
  const gk_allocator *ap = a.fn ? &a : NULL;
  size_t cs = gk_gmm_cov_size(g->cov, g->d);
  gk_free(ap, g->weights, g->k * sizeof(double));
  gk_free(ap, g->means, g->k * g->d * sizeof(double));
  gk_free(ap, g->covs, g->k * cs * sizeof(double));
  gk_free(ap, g->chol, g->k * cs * sizeof(double));
  gk_free(ap, g->log_det, g->k * sizeof(double));
  gk_free(ap, g, sizeof(*g));
}

gk_status gk_gmm_create(gk_gmm **out, size_t k, size_t d, gk_cov_type cov,
                        const gk_allocator *a, gk_error *err) {
  *out = NULL;
  if (cov != GK_COV_DIAG && cov != GK_COV_FULL)
    return gk_fail(err, GK_EINVAL, "unknown covariance type %d", (int)cov);
  if (k == 0 || d == 0)
    return gk_fail(err, GK_EINVAL, "a model needs at least one component and one dimension (got %zu x %zu)", k, d);
  if (k > GK_MAX_COMPONENTS)
    return gk_fail(err, GK_ELIMIT, "%zu components exceed the limit GK_MAX_COMPONENTS = %u", k, GK_MAX_COMPONENTS);
  if (d > GK_MAX_DIM)
    return gk_fail(err, GK_ELIMIT, "dimension %zu exceeds the limit GK_MAX_DIM = %u", d, GK_MAX_DIM);
  size_t cs = gk_gmm_cov_size(cov, d), ncov;
  if (!gk_mul_size(k, cs, &ncov) || ncov > GK_MAX_ELEMENTS || ncov > SIZE_MAX / sizeof(double))
    return gk_fail(err, GK_ELIMIT, "%zu %s covariances of dimension %zu exceed GK_MAX_ELEMENTS",
                   k, gk_cov_type_name(cov), d);

  gk_gmm *g = gk_calloc(a, 1, sizeof(*g));
  if (!g) return gk_fail_nomem(err);
  if (a) g->alloc = *a;
  g->k = k;
  g->d = d;
  g->cov = cov;
  g->weights = gk_calloc(a, k, sizeof(double));
  g->means = gk_calloc(a, k * d, sizeof(double));
  g->covs = gk_calloc(a, ncov, sizeof(double));
  g->chol = gk_calloc(a, ncov, sizeof(double));
  g->log_det = gk_calloc(a, k, sizeof(double));
  if (!g->weights || !g->means || !g->covs || !g->chol || !g->log_det) {
    gk_gmm_free(g);
    return gk_fail_nomem(err);
  }
  *out = g;
  return GK_OK;
}

gk_status gk_gmm_clone(const gk_gmm *src, gk_gmm **out, const gk_allocator *a, gk_error *err) {
  if (!a) a = gmm_allocator(src);
  gk_status s = gk_gmm_create(out, src->k, src->d, src->cov, a, err);
  if (s != GK_OK) return s;
  gk_gmm *g = *out;
  size_t cs = gk_gmm_cov_size(src->cov, src->d);
  memcpy(g->weights, src->weights, src->k * sizeof(double));
  memcpy(g->means, src->means, src->k * src->d * sizeof(double));
  memcpy(g->covs, src->covs, src->k * cs * sizeof(double));
  memcpy(g->chol, src->chol, src->k * cs * sizeof(double));
  memcpy(g->log_det, src->log_det, src->k * sizeof(double));
  return GK_OK;
}

GK_VECTOR_KERNEL
double gk_gmm_component_logpdf(const gk_gmm *g, size_t c, const double *x, double *tmp) {
  size_t d = g->d;
  const double *mu = g->means + c * d;
  double q = 0.0;
  if (g->cov == GK_COV_DIAG) {
    const double *sd = g->chol + c * d;
#pragma omp simd reduction(+ : q)
    for (size_t a = 0; a < d; a++) {
      double z = (x[a] - mu[a]) / sd[a];
      q += z * z;
    }
  } else {
    /* z = L^-1 (x - mu) by forward substitution. */
    const double *L = g->chol + c * d * d;
    for (size_t a = 0; a < d; a++) {
      double t = x[a] - mu[a];
      for (size_t b = 0; b < a; b++) t -= L[a * d + b] * tmp[b];
      tmp[a] = t / L[a * d + a];
      q += tmp[a] * tmp[a];
    }
  }
  double lw = g->weights[c] > 0.0 ? log(g->weights[c]) : -INFINITY;
  return lw - 0.5 * ((double)d * GK_LOG_2PI + g->log_det[c] + q);
}

void gk_gmm_mean(const gk_gmm *g, double *mean) {
  size_t d = g->d;
  for (size_t j = 0; j < d; j++) {
    double s = 0.0;
    for (size_t c = 0; c < g->k; c++) s += g->weights[c] * g->means[c * d + j];
    mean[j] = s;
  }
}

double gk_gmm_diag_row(const gk_gmm *g, size_t c, const double *shift, float *A, size_t stride) {
  size_t d = g->d;
  double q2 = 0.0;
  for (size_t j = 0; j < d; j++) {
    double v = g->covs[c * d + j], m = g->means[c * d + j] - shift[j];
    A[j * stride] = (float)(-0.5 / v);
    A[(d + j) * stride] = (float)(m / v);
    q2 += m * m / v;
  }
  double lw = g->weights[c] > 0.0 ? log(g->weights[c]) : -INFINITY;
  return lw - 0.5 * ((double)d * GK_LOG_2PI + g->log_det[c] + q2);
}

/* log w_j N(mu_i; mu_j, S_i + S_j) (gmm.h). */
double gk_gmm_log_overlap(const gk_gmm *f, size_t i, const gk_gmm *g, size_t j, double *work) {
  size_t d = f->d;
  const double *a = f->means + i * d, *b = g->means + j * d;
  double lw = g->weights[j] > 0.0 ? log(g->weights[j]) : -INFINITY;
  if (f->cov == GK_COV_DIAG && g->cov == GK_COV_DIAG) {
    double q = 0.0, ld = 0.0;
    for (size_t t = 0; t < d; t++) {
      double v = f->covs[i * d + t] + g->covs[j * d + t], z = a[t] - b[t];
      q += z * z / v;
      ld += log(v);
    }
    return lw - 0.5 * ((double)d * GK_LOG_2PI + ld + q);
  }
  /* Full: S = S_i + S_j (a diagonal one read as a diagonal matrix), by Cholesky. */
  double *S = work, *z = work + d * d;
  for (size_t r = 0; r < d; r++)
    for (size_t c = 0; c < d; c++) {
      double si = f->cov == GK_COV_DIAG ? (r == c ? f->covs[i * d + r] : 0.0) : f->covs[(i * d + r) * d + c];
      double sj = g->cov == GK_COV_DIAG ? (r == c ? g->covs[j * d + r] : 0.0) : g->covs[(j * d + r) * d + c];
      S[r * d + c] = si + sj;
    }
  if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)d, S, (lapack_int)d) != 0) return -INFINITY;
  double q = 0.0, ld = 0.0;
  for (size_t r = 0; r < d; r++) {
    double t = a[r] - b[r];
    for (size_t c = 0; c < r; c++) t -= S[r * d + c] * z[c];
    z[r] = t / S[r * d + r];
    q += z[r] * z[r];
    ld += 2.0 * log(S[r * d + r]);
  }
  return lw - 0.5 * ((double)d * GK_LOG_2PI + ld + q);
}

gk_status gk_gmm_prepare(gk_gmm *g, gk_error *err) {
  size_t k = g->k, d = g->d;
  double wsum = 0.0;
  for (size_t c = 0; c < k; c++) {
    double w = g->weights[c];
    if (!isfinite(w) || w < 0.0)
      return gk_fail(err, GK_EINVAL, "weight of component %zu is %g (must be finite and >= 0)", c + 1, w);
    wsum += w;
  }
  if (fabs(wsum - 1.0) > 1e-6)
    return gk_fail(err, GK_EINVAL, "weights sum to %.10g, not 1 (tolerance 1e-6)", wsum);
  for (size_t i = 0; i < k * d; i++)
    if (!isfinite(g->means[i]))
      return gk_fail(err, GK_ENUMERIC, "mean of component %zu has a non-finite value (%g) in dimension %zu",
                     i / d + 1, g->means[i], i % d + 1);

  if (g->cov == GK_COV_DIAG) {
    for (size_t c = 0; c < k; c++) {
      const double *v = g->covs + c * d;
      double ld = 0.0;
      for (size_t j = 0; j < d; j++) {
        if (!isfinite(v[j]) || !(v[j] > 0.0))
          return gk_fail(err, GK_ENUMERIC, "variance of component %zu in dimension %zu is %g (must be finite and > 0)",
                         c + 1, j + 1, v[j]);
        g->chol[c * d + j] = sqrt(v[j]);
        ld += log(v[j]);
      }
      g->log_det[c] = ld;
    }
    return GK_OK;
  }

  /* Full: S_k = L_k L_k' by LAPACK's dpotrf on a copy; log|S_k| = 2 sum_i log L_ii. */
  for (size_t c = 0; c < k; c++) {
    const double *S = g->covs + c * d * d;
    double *L = g->chol + c * d * d;
    for (size_t i = 0; i < d; i++) {
      for (size_t j = 0; j <= i; j++) {
        double a = S[i * d + j], b = S[j * d + i];
        if (!isfinite(a) || !isfinite(b))
          return gk_fail(err, GK_ENUMERIC, "covariance of component %zu has a non-finite value at (%zu, %zu)",
                         c + 1, i + 1, j + 1);
        double scale = fmax(fabs(a), fabs(b));
        if (fabs(a - b) > 1e-9 * scale)
          return gk_fail(err, GK_EINVAL, "covariance of component %zu is not symmetric: (%zu, %zu) = %g but (%zu, %zu) = %g",
                         c + 1, i + 1, j + 1, a, j + 1, i + 1, b);
        L[i * d + j] = a;
      }
      for (size_t j = i + 1; j < d; j++) L[i * d + j] = 0.0;
    }
    lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)d, L, (lapack_int)d);
    if (info != 0)
      return gk_fail(err, GK_ENUMERIC, "covariance of component %zu is not positive definite (Cholesky failed at pivot %d)",
                     c + 1, (int)info);
    double ld = 0.0;
    for (size_t i = 0; i < d; i++) {
      double lii = L[i * d + i];
      if (!(lii > 0.0) || !isfinite(lii))
        return gk_fail(err, GK_ENUMERIC, "covariance of component %zu is not positive definite", c + 1);
      ld += log(lii);
    }
    g->log_det[c] = 2.0 * ld;
  }
  return GK_OK;
}
