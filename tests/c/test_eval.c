/* test_eval.c: DET, EER, min/act DCF and score normalisation (gmmkit/eval.h) against a
 * hand-worked example with ties, brute-force counts over all thresholds, and a
 * transcription of the BOSARIS toolkit's own algorithm (rocch.m by pool-adjacent-violators,
 * rocch2eer.m), which builds the hull in a different way from the library. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "gmmkit/gmmkit.h"
#include "gmmkit/eval.h"
#include "gmmkit/random.h"
#include "gk_test.h"

/* ---- references ------------------------------------------------------------------------ */

/* Error rates at threshold t (accept when score >= t), by counting. */
static void rates(const double *tar, size_t nt, const double *non, size_t nn, double t, double *pm,
                  double *pf) {
  size_t m = 0, f = 0;
  for (size_t i = 0; i < nt; i++) m += tar[i] < t;
  for (size_t i = 0; i < nn; i++) f += non[i] >= t;
  *pm = (double)m / (double)nt;
  *pf = (double)f / (double)nn;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The thresholds of the curve: the distinct scores ascending, then +inf; returns the count. */
static size_t thresholds(const double *tar, size_t nt, const double *non, size_t nn, double *t) {
  size_t n = 0;
  for (size_t i = 0; i < nt; i++) t[n++] = tar[i];
  for (size_t i = 0; i < nn; i++) t[n++] = non[i];
  qsort(t, n, sizeof *t, cmp_double);
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (m == 0 || t[i] != t[m - 1]) t[m++] = t[i];
  t[m++] = HUGE_VAL;
  return m;
}

static double dcf_norm(double pt, double cm, double cf, double pm, double pf) {
  double wm = cm * pt, wf = cf * (1 - pt);
  return (wm * pm + wf * pf) / fmin(wm, wf);
}

/* BOSARIS rocch.m and rocch2eer.m, transcribed. rocch: scores [tar, non] sorted by a stable
 * sort (a tie keeps targets before non-targets), the ideal posteriors (1 target, 0 not)
 * made monotone by pool-adjacent-violators (a tied target/non-target pair is a violation,
 * so ties end up in one bin), the hull points at the bin boundaries. rocch2eer: the largest
 * value where a segment's line x a + y b = 1 meets x = y (0 for axis-parallel segments). */
static double bosaris_eer(const double *tar, size_t nt, const double *non, size_t nn) {
  size_t n = nt + nn;
  double *s = malloc(n * sizeof *s), *lab = malloc(n * sizeof *lab), *val = malloc(n * sizeof *val);
  size_t *w = malloc(n * sizeof *w);
  double *pm = malloc((n + 1) * sizeof *pm), *pf = malloc((n + 1) * sizeof *pf);
  for (size_t i = 0; i < nt; i++) s[i] = tar[i], lab[i] = 1;
  for (size_t i = 0; i < nn; i++) s[nt + i] = non[i], lab[nt + i] = 0;
  for (size_t i = 1; i < n; i++) { /* stable insertion sort */
    double v = s[i], l = lab[i];
    size_t j = i;
    for (; j > 0 && s[j - 1] > v; j--) s[j] = s[j - 1], lab[j] = lab[j - 1];
    s[j] = v, lab[j] = l;
  }
  size_t nb = 0; /* PAV: bins of value val[b] and width w[b] */
  for (size_t i = 0; i < n; i++) {
    val[nb] = lab[i];
    w[nb] = 1;
    nb++;
    while (nb > 1 && val[nb - 2] >= val[nb - 1]) {
      val[nb - 2] = (val[nb - 2] * (double)w[nb - 2] + val[nb - 1] * (double)w[nb - 1]) /
                    (double)(w[nb - 2] + w[nb - 1]);
      w[nb - 2] += w[nb - 1];
      nb--;
    }
  }
  /* rocch.m pools equal neighbours too (its pavx merges while val(i-1) >= val(i)); the
   * hull is the same either way, only collinear points differ. */
  size_t left = 0, miss = 0, fa = nn;
  for (size_t b = 0; b < nb; b++) {
    pm[b] = (double)miss / (double)nt;
    pf[b] = (double)fa / (double)nn;
    left += w[b];
    miss = 0;
    for (size_t i = 0; i < left; i++) miss += lab[i] == 1;
    fa = nn - (left - miss);
  }
  pm[nb] = (double)miss / (double)nt;
  pf[nb] = (double)fa / (double)nn;
  double eer = 0;
  for (size_t i = 0; i < nb; i++) {
    double x1 = pf[i], x2 = pf[i + 1], y1 = pm[i], y2 = pm[i + 1];
    if (x1 - x2 == 0 || y1 - y2 == 0) continue;
    double det = x1 * y2 - x2 * y1; /* [x1 y1; x2 y2] \ [1; 1] = [y2 - y1; x1 - x2] / det */
    double e = det / ((y2 - y1) + (x1 - x2));
    if (e > eer) eer = e;
  }
  free(s), free(lab), free(val), free(w), free(pm), free(pf);
  return eer;
}

/* ---- the hand-worked example ------------------------------------------------------------
 * tar = {1, 2, 2}, non = {0, 2, 3}: 3 targets, 3 non-targets, a tie at 2 between two
 * targets and one non-target. Distinct scores 0 < 1 < 2 < 3; accept when score >= t:
 *   point  t    misses (tar < t)  false alarms (non >= t)   Pmiss  Pfa
 *   0      0    0                 3                          0      1
 *   1      1    0                 2   (0 passed)             0      2/3
 *   2      2    1   (1 passed)    2                          1/3    2/3
 *   3      3    3   (2, 2 passed) 1   (2 passed with them)   1      1/3
 *   4      inf  3                 0                          1      0
 * Convex hull in (Pfa, Pmiss): from A(1, 0) to B(2/3, 0); from B the chord to E(0, 1) has
 * Pmiss = 1 - 1.5 Pfa, and every other point lies above it (C(2/3, 1/3): 1/3 > 0, D(1/3, 1):
 * 1 > 1/2), so the hull is A, B, E. It meets Pmiss = Pfa where x = 1 - 1.5 x: EER = 0.4,
 * at 0.4 of the way from B to E, so B (threshold 1) is the nearer vertex.
 * Had the tie been split with the non-target first, the point (Pfa, Pmiss) = (1/3, 1/3)
 * would exist and give EER 1/3: ties must move together.
 * minDCF, p_target 0.5, costs 1: normaliser 0.5, DCF = Pmiss + Pfa = 1, 2/3, 1, 4/3, 1:
 * 2/3 at threshold 1. Default p_target 0.01: DCF = Pmiss + 99 Pfa = 99, 66, 66.33, 34, 1:
 * 1 at threshold inf (reject all). actDCF at 2.5 (p 0.5): Pmiss 1, Pfa 1/3: 4/3. */
static void test_hand_example(void) {
  const double tar[] = {1, 2, 2}, non[] = {0, 2, 3};
  const double pm[] = {0, 0, 1.0 / 3, 1, 1}, pf[] = {1, 2.0 / 3, 2.0 / 3, 1.0 / 3, 0};
  const double th[] = {0, 1, 2, 3, HUGE_VAL};
  double m[7], f[7], t[7], e, thr, dcf, a, b;
  size_t n;
  gk_error err;
  GK_CHECK_OK(gk_eval_det(tar, 3, non, 3, 0, &n, m, f, t, &err), &err);
  GK_CHECK(n == 5);
  for (size_t i = 0; i < 5; i++) {
    GK_CHECK_NEAR(m[i], pm[i], 1e-15);
    GK_CHECK_NEAR(f[i], pf[i], 1e-15);
    GK_CHECK(t[i] == th[i]);
  }
  GK_CHECK_OK(gk_eval_det(tar, 3, non, 3, 1, &n, m, f, t, &err), &err);
  GK_CHECK(n == 3);
  GK_CHECK(m[0] == 0 && f[0] == 1 && t[0] == 0);
  GK_CHECK(m[1] == 0 && fabs(f[1] - 2.0 / 3) < 1e-15 && t[1] == 1);
  GK_CHECK(m[2] == 1 && f[2] == 0 && t[2] == HUGE_VAL);
  GK_CHECK_OK(gk_eval_eer(tar, 3, non, 3, &e, &thr, &err), &err);
  GK_CHECK_NEAR(e, 0.4, 1e-15);
  GK_CHECK(thr == 1);
  GK_CHECK_NEAR(bosaris_eer(tar, 3, non, 3), 0.4, 1e-15);
  gk_dcf_params p = {0.5, 1, 1};
  GK_CHECK_OK(gk_eval_min_dcf(tar, 3, non, 3, &p, &dcf, &thr, &err), &err);
  GK_CHECK_NEAR(dcf, 2.0 / 3, 1e-15);
  GK_CHECK(thr == 1);
  GK_CHECK_OK(gk_eval_act_dcf(tar, 3, non, 3, 2.5, &p, &dcf, &a, &b, &err), &err);
  GK_CHECK_NEAR(dcf, 4.0 / 3, 1e-15);
  GK_CHECK(a == 1 && fabs(b - 1.0 / 3) < 1e-15);
  gk_dcf_params_default(&p);
  GK_CHECK_OK(gk_eval_min_dcf(tar, 3, non, 3, &p, &dcf, &thr, &err), &err);
  GK_CHECK_NEAR(dcf, 1, 1e-15);
  GK_CHECK(thr == HUGE_VAL);
}

/* Edge cases by hand: perfect separation (EER 0), complete inversion (EER 0.5: the hull runs
 * from (1, 0) to (0, 1), so it is never above the chord of random guessing), all scores
 * equal (one step from (0, 1) to (1, 0): EER 0.5), one score each. */
static void test_edges(void) {
  double e, thr;
  gk_error err;
  const double t1[] = {2, 3}, n1[] = {0, 1};
  GK_CHECK_OK(gk_eval_eer(t1, 2, n1, 2, &e, &thr, &err), &err);
  GK_CHECK(e == 0 && thr == 2);
  GK_CHECK_OK(gk_eval_eer(n1, 2, t1, 2, &e, &thr, &err), &err);
  GK_CHECK(e == 0.5 && bosaris_eer(n1, 2, t1, 2) == 0.5);
  /* tar {1, 3}, non {2, 4}: (Pfa, Pmiss) = (1/2, 1/2) at threshold 3 lies on the chord from
   * (1, 0) to (0, 1), the whole hull: it is the crossing itself. */
  const double t2[] = {1, 3}, n2[] = {2, 4};
  GK_CHECK_OK(gk_eval_eer(t2, 2, n2, 2, &e, &thr, &err), &err);
  GK_CHECK(e == 0.5 && thr == 3);
  const double c[] = {5, 5, 5};
  GK_CHECK_OK(gk_eval_eer(c, 3, c, 2, &e, &thr, &err), &err);
  GK_CHECK_NEAR(e, 0.5, 1e-15);
  const double a0[] = {0.0}, b0[] = {-0.0}; /* -0 equals 0: one tie */
  size_t n;
  double m[3], f[3];
  GK_CHECK_OK(gk_eval_det(a0, 1, b0, 1, 0, &n, m, f, NULL, &err), &err);
  GK_CHECK(n == 2 && m[1] == 1 && f[1] == 0);
  const double inf[] = {HUGE_VAL, -HUGE_VAL, 1};
  GK_CHECK_OK(gk_eval_eer(inf, 3, n1, 2, &e, &thr, &err), &err);
  GK_CHECK_NEAR(e, bosaris_eer(inf, 3, n1, 2), 1e-15);
}

/* Whether (pm, pf) lies on the hull with vertices (m[j], f[j]), j < nh: on an edge, within
 * rounding. */
static int on_hull(const double *m, const double *f, size_t nh, double pm, double pf) {
  for (size_t j = 0; j + 1 < nh; j++)
    if (pf <= f[j] && pf >= f[j + 1] && pm >= m[j] && pm <= m[j + 1] &&
        fabs((f[j + 1] - f[j]) * (pm - m[j]) - (m[j + 1] - m[j]) * (pf - f[j])) <= 1e-12)
      return 1;
  return 0;
}

/* Random scores on a coarse grid (many ties), sizes from 1 to a few hundred, against the
 * brute-force references: every DET point against counts at its threshold, minDCF against
 * the minimum over all thresholds, the EER against the BOSARIS transcription. */
static void test_random_against_bruteforce(void) {
  gk_rng rng;
  gk_rng_seed(&rng, 15, 0);
  gk_error err;
  for (int trial = 0; trial < 300; trial++) {
    size_t nt = 1 + (size_t)gk_rng_below(&rng, trial < 100 ? 8 : 300);
    size_t nn = 1 + (size_t)gk_rng_below(&rng, trial < 100 ? 8 : 600);
    double grid = trial % 3 == 0 ? 0 : trial % 3 == 1 ? 4 : 0.5; /* 0: continuous */
    double *tar = malloc(nt * sizeof *tar), *non = malloc(nn * sizeof *non);
    for (size_t i = 0; i < nt; i++) {
      double v = 1.5 + gk_rng_normal(&rng);
      tar[i] = grid > 0 ? floor(v * grid) / grid : v;
    }
    for (size_t i = 0; i < nn; i++) {
      double v = gk_rng_normal(&rng);
      non[i] = grid > 0 ? floor(v * grid) / grid : v;
    }
    size_t cap = nt + nn + 1, n, nh;
    double *t = malloc(cap * sizeof *t), *m = malloc(cap * sizeof *m), *f = malloc(cap * sizeof *f);
    double *th = malloc(cap * sizeof *th);
    size_t nref = thresholds(tar, nt, non, nn, t);
    GK_CHECK_OK(gk_eval_det(tar, nt, non, nn, 0, &n, m, f, th, &err), &err);
    GK_CHECK(n == nref);
    for (size_t i = 0; i < n && n == nref; i++) {
      double pm, pf;
      rates(tar, nt, non, nn, t[i], &pm, &pf);
      GK_CHECK(th[i] == t[i]);
      GK_CHECK(m[i] == pm && f[i] == pf);
    }
    /* Hull vertices: a subset of the points, and no point lies below a hull segment. */
    GK_CHECK_OK(gk_eval_det(tar, nt, non, nn, 1, &nh, m, f, th, &err), &err);
    for (size_t j = 0; j + 1 < nh; j++)
      for (size_t i = 0; i < nref; i++) {
        double pm, pf;
        rates(tar, nt, non, nn, t[i], &pm, &pf);
        /* (segment) x (point - start) in (Pfa, Pmiss): > 0 would put the point below the hull */
        double cr = (f[j + 1] - f[j]) * (pm - m[j]) - (m[j + 1] - m[j]) * (pf - f[j]);
        GK_CHECK(cr <= 1e-12);
      }
    double e, thr;
    GK_CHECK_OK(gk_eval_eer(tar, nt, non, nn, &e, &thr, &err), &err);
    GK_CHECK_NEAR(e, bosaris_eer(tar, nt, non, nn), 1e-12);
    double pm, pf;
    /* The threshold's point lies on the hull, and no DET point on the hull is nearer to
     * the crossing in Pmiss. */
    rates(tar, nt, non, nn, thr, &pm, &pf);
    GK_CHECK(on_hull(m, f, nh, pm, pf));
    for (size_t i = 0; i < nref; i++) {
      double qm, qf;
      rates(tar, nt, non, nn, t[i], &qm, &qf);
      if (on_hull(m, f, nh, qm, qf)) GK_CHECK(fabs(pm - e) <= fabs(qm - e) + 1e-12);
    }
    double pts[] = {0.01, 0.001, 0.5, 0.3};
    for (int k = 0; k < 4; k++) {
      gk_dcf_params p = {pts[k], k == 3 ? 10 : 1, k == 2 ? 3 : 1};
      double best = HUGE_VAL, dcf, a, b;
      for (size_t i = 0; i < nref; i++) {
        rates(tar, nt, non, nn, t[i], &pm, &pf);
        best = fmin(best, dcf_norm(p.p_target, p.c_miss, p.c_fa, pm, pf));
      }
      GK_CHECK_OK(gk_eval_min_dcf(tar, nt, non, nn, &p, &dcf, &thr, &err), &err);
      GK_CHECK_NEAR(dcf, best, 1e-12);
      GK_CHECK_OK(gk_eval_act_dcf(tar, nt, non, nn, thr, &p, &a, NULL, NULL, &err), &err);
      GK_CHECK_NEAR(a, best, 1e-12);
      double t0 = tar[gk_rng_below(&rng, nt)] + (trial % 2 ? 0 : 0.1);
      rates(tar, nt, non, nn, t0, &pm, &pf);
      GK_CHECK_OK(gk_eval_act_dcf(tar, nt, non, nn, t0, &p, &dcf, &a, &b, &err), &err);
      GK_CHECK(a == pm && b == pf);
      GK_CHECK_NEAR(dcf, dcf_norm(p.p_target, p.c_miss, p.c_fa, pm, pf), 1e-12);
    }
    free(tar), free(non), free(t), free(m), free(f), free(th);
  }
}

static void test_bad_input(void) {
  const double x[] = {1, 2}, nanv[] = {1, NAN};
  double e, thr, dcf;
  size_t n;
  gk_error err;
  gk_dcf_params p;
  GK_CHECK(gk_eval_eer(x, 0, x, 2, &e, &thr, &err) == GK_EINVAL);
  GK_CHECK(strstr(err.message, "target scores") != NULL);
  GK_CHECK(gk_eval_eer(x, 2, x, 0, &e, &thr, &err) == GK_EINVAL);
  GK_CHECK(strstr(err.message, "non-target") != NULL);
  GK_CHECK(gk_eval_eer(nanv, 2, x, 2, &e, &thr, &err) == GK_ENUMERIC);
  GK_CHECK(strstr(err.message, "score 2 is NaN") != NULL);
  GK_CHECK(gk_eval_det(x, 2, nanv, 2, 0, &n, NULL, NULL, NULL, &err) == GK_ENUMERIC);
  gk_dcf_params_default(&p);
  p.p_target = 1;
  GK_CHECK(gk_eval_min_dcf(x, 2, x, 2, &p, &dcf, &thr, &err) == GK_EINVAL);
  GK_CHECK(strstr(err.message, "p_target") != NULL);
  p.p_target = 0.5;
  p.c_fa = -1;
  GK_CHECK(gk_eval_min_dcf(x, 2, x, 2, &p, &dcf, &thr, &err) == GK_EINVAL);
  GK_CHECK(strstr(err.message, "c_fa") != NULL);
  p.c_fa = 1;
  p.c_miss = 0;
  GK_CHECK(gk_eval_act_dcf(x, 2, x, 2, 0, &p, &dcf, NULL, NULL, &err) == GK_EINVAL);
  GK_CHECK(strstr(err.message, "c_miss") != NULL);
  p.c_miss = 1;
  GK_CHECK(gk_eval_act_dcf(x, 2, x, 2, NAN, &p, &dcf, NULL, NULL, &err) == GK_EINVAL);
  gk_dcf_params_default(&p);
  GK_CHECK(gk_eval_act_dcf(x, 2, x, 2, -HUGE_VAL, &p, &dcf, NULL, NULL, &err) == GK_OK);
  GK_CHECK_NEAR(dcf, 99, 1e-12);  /* accept all: Pfa 1, 0.99 / 0.01 */
}

/* ---- score normalisation ------------------------------------------------------------------ */

static int cmp_desc(const void *a, const void *b) { return cmp_double(b, a); }

/* Mean and population sd of the `top` largest of x[0..n) (all when top is 0), by sorting. */
static void ref_stats(const double *x, size_t n, size_t top, double *mu, double *sd) {
  double *y = malloc(n * sizeof *y);
  memcpy(y, x, n * sizeof *y);
  qsort(y, n, sizeof *y, cmp_desc);
  size_t k = top ? top : n;
  double s = 0, ss = 0;
  for (size_t i = 0; i < k; i++) s += y[i];
  for (size_t i = 0; i < k; i++) ss += (y[i] - s / (double)k) * (y[i] - s / (double)k);
  *mu = s / (double)k;
  *sd = sqrt(ss / (double)k);
  free(y);
}

/* By hand: S = [1 2; 3 4], E = [0 2; 1 5]: row 1 of E {0, 2} has mean 1, sd 1; row 2
 * {1, 5} mean 3, sd 2, so znorm(S) = [0 1; 0 0.5]. T = [0 1; 2 1; 4 4], columns {0, 2, 4} (mean 2, sd
 * sqrt(8/3)) and {1, 1, 4} (mean 2, sd sqrt(2)): tnorm(S) = [(1-2)/sqrt(8/3), 0;
 * (3-2)/sqrt(8/3), 2/sqrt(2)]. top 2 of column 1: {4, 2}: mean 3, sd 1; of column 2 {4, 1}:
 * mean 2.5, sd 1.5. */
static void test_norm_hand(void) {
  double s[] = {1, 2, 3, 4}, e[] = {0, 2, 1, 5}, t[] = {0, 1, 2, 1, 4, 4}, o[4];
  gk_matrix S = gk_matrix_view(2, 2, GK_FLOAT64, s), E = gk_matrix_view(2, 2, GK_FLOAT64, e);
  gk_matrix T = gk_matrix_view(3, 2, GK_FLOAT64, t), O = gk_matrix_view(2, 2, GK_FLOAT64, o);
  gk_error err;
  GK_CHECK_OK(gk_eval_znorm(&S, &E, 0, &O, &err), &err);
  GK_CHECK(o[0] == 0 && o[1] == 1 && o[2] == 0 && o[3] == 0.5);
  GK_CHECK_OK(gk_eval_tnorm(&S, &T, 0, &O, &err), &err);
  GK_CHECK_NEAR(o[0], -1 / sqrt(8.0 / 3), 1e-15);
  GK_CHECK_NEAR(o[1], 0, 1e-15);
  GK_CHECK_NEAR(o[2], 1 / sqrt(8.0 / 3), 1e-15);
  GK_CHECK_NEAR(o[3], 2 / sqrt(2.0), 1e-15);
  GK_CHECK_OK(gk_eval_tnorm(&S, &T, 2, &O, &err), &err);
  GK_CHECK_NEAR(o[0], -2, 1e-15);
  GK_CHECK_NEAR(o[1], -0.5 / 1.5, 1e-15);
  GK_CHECK_OK(gk_eval_snorm(&S, &E, &T, 0, &O, &err), &err);
  GK_CHECK_NEAR(o[3], 0.5 * (0.5 + 2 / sqrt(2.0)), 1e-15);
  /* in place */
  double s2[] = {1, 2, 3, 4};
  gk_matrix S2 = gk_matrix_view(2, 2, GK_FLOAT64, s2);
  GK_CHECK_OK(gk_eval_znorm(&S2, &E, 0, &S2, &err), &err);
  GK_CHECK(s2[0] == 0 && s2[1] == 1 && s2[2] == 0 && s2[3] == 0.5);
}

static void test_norm_random(void) {
  gk_rng rng;
  gk_rng_seed(&rng, 7, 0);
  gk_error err;
  size_t r = 7, c = 9, ne = 150, nc = 80;
  double *s = malloc(r * c * sizeof *s), *e = malloc(r * ne * sizeof *e), *t = malloc(nc * c * sizeof *t);
  double *o = malloc(r * c * sizeof *o), *col = malloc(nc * sizeof *col);
  for (size_t i = 0; i < r * c; i++) s[i] = 3 * gk_rng_normal(&rng) + 1;
  for (size_t i = 0; i < r * ne; i++) e[i] = 2 * gk_rng_normal(&rng) - 1;
  for (size_t i = 0; i < nc * c; i++) t[i] = gk_rng_normal(&rng) + 0.5;
  gk_matrix S = gk_matrix_view(r, c, GK_FLOAT64, s), E = gk_matrix_view(r, ne, GK_FLOAT64, e);
  gk_matrix T = gk_matrix_view(nc, c, GK_FLOAT64, t), O = gk_matrix_view(r, c, GK_FLOAT64, o);
  size_t tops[] = {0, 2, 10, 80};
  for (int k = 0; k < 4; k++) {
    size_t top = tops[k];
    GK_CHECK_OK(gk_eval_snorm(&S, &E, &T, top, &O, &err), &err);
    for (size_t i = 0; i < r; i++)
      for (size_t j = 0; j < c; j++) {
        double zm, zs, tm, ts;
        ref_stats(e + i * ne, ne, top, &zm, &zs);
        for (size_t q = 0; q < nc; q++) col[q] = t[q * c + j];
        ref_stats(col, nc, top, &tm, &ts);
        double v = s[i * c + j];
        GK_CHECK_NEAR(o[i * c + j], 0.5 * ((v - zm) / zs + (v - tm) / ts), 1e-12);
      }
  }
  free(s), free(e), free(t), free(o), free(col);
}

static void test_norm_bad(void) {
  double s[] = {1, 2, 3, 4}, e[] = {1, 1, 0, 2, 7, 8}, o[4];
  gk_matrix S = gk_matrix_view(2, 2, GK_FLOAT64, s), O = gk_matrix_view(2, 2, GK_FLOAT64, o);
  gk_matrix E = gk_matrix_view(2, 2, GK_FLOAT64, e), E3 = gk_matrix_view(3, 2, GK_FLOAT64, e);
  gk_matrix E1 = gk_matrix_view(2, 1, GK_FLOAT64, e);
  gk_error err;
  GK_CHECK(gk_eval_znorm(&S, &E, 0, &O, &err) == GK_ENUMERIC);  /* row 1 {1, 1}: sd 0 */
  GK_CHECK(strstr(err.message, "row 1") != NULL);
  GK_CHECK(gk_eval_znorm(&S, &E3, 0, &O, &err) == GK_EINVAL);
  GK_CHECK(gk_eval_znorm(&S, &E1, 0, &O, &err) == GK_EINVAL);
  GK_CHECK(gk_eval_tnorm(&S, &E3, 3, &O, &err) == GK_OK); /* top = the 3 cohort rows: all */
  s[3] = NAN;
  GK_CHECK(gk_eval_tnorm(&S, &E3, 0, &O, &err) == GK_ENUMERIC);
  GK_CHECK(strstr(err.message, "row 2, column 2") != NULL);
  s[3] = 4;
  GK_CHECK(gk_eval_tnorm(&S, &E3, 4, &O, &err) == GK_EINVAL);
  GK_CHECK(gk_eval_tnorm(&S, &E3, 1, &O, &err) == GK_EINVAL);
}

/* Not a check: the time of eer and min_dcf on 10^6 scores (5 10^5 of each kind). */
static void test_speed(void) {
  size_t n = 500000;
  double *tar = malloc(n * sizeof *tar), *non = malloc(n * sizeof *non), e, thr, dcf;
  gk_rng rng;
  gk_rng_seed(&rng, 3, 0);
  for (size_t i = 0; i < n; i++) tar[i] = 2 + gk_rng_normal(&rng), non[i] = gk_rng_normal(&rng);
  gk_error err;
  gk_dcf_params p;
  gk_dcf_params_default(&p);
  double t0 = gk_seconds();
  GK_CHECK_OK(gk_eval_eer(tar, n, non, n, &e, &thr, &err), &err);
  double t1 = gk_seconds();
  GK_CHECK_OK(gk_eval_min_dcf(tar, n, non, n, &p, &dcf, &thr, &err), &err);
  double t2 = gk_seconds();
  /* Two unit-variance normals 2 apart: EER = Phi(-1) = 0.1587; 10^6 samples get within 0.002. */
  GK_CHECK_NEAR(e, 0.158655, 0.002);
  printf("eer on 1e6 scores: %.1f ms (EER %.4f); min_dcf: %.1f ms\n", 1e3 * (t1 - t0), e, 1e3 * (t2 - t1));
  free(tar), free(non);
}

int main(void) {
  GK_RUN(test_hand_example);
  GK_RUN(test_edges);
  GK_RUN(test_random_against_bruteforce);
  GK_RUN(test_bad_input);
  GK_RUN(test_norm_hand);
  GK_RUN(test_norm_random);
  GK_RUN(test_norm_bad);
  GK_RUN(test_speed);
  return GK_TEST_SUMMARY();
}
