/*
 * gmmkit/audio.h: audio files in and out through libsndfile, resampling through
 * libsamplerate.
 *
 * A signal is mono float32 samples plus a sample rate. Files in any format and encoding
 * libsndfile reads (WAV, FLAC, OGG, AIFF, AU, W64, CAF, ...; 8/16/24/32-bit integer,
 * float, double, u-law, a-law, ...) are read in blocks, so that the memory used is the
 * output and a small buffer: integer encodings map to [-1, 1) (sample / 2^(bits-1));
 * float encodings are passed through unchanged. Multi-channel audio is averaged to mono
 * or one channel is picked; when a target rate differs from the file's the signal is
 * resampled with libsamplerate's sinc converters.
 *
 * Errors name the file and the reason (missing, not audio, empty, truncated, absurd
 * header). Ownership: signal samples come from the given allocator (NULL: malloc) and
 * are released with gk_signal_release and the same allocator. Functions are re-entrant.
 */
#ifndef GMMKIT_AUDIO_H
#define GMMKIT_AUDIO_H

#include <stddef.h>
#include "gmmkit/alloc.h"
#include "gmmkit/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GK_AUDIO_MAX_CHANNELS 1024       /* more channels than this is an absurd header */
#define GK_AUDIO_MAX_RATE     1000000    /* Hz; a higher sample rate is an absurd header */
#define GK_AUDIO_MAX_SAMPLE   1e6        /* |sample| (full scale is 1): 120 dB over full scale;
                                            beyond it a power spectrum overflows float32 */

typedef struct gk_signal {
  float *samples;  /* n samples, mono */
  size_t n;        /* number of samples */
  int rate;        /* Hz */
} gk_signal;

typedef enum gk_resample_quality {
  GK_RESAMPLE_BEST = 0,   /* SRC_SINC_BEST_QUALITY */
  GK_RESAMPLE_MEDIUM,     /* SRC_SINC_MEDIUM_QUALITY (default) */
  GK_RESAMPLE_FAST        /* SRC_SINC_FASTEST */
} gk_resample_quality;

/* NULL-terminated names "best", "medium", "fast" in enum order. */
extern const char *const gk_resample_quality_names[];

typedef struct gk_audio_opts {
  int rate;                     /* target rate in Hz; 0 keeps the file's */
  int channel;                  /* 0-based channel to keep; -1 averages all channels */
  gk_resample_quality quality;  /* resampler when rate differs */
} gk_audio_opts;

/* rate 0, channel -1 (mix), quality medium. */
void gk_audio_opts_default(gk_audio_opts *o);

typedef struct gk_audio_info {
  long long frames;       /* samples per channel */
  int channels;
  int rate;               /* Hz */
  char format[64];        /* "WAV (Microsoft), Signed 16 bit PCM" */
} gk_audio_info;

/* Reads the header of `path` without decoding the samples. */
gk_status gk_audio_info_file(const char *path, gk_audio_info *info, gk_error *err);

/* Loads `path` as a mono signal per `o` (NULL: defaults) into `out` (samples from `a`). */
gk_status gk_audio_load(const char *path, const gk_audio_opts *o, gk_signal *out,
                        const gk_allocator *a, gk_error *err);

/* Same from the `size` bytes at `data` (a whole file image, any libsndfile format);
 * `name` labels error messages (e.g. "<memory>"). The bytes are only read. */
gk_status gk_audio_load_memory(const void *data, size_t size, const char *name,
                               const gk_audio_opts *o, gk_signal *out,
                               const gk_allocator *a, gk_error *err);

/* Resamples `in` to `rate` Hz into `out` (new samples from `a`). */
gk_status gk_audio_resample(const gk_signal *in, int rate, gk_resample_quality q,
                            gk_signal *out, const gk_allocator *a, gk_error *err);

typedef enum gk_audio_format {
  GK_AUDIO_AUTO = 0,  /* from the file name's extension (.wav, .flac) */
  GK_AUDIO_WAV,       /* RIFF WAVE */
  GK_AUDIO_FLAC       /* FLAC (integer encodings only) */
} gk_audio_format;

typedef enum gk_audio_encoding {
  GK_ENC_PCM16 = 0,   /* 16-bit signed integer (default; values clipped to [-1, 1)) */
  GK_ENC_PCM24,       /* 24-bit signed integer */
  GK_ENC_FLOAT        /* 32-bit float (WAV only) */
} gk_audio_encoding;

/* Writes `s` to `path` atomically (temporary file beside it, fsync, rename), so an
 * existing file is replaced whole or left intact. */
gk_status gk_audio_save(const char *path, const gk_signal *s, gk_audio_format f,
                        gk_audio_encoding e, gk_error *err);

/* Checks samples for analysis: each finite and at most GK_AUDIO_MAX_SAMPLE in magnitude.
 * GK_OK, or GK_ENUMERIC "sample I is NaN (samples must be finite ...)" with I 1-based. */
gk_status gk_samples_check(const float *x, size_t n, gk_error *err);

/* Frees the samples (allocated from `a`) and zeroes the signal. */
void gk_signal_release(gk_signal *s, const gk_allocator *a);

/* The audio files under `dir` (extensions libsndfile reads: wav, flac, ogg, ...,
 * case-insensitive), descending into sub-folders when `recursive`, sorted by path
 * (strcmp). A folder reached twice (a symbolic link back to a parent, or two links to one
 * folder) is listed once: folders are tracked by device and inode. *paths is a malloc'ed
 * array of malloc'ed strings; free with gk_audio_list_free. */
gk_status gk_audio_list(const char *dir, int recursive, char ***paths, size_t *n,
                        gk_error *err);
void gk_audio_list_free(char **paths, size_t n);

/* ---- sources: where one utterance's audio comes from (a Kaldi wav.scp entry and segment) */

/* An audio file, or the standard output of a shell command (a Kaldi wav.scp entry
 * "sox f.wav -t wav - |" without its '|': a command by Kaldi's definition, run by /bin/sh
 * as the user wrote it), optionally cut to the seconds [start, stop) of the recording at
 * its own rate, as Kaldi's extract-segments cuts: samples from (long)(start * rate) to
 * (long)(stop * rate), stop < 0 meaning the end; a stop at most 0.5 s beyond the end is
 * truncated to it, further is an error; a start at or beyond the end, or a segment of
 * 0.1 s or less, is an error. */
typedef struct gk_audio_source {
  const char *path;     /* an audio file, or NULL when `command` is set */
  const char *command;  /* a shell command whose whole output is an audio file's image */
  int cut;              /* cut to [start, stop) (a segment), else the whole recording */
  double start, stop;   /* seconds; stop < 0: to the end of the recording */
  const char *name;     /* prefix of error messages ("utterance 'u1'"); NULL: none */
} gk_audio_source;

/* Loads `s` as gk_audio_load loads a file (resampled to o->rate after the cut when that
 * is set). *source_rate (may be NULL) receives the recording's own rate (0 if unknown).
 * A command's output is read whole into memory; a command that exits with a status
 * other than 0 or is killed fails with GK_EIO naming it. Thread-safe. */
gk_status gk_audio_load_source(const gk_audio_source *s, const gk_audio_opts *o, gk_signal *out,
                               int *source_rate, const gk_allocator *a, gk_error *err);

/* The seconds [start, stop) of the recording `rec` (stop < 0: to its end), cut as
 * gk_audio_source describes, resampled to `rate` Hz when rate > 0 differs from rec's,
 * into `out` (new samples from `a`); `rec` is only read. */
gk_status gk_audio_segment(const gk_signal *rec, double start, double stop, int rate, gk_resample_quality q,
                           gk_signal *out, const gk_allocator *a, gk_error *err);

#ifdef __cplusplus
}
#endif
#endif
