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
 *
 * Where it is defined: gmm.c the model itself (create, prepare, component densities);
 * gmm_estep.c scoring, posteriors, LLR, the E-step and its statistics (gk_gmm_data_*,
 * gk_gmm_stats_create/free/clone/merge, gk_gmm_accumulate[_selected]); gmm_train.c the M-step, MAP,
 * sampling and training (gk_gmm_update, gk_gmm_map, gk_gmm_train_*, gk_gmm_trainer_*);
 * gmm_io.c the files (native and Kaldi); comm.c the reduction over ranks (gmmkit/comm.h).
 */
#ifndef GMMKIT_GMM_H
#define GMMKIT_GMM_H

#include <stddef.h>
#include <stdint.h>
#include "gmmkit/alloc.h"
#include "gmmkit/error.h"
#include "gmmkit/matrix.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The communicator of a job over several processes (gmmkit/comm.h); NULL is one process. */
typedef struct gk_comm gk_comm;

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

/* The covariance types' names, indexed by gk_cov_type ("diag", "full"), then NULL. */
extern const char *const gk_cov_type_names[];
/* gk_cov_type_names[t]: "diag" / "full". */
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

#define GK_LOG_2PI 1.8378770664093454836  /* log(2 pi) */

/* log(w_c N(x | mu_c, S_c)) of component c of a prepared model, in double, from its
 * Cholesky factor (-inf where w_c = 0). tmp: D doubles of scratch (full covariance). */
double gk_gmm_component_logpdf(const gk_gmm *g, size_t c, const double *x, double *tmp);
/* log(w_j N(mu_i; mu_j, S_i + S_j)): the overlap of component i of f with component j of g
 * (the mass of g's component j at f's component i's mean, widened by both covariances; the
 * integral of their product), from the Cholesky factor of S_i + S_j (diagonal, full or
 * mixed; -inf where w_j = 0 or the sum is not positive definite). Only weights, means and
 * covariances are read. work: D x D + D doubles of scratch. */
double gk_gmm_log_overlap(const gk_gmm *f, size_t i, const gk_gmm *g, size_t j, double *work);

/* ==== Data ===========================================================================
 * The frames a model is scored on or trained from: a list of matrices (one per file,
 * never stacked), float32 or float64, each N_i x D row-major. `stride` > 1 uses every
 * stride-th row of each matrix (Kaldi's subsample-feats); 0 or 1 uses all. */
typedef struct gk_gmm_data {
  const gk_matrix *parts;  /* nparts descriptors (borrowed) */
  size_t nparts;
  size_t stride;           /* 0 or 1: every frame */
} gk_gmm_data;

/* Number of frames the data holds (after the stride). */
size_t gk_gmm_data_frames(const gk_gmm_data *x);
/* Checks that every matrix has `d` columns and only finite values, and that there is at
 * least one frame: GK_EINVAL / GK_ENUMERIC naming the matrix (1-based), row and column. */
gk_status gk_gmm_data_check(const gk_gmm_data *x, size_t d, gk_error *err);

/* ==== Scoring ========================================================================
 * All scoring runs the blocked E-step kernel: float32 GEMMs over fixed blocks of frames
 * with a fused log-sum-exp, OpenMP over blocks; results do not depend on the number of
 * threads. The model must be prepared. Outputs are 0-based, in frame order (matrix by
 * matrix). Interruptible (GK_EINTR, outputs then unspecified). */

/* Per-frame log densities log p(x_i) (natural log) into `frame_ll` (N values, may be
 * NULL) and their sum into `*total` (may be NULL). */
gk_status gk_gmm_score(const gk_gmm *g, const gk_gmm_data *x, double *frame_ll,
                       double *total, gk_error *err);
/* Posteriors P(k | x_i) into `post` (N x K row-major float64). As gk_gmm_score, a frame
 * whose density underflows to 0 under every component is GK_ENUMERIC, never NaN. */
gk_status gk_gmm_posteriors(const gk_gmm *g, const gk_gmm_data *x, double *post, gk_error *err);
/* The C largest posteriors per frame, in decreasing order: `idx` (N x C, 0-based component
 * indices) and `val` (N x C, the exact posteriors under the whole mixture; may be NULL
 * when only the indices are wanted, which spares the log-sum-exp over all K). 1 <= C <= K.
 * GK_ENUMERIC as gk_gmm_posteriors. */
gk_status gk_gmm_top_posteriors(const gk_gmm *g, const gk_gmm_data *x, size_t c,
                                size_t *idx, double *val, gk_error *err);
/* Mean over frames of log p(x | model) - log p(x | ubm). With top > 0 both densities are
 * summed over the `top` components that score best under the UBM for each frame (the
 * models must then have the same K and D, as after MAP adaptation). */
gk_status gk_gmm_llr(const gk_gmm *model, const gk_gmm *ubm, const gk_gmm_data *x,
                     size_t top, double *mean_llr, gk_error *err);
/* gk_gmm_llr of each of `nm` models on each of `nt` tests, into out (nm x nt row-major):
 * each test's UBM pass (with top > 0 its top components per frame) is made once for all
 * the models, as scoring a trial list does. Results equal per-pair gk_gmm_llr calls up to
 * the order of the sums (within 1e-12 relative). Errors name the model or test (1-based). */
gk_status gk_gmm_llr_matrix(const gk_gmm *const *models, size_t nm, const gk_gmm *ubm, const gk_gmm_data *tests,
                            size_t nt, size_t top, double *out, gk_error *err);
/* Draws n frames (float32 n x D, `out` preallocated) from the mixture with `seed`. */
gk_status gk_gmm_sample(const gk_gmm *g, size_t n, uint64_t seed, gk_matrix *out, gk_error *err);
/* Number of free parameters: (K - 1) + K D + K D (diag) or K D (D + 1) / 2 (full). */
size_t gk_gmm_num_params(const gk_gmm *g);

/* ==== Sufficient statistics ==========================================================
 * The E-step's output and the M-step's input, as a value that can be saved, sent and
 * merged, so that one EM iteration may be split over processes and machines:
 *   zero[k]                   n_k = sum_i r_ik
 *   first[k*d + j]            sum_i r_ik (x_ij - shift_kj)
 *   second                    diag: [k*d + j] sum_i r_ik (x_ij - shift_kj)^2
 *                             full: [k*d*d + a*d + b] sum_i r_ik (x_ia - shift_ka)(x_ib - shift_kb)
 *   shift[k*d + j]            the point about which moments are taken (numerical
 *                             accuracy: variances do not cancel); the accumulating model's
 *                             means for full models, its overall mean for diagonal ones
 *   loglik, frames            sum_i log p(x_i) and the number of frames
 * All float64. Merging stats about different shifts converts them exactly. */
typedef struct gk_gmm_stats {
  size_t k, d;
  gk_cov_type cov;
  double frames;
  double loglik;
  double *zero;
  double *first;
  double *second;
  double *shift;
  gk_allocator alloc;
} gk_gmm_stats;

/* Zeroed statistics for a model of this shape, shift zero. Free with gk_gmm_stats_free. */
gk_status gk_gmm_stats_create(gk_gmm_stats **out, size_t k, size_t d, gk_cov_type cov,
                              const gk_allocator *a, gk_error *err);
void gk_gmm_stats_free(gk_gmm_stats *s);
gk_status gk_gmm_stats_clone(const gk_gmm_stats *src, gk_gmm_stats **out,
                             const gk_allocator *a, gk_error *err);
/* dst += src (same k, d, covariance type; shifts converted when they differ). */
gk_status gk_gmm_stats_merge(gk_gmm_stats *dst, const gk_gmm_stats *src, gk_error *err);

/* E-step: adds the statistics of `x` under `g` to `*stats`, creating them (from `a`) when
 * *stats is NULL. Bit-identical whatever the number of threads: frames are cut into fixed
 * blocks whose statistics are reduced in a fixed order. On error (or GK_EINTR) existing
 * statistics are left untouched. */
gk_status gk_gmm_accumulate(const gk_gmm *g, const gk_gmm_data *x, gk_gmm_stats **stats,
                            const gk_allocator *a, gk_error *err);
/* The E-step over chosen components: as gk_gmm_accumulate, with each frame's
 * responsibilities spread over its own list of components only, idx (N x c, 0-based, in
 * frame order; SIZE_MAX ends a frame's list early, after at least one), as Kaldi's
 * gselect: the lists come from gk_gmm_top_posteriors or a selector (gmmkit/gselect.h),
 * made once and reused while the model moves. A frame costs c component evaluations
 * instead of K. Blocked, parallel and deterministic as gk_gmm_accumulate; stats->loglik
 * is the sum over frames of log sum_t w N over the frame's components. */
gk_status gk_gmm_accumulate_selected(const gk_gmm *g, const gk_gmm_data *x, const size_t *idx, size_t c,
                                     gk_gmm_stats **stats, const gk_allocator *a, gk_error *err);

/* What becomes of a component whose weight falls under min_weight (or whose statistics
 * are empty). */
typedef enum gk_gmm_death {
  GK_DEATH_RESPLIT = 0,  /* replace it by a half of the heaviest component, split along its widest axis */
  GK_DEATH_REMOVE = 1    /* drop it and renormalise the weights (K decreases) */
} gk_gmm_death;

/* M-step options. Floors: every variance (full: every diagonal element of a covariance)
 * is at least max(var_floor, var_floor_relative * global variance of that dimension),
 * the global variance being taken from the statistics; `reg` is added to every variance
 * / covariance diagonal before the floor (scikit-learn's reg_covar). */
typedef struct gk_gmm_update_opts {
  double var_floor;           /* absolute, >= 0 (default 0) */
  double var_floor_relative;  /* fraction of the global variance, >= 0 (default 1e-3) */
  double reg;                 /* >= 0 (default 1e-6) */
  double min_weight;          /* in [0, 1/K) (default 1e-5) */
  gk_gmm_death death;         /* default GK_DEATH_RESPLIT */
} gk_gmm_update_opts;

/* Sets the defaults above. */
void gk_gmm_update_opts_default(gk_gmm_update_opts *o);

/* M-step (maximum likelihood, Bishop PRML eq. 9.24-9.26): a new prepared model `*out`
 * (from `a`) with w_k = n_k / N, mu_k = shift_k + m_k, S_k = second_k / n_k - m_k m_k'
 * (+ reg, then the floors), where m_k = first_k / n_k. A component is dying when n_k is
 * 0, its weight is under min_weight, or its covariance is not positive definite even
 * after reg and the floors; o->death says what becomes of it. All components dying (data
 * without variance and no floor) is GK_ENUMERIC. `*events` (may be NULL) receives the
 * number of components re-split or removed. */
gk_status gk_gmm_update(const gk_gmm_stats *s, const gk_gmm_update_opts *o, gk_gmm **out,
                        const gk_allocator *a, size_t *events, gk_error *err);

/* Reynolds-style MAP adaptation (Reynolds, Quatieri and Dunn 2000, eq. 11-14) of the UBM
 * `ubm` to the statistics `s` (accumulated under `ubm`): alpha_k = n_k / (n_k + relevance);
 * means alpha E_k[x] + (1 - alpha) mu_k; weights [alpha n_k / N + (1 - alpha) w_k]
 * normalised; variances alpha E_k[xx'] + (1 - alpha)(S_k + mu_k mu_k') - mu'_k mu'_k'.
 * Each of means, weights and variances is adapted only when its flag is set. */
gk_status gk_gmm_map(const gk_gmm *ubm, const gk_gmm_stats *s, double relevance, int means,
                     int weights, int variances, gk_gmm **out, const gk_allocator *a,
                     gk_error *err);

/* ==== Training =======================================================================
 * gk_gmm_train_* splits EM training into steps so that a driver (the Lua binding) can
 * report progress, save checkpoints and stop between iterations, and so that the
 * accumulation can be distributed (accumulate + merge + update = one iteration). */

typedef enum gk_gmm_init {
  GK_INIT_KMEANSPP = 0,  /* k-means++ seeding, then hard assignment */
  GK_INIT_KMEANS = 1,    /* k-means++ seeding, Lloyd iterations, then hard assignment */
  GK_INIT_RANDOM = 2,    /* K distinct random frames as means, the global (co)variance */
  GK_INIT_SPLIT = 3,     /* binary splitting from one component (UBM recipes) */
  GK_INIT_MODEL = 4      /* start from a given model */
} gk_gmm_init;

typedef struct gk_gmm_train_opts {
  size_t components;          /* K (ignored with GK_INIT_MODEL) */
  gk_cov_type cov;            /* ignored with GK_INIT_MODEL */
  gk_gmm_init init;
  const gk_gmm *init_model;   /* for GK_INIT_MODEL (copied) */
  uint64_t seed;
  size_t init_frames;         /* frames sampled for the k-means initialisations (0: all up to 100000) */
  gk_gmm_update_opts update;
} gk_gmm_train_opts;

/* Training state: the current model and what is needed to continue. */
typedef struct gk_gmm_trainer {
  gk_gmm *model;           /* current model (owned) */
  size_t iteration;        /* EM iterations done at the final K */
  size_t stage;            /* split initialisation: completed splits; stage_iter iterations done in the current stage */
  size_t stage_iter;
  int splitting;           /* 1 while the split initialisation is still growing the model */
  size_t target_k;         /* K asked for */
  double *history;         /* mean log-likelihood per frame of each iteration (E-step of the model before its update) */
  size_t history_len, history_cap;
  size_t events;           /* components re-split or removed so far */
  double frames;           /* frames used per iteration */
  gk_gmm_update_opts update;
  gk_allocator alloc;
} gk_gmm_trainer;

/* The defaults: diag, 1 component, k-means++, seed 0, gk_gmm_update_opts_default. */
void gk_gmm_train_opts_default(gk_gmm_train_opts *o);

/* Training over several processes: each rank passes its part of the data and the job's
 * communicator `c`, and every call below is then collective (gmmkit/comm.h says how the
 * ranks agree, and how closely the result matches one process's); c = NULL is one
 * process, with the whole data. */

/* Options checked (ranges, dimensions agreeing between matrices and between ranks, K
 * against the job's frames) without touching the data values: the same verdict (and
 * message) on every rank. `*total` (may be NULL) receives the frames of the job. */
gk_status gk_gmm_train_check(const gk_gmm_data *x, const gk_gmm_train_opts *o, const gk_comm *c,
                             size_t *total, gk_error *err);
/* A digest of the job's data (shape and a strided sample of values: the value one process
 * with the whole list computes, on every rank) and of the options that decide the result,
 * so that a checkpoint is only resumed on the same problem. */
gk_status gk_gmm_train_fingerprint(const gk_gmm_data *x, const gk_gmm_train_opts *o, const gk_comm *c,
                                   uint64_t *fingerprint, gk_error *err);
/* Initialises training on `x` (validated as gk_gmm_train_check does, and the values of
 * this rank's frames): the initial model is made at rank 0 from the frames one process
 * would sample, then broadcast. A rank may hold no frames. */
gk_status gk_gmm_trainer_create(gk_gmm_trainer **out, const gk_gmm_data *x, const gk_gmm_train_opts *o,
                                const gk_comm *c, const gk_allocator *a, gk_error *err);
void gk_gmm_trainer_free(gk_gmm_trainer *t);
/* One EM iteration: accumulate over x (this rank's statistics, reduced over the ranks),
 * then the same update on every rank. `*loglik` receives the mean log-likelihood per frame
 * of the model before the update, `*comm_seconds` (may be NULL) the seconds spent in the
 * reduction, waiting for the slowest rank included. During a split initialisation a step
 * may also double the components; iterations then count toward t->stage, not
 * t->iteration. */
gk_status gk_gmm_trainer_step(gk_gmm_trainer *t, const gk_gmm_data *x, const gk_comm *c, double *loglik,
                              double *comm_seconds, gk_error *err);
/* The second half of a step: the update from statistics `s` of the whole data under
 * t->model (what gk_gmm_trainer_step does after its E-step). */
gk_status gk_gmm_trainer_advance(gk_gmm_trainer *t, const gk_gmm_stats *s, double *loglik, gk_error *err);

/* ==== Files ==========================================================================
 * Native format (little-endian): magic "GMMKIT\0" + kind byte ('M' model, 'S' statistics,
 * 'C' training checkpoint, 'G' Gaussian selector: gmmkit/gselect.h), u32 version, u32 covariance type, u64 K, u64 D, u64 payload
 * bytes, u64 FNV-1a-64 checksum of the payload, then the payload (float64 arrays). Sizes
 * are checked against gmmkit/limits.h and the file size before any allocation; writes
 * are atomic (gmmkit/fileio.h). */
gk_status gk_gmm_save(const gk_gmm *g, const char *path, gk_error *err);
/* A 64-bit digest (FNV-1a) of K, D, the covariance type and the parameters as a model file
 * stores them: equal for bit-identical models. A selector file records its UBM's. */
uint64_t gk_gmm_fingerprint(const gk_gmm *g);
gk_status gk_gmm_load(const char *path, gk_gmm **out, const gk_allocator *a, gk_error *err);
gk_status gk_gmm_stats_save(const gk_gmm_stats *s, const char *path, gk_error *err);
gk_status gk_gmm_stats_load(const char *path, gk_gmm_stats **out, const gk_allocator *a, gk_error *err);
/* A checkpoint: the trainer's model and state, plus `fingerprint`, a caller's digest of
 * the data and options that resuming must match. */
gk_status gk_gmm_trainer_save(const gk_gmm_trainer *t, uint64_t fingerprint, const char *path, gk_error *err);
gk_status gk_gmm_trainer_load(const char *path, uint64_t fingerprint, gk_gmm_trainer **out,
                              const gk_allocator *a, gk_error *err);
/* Kaldi's GMM formats, as `gmm-global-copy` (<DiagGMM>) and `fgmm-global-copy` (<FullGMM>)
 * write them: text (--binary=false) with gk_gmm_save_kaldi, binary ("\0B", parameters as
 * float32, the default of Kaldi's tools) with gk_gmm_save_kaldi_binary. Reading detects the
 * form and accepts both models (and the old <DiagGMMBegin>/<FullGMMBegin> text tokens; FV/DV,
 * FM/DM, FP/DP binary values); gconsts are recomputed, not trusted. */
gk_status gk_gmm_save_kaldi(const gk_gmm *g, const char *path, gk_error *err);
gk_status gk_gmm_save_kaldi_binary(const gk_gmm *g, const char *path, gk_error *err);
gk_status gk_gmm_load_kaldi(const char *path, gk_gmm **out, const gk_allocator *a, gk_error *err);

#ifdef __cplusplus
}
#endif
#endif
