/*
 * simplify_merge.h: moment-preserving merges and the baselines of gk_simplify_reduce
 * (private; simplify_merge.c), on the working mixtures of simplify_ise.h.
 */
#ifndef GMMKIT_SIMPLIFY_MERGE_H
#define GMMKIT_SIMPLIFY_MERGE_H

#include "simplify_ise.h"

/* Moment-preserving merge of idx[0..n) of m into (w, mu, cov) of type `full`. */
void gks_merge(const gks_mix *m, const size_t *idx, size_t n, int full, double *w,
               double *mu, double *cov);
/* Baselines on working mixtures: g (k components, allocated by the caller) from f. For
 * partitions, assign[Kf] (may be NULL) receives the component of g of each one of f. */
/* topk: assign[i] = t for the kept component i (the t-th heaviest), SIZE_MAX for the rest
 * (they are dropped, not merged). gmrc: info->assignment (when not NULL) receives its final
 * partition. */
gk_status gks_topk(const gks_mix *f, gks_mix *g, size_t *assign, gk_error *err);
gk_status gks_runnalls(const gks_mix *f, gks_mix *g, size_t *assign, int threads,
                       gk_error *err);
gk_status gks_minise(const gks_mix *f, gks_mix *g, double shift, size_t *assign, int threads,
                     gk_error *err);
gk_status gks_gmrc(const gks_mix *f, gks_mix *g, int max_iter, int threads,
                   gk_simplify_info *info, gk_error *err);
/* Best `nbest` partitions by NISE (ascending), g's of k components each, filled in best[]. */
gk_status gks_brute(const gks_mix *f, size_t k, gks_problem *p, gks_mix *best, int nbest,
                    int *nfound, gk_error *err);

#endif
