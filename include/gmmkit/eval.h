/*
 * gmmkit/eval.h: evaluation of a detector (speaker verification) from its target and
 * non-target scores, as NIST SRE and the BOSARIS toolkit define it: the DET curve, the
 * equal error rate on the ROC convex hull, the minimum and actual detection cost, and
 * the score normalisations of score matrices (Z-, T-, S-norm and adaptive S-norm).
 *
 * One decision rule everywhere: a trial is accepted when its score >= the threshold, so
 *   Pmiss(t) = #{target scores < t} / #targets,   Pfa(t) = #{non-target scores >= t} / #non-targets.
 * The curve is taken over all thresholds: t runs through the distinct scores s_1 < ... < s_m
 * of both lists together, then +inf (reject all). Point i (0-based, i = 0..m) has threshold
 * t_i = s_{i+1} (t_m = +inf); point 0 is (Pmiss, Pfa) = (0, 1), point m is (1, 0). Tied
 * target and non-target scores therefore move together, in one step. (Where a score is
 * +inf, t = +inf also names the point that accepts those scores; no threshold then
 * rejects all, and the last point keeps t = +inf.)
 *
 * Scores are float64 arrays; NaN is GK_ENUMERIC, +-inf is an ordinary (extreme) score,
 * -0.0 equals 0.0. Each list must be non-empty and shorter than 2^32 (the convex hull is
 * decided exactly on integer counts). Inputs are only read; every function sorts copies
 * once (O(n log n), a radix sort of the IEEE bit patterns) in scratch memory freed before
 * it returns. Functions are re-entrant.
 *
 * Score matrices are float64 row-major: rows are models (enrolments), columns test
 * utterances, as in the BOSARIS Scores object.
 */
#ifndef GMMKIT_EVAL_H
#define GMMKIT_EVAL_H

#include <stddef.h>
#include "gmmkit/error.h"
#include "gmmkit/matrix.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parameters of the NIST SRE detection cost
 *   DCF(t) = c_miss p_target Pmiss(t) + c_fa (1 - p_target) Pfa(t),
 * reported normalised by the cost of the better trivial system,
 * min(c_miss p_target, c_fa (1 - p_target)). 0 < p_target < 1, c_miss > 0, c_fa > 0. */
typedef struct gk_dcf_params {
  double p_target;  /* prior probability of a target trial */
  double c_miss;    /* cost of a miss */
  double c_fa;      /* cost of a false alarm */
} gk_dcf_params;

/* NIST SRE 2008-2012 core conditions: p_target 0.01, c_miss 1, c_fa 1. */
void gk_dcf_params_default(gk_dcf_params *p);

/* Checks `p` (GK_EINVAL naming the field when out of its domain). */
gk_status gk_dcf_params_check(const gk_dcf_params *p, gk_error *err);

/* The DET curve over all thresholds (see above): *npoints = m + 1 points, m the number of
 * distinct scores. pmiss, pfa and threshold (each may be NULL) need room for nt + nn + 1
 * values. With hull != 0 only the vertices of the ROC convex hull are kept (BOSARIS
 * rocch: the lower-left convex hull of the points, from (0, 1) to (1, 0) in (Pmiss, Pfa);
 * collinear points are dropped), each with the threshold of its DET point. */
gk_status gk_eval_det(const double *tar, size_t nt, const double *non, size_t nn, int hull,
                      size_t *npoints, double *pmiss, double *pfa, double *threshold,
                      gk_error *err);

/* Equal error rate by the ROC convex hull (BOSARIS toolkit, rocch2eer): the value where the
 * hull of the DET points crosses Pmiss = Pfa, interpolated linearly on the hull segment
 * that crosses it. The hull joins (Pfa, Pmiss) = (1, 0) to (0, 1), so the EER is at most
 * 0.5 (the chord between those ends, accepting trials at random, bounds the hull).
 * Differs from the crossing of the step curve (interpolated between neighbouring DET
 * points), which is never lower. *threshold (may be NULL) receives the threshold of the
 * DET point on the hull (a vertex, or a point on an edge) nearest to the crossing in
 * Pmiss, the later one when two are equally near: an operating point one can apply. */
gk_status gk_eval_eer(const double *tar, size_t nt, const double *non, size_t nn, double *eer,
                      double *threshold, gk_error *err);

/* Normalised minimum DCF over all thresholds (the DET points), and the lowest threshold
 * reaching it (may be NULL). Equal to the minimum over the hull vertices. */
gk_status gk_eval_min_dcf(const double *tar, size_t nt, const double *non, size_t nn,
                          const gk_dcf_params *p, double *dcf, double *threshold,
                          gk_error *err);

/* Normalised actual DCF at `threshold` (accept when score >= threshold; +-inf allowed,
 * NaN is GK_EINVAL), with the error rates there (pmiss, pfa may be NULL). O(n), no sort. */
gk_status gk_eval_act_dcf(const double *tar, size_t nt, const double *non, size_t nn,
                          double threshold, const gk_dcf_params *p, double *dcf,
                          double *pmiss, double *pfa, gk_error *err);

/* ---- score normalisation -------------------------------------------------------------
 * Statistics are the mean and the population standard deviation (divided by n, numpy's
 * default ddof = 0) of cohort scores, computed in two passes. With top > 0 only the top
 * largest cohort scores of each row (Z) or column (T) are used (adaptive normalisation,
 * Sturim and Reynolds 2005; Matejka et al. 2017 "AS-norm1"); top = 0 uses all, and top
 * must not exceed the cohort size. A cohort whose standard deviation is 0 (or not finite)
 * is GK_ENUMERIC naming its row or column; NaN in any input too. dst is allocated by the
 * caller with S's shape and float64 type, and may be S itself. All matrices float64. */

/* Z-norm: dst[i][j] = (S[i][j] - mu_i) / sd_i, mu_i and sd_i from row i of E
 * (models x impostor utterances: E.rows == S.rows, E.cols >= 2). */
gk_status gk_eval_znorm(const gk_matrix *S, const gk_matrix *E, size_t top, gk_matrix *dst,
                        gk_error *err);

/* T-norm: dst[i][j] = (S[i][j] - mu_j) / sd_j, mu_j and sd_j from column j of T
 * (cohort models x test utterances: T.cols == S.cols, T.rows >= 2). */
gk_status gk_eval_tnorm(const gk_matrix *S, const gk_matrix *T, size_t top, gk_matrix *dst,
                        gk_error *err);

/* Symmetric normalisation: dst = (znorm(S, E) + tnorm(S, T)) / 2 (S-norm; with top > 0
 * adaptive S-norm, the top cohort scores of each side). */
gk_status gk_eval_snorm(const gk_matrix *S, const gk_matrix *E, const gk_matrix *T, size_t top,
                        gk_matrix *dst, gk_error *err);

#ifdef __cplusplus
}
#endif
#endif
