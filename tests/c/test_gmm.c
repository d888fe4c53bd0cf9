/* test_gmm.c: the GMM object, scoring, EM and files against closed forms and textbook values. */
#define _POSIX_C_SOURCE 200809L  /* mkstemp, truncate */
#include <unistd.h>
#include "gk_test.h"
#include "gmmkit/random.h"
#include "gmmkit/gmmkit.h"

/* prepare: diagonal standard deviations and log-determinants; full Cholesky factors. */
static void test_prepare(void) {
  gk_error err_, *err = &err_;
  gk_error_clear(err);
  gk_gmm *g = NULL;
  GK_CHECK_OK(gk_gmm_create(&g, 2, 2, GK_COV_DIAG, NULL, err), err);
  if (!g) return;
  g->weights[0] = 0.25; g->weights[1] = 0.75;
  g->covs[0] = 4.0; g->covs[1] = 9.0; g->covs[2] = 1.0; g->covs[3] = 0.25;
  GK_CHECK_OK(gk_gmm_prepare(g, err), err);
  GK_CHECK_NEAR(g->chol[0], 2.0, 1e-15);
  GK_CHECK_NEAR(g->chol[3], 0.5, 1e-15);
  GK_CHECK_NEAR(g->log_det[0], log(36.0), 1e-14);
  GK_CHECK_NEAR(g->log_det[1], log(0.25), 1e-14);
  g->weights[1] = 0.7;
  GK_CHECK(gk_gmm_prepare(g, err) == GK_EINVAL);
  GK_CHECK(strstr(err->message, "sum") != NULL);
  g->weights[1] = 0.75;
  g->covs[3] = 0.0;
  GK_CHECK(gk_gmm_prepare(g, err) == GK_ENUMERIC);
  GK_CHECK(strstr(err->message, "component 2") != NULL);
  gk_gmm_free(g);

  /* Full: S = [[4, 2], [2, 3]] has L = [[2, 0], [1, sqrt 2]], |S| = 8. */
  GK_CHECK_OK(gk_gmm_create(&g, 1, 2, GK_COV_FULL, NULL, err), err);
  if (!g) return;
  g->weights[0] = 1.0;
  double S[4] = {4, 2, 2, 3};
  memcpy(g->covs, S, sizeof S);
  GK_CHECK_OK(gk_gmm_prepare(g, err), err);
  GK_CHECK_NEAR(g->chol[0], 2.0, 1e-15);
  GK_CHECK_NEAR(g->chol[1], 0.0, 0.0);
  GK_CHECK_NEAR(g->chol[2], 1.0, 1e-15);
  GK_CHECK_NEAR(g->chol[3], sqrt(2.0), 1e-15);
  GK_CHECK_NEAR(g->log_det[0], log(8.0), 1e-14);
  gk_gmm *c = NULL;
  GK_CHECK_OK(gk_gmm_clone(g, &c, NULL, err), err);
  if (c) GK_CHECK_NEAR(c->log_det[0], log(8.0), 1e-14);
  gk_gmm_free(c);
  g->covs[1] = 2.5;  /* not symmetric */
  GK_CHECK(gk_gmm_prepare(g, err) == GK_EINVAL);
  g->covs[1] = 5.0; g->covs[2] = 5.0;  /* symmetric, indefinite */
  GK_CHECK(gk_gmm_prepare(g, err) == GK_ENUMERIC);
  GK_CHECK(strstr(err->message, "positive definite") != NULL);
  gk_gmm_free(g);
}

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* Deisenroth, Faisal and Ong, Mathematics for Machine Learning, sec. 11.2 (example 11.3
 * onward): one EM iteration from N(-4, 1), N(0, 0.2), N(8, 3) with equal weights on
 * X = {-3, -2.5, -1, 0, 2, 4, 5}; floors off. The book gives two decimals. */
static void test_mml_example(void) {
  gk_error err_, *err = &err_;
  gk_error_clear(err);
  float xs[7] = {-3.0f, -2.5f, -1.0f, 0.0f, 2.0f, 4.0f, 5.0f};
  gk_matrix m = gk_matrix_view(7, 1, GK_FLOAT32, xs);
  gk_gmm_data x = {&m, 1, 1};
  gk_gmm *g0 = NULL;
  GK_CHECK_OK(gk_gmm_create(&g0, 3, 1, GK_COV_DIAG, NULL, err), err);
  if (!g0) return;
  double mu[3] = {-4, 0, 8}, var[3] = {1, 0.2, 3};
  for (int c = 0; c < 3; c++) {
    g0->weights[c] = 1.0 / 3.0;
    g0->means[c] = mu[c];
    g0->covs[c] = var[c];
  }
  GK_CHECK_OK(gk_gmm_prepare(g0, err), err);
  gk_gmm_stats *s = NULL;
  GK_CHECK_OK(gk_gmm_accumulate(g0, &x, &s, NULL, err), err);
  gk_gmm_update_opts o;
  gk_gmm_update_opts_default(&o);
  o.var_floor_relative = 0.0;
  o.reg = 0.0;
  o.min_weight = 0.0;
  gk_gmm *g = NULL;
  size_t ev = 99;
  if (s) GK_CHECK_OK(gk_gmm_update(s, &o, &g, NULL, &ev, err), err);
  if (g) {
    double w[3] = {0.29, 0.29, 0.42}, m1[3] = {-2.7, -0.4, 3.7}, v1[3] = {0.14, 0.44, 1.53};
    for (int c = 0; c < 3; c++) {
      GK_CHECK_NEAR(g->weights[c], w[c], 0.005);
      GK_CHECK_NEAR(g->means[c], m1[c], 0.005);
      GK_CHECK_NEAR(g->covs[c], v1[c], 0.005);
    }
    GK_CHECK(ev == 0);
  }
  /* The same iteration through the trainer. */
  gk_gmm_train_opts to;
  gk_gmm_train_opts_default(&to);
  to.init = GK_INIT_MODEL;
  to.init_model = g0;
  to.update = o;
  gk_gmm_trainer *t = NULL;
  GK_CHECK_OK(gk_gmm_trainer_create(&t, &x, &to, NULL, NULL, err), err);
  double ll = 0.0;
  if (t) GK_CHECK_OK(gk_gmm_trainer_step(t, &x, NULL, &ll, NULL, err), err);
  if (t && g) {
    for (int c = 0; c < 3; c++) GK_CHECK(t->model->means[c] == g->means[c]);
    /* log-likelihood of the initial model, computed here in double. */
    double ref = 0.0;
    for (int i = 0; i < 7; i++) {
      double p = 0.0;
      for (int c = 0; c < 3; c++)
        p += exp(-0.5 * (xs[i] - mu[c]) * (xs[i] - mu[c]) / var[c]) / sqrt(2 * M_PI * var[c]) / 3.0;
      ref += log(p);
    }
    GK_CHECK_REL(ll, ref / 7.0, 1e-6);
  }
  gk_gmm_trainer_free(t);
  gk_gmm_stats_free(s);
  gk_gmm_free(g);
  gk_gmm_free(g0);
}

/* Statistics about different shifts merge exactly (second moments about a common point). */
static void test_stats_merge_shift(void) {
  gk_error err_, *err = &err_;
  gk_error_clear(err);
  for (int full = 0; full <= 1; full++) {
    gk_cov_type ct = full ? GK_COV_FULL : GK_COV_DIAG;
    gk_gmm_stats *a = NULL, *b = NULL;
    GK_CHECK_OK(gk_gmm_stats_create(&a, 1, 2, ct, NULL, err), err);
    GK_CHECK_OK(gk_gmm_stats_create(&b, 1, 2, ct, NULL, err), err);
    if (!a || !b) return;
    /* frames {(1, 2), (3, 5)} about shift (0, 0) in a; frame (10, -4) about (9, -3) in b. */
    a->zero[0] = 2; a->first[0] = 4; a->first[1] = 7;
    b->zero[0] = 1; b->first[0] = 1; b->first[1] = -1; b->shift[0] = 9; b->shift[1] = -3;
    if (!full) {
      a->second[0] = 1 + 9; a->second[1] = 4 + 25;
      b->second[0] = 1; b->second[1] = 1;
    } else {
      double sa[4] = {10, 2 + 15, 17, 29}, sb[4] = {1, -1, -1, 1};
      memcpy(a->second, sa, sizeof sa);
      memcpy(b->second, sb, sizeof sb);
    }
    a->frames = 2; b->frames = 1;
    GK_CHECK_OK(gk_gmm_stats_merge(a, b, err), err);
    GK_CHECK_NEAR(a->zero[0], 3, 0);
    GK_CHECK_NEAR(a->first[0], 14, 1e-12);
    GK_CHECK_NEAR(a->first[1], 3, 1e-12);
    if (!full) {
      GK_CHECK_NEAR(a->second[0], 110, 1e-12);
      GK_CHECK_NEAR(a->second[1], 45, 1e-12);
    } else {
      GK_CHECK_NEAR(a->second[0], 110, 1e-12);
      GK_CHECK_NEAR(a->second[1], 17 - 40, 1e-12);
      GK_CHECK_NEAR(a->second[2], 17 - 40, 1e-12);
      GK_CHECK_NEAR(a->second[3], 45, 1e-12);
    }
    gk_gmm_stats *c = NULL;
    GK_CHECK_OK(gk_gmm_stats_create(&c, 2, 2, ct, NULL, err), err);
    GK_CHECK(gk_gmm_stats_merge(a, c, err) == GK_EINVAL);
    gk_gmm_stats_free(a);
    gk_gmm_stats_free(b);
    gk_gmm_stats_free(c);
  }
}

/* Native files: round trip, corruption and truncation. */
static void test_files(void) {
  gk_error err_, *err = &err_;
  gk_error_clear(err);
  gk_gmm *g = NULL, *h = NULL;
  GK_CHECK_OK(gk_gmm_create(&g, 2, 2, GK_COV_FULL, NULL, err), err);
  if (!g) return;
  g->weights[0] = 0.3; g->weights[1] = 0.7;
  double S[8] = {4, 2, 2, 3, 1, 0, 0, 1};
  memcpy(g->covs, S, sizeof S);
  g->means[3] = -1.25;
  GK_CHECK_OK(gk_gmm_prepare(g, err), err);
  char path[] = "/tmp/gk_test_gmm_XXXXXX";
  int fd = mkstemp(path);
  GK_CHECK(fd >= 0);
  if (fd < 0) return;
  close(fd);
  GK_CHECK_OK(gk_gmm_save(g, path, err), err);
  GK_CHECK_OK(gk_gmm_load(path, &h, NULL, err), err);
  if (h) {
    GK_CHECK(h->k == 2 && h->d == 2 && h->cov == GK_COV_FULL);
    GK_CHECK(memcmp(h->covs, g->covs, sizeof S) == 0);
    GK_CHECK(h->means[3] == -1.25);
    GK_CHECK_NEAR(h->log_det[0], log(8.0), 1e-14);
  }
  gk_gmm_free(h);
  h = NULL;
  FILE *f = fopen(path, "r+b");
  if (f) {
    fseek(f, 60, SEEK_SET);
    fputc(0x55, f);
    fclose(f);
  }
  GK_CHECK(gk_gmm_load(path, &h, NULL, err) == GK_EFORMAT);
  GK_CHECK(strstr(err->message, "checksum") != NULL);
  GK_CHECK(truncate(path, 40) == 0);
  GK_CHECK(gk_gmm_load(path, &h, NULL, err) == GK_EFORMAT);
  GK_CHECK(h == NULL);
  /* Kaldi text round trip. */
  GK_CHECK_OK(gk_gmm_save_kaldi(g, path, err), err);
  GK_CHECK_OK(gk_gmm_load_kaldi(path, &h, NULL, err), err);
  if (h)
    for (int i = 0; i < 8; i++) GK_CHECK_NEAR(h->covs[i], g->covs[i], 1e-8);
  gk_gmm_free(h);
  unlink(path);
  gk_gmm_free(g);
}

/* gk_gmm_component_logpdf against the 2-D Gaussian density written out by hand:
 * log w - log(2 pi) - log |S| / 2 - Q / 2 with Q from the explicit 2 x 2 inverse. */
static void test_component_logpdf(void) {
  gk_error err;
  const double x[2] = {0.7, -1.2}, mu[2] = {0.2, 0.3};
  double tmp[2];
  /* full: S = [[2, 0.6], [0.6, 1]] */
  gk_gmm *g = NULL;
  GK_CHECK_OK(gk_gmm_create(&g, 2, 2, GK_COV_FULL, NULL, &err), &err);
  if (!g) return;
  g->weights[0] = 0.4; g->weights[1] = 0.6;
  for (int c = 0; c < 2; c++) {
    g->means[2 * c] = mu[0]; g->means[2 * c + 1] = mu[1];
    double *S = g->covs + 4 * c;
    S[0] = 2.0; S[1] = 0.6; S[2] = 0.6; S[3] = 1.0;
  }
  GK_CHECK_OK(gk_gmm_prepare(g, &err), &err);
  double det = 2.0 * 1.0 - 0.6 * 0.6, a = x[0] - mu[0], b = x[1] - mu[1];
  double Q = (1.0 * a * a - 2.0 * 0.6 * a * b + 2.0 * b * b) / det;
  double want = log(0.4) - log(2.0 * 3.14159265358979323846) - 0.5 * log(det) - 0.5 * Q;
  GK_CHECK_REL(gk_gmm_component_logpdf(g, 0, x, tmp), want, 1e-14);
  gk_gmm_free(g);
  /* diagonal: S = diag(2, 0.5); a zero weight gives -inf */
  g = NULL;
  GK_CHECK_OK(gk_gmm_create(&g, 2, 2, GK_COV_DIAG, NULL, &err), &err);
  if (!g) return;
  g->weights[0] = 1.0; g->weights[1] = 0.0;
  for (int c = 0; c < 2; c++) {
    g->means[2 * c] = mu[0]; g->means[2 * c + 1] = mu[1];
    g->covs[2 * c] = 2.0; g->covs[2 * c + 1] = 0.5;
  }
  GK_CHECK_OK(gk_gmm_prepare(g, &err), &err);
  want = -log(2.0 * 3.14159265358979323846) - 0.5 * log(1.0) - 0.5 * (a * a / 2.0 + b * b / 0.5);
  GK_CHECK_REL(gk_gmm_component_logpdf(g, 0, x, tmp), want, 1e-14);
  GK_CHECK(isinf(gk_gmm_component_logpdf(g, 1, x, tmp)) && gk_gmm_component_logpdf(g, 1, x, tmp) < 0);
  gk_gmm_free(g);
}


/* log(w N(x | mu, S)) in double from the covariance itself: diag, the product of the
 * 1-D densities; full (d = 3 here), the inverse by cofactors and the determinant. */
static double ref_logpdf(const gk_gmm *g, size_t c, const double *x) {
  size_t d = g->d;
  const double *mu = g->means + c * d;
  double lw = log(g->weights[c]);
  if (g->cov == GK_COV_DIAG) {
    double s = lw;
    for (size_t j = 0; j < d; j++) {
      double v = g->covs[c * d + j], z = x[j] - mu[j];
      s += -0.5 * (log(2 * M_PI * v) + z * z / v);
    }
    return s;
  }
  const double *S = g->covs + c * 9;
  double cof[9] = {S[4] * S[8] - S[5] * S[7], S[5] * S[6] - S[3] * S[8], S[3] * S[7] - S[4] * S[6],
                   S[2] * S[7] - S[1] * S[8], S[0] * S[8] - S[2] * S[6], S[1] * S[6] - S[0] * S[7],
                   S[1] * S[5] - S[2] * S[4], S[2] * S[3] - S[0] * S[5], S[0] * S[4] - S[1] * S[3]};
  double det = S[0] * cof[0] + S[1] * cof[1] + S[2] * cof[2], q = 0.0;
  for (int a = 0; a < 3; a++)
    for (int b = 0; b < 3; b++) q += (x[a] - mu[a]) * cof[a * 3 + b] / det * (x[b] - mu[b]);
  return lw - 0.5 * (3 * log(2 * M_PI) + log(det) + q);
}

/* A random model of k components in dimension 3 (full: S = A A' + I/2). */
static gk_gmm *random_model(gk_cov_type cov, size_t k, gk_rng *r, gk_error *err) {
  gk_gmm *g = NULL;
  if (gk_gmm_create(&g, k, 3, cov, NULL, err) != GK_OK) return NULL;
  for (size_t c = 0; c < k; c++) {
    g->weights[c] = (1.0 + (double)c) / ((double)k * (double)(k + 1) / 2.0);
    for (size_t j = 0; j < 3; j++) g->means[c * 3 + j] = 2.0 * gk_rng_normal(r);
    if (cov == GK_COV_DIAG) {
      for (size_t j = 0; j < 3; j++) g->covs[c * 3 + j] = 0.5 + gk_rng_uniform(r);
      continue;
    }
    double A[9];
    for (int i = 0; i < 9; i++) A[i] = gk_rng_normal(r);
    for (int a = 0; a < 3; a++)
      for (int b = 0; b < 3; b++)
        g->covs[c * 9 + a * 3 + b] = A[a * 3] * A[b * 3] + A[a * 3 + 1] * A[b * 3 + 1] + A[a * 3 + 2] * A[b * 3 + 2] +
                                     (a == b ? 0.5 : 0.0);
  }
  if (gk_gmm_prepare(g, err) != GK_OK) {
    gk_gmm_free(g);
    return NULL;
  }
  return g;
}

/* Statistics over each frame's own components (gk_gmm_accumulate_selected) against the
 * same sums made here in double: posteriors over the listed components, occupancy, mean
 * and (co)variance about the mean of each component, and the log-likelihood. Lists of
 * 1 to 3 distinct components, some ended early by SIZE_MAX; 1300 frames (several blocks). */
static void check_selected(gk_cov_type cov) {
  gk_error err_, *err = &err_;
  gk_error_clear(err);
  enum { N = 1300, K = 7, C = 3, D = 3 };
  gk_rng r;
  gk_rng_seed(&r, 11, cov);
  gk_gmm *g = random_model(cov, K, &r, err);
  float *xs = malloc(sizeof(float) * N * D);
  size_t *idx = malloc(sizeof(size_t) * N * C);
  double *zr = calloc(K, sizeof(double)), *f1 = calloc(K * D, sizeof(double)), *f2 = calloc(K * D * D, sizeof(double));
  if (!g || !xs || !idx || !zr || !f1 || !f2) {
    GK_CHECK(0);
    goto done;
  }
  double ll = 0.0;
  for (size_t i = 0; i < N; i++) {
    size_t c0 = gk_rng_below(&r, K), n = 1 + gk_rng_below(&r, C);
    double x[D], lp[C], m = -INFINITY, s = 0.0;
    for (size_t j = 0; j < D; j++) {
      xs[i * D + j] = (float)(g->means[c0 * D + j] + gk_rng_normal(&r));
      x[j] = xs[i * D + j];
    }
    for (size_t t = 0; t < C; t++) idx[i * C + t] = t < n ? (c0 + 2 * t) % K : SIZE_MAX;
    for (size_t t = 0; t < n; t++) {
      lp[t] = ref_logpdf(g, idx[i * C + t], x);
      m = fmax(m, lp[t]);
    }
    for (size_t t = 0; t < n; t++) s += exp(lp[t] - m);
    ll += m + log(s);
    for (size_t t = 0; t < n; t++) {
      size_t c = idx[i * C + t];
      double p = exp(lp[t] - m) / s;
      zr[c] += p;
      for (size_t a = 0; a < D; a++) {
        f1[c * D + a] += p * x[a];
        for (size_t b = 0; b < D; b++) f2[(c * D + a) * D + b] += p * x[a] * x[b];
      }
    }
  }
  gk_matrix mx = gk_matrix_view(N, D, GK_FLOAT32, xs);
  gk_gmm_data data = {&mx, 1, 1};
  gk_gmm_stats *st = NULL;
  GK_CHECK_OK(gk_gmm_accumulate_selected(g, &data, idx, C, &st, NULL, err), err);
  if (!st) goto done;
  GK_CHECK_REL(st->loglik, ll, 1e-6);
  for (size_t c = 0; c < K; c++) {
    GK_CHECK_REL(st->zero[c], zr[c], 1e-5);
    for (size_t a = 0; a < D; a++) {
      double mean = f1[c * D + a] / zr[c], got = st->shift[c * D + a] + st->first[c * D + a] / st->zero[c];
      GK_CHECK_NEAR(got, mean, 1e-5);
      size_t sa = cov == GK_COV_DIAG ? c * D + a : (c * D + a) * D + a;
      double ra = st->first[c * D + a] / st->zero[c];
      double var = f2[(c * D + a) * D + a] / zr[c] - mean * mean;
      GK_CHECK_NEAR(st->second[sa] / st->zero[c] - ra * ra, var, 1e-4);
    }
  }
  /* A list index out of range is refused, naming the frame. */
  idx[5 * C + 1] = K;
  gk_gmm_stats *bad = NULL;
  GK_CHECK(gk_gmm_accumulate_selected(g, &data, idx, C, &bad, NULL, err) == GK_EINVAL);
  GK_CHECK(strstr(err->message, "frame 6") != NULL);
  gk_gmm_stats_free(st);
done:
  gk_gmm_free(g);
  free(xs);
  free(idx);
  free(zr);
  free(f1);
  free(f2);
}

static void test_accumulate_selected(void) {
  check_selected(GK_COV_DIAG);
  check_selected(GK_COV_FULL);
}

int main(void) {
  GK_RUN(test_component_logpdf);
  GK_RUN(test_prepare);
  GK_RUN(test_mml_example);
  GK_RUN(test_stats_merge_shift);
  GK_RUN(test_files);
  GK_RUN(test_accumulate_selected);
  return GK_TEST_SUMMARY();
}
