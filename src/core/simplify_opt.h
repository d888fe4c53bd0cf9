/*
 * simplify_opt.h: the optimisers of gk_simplify_reduce (lbfgs, gd, kmeans) and the weight
 * QP (private; simplify_opt.c), on the objective of simplify_ise.h.
 */
#ifndef GMMKIT_SIMPLIFY_OPT_H
#define GMMKIT_SIMPLIFY_OPT_H

#include "simplify_ise.h"

/* Context of one optimiser run: the problem, timing, history, the original-units scale. */
typedef struct gks_run {
  gks_problem *p;
  const gk_simplify_opts *opt;
  gk_simplify_info *info;   /* history and counters go here (may be NULL) */
  double t0;                /* gk_seconds() at the start of the call */
  double log_scale;         /* log F_original = log(F_working / exp(shift)) + log_scale */
  int evals;
  const gks_mix *start;     /* options.start in working coordinates, or NULL */
  int it_base;              /* added to the iteration numbers of history records */
  int skip_start;           /* gks_lbfgs: no record for the start (it continues a run) */
  double floor_F, floor_nise; /* a g already held (F / exp(shift), NISE): records show it
                             * while the current one is worse (HUGE_VAL: none) */
  double last_F, last_nise; /* gks_lbfgs: F / exp(shift) and NISE of its result */
} gks_run;

/* Appends a history record (when asked for) for F / exp(shift) and NISE of the current g. */
gk_status gks_record(gks_run *r, int iteration, double F, double nise, gk_error *err);
/* Marks component j of g as having reached weight zero (once) in r->info. */
gk_status gks_mark_dead(gks_run *r, size_t j, gk_error *err);

/* L-BFGS from g (updated in place). Returns GK_OK (also when max_iter ended it).
 * start_nise (may be NULL) receives the NISE of g on entry. */
gk_status gks_lbfgs(gks_run *r, gks_mix *g, int max_iter, int *iters, int *converged,
                    double *start_nise, gk_error *err);
gk_status gks_gd(gks_run *r, gks_mix *g, int *iters, int *converged, gk_error *err);
/* kmeans: r->info->assignment (when not NULL) receives the assignment step (eq. 12) applied
 * to the returned g. */
gk_status gks_kmeans(gks_run *r, gks_mix *g, int *iters, int *converged, gk_error *err);
/* Exact minimiser of F over the weights of g on the simplex (means, covariances fixed). */
gk_status gks_qp_weights(gks_problem *p, gks_mix *g, gk_error *err);

/* The unconstrained parametrisation of lbfgs: x = [softmax logits (k), means (k d),
 * per component log-Cholesky factors (d for diagonal: log std; d(d+1)/2 for full: the lower
 * triangle row by row, diagonal entries as logs)]. */
size_t gks_param_size(const gks_mix *g);
void gks_param_pack(const gks_mix *g, double *x);
/* Fills g from x (weights, means, covariances S = C C'). */
void gks_param_unpack(const double *x, gks_mix *g);
/* Objective F / (ff) (scaled so that f's norm is 1) and its gradient in x. Returns 0 or -1. */
int gks_param_eval(gks_problem *p, gks_mix *g, const double *x, double *obj, double *gx,
                   double *nise, gks_grad *scratch);

#endif
