/*
 * gmm_llr.c: log-likelihood ratios of many models against one UBM (gk_gmm_llr_matrix),
 * as verification tools score a trial list: each test's UBM pass (its top-C components per
 * frame, found by the blocked E-step of gk_gmm_top_posteriors) is made once and reused for
 * every model, where per-pair gk_gmm_llr calls would repeat it for each model.
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>
#include "gmmkit/alloc.h"
#include "gmmkit/gmm.h"
#include "gmmkit/parallel.h"

enum { LLR_BLOCK = 256 };  /* frames per parallel block; sums are added block by block in order */

/* One frame's log-likelihood ratio of each model over the UBM's top components ix[0..C):
 * log sum_t w N under the model minus the same under the UBM, each by log-sum-exp. */
static void frame_llr(const gk_gmm *const *models, size_t nm, const gk_gmm *ubm, const size_t *ix, size_t C,
                      const double *x, double *lp, double *tmp, double *out) {
  double mu = -INFINITY, su = 0.0;
  for (size_t t = 0; t < C; t++) {
    lp[t] = gk_gmm_component_logpdf(ubm, ix[t], x, tmp);
    if (lp[t] > mu) mu = lp[t];
  }
  for (size_t t = 0; t < C; t++) su += exp(lp[t] - mu);
  double ubm_ll = mu + log(su);
  for (size_t m = 0; m < nm; m++) {
    double mm = -INFINITY, sm = 0.0;
    for (size_t t = 0; t < C; t++) {
      lp[t] = gk_gmm_component_logpdf(models[m], ix[t], x, tmp);
      if (lp[t] > mm) mm = lp[t];
    }
    for (size_t t = 0; t < C; t++) sm += exp(lp[t] - mm);
    out[m] += (mm + log(sm)) - ubm_ll;
  }
}

/* The frame at index f of the data (after the stride), as doubles. */
static void frame_at(const gk_gmm_data *x, size_t f, double *out) {
  size_t s = x->stride > 1 ? x->stride : 1;
  for (size_t p = 0; p < x->nparts; p++) {
    const gk_matrix *m = &x->parts[p];
    size_t n = m->rows == 0 ? 0 : (m->rows - 1) / s + 1;
    if (f < n) {
      for (size_t j = 0; j < m->cols; j++) out[j] = gk_matrix_get(m, f * s, j);
      return;
    }
    f -= n;
  }
}

/* A group of tests scored top-C together: each test's UBM pass first, then one parallel
 * loop over the blocks of all of them (one team for the group, not one per test). */
typedef struct group {
  const gk_gmm_data *tests;
  size_t first, nt, C;  /* tests first + 1 .. first + nt of the list (1-based, for messages) */
  size_t *first_block;  /* nt + 1: blocks of test t are first_block[t] .. first_block[t + 1] */
  size_t **ix;          /* per test: n x C UBM components */
} group;

enum { GROUP_FRAMES = 1 << 20 };  /* frames of one group (its component indices: 40 MB at C = 5) */

static gk_status group_top(group *g, const gk_gmm *ubm, double *val, gk_error *err) {
  gk_status st = GK_OK;
  g->first_block[0] = 0;
  for (size_t t = 0; st == GK_OK && t < g->nt; t++) {
    size_t n = gk_gmm_data_frames(&g->tests[t]);
    g->first_block[t + 1] = g->first_block[t] + (n + LLR_BLOCK - 1) / LLR_BLOCK;
    g->ix[t] = gk_scratch_alloc(n ? n * g->C : 1, sizeof(size_t));
    if (!g->ix[t]) return gk_fail_nomem(err);
    st = gk_gmm_top_posteriors(ubm, &g->tests[t], g->C, g->ix[t], val, err);
    if (st != GK_OK) {
      char what[32];
      snprintf(what, sizeof what, "test %zu", g->first + t + 1);
      gk_error_prefix(err, what);
    }
  }
  return st;
}

/* Sums of the top-C ratios of the group's tests: sums[t * nm + m]. */
static void group_llr(const group *g, const gk_gmm *const *models, size_t nm, const gk_gmm *ubm, double *blk,
                      double *work, int nthreads, double *sums) {
  size_t nb = g->first_block[g->nt], d = ubm->d, C = g->C;
  memset(blk, 0, nb * nm * sizeof(double));
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
  for (size_t b = 0; b < nb; b++) {
    size_t t = 0;
    while (g->first_block[t + 1] <= b) t++;
    double *w = work + (size_t)omp_get_thread_num() * (2 * d + C);
    size_t n = gk_gmm_data_frames(&g->tests[t]), f0 = (b - g->first_block[t]) * LLR_BLOCK;
    size_t f1 = f0 + LLR_BLOCK < n ? f0 + LLR_BLOCK : n;
    for (size_t f = f0; f < f1; f++) {
      frame_at(&g->tests[t], f, w);
      frame_llr(models, nm, ubm, g->ix[t] + f * C, C, w, w + 2 * d, w + d, blk + b * nm);
    }
  }
  for (size_t t = 0; t < g->nt; t++)
    for (size_t b = g->first_block[t]; b < g->first_block[t + 1]; b++)
      for (size_t m = 0; m < nm; m++) sums[t * nm + m] += blk[b * nm + m];
}

/* Top-C scores of tests [0, nt) into sums (nt x nm), a group of tests at a time. */
static gk_status tests_llr_top(const gk_gmm *const *models, size_t nm, const gk_gmm *ubm, const gk_gmm_data *tests,
                               size_t nt, size_t C, double *sums, gk_error *err) {
  size_t maxn = 0, d = ubm->d;
  for (size_t t = 0; t < nt; t++) {
    size_t n = gk_gmm_data_frames(&tests[t]);
    if (n > maxn) maxn = n;
  }
  int nthreads = gk_threads();
  group g = {0};
  g.first_block = gk_scratch_alloc(nt + 1, sizeof(size_t));
  g.ix = gk_scratch_alloc(nt ? nt : 1, sizeof(size_t *));
  double *val = gk_scratch_alloc(maxn ? maxn * C : 1, sizeof(double));
  double *work = gk_scratch_alloc((size_t)nthreads * (2 * d + C), sizeof(double));
  gk_status st = g.first_block && g.ix && val && work ? GK_OK : gk_fail_nomem(err);
  for (size_t t0 = 0; st == GK_OK && t0 < nt;) {
    size_t t1 = t0, frames = 0;
    while (t1 < nt && (t1 == t0 || frames + gk_gmm_data_frames(&tests[t1]) <= GROUP_FRAMES))
      frames += gk_gmm_data_frames(&tests[t1++]);
    g.tests = tests + t0;
    g.first = t0;
    g.nt = t1 - t0;
    g.C = C;
    memset(g.ix, 0, g.nt * sizeof(size_t *));
    st = group_top(&g, ubm, val, err);
    double *blk = st == GK_OK ? gk_scratch_alloc(g.first_block[g.nt] * nm + 1, sizeof(double)) : NULL;
    if (st == GK_OK && !blk) st = gk_fail_nomem(err);
    if (st == GK_OK) group_llr(&g, models, nm, ubm, blk, work, nthreads, sums + t0 * nm);
    gk_scratch_free(blk);
    for (size_t t = 0; t < g.nt; t++) gk_scratch_free(g.ix[t]);
    t0 = t1;
  }
  gk_scratch_free(g.first_block);
  gk_scratch_free(g.ix);
  gk_scratch_free(val);
  gk_scratch_free(work);
  return st;
}

/* Checks that every model can be scored against the UBM (as gk_gmm_llr checks one). */
static gk_status check_models(const gk_gmm *const *models, size_t nm, const gk_gmm *ubm, size_t top, gk_error *err) {
  if (top > ubm->k)
    return gk_fail(err, GK_EINVAL, "top = %zu exceeds the number of components (%zu)", top, ubm->k);
  for (size_t m = 0; m < nm; m++) {
    if (models[m]->d != ubm->d)
      return gk_fail(err, GK_EINVAL, "model %zu has dimension %zu, the UBM %zu", m + 1, models[m]->d, ubm->d);
    if (top > 0 && (models[m]->k != ubm->k || models[m]->cov != ubm->cov))
      return gk_fail(err, GK_EINVAL, "top-C scoring needs models with the UBM's components (model %zu: %zu %s, "
                     "UBM %zu %s)", m + 1, models[m]->k, gk_cov_type_name(models[m]->cov), ubm->k,
                     gk_cov_type_name(ubm->cov));
  }
  return GK_OK;
}

/* Exhaustive scores of test t into col[0..nm): each model's log-likelihood minus the UBM's. */
static gk_status test_llr_all(const gk_gmm *const *models, size_t nm, const gk_gmm *ubm, const gk_gmm_data *x,
                              double *col, gk_error *err) {
  double b = 0.0;
  gk_status st = gk_gmm_score(ubm, x, NULL, &b, err);
  for (size_t m = 0; st == GK_OK && m < nm; m++) {
    st = gk_gmm_score(models[m], x, NULL, &col[m], err);
    col[m] -= b;
  }
  return st;
}

gk_status gk_gmm_llr_matrix(const gk_gmm *const *models, size_t nm, const gk_gmm *ubm, const gk_gmm_data *tests,
                            size_t nt, size_t top, double *out, gk_error *err) {
  gk_status st = check_models(models, nm, ubm, top, err);
  if (st != GK_OK) return st;
  double *sums = gk_scratch_alloc(nt * nm + 1, sizeof(double));
  if (!sums) return gk_fail_nomem(err);
  memset(sums, 0, (nt * nm + 1) * sizeof(double));
  /* BLAS single-threaded throughout: its pool, woken between the tests' UBM passes, would
   * spin against this file's own parallel loop. */
  int blas = gk_blas_serial_begin();
  if (top > 0) {
    st = tests_llr_top(models, nm, ubm, tests, nt, top, sums, err);
  } else {
    for (size_t t = 0; st == GK_OK && t < nt; t++) {
      st = test_llr_all(models, nm, ubm, &tests[t], sums + t * nm, err);
      if (st != GK_OK) {
        char what[32];
        snprintf(what, sizeof what, "test %zu", t + 1);
        gk_error_prefix(err, what);
      }
    }
  }
  gk_blas_serial_end(blas);
  for (size_t t = 0; st == GK_OK && t < nt; t++) {
    double n = (double)gk_gmm_data_frames(&tests[t]);
    for (size_t m = 0; m < nm; m++) out[m * nt + t] = sums[t * nm + m] / n;
  }
  gk_scratch_free(sums);
  return st;
}
