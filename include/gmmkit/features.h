/*
 * gmmkit/features.h: post-processing of feature matrices as speaker recognition uses it:
 * regression deltas, sliding cepstral mean (and variance) normalisation, energy-based voice
 * activity detection and feature warping; and batch extraction over many audio files.
 *
 * Matrices are float32 row-major frames x dims. Every function writes into a destination
 * the caller allocated with the documented shape and never allocates it; sources are
 * only read, so one matrix may feed many threads. The semantics are those of Kaldi's
 * add-deltas, apply-cmvn-sliding and compute-vad, so results agree with a Kaldi recipe.
 */
#ifndef GMMKIT_FEATURES_H
#define GMMKIT_FEATURES_H

#include <stddef.h>
#include "gmmkit/error.h"
#include "gmmkit/matrix.h"
#include "gmmkit/mfcc.h"
#include "gmmkit/audio.h"

#ifdef __cplusplus
extern "C" {
#endif

/* dst (rows x cols * (order + 1)) = [static | delta | delta-delta ...] of src by the
 * HTK/Kaldi regression formula d_t = sum_{k=1..W} k (x_{t+k} - x_{t-k}) / (2 sum k^2),
 * higher orders by applying the filter again (the filters are convolved, as Kaldi does),
 * frames beyond either end replaced by the first / last frame. order >= 0, window >= 1. */
gk_status gk_features_deltas(const gk_matrix *src, int order, int window, gk_matrix *dst,
                             gk_error *err);

typedef struct gk_cmvn_opts {
  int window;      /* frames of the sliding window; 0 = the whole utterance */
  int center;      /* window centred on the frame (1) or ending at it (0) */
  int min_window;  /* non-centred: the first frames use at least this many (Kaldi: 100) */
  int norm_vars;   /* also divide by the window's standard deviation */
} gk_cmvn_opts;

/* Kaldi's apply-cmvn-sliding defaults with window 300 and center 1. */
void gk_cmvn_opts_default(gk_cmvn_opts *o);

/* dst (same shape as src; may be src itself) = src with the mean (and with norm_vars the
 * standard deviation) of each frame's window removed, window per Kaldi's
 * SlidingWindowCmn: a window that would cross an end is shifted inside the utterance,
 * and shortened only when the utterance is shorter than it. Sums in float64. */
gk_status gk_features_cmvn(const gk_matrix *src, const gk_cmvn_opts *o, gk_matrix *dst,
                           gk_error *err);

typedef struct gk_vad_opts {
  double energy_threshold;     /* Kaldi vad-energy-threshold (5.0) */
  double energy_mean_scale;    /* vad-energy-mean-scale (0.5): threshold += scale * mean */
  int frames_context;          /* vad-frames-context (0): frames each side */
  double proportion_threshold; /* vad-proportion-threshold (0.6) */
  size_t column;               /* 0-based column holding the log energy (C0 or energy) */
} gk_vad_opts;

/* Kaldi's compute-vad defaults, column 0. */
void gk_vad_opts_default(gk_vad_opts *o);

/* Kaldi compute-vad: frame t is voiced (mask[t] = 1, else 0) when at least
 * proportion_threshold of the frames within frames_context of it (inside the utterance)
 * have log energy above energy_threshold + energy_mean_scale * mean log energy.
 * `mask` has src->rows entries; *voiced (optional) receives their sum. */
gk_status gk_features_vad(const gk_matrix *src, const gk_vad_opts *o, unsigned char *mask,
                          size_t *voiced, gk_error *err);

/* Feature warping (Pelecanos and Sridharan, "Feature warping for robust speaker
 * verification", Odyssey 2001, sec. 3): each value is replaced by the standard normal
 * quantile of its rank within a sliding window of `window` frames centred on it (shifted
 * inside the utterance at the ends, the whole utterance when shorter):
 * y = Phi^-1((N + 1/2 - R) / N), R the rank from the top (ties share the mean rank).
 * dst has src's shape and must not alias it. window >= 1 (301 = 3 s at 10 ms). */
gk_status gk_features_warp(const gk_matrix *src, int window, gk_matrix *dst, gk_error *err);

/* ---- batch extraction ---------------------------------------------------------------- */

typedef enum gk_norm_type {
  GK_NORM_NONE = 0,   /* no normalisation */
  GK_NORM_CMVN,       /* gk_features_cmvn with `cmvn` */
  GK_NORM_WARP        /* gk_features_warp with `warp_window` */
} gk_norm_type;

typedef struct gk_extract_opts {
  gk_audio_opts audio;    /* how files are read (rate, channel, resampling quality) */
  int delta_order;        /* deltas appended after normalisation (0 = none) */
  int delta_window;
  gk_norm_type norm;      /* normalisation of the static features */
  gk_cmvn_opts cmvn;
  int warp_window;
  int vad;                /* keep only voiced frames (decided on the raw static features) */
  gk_vad_opts vad_opts;
} gk_extract_opts;

/* Defaults: file's rate, mix to mono, no deltas, no normalisation, no VAD. */
void gk_extract_opts_default(gk_extract_opts *o);

typedef struct gk_extract_result {
  gk_matrix features;   /* float32 frames x dims, malloc'ed (release with gk_matrix_release(.., NULL)) */
  double seconds;       /* audio duration of the file */
  int source_rate;      /* the file's own sample rate in Hz (0 when its header was unreadable);
                           it was resampled when o->audio.rate > 0 differs from it */
  gk_error error;       /* status GK_OK, or why this file failed (message names it; an
                           interrupted file's message is "interrupted", naming no file) */
} gk_extract_result;

/* Output columns of gk_features_extract_file with extractor `ex` (whose own delta_order
 * must be 0) and options `o`. */
size_t gk_features_extract_dims(const gk_mfcc *ex, const gk_extract_opts *o);

/* One file: load (resampled to o->audio.rate when that is set and differs from the
 * file's rate), static features, VAD mask on them, normalisation, deltas, voiced frames.
 * Fills `r` (features malloc'ed). Thread-safe for distinct `r`. */
gk_status gk_features_extract_file(const gk_mfcc *ex, const char *path,
                                   const gk_extract_opts *o, gk_extract_result *r);

/* Files paths[0..n) in parallel (gk_threads() OpenMP threads, dynamic schedule; results
 * in path order and independent of the thread count); a failing file fills its
 * result's error and the others go on. Returns GK_EINTR if interrupted (results of
 * finished files are kept, the others are GK_EINTR; the message is "feature extraction
 * interrupted", not a file's fault), GK_OK otherwise. */
gk_status gk_features_extract(const gk_mfcc *ex, const char *const *paths, size_t n,
                              const gk_extract_opts *o, gk_extract_result *results,
                              gk_error *err);

/* gk_features_extract_file for one audio source (a file, a command's output, a segment of
 * either; gmmkit/audio.h); error messages start with src->name when it is set. */
gk_status gk_features_extract_source(const gk_mfcc *ex, const gk_audio_source *src,
                                     const gk_extract_opts *o, gk_extract_result *r);

/* gk_features_extract over the sources srcs[0..n) (the utterances of a Kaldi data
 * directory): the same parallel loop, results in source order. */
gk_status gk_features_extract_sources(const gk_mfcc *ex, const gk_audio_source *srcs, size_t n,
                                      const gk_extract_opts *o, gk_extract_result *results,
                                      gk_error *err);

/* The most common sample rate among the headers of paths[0..n) (files whose header
 * cannot be read are not counted; among equally common rates the one met first in path
 * order), in *rate; 0 when no header could be read. Headers are read in parallel
 * (gk_threads()). Returns GK_EINTR if interrupted, GK_ENOMEM, or GK_OK. */
gk_status gk_features_common_rate(const char *const *paths, size_t n, int *rate, gk_error *err);

#ifdef __cplusplus
}
#endif
#endif
