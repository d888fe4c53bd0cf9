/*
 * gmmkit/mfcc.h: MFCC and log mel filterbank features with Kaldi's semantics, as a plan
 * (gk_mfcc_create) and an execute step (gk_mfcc_compute), like FFTW's plans.
 *
 * The options carry the names of Kaldi's compute-mfcc-feats / compute-fbank-feats with
 * underscores and mean what they mean there (feature-window.cc, mel-computations.cc,
 * feature-mfcc.cc), so that for the same file and options gmmkit's numbers agree with
 * Kaldi's (and with HTK's through htk_compat):
 *   - samples in [-1, 1) are scaled by 32768 (the 16-bit integer range Kaldi reads);
 *   - frame f covers samples [f*shift, f*shift + length) when snip_edges, and otherwise is
 *     centred on f*shift + shift/2 with the signal reflected at both ends;
 *   - per frame: dither, DC removal, raw log energy, pre-emphasis, window, zero padding,
 *     power spectrum, triangular mel filters on the 1127 ln(1 + f/700) scale, log floored
 *     at FLT_EPSILON, DCT-II (orthonormal), sinusoidal lifter, energy in place of C0;
 *   - htk_compat moves C0 (or the energy) to the last column, C0 times sqrt(2).
 *
 * Ownership and threads: gk_mfcc_create plans the FFT (FFTW planning is not thread-safe:
 * create extractors from one thread at a time); the extractor is then read-only, and
 * gk_mfcc_compute may run on it from any number of threads at once (it allocates its
 * scratch per call, never per frame). Free with gk_mfcc_free.
 */
#ifndef GMMKIT_MFCC_H
#define GMMKIT_MFCC_H

#include <stddef.h>
#include <stdint.h>
#include "gmmkit/error.h"
#include "gmmkit/matrix.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gk_window_type {
  GK_WINDOW_HAMMING = 0,      /* 0.54 - 0.46 cos(2 pi n / (N - 1)) */
  GK_WINDOW_HANNING,          /* 0.5 - 0.5 cos(2 pi n / (N - 1)) */
  GK_WINDOW_POVEY,            /* Hann window to the power 0.85 (Kaldi's default) */
  GK_WINDOW_RECTANGULAR,      /* 1 */
  GK_WINDOW_BLACKMAN,         /* a - 0.5 cos(2 pi n/(N-1)) + (0.5 - a) cos(4 pi n/(N-1)) */
  GK_WINDOW_SINE              /* sin(pi n / (N - 1)) */
} gk_window_type;

/* NULL-terminated names of gk_window_type, in enum order ("hamming", "hanning", ...). */
extern const char *const gk_window_type_names[];

typedef enum gk_mfcc_output {
  GK_MFCC_CEPSTRA = 0,  /* MFCCs: num_ceps columns */
  GK_MFCC_FBANK         /* log mel filterbank: num_mel_bins columns (+1 with use_energy) */
} gk_mfcc_output;

typedef struct gk_mfcc_opts {
  double sample_frequency;        /* Hz; the signal's rate must equal it */
  double frame_length;            /* ms */
  double frame_shift;             /* ms */
  double dither;                  /* std. dev. of Gaussian noise added per sample (16-bit units); 0 = none */
  uint64_t seed;                  /* seed of the dither noise */
  double preemphasis_coefficient; /* x[i] -= c x[i-1] within the frame; 0 = none */
  int remove_dc_offset;           /* subtract each frame's mean */
  gk_window_type window_type;
  double blackman_coeff;          /* a of the Blackman window (0.42) */
  int round_to_power_of_two;      /* pad the FFT to the next power of two */
  int snip_edges;                 /* only whole frames (1) or frames centred on the shift grid (0) */
  int num_mel_bins;               /* triangular filters (>= 3) */
  double low_freq;                /* Hz, low edge of the first filter */
  double high_freq;               /* Hz, high edge of the last filter; <= 0: offset from Nyquist */
  int num_ceps;                   /* cepstra kept, C0 included (<= num_mel_bins) */
  int use_energy;                 /* log energy replaces C0 (fbank: an extra first column) */
  int raw_energy;                 /* energy before pre-emphasis and window (1) or after (0) */
  double energy_floor;            /* floor of the energy (not log); 0 = none */
  double cepstral_lifter;         /* Q of 1 + Q/2 sin(pi i / Q); 0 = none */
  int htk_compat;                 /* HTK column order (energy or C0 last, C0 scaled by sqrt 2) */
  gk_mfcc_output output;          /* cepstra or log mel filterbank */
  int use_log_fbank;              /* fbank: log of the energies (1) or the energies (0) */
  int use_power;                  /* fbank: power spectrum (1) or magnitude (0); MFCC: always power */
  int delta_order;                /* appended regression coefficients (0 = static only) */
  int delta_window;               /* half-width of the regression window */
} gk_mfcc_opts;

/* Kaldi's compute-mfcc-feats defaults (16 kHz, 25/10 ms, povey window, 23 bins, 13 ceps,
 * energy, lifter 22), except dither = 0 (Kaldi: 1) so that results are reproducible. */
void gk_mfcc_opts_default(gk_mfcc_opts *o);

/* NULL-terminated preset names: "kaldi", "htk", "sre8k", "sre16k", "paper". */
extern const char *const gk_mfcc_preset_names[];

/* Resets `o` to the defaults and applies the preset `name`:
 *   kaldi   the defaults above;
 *   htk     HTK's usual MFCC_0 front end through Kaldi's htk_compat: hamming, no DC
 *           removal, 26 bins, 13 ceps (C0 last), lifter 22, 0 Hz to Nyquist;
 *   sre8k   Kaldi sre16 x-vector recipe: 8 kHz, 23 bins, 23 ceps, 20-3700 Hz, snip_edges 0;
 *   sre16k  Kaldi voxceleb recipe: 16 kHz, 30 bins, 30 ceps, 20-7600 Hz, snip_edges 0;
 *   paper   19 coefficients (log energy in place of C0, then C1 to C18) + their 19
 *           deltas (window 2) from 30 ms frames every 10 ms, 23 bins, hamming window.
 * GK_EINVAL naming the preset (with the valid ones) when it is unknown. */
gk_status gk_mfcc_opts_preset(gk_mfcc_opts *o, const char *name, gk_error *err);

typedef struct gk_mfcc gk_mfcc;

/* Validates `o` and builds the extractor: window, FFT plan, mel filterbank, DCT, lifter.
 * Errors name the option: num_ceps > num_mel_bins, an empty mel bin, high_freq above
 * Nyquist, a frame shorter than one sample, ... */
gk_status gk_mfcc_create(gk_mfcc **out, const gk_mfcc_opts *o, gk_error *err);
/* Frees the extractor; NULL is a no-op. */
void gk_mfcc_free(gk_mfcc *ex);

/* The options the extractor was built with. */
const gk_mfcc_opts *gk_mfcc_options(const gk_mfcc *ex);
/* Columns of the output: static dims * (1 + delta_order). */
size_t gk_mfcc_dims(const gk_mfcc *ex);
/* Frame length and shift in samples, and the FFT size. */
size_t gk_mfcc_frame_length(const gk_mfcc *ex);
size_t gk_mfcc_frame_shift(const gk_mfcc *ex);
size_t gk_mfcc_fft_size(const gk_mfcc *ex);

/* Kaldi's NumFrames: with snip_edges, 0 if n < length else 1 + (n - length) / shift;
 * without, (n + shift / 2) / shift (integer division). Lengths in samples. */
size_t gk_mfcc_frame_count(size_t n, size_t length, size_t shift, int snip_edges);
/* The number of frames the extractor makes from n samples. */
size_t gk_mfcc_num_frames(const gk_mfcc *ex, size_t n);

/* Computes the features of `samples[0..n)` (float32 in [-1, 1), at `rate` Hz, which must
 * equal sample_frequency) into `out`, which the caller allocated as float32
 * gk_mfcc_num_frames(ex, n) x gk_mfcc_dims(ex). `log_energy`, when not NULL, receives one
 * value per frame: the log energy of the frame (raw or windowed per raw_energy, floored
 * per energy_floor). The extractor is not modified: any number of threads may call this
 * at once on one extractor. A signal shorter than one frame is GK_EINVAL. Long signals
 * are split over gk_threads() when called outside a parallel region (results do not
 * depend on it). Polls gk_interrupted() between blocks of frames (GK_EINTR). */
gk_status gk_mfcc_compute(const gk_mfcc *ex, const float *samples, size_t n, double rate,
                          gk_matrix *out, float *log_energy, gk_error *err);

#ifdef __cplusplus
}
#endif
#endif
