/*
 * gmm_internal.h: entry points that gmm_estep.c, gselect.c and gmm_llr.c share for data
 * their caller has already checked (gk_gmm_data_check: shapes and every value), so that
 * one call does not scan the same frames two or three times. Not installed; not part of
 * the public API (gmmkit/gmm.h, gmmkit/gselect.h are).
 */
#ifndef GMMKIT_GMM_INTERNAL_H
#define GMMKIT_GMM_INTERNAL_H

#include "gmmkit/gmm.h"
#include "gmmkit/gselect.h"

/* gk_gmm_top_posteriors without the scan of x's values (its shapes are still checked; a
 * non-finite frame still fails, found through the sum, as the scoring paths find it). */
gk_status gk_gmm_top_checked(const gk_gmm *g, const gk_gmm_data *x, size_t c, size_t *idx, double *val,
                             gk_error *err);

/* gk_selector_select for x already checked against the selector's dimension. */
gk_status gk_selector_select_checked(const gk_selector *s, const gk_gmm_data *x, size_t search, size_t top,
                                     size_t *idx, double *evals, gk_error *err);

#endif
