/*
 * gmmkit/gmm.h: Gaussian mixture models with diagonal or full covariances.
 *
 * A gk_gmm owns its parameters (float64, from its allocator):
 *   weights[k]            mixing weights, non-negative, summing to 1
 *   means[k * d]          row-major K x D
 *   covs                  diag: K x D variances; full: K x D x D, each row-major symmetric
 * and the derived quantities that scoring needs, recomputed by gk_gmm_prepare after any
 * change of the parameters:
 *   chol                  full: K x D x D lower Cholesky factors L_k (S_k = L_k L_k');
 *                         diag: K x D standard deviations
 *   log_det[k]            log |S_k|
 * Densities are evaluated in the log domain from these factors only.
 *
 * Ownership: gk_gmm_create returns a new model that the caller frees with gk_gmm_free.
 * Threading: a prepared model may be read by many threads; writers need exclusive access.
 */
#ifndef GMMKIT_GMM_H
#define GMMKIT_GMM_H

#include <stddef.h>
#include "gmmkit/alloc.h"
#include "gmmkit/error.h"
#include "gmmkit/matrix.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gk_cov_type {
  GK_COV_DIAG = 0,  /* diagonal covariances, K x D */
  GK_COV_FULL = 1   /* full covariances, K x D x D */
} gk_cov_type;

typedef struct gk_gmm {
  size_t k;           /* components */
  size_t d;           /* dimension */
  gk_cov_type cov;    /* covariance type */
  double *weights;    /* k */
  double *means;      /* k x d */
  double *covs;       /* k x d (diag) or k x d x d (full) */
  double *chol;       /* derived: see above */
  double *log_det;    /* derived: k */
  gk_allocator alloc; /* where the buffers above came from */
} gk_gmm;

/* "diag" / "full". */
const char *gk_cov_type_name(gk_cov_type t);
/* Number of covariance values per component: d (diag) or d * d (full). */
size_t gk_gmm_cov_size(gk_cov_type t, size_t d);

/* A new model with k components in d dimensions, every parameter zero (not yet valid). */
gk_status gk_gmm_create(gk_gmm **out, size_t k, size_t d, gk_cov_type cov,
                        const gk_allocator *a, gk_error *err);
/* Frees the model and its buffers; NULL is a no-op. */
void gk_gmm_free(gk_gmm *g);
/* A deep copy (parameters and derived quantities), from `a` (NULL: the source's allocator). */
gk_status gk_gmm_clone(const gk_gmm *src, gk_gmm **out, const gk_allocator *a, gk_error *err);

/* Checks the parameters (finite; weights >= 0 summing to 1 within 1e-6; variances > 0;
 * full covariances symmetric within 1e-9 relative and positive definite) and computes the
 * derived quantities. GK_EINVAL / GK_ENUMERIC naming the component otherwise. */
gk_status gk_gmm_prepare(gk_gmm *g, gk_error *err);

#ifdef __cplusplus
}
#endif
#endif
