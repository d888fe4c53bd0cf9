/*
 * gmm_train.c: EM training of gmmkit/gmm.h: the M-step (with floors and dying
 * components), Reynolds MAP adaptation, the initialisations (k-means++, k-means, random
 * frames, binary splitting), the step-wise trainer, and sampling.
 *
 * One EM iteration is gk_gmm_accumulate (E-step, any number of pieces merged) followed by
 * gk_gmm_update (M-step), so that the statistics can be reduced across processes.
 */
#include "gmmkit/gmm.h"
#include "gmmkit/comm.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <cblas.h>

#include "gmmkit/limits.h"
#include "gmmkit/parallel.h"
#include "gmmkit/random.h"

#define SPLIT_ITERS 4         /* EM iterations between two splits of the split initialisation (1 at K = 1) */
#define SPLIT_OFFSET 0.2      /* a split moves the two halves +-0.2 standard deviations (HTK's HHEd MU) */
#define KMEANS_ITERS 10       /* Lloyd iterations of the "kmeans" initialisation */

/* ---- M-step ------------------------------------------------------------------------- */

void gk_gmm_update_opts_default(gk_gmm_update_opts *o) {
  o->var_floor = 0.0;
  o->var_floor_relative = 1e-3;
  o->reg = 1e-6;
  o->min_weight = 1e-5;
  o->death = GK_DEATH_RESPLIT;
}

static gk_status check_update_opts(const gk_gmm_update_opts *o, size_t k, gk_error *err) {
  if (!(o->var_floor >= 0.0) || !isfinite(o->var_floor))
    return gk_fail(err, GK_EINVAL, "var_floor = %g must be finite and >= 0", o->var_floor);
  if (!(o->var_floor_relative >= 0.0) || !isfinite(o->var_floor_relative))
    return gk_fail(err, GK_EINVAL, "var_floor_relative = %g must be finite and >= 0", o->var_floor_relative);
  if (!(o->reg >= 0.0) || !isfinite(o->reg))
    return gk_fail(err, GK_EINVAL, "reg = %g must be finite and >= 0", o->reg);
  if (!(o->min_weight >= 0.0) || !(o->min_weight * (double)k < 1.0))
    return gk_fail(err, GK_EINVAL, "min_weight = %g must be >= 0 and below 1/K = %g", o->min_weight, 1.0 / (double)k);
  if (o->death != GK_DEATH_RESPLIT && o->death != GK_DEATH_REMOVE)
    return gk_fail(err, GK_EINVAL, "unknown action for dying components (%d)", (int)o->death);
  return GK_OK;
}

/* Per-dimension variance floor: max(var_floor, var_floor_relative * global variance),
 * the global moments taken from the statistics about their weighted mean. */
static void variance_floor(const gk_gmm_stats *s, const gk_gmm_update_opts *o, double *floor_, double *gmean) {
  size_t k = s->k, d = s->d, cs = gk_gmm_cov_size(s->cov, d);
  double N = 0.0;
  for (size_t c = 0; c < k; c++) N += s->zero[c];
  for (size_t j = 0; j < d; j++) {
    double m = 0.0;
    for (size_t c = 0; c < k; c++) m += s->zero[c] * s->shift[c * d + j] + s->first[c * d + j];
    m /= N;
    double v = 0.0;
    for (size_t c = 0; c < k; c++) {
      double del = s->shift[c * d + j] - m;
      double s2 = s->cov == GK_COV_DIAG ? s->second[c * d + j] : s->second[c * cs + j * d + j];
      v += s2 + 2.0 * del * s->first[c * d + j] + s->zero[c] * del * del;
    }
    v /= N;
    if (v < 0.0) v = 0.0;
    gmean[j] = m;
    double f = o->var_floor_relative * v;
    floor_[j] = f > o->var_floor ? f : o->var_floor;
  }
}

/* Splits component h of g into h and c (c's old parameters are overwritten): halves the
 * weight, copies the covariance, moves the means +-SPLIT_OFFSET standard deviations. */
static void split_into(gk_gmm *g, size_t h, size_t c) {
  size_t d = g->d, cs = gk_gmm_cov_size(g->cov, d);
  g->weights[h] *= 0.5;
  g->weights[c] = g->weights[h];
  memcpy(g->covs + c * cs, g->covs + h * cs, cs * sizeof(double));
  for (size_t j = 0; j < d; j++) {
    double v = g->cov == GK_COV_DIAG ? g->covs[h * d + j] : g->covs[h * cs + j * d + j];
    double del = SPLIT_OFFSET * sqrt(v);
    double m = g->means[h * d + j];
    g->means[h * d + j] = m - del;
    g->means[c * d + j] = m + del;
  }
}

/* Index of the heaviest component among those with alive[c] (ties: lowest index). */
static size_t heaviest(const gk_gmm *g, const unsigned char *alive) {
  size_t h = SIZE_MAX;
  for (size_t c = 0; c < g->k; c++)
    if (alive[c] && (h == SIZE_MAX || g->weights[c] > g->weights[h])) h = c;
  return h;
}

static void normalise_weights(gk_gmm *g) {
  double s = 0.0;
  for (size_t c = 0; c < g->k; c++) s += g->weights[c];
  for (size_t c = 0; c < g->k; c++) g->weights[c] /= s;
}

/* Checks one component's covariance (after floors) by preparing a one-component view. */
static int component_ok(gk_gmm *g, size_t c) {
  size_t d = g->d, cs = gk_gmm_cov_size(g->cov, d);
  gk_gmm one = *g;
  one.k = 1;
  double w = 1.0;
  one.weights = &w;
  one.means = g->means + c * d;
  one.covs = g->covs + c * cs;
  one.chol = g->chol + c * cs;
  one.log_det = g->log_det + c;
  return gk_gmm_prepare(&one, NULL) == GK_OK;
}

/* Why every component collapsed, with the remedy that applies. */
static gk_status collapsed(const gk_gmm_stats *s, const gk_gmm_update_opts *o, double N, gk_error *err) {
  if (s->cov == GK_COV_FULL && N <= (double)s->d)
    return gk_fail(err, GK_ENUMERIC, "every component collapsed: %.0f frames cannot support a full covariance in "
                   "dimension %zu (it needs more than %zu frames, and reg = %g is below the rounding of the data); "
                   "use diagonal covariances, more frames or a larger reg", N, s->d, s->d, o->reg);
  if (o->reg > 0.0 || o->var_floor > 0.0 || o->var_floor_relative > 0.0)
    return gk_fail(err, GK_ENUMERIC, "every component collapsed although reg = %g, var_floor = %g and "
                   "var_floor_relative = %g (the data has no variance left at its scale); raise reg or var_floor",
                   o->reg, o->var_floor, o->var_floor_relative);
  return gk_fail(err, GK_ENUMERIC, "every component collapsed (the data has no variance left to model); "
                 "set var_floor or reg above 0");
}

/* The maximum-likelihood mean and covariance of component c (occupancy n > 0) from the
 * statistics (Bishop PRML eq. 9.24-9.26), with reg added and the floors applied. */
static void ml_component(const gk_gmm_stats *s, const gk_gmm_update_opts *o, const double *floor_,
                         gk_gmm *g, size_t c, double n) {
  size_t d = s->d, cs = gk_gmm_cov_size(s->cov, d);
  const double *f = s->first + c * d, *sh = s->shift + c * d;
  double *mu = g->means + c * d;
  for (size_t j = 0; j < d; j++) mu[j] = sh[j] + f[j] / n;
  if (s->cov == GK_COV_DIAG) {
    const double *s2 = s->second + c * d;
    double *v = g->covs + c * d;
    for (size_t j = 0; j < d; j++) {
      double m = f[j] / n;
      double var = s2[j] / n - m * m + o->reg;
      v[j] = var > floor_[j] ? var : floor_[j];
    }
    return;
  }
  const double *s2 = s->second + c * cs;
  double *S = g->covs + c * cs;
  for (size_t p = 0; p < d; p++)
    for (size_t t = 0; t <= p; t++) {
      /* Symmetric by construction: the lower triangle mirrored. */
      double v = 0.5 * (s2[p * d + t] + s2[t * d + p]) / n - (f[p] / n) * (f[t] / n);
      S[p * d + t] = S[t * d + p] = v;
    }
  for (size_t j = 0; j < d; j++) {
    S[j * d + j] += o->reg;
    if (S[j * d + j] < floor_[j]) S[j * d + j] = floor_[j];
  }
}

/* The dying components of *g (alive[c] == 0; nalive others) removed (a new *g) or
 * re-split from the heaviest, as o->death says. */
static gk_status bury(gk_gmm **g, unsigned char *alive, size_t nalive, const gk_gmm_update_opts *o,
                      const gk_allocator *a, gk_error *err) {
  gk_gmm *old = *g;
  size_t k = old->k, d = old->d, cs = gk_gmm_cov_size(old->cov, d);
  if (o->death != GK_DEATH_REMOVE) {
    for (size_t c = 0; c < k; c++) {
      if (alive[c]) continue;
      size_t hv = heaviest(old, alive);
      split_into(old, hv, c);
      alive[c] = 1;
    }
    return GK_OK;
  }
  gk_gmm *h = NULL;
  gk_status st = gk_gmm_create(&h, nalive, d, old->cov, a, err);
  if (st != GK_OK) return st;
  size_t i = 0;
  for (size_t c = 0; c < k; c++) {
    if (!alive[c]) continue;
    h->weights[i] = old->weights[c];
    memcpy(h->means + i * d, old->means + c * d, d * sizeof(double));
    memcpy(h->covs + i * cs, old->covs + c * cs, cs * sizeof(double));
    i++;
  }
  gk_gmm_free(old);
  *g = h;
  return GK_OK;
}

gk_status gk_gmm_update(const gk_gmm_stats *s, const gk_gmm_update_opts *o, gk_gmm **out,
                        const gk_allocator *a, size_t *events, gk_error *err) {
  *out = NULL;
  if (events) *events = 0;
  size_t k = s->k, d = s->d;
  gk_status st = check_update_opts(o, k, err);
  if (st != GK_OK) return st;
  double N = 0.0;
  for (size_t c = 0; c < k; c++) {
    if (!isfinite(s->zero[c]) || s->zero[c] < 0.0)
      return gk_fail(err, GK_ENUMERIC, "statistics of component %zu are invalid (occupancy %g)", c + 1, s->zero[c]);
    N += s->zero[c];
  }
  if (!(N > 0.0)) return gk_fail(err, GK_EINVAL, "the statistics hold no frames");

  double *floor_ = gk_scratch_alloc(2 * d, sizeof(double));
  unsigned char *alive = gk_scratch_alloc(k, 1);
  gk_gmm *g = NULL;
  if (!floor_ || !alive) {
    gk_scratch_free(floor_);
    gk_scratch_free(alive);
    return gk_fail_nomem(err);
  }
  variance_floor(s, o, floor_, floor_ + d);
  st = gk_gmm_create(&g, k, d, s->cov, a, err);
  if (st != GK_OK) goto done;

  size_t nalive = 0;
  for (size_t c = 0; c < k; c++) {
    double n = s->zero[c];
    g->weights[c] = n / N;
    alive[c] = n > 0.0 && g->weights[c] >= o->min_weight;
    if (!alive[c]) continue;
    ml_component(s, o, floor_, g, c, n);
    alive[c] = component_ok(g, c);
    nalive += alive[c];
  }
  if (nalive == 0) {
    st = collapsed(s, o, N, err);
    goto done;
  }
  size_t died = k - nalive;
  if (died > 0 && (st = bury(&g, alive, nalive, o, a, err)) != GK_OK) goto done;
  normalise_weights(g);
  st = gk_gmm_prepare(g, err);
  if (st == GK_OK && events) *events = died;
done:
  gk_scratch_free(floor_);
  gk_scratch_free(alive);
  if (st != GK_OK) {
    gk_gmm_free(g);
    return st;
  }
  *out = g;
  return GK_OK;
}

/* ---- MAP adaptation ------------------------------------------------------------------- */

gk_status gk_gmm_map(const gk_gmm *ubm, const gk_gmm_stats *s, double relevance, int means,
                     int weights, int variances, gk_gmm **out, const gk_allocator *a, gk_error *err) {
  *out = NULL;
  if (s->k != ubm->k || s->d != ubm->d || s->cov != ubm->cov)
    return gk_fail(err, GK_EINVAL, "statistics of %zu %s components in dimension %zu do not fit the UBM "
                   "(%zu %s components in dimension %zu)", s->k, gk_cov_type_name(s->cov), s->d, ubm->k,
                   gk_cov_type_name(ubm->cov), ubm->d);
  if (!(relevance > 0.0) || !isfinite(relevance))
    return gk_fail(err, GK_EINVAL, "relevance = %g must be finite and > 0", relevance);
  size_t k = ubm->k, d = ubm->d, cs = gk_gmm_cov_size(ubm->cov, d);
  gk_status st = gk_gmm_clone(ubm, out, a, err);
  if (st != GK_OK) return st;
  gk_gmm *g = *out;
  double T = 0.0;
  for (size_t c = 0; c < k; c++) T += s->zero[c];
  double *e1 = gk_scratch_alloc(d, sizeof(double)), *del = gk_scratch_alloc(d, sizeof(double));
  if (!e1 || !del) {
    gk_scratch_free(e1);
    gk_scratch_free(del);
    gk_gmm_free(g);
    *out = NULL;
    return gk_fail_nomem(err);
  }
  for (size_t c = 0; c < k; c++) {
    double n = s->zero[c];
    double alpha = n / (n + relevance);  /* Reynolds et al. 2000, eq. 14 */
    if (weights) g->weights[c] = alpha * n / (T > 0.0 ? T : 1.0) + (1.0 - alpha) * ubm->weights[c];
    if (!(n > 0.0)) continue;
    const double *mu = ubm->means + c * d, *sh = s->shift + c * d, *f = s->first + c * d;
    /* Moments about the UBM mean: e1 = E[x - mu], E2 = E[(x - mu)(x - mu)']. */
    for (size_t j = 0; j < d; j++) {
      del[j] = sh[j] - mu[j];
      e1[j] = f[j] / n + del[j];
    }
    double *m = g->means + c * d;
    if (variances) {
      /* eq. 13 about mu: S' = alpha E2 + (1 - alpha) S - dm dm', dm = mu' - mu. */
      double *S = g->covs + c * cs;
      const double *S0 = ubm->covs + c * cs;
      if (ubm->cov == GK_COV_DIAG) {
        for (size_t j = 0; j < d; j++) {
          double e2 = (s->second[c * d + j] + 2.0 * del[j] * f[j]) / n + del[j] * del[j];
          double dm = means ? alpha * e1[j] : 0.0;
          double v = alpha * e2 + (1.0 - alpha) * S0[j] - dm * dm;
          S[j] = v > 0.0 ? v : S0[j];
        }
      } else {
        const double *s2 = s->second + c * cs;
        for (size_t p = 0; p < d; p++)
          for (size_t t = 0; t < d; t++) {
            double e2 = (s2[p * d + t] + del[t] * f[p] + del[p] * f[t]) / n + del[p] * del[t];
            double dp = means ? alpha * e1[p] : 0.0, dt = means ? alpha * e1[t] : 0.0;
            S[p * d + t] = alpha * e2 + (1.0 - alpha) * S0[p * d + t] - dp * dt;
          }
        for (size_t p = 0; p < d; p++)
          for (size_t t = 0; t < p; t++) S[p * d + t] = S[t * d + p] = 0.5 * (S[p * d + t] + S[t * d + p]);
      }
    }
    if (means)  /* eq. 12 */
      for (size_t j = 0; j < d; j++) m[j] = mu[j] + alpha * e1[j];
  }
  gk_scratch_free(e1);
  gk_scratch_free(del);
  if (weights) normalise_weights(g);
  st = gk_gmm_prepare(g, err);
  if (st != GK_OK) {
    gk_gmm_free(g);
    *out = NULL;
  }
  return st;
}

/* ---- initialisation ------------------------------------------------------------------ */

void gk_gmm_train_opts_default(gk_gmm_train_opts *o) {
  memset(o, 0, sizeof *o);
  o->components = 1;
  o->cov = GK_COV_DIAG;
  o->init = GK_INIT_KMEANSPP;
  gk_gmm_update_opts_default(&o->update);
}

/* Frame f (global, after the stride) of x into out[d] (double). */
static void get_frame(const gk_gmm_data *x, size_t f, double *out, size_t d) {
  size_t stride = x->stride > 1 ? x->stride : 1;
  for (size_t p = 0; p < x->nparts; p++) {
    size_t r = x->parts[p].rows, n = r == 0 ? 0 : (r - 1) / stride + 1;
    if (f < n) {
      for (size_t j = 0; j < d; j++) out[j] = gk_matrix_get(&x->parts[p], f * stride, j);
      return;
    }
    f -= n;
  }
}

/* Frame i of the systematic sample of m of n frames from the offset u in [0, 1):
 * increasing in i. */
static size_t sample_index(size_t i, size_t n, size_t m, double u) {
  size_t f = m == n ? i : (size_t)(((double)i + u) * (double)n / (double)m);
  return f >= n ? n - 1 : f;
}

/* A systematic sample of m of the n frames (m x d, double), from a random offset. */
static double *sample_frames(const gk_gmm_data *x, size_t n, size_t m, size_t d, gk_rng *r) {
  double *S = gk_scratch_alloc(m * d, sizeof(double));
  if (!S) return NULL;
  double u = gk_rng_uniform(r);
  for (size_t i = 0; i < m; i++) get_frame(x, sample_index(i, n, m, u), S + i * d, d);
  return S;
}

/* Squared distances of the m frames to the k centres (m x k) by dgemm:
 * |x|^2 - 2 x.c + |c|^2, clamped at 0. */
static void sq_dist(const double *S, size_t m, const double *C, size_t k, size_t d, const double *xn,
                    double *cn, double *D) {
  for (size_t c = 0; c < k; c++) {
    double s = 0.0;
    for (size_t j = 0; j < d; j++) s += C[c * d + j] * C[c * d + j];
    cn[c] = s;
  }
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)k, (int)d, -2.0, S, (int)d, C, (int)d,
              0.0, D, (int)k);
  for (size_t i = 0; i < m; i++)
    for (size_t c = 0; c < k; c++) {
      double v = D[i * k + c] + xn[i] + cn[c];
      D[i * k + c] = v > 0.0 ? v : 0.0;
    }
}

/* k-means++ seeding (Arthur and Vassilvitskii 2007): centres (k x d) from the m frames. */
static void kmeanspp(const double *S, size_t m, size_t k, size_t d, gk_rng *r, double *C, double *D2) {
  size_t first = (size_t)gk_rng_below(r, m);
  if (first >= m) first = m - 1;
  memcpy(C, S + first * d, d * sizeof(double));
  for (size_t i = 0; i < m; i++) {
    double s = 0.0;
    for (size_t j = 0; j < d; j++) {
      double t = S[i * d + j] - C[j];
      s += t * t;
    }
    D2[i] = s;
  }
  for (size_t c = 1; c < k; c++) {
    double tot = 0.0;
    for (size_t i = 0; i < m; i++) tot += D2[i];
    size_t pick;
    if (tot > 0.0) {
      double u = gk_rng_uniform(r) * tot, acc = 0.0;
      pick = m - 1;
      for (size_t i = 0; i < m; i++) {
        acc += D2[i];
        if (acc > u && D2[i] > 0.0) {
          pick = i;
          break;
        }
      }
    } else {
      pick = (size_t)gk_rng_below(r, m);  /* all frames coincide with a centre */
      if (pick >= m) pick = m - 1;
    }
    memcpy(C + c * d, S + pick * d, d * sizeof(double));
    for (size_t i = 0; i < m; i++) {
      double s = 0.0;
      for (size_t j = 0; j < d; j++) {
        double t = S[i * d + j] - C[c * d + j];
        s += t * t;
      }
      if (s < D2[i]) D2[i] = s;
    }
  }
}

/* Global mean and covariance of the sample (diag: variances) into g's component c. */
static void global_moments(const double *S, size_t m, size_t d, gk_cov_type cov, double *mean, double *cv) {
  for (size_t j = 0; j < d; j++) {
    double s = 0.0;
    for (size_t i = 0; i < m; i++) s += S[i * d + j];
    mean[j] = s / (double)m;
  }
  size_t cs = gk_gmm_cov_size(cov, d);
  memset(cv, 0, cs * sizeof(double));
  for (size_t i = 0; i < m; i++) {
    const double *x = S + i * d;
    if (cov == GK_COV_DIAG) {
      for (size_t j = 0; j < d; j++) cv[j] += (x[j] - mean[j]) * (x[j] - mean[j]);
    } else {
      for (size_t p = 0; p < d; p++)
        for (size_t t = 0; t <= p; t++) cv[p * d + t] += (x[p] - mean[p]) * (x[t] - mean[t]);
    }
  }
  for (size_t q = 0; q < cs; q++) cv[q] /= (double)m;
  if (cov == GK_COV_FULL)
    for (size_t p = 0; p < d; p++)
      for (size_t t = 0; t < p; t++) cv[t * d + p] = cv[p * d + t];
}

/* Makes component c's covariance usable: + reg and the floor on the diagonal, and the
 * global covariance `gcv` (already regularised) when that is not enough. */
static void fix_component(gk_gmm *g, size_t c, const double *gcv, const double *floor_, double reg) {
  size_t d = g->d, cs = gk_gmm_cov_size(g->cov, d);
  double *S = g->covs + c * cs;
  for (size_t j = 0; j < d; j++) {
    double *v = g->cov == GK_COV_DIAG ? &S[j] : &S[j * d + j];
    *v += reg;
    if (*v < floor_[j]) *v = floor_[j];
  }
  if (!component_ok(g, c)) memcpy(S, gcv, cs * sizeof(double));
}

/* Model from a hard assignment of the sample to the centres C (k-means++ and k-means). */
static gk_status init_from_centres(gk_gmm *g, const double *S, size_t m, const double *C, double *D,
                                   const double *gcv, const double *floor_, double reg, gk_error *err) {
  size_t k = g->k, d = g->d, cs = gk_gmm_cov_size(g->cov, d);
  size_t *lab = gk_scratch_alloc(m, sizeof(size_t));
  double *cnt = gk_scratch_alloc(k, sizeof(double));
  if (!lab || !cnt) {
    gk_scratch_free(lab);
    gk_scratch_free(cnt);
    return gk_fail_nomem(err);
  }
  for (size_t i = 0; i < m; i++) {
    size_t b = 0;
    for (size_t c = 1; c < k; c++)
      if (D[i * k + c] < D[i * k + b]) b = c;
    lab[i] = b;
  }
  memset(cnt, 0, k * sizeof(double));
  memset(g->means, 0, k * d * sizeof(double));
  memset(g->covs, 0, k * cs * sizeof(double));
  for (size_t i = 0; i < m; i++) {
    cnt[lab[i]] += 1.0;
    for (size_t j = 0; j < d; j++) g->means[lab[i] * d + j] += S[i * d + j];
  }
  for (size_t c = 0; c < k; c++)
    for (size_t j = 0; j < d; j++)
      g->means[c * d + j] = cnt[c] > 0.0 ? g->means[c * d + j] / cnt[c] : C[c * d + j];
  for (size_t i = 0; i < m; i++) {
    size_t c = lab[i];
    const double *x = S + i * d, *mu = g->means + c * d;
    double *cv = g->covs + c * cs;
    if (g->cov == GK_COV_DIAG) {
      for (size_t j = 0; j < d; j++) cv[j] += (x[j] - mu[j]) * (x[j] - mu[j]);
    } else {
      for (size_t p = 0; p < d; p++)
        for (size_t t = 0; t <= p; t++) cv[p * d + t] += (x[p] - mu[p]) * (x[t] - mu[t]);
    }
  }
  double wsum = 0.0;
  for (size_t c = 0; c < k; c++) {
    double *cv = g->covs + c * cs;
    size_t need = g->cov == GK_COV_DIAG ? 2 : d + 1;
    if (cnt[c] >= (double)need) {
      for (size_t q = 0; q < cs; q++) cv[q] /= cnt[c];
      if (g->cov == GK_COV_FULL)
        for (size_t p = 0; p < d; p++)
          for (size_t t = 0; t < p; t++) cv[t * d + p] = cv[p * d + t];
      fix_component(g, c, gcv, floor_, reg);
    } else {
      memcpy(cv, gcv, cs * sizeof(double));
    }
    g->weights[c] = cnt[c] > 0.0 ? cnt[c] : 1.0;  /* an empty cluster keeps a small weight */
    wsum += g->weights[c];
  }
  for (size_t c = 0; c < k; c++) g->weights[c] /= wsum;
  gk_scratch_free(lab);
  gk_scratch_free(cnt);
  return GK_OK;
}

/* Lloyd iterations on the sample (k-means). */
static void lloyd(const double *S, size_t m, double *C, size_t k, size_t d, const double *xn, double *cn,
                  double *D, double *cnt) {
  for (int it = 0; it < KMEANS_ITERS; it++) {
    sq_dist(S, m, C, k, d, xn, cn, D);
    memset(cnt, 0, k * sizeof(double));
    size_t changed = 0;
    double *newc = D + m * k;  /* the caller allocates m k + k d doubles */
    memset(newc, 0, k * d * sizeof(double));
    for (size_t i = 0; i < m; i++) {
      size_t b = 0;
      for (size_t c = 1; c < k; c++)
        if (D[i * k + c] < D[i * k + b]) b = c;
      cnt[b] += 1.0;
      for (size_t j = 0; j < d; j++) newc[b * d + j] += S[i * d + j];
    }
    for (size_t c = 0; c < k; c++) {
      if (cnt[c] == 0.0) continue;  /* an empty cluster keeps its centre */
      for (size_t j = 0; j < d; j++) {
        double v = newc[c * d + j] / cnt[c];
        if (v != C[c * d + j]) changed++;
        C[c * d + j] = v;
      }
    }
    if (!changed) break;
  }
  sq_dist(S, m, C, k, d, xn, cn, D);
}

/* Frames the initialisation samples from n frames. */
static size_t init_sample_size(size_t n, const gk_gmm_train_opts *o) {
  size_t k = o->components;
  size_t m = o->init_frames ? o->init_frames : (50 * k > 20000 ? 50 * k : 20000);
  if (m > 100000 && !o->init_frames) m = 100000;
  if (m > n) m = n;
  if (m < k) m = k <= n ? k : n;
  return m;
}

static gk_status model_from_sample(const double *S, size_t m, size_t d, const gk_gmm_train_opts *o, gk_rng *r,
                                   const gk_allocator *a, gk_gmm **out, gk_error *err);

/* The initial model of `o` from the data. For GK_INIT_SPLIT: one component. */
static gk_status initial_model(const gk_gmm_data *x, size_t n, size_t d, const gk_gmm_train_opts *o,
                               const gk_allocator *a, gk_gmm **out, gk_error *err) {
  gk_rng r;
  gk_rng_seed(&r, o->seed, 1);
  size_t m = init_sample_size(n, o);
  double *S = sample_frames(x, n, m, d, &r);
  if (!S) return gk_fail_nomem(err);
  gk_status st = model_from_sample(S, m, d, o, &r, a, out, err);
  gk_scratch_free(S);
  return st;
}

/* GK_INIT_RANDOM: K distinct frames of the sample S (m x d) as means (partial
 * Fisher-Yates on indices), the global covariance gcv, equal weights. */
static gk_status init_random(gk_gmm *g, const double *S, size_t m, const double *gcv, gk_rng *r,
                             gk_error *err) {
  size_t k = g->k, d = g->d, cs = gk_gmm_cov_size(g->cov, d);
  size_t *perm = gk_scratch_alloc(m, sizeof(size_t));
  if (!perm) return gk_fail_nomem(err);
  for (size_t i = 0; i < m; i++) perm[i] = i;
  for (size_t c = 0; c < k; c++) {
    size_t j = c + (size_t)gk_rng_below(r, m - c);
    if (j >= m) j = m - 1;
    size_t t = perm[c];
    perm[c] = perm[j];
    perm[j] = t;
    memcpy(g->means + c * d, S + perm[c] * d, d * sizeof(double));
    memcpy(g->covs + c * cs, gcv, cs * sizeof(double));
    g->weights[c] = 1.0 / (double)k;
  }
  gk_scratch_free(perm);
  return GK_OK;
}

/* GK_INIT_KMEANSPP and GK_INIT_KMEANS: k-means++ centres of the sample S (m x d), Lloyd
 * iterations for the latter, then the model of the hard assignment. */
static gk_status init_kmeans(gk_gmm *g, const double *S, size_t m, gk_gmm_init init, const double *gcv,
                             const double *floor_, double reg, gk_rng *r, gk_error *err) {
  size_t k = g->k, d = g->d;
  gk_status st;
  double *C = gk_scratch_alloc(k * d, sizeof(double));
  double *D = gk_scratch_alloc(m * k + k * d, sizeof(double));
  double *xn = gk_scratch_alloc(m, sizeof(double)), *cn = gk_scratch_alloc(k, sizeof(double));
  double *cnt = gk_scratch_alloc(k, sizeof(double));
  if (!C || !D || !xn || !cn || !cnt) {
    st = gk_fail_nomem(err);
  } else {
    kmeanspp(S, m, k, d, r, C, xn);
    for (size_t i = 0; i < m; i++) {
      double s = 0.0;
      for (size_t j = 0; j < d; j++) s += S[i * d + j] * S[i * d + j];
      xn[i] = s;
    }
    int prev = gk_blas_serial_begin();  /* a fixed summation order, whatever the threads */
    if (init == GK_INIT_KMEANS) lloyd(S, m, C, k, d, xn, cn, D, cnt);
    else sq_dist(S, m, C, k, d, xn, cn, D);
    gk_blas_serial_end(prev);
    st = init_from_centres(g, S, m, C, D, gcv, floor_, reg, err);
  }
  gk_scratch_free(C);
  gk_scratch_free(D);
  gk_scratch_free(xn);
  gk_scratch_free(cn);
  gk_scratch_free(cnt);
  return st;
}

/* The initial model from the sample S (m x d) of the frames, `r` the generator after
 * the sample was drawn. */
static gk_status model_from_sample(const double *S, size_t m, size_t d, const gk_gmm_train_opts *o, gk_rng *r,
                                   const gk_allocator *a, gk_gmm **out, gk_error *err) {
  size_t k = o->components;
  gk_cov_type cov = o->cov;
  size_t cs = gk_gmm_cov_size(cov, d);
  if (o->init == GK_INIT_SPLIT) k = 1;
  double *gmean = gk_scratch_alloc(d, sizeof(double)), *gcv = gk_scratch_alloc(cs, sizeof(double));
  double *floor_ = gk_scratch_alloc(d, sizeof(double));
  gk_gmm *g = NULL;
  gk_status st = GK_OK;
  if (!gmean || !gcv || !floor_) {
    st = gk_fail_nomem(err);
    goto done;
  }
  global_moments(S, m, d, cov, gmean, gcv);
  for (size_t j = 0; j < d; j++) {
    double *v = cov == GK_COV_DIAG ? &gcv[j] : &gcv[j * d + j];
    double f = o->update.var_floor_relative * *v;
    floor_[j] = f > o->update.var_floor ? f : o->update.var_floor;
    *v += o->update.reg;
    if (*v < floor_[j]) *v = floor_[j];
    if (!(*v > 0.0)) {
      st = gk_fail(err, GK_ENUMERIC, "the frames do not vary in dimension %zu (every value is %g): "
                   "set var_floor or reg above 0", j + 1, gmean[j]);
      goto done;
    }
  }
  st = gk_gmm_create(&g, k, d, cov, a, err);
  if (st != GK_OK) goto done;

  if (k == 1) {
    g->weights[0] = 1.0;
    memcpy(g->means, gmean, d * sizeof(double));
    memcpy(g->covs, gcv, cs * sizeof(double));
  } else {
    st = o->init == GK_INIT_RANDOM ? init_random(g, S, m, gcv, r, err)
                                   : init_kmeans(g, S, m, o->init, gcv, floor_, o->update.reg, r, err);
    if (st != GK_OK) goto done;
  }
  st = gk_gmm_prepare(g, err);
done:
  gk_scratch_free(gmean);
  gk_scratch_free(gcv);
  gk_scratch_free(floor_);
  if (st != GK_OK) {
    gk_gmm_free(g);
    return st;
  }
  *out = g;
  return GK_OK;
}

/* ---- the trainer ---------------------------------------------------------------------- */

/* The checks of gk_gmm_train_check for one process and for several, once the n > 0 frames
 * of dimension d are known; `where` follows the frame count in a message (" on 4 ranks"). */
static gk_status check_shape_opts(const gk_gmm_train_opts *o, size_t n, size_t d, const char *where,
                                  gk_error *err) {
  if (d == 0 || d > GK_MAX_DIM) return gk_fail(err, GK_ELIMIT, "dimension %zu is outside 1..%u", d, GK_MAX_DIM);
  size_t k = o->components;
  if (o->init == GK_INIT_MODEL) {
    if (!o->init_model) return gk_fail(err, GK_EINVAL, "init: no model given");
    k = o->init_model->k;
  } else {
    if (k < 1 || k > GK_MAX_COMPONENTS)
      return gk_fail(err, GK_EINVAL, "components = %zu must be between 1 and %u", k, GK_MAX_COMPONENTS);
    if (o->cov != GK_COV_DIAG && o->cov != GK_COV_FULL)
      return gk_fail(err, GK_EINVAL, "unknown covariance type %d", (int)o->cov);
  }
  if (k > n)
    return gk_fail(err, GK_EINVAL, "components = %zu exceeds the number of frames (%zu%s)", k, n, where);
  return check_update_opts(&o->update, k, err);
}

/* gk_gmm_train_check for one process. */
static gk_status check_local(const gk_gmm_data *x, const gk_gmm_train_opts *o, gk_error *err) {
  if (!x || x->nparts == 0) return gk_fail(err, GK_EINVAL, "no data: an empty list of matrices");
  size_t d = o->init == GK_INIT_MODEL && o->init_model ? o->init_model->d : 0;
  for (size_t p = 0; p < x->nparts; p++) {
    if (x->parts[p].rows == 0) continue;
    if (d == 0) d = x->parts[p].cols;
    if (x->parts[p].cols != d)
      return gk_fail(err, GK_EINVAL, "dimension mismatch: matrix %zu has %zu columns, expected %zu",
                     p + 1, x->parts[p].cols, d);
  }
  size_t n = gk_gmm_data_frames(x);
  if (n == 0) return gk_fail(err, GK_EINVAL, "no data: 0 frames");
  return check_shape_opts(o, n, d, "", err);
}

static void fnv(uint64_t *h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) {
    *h ^= b[i];
    *h *= 0x100000001b3ull;
  }
}

/* Frames the fingerprint digests: 0, step, 2 step, ... below n (up to 4097 of them). */
static size_t fingerprint_step(size_t n) { return n / 4096 + 1; }

/* The fingerprint of n frames in nparts matrices (the first of `cols` columns), from the
 * rows (nrows x cols, double) at the frames fingerprint_step chooses. */
static uint64_t fingerprint_of(size_t n, size_t nparts, size_t stride, size_t cols, const gk_gmm_train_opts *o,
                               const double *rows, size_t nrows) {
  uint64_t h = 0xcbf29ce484222325ull;
  uint64_t v[8] = {n, nparts, stride > 1 ? stride : 1, cols, o->components, (uint64_t)o->cov, (uint64_t)o->init,
                   o->seed};
  fnv(&h, v, sizeof v);
  uint64_t w = o->init_frames;
  fnv(&h, &w, sizeof w);
  double u[5] = {o->update.var_floor, o->update.var_floor_relative, o->update.reg, o->update.min_weight,
                 (double)o->update.death};
  fnv(&h, u, sizeof u);
  if (o->init == GK_INIT_MODEL && o->init_model) {
    const gk_gmm *g = o->init_model;
    fnv(&h, g->weights, g->k * sizeof(double));
    fnv(&h, g->means, g->k * g->d * sizeof(double));
  }
  if (rows) fnv(&h, rows, nrows * cols * sizeof(double));
  return h;
}

/* gk_gmm_train_fingerprint for one process. */
static uint64_t fingerprint_local(const gk_gmm_data *x, const gk_gmm_train_opts *o) {
  /* Up to 4096 values spread over the data. */
  size_t n = gk_gmm_data_frames(x), d = x->nparts ? x->parts[0].cols : 0;
  double *rows = NULL;
  size_t nrows = 0;
  if (n && d) {
    size_t step = fingerprint_step(n);
    nrows = (n - 1) / step + 1;
    rows = gk_scratch_alloc(nrows * d, sizeof(double));
    if (rows)
      for (size_t i = 0; i < nrows; i++) get_frame(x, i * step, rows + i * d, d);
  }
  uint64_t h = fingerprint_of(n, x->nparts, x->stride, d, o, rows, rows ? nrows : 0);
  gk_scratch_free(rows);
  return h;
}

void gk_gmm_trainer_free(gk_gmm_trainer *t) {
  if (!t) return;
  gk_allocator a = t->alloc;
  const gk_allocator *ap = a.fn ? &a : NULL;
  gk_gmm_free(t->model);
  gk_free(ap, t->history, t->history_cap * sizeof(double));
  gk_free(ap, t, sizeof *t);
}

/* gk_gmm_trainer_create for one process. */
static gk_status create_local(gk_gmm_trainer **out, const gk_gmm_data *x, const gk_gmm_train_opts *o,
                              const gk_allocator *a, gk_error *err) {
  *out = NULL;
  gk_status st = check_local(x, o, err);
  if (st != GK_OK) return st;
  size_t d = 0;
  if (o->init == GK_INIT_MODEL) d = o->init_model->d;
  for (size_t p = 0; p < x->nparts && d == 0; p++)
    if (x->parts[p].rows > 0) d = x->parts[p].cols;
  st = gk_gmm_data_check(x, d, err);
  if (st != GK_OK) return st;
  gk_gmm_trainer *t = gk_calloc(a, 1, sizeof *t);
  if (!t) return gk_fail_nomem(err);
  if (a) t->alloc = *a;
  t->update = o->update;
  t->frames = (double)gk_gmm_data_frames(x);
  if (o->init == GK_INIT_MODEL) {
    st = gk_gmm_clone(o->init_model, &t->model, a, err);
    if (st == GK_OK) st = gk_gmm_prepare(t->model, err);
    t->target_k = o->init_model->k;
  } else {
    st = initial_model(x, gk_gmm_data_frames(x), d, o, a, &t->model, err);
    t->target_k = o->components;
    t->splitting = o->init == GK_INIT_SPLIT && o->components > 1;
  }
  if (st != GK_OK) {
    gk_gmm_trainer_free(t);
    return st;
  }
  *out = t;
  return GK_OK;
}

static gk_status push_history(gk_gmm_trainer *t, double v, gk_error *err) {
  const gk_allocator *ap = t->alloc.fn ? &t->alloc : NULL;
  if (t->history_len == t->history_cap) {
    size_t cap = t->history_cap ? 2 * t->history_cap : 64;
    double *h = gk_alloc(ap, cap * sizeof(double));
    if (!h) return gk_fail_nomem(err);
    if (t->history_len) memcpy(h, t->history, t->history_len * sizeof(double));
    gk_free(ap, t->history, t->history_cap * sizeof(double));
    t->history = h;
    t->history_cap = cap;
  }
  t->history[t->history_len++] = v;
  return GK_OK;
}

/* Grows the model of the split initialisation: every component split in two, or the
 * heaviest ones when doubling would overshoot the target. */
static gk_status grow(gk_gmm_trainer *t, gk_error *err) {
  gk_gmm *g = t->model;
  size_t k = g->k, d = g->d, cs = gk_gmm_cov_size(g->cov, d);
  size_t nk = 2 * k <= t->target_k ? 2 * k : t->target_k;
  gk_gmm *h = NULL;
  const gk_allocator *ap = t->alloc.fn ? &t->alloc : NULL;
  gk_status st = gk_gmm_create(&h, nk, d, g->cov, ap, err);
  if (st != GK_OK) return st;
  memcpy(h->weights, g->weights, k * sizeof(double));
  memcpy(h->means, g->means, k * d * sizeof(double));
  memcpy(h->covs, g->covs, k * cs * sizeof(double));
  unsigned char *alive = gk_scratch_alloc(nk, 1);
  if (!alive) {
    gk_gmm_free(h);
    return gk_fail_nomem(err);
  }
  memset(alive, 0, nk);
  memset(alive, 1, k);
  /* Heaviest first, each split once. */
  for (size_t c = k; c < nk; c++) {
    size_t hv = heaviest(h, alive);
    alive[hv] = 0;  /* not split twice in one round */
    split_into(h, hv, c);
  }
  gk_scratch_free(alive);
  normalise_weights(h);
  st = gk_gmm_prepare(h, err);
  if (st != GK_OK) {
    gk_gmm_free(h);
    return st;
  }
  gk_gmm_free(g);
  t->model = h;
  return GK_OK;
}

/* gk_gmm_trainer_step for one process. */
static gk_status step_local(gk_gmm_trainer *t, const gk_gmm_data *x, double *loglik, gk_error *err) {
  gk_gmm_stats *s = NULL;
  gk_status st = gk_gmm_accumulate(t->model, x, &s, NULL, err);
  if (st != GK_OK) return st;
  st = gk_gmm_trainer_advance(t, s, loglik, err);
  gk_gmm_stats_free(s);
  return st;
}

gk_status gk_gmm_trainer_advance(gk_gmm_trainer *t, const gk_gmm_stats *s, double *loglik, gk_error *err) {
  const gk_allocator *ap = t->alloc.fn ? &t->alloc : NULL;
  if (s->k != t->model->k || s->d != t->model->d || s->cov != t->model->cov)
    return gk_fail(err, GK_EINVAL, "statistics of %zu %s components in dimension %zu do not fit the trained "
                   "model (%zu %s components in dimension %zu)", s->k, gk_cov_type_name(s->cov), s->d,
                   t->model->k, gk_cov_type_name(t->model->cov), t->model->d);
  double ll = s->loglik / s->frames;
  gk_gmm *g = NULL;
  size_t ev = 0;
  gk_status st = gk_gmm_update(s, &t->update, &g, ap, &ev, err);
  if (st != GK_OK) return st;
  if (!t->splitting) {
    st = push_history(t, ll, err);
    if (st != GK_OK) {
      gk_gmm_free(g);
      return st;
    }
  }
  gk_gmm_free(t->model);
  t->model = g;
  t->events += ev;
  if (loglik) *loglik = ll;
  if (t->splitting) {
    /* One component from the global moments needs a single iteration. */
    size_t need = t->model->k == 1 ? 1 : SPLIT_ITERS;
    if (++t->stage_iter >= need) {
      st = grow(t, err);
      if (st != GK_OK) return st;
      t->stage++;
      t->stage_iter = 0;
      if (t->model->k >= t->target_k) t->splitting = 0;
    }
  } else {
    t->iteration++;
  }
  return GK_OK;
}

/* ---- sampling and sizes ----------------------------------------------------------------- */

size_t gk_gmm_num_params(const gk_gmm *g) {
  size_t k = g->k, d = g->d;
  size_t cov = g->cov == GK_COV_DIAG ? k * d : k * d * (d + 1) / 2;
  return (k - 1) + k * d + cov;
}

gk_status gk_gmm_sample(const gk_gmm *g, size_t n, uint64_t seed, gk_matrix *out, gk_error *err) {
  size_t d = g->d, cs = gk_gmm_cov_size(g->cov, d);
  if (out->rows != n || out->cols != d)
    return gk_fail(err, GK_EINVAL, "sample: output is %zu x %zu, expected %zu x %zu", out->rows, out->cols, n, d);
  double *z = gk_scratch_alloc(d + g->k, sizeof(double));
  if (!z) return gk_fail_nomem(err);
  double *cum = z + d;
  double acc = 0.0;
  for (size_t c = 0; c < g->k; c++) cum[c] = (acc += g->weights[c]);
  gk_rng r;
  gk_rng_seed(&r, seed, 2);
  for (size_t i = 0; i < n; i++) {
    double u = gk_rng_uniform(&r) * acc;
    size_t c = 0;
    while (c + 1 < g->k && cum[c] <= u) c++;
    for (size_t j = 0; j < d; j++) z[j] = gk_rng_normal(&r);
    const double *mu = g->means + c * d, *L = g->chol + c * cs;
    for (size_t j = 0; j < d; j++) {
      double v;
      if (g->cov == GK_COV_DIAG) {
        v = mu[j] + L[j] * z[j];
      } else {
        v = mu[j];
        for (size_t t = 0; t <= j; t++) v += L[j * d + t] * z[t];
      }
      if (out->dtype == GK_FLOAT32 && !(fabs(v) <= FLT_MAX)) {
        gk_scratch_free(z);
        return gk_fail(err, GK_ENUMERIC, "sample: frame %zu, dimension %zu is %g, beyond float32's range "
                       "(variances too large for float32: ask for dtype float64)", i + 1, j + 1, v);
      }
      gk_matrix_set(out, i, j, v);
    }
  }
  gk_scratch_free(z);
  return GK_OK;
}

/* ---- the trainer over several processes (gmmkit/comm.h) ------------------------------- */

/* What each rank tells the others about its data. */
enum { INFO_FRAMES, INFO_DIM, INFO_PARTS, INFO_COLS0, INFO_N };

/* The shape of this rank's data: frames, the columns of its non-empty matrices (0 when it
 * has none; a local disagreement is an error), matrices, columns of the first matrix. */
static gk_status local_info(const gk_gmm_data *x, uint64_t *info, gk_error *err) {
  size_t d = 0;
  for (size_t p = 0; p < x->nparts; p++) {
    if (x->parts[p].rows == 0) continue;
    if (d == 0) d = x->parts[p].cols;
    if (x->parts[p].cols != d)
      return gk_fail(err, GK_EINVAL, "dimension mismatch: matrix %zu has %zu columns, expected %zu", p + 1,
                     x->parts[p].cols, d);
  }
  info[INFO_FRAMES] = x->nparts ? gk_gmm_data_frames(x) : 0;
  info[INFO_DIM] = d;
  info[INFO_PARTS] = x->nparts;
  info[INFO_COLS0] = x->nparts ? x->parts[0].cols : 0;
  return GK_OK;
}

/* The job's shape from every rank's info (all: size x INFO_N): frames, dimension and the
 * frames before each rank (offsets[size]). Checks the options as check_local does. */
typedef struct job_shape {
  size_t frames, d, parts, cols0;
} job_shape;

static gk_status job_check(const uint64_t *all, int p, const gk_gmm_train_opts *o, job_shape *js,
                           gk_error *err) {
  memset(js, 0, sizeof *js);
  int first = -1, have_cols0 = 0;
  if (o->init == GK_INIT_MODEL && o->init_model) js->d = o->init_model->d;
  for (int r = 0; r < p; r++) {
    const uint64_t *in = all + (size_t)r * INFO_N;
    js->frames += (size_t)in[INFO_FRAMES];
    js->parts += (size_t)in[INFO_PARTS];
    if (!have_cols0 && in[INFO_PARTS] > 0) {
      js->cols0 = (size_t)in[INFO_COLS0];
      have_cols0 = 1;
    }
    if (in[INFO_DIM] == 0) continue;
    if (js->d == 0) {
      js->d = (size_t)in[INFO_DIM];
      first = r;
    } else if (in[INFO_DIM] != js->d) {
      if (first < 0)
        return gk_fail(err, GK_EINVAL, "dimension mismatch: rank %d's data has %zu columns, the initial model %zu",
                       r, (size_t)in[INFO_DIM], js->d);
      return gk_fail(err, GK_EINVAL, "dimension mismatch: rank %d's data has %zu columns, rank %d's %zu", r,
                     (size_t)in[INFO_DIM], first, js->d);
    }
  }
  if (js->frames == 0) return gk_fail(err, GK_EINVAL, "no data: 0 frames on all %d ranks", p);
  char where[32];
  snprintf(where, sizeof where, " on %d ranks", p);
  return check_shape_opts(o, js->frames, js->d, where, err);
}

/* Exchanges the ranks' info and checks the job; `all` (size x INFO_N) is allocated here. */
static gk_status job_begin(const gk_gmm_data *x, const gk_gmm_train_opts *o, const gk_comm *c, job_shape *js,
                           uint64_t **all_out, gk_error *err) {
  int p = gk_comm_size(c);
  uint64_t info[INFO_N];
  *all_out = NULL;
  gk_status st = local_info(x, info, err);
  if (st != GK_OK) return st;
  uint64_t *all = gk_scratch_alloc((size_t)p * INFO_N, sizeof(uint64_t));
  if (!all) return gk_fail_nomem(err);
  st = gk_comm_allgather_u64(c, info, INFO_N, all, err);
  if (st == GK_OK) st = job_check(all, p, o, js, err);
  if (st != GK_OK) {
    gk_scratch_free(all);
    return st;
  }
  *all_out = all;
  return GK_OK;
}

gk_status gk_gmm_train_check(const gk_gmm_data *x, const gk_gmm_train_opts *o, const gk_comm *c,
                             size_t *total, gk_error *err) {
  if (gk_comm_size(c) <= 1) {
    gk_status st = check_local(x, o, err);
    if (st == GK_OK && total) *total = gk_gmm_data_frames(x);
    return st;
  }
  job_shape js;
  uint64_t *all = NULL;
  gk_status st = job_begin(x, o, c, &js, &all, err);
  gk_scratch_free(all);
  if (st == GK_OK && total) *total = js.frames;
  return st;
}

/* Gathers to rank 0 the job's frames at the global indices idx(i), i < m (increasing), as
 * rows of `cols` doubles: each rank sends those in its range. `all` is the ranks' info.
 * On rank 0 *out receives the m x cols rows (scratch memory, the caller frees it). */
typedef size_t (*index_fn)(size_t i, const void *ud);

static gk_status gather_rows(const gk_gmm_data *x, const gk_comm *c, const uint64_t *all, size_t m, size_t cols,
                             index_fn idx, const void *ud, double **out, gk_error *err) {
  int p = gk_comm_size(c), me = gk_comm_rank(c);
  *out = NULL;
  size_t *counts = gk_scratch_alloc((size_t)p, sizeof(size_t));
  if (!counts) return gk_fail_nomem(err);
  memset(counts, 0, (size_t)p * sizeof(size_t));
  /* The rank of each sampled frame, walking both increasing sequences together. */
  size_t mine0 = 0, mine = 0, off = 0, myoff = 0;
  int r = 0;
  for (size_t i = 0; i < m; i++) {
    size_t f = idx(i, ud);
    while (r < p - 1 && f >= off + (size_t)all[(size_t)r * INFO_N + INFO_FRAMES]) {
      off += (size_t)all[(size_t)r * INFO_N + INFO_FRAMES];
      r++;
    }
    counts[r] += cols;
    if (r == me) {
      if (mine == 0) mine0 = i;
      mine++;
      myoff = off;
    }
  }
  double *send = gk_scratch_alloc(mine ? mine * cols : 1, sizeof(double));
  double *recv = me == 0 ? gk_scratch_alloc(m > 0 && cols > 0 ? m * cols : 1, sizeof(double)) : NULL;
  gk_status st = GK_OK;
  if (!send || (me == 0 && !recv)) {
    st = gk_fail_nomem(err);
  } else {
    for (size_t i = 0; i < mine; i++) get_frame(x, idx(mine0 + i, ud) - myoff, send + i * cols, cols);
    st = gk_comm_gather_doubles(c, send, counts, recv, err);
  }
  gk_scratch_free(send);
  gk_scratch_free(counts);
  if (st != GK_OK) {
    gk_scratch_free(recv);
    return st;
  }
  *out = recv;
  return GK_OK;
}

static size_t fingerprint_index(size_t i, const void *ud) { return i * *(const size_t *)ud; }

/* The fingerprint from the exchanged info (see gk_gmm_train_fingerprint). */
static gk_status job_fingerprint(const gk_gmm_data *x, const gk_gmm_train_opts *o, const gk_comm *c,
                                 const uint64_t *all, const job_shape *js, uint64_t *fp, gk_error *err) {
  size_t n = js->frames, cols = js->cols0, step = fingerprint_step(n);
  size_t nrows = n && cols ? (n - 1) / step + 1 : 0;
  double *rows = NULL;
  if (nrows && cols != js->d)
    return gk_fail(err, GK_EINVAL, "the first matrix has %zu columns, the data %zu", cols, js->d);
  gk_status st = nrows ? gather_rows(x, c, all, nrows, cols, fingerprint_index, &step, &rows, err) : GK_OK;
  if (st != GK_OK) return st;
  uint64_t h = 0;
  if (gk_comm_rank(c) == 0) h = fingerprint_of(n, js->parts, x->stride, cols, o, rows, nrows);
  gk_scratch_free(rows);
  st = gk_comm_bcast(c, &h, sizeof h, 0, err);
  if (st == GK_OK) *fp = h;
  return st;
}

gk_status gk_gmm_train_fingerprint(const gk_gmm_data *x, const gk_gmm_train_opts *o, const gk_comm *c,
                                   uint64_t *fingerprint, gk_error *err) {
  if (gk_comm_size(c) <= 1) {
    *fingerprint = fingerprint_local(x, o);
    return GK_OK;
  }
  job_shape js;
  uint64_t *all = NULL;
  gk_status st = job_begin(x, o, c, &js, &all, err);
  if (st == GK_OK) st = job_fingerprint(x, o, c, all, &js, fingerprint, err);
  gk_scratch_free(all);
  return st;
}

typedef struct sample_plan {
  size_t n, m;
  double u;
} sample_plan;

static size_t plan_index(size_t i, const void *ud) {
  const sample_plan *sp = ud;
  return sample_index(i, sp->n, sp->m, sp->u);
}

/* Broadcasts rank 0's model *g (created on the other ranks, then prepared there). */
static gk_status bcast_model(gk_gmm **g, const gk_comm *c, const gk_allocator *a, gk_error *err) {
  uint64_t head[3] = {0, 0, 0};
  if (gk_comm_rank(c) == 0) {
    head[0] = (*g)->k;
    head[1] = (*g)->d;
    head[2] = (uint64_t)(*g)->cov;
  }
  gk_status st = gk_comm_bcast(c, head, sizeof head, 0, err);
  if (st != GK_OK) return st;
  size_t k = (size_t)head[0], d = (size_t)head[1];
  gk_cov_type cov = (gk_cov_type)head[2];
  if (gk_comm_rank(c) != 0) {
    st = gk_gmm_create(g, k, d, cov, a, err);
    if (st != GK_OK) return st;
  }
  size_t cs = gk_gmm_cov_size(cov, d);
  st = gk_comm_bcast(c, (*g)->weights, k * sizeof(double), 0, err);
  if (st == GK_OK) st = gk_comm_bcast(c, (*g)->means, k * d * sizeof(double), 0, err);
  if (st == GK_OK) st = gk_comm_bcast(c, (*g)->covs, k * cs * sizeof(double), 0, err);
  if (st == GK_OK && gk_comm_rank(c) != 0) st = gk_gmm_prepare(*g, err);
  return st;
}

gk_status gk_gmm_trainer_create(gk_gmm_trainer **out, const gk_gmm_data *x, const gk_gmm_train_opts *o,
                                const gk_comm *c, const gk_allocator *a, gk_error *err) {
  *out = NULL;
  if (gk_comm_size(c) <= 1) return create_local(out, x, o, a, err);
  job_shape js;
  uint64_t *all = NULL;
  gk_status st = job_begin(x, o, c, &js, &all, err);
  if (st != GK_OK) return st;
  /* This rank's values (the whole job's are only ever seen piecewise). */
  if (gk_gmm_data_frames(x) > 0) st = gk_gmm_data_check(x, js.d, err);
  gk_gmm_trainer *t = NULL;
  if (st == GK_OK) {
    t = gk_calloc(a, 1, sizeof *t);
    if (!t) st = gk_fail_nomem(err);
  }
  if (st == GK_OK) {
    if (a) t->alloc = *a;
    t->update = o->update;
    t->frames = (double)js.frames;
    if (o->init == GK_INIT_MODEL) {
      t->target_k = o->init_model->k;
      if (gk_comm_rank(c) == 0) st = gk_gmm_clone(o->init_model, &t->model, a, err);
    } else {
      t->target_k = o->components;
      t->splitting = o->init == GK_INIT_SPLIT && o->components > 1;
      /* The frames one process would sample, gathered at rank 0 in the same order. */
      gk_rng r;
      gk_rng_seed(&r, o->seed, 1);
      sample_plan sp;
      sp.n = js.frames;
      sp.m = init_sample_size(js.frames, o);
      sp.u = gk_rng_uniform(&r);
      double *S = NULL;
      st = gather_rows(x, c, all, sp.m, js.d, plan_index, &sp, &S, err);
      if (st == GK_OK && gk_comm_rank(c) == 0) st = model_from_sample(S, sp.m, js.d, o, &r, a, &t->model, err);
      gk_scratch_free(S);
    }
  }
  if (st == GK_OK) st = bcast_model(&t->model, c, a, err);
  gk_scratch_free(all);
  if (st != GK_OK) {
    gk_gmm_trainer_free(t);
    return st;
  }
  *out = t;
  return GK_OK;
}

gk_status gk_gmm_trainer_step(gk_gmm_trainer *t, const gk_gmm_data *x, const gk_comm *c, double *loglik,
                              double *comm_seconds, gk_error *err) {
  if (comm_seconds) *comm_seconds = 0.0;
  if (gk_comm_size(c) <= 1) return step_local(t, x, loglik, err);
  gk_gmm_stats *s = NULL;
  gk_status st = GK_OK;
  if (x->nparts > 0 && gk_gmm_data_frames(x) > 0) st = gk_gmm_accumulate(t->model, x, &s, NULL, err);
  double t0 = gk_seconds();
  if (st == GK_OK) st = gk_gmm_stats_reduce(&s, t->model->k, t->model->d, t->model->cov, c, NULL, err);
  if (comm_seconds) *comm_seconds = gk_seconds() - t0;
  if (st == GK_OK) st = gk_gmm_trainer_advance(t, s, loglik, err);
  gk_gmm_stats_free(s);
  return st;
}
