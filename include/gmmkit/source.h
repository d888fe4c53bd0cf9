/*
 * gmmkit/source.h: feature matrices streamed from disk chunk by chunk, so that EM and
 * statistics run on more frames than memory holds.
 *
 * A source is one Kaldi rspecifier ("scp:feats.scp", "ark:feats.ark", "ark:cmd |", ...;
 * gmmkit/kaldi.h) or a list of files: ".npy" files and HTK parameter files (any other
 * name) hold one matrix each, Kaldi archives (".ark") all of theirs, in order. It is read in passes: gk_source_next hands out the next chunk, the
 * following matrices in order until they hold at least chunk_frames frames (a matrix is
 * never split, so a chunk may exceed that by one matrix), and a pass ends with *done = 1;
 * gk_source_rewind starts the next pass, which delivers the same matrices in the same
 * order. Reading overlaps the caller's computing: while the caller works on one chunk, a
 * thread reads the next, so that at most two chunks are in memory at once.
 *
 * Shares (MPI): with shares > 1 a source keeps only the entries i (0-based, in list or
 * table order) with i % shares == share, so that each rank reads its share of the scp
 * lines (the others are skipped without reading their values where the format allows);
 * the entries of a list are its files, an archive among them read whole by one rank.
 *
 * Errors name the file (for Kaldi tables also the key and the byte offset). A source is
 * used by one thread at a time; its prefetch thread is its own business.
 */
#ifndef GMMKIT_SOURCE_H
#define GMMKIT_SOURCE_H

#include "gmmkit/gmm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gk_source gk_source;

typedef struct gk_source_opts {
  size_t chunk_frames;   /* frames per chunk, at least (default 262144) */
  size_t share, shares;  /* this reader's share of the entries (default 0 of 1) */
} gk_source_opts;

void gk_source_opts_default(gk_source_opts *o);

/* A source over the Kaldi table `rspecifier`, or over the files paths[0..n) (n >= 1,
 * copied). Checks the options and, for files, that each exists as a regular file; nothing
 * else is read until the first gk_source_next. */
gk_status gk_source_open_table(gk_source **out, const char *rspecifier, const gk_source_opts *o, gk_error *err);
gk_status gk_source_open_files(gk_source **out, const char *const *paths, size_t n, const gk_source_opts *o,
                               gk_error *err);

/* The next chunk of the pass: *chunk describes its matrices (float32 or float64, as
 * stored; stride 1), valid until the next call, gk_source_rewind or gk_source_close. At
 * the end of the pass: GK_OK, *done = 1 and an empty chunk. After an error the pass is
 * over: rewind to read again. */
gk_status gk_source_next(gk_source *s, gk_gmm_data *chunk, int *done, gk_error *err);
/* Starts a new pass from the first entry. */
gk_status gk_source_rewind(gk_source *s, gk_error *err);
/* Counts the frames of a pass, every `stride`-th of each matrix as gk_gmm_data's stride
 * takes them, into *total (from the headers alone: a table's values are skipped), then
 * reads a pass keeping an evenly spread sample of at most max_frames of them in *out
 * (float32, allocated from `a`): the frames whose index in that count is a multiple of
 * ceil(total / max_frames), the same whatever the chunk size. The initial model of a
 * streamed training is made from it. */
gk_status gk_source_sample(gk_source *s, size_t stride, size_t max_frames, gk_matrix *out, size_t *total,
                           const gk_allocator *a, gk_error *err);
/* Stops any reading, frees everything; NULL is a no-op. */
void gk_source_close(gk_source *s);

#ifdef __cplusplus
}
#endif
#endif
