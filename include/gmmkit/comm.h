/*
 * gmmkit/comm.h: the communicator the core sees, for EM over several processes.
 *
 * A gk_comm is a table of four point-to-point and collective operations (rank, size,
 * send, receive, broadcast, barrier) that a message-passing library provides. The core
 * builds everything distributed training needs on these few calls, and so never links
 * an MPI library itself: the `gmmkit` host built with MPI supplies a gk_comm over
 * MPI_COMM_WORLD (src/lua/l_mpi.c); the loadable Lua module and C programs without MPI
 * pass NULL, which means one process (rank 0 of 1).
 *
 * Order: every reduction here is a fold in rank order at rank 0 (0, then 1, 2, ...),
 * whose result rank 0 broadcasts; so every rank holds the same bits, and a run repeated
 * with the same number of ranks repeats them. Messages between two ranks are matched in
 * the order they are sent, so no tags are needed.
 *
 * Failures: the operations return 0 on success. An implementation over MPI may (and the
 * host's does) end the job instead of returning an error; the core turns a non-zero
 * return into GK_EIO naming the operation.
 *
 * Every function below is collective: all ranks of the communicator call it, in the same
 * order, with the same sizes.
 *
 * Distributed EM (the `const gk_comm *` functions of gmmkit/gmm.h, gmm_train.c).
 * Each rank holds a part of the training data (a gk_gmm_data of its own files). The
 * data of the job is the concatenation of the ranks' parts in rank order, with frames
 * numbered globally in that order: that is the list a single process would be given
 * (gk.mpi.deal hands out contiguous runs of a file list, so it is the original list).
 *
 * What a single process computes from the whole list, the ranks compute together:
 * - the fingerprint of the data (gk_gmm_train_fingerprint) from the same sampled frames,
 *   so that a checkpoint of either resumes on the other, whatever the number of ranks;
 * - the initial model: rank 0 gathers exactly the frames a single process would sample
 *   (in the same order), initialises from them with the same seed, and broadcasts the
 *   model, so the initial model is the single-process one, bit for bit;
 * - every iteration, the statistics: each rank accumulates its part, rank 0 folds them in
 *   rank order (gk_gmm_stats_reduce) and broadcasts the sum, and every rank applies the
 *   same M-step to the same bits, so the models never diverge between ranks;
 * - with Gaussian selection whose members come from the data, the counts of (cluster,
 *   component) pairs over the ranks' frames (gk_selector_create_data_comm): whole numbers,
 *   so their sum is the single process's exactly, and so is every rank's selector.
 *
 * Equality with one process: within 1e-12 relative, not bit for bit (the initial model
 * and the fingerprint are exact). Why: the E-step (gmm_estep.c) adds the statistics of
 * fixed chunks of 4 blocks of 512 frames from left to right over the whole list, and a
 * chunk runs across file boundaries; a rank sees neither the chunks that straddle its
 * neighbours' files nor the running sum before its first file. Reproducing that fold
 * would mean sending every chunk's statistics (for a 256-component diagonal UBM in 38
 * dimensions about 0.3 MB per 2048 frames, ten times that for full covariances) to one
 * place every iteration. Summing per-rank partial sums instead changes only how the
 * additions of doubles associate: relative differences of order 1e-16 per iteration. They
 * can reach the float32 E-step (a kernel table entry or a frame minus the shift rounding
 * to the neighbouring float), which moves single posteriors by about 1e-7 of their value
 * and the statistics by far less; EM, a contraction near its fixed point, does not let
 * the differences grow. So 1e-12 is a checked bound, not a proven one: tests/c/test_comm.c
 * and tests/spec/mpi_spec.lua (2 and 3 ranks, diag and full, every initialisation, the
 * spoken-digit corpus) find at most 1e-14. With the same number of ranks a run repeats
 * its bits exactly.
 */
#ifndef GMMKIT_COMM_H
#define GMMKIT_COMM_H

#include <stddef.h>
#include <stdint.h>
#include "gmmkit/error.h"
#include "gmmkit/gmm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gk_comm {
  void *ctx;                                                          /* the implementation's own data */
  int (*rank)(void *ctx);                                             /* this process, 0 .. size - 1 */
  int (*size)(void *ctx);                                             /* number of processes, >= 1 */
  int (*send)(void *ctx, const void *buf, size_t bytes, int dest);    /* blocking, in order */
  int (*recv)(void *ctx, void *buf, size_t bytes, int src);           /* exactly `bytes` from src */
  int (*bcast)(void *ctx, void *buf, size_t bytes, int root);         /* root's bytes to every rank */
  int (*barrier)(void *ctx);
} gk_comm;

/* Rank and size of `c` (NULL: 0 and 1). */
int gk_comm_rank(const gk_comm *c);
int gk_comm_size(const gk_comm *c);

/* Broadcasts `bytes` bytes of `buf` from `root` (a no-op for one process). */
gk_status gk_comm_bcast(const gk_comm *c, void *buf, size_t bytes, int root, gk_error *err);

/* Every rank's n values (`mine`) in rank order into all[size * n], on every rank. */
gk_status gk_comm_allgather_u64(const gk_comm *c, const uint64_t *mine, size_t n, uint64_t *all,
                                gk_error *err);

/* Gathers to rank 0, in rank order, n[r] doubles from each rank r (the counts, known on
 * every rank, come in `counts`; `send` holds this rank's counts[rank] values). On rank 0
 * `recv` receives the concatenation (sum of counts values); elsewhere it is not used. */
gk_status gk_comm_gather_doubles(const gk_comm *c, const double *send, const size_t *counts,
                                 double *recv, gk_error *err);

/* Element-wise sum of n doubles over the ranks, as ((x_0 + x_1) + x_2) + ... at rank 0,
 * then broadcast: the same bits on every rank. `x` is overwritten with the sum. */
gk_status gk_comm_sum_doubles(const gk_comm *c, double *x, size_t n, gk_error *err);

/* Statistics summed over the ranks in rank order (ranks without frames are left out),
 * the same result on every rank. `*s` may be NULL on a rank without data (it is then
 * created, shaped k x d x cov); every rank passes the same k, d and cov. */
gk_status gk_gmm_stats_reduce(gk_gmm_stats **s, size_t k, size_t d, gk_cov_type cov,
                              const gk_comm *c, const gk_allocator *a, gk_error *err);

#ifdef __cplusplus
}
#endif
#endif
