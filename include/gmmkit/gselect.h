/*
 * gmmkit/gselect.h: Gaussian selection with a reduced UBM (hierarchical scoring).
 *
 * A selector holds a small mixture g of M clusters (a reduction of a UBM f of K
 * components: gk_simplify_reduce) and, for each cluster, the UBM components it covers:
 * each component of f joins the `overlap` clusters of largest overlap
 * w_j N(mu_i; mu_j, S_i + S_j) (the mass of cluster j at component i's mean, widened by both
 * covariances), and, when built from data (gk_selector_create_data), also every cluster
 * that frames like the data reach on their way to that component: the members that make
 * the selection find each frame's best components, not only the geometrically closest.
 * To score a frame, the M clusters are scored, the `search` best kept, and
 * only the members of those clusters are evaluated: M + members Gaussians per frame instead
 * of K, the structural / tree-UBM scoring of the speaker-recognition literature.
 *
 * Selection is blocked as the E-step is, a chunk of frames per thread: the clusters of
 * each frame come from one SGEMM against the clusters' rows (full covariances: from
 * gk_gmm_top_posteriors on g), then the frames are grouped by searched cluster and each
 * group is scored against that cluster's members by one SGEMM (diagonal UBMs; full ones
 * by Cholesky solves); each frame's members are ranked from a lower bound on their C-th
 * best. The selector owns copies of what it needs; it is immutable after creation and
 * may be used by several threads at once.
 */
#ifndef GMMKIT_GSELECT_H
#define GMMKIT_GSELECT_H

#include "gmmkit/gmm.h"
#include "gmmkit/comm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gk_selector gk_selector;

/* A selector for UBM `f` from its reduction `g` (same dimension; M = g->k clusters), each
 * UBM component in its `overlap` (1 <= overlap <= M) best clusters. */
gk_status gk_selector_create(gk_selector **out, const gk_gmm *f, const gk_gmm *g, size_t overlap,
                             const gk_allocator *a, gk_error *err);
/* gk_selector_create, with members added by data: for each frame of x, each of its
 * `top` best UBM components (largest w_k N_k(x)) joins each of its `search` best clusters,
 * and stays a member when at least `min_count` frames put it there. Each component is
 * still in its `overlap` best clusters by overlap, so every component is somewhere. The
 * data is the UBM's training data or a sample of it. search = 1 and top = 2 measured best
 * on speech (README): crediting more clusters a frame multiplies the members. Counts
 * take 4 M K bytes. 1 <= search <= M, 1 <= top <= K and min_count >= 1, else GK_EINVAL
 * naming the option; x as gk_gmm_data_check (dimension D, at least one frame). */
gk_status gk_selector_create_data(gk_selector **out, const gk_gmm *f, const gk_gmm *g, size_t overlap,
                                  const gk_gmm_data *x, size_t search, size_t top, size_t min_count,
                                  const gk_allocator *a, gk_error *err);
/* gk_selector_create_data over the frames of all ranks of `comm` (gmmkit/comm.h; NULL:
 * this process alone). Each rank counts its own frames x (none is allowed where another
 * rank has some), the counts are summed, and every rank builds the selector one process
 * builds from all the ranks' frames: counts are whole numbers, so their sum does not
 * depend on the order. A rank's failure (its own message there) fails every rank (GK_EIO
 * elsewhere). Collective: every rank calls it with the same f, g and options. */
gk_status gk_selector_create_data_comm(gk_selector **out, const gk_gmm *f, const gk_gmm *g, size_t overlap,
                                       const gk_gmm_data *x, size_t search, size_t top, size_t min_count,
                                       const gk_comm *comm, const gk_allocator *a, gk_error *err);
/* A selector for UBM `f` from clusters `g` with given members: cluster j (0-based) holds
 * count[j] UBM components, listed in increasing order in `members` after those of the
 * clusters before it (every component in at least `overlap` clusters). Clusters with no
 * member are dropped, as gk_selector_create does. GK_EFORMAT (naming the cluster or
 * component) when the lists break these rules. The loader's
 * constructor; count and members stay the caller's. */
gk_status gk_selector_create_members(gk_selector **out, const gk_gmm *f, const gk_gmm *g, size_t overlap,
                                     const size_t *count, const size_t *members, const gk_allocator *a,
                                     gk_error *err);
void gk_selector_free(gk_selector *s);

/* Writes the selector to `path` atomically in gmmkit's native format (gmm.h: magic, version,
 * checksum): the clusters' mixture, the overlap, K and D of the UBM, each cluster's members
 * and the UBM's fingerprint (gk_gmm_fingerprint). The UBM itself is not stored. */
gk_status gk_selector_save(const gk_selector *s, const char *path, gk_error *err);
/* Reads a selector saved by gk_selector_save for `ubm`, which must be the UBM it was built
 * for (same K, D and fingerprint; else GK_EINVAL naming both). Every count is checked
 * against gmmkit/limits.h and the file's size before allocating, every member index
 * against K; errors name the file. The result selects exactly as the saved selector did. */
gk_status gk_selector_load(const char *path, const gk_gmm *ubm, gk_selector **out, const gk_allocator *a,
                           gk_error *err);

/* Shape: K UBM components, M clusters, dimension D, overlap (the clusters each component
 * joins by overlap; data may add more). */
size_t gk_selector_components(const gk_selector *s);
size_t gk_selector_clusters(const gk_selector *s);
size_t gk_selector_dim(const gk_selector *s);
size_t gk_selector_overlap(const gk_selector *s);
/* gk_gmm_fingerprint of the UBM the selector was built for. */
uint64_t gk_selector_fingerprint(const gk_selector *s);
/* The reduced mixture (owned by the selector). */
const gk_gmm *gk_selector_mixture(const gk_selector *s);
/* The members of cluster j (0-based): *n indices into the UBM's components. */
const size_t *gk_selector_members(const gk_selector *s, size_t j, size_t *n);

/* For each frame of x: the `top` (C) best UBM components among the members of its
 * `search` best clusters, in decreasing order of their log-density, into idx (N x C,
 * 0-based). A frame whose clusters hold fewer than C distinct members gets the ones
 * there are, then SIZE_MAX. *evals (may be NULL): the mean number of Gaussians evaluated
 * per frame (clusters plus members). 1 <= search <= M, 1 <= top <= K. */
gk_status gk_selector_select(const gk_selector *s, const gk_gmm_data *x, size_t search, size_t top, size_t *idx,
                             double *evals, gk_error *err);

/* gk_gmm_llr_matrix with the UBM components of each frame chosen by the selector (top
 * from the members of the `search` best clusters) instead of all K: out (nm x nt). */
gk_status gk_selector_llr_matrix(const gk_selector *s, const gk_gmm *const *models, size_t nm, const gk_gmm *ubm,
                                 const gk_gmm_data *tests, size_t nt, size_t search, size_t top, double *out,
                                 double *evals, gk_error *err);

/* The UBM scored over each frame's selected components: idx (N x C, as
 * gk_selector_select), post (may be NULL: N x C, each frame's posteriors over its selected
 * components, which sum to 1), *total the sum over frames of log sum_t w N(x) over them
 * (GK_ENUMERIC when not finite, as gk_gmm_score), *evals (may be NULL) as
 * gk_selector_select. */
gk_status gk_selector_posteriors(const gk_selector *s, const gk_gmm *ubm, const gk_gmm_data *x, size_t search,
                                 size_t top, size_t *idx, double *post, double *total, double *evals, gk_error *err);

/* The E-step with Gaussian selection: adds to *stats (created from `a` when NULL) the
 * statistics of x with each frame's responsibilities spread over its selected components
 * only (gk_selector_select, then gk_gmm_accumulate_selected), as Kaldi's gselect does for
 * UBM training and i-vector statistics. */
gk_status gk_selector_accumulate(const gk_selector *s, const gk_gmm *g, const gk_gmm_data *x, size_t search,
                                 size_t top, gk_gmm_stats **stats, const gk_allocator *a, gk_error *err);

#ifdef __cplusplus
}
#endif
#endif
