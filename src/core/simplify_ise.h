/*
 * simplify_ise.h: the bottom of the simplify module (private; simplify_ise.c): working
 * mixtures, pair overlaps z_ij = N(mu_i; mu_j, S_i + S_j), the objective F (paper eq. 5-7)
 * and its gradient, whitening. It calls nothing else of the module.
 *
 * The module's files call one way; each includes the headers of the files it calls:
 *
 *   simplify.c        options, info, gk_simplify_reduce (gmmkit/simplify.h)
 *   simplify_opt.c    the optimisers (lbfgs, gd, kmeans) and the weight QP (simplify_opt.h)
 *   simplify_merge.c  moment-preserving merges and the baselines topk, runnalls, minise,
 *                     gmrc, brute (simplify_merge.h)
 *   simplify_ise.c    this header
 *
 * simplify -> opt -> merge -> ise. The C tests include these headers to check the
 * parametrised gradients.
 */
#ifndef GMMKIT_SIMPLIFY_ISE_H
#define GMMKIT_SIMPLIFY_ISE_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include "gmmkit/simplify.h"

/* A mixture in working coordinates (possibly whitened): plain arrays, owned by whoever
 * made it (gks_mix_alloc / gks_mix_free). full: covariances d x d, else d. */
typedef struct gks_mix {
  size_t k, d;
  int full;
  double *w, *mu, *cov;
} gks_mix;

gk_status gks_mix_alloc(gks_mix *m, size_t k, size_t d, int full, gk_error *err);
void gks_mix_free(gks_mix *m);
/* Copies the first min(src->k, dst->k) components (same d, full flags may differ:
 * full -> diag keeps the diagonal, diag -> full makes a diagonal matrix). */
void gks_mix_copy(gks_mix *dst, const gks_mix *src);
static inline size_t gks_cov_len(const gks_mix *m) { return m->full ? m->d * m->d : m->d; }

#define GKS_LANES 4  /* pairs gks_pair_logz4 forms at once */

/* Per-thread scratch of the pair kernel: 3 d x d matrices and 3 d vectors, and the four
 * lanes of gks_pair_logz4. */
typedef struct gks_work {
  size_t d;
  double *mem;  /* the one allocation; S and Sinv are two d x d blocks of it, in either order */
  double *S, *Sinv, *u, *t;
  double base, q;  /* of the last pair: log z = base - q / 2 (see gks_pair_term) */
  double *U4, *t4;  /* the lanes: four interleaved factors (d x d x 4) and vectors */
  double base4[GKS_LANES], q4[GKS_LANES];
  int lanes_full;
} gks_work;
gk_status gks_work_alloc(gks_work *w, size_t d, gk_error *err);
void gks_work_free(gks_work *w);

/* log N(ma; mb, Sa + Sb). Sa is full (d x d) when fa, diagonal (d) otherwise; same for Sb.
 * With grad, also leaves u = (Sa + Sb)^-1 (ma - mb) in wk->u and (Sa + Sb)^-1 in wk->Sinv
 * (d x d when either is full, else its diagonal in the first d entries). Returns NaN
 * when Sa + Sb is not positive definite. */
double gks_pair_logz(const double *ma, const double *Sa, int fa, const double *mb,
                     const double *Sb, int fb, size_t d, gks_work *wk, int grad);

/* Pairs l < n (n <= GKS_LANES) at once, as gks_pair_logz(..., grad = 0) would form them
 * one by one: lz[l] (NaN where not positive definite). Full pairs run side by side in
 * SIMD lanes. gks_pair_lane(wk, l, factor) then makes wk hold pair l as gks_pair_logz
 * would have left it: base and q for gks_pair_term, and with `factor` what gks_pair_grad
 * needs. */
void gks_pair_logz4(const double *const ma[GKS_LANES], const double *const Sa[GKS_LANES], int fa,
                    const double *const mb[GKS_LANES], const double *const Sb[GKS_LANES], int fb, size_t n,
                    size_t d, gks_work *wk, double lz[GKS_LANES]);
void gks_pair_lane(gks_work *wk, size_t lane, int factor);

/* exp(log z - shift) of the last pair, with shift taken from the normalising part before
 * the Mahalanobis part is added, so that z_ij / z_ii of nearly equal components keeps
 * the digits of q (a near-perfect g does not lose F to the rounding of a large log). */
static inline double gks_pair_term(const gks_work *wk, double shift) {
  return exp((wk->base - shift) - 0.5 * wk->q);
}

/* Whether `pairs` overlaps in dimension d are worth a parallel region (about a millisecond
 * of work: below it, waking the threads on a busy machine costs more than it saves). */
static inline int gks_worth_threads(size_t pairs, size_t d, int full) {
  /* per pair, in units of about 0.1 ns of one core: a full pair's Cholesky (d^3/3 with its
   * inverse), a diagonal pair's few operations per dimension */
  double per = full ? (double)d * (double)d * (double)d / 3.0 : 40.0 * (double)d;
  return (double)pairs * per > 1e7;
}

/* After gks_pair_logz(..., grad = 0): completes wk->u and wk->Sinv as grad = 1 would have
 * (full: the pair was full, i.e. either side was). */
void gks_pair_grad(const double *ma, const double *mb, size_t d, int full, gks_work *wk);

/* log of the self-overlap z_ii = N(0; 0, 2 S_i) from log |S_i|. */
static inline double gks_self_logz(double log_det, size_t d) {
  return -0.5 * (double)d * log(4.0 * 3.14159265358979323846) - 0.5 * log_det;
}
/* log |S| of component k (Cholesky; NaN when not positive definite). */
double gks_logdet(const gks_mix *m, size_t k, gks_work *wk);

/* Double-double accumulator (Ogita-Rump-Oishi Sum2: TwoSum on every term). */
typedef struct gks_acc { double hi, lo; } gks_acc;
static inline void gks_acc_add(gks_acc *a, double x) {
  double s = a->hi + x, bp = s - a->hi;
  a->lo += (a->hi - (s - bp)) + (x - bp);
  a->hi = s;
}
static inline double gks_acc_value(const gks_acc *a) { return a->hi + a->lo; }

/* The objective: F / exp(shift) for a fixed f and variable g, with its gradient. */
typedef struct gks_problem {
  const gks_mix *f;   /* fixed, working coordinates */
  double shift;       /* terms are exp(log z - shift) */
  gks_acc ff;         /* vf' Zf vf / exp(shift) */
  int threads;        /* >= 1 */
  gks_work *work;     /* one per thread */
  double *part;       /* 3 per component of g: per-component sums, reduced in order */
  size_t kmax;        /* capacity of part */
} gks_problem;

/* Sets up the problem for f and g's of up to kmax components (shift: f's largest
 * self-overlap unless `shift` is finite). */
gk_status gks_problem_init(gks_problem *p, const gks_mix *f, size_t kmax, int threads,
                           double shift, gk_error *err);
void gks_problem_free(gks_problem *p);

/* Gradient of F / exp(shift) in the plain parameters of g (any pointer may be NULL). */
typedef struct gks_grad { double *w, *mu, *cov; } gks_grad;

/* Evaluates fg = vf'Zfg vg, gg = vg'Zg vg (both / exp(shift)) and F / exp(shift) = ff - 2 fg
 * + gg (compensated) for g; with grad, its gradient. Returns 0, or -1 when a term is not
 * finite (overflow, a covariance that is not positive definite). */
int gks_eval(gks_problem *p, const gks_mix *g, double *F, double *fg, double *gg,
             gks_grad *grad);

/* Whitening y = A (x - c): full A = L^-1 with L L' = f's global covariance, or diagonal
 * A = 1 / std. log_det_A = log |A| (F in original units = F_white * |A|). */
typedef struct gks_white {
  size_t d;
  int full;          /* full transform (only when g is full) */
  double *c, *L;     /* mean; L (d x d lower) or std (d) */
  double log_det_A;
} gks_white;
/* Global moments of f (as a model) and the transform; identity when `enable` is 0. */
gk_status gks_white_init(gks_white *wt, const gk_gmm *f, int full, int enable, gk_error *err);
void gks_white_free(gks_white *wt);
/* f as a working mixture in whitened coordinates (full when f or the transform is full). */
gk_status gks_white_apply(const gks_white *wt, const gk_gmm *f, gks_mix *out, gk_error *err);
/* Back to original coordinates: a new model of type `cov`. */
gk_status gks_white_undo(const gks_white *wt, const gks_mix *g, gk_cov_type cov, gk_gmm **out,
                         const gk_allocator *a, gk_error *err);

/* Checks that f and g can be compared: models present, same dimension, finite parameters
 * (GK_EINVAL / GK_ENUMERIC naming the model and component). */
gk_status gks_check_models(const gk_gmm *f, const gk_gmm *g, gk_error *err);

#endif
