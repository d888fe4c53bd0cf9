/*
 * gmm_internal.h: what gmm_estep.c, gselect.c and gmm_llr.c share: the float32 rows of the
 * quadratic form by which the E-step and Gaussian selection score diagonal components
 * (gmm.c), and entry points for data their caller has already checked (gk_gmm_data_check:
 * shapes and every value), so that one call does not scan the same frames two or three
 * times. Not installed; not part of the public API (gmmkit/gmm.h, gmmkit/gselect.h are).
 */
#ifndef GMMKIT_GMM_INTERNAL_H
#define GMMKIT_GMM_INTERNAL_H

#include "gmmkit/gmm.h"
#include "gmmkit/gselect.h"

/* The mixture's mean sum_c w_c mu_c (d values): the shift about which the float32 rows
 * keep the digits that rank the components. */
void gk_gmm_mean(const gk_gmm *g, double *mean);

/* Diagonal component c of g as a row of the quadratic form about `shift`: log w_c N_c(x) =
 * cst + sum_j A[j s] y_j^2 + A[(d + j) s] y_j with y = x - shift, A[j s] = -0.5 / v_j and
 * A[(d + j) s] = (mu_j - shift_j) / v_j (s = stride: 1 for a row, K for a column of a
 * dimension-major table). Returns cst. */
double gk_gmm_diag_row(const gk_gmm *g, size_t c, const double *shift, float *A, size_t stride);

/* gk_gmm_top_posteriors without the scan of x's values (its shapes are still checked; a
 * non-finite frame still fails, found through the sum, as the scoring paths find it). */
gk_status gk_gmm_top_checked(const gk_gmm *g, const gk_gmm_data *x, size_t c, size_t *idx, double *val,
                             gk_error *err);

/* gk_selector_select for x already checked against the selector's dimension. */
gk_status gk_selector_select_checked(const gk_selector *s, const gk_gmm_data *x, size_t search, size_t top,
                                     size_t *idx, double *evals, gk_error *err);

#endif
