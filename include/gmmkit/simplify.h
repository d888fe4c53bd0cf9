/*
 * gmmkit/simplify.h: chi-squared (L2, "integral squared error") simplification of GMMs.
 *
 * A mixture f with Kf components is reduced to a mixture g with Kg < Kf components without
 * the training data, by minimising the integral squared error
 *
 *   F(f, g) = integral (f - g)^2 = vf' Zf vf - 2 vf' Zfg vg + vg' Zg vg,
 *   Z_ij = N(mu_i; mu_j, S_i + S_j)                       (paper eq. 5-7)
 *
 * ("Local Gradient Descent Methods for GMM Simplification"). NISE = F / (vf'Zf vf + vg'Zg vg)
 * is its scale-free form in [0, 1]. Every overlap Z_ij is computed in the log domain from
 * the Cholesky factor of S_i + S_j, and the sums are formed as exp(log z - shift) with a
 * common shift (the largest self-overlap: z_ij <= sqrt(z_ii z_jj)) and compensated
 * (double-double) summation, so that 38- or 60-dimensional mixtures neither under- nor
 * overflow and a near-perfect g does not lose F to cancellation.
 *
 * Methods of gk_simplify_reduce (gk_simplify_method):
 *   lbfgs     (default) L-BFGS with a strong-Wolfe line search on an unconstrained
 *             parametrisation (softmax weights, means, Cholesky factors with log diagonals),
 *             exact gradients, in coordinates whitened by f's global mean and covariance,
 *             started from topk / runnalls / minise: each refined and the lowest F kept
 *             where one evaluation costs under about a millisecond, else the best start.
 *   gd        the paper's gradient descent (sec. 3): secant line search for the first
 *             iterations, then fixed steps 10^(-d/3) (weights, means), 10^(-d/3-1) (covariances).
 *   kmeans    the paper's K-means (eq. 11-13): assignment by the pairwise chi-squared
 *             distance, then local gradient steps per component of g.
 *   topk, runnalls, minise, gmrc, brute: the field's baselines (see gk_simplify_method).
 *
 * Layouts follow gmmkit/gmm.h (weights K, means K x D, covariances K x D or K x D x D, all
 * row-major, 0-based). Results do not depend on the number of threads. Every random choice
 * takes options.seed. Long loops poll gk_interrupted() and return GK_EINTR.
 */
#ifndef GMMKIT_SIMPLIFY_H
#define GMMKIT_SIMPLIFY_H

#include <stddef.h>
#include <stdint.h>
#include "gmmkit/error.h"
#include "gmmkit/gmm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gk_simplify_method {
  GK_SIMPLIFY_LBFGS = 0,  /* L-BFGS on softmax / mean / log-Cholesky parameters (default) */
  GK_SIMPLIFY_GD,         /* paper sec. 3: gradient descent, secant then fixed steps */
  GK_SIMPLIFY_KMEANS,     /* paper eq. 11-13: chi-squared assignment + local gradient steps */
  GK_SIMPLIFY_TOPK,       /* the Kg heaviest components of f, weights renormalised */
  GK_SIMPLIFY_RUNNALLS,   /* Runnalls 2007: greedy moment-preserving merges by the KL bound */
  GK_SIMPLIFY_MINISE,     /* greedy moment-preserving merges by the local (pairwise) ISE */
  GK_SIMPLIFY_GMRC,       /* Goldberger-Roweis: k-means over components by KL, from runnalls */
  GK_SIMPLIFY_BRUTE,      /* best moment-preserving partition (Kf <= 12), then refined */
  GK_SIMPLIFY_NMETHODS
} gk_simplify_method;

/* What happens to a component of g whose weight reaches zero (gd, kmeans). */
typedef enum gk_simplify_dead {
  GK_DEAD_KEEP = 0,  /* keep it with weight 0 (reported in info.dead) */
  GK_DEAD_DROP,      /* remove it from the result (g then has fewer components) */
  GK_DEAD_RESEED     /* move it onto the component of f worst explained by g */
} gk_simplify_dead;

/* Initialisations of lbfgs (bit mask). */
#define GK_SIMPLIFY_INIT_TOPK     1u
#define GK_SIMPLIFY_INIT_RUNNALLS 2u
#define GK_SIMPLIFY_INIT_MINISE   4u
#define GK_SIMPLIFY_INIT_ALL      7u
/* probe_iter chosen by the problem's size (see gk_simplify_opts). */
#define GK_PROBE_AUTO    (-1)

/* Options of gk_simplify_reduce; gk_simplify_opts_default sets the defaults. */
typedef struct gk_simplify_opts {
  gk_simplify_method method;  /* default GK_SIMPLIFY_LBFGS */
  int max_iter;        /* iterations (gd, lbfgs), rounds (kmeans, gmrc); 0: method default */
  double tol;          /* relative decrease of F per iteration that counts as converged
                        * (lbfgs: on average over the last 10); 0: default 1e-7 */
  uint64_t seed;       /* for every random choice (re-seeding); default 1 */
  int threads;         /* OpenMP threads for this call; 0: gk_threads() */
  int history;         /* record one gk_simplify_record per iteration in info */
  int cov_type;        /* covariance type of g: -1 same as f, else a gk_cov_type */
  int local_steps;     /* kmeans: gradient steps per component and assignment; default 4 */
  int line_search_iters; /* gd: iterations with the secant line search; default 10 */
  int memory;          /* lbfgs: number of correction pairs; default 10 */
  int qp_weights;      /* lbfgs: exact non-negative QP for the weights between phases */
  unsigned init;       /* lbfgs: GK_SIMPLIFY_INIT_* mask of the initialisations tried; default all */
  int probe_iter;      /* lbfgs: iterations given to each initialisation before the best
                        * continues (0: the best initial value continues alone); default
                        * GK_PROBE_AUTO: max_iter (every start refined, the best final
                        * kept) where one evaluation costs under about a millisecond, else 0 */
  int refine;          /* brute: number of best partitions refined by lbfgs; default 4 */
  int whiten;          /* optimise in coordinates whitened by f's global moments; default 1 */
  gk_simplify_dead dead; /* default GK_DEAD_KEEP */
  const gk_gmm *start; /* lbfgs, gd, kmeans: start from this prepared model (K components,
                        * f's dimension) instead of the method's initialisation; NULL */
} gk_simplify_opts;

/* One iteration in info.history: F and NISE of the current g, seconds since the start. */
typedef struct gk_simplify_record {
  int iteration;
  double ise, nise, seconds;
} gk_simplify_record;

/* What gk_simplify_reduce reports. Arrays are malloc'ed; release with gk_simplify_info_free. */
typedef struct gk_simplify_info {
  gk_simplify_method method;
  double ise, nise;        /* of the returned g against f */
  double seconds;          /* wall-clock time of the call */
  int iterations;          /* iterations (gd, lbfgs) or rounds (kmeans, gmrc), 0 for merges */
  int converged;           /* 1 when the stopping rule (not max_iter) ended the run */
  int evaluations;         /* objective + gradient evaluations */
  gk_simplify_record *history; size_t n_history;
  int *changes; size_t n_changes;  /* kmeans, gmrc: assignment changes per round */
  int oscillation;         /* kmeans: period of a detected assignment cycle, else 0 */
  size_t *dead; size_t n_dead;     /* 0-based components whose weight reached zero */
  int reseeded;            /* components re-seeded (dead = GK_DEAD_RESEED) */
  int init;                /* lbfgs: the gk_simplify_method of the initialisation that won,
                            * -1 when it started from options.start */
  double init_nise;        /* lbfgs: its NISE (before L-BFGS) */
  size_t *assignment;      /* Kf: the component of g (0-based) each component of f belongs to */
  size_t n_assignment;     /* Kf */
} gk_simplify_info;

/* Sets the defaults listed in gk_simplify_opts. */
void gk_simplify_opts_default(gk_simplify_opts *o);
/* Frees the arrays of `info` and zeroes it; safe on a zeroed or already freed info. */
void gk_simplify_info_free(gk_simplify_info *info);
/* The methods' names, indexed by gk_simplify_method ("lbfgs", "gd", ...), then NULL. */
extern const char *const gk_simplify_method_names[];
/* gk_simplify_method_names[m]; NULL for an out-of-range value. */
const char *gk_simplify_method_name(gk_simplify_method m);

/* Reduces the prepared model `f` to `k` components (1 <= k < f->k) with opt->method (opt
 * NULL: defaults). On success *out is a new prepared model from `a` (NULL: malloc) that the
 * caller frees with gk_gmm_free, and `info` (may be NULL) is filled; on failure *out is NULL
 * and info holds nothing to free. GK_EINTR when interrupted.
 *
 * info->assignment partitions f's components among g's:
 *   runnalls, minise, gmrc  the method's own partition (each component of g is the
 *             moment-matched merge of its block: its weight is the sum of its members');
 *   kmeans    its assignment step (eq. 12, least pairwise chi-squared distance) on the result;
 *   topk      a kept component to itself; a dropped one (topk merges nothing), as the rest:
 *   lbfgs, gd, brute  the component j of g of largest overlap w_j N(mu_i; mu_j, S_i + S_j)
 *             (gk_gmm_log_overlap; ties: the lower j). brute's partition is refined by
 *             lbfgs, so the result is not the merge of its blocks.
 * With dead = GK_DEAD_DROP a component of f whose component of g was dropped goes by overlap. */
gk_status gk_simplify_reduce(const gk_gmm *f, size_t k, const gk_simplify_opts *opt,
                             gk_gmm **out, gk_simplify_info *info, const gk_allocator *a,
                             gk_error *err);

/* The three quadratic terms of F in the log domain and what follows from them. */
typedef struct gk_simplify_terms {
  double log_ff;   /* log vf' Zf vf   (the squared L2 norm of f) */
  double log_fg;   /* log vf' Zfg vg  (the L2 inner product of f and g) */
  double log_gg;   /* log vg' Zg vg */
  double log_ise;  /* log F (-inf when F is 0) */
  double ise;      /* F, or HUGE_VAL / 0 when exp(log F) leaves the double range */
  double nise;     /* F / (vf'Zf vf + vg'Zg vg), in [0, 1] */
  double cs;       /* Cauchy-Schwarz divergence -log(<f,g> / sqrt(<f,f><g,g>)) >= 0 */
} gk_simplify_terms;

/* All distances between two prepared models of the same dimension (diagonal, full or
 * mixed). `threads` 0: gk_threads(). */
gk_status gk_simplify_terms_compute(const gk_gmm *f, const gk_gmm *g, int threads,
                                    gk_simplify_terms *t, gk_error *err);
/* F(f, g), NISE(f, g) and the Cauchy-Schwarz divergence (shorthands of the above). */
gk_status gk_simplify_ise(const gk_gmm *f, const gk_gmm *g, double *ise, gk_error *err);
gk_status gk_simplify_nise(const gk_gmm *f, const gk_gmm *g, double *nise, gk_error *err);
gk_status gk_simplify_cs(const gk_gmm *f, const gk_gmm *g, double *cs, gk_error *err);

/* Monte Carlo KL(f || g) = E_f[log f(x) - log g(x)] from `samples` draws of f (seeded by
 * `seed`; independent of the thread count). *kl is the mean, *se (may be NULL) its
 * standard error. */
gk_status gk_simplify_kl(const gk_gmm *f, const gk_gmm *g, size_t samples, uint64_t seed,
                         int threads, double *kl, double *se, gk_error *err);

/* F(f, g) and its exact gradient with respect to g's parameters taken as free variables:
 * gw[Kg] (weights, without the sum-to-one constraint), gm[Kg x D] (means) and gcov (Kg x D
 * for diagonal g: d F / d variance; Kg x D x D for full g: the symmetric G with
 * dF = sum_k tr(G_k dS_k) for a symmetric change dS_k). Any gradient pointer may be NULL. */
gk_status gk_simplify_gradient(const gk_gmm *f, const gk_gmm *g, double *ise, double *gw,
                               double *gm, double *gcov, gk_error *err);

/* Moment-preserving merge of components idx[0..n) of `g` (weights summed, mean and
 * covariance of their mixture): w, mean[D] and cov (D, or D x D when cov_type is full; a
 * diagonal result from a full g keeps the diagonal). */
gk_status gk_simplify_merge(const gk_gmm *g, const size_t *idx, size_t n, gk_cov_type cov_type,
                            double *w, double *mean, double *cov, gk_error *err);

#ifdef __cplusplus
}
#endif
#endif
