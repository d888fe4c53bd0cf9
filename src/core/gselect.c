/*
 * gselect.c: Gaussian selection with a reduced UBM (gmmkit/gselect.h).
 * Build: each UBM component joins its `overlap` best clusters by log w_j N(mu_i; mu_j,
 * S_i + S_j); the members of a cluster are stored contiguously with, for a diagonal UBM,
 * the rows of the quadratic form that one SGEMM evaluates for a group of frames:
 * log w N(x) = c + sum_j (-0.5 / v_j) x_j^2 + (mu_j / v_j) x_j, about a shift (the UBM's
 * mean) so that float32 keeps the digits that rank the components.
 * Select, a chunk of frames at a time: each frame's best clusters from the clusters' own
 * rows (the same quadratic form, one SGEMM; full covariances by gk_gmm_top_posteriors on
 * the reduced mixture); frames grouped by searched cluster (a counting sort); each group
 * scored against its cluster's members; each frame's candidates from its `search`
 * clusters merged into its top C.
 */
#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>
#include "gmmkit/alloc.h"
#include "gmmkit/comm.h"
#include "gmmkit/gselect.h"
#include "gmmkit/parallel.h"
#include "gmm_internal.h"
#include "rank.h"
#include "vector_kernel.h"

struct gk_selector {
  gk_gmm *g;          /* the clusters (a copy) */
  gk_gmm *f;          /* the UBM (a copy): full covariances are scored from its factors */
  size_t k, m, d, overlap;
  size_t slots;       /* member slots: K x overlap, or more when members come from data */
  size_t m_made;      /* clusters of the reduction (m once empty ones are dropped) */
  size_t *start;      /* m + 1: members of cluster j are member[start[j] .. start[j + 1]) */
  size_t *member;     /* UBM component of each member slot */
  float *A;           /* diagonal UBMs: per slot 2d values [-0.5 / v | mu' / v] (mu' = mu - shift) */
  double *cst;        /* per slot: log w - 0.5 (d log 2 pi + log det + sum mu'^2 / v) */
  float *gA;          /* diagonal clusters: per cluster the same row, so that a chunk's frames */
  double *gcst;       /* choose their clusters from the rows their members use (select_chunk) */
  double *shift;      /* d */
  gk_allocator alloc;
};

enum { GROUP_ROWS = 256 };     /* frames per SGEMM */

/* Indices of the n largest of v[0..m) in decreasing order (ties: lower index first). */
static void best_n(const double *v, size_t m, size_t n, size_t *ix) {
  size_t have = 0;
  for (size_t i = 0; i < m; i++) {
    if (have == n && !(v[i] > v[ix[n - 1]])) continue;
    size_t p = have < n ? have++ : n - 1;
    while (p > 0 && v[i] > v[ix[p - 1]]) {
      ix[p] = ix[p - 1];
      p--;
    }
    ix[p] = i;
  }
}

/* The `o` best clusters of each UBM component by overlap, into of (k x o). */
static gk_status best_clusters(const gk_gmm *f, const gk_gmm *g, size_t o, size_t *of, gk_error *err) {
  double *sc = gk_scratch_alloc(g->k, sizeof(double)), *work = gk_scratch_alloc(f->d * f->d + f->d, sizeof(double));
  gk_status st = sc && work ? GK_OK : gk_fail_nomem(err);
  for (size_t i = 0; st == GK_OK && i < f->k; i++) {
    for (size_t j = 0; j < g->k; j++) sc[j] = gk_gmm_log_overlap(f, i, g, j, work);
    best_n(sc, g->k, o, of + i * o);
  }
  gk_scratch_free(sc);
  gk_scratch_free(work);
  return st;
}

/* The members of each cluster from the clusters of each component (of, k x overlap). */
static void members_of(gk_selector *s, const size_t *of) {
  size_t k = s->k, m = s->m, o = s->overlap;
  memset(s->start, 0, (m + 1) * sizeof(size_t));
  for (size_t q = 0; q < k * o; q++) s->start[of[q] + 1]++;
  for (size_t j = 0; j < m; j++) s->start[j + 1] += s->start[j];
  /* start[j] as cluster j's cursor (components in increasing order), then shifted back */
  for (size_t i = 0; i < k; i++)
    for (size_t t = 0; t < o; t++) s->member[s->start[of[i * o + t]]++] = i;
  memmove(s->start + 1, s->start, m * sizeof(size_t));
  s->start[0] = 0;
}

/* The shift (the UBM's mean), and for diagonal mixtures the quadratic-form rows of the
 * members and of the clusters (gk_gmm_diag_row), with their constants. */
static void member_rows(gk_selector *s) {
  size_t d = s->d, slots = s->start[s->m];
  gk_gmm_mean(s->f, s->shift);
  for (size_t q = 0; s->f->cov == GK_COV_DIAG && q < slots; q++)
    s->cst[q] = gk_gmm_diag_row(s->f, s->member[q], s->shift, s->A + q * 2 * d, 1);
  for (size_t j = 0; s->g->cov == GK_COV_DIAG && j < s->m; j++)
    s->gcst[j] = gk_gmm_diag_row(s->g, j, s->shift, s->gA + j * 2 * d, 1);
}

/* Clusters that no UBM component joined are dropped (with their components of g): a
 * frame whose best cluster had no member would have no component to score. */
static gk_status drop_empty(gk_selector *s, const gk_allocator *a, gk_error *err) {
  size_t kept = 0, d = s->d, cs = gk_gmm_cov_size(s->g->cov, d);
  for (size_t j = 0; j < s->m; j++) kept += s->start[j + 1] > s->start[j];
  if (kept == s->m) return GK_OK;
  gk_gmm *g;
  gk_status st = gk_gmm_create(&g, kept, d, s->g->cov, a, err);
  if (st != GK_OK) return st;
  size_t q = 0;
  for (size_t j = 0; j < s->m; j++) {
    if (s->start[j + 1] == s->start[j]) continue;
    g->weights[q] = s->g->weights[j];
    memcpy(g->means + q * d, s->g->means + j * d, d * sizeof(double));
    memcpy(g->covs + q * cs, s->g->covs + j * cs, cs * sizeof(double));
    s->start[q + 1] = s->start[j + 1];
    q++;
  }
  double w = 0.0;
  for (size_t j = 0; j < kept; j++) w += g->weights[j];
  for (size_t j = 0; j < kept; j++) g->weights[j] /= w;
  st = gk_gmm_prepare(g, err);
  if (st != GK_OK) {
    gk_gmm_free(g);
    return st;
  }
  gk_gmm_free(s->g);
  s->g = g;
  s->m = kept;
  return GK_OK;
}

void gk_selector_free(gk_selector *s) {
  if (!s) return;
  gk_allocator a = s->alloc;
  const gk_allocator *ap = a.fn ? &a : NULL;
  size_t slots = s->slots;
  gk_gmm_free(s->g);
  gk_gmm_free(s->f);
  gk_free(ap, s->start, (s->m_made + 1) * sizeof(size_t));
  gk_free(ap, s->member, slots * sizeof(size_t));
  gk_free(ap, s->A, slots * 2 * s->d * sizeof(float));
  gk_free(ap, s->cst, slots * sizeof(double));
  gk_free(ap, s->shift, s->d * sizeof(double));
  gk_free(ap, s->gA, s->m_made * 2 * s->d * sizeof(float));
  gk_free(ap, s->gcst, s->m_made * sizeof(double));
  gk_free(ap, s, sizeof *s);
}

/* A selector with its arrays allocated (members not yet filled): the steps common to both
 * constructors' start. */
static gk_status selector_new(gk_selector **out, const gk_gmm *f, const gk_gmm *g, size_t overlap, size_t slots,
                              const gk_allocator *a, gk_error *err) {
  gk_selector *s = gk_calloc(a, 1, sizeof *s);
  if (!s) return gk_fail_nomem(err);
  s->alloc = a ? *a : (gk_allocator){0};
  s->k = f->k;
  s->m = s->m_made = g->k;
  s->d = f->d;
  s->overlap = overlap;
  s->slots = slots;
  gk_status st = gk_gmm_clone(g, &s->g, a, err);
  if (st == GK_OK) st = gk_gmm_clone(f, &s->f, a, err);
  if (st == GK_OK) {
    s->start = gk_calloc(a, s->m + 1, sizeof(size_t));
    s->member = gk_calloc(a, slots, sizeof(size_t));
    s->A = gk_calloc(a, slots * 2 * s->d, sizeof(float));
    s->cst = gk_calloc(a, slots, sizeof(double));
    s->shift = gk_calloc(a, s->d, sizeof(double));
    s->gA = gk_calloc(a, s->m * 2 * s->d, sizeof(float));
    s->gcst = gk_calloc(a, s->m, sizeof(double));
    if (!s->start || !s->member || !s->A || !s->cst || !s->shift || !s->gA || !s->gcst) st = gk_fail_nomem(err);
  }
  if (st != GK_OK) {
    gk_selector_free(s);
    return st;
  }
  *out = s;
  return GK_OK;
}

/* The steps common to both constructors' end, once the members are filled: empty
 * clusters dropped, the members' rows made. Frees s on failure. */
static gk_status selector_finish(gk_selector *s, gk_selector **out, const gk_allocator *a, gk_error *err) {
  gk_status st = drop_empty(s, a, err);
  if (st != GK_OK) {
    gk_selector_free(s);
    return st;
  }
  member_rows(s);
  *out = s;
  return GK_OK;
}

static gk_status check_shapes(const gk_gmm *f, const gk_gmm *g, size_t overlap, gk_error *err) {
  if (f->d != g->d)
    return gk_fail(err, GK_EINVAL, "the clusters have dimension %zu, the UBM %zu", g->d, f->d);
  if (overlap < 1 || overlap > g->k)
    return gk_fail(err, GK_EINVAL, "overlap = %zu must be between 1 and the %zu clusters", overlap, g->k);
  return GK_OK;
}

gk_status gk_selector_create(gk_selector **out, const gk_gmm *f, const gk_gmm *g, size_t overlap,
                             const gk_allocator *a, gk_error *err) {
  *out = NULL;
  gk_status st = check_shapes(f, g, overlap, err);
  if (st != GK_OK) return st;
  size_t *of = gk_scratch_alloc(f->k * overlap, sizeof(size_t));
  if (!of) return gk_fail_nomem(err);
  gk_selector *s = NULL;
  if ((st = best_clusters(f, g, overlap, of, err)) == GK_OK &&
      (st = selector_new(&s, f, g, overlap, f->k * overlap, a, err)) == GK_OK)
    members_of(s, of);
  gk_scratch_free(of);
  return st == GK_OK ? selector_finish(s, out, a, err) : st;
}

/* The member lists of gk_selector_create_members: each cluster's strictly increasing,
 * inside 0..K-1, and every component in at least `overlap` of them. */
static gk_status check_members(size_t k, size_t m, size_t overlap, const size_t *count, const size_t *members,
                               gk_error *err) {
  for (size_t j = 0; j < m; j++)
    if (count[j] > k)
      return gk_fail(err, GK_EFORMAT, "cluster %zu has %zu members, more than the %zu components", j + 1, count[j], k);
  size_t *seen = gk_scratch_alloc(k, sizeof(size_t));
  if (!seen) return gk_fail_nomem(err);
  memset(seen, 0, k * sizeof(size_t));
  gk_status st = GK_OK;
  for (size_t j = 0, q = 0; st == GK_OK && j < m; j++)
    for (size_t t = 0; st == GK_OK && t < count[j]; t++, q++) {
      size_t i = members[q];
      if (i >= k)
        st = gk_fail(err, GK_EFORMAT, "cluster %zu has a member index >= the %zu components", j + 1, k);
      else if (t > 0 && i <= members[q - 1])
        st = gk_fail(err, GK_EFORMAT, "the members of cluster %zu are not in increasing order", j + 1);
      else
        seen[i]++;
    }
  for (size_t i = 0; st == GK_OK && i < k; i++)
    if (seen[i] < overlap)
      st = gk_fail(err, GK_EFORMAT, "component %zu is in %zu clusters, fewer than overlap = %zu", i + 1, seen[i],
                   overlap);
  gk_scratch_free(seen);
  return st;
}

gk_status gk_selector_create_members(gk_selector **out, const gk_gmm *f, const gk_gmm *g, size_t overlap,
                                     const size_t *count, const size_t *members, const gk_allocator *a,
                                     gk_error *err) {
  *out = NULL;
  gk_status st = check_shapes(f, g, overlap, err);
  if (st == GK_OK) st = check_members(f->k, g->k, overlap, count, members, err);
  if (st != GK_OK) return st;
  size_t slots = 0;
  for (size_t j = 0; j < g->k; j++) slots += count[j];
  gk_selector *s;
  if ((st = selector_new(&s, f, g, overlap, slots, a, err)) != GK_OK) return st;
  for (size_t j = 0; j < s->m; j++) s->start[j + 1] = s->start[j] + count[j];
  memcpy(s->member, members, slots * sizeof(size_t));
  return selector_finish(s, out, a, err);
}

uint64_t gk_selector_fingerprint(const gk_selector *s) { return gk_gmm_fingerprint(s->f); }

size_t gk_selector_components(const gk_selector *s) { return s->k; }
size_t gk_selector_clusters(const gk_selector *s) { return s->m; }
size_t gk_selector_dim(const gk_selector *s) { return s->d; }
size_t gk_selector_overlap(const gk_selector *s) { return s->overlap; }
const gk_gmm *gk_selector_mixture(const gk_selector *s) { return s->g; }

const size_t *gk_selector_members(const gk_selector *s, size_t j, size_t *n) {
  *n = s->start[j + 1] - s->start[j];
  return s->member + s->start[j];
}

/* ---- selection ------------------------------------------------------------------------- */

/* The frames of x in order, as float rows about the shift (n x d). */
static void frames_centered(const gk_selector *s, const gk_gmm_data *x, float *out) {
  size_t st = x->stride > 1 ? x->stride : 1, f = 0, d = s->d;
  for (size_t p = 0; p < x->nparts; p++) {
    const gk_matrix *m = &x->parts[p];
    for (size_t r = 0; r < m->rows; r += st, f++) {
      if (m->dtype == GK_FLOAT32) {
        const float *row = (const float *)m->data + r * m->cols;
        for (size_t t = 0; t < d; t++) out[f * d + t] = (float)((double)row[t] - s->shift[t]);
      } else {
        for (size_t t = 0; t < d; t++) out[f * d + t] = (float)(gk_matrix_get(m, r, t) - s->shift[t]);
      }
    }
  }
}

/* Log-densities of m diagonal components (quadratic-form rows A, 2d wide, constants cst) at
 * the n [x^2 | x] rows Z into out (n x m), by one SGEMM. */
static void diag_scores(const float *Z, size_t n, const float *A, const double *cst, size_t m, size_t d, float *out) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)m, (int)(2 * d), 1.0f, Z, (int)(2 * d), A,
              (int)(2 * d), 0.0f, out, (int)m);
  for (size_t r = 0; r < n; r++)
    for (size_t q = 0; q < m; q++) out[r * m + q] += (float)cst[q];
}

/* Log-densities of the members of cluster j at the frames X (full UBMs) or their rows Z
 * (n frames, [x^2 | x] float, 2d wide; diagonal UBMs) into out (n x members), by one SGEMM
 * (diagonal) or Cholesky solves (full). */
static void score_group(const gk_selector *s, size_t j, const float *Z, const float *X, size_t n, float *out,
                        double *tmp) {
  size_t q0 = s->start[j], mj = s->start[j + 1] - q0, d = s->d;
  if (s->f->cov == GK_COV_DIAG) {
    diag_scores(Z, n, s->A + q0 * 2 * d, s->cst + q0, mj, d, out);
    return;
  }
  for (size_t r = 0; r < n; r++) {
    double *xr = tmp + d;
    for (size_t t = 0; t < d; t++) xr[t] = (double)X[r * d + t] + s->shift[t];
    for (size_t q = 0; q < mj; q++)
      out[r * mj + q] = (float)gk_gmm_component_logpdf(s->f, s->member[q0 + q], xr, tmp);
  }
}

/* The work of one thread: a group's rows and scores. */
typedef struct gwork {
  float *Z, *X, *S;
  double *tmp;
} gwork;

/* The [x^2 | x] rows of frames Xc[rows[r]] (r < n, rows NULL: r itself) into Z (diagonal
 * UBMs), or the frames themselves into X (full ones: Z is NULL). */
static void square_rows(const float *Xc, const size_t *rows, size_t n, size_t d, float *Z, float *X) {
  for (size_t r = 0; r < n; r++) {
    const float *x = Xc + (rows ? rows[r] : r) * d;
    if (!Z) {
      memcpy(X + r * d, x, d * sizeof(float));
      continue;
    }
    for (size_t t = 0; t < d; t++) {
      Z[r * 2 * d + t] = x[t] * x[t];
      Z[r * 2 * d + d + t] = x[t];
    }
  }
}

/* The `search` best clusters of the n frames Xc (diagonal clusters), GROUP_ROWS at a time
 * by one SGEMM against the clusters' rows, into cl (n x search), best first, ties to the
 * lower index. */
static void chunk_clusters(const gk_selector *s, const float *Xc, size_t n, size_t search, size_t *cl, gwork *w) {
  size_t d = s->d, m = s->m;
  gk_cand best[255];
  for (size_t r0 = 0; r0 < n; r0 += GROUP_ROWS) {
    size_t nr = n - r0 < GROUP_ROWS ? n - r0 : GROUP_ROWS;
    square_rows(Xc + r0 * d, NULL, nr, d, w->Z, NULL);
    diag_scores(w->Z, nr, s->gA, s->gcst, m, d, w->S);
    for (size_t r = 0; r < nr; r++) {
      const float *v = w->S + r * m;
      if (search == 1) { /* the first largest, without a branch */
        size_t at = 0;
        for (size_t j = 1; j < m; j++) at = v[j] > v[at] ? j : at;
        cl[r0 + r] = at;
        continue;
      }
      size_t have;
      gk_rank_row(v, m, NULL, search, best, &have);
      for (size_t t = 0; t < search; t++) cl[(r0 + r) * search + t] = best[t].i;
    }
  }
}

/* Cluster j's frames (rows[0..n), frame indices, with their slot among each frame's
 * searched clusters in slot[]) scored, each frame's C best kept in its slot's list. */
static void group_candidates(const gk_selector *s, size_t j, const size_t *rows, const unsigned char *slot, size_t n,
                             const float *Xc, size_t search, size_t C, gk_cand *cands, size_t *ncand, gwork *w) {
  size_t q0 = s->start[j], mj = s->start[j + 1] - q0, d = s->d;
  for (size_t r0 = 0; r0 < n; r0 += GROUP_ROWS) {
    size_t nr = n - r0 < GROUP_ROWS ? n - r0 : GROUP_ROWS;
    square_rows(Xc, rows + r0, nr, d, s->f->cov == GK_COV_DIAG ? w->Z : NULL, w->X);
    score_group(s, j, w->Z, w->X, nr, w->S, w->tmp);
    for (size_t r = 0; r < nr; r++) {
      size_t f = rows[r0 + r], at = f * search + slot[r0 + r];
      gk_rank_row(w->S + r * mj, mj, s->member + q0, C, cands + at * C, &ncand[at]);
    }
  }
}

/* Each frame's top C from its slots' candidates, duplicates (overlap > 1) once. */
static void merge_frame(const gk_cand *c, const size_t *nc, size_t search, size_t C, size_t *idx) {
  gk_cand best[64], *b = best;
  size_t have = 0;
  for (size_t sl = 0; sl < search; sl++)
    for (size_t t = 0; t < nc[sl]; t++) {
      const gk_cand *x = &c[sl * C + t];
      int dup = 0;
      for (size_t u = 0; u < have && !dup; u++) dup = b[u].i == x->i;
      if (!dup) gk_cand_insert(b, &have, C, x->v, x->i);
    }
  for (size_t t = 0; t < C; t++) idx[t] = t < have ? b[t].i : SIZE_MAX;
}

/* Frames grouped by searched cluster: order[] lists (frame, slot) pairs cluster by
 * cluster, at[j] .. at[j + 1]. */
static void group_frames(const size_t *cl, size_t n, size_t search, size_t m, size_t *at, size_t *rows,
                         unsigned char *slot) {
  memset(at, 0, (m + 1) * sizeof(size_t));
  for (size_t i = 0; i < n * search; i++) at[cl[i] + 1]++;
  for (size_t j = 0; j < m; j++) at[j + 1] += at[j];
  size_t *fill = at + m + 1;
  memcpy(fill, at, m * sizeof(size_t));
  for (size_t f = 0; f < n; f++)
    for (size_t sl = 0; sl < search; sl++) {
      size_t j = cl[f * search + sl], p = fill[j]++;
      rows[p] = f;
      slot[p] = (unsigned char)sl;
    }
}

/* One thread's buffers for a chunk of frames, reused from chunk to chunk. */
typedef struct chunkbuf {
  size_t *at, *rows, *ncand;
  unsigned char *slot, *wmem;
  float *Xc;
  gk_cand *cands;
  gk_matrix *views;
} chunkbuf;

enum { SELECT_CHUNK = 1024 };           /* frames a thread selects at a time: its buffers stay in cache */
enum { SELECT_SPAN = 64 * SELECT_CHUNK };  /* frames whose clusters are scored at a time */

/* Frames [f0, f1) of x as data of their own (views of the matrices' rows). */
static size_t frame_range(const gk_gmm_data *x, size_t f0, size_t f1, gk_matrix *views, gk_gmm_data *out) {
  size_t st = x->stride > 1 ? x->stride : 1, f = 0, nv = 0;
  for (size_t p = 0; p < x->nparts && f < f1; p++) {
    const gk_matrix *m = &x->parts[p];
    size_t n = m->rows == 0 ? 0 : (m->rows - 1) / st + 1, a = f0 > f ? f0 - f : 0, b = f1 - f < n ? f1 - f : n;
    if (a < b) {
      gk_matrix v = *m;
      v.data = (char *)m->data + a * st * m->cols * gk_dtype_size(m->dtype);
      v.rows = (b - a - 1) * st + 1;
      views[nv++] = v;
    }
    f += n;
  }
  out->parts = views;
  out->nparts = nv;
  out->stride = st;
  return nv;
}

/* Chunk [f0, f1) of span x (its clusters cl, search per frame): frames grouped by searched
 * cluster, each group scored against its cluster's members, each frame's top C merged into
 * idx. One thread's work, on its own buffers. */
static void select_chunk(const gk_selector *s, const gk_gmm_data *x, size_t f0, size_t f1, size_t *cl,
                         size_t search, size_t C, chunkbuf *b, size_t *idx) {
  size_t n = f1 - f0, d = s->d, m = s->m;
  gk_gmm_data sub;
  frame_range(x, f0, f1, b->views, &sub);
  frames_centered(s, &sub, b->Xc);
  gwork w;
  w.tmp = (double *)b->wmem;
  w.Z = (float *)(b->wmem + 2 * d * sizeof(double));
  w.X = w.Z + GROUP_ROWS * 2 * d;
  w.S = w.X + GROUP_ROWS * d;
  if (s->g->cov == GK_COV_DIAG) chunk_clusters(s, b->Xc, n, search, cl + f0 * search, &w);
  group_frames(cl + f0 * search, n, search, m, b->at, b->rows, b->slot);
  for (size_t j = 0; j < m; j++)
    group_candidates(s, j, b->rows + b->at[j], b->slot + b->at[j], b->at[j + 1] - b->at[j], b->Xc, search, C,
                     b->cands, b->ncand, &w);
  for (size_t f = 0; f < n; f++)
    merge_frame(b->cands + f * search * C, b->ncand + f * search, search, C, idx + (f0 + f) * C);
}

static void chunkbuf_free(chunkbuf *b) {
  gk_scratch_free(b->at);
  gk_scratch_free(b->rows);
  gk_scratch_free(b->slot);
  gk_scratch_free(b->Xc);
  gk_scratch_free(b->cands);
  gk_scratch_free(b->ncand);
  gk_scratch_free(b->wmem);
  gk_scratch_free(b->views);
}

static int chunkbuf_alloc(chunkbuf *b, const gk_selector *s, size_t nparts, size_t search, size_t C) {
  size_t d = s->d, m = s->m, maxm = m, n = SELECT_CHUNK;  /* S holds a row of members or of clusters */
  for (size_t j = 0; j < m; j++)
    if (s->start[j + 1] - s->start[j] > maxm) maxm = s->start[j + 1] - s->start[j];
  memset(b, 0, sizeof *b);
  b->at = gk_scratch_alloc(2 * m + 1, sizeof(size_t));
  b->rows = gk_scratch_alloc(n * search, sizeof(size_t));
  b->slot = gk_scratch_alloc(n * search, 1);
  b->Xc = gk_scratch_alloc(n * d, sizeof(float));
  b->cands = gk_scratch_alloc(n * search * C, sizeof(gk_cand));
  b->ncand = gk_scratch_alloc(n * search, sizeof(size_t));
  b->wmem = gk_scratch_alloc(1, GROUP_ROWS * (3 * d + (maxm ? maxm : 1)) * sizeof(float) + 2 * d * sizeof(double));
  b->views = gk_scratch_alloc(nparts ? nparts : 1, sizeof(gk_matrix));
  return b->at && b->rows && b->slot && b->Xc && b->cands && b->ncand && b->wmem && b->views;
}

/* The frames of span x selected, its chunks in parallel, a chunk per thread at a time: each
 * chunk's clusters from the clusters' rows (diagonal; full clusters are scored at once
 * before, by the blocked E-step on the clusters' mixture), then their members.
 * *work += the Gaussians evaluated. */
static gk_status select_span(const gk_selector *s, const gk_gmm_data *x, size_t search, size_t C, int nt,
                             chunkbuf *bufs, size_t *cl, size_t *idx, double *work, gk_error *err) {
  size_t n = gk_gmm_data_frames(x), nc = (n + SELECT_CHUNK - 1) / SELECT_CHUNK;
  gk_status st = s->g->cov == GK_COV_DIAG ? GK_OK : gk_gmm_top_checked(s->g, x, search, cl, NULL, err);
  if (st != GK_OK) return st;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
  for (size_t c = 0; c < nc; c++) {
    size_t f0 = c * SELECT_CHUNK, f1 = f0 + SELECT_CHUNK < n ? f0 + SELECT_CHUNK : n;
    select_chunk(s, x, f0, f1, cl, search, C, &bufs[omp_get_thread_num()], idx);
  }
  *work += (double)s->m * (double)n;
  for (size_t i = 0; i < n * search; i++) *work += (double)(s->start[cl[i] + 1] - s->start[cl[i]]);
  return GK_OK;
}

gk_status gk_selector_select(const gk_selector *s, const gk_gmm_data *x, size_t search, size_t top, size_t *idx,
                             double *evals, gk_error *err) {
  gk_status st = gk_gmm_data_check(x, s->d, err);
  return st == GK_OK ? gk_selector_select_checked(s, x, search, top, idx, evals, err) : st;
}

gk_status gk_selector_select_checked(const gk_selector *s, const gk_gmm_data *x, size_t search, size_t top,
                                     size_t *idx, double *evals, gk_error *err) {
  if (search < 1 || search > s->m || search > 255)
    return gk_fail(err, GK_EINVAL, "search = %zu must be between 1 and the %zu clusters (at most 255)", search, s->m);
  if (top < 1 || top > s->k || top > 64)
    return gk_fail(err, GK_EINVAL, "top = %zu must be between 1 and the %zu components (at most 64)", top, s->k);
  gk_status st = GK_OK;
  size_t n = gk_gmm_data_frames(x), span = n < SELECT_SPAN ? n : SELECT_SPAN;
  /* A thread per chunk at most: a short utterance is selected by one thread, as the E-step
   * scores one chunk, since waking a team costs more. */
  size_t want = (span + SELECT_CHUNK - 1) / SELECT_CHUNK;
  int nt = gk_threads();
  if ((size_t)nt > want) nt = want ? (int)want : 1;
  chunkbuf *bufs = gk_scratch_alloc((size_t)nt, sizeof(chunkbuf));
  size_t *cl = gk_scratch_alloc(span ? span * search : 1, sizeof(size_t));
  gk_matrix *views = gk_scratch_alloc(x->nparts ? x->nparts : 1, sizeof(gk_matrix));
  int ok = bufs && cl && views;
  if (bufs) memset(bufs, 0, (size_t)nt * sizeof(chunkbuf));
  for (int t = 0; ok && t < nt; t++) ok = chunkbuf_alloc(&bufs[t], s, x->nparts, search, top);
  if (!ok) st = gk_fail_nomem(err);
  double work = 0.0;
  int blas = gk_blas_serial_begin();
  for (size_t f0 = 0; st == GK_OK && f0 < n; f0 += span) {
    gk_gmm_data sub;
    frame_range(x, f0, f0 + span < n ? f0 + span : n, views, &sub);
    st = select_span(s, &sub, search, top, nt, bufs, cl, idx + f0 * top, &work, err);
  }
  gk_blas_serial_end(blas);
  if (st == GK_OK && evals) *evals = work / (double)n;
  for (int t = 0; bufs && t < nt; t++) chunkbuf_free(&bufs[t]);
  gk_scratch_free(bufs);
  gk_scratch_free(cl);
  gk_scratch_free(views);
  return st;
}

/* ---- membership by data -------------------------------------------------------------------- */

enum { MARKED = UINT32_MAX };  /* a count that stands for a member by overlap */

/* cnt (m x k) += 1 at (cluster, component) for each frame of x, each of its `search` best
 * clusters and each of its `top` best UBM components (both by gk_gmm_top_posteriors), a
 * span of frames at a time. Counts stop one short of MARKED. */
static gk_status count_pairs(const gk_gmm *f, const gk_gmm *g, const gk_gmm_data *x, size_t search, size_t top,
                             uint32_t *cnt, gk_error *err) {
  size_t n = gk_gmm_data_frames(x), span = n < SELECT_SPAN ? n : SELECT_SPAN, k = f->k;
  size_t *cl = gk_scratch_alloc(span * search, sizeof(size_t)), *ci = gk_scratch_alloc(span * top, sizeof(size_t));
  gk_matrix *views = gk_scratch_alloc(x->nparts, sizeof(gk_matrix));
  gk_status st = cl && ci && views ? GK_OK : gk_fail_nomem(err);
  for (size_t f0 = 0; st == GK_OK && f0 < n; f0 += span) {
    size_t f1 = f0 + span < n ? f0 + span : n;
    gk_gmm_data sub;
    frame_range(x, f0, f1, views, &sub);
    st = gk_gmm_top_posteriors(g, &sub, search, cl, NULL, err);
    if (st == GK_OK) st = gk_gmm_top_posteriors(f, &sub, top, ci, NULL, err);
    for (size_t r = 0; st == GK_OK && r < f1 - f0; r++)
      for (size_t u = 0; u < search; u++)
        for (size_t v = 0; v < top; v++) {
          uint32_t *c = &cnt[cl[r * search + u] * k + ci[r * top + v]];
          if (*c < MARKED - 1) (*c)++;
        }
  }
  gk_scratch_free(cl);
  gk_scratch_free(ci);
  gk_scratch_free(views);
  return st;
}

/* Members from cnt (m x k): (j, i) where cnt is MARKED or at least min_count. Counts the
 * slots when s is NULL, else fills s's lists. */
static size_t members_counted(gk_selector *s, const uint32_t *cnt, size_t m, size_t k, size_t min_count) {
  size_t q = 0;
  for (size_t j = 0; j < m; j++) {
    if (s) s->start[j] = q;
    for (size_t i = 0; i < k; i++) {
      uint32_t c = cnt[j * k + i];
      if (c == MARKED || c >= min_count) {
        if (s) s->member[q] = i;
        q++;
      }
    }
  }
  if (s) s->start[m] = q;
  return q;
}

static gk_status check_data_options(const gk_gmm *f, const gk_gmm *g, const gk_gmm_data *x, size_t search,
                                    size_t top, size_t min_count, int alone, gk_error *err) {
  if (search < 1 || search > g->k)
    return gk_fail(err, GK_EINVAL, "search = %zu must be between 1 and the %zu clusters", search, g->k);
  if (top < 1 || top > f->k)
    return gk_fail(err, GK_EINVAL, "top = %zu must be between 1 and the %zu components", top, f->k);
  if (min_count < 1) return gk_fail(err, GK_EINVAL, "min_count must be at least 1");
  if (!alone && gk_gmm_data_frames(x) == 0) return GK_OK;  /* other ranks may hold the frames */
  return gk_gmm_data_check(x, f->d, err);                   /* refuses no frames too */
}

/* cnt (m x k) summed over the ranks of comm, with each rank's status: every rank learns
 * whether any failed (st, this rank's, is kept when it did; else GK_EIO saying so), and
 * whether any frame was counted at all (GK_EINVAL when none). Collective. */
static gk_status sum_counts(uint32_t *cnt, size_t m, size_t k, size_t frames, gk_status st, const gk_comm *comm,
                            gk_error *err) {
  size_t n = m * k;
  double *v = gk_scratch_alloc(n + 2, sizeof(double));
  if (!v) return gk_fail_nomem(err);  /* the one failure the other ranks cannot learn of */
  for (size_t q = 0; q < n; q++) v[q] = st == GK_OK ? (double)cnt[q] : 0.0;
  v[n] = st == GK_OK ? 0.0 : 1.0;
  v[n + 1] = st == GK_OK ? (double)frames : 0.0;
  gk_status cs = gk_comm_sum_doubles(comm, v, n + 2, err);
  if (cs == GK_OK && st == GK_OK && v[n] > 0.0)
    cs = gk_fail(err, GK_EIO, "another rank could not count its frames' components (see its message)");
  if (cs == GK_OK && st == GK_OK && v[n + 1] == 0.0) cs = gk_fail(err, GK_EINVAL, "no data: 0 frames on every rank");
  for (size_t q = 0; cs == GK_OK && st == GK_OK && q < n; q++)
    cnt[q] = v[q] < (double)(MARKED - 1) ? (uint32_t)v[q] : MARKED - 1;
  gk_scratch_free(v);
  return st != GK_OK ? st : cs;
}

gk_status gk_selector_create_data_comm(gk_selector **out, const gk_gmm *f, const gk_gmm *g, size_t overlap,
                                       const gk_gmm_data *x, size_t search, size_t top, size_t min_count,
                                       const gk_comm *comm, const gk_allocator *a, gk_error *err) {
  *out = NULL;
  int alone = gk_comm_size(comm) <= 1;
  gk_status st = check_shapes(f, g, overlap, err);
  if (st == GK_OK) st = check_data_options(f, g, x, search, top, min_count, alone, err);
  if (st != GK_OK && alone) return st;
  size_t k = f->k, m = g->k, frames = st == GK_OK ? gk_gmm_data_frames(x) : 0;
  size_t *of = gk_scratch_alloc(k * overlap, sizeof(size_t));
  uint32_t *cnt = gk_scratch_alloc(m * k, sizeof(uint32_t));
  if (st == GK_OK && (!of || !cnt)) st = gk_fail_nomem(err);
  if (st == GK_OK) {
    memset(cnt, 0, m * k * sizeof(uint32_t));
    if (frames > 0) st = count_pairs(f, g, x, search, top, cnt, err);
  }
  if (!alone) st = sum_counts(cnt, m, k, frames, st, comm, err);
  if (st == GK_OK) st = best_clusters(f, g, overlap, of, err);
  gk_selector *s = NULL;
  if (st == GK_OK) {
    for (size_t q = 0; q < k * overlap; q++) cnt[of[q] * k + q / overlap] = MARKED;
    st = selector_new(&s, f, g, overlap, members_counted(NULL, cnt, m, k, min_count), a, err);
  }
  if (st == GK_OK) members_counted(s, cnt, m, k, min_count);
  gk_scratch_free(of);
  gk_scratch_free(cnt);
  return st == GK_OK ? selector_finish(s, out, a, err) : st;
}

gk_status gk_selector_create_data(gk_selector **out, const gk_gmm *f, const gk_gmm *g, size_t overlap,
                                  const gk_gmm_data *x, size_t search, size_t top, size_t min_count,
                                  const gk_allocator *a, gk_error *err) {
  return gk_selector_create_data_comm(out, f, g, overlap, x, search, top, min_count, NULL, a, err);
}
