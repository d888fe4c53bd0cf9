/*
 * gmm_llr.c: log-likelihood ratios of many models against one UBM (gk_gmm_llr_matrix),
 * as verification tools score a trial list: each test's UBM pass (its top-C components per
 * frame, found by the blocked E-step of gk_gmm_top_posteriors) is made once and reused for
 * every model, where per-pair gk_gmm_llr calls would repeat it for each model. With a
 * selector (gmmkit/gselect.h) the components of each frame come from the members of its
 * best clusters instead of all K (gk_selector_llr_matrix), and the UBM's own density,
 * posteriors and E-step statistics over those components are here too
 * (gk_selector_posteriors, gk_selector_accumulate): everything that scores single
 * components of a model, frame by frame, in double.
 */
#include <stdint.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>
#include "gmmkit/alloc.h"
#include "gmmkit/gmm.h"
#include "gmmkit/gselect.h"
#include "gmmkit/parallel.h"
#include "gmm_internal.h"
#include "vector_kernel.h"

enum { LLR_BLOCK = 256 };  /* frames per parallel block; sums are added block by block in order */

/* A model prepared for scoring single components fast: diagonal models keep 1 / sigma
 * and the constant of each component (multiplications instead of gk_gmm_component_logpdf's
 * divisions); full ones are scored by gk_gmm_component_logpdf. A model whose weights and
 * variances are the UBM's (a MAP adaptation of the means, the usual one) shares the UBM's
 * arrays: nothing to compute, and one copy in cache for all models. */
typedef struct prepared {
  const gk_gmm *g;
  double *inv;  /* k x d, diagonal only */
  double *cst;  /* k: log w - 0.5 (d log 2 pi + log det) */
  int shared;   /* inv and cst are another's */
} prepared;

/* Whether g's weights and variances are those of the prepared model u, bit for bit. */
static int same_spread(const gk_gmm *g, const prepared *u) {
  const gk_gmm *f = u->g;
  return u->inv && g->cov == GK_COV_DIAG && g->k == f->k && g->d == f->d &&
         memcmp(g->weights, f->weights, g->k * sizeof(double)) == 0 &&
         memcmp(g->covs, f->covs, g->k * g->d * sizeof(double)) == 0;
}

/* p for model g; `like` (may be NULL): a prepared model whose arrays g may share. */
static int prepare(prepared *p, const gk_gmm *g, const prepared *like) {
  p->g = g;
  p->inv = p->cst = NULL;
  p->shared = 0;
  if (g->cov != GK_COV_DIAG) return 1;
  if (like && same_spread(g, like)) {
    p->inv = like->inv;
    p->cst = like->cst;
    p->shared = 1;
    return 1;
  }
  size_t k = g->k, d = g->d;
  p->inv = gk_scratch_alloc(k * d, sizeof(double));
  p->cst = gk_scratch_alloc(k, sizeof(double));
  if (!p->inv || !p->cst) return 0;
  for (size_t i = 0; i < k * d; i++) p->inv[i] = 1.0 / g->chol[i];
  for (size_t c = 0; c < k; c++) {
    double lw = g->weights[c] > 0.0 ? log(g->weights[c]) : -INFINITY;
    p->cst[c] = lw - 0.5 * ((double)d * GK_LOG_2PI + g->log_det[c]);
  }
  return 1;
}

static void unprepare(prepared *p) {
  if (p->shared) return;
  gk_scratch_free(p->inv);
  gk_scratch_free(p->cst);
}

/* The diagonal quadratic form, in lanes (its sum is the E-step's hottest loop here). */
GK_VECTOR_KERNEL
static double diag_quad(const double *x, const double *mu, const double *iv, size_t d) {
  double q = 0.0;
#pragma omp simd reduction(+ : q)
  for (size_t t = 0; t < d; t++) {
    double z = (x[t] - mu[t]) * iv[t];
    q += z * z;
  }
  return q;
}

/* Log-densities cst - q / 2 of four (frame x[i], mean mu[i]) pairs under one spread (1 /
 * sigma iv) into out[0..3]: four sums side by side instead of one chain of dependent
 * additions. Four frames of one component, or one frame under four models' means. */
GK_KERNEL_PART void diag_logpdf4(const double *const *x, const double *const *mu, const double *iv, double cst,
                                 size_t d, double *out) {
  const double *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
  const double *m0 = mu[0], *m1 = mu[1], *m2 = mu[2], *m3 = mu[3];
  double q0 = 0.0, q1 = 0.0, q2 = 0.0, q3 = 0.0;
#pragma omp simd reduction(+ : q0, q1, q2, q3)
  for (size_t t = 0; t < d; t++) {
    double z0 = (x0[t] - m0[t]) * iv[t], z1 = (x1[t] - m1[t]) * iv[t];
    double z2 = (x2[t] - m2[t]) * iv[t], z3 = (x3[t] - m3[t]) * iv[t];
    q0 += z0 * z0;
    q1 += z1 * z1;
    q2 += z2 * z2;
    q3 += z3 * z3;
  }
  out[0] = cst - 0.5 * q0;
  out[1] = cst - 0.5 * q1;
  out[2] = cst - 0.5 * q2;
  out[3] = cst - 0.5 * q3;
}

/* Log-densities of component (mu, iv, cst) at the frames x + row[p] * d of n pairs, into
 * out[slot[p] * stride]: one call per component of a block, not per pair, four pairs at a
 * time. */
GK_VECTOR_KERNEL
static void diag_logpdfs(const double *x, const size_t *row, const size_t *slot, size_t n, const double *mu,
                         const double *iv, double cst, size_t d, double *out, size_t stride) {
  const double *m4[4] = {mu, mu, mu, mu};
  size_t p = 0;
  for (; p + 4 <= n; p += 4) {
    const double *x4[4] = {x + row[p] * d, x + row[p + 1] * d, x + row[p + 2] * d, x + row[p + 3] * d};
    double v[4];
    diag_logpdf4(x4, m4, iv, cst, d, v);
    for (size_t i = 0; i < 4; i++) out[slot[p + i] * stride] = v[i];
  }
  for (; p < n; p++) out[slot[p] * stride] = cst - 0.5 * diag_quad(x + row[p] * d, mu, iv, d);
}

/* Log-densities of four models' component (means mu[0..3], sharing iv and cst) at the frames
 * x + row[p] * d of n pairs, into out[slot[p] * stride + 0..3]: four models at a time, for
 * a component with too few pairs in a block to take four pairs at a time. */
GK_VECTOR_KERNEL
static void models4_logpdfs(const double *x, const size_t *row, const size_t *slot, size_t n, const double *const *mu,
                            const double *iv, double cst, size_t d, double *out, size_t stride) {
  for (size_t p = 0; p < n; p++) {
    const double *xp = x + row[p] * d, *x4[4] = {xp, xp, xp, xp};
    diag_logpdf4(x4, mu, iv, cst, d, out + slot[p] * stride);
  }
}

static double logpdf(const prepared *p, size_t c, const double *x, double *tmp) {
  if (!p->inv) return gk_gmm_component_logpdf(p->g, c, x, tmp);
  size_t d = p->g->d;
  return p->cst[c] - 0.5 * diag_quad(x, p->g->means + c * d, p->inv + c * d, d);
}

/* log sum_t w N(x) over the components ix[0..C) of p, by log-sum-exp (lp: C scratch). */
static double lse_components(const prepared *p, const size_t *ix, size_t C, const double *x, double *lp, double *tmp) {
  double mx = -INFINITY, sum = 0.0;
  for (size_t t = 0; t < C; t++) {
    lp[t] = logpdf(p, ix[t], x, tmp);
    if (lp[t] > mx) mx = lp[t];
  }
  for (size_t t = 0; t < C; t++) sum += exp(lp[t] - mx);
  return mx + log(sum);
}

/* A position in the frames of a data set (after the stride): found once per block, then
 * advanced frame by frame, so that reading a block costs its frames, not a walk over the
 * matrices for each of them (a training set holds thousands). */
typedef struct cursor {
  const gk_gmm_data *x;
  size_t part, row, stride;
} cursor;

static cursor cursor_at(const gk_gmm_data *x, size_t f) {
  cursor c = {x, 0, 0, x->stride > 1 ? x->stride : 1};
  for (; c.part < x->nparts; c.part++) {
    const gk_matrix *m = &x->parts[c.part];
    size_t n = m->rows == 0 ? 0 : (m->rows - 1) / c.stride + 1;
    if (f < n) break;
    f -= n;
  }
  c.row = f * c.stride;
  return c;
}

/* The frame at the cursor, as doubles, and the cursor moved to the next one. */
static void cursor_next(cursor *c, double *out) {
  const gk_matrix *m = &c->x->parts[c->part];
  for (size_t j = 0; j < m->cols; j++) out[j] = gk_matrix_get(m, c->row, j);
  c->row += c->stride;
  while (c->part < c->x->nparts && c->row >= c->x->parts[c->part].rows) {
    c->part++;
    c->row = 0;
  }
}

/* A group of tests scored top-C together: one UBM pass (or one selection) over all their
 * frames, then one parallel loop over the frame blocks of all of them. */
typedef struct group {
  const gk_selector *sel;  /* NULL: every UBM component is a candidate */
  size_t search;           /* with a selector: clusters searched per frame */
  double evals;            /* with a selector: Gaussians evaluated, summed over frames */
  const gk_gmm_data *tests;
  size_t first, nt, C;     /* tests first + 1 .. first + nt of the list (1-based, for messages) */
  size_t *frame0;          /* nt + 1: the group's frames of test t are frame0[t] .. frame0[t + 1] */
  size_t *ix;              /* frames x C UBM components */
} group;

enum { GROUP_FRAMES = 1 << 20 };  /* frames of one group (its component indices: 40 MB at C = 5) */

/* The tests' frames as one data set (their matrices in order), when they share a stride. */
static int joined(const group *g, gk_matrix *parts, gk_gmm_data *all) {
  size_t np = 0;
  for (size_t t = 0; t < g->nt; t++) {
    if ((g->tests[t].stride > 1 ? g->tests[t].stride : 1) != (g->tests[0].stride > 1 ? g->tests[0].stride : 1))
      return 0;
    for (size_t p = 0; p < g->tests[t].nparts; p++) parts[np++] = g->tests[t].parts[p];
  }
  all->parts = parts;
  all->nparts = np;
  all->stride = g->tests[0].stride;
  return 1;
}

/* The UBM components of every frame of the group (its selector's or the top C). */
static gk_status pick(group *g, const gk_gmm *ubm, const gk_gmm_data *x, size_t *ix, gk_error *err) {
  if (!g->sel) return gk_gmm_top_checked(ubm, x, g->C, ix, NULL, err);
  double ev = 0.0;
  gk_status st = gk_selector_select_checked(g->sel, x, g->search, g->C, ix, &ev, err);
  g->evals += ev * (double)gk_gmm_data_frames(x);
  return st;
}

static gk_status group_top(group *g, const gk_gmm *ubm, gk_matrix *parts, gk_error *err) {
  gk_gmm_data all;
  g->frame0[0] = 0;
  for (size_t t = 0; t < g->nt; t++) g->frame0[t + 1] = g->frame0[t] + gk_gmm_data_frames(&g->tests[t]);
  for (size_t t = 0; t < g->nt; t++) {
    gk_status st = gk_gmm_data_check(&g->tests[t], ubm->d, err);
    if (st == GK_OK && g->frame0[t + 1] == g->frame0[t]) st = gk_fail(err, GK_EINVAL, "no data: 0 frames");
    if (st != GK_OK) {
      char what[32];
      snprintf(what, sizeof what, "test %zu", g->first + t + 1);
      gk_error_prefix(err, what);
      return st;
    }
  }
  if (joined(g, parts, &all)) return pick(g, ubm, &all, g->ix, err);
  for (size_t t = 0; t < g->nt; t++) {
    gk_status st = pick(g, ubm, &g->tests[t], g->ix + g->frame0[t] * g->C, err);
    if (st != GK_OK) return st;
  }
  return GK_OK;
}

/* The group's frames are scored in blocks of SCORE_BLOCK frames of the joined tests (a
 * block may span several tests; a test several blocks). Inside a block the (frame,
 * component) pairs are sorted by component, so that each component's parameters are read
 * once a block for all its frames, not once a frame: the models' parameters (7 models of
 * 512 x 38 diagonal components: 2 MB) do not stay in cache, and read frame by frame they
 * cost more than the arithmetic. The UBM and the models are taken MODEL_GROUP at a time
 * (the UBM first). Each block writes a partial sum per test it touches; the partials are
 * added per test in block order, so the sums do not depend on the threads. */
enum { SCORE_BLOCK = 1024, MODEL_GROUP = 8 };

/* One thread's buffers for a block. */
typedef struct blockws {
  double *x;     /* SCORE_BLOCK x d frames */
  double *tmp;   /* d */
  double *umx;   /* SCORE_BLOCK: the largest of each frame's UBM log-densities */
  double *usum;  /* SCORE_BLOCK: its sum of exp(log-density - umx) */
  double *lpm;   /* SCORE_BLOCK x C x MODEL_GROUP: log-densities of each pair */
  size_t *pair;  /* SCORE_BLOCK x C: pairs (frame * C + slot) by component */
  size_t *row;   /* SCORE_BLOCK x C: the frame of each pair */
  size_t *at;    /* k + 1: component c's pairs are pair[at[c] .. at[c + 1]) */
  size_t *nc;    /* SCORE_BLOCK: selected components of each frame */
} blockws;

static size_t blockws_doubles(size_t d, size_t C) {
  return SCORE_BLOCK * d + d + 2 * SCORE_BLOCK + SCORE_BLOCK * C * MODEL_GROUP;
}

static size_t blockws_sizes(size_t k, size_t C) { return 2 * SCORE_BLOCK * C + k + 1 + SCORE_BLOCK; }

static blockws blockws_at(double *dw, size_t *sw, size_t d, size_t C, size_t k) {
  blockws w;
  w.x = dw;
  w.tmp = w.x + SCORE_BLOCK * d;
  w.umx = w.tmp + d;
  w.usum = w.umx + SCORE_BLOCK;
  w.lpm = w.usum + SCORE_BLOCK;
  w.pair = sw;
  w.row = w.pair + SCORE_BLOCK * C;
  w.at = w.row + SCORE_BLOCK * C;
  w.nc = w.at + k + 1;
  return w;
}

/* The frames [f0, f1) of the group (joined numbering) into w->x, from test t0 on. */
static void block_frames(const group *g, size_t f0, size_t f1, size_t t0, size_t d, blockws *w) {
  size_t t = t0, f = f0;
  while (f < f1) {
    size_t end = g->frame0[t + 1] < f1 ? g->frame0[t + 1] : f1;
    cursor cur = cursor_at(&g->tests[t], f - g->frame0[t]);
    for (; f < end; f++) cursor_next(&cur, w->x + (f - f0) * d);
    t++;
  }
}

/* The block's pairs sorted by component (a counting sort), from the UBM's lists ix. */
static void block_pairs(const size_t *ix, size_t n, size_t C, size_t k, blockws *w) {
  memset(w->at, 0, (k + 1) * sizeof(size_t));
  for (size_t f = 0; f < n; f++) {
    size_t c = C;
    while (c > 0 && ix[f * C + c - 1] == SIZE_MAX) c--;
    w->nc[f] = c;
    for (size_t t = 0; t < c; t++) w->at[ix[f * C + t] + 1]++;
  }
  for (size_t c = 0; c < k; c++) w->at[c + 1] += w->at[c];
  for (size_t f = 0; f < n; f++)
    for (size_t t = 0; t < w->nc[f]; t++) {
      size_t p = w->at[ix[f * C + t]]++;
      w->pair[p] = f * C + t;
      w->row[p] = f;
    }
  for (size_t c = k; c > 0; c--) w->at[c] = w->at[c - 1];  /* back to the starts */
  w->at[0] = 0;
}

/* Whether the four prepared models pm[0..3] share one spread (a UBM and its means-only
 * adaptations). */
static int share4(const prepared *pm) {
  return pm[0].inv && pm[1].inv == pm[0].inv && pm[2].inv == pm[0].inv && pm[3].inv == pm[0].inv;
}

/* Log-densities of models pm[0..nm) at every pair, component by component, into
 * out[pair * stride + m]: four pairs at a time per model, or, for a component with fewer
 * pairs in the block, four models at a time per pair where four share a spread. */
static void block_logpdf(const prepared *pm, size_t nm, size_t k, size_t d, blockws *w, double *out,
                         size_t stride) {
  for (size_t c = 0; c < k; c++) {
    size_t p0 = w->at[c], n = w->at[c + 1] - p0, m = 0;
    for (; n && n < 4 && m + 4 <= nm && share4(pm + m); m += 4) {
      const double *mu[4] = {pm[m].g->means + c * d, pm[m + 1].g->means + c * d, pm[m + 2].g->means + c * d,
                             pm[m + 3].g->means + c * d};
      models4_logpdfs(w->x, w->row + p0, w->pair + p0, n, mu, pm[m].inv + c * d, pm[m].cst[c], d, out + m, stride);
    }
    for (; n && m < nm; m++) {
      const prepared *q = &pm[m];
      if (q->inv) {
        diag_logpdfs(w->x, w->row + p0, w->pair + p0, n, q->g->means + c * d, q->inv + c * d, q->cst[c], d, out + m,
                     stride);
        continue;
      }
      for (size_t p = p0; p < p0 + n; p++)
        out[w->pair[p] * stride + m] = gk_gmm_component_logpdf(q->g, c, w->x + w->row[p] * d, w->tmp);
    }
  }
}

/* The log-sum-exp of v[0], v[stride], ... (n terms) as its largest term (the return) and
 * the sum of exp(term - largest) (*sum); the largest term's exp(0) = 1 is not computed. */
static double lse_split(const double *v, size_t n, size_t stride, double *sum) {
  double mx = -INFINITY, s = 0.0;
  size_t at = 0;
  for (size_t t = 0; t < n; t++)
    if (v[t * stride] > mx) {
      mx = v[t * stride];
      at = t;
    }
  for (size_t t = 0; t < n; t++) s += t == at && mx > -INFINITY ? 1.0 : exp(v[t * stride] - mx);
  *sum = s;
  return mx;
}

/* A sum of log-sum-exps over frames: their largest terms summed, their sums of
 * exponentials (each in [1, C]) multiplied, with the product's exponent kept apart, so that
 * a test's frames in a block take one logarithm, not one each. */
typedef struct lsesum {
  double mx, prod;
  int ex;
} lsesum;

#define LN2 0.69314718055994530942  /* log 2 */

static void lsesum_add(lsesum *a, double mx, double sum) {
  a->mx += mx;
  a->prod *= sum;
  if (a->prod > 0x1p512) {
    int e;
    a->prod = frexp(a->prod, &e);
    a->ex += e;
  }
}

static double lsesum_value(const lsesum *a) { return a->mx + (log(a->prod) + (double)a->ex * LN2); }

/* Models m0 .. m1 - 1 of the group from `base` (their log-densities in w->lpm, column m -
 * base; model 0 is the UBM, whose per-frame terms are w->umx, w->usum): each frame's ratio
 * added to its test's partial part[(t - t0) * nm + m - 1]. */
static void block_ratios(const group *g, size_t f0, size_t n, size_t t0, size_t base, size_t m0, size_t m1,
                         size_t nm, const blockws *w, double *part) {
  size_t C = g->C, t = t0;
  lsesum acc[MODEL_GROUP + 1];  /* acc[MODEL_GROUP]: the UBM's */
  for (size_t f = 0; f <= n; f++) {
    size_t was = t;
    if (f < n)
      while (g->frame0[t + 1] <= f0 + f) t++;
    if (f > 0 && (f == n || t != was)) { /* the test of the frames before ends here */
      double u = lsesum_value(&acc[MODEL_GROUP]);
      for (size_t m = m0; m < m1; m++) part[(was - t0) * nm + m - 1] += lsesum_value(&acc[m - base]) - u;
    }
    if (f == n) break;
    if (f == 0 || t != was)
      for (size_t m = 0; m <= MODEL_GROUP; m++) acc[m] = (lsesum){0.0, 1.0, 0};
    lsesum_add(&acc[MODEL_GROUP], w->umx[f], w->usum[f]);
    for (size_t m = m0; m < m1; m++) {
      double sum, mx = lse_split(w->lpm + f * C * MODEL_GROUP + m - base, w->nc[f], MODEL_GROUP, &sum);
      lsesum_add(&acc[m - base], mx, sum);
    }
  }
}

/* Block [f0, f1) of the group (its first test t0) under pm[0..nm] (the UBM, then the nm
 * models): each frame's ratios added to the partial sums part[(t - t0) * nm + m] of its
 * test t. */
static void block_llr(const group *g, const prepared *pm, size_t nm, size_t f0, size_t f1, size_t t0, blockws *w,
                      double *part) {
  size_t d = pm[0].g->d, k = pm[0].g->k, C = g->C, n = f1 - f0;
  block_frames(g, f0, f1, t0, d, w);
  block_pairs(g->ix + f0 * C, n, C, k, w);
  for (size_t m0 = 0; m0 <= nm; m0 += MODEL_GROUP) {
    size_t mg = nm + 1 - m0 < MODEL_GROUP ? nm + 1 - m0 : MODEL_GROUP;
    block_logpdf(pm + m0, mg, k, d, w, w->lpm, MODEL_GROUP);
    for (size_t f = 0; m0 == 0 && f < n; f++)  /* the UBM's terms, column 0 of the first group */
      w->umx[f] = lse_split(w->lpm + f * C * MODEL_GROUP, w->nc[f], MODEL_GROUP, &w->usum[f]);
    block_ratios(g, f0, n, t0, m0, m0 == 0 ? 1 : m0, m0 + mg, nm, w, part);
  }
}

/* The blocks of the group: block b is frames [b * SCORE_BLOCK, ...), its first test
 * first[b], its partials part0[b] .. part0[b + 1] (one per test it touches). */
static size_t group_blocks(const group *g, size_t *first, size_t *part0, size_t *owner) {
  size_t n = g->frame0[g->nt], nb = (n + SCORE_BLOCK - 1) / SCORE_BLOCK, t = 0, q = 0;
  for (size_t b = 0; b < nb; b++) {
    size_t f0 = b * SCORE_BLOCK, f1 = f0 + SCORE_BLOCK < n ? f0 + SCORE_BLOCK : n;
    while (g->frame0[t + 1] <= f0) t++;
    first[b] = t;
    part0[b] = q;
    for (size_t u = t; u < g->nt && g->frame0[u] < f1; u++) owner[q++] = u;
  }
  part0[nb] = q;
  return nb;
}

/* Sums of the top-C ratios of the group's tests: sums[t * nm + m]. `first`, `part0`,
 * `owner` and `part` hold the blocks' layout and partial sums (group_blocks). */
static void group_llr(const group *g, const prepared *pm, size_t nm, size_t *first,
                      size_t *part0, size_t *owner, double *part, double *dwork, size_t *swork, int nthreads,
                      double *sums) {
  size_t d = pm[0].g->d, k = pm[0].g->k, C = g->C, n = g->frame0[g->nt];
  size_t nb = group_blocks(g, first, part0, owner);
  memset(part, 0, part0[nb] * nm * sizeof(double));
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
  for (size_t b = 0; b < nb; b++) {
    size_t me = (size_t)omp_get_thread_num();
    blockws w = blockws_at(dwork + me * blockws_doubles(d, C), swork + me * blockws_sizes(k, C), d, C, k);
    size_t f1 = (b + 1) * SCORE_BLOCK < n ? (b + 1) * SCORE_BLOCK : n;
    block_llr(g, pm, nm, b * SCORE_BLOCK, f1, first[b], &w, part + part0[b] * nm);
  }
  for (size_t q = 0; q < part0[nb]; q++)
    for (size_t m = 0; m < nm; m++) sums[owner[q] * nm + m] += part[q * nm + m];
}

/* Top-C scores of tests [0, nt) into sums (nt x nm), a group of tests at a time; the
 * candidates from g0's selector when it has one (g0->evals then sums its evaluations). */
static gk_status tests_llr_top(group *g0, const gk_gmm *const *models, size_t nm, const gk_gmm *ubm,
                               const gk_gmm_data *tests, size_t nt, size_t C, double *sums, gk_error *err) {
  size_t d = ubm->d, k = ubm->k, maxparts = 0;
  for (size_t t = 0; t < nt; t++) maxparts += tests[t].nparts;
  int nthreads = gk_threads();
  group g = *g0;
  g.C = C;
  g.frame0 = gk_scratch_alloc(nt + 1, sizeof(size_t));
  gk_matrix *parts = gk_scratch_alloc(maxparts ? maxparts : 1, sizeof(gk_matrix));
  double *dwork = gk_scratch_alloc((size_t)nthreads * blockws_doubles(d, C), sizeof(double));
  size_t *swork = gk_scratch_alloc((size_t)nthreads * blockws_sizes(k, C), sizeof(size_t));
  prepared *pm = gk_scratch_alloc(nm + 1, sizeof(prepared));  /* the UBM, then the models */
  if (pm) memset(pm, 0, (nm + 1) * sizeof(prepared));
  int ok = g.frame0 && parts && dwork && swork && pm && prepare(&pm[0], ubm, NULL);
  for (size_t m = 0; ok && m < nm; m++) ok = prepare(&pm[m + 1], models[m], &pm[0]);
  gk_status st = ok ? GK_OK : gk_fail_nomem(err);
  for (size_t t0 = 0; st == GK_OK && t0 < nt;) {
    size_t t1 = t0, frames = 0;
    while (t1 < nt && (t1 == t0 || frames + gk_gmm_data_frames(&tests[t1]) <= GROUP_FRAMES))
      frames += gk_gmm_data_frames(&tests[t1++]);
    g.tests = tests + t0;
    g.first = t0;
    g.nt = t1 - t0;
    size_t blocks = (frames + SCORE_BLOCK - 1) / SCORE_BLOCK, parts_max = blocks + g.nt;
    g.ix = gk_scratch_alloc(frames ? frames * C : 1, sizeof(size_t));
    double *part = gk_scratch_alloc(parts_max * nm, sizeof(double));
    size_t *lay = gk_scratch_alloc(2 * blocks + 1 + parts_max, sizeof(size_t));
    st = g.ix && part && lay ? group_top(&g, ubm, parts, err) : gk_fail_nomem(err);
    if (st == GK_OK)
      group_llr(&g, pm, nm, lay, lay + blocks, lay + 2 * blocks + 1, part, dwork, swork, nthreads, sums + t0 * nm);
    gk_scratch_free(g.ix);
    gk_scratch_free(part);
    gk_scratch_free(lay);
    t0 = t1;
  }
  for (size_t m = 0; pm && m <= nm; m++) unprepare(&pm[m]);
  gk_scratch_free(pm);
  gk_scratch_free(g.frame0);
  gk_scratch_free(parts);
  gk_scratch_free(dwork);
  gk_scratch_free(swork);
  g0->evals = g.evals;
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

/* out (nm x nt) = the sums per frame of each test, when st is GK_OK. */
static void means_out(const gk_gmm_data *tests, size_t nt, size_t nm, const double *sums, double *out, gk_status st) {
  for (size_t t = 0; st == GK_OK && t < nt; t++) {
    double n = (double)gk_gmm_data_frames(&tests[t]);
    for (size_t m = 0; m < nm; m++) out[m * nt + t] = sums[t * nm + m] / n;
  }
}

/* Whether selector s was made for the UBM's shape (else GK_EINVAL saying so). */
static int selector_fits(const gk_selector *s, const gk_gmm *ubm, gk_error *err) {
  if (gk_selector_components(s) == ubm->k && gk_selector_dim(s) == ubm->d) return 1;
  gk_fail(err, GK_EINVAL, "the selector was made for %zu components in dimension %zu, the UBM has %zu in %zu",
          gk_selector_components(s), gk_selector_dim(s), ubm->k, ubm->d);
  return 0;
}

/* Both entries: the scores of every model on every test into out, the components of each
 * frame from g's selector when it has one, else its top C (all when top is 0). */
static gk_status run_matrix(group *g, const gk_gmm *const *models, size_t nm, const gk_gmm *ubm,
                            const gk_gmm_data *tests, size_t nt, size_t top, double *out, gk_error *err) {
  gk_status st = check_models(models, nm, ubm, top, err);
  if (st != GK_OK) return st;
  double *sums = gk_scratch_alloc(nt * nm + 1, sizeof(double));
  if (!sums) return gk_fail_nomem(err);
  memset(sums, 0, (nt * nm + 1) * sizeof(double));
  /* BLAS single-threaded throughout: its pool, woken between the tests' UBM passes, would
   * spin against this file's own parallel loop. */
  int blas = gk_blas_serial_begin();
  if (top > 0) {
    st = tests_llr_top(g, models, nm, ubm, tests, nt, top, sums, err);
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
  means_out(tests, nt, nm, sums, out, st);
  gk_scratch_free(sums);
  return st;
}

gk_status gk_gmm_llr_matrix(const gk_gmm *const *models, size_t nm, const gk_gmm *ubm, const gk_gmm_data *tests,
                            size_t nt, size_t top, double *out, gk_error *err) {
  group g = {0};
  return run_matrix(&g, models, nm, ubm, tests, nt, top, out, err);
}

gk_status gk_selector_llr_matrix(const gk_selector *s, const gk_gmm *const *models, size_t nm, const gk_gmm *ubm,
                                 const gk_gmm_data *tests, size_t nt, size_t search, size_t top, double *out,
                                 double *evals, gk_error *err) {
  if (!selector_fits(s, ubm, err)) return err ? err->status : GK_EINVAL;
  if (top < 1) return gk_fail(err, GK_EINVAL, "top = 0: selection needs top >= 1");
  group g = {0};
  g.sel = s;
  g.search = search;
  gk_status st = run_matrix(&g, models, nm, ubm, tests, nt, top, out, err);
  if (st == GK_OK && evals) {
    double frames = 0.0;
    for (size_t t = 0; t < nt; t++) frames += (double)gk_gmm_data_frames(&tests[t]);
    *evals = g.evals / frames;
  }
  return st;
}

/* ---- the UBM alone over the selected components ---------------------------------------------- */

gk_status gk_selector_posteriors(const gk_selector *s, const gk_gmm *ubm, const gk_gmm_data *x, size_t search,
                                 size_t top, size_t *idx, double *post, double *total, double *evals, gk_error *err) {
  if (!selector_fits(s, ubm, err)) return err ? err->status : GK_EINVAL;
  size_t n = gk_gmm_data_frames(x), d = ubm->d, C = top, nb = (n + LLR_BLOCK - 1) / LLR_BLOCK;
  double ev = 0.0;
  gk_status st = gk_selector_select(s, x, search, top, idx, &ev, err);
  if (st != GK_OK) return st;
  int nt = gk_threads();
  prepared pu = {0};
  double *blk = gk_scratch_alloc(nb ? nb : 1, sizeof(double));
  double *work = gk_scratch_alloc((size_t)nt * (2 * d + C), sizeof(double));
  if (!blk || !work || !prepare(&pu, ubm, NULL)) st = gk_fail_nomem(err);
  if (st == GK_OK) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (size_t b = 0; b < nb; b++) {
      double *w = work + (size_t)omp_get_thread_num() * (2 * d + C), *lp = w + 2 * d, sum = 0.0;
      size_t f1 = (b + 1) * LLR_BLOCK < n ? (b + 1) * LLR_BLOCK : n;
      cursor cur = cursor_at(x, b * LLR_BLOCK);
      for (size_t f = b * LLR_BLOCK; f < f1; f++) {
        const size_t *ix = idx + f * C;
        size_t c = C;
        while (c > 0 && ix[c - 1] == SIZE_MAX) c--;
        cursor_next(&cur, w);
        double ll = lse_components(&pu, ix, c, w, lp, w + d);
        for (size_t t = 0; post && t < C; t++) post[f * C + t] = t < c ? exp(lp[t] - ll) : 0.0;
        sum += ll;
      }
      blk[b] = sum;
    }
    double sum = 0.0;
    for (size_t b = 0; b < nb; b++) sum += blk[b];
    if (!isfinite(sum))
      st = gk_fail(err, GK_ENUMERIC, "the log-likelihood is not finite (%g): the model cannot score these frames", sum);
    if (total) *total = sum;
    if (evals) *evals = ev;
  }
  unprepare(&pu);
  gk_scratch_free(blk);
  gk_scratch_free(work);
  return st;
}

gk_status gk_selector_accumulate(const gk_selector *s, const gk_gmm *g, const gk_gmm_data *x, size_t search,
                                 size_t top, gk_gmm_stats **stats, const gk_allocator *a, gk_error *err) {
  if (!selector_fits(s, g, err)) return err ? err->status : GK_EINVAL;
  size_t n = gk_gmm_data_frames(x);
  size_t *idx = gk_scratch_alloc(n ? n * top : 1, sizeof(size_t));
  if (!idx) return gk_fail_nomem(err);
  gk_status st = gk_selector_select(s, x, search, top, idx, NULL, err);
  if (st == GK_OK) st = gk_gmm_accumulate_selected(g, x, idx, top, stats, a, err);
  gk_scratch_free(idx);
  return st;
}
