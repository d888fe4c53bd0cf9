/*
 * gmm_estep.c: the blocked E-step of gmmkit/gmm.h and everything built on it: scoring,
 * posteriors, top-C posteriors, log-likelihood ratios and the accumulation of sufficient
 * statistics.
 *
 * Frames are cut into fixed blocks of BLOCK rows (never crossing a matrix boundary). For a
 * block, the per-component log densities log(w_k N(x_i | mu_k, S_k)) are computed as
 * float32 GEMMs and turned into log p(x_i) and posteriors by a fused log-sum-exp on each
 * row, so the N x K responsibilities never exist for more than one block:
 *   diag: log N = c_k + sum_j x_j^2 (-1 / 2 v_kj) + sum_j x_j (mu_kj / v_kj), one GEMM of
 *         [x^2, x] (B x 2D) by a 2D x K table (as Kaldi's DiagGmm::LogLikelihoods), with x
 *         taken about a shift s (the model's overall mean) to keep float32 terms small;
 *   full: z = L_k^-1 (x - mu_k), log N = c_k - |z|^2 / 2, one B x D x D GEMM per component
 *         with L_k^-T (Cholesky factors, so no quadratic form loses digits to cancellation).
 * Statistics are float64. Diagonal: [x - s, (x - s)^2]' R by a double GEMM, exact apart
 * from the float32 posteriors. Full: moments about each component's own mean (no
 * cancellation), float32 SYRK per block, added into float64 accumulators.
 *
 * Determinism: blocks are grouped into chunks (chunk_blocks); a wave of up to `slots`
 * chunks runs in parallel, each chunk into its own accumulator, and the accumulators are
 * added in chunk order. Neither the grouping nor the order depends on the thread count.
 */
#include "gmmkit/gmm.h"
#include "gmm_internal.h"
#include "rank.h"

#include <float.h>
#include <stdio.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <cblas.h>
#include <lapacke.h>
#include <omp.h>

#include "gmmkit/limits.h"
#include "gmmkit/parallel.h"
#include "vector_kernel.h"

#define BLOCK 512            /* frames per block */
#define CHUNK 4              /* blocks per chunk (one accumulator), at least */
#define CHUNK_MAX 64         /* blocks per chunk at most */
#define SEL_CHUNK 128        /* blocks per chunk of statistics over selected components */
#define MAX_SLOTS 16         /* chunks per wave */
#define SLOT_BUDGET (256u << 20)  /* bytes of chunk accumulators at most (when possible) */
#define FULL_ROWS 128        /* full covariances: rows per grouped GEMM */
/* Statistics leave out posteriors below 2^-30 (about 1e-9) of a frame's largest one: far
 * below the float32 E-step's own rounding (about 1e-7), and most of a UBM's posteriors,
 * so that statistics cost what the frames' few relevant components cost. */
#define MIN_POSTERIOR 0x1p-30f

/* Components per grouped GEMM of the full-covariance E-step: about 512 output columns. */
static size_t full_group(size_t d, size_t k) {
  size_t g = 512 / d;
  if (g < 1) g = 1;
  return g < k ? g : k;
}

/* ---- data ------------------------------------------------------------------------ */

static size_t data_stride(const gk_gmm_data *x) { return x->stride > 1 ? x->stride : 1; }

static size_t part_frames(const gk_gmm_data *x, size_t p) {
  size_t s = data_stride(x), r = x->parts[p].rows;
  return r == 0 ? 0 : (r - 1) / s + 1;
}

size_t gk_gmm_data_frames(const gk_gmm_data *x) {
  size_t n = 0;
  for (size_t p = 0; p < x->nparts; p++) n += part_frames(x, p);
  return n;
}

gk_status gk_gmm_data_check(const gk_gmm_data *x, size_t d, gk_error *err) {
  if (!x || x->nparts == 0) return gk_fail(err, GK_EINVAL, "no data: an empty list of matrices");
  for (size_t p = 0; p < x->nparts; p++) {
    const gk_matrix *m = &x->parts[p];
    char where[48] = "";
    if (x->nparts > 1) snprintf(where, sizeof where, "matrix %zu: ", p + 1);
    if (m->rows > 0 && m->cols != d)
      return gk_fail(err, GK_EINVAL, "%sdimension mismatch: %zu x %zu data for a %zu-dimensional model",
                     where, m->rows, m->cols, d);
    size_t r, c;
    if (m->rows > 0 && gk_matrix_find_nonfinite(m, &r, &c)) {
      double v = gk_matrix_get(m, r, c);
      return gk_fail(err, GK_ENUMERIC, "%srow %zu, column %zu is %s (frames must be finite)", where,
                     r + 1, c + 1, isnan(v) ? "NaN" : "Inf");
    }
  }
  if (gk_gmm_data_frames(x) == 0) return gk_fail(err, GK_EINVAL, "no data: 0 frames");
  return GK_OK;
}

typedef struct block {
  size_t part;    /* matrix */
  size_t first;   /* first frame within the matrix (in strided units) */
  size_t count;   /* frames */
  size_t offset;  /* global index of the first frame */
} block;

/* The fixed block list of x. */
static gk_status make_blocks(const gk_gmm_data *x, block **out, size_t *nout, gk_error *err) {
  size_t nb = 0;
  for (size_t p = 0; p < x->nparts; p++) nb += (part_frames(x, p) + BLOCK - 1) / BLOCK;
  block *b = gk_scratch_alloc(nb ? nb : 1, sizeof(block));
  if (!b) return gk_fail_nomem(err);
  size_t i = 0, off = 0;
  for (size_t p = 0; p < x->nparts; p++) {
    size_t n = part_frames(x, p);
    for (size_t f = 0; f < n; f += BLOCK) {
      b[i].part = p;
      b[i].first = f;
      b[i].count = n - f < BLOCK ? n - f : BLOCK;
      b[i].offset = off + f;
      i++;
    }
    off += n;
  }
  *out = b;
  *nout = nb;
  return GK_OK;
}

/* xd (count x d, double) = frames of the block minus the shift s. */
static void load_block(const gk_gmm_data *x, const block *b, const double *s, size_t d, double *xd) {
  const gk_matrix *m = &x->parts[b->part];
  size_t stride = data_stride(x);
  for (size_t i = 0; i < b->count; i++) {
    size_t r = (b->first + i) * stride;
    double *o = xd + i * d;
    if (m->dtype == GK_FLOAT32) {
      const float *row = (const float *)m->data + r * m->cols;
      for (size_t j = 0; j < d; j++) o[j] = (double)row[j] - s[j];
    } else {
      const double *row = (const double *)m->data + r * m->cols;
      for (size_t j = 0; j < d; j++) o[j] = row[j] - s[j];
    }
  }
}

/* ---- exp and log-sum-exp ---------------------------------------------------------- */

/* The log-sum-exp loops are the E-step's hottest code after the GEMMs: GK_VECTOR_KERNEL
 * (vector_kernel.h) gives them an AVX2 clone. */

/* The bit pattern of MIN_POSTERIOR: for non-negative floats the order of the patterns
 * is the order of the values, so "e >= MIN_POSTERIOR" is an integer compare. */
static uint32_t min_posterior_bits(void) {
  float t = MIN_POSTERIOR;
  uint32_t b;
  memcpy(&b, &t, sizeof b);
  return b;
}

/* exp(x) for x <= 0 in float to about 2 ulp (Cephes expf: x = n ln2 + r, |r| <= ln2 / 2,
 * a degree-6 polynomial, 2^n from the exponent bits), as a bit pattern; exactly 0 below
 * -87, where expf would underflow, so that components far from a frame drop out
 * exactly. "x < -87" is an unsigned compare of the bit patterns (x <= 0) and the floor a
 * truncation after an offset: no float compare, so loops over it vectorise under the
 * default (trapping) math model. */
static inline uint32_t exp_bits(float x) {
  uint32_t xb;
  memcpy(&xb, &x, sizeof xb);
  uint32_t under = (xb > 0xC2AE0000u) & (xb >> 31);  /* x < -87 (or -inf) */
  uint32_t cb = xb ^ ((xb ^ 0xC2AE0000u) & (0u - under));  /* under ? -87 : x */
  float xc;
  memcpy(&xc, &cb, sizeof xc);
  int ni = (int)(xc * 1.44269504088896341f + 128.5f) - 128;  /* floor(x log2 e + 1/2) */
  float fn = (float)ni;
  float r = xc - fn * 0.693359375f + fn * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  uint32_t eb = (uint32_t)(ni + 127) << 23;
  float scale;
  memcpy(&scale, &eb, sizeof scale);
  float y = p * scale;
  uint32_t yb;
  memcpy(&yb, &y, sizeof yb);
  return yb & (under - 1u);  /* under ? 0 : y */
}

/* Replaces the k values of l by e_c = exp(l_c - m) (m their maximum, exp_bits). Returns
 * their sum (in double) and adds the number of e_c >= MIN_POSTERIOR to *relevant, in the
 * same pass: the row is read once. */
GK_VECTOR_KERNEL
static double exp_row(float *l, size_t k, float m, size_t *relevant) {
  uint32_t tb = min_posterior_bits();
  double s = 0.0;
  size_t cnt = 0;
#pragma omp simd reduction(+ : s, cnt)
  for (size_t c = 0; c < k; c++) {
    uint32_t yb = exp_bits(l[c] - m);
    float y;
    memcpy(&y, &yb, sizeof y);
    l[c] = y;
    s += (double)y;
    cnt += yb >= tb;
  }
  *relevant += cnt;
  return s;
}

/* For each of the n rows of ll (k values of log(w_k N_k(x_i)) each): replaces them by
 * e_ik = exp(ll_ik - max_k ll_ik), stores log p(x_i) = max + log sum_k e_ik in lp[i] and
 * the sum in sums[i] (posteriors are e_ik / sums[i]). Returns the number of e_ik >=
 * MIN_POSTERIOR in the block. */
GK_VECTOR_KERNEL
static size_t block_lse(float *ll, size_t n, size_t k, double *lp, double *sums) {
  size_t relevant = 0;
  for (size_t i = 0; i < n; i++) {
    float *l = ll + i * k;
    float m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (size_t c = 0; c < k; c++) m = l[c] > m ? l[c] : m;
    double s = exp_row(l, k, m, &relevant);
    sums[i] = s;
    lp[i] = (double)m + log(s);
  }
  return relevant;
}

/* ---- the kernel: model tables and per-thread workspace ------------------------------ */

typedef struct kern {
  const gk_gmm *g;
  size_t k, d;
  double *shift;  /* d: frames are taken about this point */
  float *W;       /* diag: 2d x k; full: d x (k d), the k blocks L_k^-T side by side */
  float *Wt;      /* diag, selected components only (M_SEL): k x 2d, W transposed */
  float *mu;      /* full: k x d, mu_k - shift (float) */
  float *bz;      /* full: k x d, (mu_k - shift)' L_k^-T: z = x' L^-T - bz */
  float *cst;     /* k: log w_k - (d log 2 pi + log|S_k| [+ diag: sum (mu - s)^2 / v]) / 2 */
} kern;

static void kern_free(kern *q) {
  gk_scratch_free(q->shift);
  gk_scratch_free(q->W);
  gk_scratch_free(q->Wt);
  gk_scratch_free(q->mu);
  gk_scratch_free(q->bz);
  gk_scratch_free(q->cst);
  memset(q, 0, sizeof *q);
}

static gk_status kern_init(kern *q, const gk_gmm *g, gk_error *err) {
  size_t k = g->k, d = g->d;
  memset(q, 0, sizeof *q);
  q->g = g;
  q->k = k;
  q->d = d;
  q->shift = gk_scratch_alloc(d, sizeof(double));
  q->cst = gk_scratch_alloc(k, sizeof(float));
  if (g->cov == GK_COV_DIAG) {
    q->W = gk_scratch_alloc(2 * d * k, sizeof(float));
  } else {
    q->W = gk_scratch_alloc(k * d * d, sizeof(float));
    q->mu = gk_scratch_alloc(k * d, sizeof(float));
    q->bz = gk_scratch_alloc(k * d, sizeof(float));
  }
  if (!q->shift || !q->cst || !q->W || (g->cov == GK_COV_FULL && (!q->mu || !q->bz))) {
    kern_free(q);
    return gk_fail_nomem(err);
  }
  gk_gmm_mean(g, q->shift);  /* the shift */
  if (g->cov == GK_COV_DIAG) {
    for (size_t c = 0; c < k; c++) q->cst[c] = (float)gk_gmm_diag_row(g, c, q->shift, q->W + c, k);
    return GK_OK;
  }
  double *inv = gk_scratch_alloc(d * d, sizeof(double));
  if (!inv) {
    kern_free(q);
    return gk_fail_nomem(err);
  }
  for (size_t c = 0; c < k; c++) {
    memcpy(inv, g->chol + c * d * d, d * d * sizeof(double));
    lapack_int info = LAPACKE_dtrtri(LAPACK_ROW_MAJOR, 'L', 'N', (lapack_int)d, inv, (lapack_int)d);
    if (info != 0) {
      gk_scratch_free(inv);
      kern_free(q);
      return gk_fail(err, GK_ENUMERIC, "covariance of component %zu is singular", c + 1);
    }
    /* W[a][c d + b] = (L_c^-1)[b][a]; bz_c[b] = sum_a (mu_c - s)[a] (L_c^-1)[b][a]. */
    for (size_t a = 0; a < d; a++)
      for (size_t b = 0; b < d; b++) q->W[a * k * d + c * d + b] = b >= a ? (float)inv[b * d + a] : 0.0f;
    for (size_t j = 0; j < d; j++) q->mu[c * d + j] = (float)(g->means[c * d + j] - q->shift[j]);
    for (size_t b = 0; b < d; b++) {
      double z = 0.0;
      for (size_t a = 0; a <= b; a++) z += (g->means[c * d + a] - q->shift[a]) * inv[b * d + a];
      q->bz[c * d + b] = (float)z;
    }
    double lw = g->weights[c] > 0.0 ? log(g->weights[c]) : -INFINITY;
    q->cst[c] = (float)(lw - 0.5 * ((double)d * GK_LOG_2PI + g->log_det[c]));
  }
  gk_scratch_free(inv);
  return GK_OK;
}

typedef struct ws {
  double *xd;   /* BLOCK x d: frames about the shift, double */
  float *xs;    /* BLOCK x 2d: diag [x^2, x]; full x (first d columns of each row used) */
  float *Y;     /* BLOCK x d (full) */
  float *Z;     /* BLOCK x d (full) */
  float *ll;    /* BLOCK x k */
  double *rd;   /* BLOCK x k (diag statistics) */
  double *ad;   /* BLOCK x 2d (diag statistics) */
  float *T;     /* d x d (full statistics) */
  double *lp;   /* BLOCK: log p(x_i) */
  double *sums; /* BLOCK: sums of the row exponentials */
  double *aux;  /* scratch for llr/top: 2 k + 2 d doubles */
  gk_cand *top; /* k: a row's top C, best first (top_block) */
  uint32_t *cix; /* k: relevant components of a row */
} ws;

static void ws_free(ws *w) {
  gk_scratch_free(w->xd);
  gk_scratch_free(w->xs);
  gk_scratch_free(w->Y);
  gk_scratch_free(w->Z);
  gk_scratch_free(w->ll);
  gk_scratch_free(w->rd);
  gk_scratch_free(w->ad);
  gk_scratch_free(w->T);
  gk_scratch_free(w->lp);
  gk_scratch_free(w->sums);
  gk_scratch_free(w->aux);
  gk_scratch_free(w->top);
  gk_scratch_free(w->cix);
  memset(w, 0, sizeof *w);
}

static int ws_init(ws *w, size_t k, size_t d, gk_cov_type cov, int stats) {
  memset(w, 0, sizeof *w);
  w->xd = gk_scratch_alloc(BLOCK * d, sizeof(double));
  w->xs = gk_scratch_alloc(BLOCK * 2 * d, sizeof(float));
  w->ll = gk_scratch_alloc(BLOCK * k, sizeof(float));
  w->lp = gk_scratch_alloc(BLOCK, sizeof(double));
  w->sums = gk_scratch_alloc(BLOCK, sizeof(double));
  w->aux = gk_scratch_alloc(2 * k + 2 * d + 2, sizeof(double));
  w->top = gk_scratch_alloc(k, sizeof(gk_cand));
  w->cix = gk_scratch_alloc(k, sizeof(uint32_t));
  int ok = w->xd && w->xs && w->ll && w->lp && w->sums && w->aux && w->top && w->cix;
  if (cov == GK_COV_FULL) {
    w->Y = gk_scratch_alloc(BLOCK * d, sizeof(float));
    w->Z = gk_scratch_alloc(FULL_ROWS * full_group(d, k) * d, sizeof(float));
    ok = ok && w->Y && w->Z;
    if (stats) {
      w->T = gk_scratch_alloc(d * d, sizeof(float));
      ok = ok && w->T;
    }
  } else if (stats) {
    w->rd = gk_scratch_alloc(BLOCK * k, sizeof(double));
    w->ad = gk_scratch_alloc(BLOCK * (2 * d + 1), sizeof(double));
    ok = ok && w->rd && w->ad;
  }
  if (!ok) ws_free(w);
  return ok;
}

/* The bit pattern of MIN_POSTERIOR: for the non-negative floats e_ik, e >= MIN_POSTERIOR
 * is an unsigned compare of the bits (no float compare, so the loops vectorise). */
/* Appends to idx[cnt..] the indices c0 <= c < c1 of the values e >= MIN_POSTERIOR
 * (branch-free); returns the new count. */
static size_t compact_run(const float *e, size_t c0, size_t c1, uint32_t tb, uint32_t *idx, size_t cnt) {
  for (size_t c = c0; c < c1; c++) {
    uint32_t b;
    memcpy(&b, &e[c], sizeof b);
    idx[cnt] = (uint32_t)c;
    cnt += b >= tb;
  }
  return cnt;
}

/* Indices of the k values e >= MIN_POSTERIOR into idx, their count. A UBM frame has a
 * few such values among thousands: runs of 8 are tested at once (a vector compare) and
 * only runs holding one are compacted. */
GK_VECTOR_KERNEL
static size_t compact_relevant(const float *e, size_t k, uint32_t *idx) {
  uint32_t tb = min_posterior_bits();
  size_t cnt = 0, c0 = 0;
  for (; c0 + 8 <= k; c0 += 8) {
    uint32_t any = 0;
#pragma omp simd reduction(| : any)
    for (size_t c = c0; c < c0 + 8; c++) {
      uint32_t b;
      memcpy(&b, &e[c], sizeof b);
      any |= b >= tb;
    }
    if (any) cnt = compact_run(e, c0, c0 + 8, tb, idx, cnt);
  }
  return compact_run(e, c0, k, tb, idx, cnt);
}

/* rd = e * inv where e >= MIN_POSTERIOR, else 0 (one row of posteriors, double). */
GK_VECTOR_KERNEL
static void relevant_posteriors(const float *e, size_t k, double inv, double *rd) {
  uint32_t tb = min_posterior_bits();
#pragma omp simd
  for (size_t c = 0; c < k; c++) {
    uint32_t b;
    memcpy(&b, &e[c], sizeof b);
    double v = (double)e[c] * inv;
    rd[c] = b >= tb ? v : 0.0;
  }
}

/* y += r x (n doubles). */
GK_VECTOR_KERNEL
static void sparse_axpy(double r, const double *x, double *y, size_t n) {
#pragma omp simd
  for (size_t j = 0; j < n; j++) y[j] += r * x[j];
}

/* ll[i * ldl + c] = cst[c] - |Z_ic - bz_c|^2 / 2 for the nr x gc products Z (row i holds
 * gc blocks of d values). */
GK_VECTOR_KERNEL
static void group_maha(const float *Z, size_t nr, size_t gc, size_t d, const float *bz, const float *cst,
                       float *ll, size_t ldl) {
  for (size_t i = 0; i < nr; i++)
    for (size_t c = 0; c < gc; c++) {
      const float *z = Z + (i * gc + c) * d, *b = bz + c * d;
      float s = 0.0f;
#pragma omp simd reduction(+ : s)
      for (size_t j = 0; j < d; j++) {
        float t = z[j] - b[j];
        s += t * t;
      }
      ll[i * ldl + c] = cst[c] - 0.5f * s;
    }
}

/* For component c of a block: the rows with a posterior r_i >= min_r (column c of ll,
 * stride k) as sqrt(r_i) (x_i - mu_c) into Y (returned count), with sum r_i (x_i - mu_c)
 * added to f and sum r_i to *n0. */
GK_VECTOR_KERNEL
static size_t gather_centered(const float *xs, const float *r, size_t n, size_t k, size_t d, const float *mu,
                              float min_r, float *Y, double *f, double *n0) {
  size_t rows = 0;
  double nn = 0.0;
  for (size_t i = 0; i < n; i++) {
    float ri = r[i * k];
    if (!(ri >= min_r)) continue;
    float sr = sqrtf(ri);
    const float *x = xs + i * d;
    float *y = Y + rows * d;
#pragma omp simd
    for (size_t j = 0; j < d; j++) {
      float t = x[j] - mu[j];
      f[j] += (double)(ri * t);
      y[j] = sr * t;
    }
    nn += (double)ri;
    rows++;
  }
  *n0 += nn;
  return rows;
}

/* Fills w->ll (n x k) with log(w_k N(x_i | mu_k, S_k)) for the frames in w->xd. */
static void block_loglik(const kern *q, ws *w, size_t n) {
  size_t k = q->k, d = q->d;
  if (q->g->cov == GK_COV_DIAG) {
    for (size_t i = 0; i < n; i++) {
      const double *x = w->xd + i * d;
      float *a = w->xs + i * 2 * d;
      for (size_t j = 0; j < d; j++) {
        float v = (float)x[j];
        a[j] = v * v;
        a[d + j] = v;
      }
    }
    /* The constants go in first and the GEMM adds to them (beta = 1): one pass over the
     * block's n x k values fewer than zeroing (beta = 0) and adding them after. */
    for (size_t i = 0; i < n; i++) memcpy(w->ll + i * k, q->cst, k * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)k, (int)(2 * d), 1.0f,
                w->xs, (int)(2 * d), q->W, (int)k, 1.0f, w->ll, (int)k);
    return;
  }
  /* Full: z = L_c^-1 (x - mu_c) = L_c^-1 x - L_c^-1 mu_c for a group of components at
   * once, as one GEMM of the frames (about the shift) by the factors side by side. The
   * subtraction is linear, so it costs a few ulps of |L^-1 (x - s)|, not the squared
   * cancellation of an expanded quadratic form. Rows in pieces of FULL_ROWS so that the
   * product stays in cache. */
  for (size_t i = 0; i < n * d; i++) w->xs[i] = (float)w->xd[i];
  size_t G = full_group(d, k);
  for (size_t r0 = 0; r0 < n; r0 += FULL_ROWS) {
    size_t nr = n - r0 < FULL_ROWS ? n - r0 : FULL_ROWS;
    for (size_t c0 = 0; c0 < k; c0 += G) {
      size_t gc = k - c0 < G ? k - c0 : G;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nr, (int)(gc * d), (int)d, 1.0f,
                  w->xs + r0 * d, (int)d, q->W + c0 * d, (int)(k * d), 0.0f, w->Z, (int)(gc * d));
      group_maha(w->Z, nr, gc, d, q->bz + c0 * d, q->cst + c0, w->ll + r0 * k + c0, k);
    }
  }
}

/* ---- the driver: blocks, chunks, waves ------------------------------------------------ */

typedef enum mode {
  M_SCORE,  /* log p(x_i) */
  M_POST,   /* all posteriors */
  M_TOP,    /* the top-C posteriors */
  M_ACC,    /* statistics */
  M_LLR,    /* log-likelihood ratios */
  M_SEL     /* statistics over each frame's selected components only */
} mode;

/* Whether the mode adds statistics into chunk accumulators. */
static int stats_mode(mode m) { return m == M_ACC || m == M_SEL; }

/* A chunk accumulator (M_ACC). diag: fs = (2d + 1) x k ([first; second; zero], dense
 * blocks) and sp = k x (2d + 1) (the same, component-major, sparse blocks); full: f = k x d,
 * S = k x d x d (lower triangle). */
typedef struct acc {
  double *zero, *fs, *sp, *f, *S;
  double loglik;
} acc;

typedef struct job {
  mode md;
  const gk_gmm_data *x;
  const kern *q;
  const gk_gmm *model;   /* M_LLR: the adapted model */
  const kern *qm;        /* M_LLR without top: the model's kernel */
  size_t top;            /* M_TOP, M_SEL: C; M_LLR: top (0: all) */
  double *frame_ll;      /* M_SCORE (may be NULL) */
  double *post;          /* M_POST */
  size_t *idx;           /* M_TOP */
  const size_t *sel;     /* M_SEL: N x top selected components (SIZE_MAX ends a list) */
  double *val;           /* M_TOP */
  double *blk_sum;       /* per block: sum of log p (M_SCORE, M_LLR) */
} job;

/* The log-likelihood ratio of frame i (row of w->xd) over the top C components in w->top:
 * log sum_t w N under jb->model minus the same under g, in double. */
static double top_llr(const job *jb, ws *w, size_t i, size_t C) {
  const kern *q = jb->q;
  size_t k = q->k, d = q->d;
  double *xr = w->aux, *tmp = w->aux + d;
  for (size_t j = 0; j < d; j++) xr[j] = w->xd[i * d + j] + q->shift[j];
  double mu = -INFINITY, mm = -INFINITY;
  double lu[64], lm[64];
  double *pu = C <= 64 ? lu : w->aux + 2 * d + 2, *pm = C <= 64 ? lm : w->aux + 2 * d + 2 + k;
  for (size_t t = 0; t < C; t++) {
    pu[t] = gk_gmm_component_logpdf(q->g, w->top[t].i, xr, tmp);
    pm[t] = gk_gmm_component_logpdf(jb->model, w->top[t].i, xr, tmp);
    if (pu[t] > mu) mu = pu[t];
    if (pm[t] > mm) mm = pm[t];
  }
  double su = 0.0, sm = 0.0;
  for (size_t t = 0; t < C; t++) {
    su += exp(pu[t] - mu);
    sm += exp(pm[t] - mm);
  }
  return (mm + log(sm)) - (mu + log(su));
}

/* M_TOP and M_LLR with top: the top-C components of each frame under g, taken before the
 * log-sum-exp overwrites ll. Returns the block's sum of log p (M_TOP) or of the
 * log-likelihood ratios (M_LLR). The log-sum-exp over all K components is made only for
 * the posteriors val; without them the sum is of each frame's largest log w_k N_k, which
 * is finite exactly when log p is, so the check after the pass is the same. */
static double top_block(const job *jb, const block *b, ws *w) {
  size_t k = jb->q->k, n = b->count, C = jb->top;
  double blk = 0.0;
  for (size_t i = 0; i < n; i++) {
    float *l = w->ll + i * k;
    size_t have;
    gk_rank_row(l, k, NULL, C, w->top, &have);  /* have = C: C <= k */
    if (jb->md != M_TOP) {
      blk += top_llr(jb, w, i, C);
      continue;
    }
    size_t f = b->offset + i;
    for (size_t t = 0; t < C; t++) jb->idx[f * C + t] = w->top[t].i;
    if (!jb->val) {
      blk += w->top[0].v;
      continue;
    }
    double sum, lp;
    block_lse(l, 1, k, &lp, &sum);
    for (size_t t = 0; t < C; t++) jb->val[f * C + t] = (double)l[w->top[t].i] / sum;
    blk += lp;  /* the frame's log-likelihood, checked as gk_gmm_score checks it */
  }
  return blk;
}

/* Diagonal statistics of the block: sums r_ik [x, x^2, 1] in double (exact products of
 * the float32 frames about the shift; only the posteriors carry float32 error).
 * Posteriors under MIN_POSTERIOR contribute nothing, and in well-separated mixtures (UBMs
 * on speech) most are: then the others are added one by one into a component-major
 * accumulator; otherwise one GEMM adds all into a dimension-major one. The choice depends
 * on the data only (`relevant`, counted by block_lse), never on the threads. w->sums
 * holds 1 / sum_c of each frame. */
static void acc_diag(const kern *q, ws *w, acc *a, size_t n, size_t relevant) {
  size_t k = q->k, d = q->d, m2 = 2 * d + 1;
  for (size_t i = 0; i < n; i++) {
    const double *x = w->xd + i * d;
    double *ad = w->ad + i * m2;
    for (size_t j = 0; j < d; j++) {
      ad[j] = x[j];
      ad[d + j] = x[j] * x[j];
    }
    ad[2 * d] = 1.0;
  }
  if (relevant * 4 < n * k) {
    for (size_t i = 0; i < n; i++) {
      const float *l = w->ll + i * k;
      const double *ad = w->ad + i * m2;
      double inv = w->sums[i];
      size_t cnt = compact_relevant(l, k, w->cix);
      for (size_t t = 0; t < cnt; t++) {
        uint32_t c = w->cix[t];
        sparse_axpy((double)l[c] * inv, ad, a->sp + c * m2, m2);
      }
    }
    return;
  }
  for (size_t i = 0; i < n; i++) relevant_posteriors(w->ll + i * k, k, w->sums[i], w->rd + i * k);
  /* The small operand is the transposed one, so packing costs little. */
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)m2, (int)k, (int)n, 1.0,
              w->ad, (int)m2, w->rd, (int)k, 1.0, a->fs, (int)k);
}

/* Full statistics of the block: moments about mu_k (the shift of these statistics), only
 * over frames with a non-zero posterior (an exact skip: exp underflowed to 0). */
static void acc_full(const kern *q, ws *w, acc *a, size_t n) {
  size_t k = q->k, d = q->d;
  for (size_t i = 0; i < n * d; i++) w->xs[i] = (float)w->xd[i];
  for (size_t c = 0; c < k; c++) {
    double n0 = 0.0;
    size_t rows = gather_centered(w->xs, w->ll + c, n, k, d, q->mu + c * d, FLT_MIN, w->Y,
                                  a->f + c * d, &n0);
    if (rows == 0) continue;
    a->zero[c] += n0;
    cblas_ssyrk(CblasRowMajor, CblasLower, CblasTrans, (int)d, (int)rows, 1.0f, w->Y, (int)d, 0.0f,
                w->T, (int)d);
    double *S = a->S + c * d * d;
    for (size_t p = 0; p < d; p++)
      for (size_t t = 0; t <= p; t++) S[p * d + t] += (double)w->T[p * d + t];
  }
}

/* Log-densities log(w_c N(x | mu_c, S_c)) of the c components ix[] at frame x (about
 * the shift, double) into l: diag, a dot product of [x^2, x] with each component's row of
 * Wt; full, z = x' L^-T - bz by one GEMV with the component's block of W. */
GK_VECTOR_KERNEL
static void sel_loglik(const kern *q, const double *x, const size_t *ix, size_t c, ws *w, float *l) {
  size_t d = q->d, k = q->k;
  float *xs = w->xs, *z = w->Z;
  if (q->g->cov == GK_COV_DIAG) {
    for (size_t j = 0; j < d; j++) {
      float v = (float)x[j];
      xs[j] = v * v;
      xs[d + j] = v;
    }
    for (size_t t = 0; t < c; t++) {
      const float *r = q->Wt + ix[t] * 2 * d;
      float s = 0.0f;
#pragma omp simd reduction(+ : s)
      for (size_t j = 0; j < 2 * d; j++) s += xs[j] * r[j];
      l[t] = q->cst[ix[t]] + s;
    }
    return;
  }
  for (size_t j = 0; j < d; j++) xs[j] = (float)x[j];
  for (size_t t = 0; t < c; t++) {
    cblas_sgemv(CblasRowMajor, CblasTrans, (int)d, (int)d, 1.0f, q->W + ix[t] * d, (int)(k * d), xs, 1, 0.0f, z, 1);
    group_maha(z, 1, 1, d, q->bz + ix[t] * d, q->cst + ix[t], l + t, 1);
  }
}

/* Adds a frame's statistics for component c with responsibility r: full covariances,
 * moments about the component's shift (mu_c as acc_full takes it), in double. */
static void sel_full_stats(const kern *q, const double *x, size_t c, double r, acc *a, double *y) {
  size_t d = q->d;
  for (size_t j = 0; j < d; j++) {
    y[j] = x[j] - (double)q->mu[c * d + j];
    a->f[c * d + j] += r * y[j];
  }
  double *S = a->S + c * d * d;
  for (size_t p = 0; p < d; p++)
    for (size_t t = 0; t <= p; t++) S[p * d + t] += r * y[p] * y[t];
  a->zero[c] += r;
}

/* M_SEL: each frame scored under its selected components only (jb->sel, C a frame), its
 * responsibilities spread over them, and the statistics of those at or above
 * MIN_POSTERIOR added (diag: into the component-major accumulator, as acc_diag's sparse
 * path). Returns the block's sum of log sum_t w N over the selected components. */
static double sel_block(const job *jb, const block *b, ws *w, acc *a) {
  const kern *q = jb->q;
  size_t d = q->d, C = jb->top, m2 = 2 * d + 1;
  int diag = q->g->cov == GK_COV_DIAG;
  double blk = 0.0, *ad = diag ? w->ad : w->aux;  /* diag [x, x^2, 1]; full scratch */
  float *l = w->ll;
  for (size_t i = 0; i < b->count; i++) {
    const size_t *ix = jb->sel + (b->offset + i) * C;
    const double *x = w->xd + i * d;
    size_t c = C, relevant = 0;
    while (c > 1 && ix[c - 1] == SIZE_MAX) c--;
    sel_loglik(q, x, ix, c, w, l);
    float m = l[0];
    for (size_t t = 1; t < c; t++) m = l[t] > m ? l[t] : m;
    double sum = exp_row(l, c, m, &relevant), inv = 1.0 / sum;
    blk += (double)m + log(sum);
    if (diag) {
      for (size_t j = 0; j < d; j++) {
        ad[j] = x[j];
        ad[d + j] = x[j] * x[j];
      }
      ad[2 * d] = 1.0;
    }
    for (size_t t = 0; t < c; t++) {
      if (!(l[t] >= MIN_POSTERIOR)) continue;
      if (diag) sparse_axpy((double)l[t] * inv, ad, a->sp + ix[t] * m2, m2);
      else sel_full_stats(q, x, ix[t], (double)l[t] * inv, a, ad);
    }
  }
  return blk;
}

/* One block of the job: the component log-likelihoods, then what the mode asks of them.
 * Returns the block's sum of log p(x_i) (M_LLR with top: of the log-likelihood ratios). */
static double process_block(const job *jb, const block *b, ws *w, acc *a) {
  const kern *q = jb->q;
  size_t k = q->k, n = b->count;
  load_block(jb->x, b, q->shift, q->d, w->xd);
  if (jb->md == M_SEL) return sel_block(jb, b, w, a);
  block_loglik(q, w, n);
  if (jb->md == M_TOP || (jb->md == M_LLR && jb->top > 0)) return top_block(jb, b, w);

  double blk = 0.0;
  int diag = q->g->cov == GK_COV_DIAG;
  size_t relevant = block_lse(w->ll, n, k, w->lp, w->sums);
  for (size_t i = 0; i < n; i++) {
    float *l = w->ll + i * k;
    double sum = w->sums[i], lp = w->lp[i];
    blk += lp;
    if (jb->md == M_SCORE && jb->frame_ll) jb->frame_ll[b->offset + i] = lp;
    if (jb->md == M_POST) {
      double inv = 1.0 / sum, *o = jb->post + (b->offset + i) * k;
      for (size_t c = 0; c < k; c++) o[c] = (double)l[c] * inv;
    }
    if (jb->md == M_ACC && diag) {
      w->sums[i] = 1.0 / sum;  /* kept for the statistics below */
    } else if (jb->md == M_ACC) {
      float inv = (float)(1.0 / sum);
      for (size_t c = 0; c < k; c++) l[c] = l[c] >= MIN_POSTERIOR ? l[c] * inv : 0.0f;
    }
  }
  if (jb->md != M_ACC) return blk;
  if (diag) acc_diag(q, w, a, n, relevant);
  else acc_full(q, w, a, n);
  return blk;
}

/* Number of doubles of one accumulator (M_ACC): diag [first; second; zero] by dimension
 * ((2d + 1) x k) and by component (k x (2d + 1)), or full zero (k), first (k x d) and
 * second (k x d x d). */
static size_t acc_doubles(size_t k, size_t d, gk_cov_type cov) {
  return cov == GK_COV_DIAG ? 2 * k * (1 + 2 * d) : k * (1 + d + d * d);
}

static acc acc_view(double *p, size_t k, size_t d, gk_cov_type cov) {
  acc a;
  memset(&a, 0, sizeof a);
  if (cov == GK_COV_DIAG) {
    a.fs = p;
    a.zero = p + 2 * d * k;  /* the last row of [first; second; zero] */
    a.sp = p + (2 * d + 1) * k;
  } else {
    a.zero = p;
    a.f = p + k;
    a.S = p + k + k * d;
  }
  return a;
}

/* Chunks run at once: all of them (up to MAX_SLOTS) unless their accumulators of
 * slot_doubles values each (M_ACC; 0 otherwise) would exceed SLOT_BUDGET bytes. */
static size_t slot_count(size_t slot_doubles, size_t nchunks) {
  size_t slots = MAX_SLOTS;
  if (slot_doubles) {
    slots = SLOT_BUDGET / (slot_doubles * sizeof(double));
    if (slots > MAX_SLOTS) slots = MAX_SLOTS;
    if (slots < 1) slots = 1;
  }
  if (slots > nchunks) slots = nchunks ? nchunks : 1;
  return slots;
}

/* Blocks per chunk. Statistics zero and add one accumulator per chunk (about 4 K D
 * doubles, diag): with chunks of CHUNK blocks at K = 2048 that was a quarter of an EM
 * iteration (memset, first-touch page faults, the ordered sums). The chunk grows with K
 * so that this stays a few percent of the chunk's E-step (which also grows with K);
 * it depends on K alone, never on the threads. */
static size_t chunk_blocks(const job *jb) {
  if (!stats_mode(jb->md)) return CHUNK;
  /* A frame costs C components, not K: the accumulator would cost more than the frames. */
  if (jb->md == M_SEL) return SEL_CHUNK;
  size_t c = CHUNK * (jb->q->k / 256);
  return c < CHUNK ? CHUNK : c > CHUNK_MAX ? CHUNK_MAX : c;
}

/* The chunks of chunk_blocks blocks, `slots` at a time over nt threads (workspaces wss): each
 * block's sum into blk_sum, and with slot_mem (M_ACC) each chunk's statistics in its own
 * slot, added into `total` in chunk order, so that the result does not depend on the
 * threads. 1 when interrupted (total then holds the finished rounds only). */
static int run_chunks(const job *jb, const block *blocks, size_t nb, size_t slots, size_t slot_doubles,
                      double *slot_mem, ws *wss, int nt, double *blk_sum, double *total) {
  size_t k = jb->q->k, d = jb->q->d, cb = chunk_blocks(jb), nchunks = (nb + cb - 1) / cb;
  gk_cov_type cov = jb->q->g->cov;
  int stop = 0;
  for (size_t c0 = 0; c0 < nchunks && !stop; c0 += slots) {
    size_t nc = nchunks - c0 < slots ? nchunks - c0 : slots;
    if (slot_mem) memset(slot_mem, 0, nc * slot_doubles * sizeof(double));
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (size_t j = 0; j < nc; j++) {
      ws *w = &wss[omp_get_thread_num()];
      acc a;
      memset(&a, 0, sizeof a);
      if (slot_mem) a = acc_view(slot_mem + j * slot_doubles, k, d, cov);
      size_t b0 = (c0 + j) * cb, b1 = b0 + cb < nb ? b0 + cb : nb;
      for (size_t bi = b0; bi < b1; bi++) {
        int halt;
#pragma omp atomic read
        halt = stop;
        if (halt) break;
        if (gk_interrupted()) {
#pragma omp atomic write
          stop = 1;
          break;
        }
        blk_sum[bi] = process_block(jb, &blocks[bi], w, &a);
      }
    }
    if (stop) break;
    if (slot_mem)
      for (size_t j = 0; j < nc; j++) {
        const double *p = slot_mem + j * slot_doubles;
        for (size_t i = 0; i < slot_doubles; i++) total[i] += p[i];
      }
  }
  return stop;
}

/* Runs the job over all blocks of x. M_ACC adds into `total` (acc_doubles values, in the
 * layout of acc_view). `*sum` (may be NULL) receives the sum over frames of log p(x_i)
 * (M_LLR with top: of the log-likelihood ratios), added block by block in order. */
static gk_status run_job(job *jb, double *total, double *sum, gk_error *err) {
  const kern *q = jb->q;
  size_t k = q->k, d = q->d;
  gk_cov_type cov = q->g->cov;
  block *blocks = NULL;
  size_t nb = 0;
  gk_status st = make_blocks(jb->x, &blocks, &nb, err);
  if (st != GK_OK) return st;
  size_t cb = chunk_blocks(jb), nchunks = (nb + cb - 1) / cb;

  size_t slot_doubles = stats_mode(jb->md) ? acc_doubles(k, d, cov) : 0;
  size_t slots = slot_count(slot_doubles, nchunks);
  int nt = gk_threads();
  if ((size_t)nt > slots) nt = (int)slots;
  if (nt < 1) nt = 1;

  double *blk_sum = gk_scratch_alloc(nb ? nb : 1, sizeof(double));
  double *slot_mem = stats_mode(jb->md) ? gk_scratch_alloc(slots * slot_doubles, sizeof(double)) : NULL;
  ws *wss = gk_scratch_alloc((size_t)nt, sizeof(ws));
  int ok = blk_sum && wss && (!stats_mode(jb->md) || slot_mem);
  int made = 0;
  for (; ok && made < nt; made++)
    if (!ws_init(&wss[made], k, d, cov, stats_mode(jb->md))) ok = 0;
  if (!ok) {
    for (int t = 0; t < made - 1; t++) ws_free(&wss[t]);
    gk_scratch_free(blocks);
    gk_scratch_free(blk_sum);
    gk_scratch_free(slot_mem);
    gk_scratch_free(wss);
    return gk_fail_nomem(err);
  }

  int blas_prev = gk_blas_serial_begin();
  int stop = run_chunks(jb, blocks, nb, slots, slot_doubles, slot_mem, wss, nt, blk_sum, total);
  gk_blas_serial_end(blas_prev);
  for (int t = 0; t < nt; t++) ws_free(&wss[t]);
  gk_scratch_free(wss);
  gk_scratch_free(slot_mem);
  gk_scratch_free(blocks);
  if (stop) {
    gk_scratch_free(blk_sum);
    return gk_fail(err, GK_EINTR, "interrupted");
  }
  double s = 0.0;
  for (size_t i = 0; i < nb; i++) s += blk_sum[i];
  if (sum) *sum = s;
  gk_scratch_free(blk_sum);
  return GK_OK;
}

/* Checks shapes (and, with `scan`, every value) of the data, and prepares the kernel.
 * Paths that produce a sum of log-likelihoods skip the value scan (a pass over all the
 * data every EM iteration) and call after_sum instead: a NaN or Inf frame makes the sum
 * non-finite, and only then is the data scanned for the message naming the row. */
static gk_status begin(const gk_gmm *g, const gk_gmm_data *x, int scan, kern *q, gk_error *err) {
  gk_status st;
  if (scan) {
    st = gk_gmm_data_check(x, g->d, err);
  } else {
    st = GK_OK;
    if (!x || x->nparts == 0) st = gk_fail(err, GK_EINVAL, "no data: an empty list of matrices");
    for (size_t p = 0; st == GK_OK && p < x->nparts; p++) {
      const gk_matrix *m = &x->parts[p];
      if (m->rows > 0 && m->cols != g->d) {
        char where[48] = "";
        if (x->nparts > 1) snprintf(where, sizeof where, "matrix %zu: ", p + 1);
        st = gk_fail(err, GK_EINVAL, "%sdimension mismatch: %zu x %zu data for a %zu-dimensional model",
                     where, m->rows, m->cols, g->d);
      }
    }
    if (st == GK_OK && gk_gmm_data_frames(x) == 0) st = gk_fail(err, GK_EINVAL, "no data: 0 frames");
  }
  if (st != GK_OK) return st;
  return kern_init(q, g, err);
}

static gk_status after_sum(const gk_gmm *g, const gk_gmm_data *x, double sum, gk_error *err) {
  if (isfinite(sum)) return GK_OK;
  gk_status st = gk_gmm_data_check(x, g->d, err);
  if (st != GK_OK) return st;
  return gk_fail(err, GK_ENUMERIC, "the log-likelihood is not finite (%g): the model cannot score these frames", sum);
}

/* ---- scoring ----------------------------------------------------------------------- */

/* Runs *jb (its mode and outputs set) over x under g: checks and prepares the kernel
 * (`scan`: see begin), runs, and with `check` checks the sum of log-likelihoods *sum as
 * after_sum does. */
static gk_status run_scoring(const gk_gmm *g, const gk_gmm_data *x, int scan, int check, job *jb, double *sum,
                             gk_error *err) {
  kern q;
  gk_status st = begin(g, x, scan, &q, err);
  if (st != GK_OK) return st;
  jb->x = x;
  jb->q = &q;
  *sum = 0.0;
  st = run_job(jb, NULL, sum, err);
  kern_free(&q);
  if (st == GK_OK && check) st = after_sum(g, x, *sum, err);
  return st;
}

gk_status gk_gmm_score(const gk_gmm *g, const gk_gmm_data *x, double *frame_ll, double *total,
                       gk_error *err) {
  job jb;
  memset(&jb, 0, sizeof jb);
  jb.md = M_SCORE;
  jb.frame_ll = frame_ll;
  double sum;
  gk_status st = run_scoring(g, x, 0, 1, &jb, &sum, err);
  if (st == GK_OK && total) *total = sum;
  return st;
}

gk_status gk_gmm_posteriors(const gk_gmm *g, const gk_gmm_data *x, double *post, gk_error *err) {
  job jb;
  memset(&jb, 0, sizeof jb);
  jb.md = M_POST;
  jb.post = post;
  double sum;
  return run_scoring(g, x, 1, 1, &jb, &sum, err);
}

/* The top c components of each frame (and with val their posteriors); `scan`: see begin. */
static gk_status top_components(const gk_gmm *g, const gk_gmm_data *x, size_t c, size_t *idx, double *val,
                                int scan, gk_error *err) {
  if (c < 1 || c > g->k)
    return gk_fail(err, GK_EINVAL, "top = %zu must be between 1 and the number of components (%zu)", c, g->k);
  job jb;
  memset(&jb, 0, sizeof jb);
  jb.md = M_TOP;
  jb.top = c;
  jb.idx = idx;
  jb.val = val;
  double sum;
  return run_scoring(g, x, scan, 1, &jb, &sum, err);
}

gk_status gk_gmm_top_posteriors(const gk_gmm *g, const gk_gmm_data *x, size_t c, size_t *idx,
                                double *val, gk_error *err) {
  return top_components(g, x, c, idx, val, 1, err);
}

gk_status gk_gmm_top_checked(const gk_gmm *g, const gk_gmm_data *x, size_t c, size_t *idx, double *val,
                             gk_error *err) {
  return top_components(g, x, c, idx, val, 0, err);
}

gk_status gk_gmm_llr(const gk_gmm *model, const gk_gmm *ubm, const gk_gmm_data *x, size_t top,
                     double *mean_llr, gk_error *err) {
  if (model->d != ubm->d)
    return gk_fail(err, GK_EINVAL, "dimension mismatch: model of dimension %zu, UBM of dimension %zu",
                   model->d, ubm->d);
  if (top > 0 && (model->k != ubm->k || model->cov != ubm->cov))
    return gk_fail(err, GK_EINVAL, "top-C scoring needs a model with the UBM's components "
                   "(model %zu %s, UBM %zu %s)", model->k, gk_cov_type_name(model->cov), ubm->k,
                   gk_cov_type_name(ubm->cov));
  if (top > ubm->k)
    return gk_fail(err, GK_EINVAL, "top = %zu exceeds the number of components (%zu)", top, ubm->k);
  size_t n = gk_gmm_data_frames(x);
  if (top == 0) {
    double a = 0.0, b = 0.0;
    gk_status st = gk_gmm_score(model, x, NULL, &a, err);
    if (st == GK_OK) st = gk_gmm_score(ubm, x, NULL, &b, err);
    if (st != GK_OK) return st;
    *mean_llr = (a - b) / (double)n;
    return GK_OK;
  }
  job jb;
  memset(&jb, 0, sizeof jb);
  jb.md = M_LLR;
  jb.model = model;
  jb.top = top;
  double s;
  gk_status st = run_scoring(ubm, x, 1, 0, &jb, &s, err);
  if (st == GK_OK) *mean_llr = s / (double)n;
  return st;
}

/* ---- statistics ------------------------------------------------------------------------- */

static const gk_allocator *stats_allocator(const gk_gmm_stats *s) {
  return s->alloc.fn ? &s->alloc : NULL;
}

void gk_gmm_stats_free(gk_gmm_stats *s) {
  if (!s) return;
  gk_allocator a = s->alloc;
  const gk_allocator *ap = a.fn ? &a : NULL;
  size_t cs = gk_gmm_cov_size(s->cov, s->d);
  gk_free(ap, s->zero, s->k * sizeof(double));
  gk_free(ap, s->first, s->k * s->d * sizeof(double));
  gk_free(ap, s->second, s->k * cs * sizeof(double));
  gk_free(ap, s->shift, s->k * s->d * sizeof(double));
  gk_free(ap, s, sizeof *s);
}

gk_status gk_gmm_stats_create(gk_gmm_stats **out, size_t k, size_t d, gk_cov_type cov,
                              const gk_allocator *a, gk_error *err) {
  *out = NULL;
  if (k == 0 || d == 0 || k > GK_MAX_COMPONENTS || d > GK_MAX_DIM)
    return gk_fail(err, GK_ELIMIT, "statistics of %zu components in dimension %zu are outside the limits", k, d);
  size_t cs = gk_gmm_cov_size(cov, d), n2;
  if (!gk_mul_size(k, cs, &n2) || n2 > GK_MAX_ELEMENTS)
    return gk_fail(err, GK_ELIMIT, "statistics of %zu components in dimension %zu exceed GK_MAX_ELEMENTS", k, d);
  gk_gmm_stats *s = gk_calloc(a, 1, sizeof *s);
  if (!s) return gk_fail_nomem(err);
  if (a) s->alloc = *a;
  s->k = k;
  s->d = d;
  s->cov = cov;
  s->zero = gk_calloc(a, k, sizeof(double));
  s->first = gk_calloc(a, k * d, sizeof(double));
  s->second = gk_calloc(a, n2, sizeof(double));
  s->shift = gk_calloc(a, k * d, sizeof(double));
  if (!s->zero || !s->first || !s->second || !s->shift) {
    gk_gmm_stats_free(s);
    return gk_fail_nomem(err);
  }
  *out = s;
  return GK_OK;
}

gk_status gk_gmm_stats_clone(const gk_gmm_stats *src, gk_gmm_stats **out, const gk_allocator *a,
                             gk_error *err) {
  if (!a) a = stats_allocator(src);
  gk_status st = gk_gmm_stats_create(out, src->k, src->d, src->cov, a, err);
  if (st != GK_OK) return st;
  gk_gmm_stats *s = *out;
  size_t k = src->k, d = src->d, cs = gk_gmm_cov_size(src->cov, d);
  memcpy(s->zero, src->zero, k * sizeof(double));
  memcpy(s->first, src->first, k * d * sizeof(double));
  memcpy(s->second, src->second, k * cs * sizeof(double));
  memcpy(s->shift, src->shift, k * d * sizeof(double));
  s->frames = src->frames;
  s->loglik = src->loglik;
  return GK_OK;
}

gk_status gk_gmm_stats_merge(gk_gmm_stats *dst, const gk_gmm_stats *src, gk_error *err) {
  if (dst->k != src->k || dst->d != src->d || dst->cov != src->cov)
    return gk_fail(err, GK_EINVAL, "cannot merge statistics of %zu %s components in dimension %zu "
                   "into statistics of %zu %s components in dimension %zu", src->k,
                   gk_cov_type_name(src->cov), src->d, dst->k, gk_cov_type_name(dst->cov), dst->d);
  size_t k = dst->k, d = dst->d;
  for (size_t c = 0; c < k; c++) {
    /* Moments about src's shift a, moved to dst's shift b: with delta = a - b,
     * first_b = first_a + n delta, second_b = second_a + first_a delta' + delta first_a' + n delta delta'. */
    const double *a = src->shift + c * d, *b = dst->shift + c * d;
    const double *fa = src->first + c * d;
    double n = src->zero[c];
    double *fb = dst->first + c * d;
    if (dst->cov == GK_COV_DIAG) {
      const double *sa = src->second + c * d;
      double *sb = dst->second + c * d;
      for (size_t j = 0; j < d; j++) {
        double del = a[j] - b[j];
        sb[j] += sa[j] + 2.0 * del * fa[j] + n * del * del;
        fb[j] += fa[j] + n * del;
      }
    } else {
      const double *sa = src->second + c * d * d;
      double *sb = dst->second + c * d * d;
      for (size_t p = 0; p < d; p++) {
        double dp = a[p] - b[p];
        for (size_t t = 0; t < d; t++) {
          double dt = a[t] - b[t];
          sb[p * d + t] += sa[p * d + t] + fa[p] * dt + dp * fa[t] + n * dp * dt;
        }
      }
      for (size_t j = 0; j < d; j++) fb[j] += fa[j] + n * (a[j] - b[j]);
    }
    dst->zero[c] += n;
  }
  dst->frames += src->frames;
  dst->loglik += src->loglik;
  return GK_OK;
}

/* GK_OK when *stats (may be NULL) are statistics of g's shape. */
static gk_status stats_fit(const gk_gmm *g, const gk_gmm_stats *st, gk_error *err) {
  if (!st || (st->k == g->k && st->d == g->d && st->cov == g->cov)) return GK_OK;
  return gk_fail(err, GK_EINVAL, "statistics of %zu %s components in dimension %zu do not fit a "
                 "model of %zu %s components in dimension %zu", st->k, gk_cov_type_name(st->cov), st->d, g->k,
                 gk_cov_type_name(g->cov), g->d);
}

/* GK_OK when idx (frames x c) holds for every frame a list of component indices < K,
 * perhaps ended early by SIZE_MAX, with at least one. */
static gk_status check_selection(const gk_gmm *g, const gk_gmm_data *x, const size_t *idx, size_t c, gk_error *err) {
  if (c < 1 || c > g->k) return gk_fail(err, GK_EINVAL, "%zu components a frame: expected 1 to %zu", c, g->k);
  size_t n = gk_gmm_data_frames(x);
  for (size_t f = 0; f < n; f++) {
    const size_t *ix = idx + f * c;
    int ended = 0;
    for (size_t t = 0; t < c; t++) {
      if (ix[t] == SIZE_MAX && t > 0) ended = 1;
      else if (ended || ix[t] >= g->k)
        return gk_fail(err, GK_EINVAL, "frame %zu, selected component %zu: %s (expected 0 to %zu, or SIZE_MAX "
                       "ending the list after the first)", f + 1, t + 1, ended ? "follows the end" : "out of range",
                       g->k - 1);
    }
  }
  return GK_OK;
}

/* The diagonal kernel's table by component (Wt, k x 2d), for scoring single components. */
static gk_status kern_rows(kern *q, gk_error *err) {
  size_t k = q->k, d2 = 2 * q->d;
  q->Wt = gk_scratch_alloc(k * d2, sizeof(float));
  if (!q->Wt) return gk_fail_nomem(err);
  for (size_t j = 0; j < d2; j++)
    for (size_t c = 0; c < k; c++) q->Wt[c * d2 + j] = q->W[j * k + c];
  return GK_OK;
}

/* Runs the statistics job *jb (mode M_ACC or M_SEL, its own fields set) over x under g
 * and adds the result to *stats (created from `a` when NULL). */
static gk_status accumulate_job(const gk_gmm *g, const gk_gmm_data *x, job *jbp, gk_gmm_stats **stats,
                                const gk_allocator *a, gk_error *err) {
  kern q;
  gk_status st = begin(g, x, 0, &q, err);
  if (st != GK_OK) return st;
  size_t k = g->k, d = g->d, nd = acc_doubles(k, d, g->cov);
  double *total = gk_scratch_alloc(nd, sizeof(double));
  gk_gmm_stats *s = NULL;
  if (!total) {
    kern_free(&q);
    return gk_fail_nomem(err);
  }
  memset(total, 0, nd * sizeof(double));
  st = gk_gmm_stats_create(&s, k, d, g->cov, *stats ? stats_allocator(*stats) : a, err);
  if (st == GK_OK) {
    job jb = *jbp;
    jb.x = x;
    jb.q = &q;
    if (jb.md == M_SEL && g->cov == GK_COV_DIAG) st = kern_rows(&q, err);
    if (st == GK_OK) st = run_job(&jb, total, &s->loglik, err);
    if (st == GK_OK) st = after_sum(g, x, s->loglik, err);
  }
  if (st == GK_OK) {
    acc t = acc_view(total, k, d, g->cov);
    s->frames = (double)gk_gmm_data_frames(x);
    for (size_t c = 0; c < k; c++) {
      double *sh = s->shift + c * d;
      if (g->cov == GK_COV_DIAG) {
        const double *sp = t.sp + c * (2 * d + 1);
        memcpy(sh, q.shift, d * sizeof(double));
        for (size_t j = 0; j < d; j++) {
          s->first[c * d + j] = t.fs[j * k + c] + sp[j];
          s->second[c * d + j] = t.fs[(d + j) * k + c] + sp[d + j];
        }
        s->zero[c] = t.zero[c] + sp[2 * d];
      } else {
        s->zero[c] = t.zero[c];
        /* The frames were taken about shift + (float)(mu_k - shift): that is this
         * component's shift, exactly. */
        for (size_t j = 0; j < d; j++) sh[j] = q.shift[j] + (double)q.mu[c * d + j];
        memcpy(s->first + c * d, t.f + c * d, d * sizeof(double));
        double *S2 = s->second + c * d * d;
        const double *T2 = t.S + c * d * d;
        for (size_t p = 0; p < d; p++)
          for (size_t r = 0; r <= p; r++) S2[p * d + r] = S2[r * d + p] = T2[p * d + r];
      }
    }
    if (*stats) {
      st = gk_gmm_stats_merge(*stats, s, err);
      gk_gmm_stats_free(s);
    } else {
      *stats = s;
    }
  } else {
    gk_gmm_stats_free(s);
  }
  gk_scratch_free(total);
  kern_free(&q);
  return st;
}

gk_status gk_gmm_accumulate(const gk_gmm *g, const gk_gmm_data *x, gk_gmm_stats **stats,
                            const gk_allocator *a, gk_error *err) {
  gk_status st = stats_fit(g, *stats, err);
  if (st != GK_OK) return st;
  job jb;
  memset(&jb, 0, sizeof jb);
  jb.md = M_ACC;
  return accumulate_job(g, x, &jb, stats, a, err);
}

gk_status gk_gmm_accumulate_selected(const gk_gmm *g, const gk_gmm_data *x, const size_t *idx, size_t c,
                                     gk_gmm_stats **stats, const gk_allocator *a, gk_error *err) {
  gk_status st = stats_fit(g, *stats, err);
  if (st == GK_OK) st = check_selection(g, x, idx, c, err);
  if (st != GK_OK) return st;
  job jb;
  memset(&jb, 0, sizeof jb);
  jb.md = M_SEL;
  jb.sel = idx;
  jb.top = c;
  return accumulate_job(g, x, &jb, stats, a, err);
}
