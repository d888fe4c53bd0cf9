/*
 * eval.c: DET curve, EER on the ROC convex hull, minimum and actual DCF, and Z-, T- and
 * S-norm of score matrices (see gmmkit/eval.h).
 *
 * Scores are sorted once as 64-bit keys (the IEEE bit pattern mapped so that unsigned
 * order is numeric order) by an LSD radix sort; the target and non-target lists are
 * sorted apart and walked together, so that every distinct score is one step of the
 * curve and tied target and non-target scores move in the same step. The convex hull is
 * decided on integer counts, exactly.
 */
#include "gmmkit/eval.h"
#include "gmmkit/alloc.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Each score list holds fewer than 2^32 scores, so that a product of a target count and
 * a non-target count fits in 64 bits. */
#define EVAL_MAX_SCORES 0xffffffffull

/* ---- sort keys ------------------------------------------------------------------------ */

/* Unsigned order of keys = numeric order of doubles (x not NaN; -0.0 made +0.0). */
static uint64_t key_of(double x) {
  uint64_t u;
  x += 0.0;  /* -0.0 + 0.0 = +0.0: equal doubles get equal keys */
  memcpy(&u, &x, sizeof u);
  return (u >> 63) ? ~u : u | (1ull << 63);
}

static double value_of(uint64_t k) {
  uint64_t u = (k >> 63) ? k & ~(1ull << 63) : ~k;
  double x;
  memcpy(&x, &u, sizeof x);
  return x;
}

/* Sorts a[0..n) ascending; tmp has room for n keys. Insertion sort below 64 keys, LSD
 * radix sort by bytes above (a byte every key shares is skipped). */
static void sort_keys(uint64_t *a, uint64_t *tmp, size_t n) {
  if (n < 64) {
    for (size_t i = 1; i < n; i++) {
      uint64_t v = a[i];
      size_t j = i;
      for (; j > 0 && a[j - 1] > v; j--) a[j] = a[j - 1];
      a[j] = v;
    }
    return;
  }
  size_t count[8][256];
  memset(count, 0, sizeof count);
  for (size_t i = 0; i < n; i++)
    for (int b = 0; b < 8; b++) count[b][(a[i] >> (8 * b)) & 0xff]++;
  uint64_t *src = a, *dst = tmp;
  for (int b = 0; b < 8; b++) {
    size_t *c = count[b], sum = 0;
    if (c[(src[0] >> (8 * b)) & 0xff] == n) continue;  /* all keys share this byte */
    for (int v = 0; v < 256; v++) {
      size_t t = c[v];
      c[v] = sum;
      sum += t;
    }
    for (size_t i = 0; i < n; i++) dst[c[(src[i] >> (8 * b)) & 0xff]++] = src[i];
    uint64_t *s = src;
    src = dst;
    dst = s;
  }
  if (src != a) memcpy(a, src, n * sizeof *a);
}

static gk_status check_list(const double *x, size_t n, const char *what, gk_error *err) {
  if (n == 0) return gk_fail(err, GK_EINVAL, "%s: no scores (an empty list)", what);
  if (!x) return gk_fail(err, GK_EINVAL, "%s: NULL scores", what);
  if ((unsigned long long)n > EVAL_MAX_SCORES)
    return gk_fail(err, GK_ELIMIT, "%s: %zu scores exceed the limit of 2^32 - 1", what, n);
  for (size_t i = 0; i < n; i++)
    if (isnan(x[i])) return gk_fail(err, GK_ENUMERIC, "%s: score %zu is NaN", what, i + 1);
  return GK_OK;
}

static gk_status check_lists(const double *tar, size_t nt, const double *non, size_t nn,
                             gk_error *err) {
  gk_status st = check_list(tar, nt, "target scores", err);
  return st != GK_OK ? st : check_list(non, nn, "non-target scores", err);
}

/* Sorted keys of both lists: keys[0..nt) targets, keys[nt..nt+nn) non-targets, followed
 * by nt + nn keys of spare room (the caller's to use). gk_scratch_free when done. */
static uint64_t *sorted_keys(const double *tar, size_t nt, const double *non, size_t nn,
                             gk_error *err) {
  size_t n = nt + nn;
  uint64_t *k = gk_scratch_alloc(2 * n, sizeof *k);
  if (!k) {
    gk_fail_nomem(err);
    return NULL;
  }
  for (size_t i = 0; i < nt; i++) k[i] = key_of(tar[i]);
  for (size_t i = 0; i < nn; i++) k[nt + i] = key_of(non[i]);
  sort_keys(k, k + n, nt);
  sort_keys(k + nt, k + n, nn);
  return k;
}

/* ---- the DET points --------------------------------------------------------------------- */

/* Walks the points of the curve over all thresholds in order of increasing threshold. */
typedef struct walk {
  const uint64_t *t, *n;  /* sorted target and non-target keys */
  size_t nt, nn;
  size_t a, b;            /* targets and non-targets below the current threshold */
  int state;              /* 0 before point 0, 1 inside, 2 after the last point */
} walk;

typedef struct point {
  size_t miss;  /* targets below the threshold (rejected) */
  size_t fa;    /* non-targets at or above it (accepted) */
  uint64_t thr; /* key of the threshold, unless inf */
  int inf;      /* threshold +inf: every trial rejected */
} point;

/* The smallest key not yet passed, in *k; 0 when both lists are passed. */
static int walk_peek(const walk *w, uint64_t *k) {
  if (w->a < w->nt && w->b < w->nn) *k = w->t[w->a] < w->n[w->b] ? w->t[w->a] : w->n[w->b];
  else if (w->a < w->nt) *k = w->t[w->a];
  else if (w->b < w->nn) *k = w->n[w->b];
  else return 0;
  return 1;
}

/* The next point in *p; 0 after the last one. Point 0 accepts everything; each later
 * point passes one distinct score (targets and non-targets equal to it together). */
static int walk_next(walk *w, point *p) {
  uint64_t v;
  if (w->state == 2) return 0;
  if (w->state == 1) {
    walk_peek(w, &v);
    while (w->a < w->nt && w->t[w->a] == v) w->a++;
    while (w->b < w->nn && w->n[w->b] == v) w->b++;
  }
  w->state = 1;
  p->miss = w->a;
  p->fa = w->nn - w->b;
  p->inf = !walk_peek(w, &p->thr);
  if (p->inf) w->state = 2;
  return 1;
}

static void walk_init(walk *w, const uint64_t *keys, size_t nt, size_t nn) {
  w->t = keys;
  w->n = keys + nt;
  w->nt = nt;
  w->nn = nn;
  w->a = w->b = 0;
  w->state = 0;
}

static double point_threshold(const point *p) { return p->inf ? HUGE_VAL : value_of(p->thr); }

/* Lower-left convex hull of the points in (Pfa, Pmiss) (BOSARIS rocch): b is kept between
 * a and c when it lies below the chord, i.e. the turn a -> b -> c is clockwise (or, with
 * `collinear`, also when b is on the chord). With F = drop in false alarms and M = rise in
 * misses from one point to the next (both >= 0), scaled by 1/nn and 1/nt: keep iff
 * M1 F2 < F1 M2 (<=), exact in 64 bits because each count is below 2^32. */
static int hull_keeps(const point *a, const point *b, const point *c, int collinear) {
  uint64_t f1 = a->fa - b->fa, m1 = b->miss - a->miss;
  uint64_t f2 = b->fa - c->fa, m2 = c->miss - b->miss;
  return collinear ? m1 * f2 <= f1 * m2 : m1 * f2 < f1 * m2;
}

/* Builds the hull of all points into h (room for nt + nn + 1 points); returns its size.
 * With `collinear` the points on the hull's edges are kept as well. */
static size_t build_hull(const uint64_t *keys, size_t nt, size_t nn, int collinear, point *h) {
  walk w;
  point p;
  size_t k = 0;
  walk_init(&w, keys, nt, nn);
  while (walk_next(&w, &p)) {
    while (k >= 2 && !hull_keeps(&h[k - 2], &h[k - 1], &p, collinear)) k--;
    h[k++] = p;
  }
  return k;
}

/* ---- public ----------------------------------------------------------------------------- */

void gk_dcf_params_default(gk_dcf_params *p) {
  p->p_target = 0.01;
  p->c_miss = 1;
  p->c_fa = 1;
}

gk_status gk_dcf_params_check(const gk_dcf_params *p, gk_error *err) {
  if (!p) return gk_fail(err, GK_EINVAL, "DCF parameters: NULL");
  if (!(p->p_target > 0 && p->p_target < 1))
    return gk_fail(err, GK_EINVAL, "option 'p_target' must be in (0, 1), got %g", p->p_target);
  if (!(p->c_miss > 0 && p->c_miss < HUGE_VAL))
    return gk_fail(err, GK_EINVAL, "option 'c_miss' must be a finite cost > 0, got %g", p->c_miss);
  if (!(p->c_fa > 0 && p->c_fa < HUGE_VAL))
    return gk_fail(err, GK_EINVAL, "option 'c_fa' must be a finite cost > 0, got %g", p->c_fa);
  return GK_OK;
}

gk_status gk_eval_det(const double *tar, size_t nt, const double *non, size_t nn, int hull,
                      size_t *npoints, double *pmiss, double *pfa, double *threshold,
                      gk_error *err) {
  gk_status st = check_lists(tar, nt, non, nn, err);
  if (st != GK_OK) return st;
  if (!npoints) return gk_fail(err, GK_EINVAL, "det: npoints is NULL");
  uint64_t *keys = sorted_keys(tar, nt, non, nn, err);
  if (!keys) return GK_ENOMEM;
  point *h = NULL;
  if (hull) {
    h = gk_scratch_alloc(nt + nn + 1, sizeof *h);
    if (!h) {
      gk_scratch_free(keys);
      return gk_fail_nomem(err);
    }
  }
  size_t k = 0;
  point p;
  walk w;
  walk_init(&w, keys, nt, nn);
  if (hull) k = build_hull(keys, nt, nn, 0, h);
  for (size_t i = 0; hull ? i < k : walk_next(&w, &p); i++) {
    const point *q = hull ? &h[i] : &p;
    if (pmiss) pmiss[i] = (double)q->miss / (double)nt;
    if (pfa) pfa[i] = (double)q->fa / (double)nn;
    if (threshold) threshold[i] = point_threshold(q);
    if (!hull) k = i + 1;
  }
  *npoints = k;
  gk_scratch_free(h);
  gk_scratch_free(keys);
  return GK_OK;
}

gk_status gk_eval_eer(const double *tar, size_t nt, const double *non, size_t nn, double *eer,
                      double *threshold, gk_error *err) {
  gk_status st = check_lists(tar, nt, non, nn, err);
  if (st != GK_OK) return st;
  if (!eer) return gk_fail(err, GK_EINVAL, "eer: output is NULL");
  uint64_t *keys = sorted_keys(tar, nt, non, nn, err);
  if (!keys) return GK_ENOMEM;
  point *h = gk_scratch_alloc(nt + nn + 1, sizeof *h);
  if (!h) {
    gk_scratch_free(keys);
    return gk_fail_nomem(err);
  }
  /* With the points on the hull's edges kept, the crossing segment's ends are the DET
   * points nearest to the crossing on either side: its threshold is an operating point as
   * near to the EER as any on the hull. The EER itself is the same either way. */
  size_t k = build_hull(keys, nt, nn, 1, h);
  /* The hull runs from (Pfa, Pmiss) = (1, 0) to (0, 1); Pfa - Pmiss falls strictly along it
   * (each step lowers Pfa or raises Pmiss). Find the first vertex j with Pfa <= Pmiss, in
   * counts fa nt <= miss nn; vertex 0 has Pfa = 1 > 0 = Pmiss, the last 0 < 1. */
  size_t j = 1;
  while (j < k - 1 && (uint64_t)h[j].fa * nt > (uint64_t)h[j].miss * nn) j++;
  const point *a = &h[j - 1], *b = &h[j];
  double e, near;
  if ((uint64_t)b->fa * nt == (uint64_t)b->miss * nn) {
    e = (double)b->miss / (double)nt;  /* the hull meets the diagonal at vertex b */
    near = 1;
  } else {
    /* rocch2eer: the line through a and b, x = Pfa, y = Pmiss, meets x = y at
     * e = (x_a y_b - x_b y_a) / ((y_b - y_a) - (x_b - x_a)); in counts (x = fa / nn,
     * y = miss / nt) e = (fa_a miss_b - fa_b miss_a) / ((miss_b - miss_a) nn + (fa_a - fa_b) nt).
     * Here neither difference is 0 (a horizontal or vertical hull segment lies on an
     * axis and cannot cross the diagonal between its ends), and the numerator is >= 0. */
    uint64_t num = (uint64_t)a->fa * b->miss - (uint64_t)b->fa * a->miss;
    double den = (double)(b->miss - a->miss) * (double)nn + (double)(a->fa - b->fa) * (double)nt;
    e = (double)num / den;
    /* Position of the crossing along a -> b, by Pmiss. */
    near = (e - (double)a->miss / (double)nt) / ((double)(b->miss - a->miss) / (double)nt);
  }
  *eer = e;
  if (threshold) *threshold = point_threshold(near < 0.5 ? a : b);
  gk_scratch_free(h);
  gk_scratch_free(keys);
  return GK_OK;
}

/* Normalised DCF of a point with error counts miss and fa. */
static double dcf_of(const gk_dcf_params *p, double pmiss, double pfa) {
  double wm = p->c_miss * p->p_target, wf = p->c_fa * (1 - p->p_target);
  return (wm * pmiss + wf * pfa) / (wm < wf ? wm : wf);
}

gk_status gk_eval_min_dcf(const double *tar, size_t nt, const double *non, size_t nn,
                          const gk_dcf_params *p, double *dcf, double *threshold,
                          gk_error *err) {
  gk_status st = check_lists(tar, nt, non, nn, err);
  if (st == GK_OK) st = gk_dcf_params_check(p, err);
  if (st != GK_OK) return st;
  if (!dcf) return gk_fail(err, GK_EINVAL, "min_dcf: output is NULL");
  uint64_t *keys = sorted_keys(tar, nt, non, nn, err);
  if (!keys) return GK_ENOMEM;
  walk w;
  point q, best = {0, 0, 0, 0};
  double bestv = HUGE_VAL;
  walk_init(&w, keys, nt, nn);
  while (walk_next(&w, &q)) {
    double v = dcf_of(p, (double)q.miss / (double)nt, (double)q.fa / (double)nn);
    if (v < bestv) {
      bestv = v;
      best = q;
    }
  }
  *dcf = bestv;
  if (threshold) *threshold = point_threshold(&best);
  gk_scratch_free(keys);
  return GK_OK;
}

gk_status gk_eval_act_dcf(const double *tar, size_t nt, const double *non, size_t nn,
                          double threshold, const gk_dcf_params *p, double *dcf,
                          double *pmiss, double *pfa, gk_error *err) {
  gk_status st = check_lists(tar, nt, non, nn, err);
  if (st == GK_OK) st = gk_dcf_params_check(p, err);
  if (st != GK_OK) return st;
  if (isnan(threshold)) return gk_fail(err, GK_EINVAL, "act_dcf: the threshold is NaN");
  size_t miss = 0, fa = 0;
  for (size_t i = 0; i < nt; i++) miss += tar[i] < threshold;
  for (size_t i = 0; i < nn; i++) fa += non[i] >= threshold;
  double pm = (double)miss / (double)nt, pf = (double)fa / (double)nn;
  if (dcf) *dcf = dcf_of(p, pm, pf);
  if (pmiss) *pmiss = pm;
  if (pfa) *pfa = pf;
  return GK_OK;
}

/* ---- score normalisation ------------------------------------------------------------- */

static gk_status check_f64(const gk_matrix *m, const char *name, gk_error *err) {
  if (!m || m->dtype != GK_FLOAT64 || (!m->data && m->rows * m->cols > 0))
    return gk_fail(err, GK_EINVAL, "%s must be a float64 matrix", name);
  const double *d = m->data;
  for (size_t i = 0; i < m->rows * m->cols; i++)
    if (isnan(d[i]))
      return gk_fail(err, GK_ENUMERIC, "%s: row %zu, column %zu is NaN", name, i / m->cols + 1,
                     i % m->cols + 1);
  return GK_OK;
}

/* Mean and population standard deviation of x[0..n) (two passes). With 0 < top < n only
 * the top largest values count: x is overwritten by its sorted keys' values (keys has
 * room for 2n keys). */
static void cohort_stats(double *x, size_t n, size_t top, uint64_t *keys, double *mu, double *sd) {
  const double *v = x;
  if (top > 0 && top < n) {
    for (size_t i = 0; i < n; i++) keys[i] = key_of(x[i]);
    sort_keys(keys, keys + n, n);
    for (size_t i = 0; i < top; i++) x[i] = value_of(keys[n - top + i]);
    n = top;
  }
  double s = 0, ss = 0;
  for (size_t i = 0; i < n; i++) s += v[i];
  double m = s / (double)n;
  for (size_t i = 0; i < n; i++) ss += (v[i] - m) * (v[i] - m);
  *mu = m;
  *sd = sqrt(ss / (double)n);
}

/* Statistics of each row (by_col 0) or column (by_col 1) of the cohort matrix C into
 * mu[] and sd[]; `name` and `what` for messages. */
static gk_status cohort(const gk_matrix *C, int by_col, size_t top, const char *name, double *mu,
                        double *sd, gk_error *err) {
  size_t groups = by_col ? C->cols : C->rows, n = by_col ? C->rows : C->cols;
  const double *d = C->data;
  double *x = gk_scratch_alloc(n, sizeof *x);
  uint64_t *keys = top > 0 && top < n ? gk_scratch_alloc(2 * n, sizeof *keys) : NULL;
  if (!x || (top > 0 && top < n && !keys)) {
    gk_scratch_free(x);
    gk_scratch_free(keys);
    return gk_fail_nomem(err);
  }
  gk_status st = GK_OK;
  for (size_t g = 0; g < groups && st == GK_OK; g++) {
    for (size_t i = 0; i < n; i++) x[i] = by_col ? d[i * C->cols + g] : d[g * C->cols + i];
    cohort_stats(x, n, top, keys, &mu[g], &sd[g]);
    if (!(sd[g] > 0 && sd[g] < HUGE_VAL && isfinite(mu[g])))
      st = gk_fail(err, GK_ENUMERIC, "%s: the cohort scores of %s %zu have standard deviation %g "
                   "and mean %g (they must be finite and not all equal)",
                   name, by_col ? "column" : "row", g + 1, sd[g], mu[g]);
  }
  gk_scratch_free(x);
  gk_scratch_free(keys);
  return st;
}

static gk_status check_norm(const gk_matrix *S, const gk_matrix *E, const gk_matrix *T, size_t top,
                            const gk_matrix *dst, gk_error *err) {
  gk_status st = check_f64(S, "S", err);
  if (st == GK_OK && E) st = check_f64(E, "E", err);
  if (st == GK_OK && T) st = check_f64(T, "T", err);
  if (st == GK_OK && (!dst || dst->dtype != GK_FLOAT64 || dst->rows != S->rows || dst->cols != S->cols))
    st = gk_fail(err, GK_EINVAL, "the output must be a float64 %zu x %zu matrix", S->rows, S->cols);
  if (st != GK_OK) return st;
  if (E && E->rows != S->rows)
    return gk_fail(err, GK_EINVAL, "E is %zu x %zu: it needs one row of impostor scores for each of "
                   "the %zu rows (models) of S", E->rows, E->cols, S->rows);
  if (T && T->cols != S->cols)
    return gk_fail(err, GK_EINVAL, "T is %zu x %zu: it needs one column of cohort scores for each of "
                   "the %zu columns (test utterances) of S", T->rows, T->cols, S->cols);
  size_t ne = E ? E->cols : SIZE_MAX, nc = T ? T->rows : SIZE_MAX;
  if (E && S->rows > 0 && ne < 2)
    return gk_fail(err, GK_EINVAL, "E has %zu column(s): a cohort needs at least 2 scores", ne);
  if (T && S->cols > 0 && nc < 2)
    return gk_fail(err, GK_EINVAL, "T has %zu row(s): a cohort needs at least 2 scores", nc);
  if (top == 1) return gk_fail(err, GK_EINVAL, "option 'top' must be 0 (all) or >= 2, got 1");
  if (top > 0 && E && S->rows > 0 && top > ne)
    return gk_fail(err, GK_EINVAL, "option 'top' = %zu exceeds the %zu impostor scores per row of E", top, ne);
  if (top > 0 && T && S->cols > 0 && top > nc)
    return gk_fail(err, GK_EINVAL, "option 'top' = %zu exceeds the %zu cohort scores per column of T", top, nc);
  return GK_OK;
}

/* dst = wz znorm + wt tnorm, computed into dst after all statistics are known (dst may be S). */
static gk_status norm(const gk_matrix *S, const gk_matrix *E, const gk_matrix *T, size_t top,
                      gk_matrix *dst, gk_error *err) {
  gk_status st = check_norm(S, E, T, top, dst, err);
  if (st != GK_OK) return st;
  size_t r = S->rows, c = S->cols;
  if (r == 0 || c == 0) return GK_OK;
  double *zmu = NULL, *zsd = NULL, *tmu = NULL, *tsd = NULL;
  double *buf = gk_scratch_alloc(2 * ((E ? r : 0) + (T ? c : 0)), sizeof *buf);
  if (!buf) return gk_fail_nomem(err);
  double *q = buf;
  if (E) {
    zmu = q;
    zsd = q + r;
    q += 2 * r;
    st = cohort(E, 0, top, "E", zmu, zsd, err);
  }
  if (T && st == GK_OK) {
    tmu = q;
    tsd = q + c;
    st = cohort(T, 1, top, "T", tmu, tsd, err);
  }
  if (st == GK_OK) {
    const double *s = S->data;
    double *o = dst->data;
    for (size_t i = 0; i < r; i++)
      for (size_t j = 0; j < c; j++) {
        double v = s[i * c + j];
        if (E && T) o[i * c + j] = 0.5 * ((v - zmu[i]) / zsd[i] + (v - tmu[j]) / tsd[j]);
        else if (E) o[i * c + j] = (v - zmu[i]) / zsd[i];
        else o[i * c + j] = (v - tmu[j]) / tsd[j];
      }
  }
  gk_scratch_free(buf);
  return st;
}

gk_status gk_eval_znorm(const gk_matrix *S, const gk_matrix *E, size_t top, gk_matrix *dst,
                        gk_error *err) {
  if (!E) return gk_fail(err, GK_EINVAL, "znorm: E is NULL");
  return norm(S, E, NULL, top, dst, err);
}

gk_status gk_eval_tnorm(const gk_matrix *S, const gk_matrix *T, size_t top, gk_matrix *dst,
                        gk_error *err) {
  if (!T) return gk_fail(err, GK_EINVAL, "tnorm: T is NULL");
  return norm(S, NULL, T, top, dst, err);
}

gk_status gk_eval_snorm(const gk_matrix *S, const gk_matrix *E, const gk_matrix *T, size_t top,
                        gk_matrix *dst, gk_error *err) {
  if (!E || !T) return gk_fail(err, GK_EINVAL, "snorm: E or T is NULL");
  return norm(S, E, T, top, dst, err);
}
