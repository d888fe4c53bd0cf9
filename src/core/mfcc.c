/*
 * mfcc.c: the MFCC / log mel filterbank extractor (see gmmkit/mfcc.h).
 *
 * The per-frame pipeline follows Kaldi's FrameExtractionOptions / ProcessWindow /
 * MfccComputer::Compute step by step, so that the numbers agree within float rounding:
 * extract (reflecting at the ends when !snip_edges), dither, remove DC, raw log energy,
 * pre-emphasis, window, zero pad, |FFT|^2, mel filters, log, DCT, lifter, energy.
 * Everything that does not depend on the samples (window, filters, DCT with the lifter
 * folded in, FFT plan) is built once in gk_mfcc_create; compute allocates its scratch once
 * per call (per thread), never per frame.
 */
#include "gmmkit/mfcc.h"
#include "gmmkit/audio.h"
#include "gmmkit/features.h"
#include "gmmkit/parallel.h"
#include "gmmkit/alloc.h"
#include "gmmkit/random.h"

#include <fftw3.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif
#ifndef M_SQRT2
#define M_SQRT2 1.41421356237309504880
#endif

const char *const gk_window_type_names[] = {"hamming", "hanning", "povey", "rectangular",
                                            "blackman", "sine", NULL};
const char *const gk_mfcc_preset_names[] = {"kaldi", "htk", "sre8k", "sre16k", "paper", NULL};

/* Independent partial sums in the per-frame reductions (four SSE vectors). */
#define GK_LANES 16
/* Frames per parallel block: big enough that the scratch set-up is negligible. */
#define GK_MFCC_BLOCK 512
/* Largest frame accepted, in samples (a minute at 16 kHz; a bigger one is a unit slip). */
#define GK_MFCC_MAX_FRAME (1 << 20)

struct gk_mfcc {
  gk_mfcc_opts o;
  int len;            /* frame length, samples */
  int shift;          /* frame shift, samples */
  int nfft;           /* padded length */
  int nbins;          /* mel bins */
  int ncep;           /* cepstra */
  size_t sdims;       /* static output columns */
  size_t dims;        /* with deltas */
  float *window;      /* len */
  int *bin_first;     /* nbins: first FFT bin of each filter */
  int *bin_len;       /* nbins: number of FFT bins of each filter, rounded up to 4 */
  float *weights;     /* concatenated filter weights (zero-padded to bin_len) */
  float *dct_t;       /* nbins x ncep_pad: the DCT matrix transposed, lifter folded in */
  int ncep_pad;       /* ncep rounded up to 4 (zero columns), so the DCT loop has no tail */
  float log_energy_floor;  /* -inf when energy_floor == 0 */
  fftwf_plan plan;    /* even nfft: complex FFT of size nfft/2; odd: r2c of size nfft */
  int packed;         /* 1 when `plan` is the half-size complex FFT (see compute_frame) */
  float *twiddle;     /* packed: cos(2 pi k / nfft) for k < nfft/2, then the sines */
};

void gk_mfcc_opts_default(gk_mfcc_opts *o) {
  memset(o, 0, sizeof *o);
  o->sample_frequency = 16000.0;
  o->frame_length = 25.0;
  o->frame_shift = 10.0;
  o->dither = 0.0;
  o->seed = 0;
  o->preemphasis_coefficient = 0.97;
  o->remove_dc_offset = 1;
  o->window_type = GK_WINDOW_POVEY;
  o->blackman_coeff = 0.42;
  o->round_to_power_of_two = 1;
  o->snip_edges = 1;
  o->num_mel_bins = 23;
  o->low_freq = 20.0;
  o->high_freq = 0.0;
  o->num_ceps = 13;
  o->use_energy = 1;
  o->raw_energy = 1;
  o->energy_floor = 0.0;
  o->cepstral_lifter = 22.0;
  o->htk_compat = 0;
  o->output = GK_MFCC_CEPSTRA;
  o->use_log_fbank = 1;
  o->use_power = 1;
  o->delta_order = 0;
  o->delta_window = 2;
}

gk_status gk_mfcc_opts_preset(gk_mfcc_opts *o, const char *name, gk_error *err) {
  gk_mfcc_opts_default(o);
  if (!name) return gk_fail(err, GK_EINVAL, "preset: no name given");
  if (strcmp(name, "kaldi") == 0) return GK_OK;
  if (strcmp(name, "htk") == 0) {
    /* HTK's usual front end (HCopy with TARGETKIND=MFCC_0, USEHAMMING=T, PREEMCOEF=0.97,
     * NUMCHANS=26, NUMCEPS=12, CEPLIFTER=22) as Kaldi's documentation maps it. */
    o->window_type = GK_WINDOW_HAMMING;
    o->remove_dc_offset = 0;
    o->num_mel_bins = 26;
    o->num_ceps = 13;
    o->use_energy = 0;
    o->low_freq = 0.0;
    o->high_freq = 0.0;
    o->htk_compat = 1;
    return GK_OK;
  }
  if (strcmp(name, "sre8k") == 0) {  /* egs/sre16/v2/conf/mfcc.conf */
    o->sample_frequency = 8000.0;
    o->num_mel_bins = 23;
    o->num_ceps = 23;
    o->low_freq = 20.0;
    o->high_freq = 3700.0;
    o->snip_edges = 0;
    return GK_OK;
  }
  if (strcmp(name, "sre16k") == 0) {  /* egs/voxceleb/v2/conf/mfcc.conf */
    o->sample_frequency = 16000.0;
    o->num_mel_bins = 30;
    o->num_ceps = 30;
    o->low_freq = 20.0;
    o->high_freq = 7600.0;
    o->snip_edges = 0;
    return GK_OK;
  }
  if (strcmp(name, "paper") == 0) {
    /* 38-dimensional features: 19 cepstra and their deltas from 30 ms frames. */
    o->frame_length = 30.0;
    o->frame_shift = 10.0;
    o->window_type = GK_WINDOW_HAMMING;
    o->num_mel_bins = 23;
    o->num_ceps = 19;
    o->use_energy = 1;  /* column 1 is the log energy, as compute-vad expects */
    o->delta_order = 1;
    o->delta_window = 2;
    return GK_OK;
  }
  return gk_fail(err, GK_EINVAL,
                 "unknown preset '%s' (valid: kaldi, htk, sre8k, sre16k, paper)", name);
}

size_t gk_mfcc_frame_count(size_t n, size_t length, size_t shift, int snip_edges) {
  if (shift == 0) return 0;
  if (snip_edges) return n < length ? 0 : 1 + (n - length) / shift;
  return (n + shift / 2) / shift;
}

static double mel_scale(double f) { return 1127.0 * log(1.0 + f / 700.0); }

/* Kaldi's FeatureWindowFunction, with a = 2 pi / (N - 1). */
static void make_window(float *w, int n, gk_window_type t, double blackman) {
  double a = n > 1 ? 2.0 * M_PI / (double)(n - 1) : 0.0;
  for (int i = 0; i < n; i++) {
    double v = 1.0;
    switch (t) {
      case GK_WINDOW_HANNING: v = 0.5 - 0.5 * cos(a * i); break;
      case GK_WINDOW_SINE: v = sin(0.5 * a * i); break;
      case GK_WINDOW_HAMMING: v = 0.54 - 0.46 * cos(a * i); break;
      case GK_WINDOW_POVEY: v = pow(0.5 - 0.5 * cos(a * i), 0.85); break;
      case GK_WINDOW_RECTANGULAR: v = 1.0; break;
      case GK_WINDOW_BLACKMAN:
        v = blackman - 0.5 * cos(a * i) + (0.5 - blackman) * cos(2.0 * a * i);
        break;
    }
    w[i] = (float)v;
  }
}

static gk_status check_opts(const gk_mfcc_opts *o, gk_error *err) {
  if (!(o->sample_frequency > 0 && o->sample_frequency <= 1e6))
    return gk_fail(err, GK_EINVAL, "option 'sample_frequency' must be in (0, 1e6] Hz, got %g",
                   o->sample_frequency);
  if (!(o->frame_length > 0 && isfinite(o->frame_length)))
    return gk_fail(err, GK_EINVAL, "option 'frame_length' must be > 0 ms, got %g", o->frame_length);
  if (!(o->frame_shift > 0 && isfinite(o->frame_shift)))
    return gk_fail(err, GK_EINVAL, "option 'frame_shift' must be > 0 ms, got %g", o->frame_shift);
  double len = o->sample_frequency * 0.001 * o->frame_length;
  double shift = o->sample_frequency * 0.001 * o->frame_shift;
  if (len < 2)
    return gk_fail(err, GK_EINVAL,
                   "option 'frame_length' %g ms is less than 2 samples at %g Hz", o->frame_length,
                   o->sample_frequency);
  if (len > GK_MFCC_MAX_FRAME)
    return gk_fail(err, GK_EINVAL, "option 'frame_length' %g ms is %.0f samples (limit %d)",
                   o->frame_length, len, GK_MFCC_MAX_FRAME);
  if (shift < 1)
    return gk_fail(err, GK_EINVAL, "option 'frame_shift' %g ms is less than 1 sample at %g Hz",
                   o->frame_shift, o->sample_frequency);
  if (shift > GK_MFCC_MAX_FRAME)
    return gk_fail(err, GK_EINVAL, "option 'frame_shift' %g ms is too large", o->frame_shift);
  if (!(o->dither >= 0 && isfinite(o->dither)))
    return gk_fail(err, GK_EINVAL, "option 'dither' must be >= 0, got %g", o->dither);
  if (!(o->preemphasis_coefficient >= 0 && o->preemphasis_coefficient <= 1))
    return gk_fail(err, GK_EINVAL, "option 'preemphasis_coefficient' must be in [0, 1], got %g",
                   o->preemphasis_coefficient);
  if ((int)o->window_type < 0 || (int)o->window_type > GK_WINDOW_SINE)
    return gk_fail(err, GK_EINVAL, "option 'window_type' %d is not a window type",
                   (int)o->window_type);
  if (!(o->blackman_coeff >= 0 && o->blackman_coeff <= 1))
    return gk_fail(err, GK_EINVAL, "option 'blackman_coeff' must be in [0, 1], got %g",
                   o->blackman_coeff);
  if (o->num_mel_bins < 3 || o->num_mel_bins > 4096)
    return gk_fail(err, GK_EINVAL, "option 'num_mel_bins' must be in [3, 4096], got %d",
                   o->num_mel_bins);
  if (o->output == GK_MFCC_CEPSTRA) {
    if (o->num_ceps < 1)
      return gk_fail(err, GK_EINVAL, "option 'num_ceps' must be >= 1, got %d", o->num_ceps);
    if (o->num_ceps > o->num_mel_bins)
      return gk_fail(err, GK_EINVAL,
                     "option 'num_ceps' (%d) must not exceed option 'num_mel_bins' (%d)",
                     o->num_ceps, o->num_mel_bins);
  }
  if ((int)o->output < 0 || (int)o->output > GK_MFCC_FBANK)
    return gk_fail(err, GK_EINVAL, "option 'output' %d is not an output type", (int)o->output);
  if (!(o->cepstral_lifter >= 0 && isfinite(o->cepstral_lifter)))
    return gk_fail(err, GK_EINVAL, "option 'cepstral_lifter' must be >= 0, got %g",
                   o->cepstral_lifter);
  if (!(o->energy_floor >= 0 && isfinite(o->energy_floor)))
    return gk_fail(err, GK_EINVAL, "option 'energy_floor' must be >= 0, got %g", o->energy_floor);
  if (o->delta_order < 0 || o->delta_order > 8)
    return gk_fail(err, GK_EINVAL, "option 'delta_order' must be in [0, 8], got %d",
                   o->delta_order);
  if (o->delta_window < 1 || o->delta_window > 1000)
    return gk_fail(err, GK_EINVAL, "option 'delta_window' must be in [1, 1000], got %d",
                   o->delta_window);
  double nyquist = 0.5 * o->sample_frequency;
  if (!(o->low_freq >= 0 && o->low_freq < nyquist))
    return gk_fail(err, GK_EINVAL,
                   "option 'low_freq' %g Hz must be in [0, %g) (the Nyquist frequency of "
                   "sample_frequency %g)", o->low_freq, nyquist, o->sample_frequency);
  double high = o->high_freq > 0 ? o->high_freq : nyquist + o->high_freq;
  if (!isfinite(o->high_freq) || high > nyquist)
    return gk_fail(err, GK_EINVAL,
                   "option 'high_freq' %g Hz is above the Nyquist frequency %g Hz "
                   "(sample_frequency %g)", o->high_freq, nyquist, o->sample_frequency);
  if (high <= o->low_freq)
    return gk_fail(err, GK_EINVAL,
                   "option 'high_freq' (%g, i.e. %g Hz) must be above option 'low_freq' (%g Hz)",
                   o->high_freq, high, o->low_freq);
  return GK_OK;
}

void gk_mfcc_free(gk_mfcc *ex) {
  if (!ex) return;
  if (ex->plan) fftwf_destroy_plan(ex->plan);
  free(ex->window);
  free(ex->bin_first);
  free(ex->bin_len);
  free(ex->weights);
  free(ex->dct_t);
  free(ex->twiddle);
  free(ex);
}

/* Kaldi MelBanks: triangular filters equally spaced on the mel scale between low_freq and
 * high_freq, evaluated at the centre frequencies of FFT bins 0 .. nfft/2 - 1. */
static gk_status make_filters(gk_mfcc *ex, gk_error *err) {
  const gk_mfcc_opts *o = &ex->o;
  int nb = ex->nbins, nfreq = ex->nfft / 2;
  double nyquist = 0.5 * o->sample_frequency;
  double high = o->high_freq > 0 ? o->high_freq : nyquist + o->high_freq;
  double bin_width = o->sample_frequency / ex->nfft;
  double mlow = mel_scale(o->low_freq), mhigh = mel_scale(high);
  double delta = (mhigh - mlow) / (nb + 1);
  ex->bin_first = malloc(sizeof(int) * (size_t)nb);
  ex->bin_len = malloc(sizeof(int) * (size_t)nb);
  if (!ex->bin_first || !ex->bin_len) return gk_fail_nomem(err);
  size_t total = 0;
  for (int b = 0; b < nb; b++) {
    double left = mlow + b * delta, center = mlow + (b + 1) * delta, right = mlow + (b + 2) * delta;
    int first = -1, last = -1;
    for (int i = 0; i < nfreq; i++) {
      double m = mel_scale(bin_width * i);
      if (m > left && m < right) {
        if (first < 0) first = i;
        last = i;
      }
    }
    (void)center;
    if (first < 0)
      return gk_fail(err, GK_EINVAL,
                     "option 'num_mel_bins' %d is too large: mel bin %d (%.1f to %.1f Hz) "
                     "contains no FFT bin (FFT size %d at %g Hz, bins %.2f Hz apart); lower "
                     "num_mel_bins or raise frame_length",
                     nb, b + 1, 700.0 * (exp(left / 1127.0) - 1.0),
                     700.0 * (exp(right / 1127.0) - 1.0), ex->nfft, o->sample_frequency,
                     bin_width);
    ex->bin_first[b] = first;
    /* Rounded up to a multiple of 4 with zero weights: the filter loop then runs in whole
     * vectors (the power spectrum has 4 zero entries past its end for this). */
    ex->bin_len[b] = (last - first + 1 + 3) & ~3;
    total += (size_t)ex->bin_len[b];
  }
  ex->weights = calloc(total, sizeof(float));
  if (!ex->weights) return gk_fail_nomem(err);
  size_t k = 0;
  for (int b = 0; b < nb; b++) {
    double left = mlow + b * delta, center = mlow + (b + 1) * delta, right = mlow + (b + 2) * delta;
    for (int i = ex->bin_first[b]; i < ex->bin_first[b] + ex->bin_len[b]; i++, k++) {
      double m = mel_scale(bin_width * i);
      if (i >= nfreq || !(m > left && m < right)) continue;  /* padding: weight 0 */
      double w = m <= center ? (m - left) / (center - left) : (right - m) / (right - center);
      ex->weights[k] = (float)w;
    }
  }
  return GK_OK;
}

gk_status gk_mfcc_create(gk_mfcc **out, const gk_mfcc_opts *o, gk_error *err) {
  *out = NULL;
  gk_status st = check_opts(o, err);
  if (st != GK_OK) return st;
  gk_mfcc *ex = calloc(1, sizeof *ex);
  if (!ex) return gk_fail_nomem(err);
  ex->o = *o;
  /* Kaldi truncates the products to integers (WindowSize, WindowShift). */
  ex->len = (int)(o->sample_frequency * 0.001 * o->frame_length);
  ex->shift = (int)(o->sample_frequency * 0.001 * o->frame_shift);
  int nfft = ex->len;
  if (o->round_to_power_of_two) {
    nfft = 1;
    while (nfft < ex->len) nfft <<= 1;
  }
  ex->nfft = nfft;
  ex->nbins = o->num_mel_bins;
  ex->ncep = o->num_ceps;
  if (o->output == GK_MFCC_CEPSTRA) ex->sdims = (size_t)o->num_ceps;
  else ex->sdims = (size_t)o->num_mel_bins + (o->use_energy ? 1 : 0);
  ex->dims = ex->sdims * (size_t)(1 + o->delta_order);
  ex->log_energy_floor = o->energy_floor > 0 ? (float)log(o->energy_floor) : -INFINITY;

  ex->window = malloc(sizeof(float) * (size_t)ex->len);
  if (!ex->window) { gk_mfcc_free(ex); return gk_fail_nomem(err); }
  make_window(ex->window, ex->len, o->window_type, o->blackman_coeff);

  st = make_filters(ex, err);
  if (st != GK_OK) { gk_mfcc_free(ex); return st; }

  if (o->output == GK_MFCC_CEPSTRA) {
    /* Orthonormal DCT-II (Kaldi ComputeDctMatrix), rows scaled by the lifter
     * 1 + Q/2 sin(pi i / Q) (Kaldi ComputeLifterCoeffs). */
    int nb = ex->nbins, nc = ex->ncep;
    ex->ncep_pad = (nc + 3) & ~3;
    ex->dct_t = calloc((size_t)nb * (size_t)ex->ncep_pad, sizeof(float));
    if (!ex->dct_t) { gk_mfcc_free(ex); return gk_fail_nomem(err); }
    double q = o->cepstral_lifter;
    for (int k = 0; k < nc; k++) {
      double norm = k == 0 ? sqrt(1.0 / nb) : sqrt(2.0 / nb);
      double lift = q != 0 ? 1.0 + 0.5 * q * sin(M_PI * k / q) : 1.0;
      for (int n = 0; n < nb; n++)
        ex->dct_t[(size_t)n * ex->ncep_pad + k] = (float)(lift * norm * cos(M_PI / nb * (n + 0.5) * k));
    }
  }

  /* A real FFT of even size N is done as a complex FFT of size N/2 on the samples taken
   * in pairs (z[m] = x[2m] + i x[2m+1]) and one O(N) pass that separates the two halves
   * (compute_frame). FFTW_ESTIMATE plans that well (better than a size-N real transform)
   * and, unlike FFTW_MEASURE, picks the same plan, hence the same rounding, on every run.
   * Planning once here is what lets compute run on many threads. */
  ex->packed = nfft % 2 == 0;
  float *in = fftwf_malloc(sizeof(float) * (size_t)nfft);
  fftwf_complex *spec = fftwf_malloc(sizeof(fftwf_complex) * (size_t)(nfft / 2 + 1));
  if (ex->packed) ex->twiddle = malloc(sizeof(float) * (size_t)nfft);
  if (!in || !spec || (ex->packed && !ex->twiddle)) {
    fftwf_free(in);
    fftwf_free(spec);
    gk_mfcc_free(ex);
    return gk_fail_nomem(err);
  }
  if (ex->packed) {
    int h = nfft / 2;
    for (int k = 0; k < h; k++) {
      ex->twiddle[k] = (float)cos(2.0 * M_PI * k / nfft);
      ex->twiddle[h + k] = (float)sin(2.0 * M_PI * k / nfft);
    }
    ex->plan = fftwf_plan_dft_1d(h, (fftwf_complex *)in, spec, FFTW_FORWARD, FFTW_ESTIMATE);
  } else {
    ex->plan = fftwf_plan_dft_r2c_1d(nfft, in, spec, FFTW_ESTIMATE);
  }
  fftwf_free(in);
  fftwf_free(spec);
  if (!ex->plan) { gk_mfcc_free(ex); return gk_fail(err, GK_ENOMEM, "FFTW could not plan an FFT of size %d", nfft); }
  *out = ex;
  return GK_OK;
}

const gk_mfcc_opts *gk_mfcc_options(const gk_mfcc *ex) { return &ex->o; }
size_t gk_mfcc_dims(const gk_mfcc *ex) { return ex->dims; }
size_t gk_mfcc_frame_length(const gk_mfcc *ex) { return (size_t)ex->len; }
size_t gk_mfcc_frame_shift(const gk_mfcc *ex) { return (size_t)ex->shift; }
size_t gk_mfcc_fft_size(const gk_mfcc *ex) { return (size_t)ex->nfft; }
size_t gk_mfcc_num_frames(const gk_mfcc *ex, size_t n) {
  return gk_mfcc_frame_count(n, (size_t)ex->len, (size_t)ex->shift, ex->o.snip_edges);
}

/* ---- per-call scratch --------------------------------------------------------------- */

typedef struct scratch {
  float *raw;            /* len: the frame's samples in the 16-bit range */
  float *frame;          /* nfft, fftwf_malloc'ed (aligned like the planning buffers) */
  fftwf_complex *spec;   /* nfft/2 + 1, fftwf_malloc'ed */
  float *power;          /* nfft/2 + 1 */
  float *mel;            /* nbins + 1 */
  float *cep;            /* ncep_pad + 1 */
  float *mirror;         /* nfft + 2: the half-size spectrum mirrored (packed transform) */
} scratch;

static void scratch_free(scratch *s) {
  free(s->raw);
  fftwf_free(s->frame);
  fftwf_free(s->spec);
  free(s->power);
  free(s->mel);
  free(s->cep);
  free(s->mirror);
}

static int scratch_init(scratch *s, const gk_mfcc *ex) {
  size_t nf = (size_t)ex->nfft;
  s->raw = malloc(sizeof(float) * (size_t)ex->len);
  s->frame = fftwf_malloc(sizeof(float) * nf);
  s->spec = fftwf_malloc(sizeof(fftwf_complex) * (nf / 2 + 1));
  s->power = calloc(nf / 2 + 4, sizeof(float));  /* 4 zeros past nfft/2 for the padded filters */
  s->mel = malloc(sizeof(float) * (size_t)(ex->nbins + 1));
  s->cep = malloc(sizeof(float) * (size_t)(ex->ncep_pad + 1));
  s->mirror = malloc(sizeof(float) * (nf + 2));
  if (!s->raw || !s->frame || !s->spec || !s->power || !s->mel || !s->cep || !s->mirror) {
    scratch_free(s);
    return 0;
  }
  /* The padding [len, nfft) stays zero: the out-of-place r2c transform preserves its input. */
  memset(s->frame, 0, sizeof(float) * nf);
  return 1;
}

/* Kaldi's Dither: Gaussian noise of standard deviation `dither` added to every sample.
 * The noise of frame f is stream f of the seed, so it does not depend on how frames are
 * split over threads. */
static void add_dither(float *x, int n, double dither, uint64_t seed, size_t frame) {
  gk_rng r;
  gk_rng_seed(&r, seed, (uint64_t)frame);
  for (int i = 0; i < n; i++) x[i] += (float)(dither * gk_rng_normal(&r));
}

/* Kaldi's ExtractWindow and Dither: frame f's samples, scaled to the 16-bit integer range
 * (as Kaldi reads WAV files), into x (len); returns their sum. Sums run in GK_LANES
 * independent partial sums: one accumulator would make each frame wait on a chain of
 * dependent additions. */
static inline float extract_window(const gk_mfcc *ex, const float *samples, size_t n, size_t f,
                                   float *x) {
  const gk_mfcc_opts *o = &ex->o;
  const int len = ex->len;
  long long start;
  if (o->snip_edges) start = (long long)f * ex->shift;
  else start = (long long)f * ex->shift + ex->shift / 2 - len / 2;
  float sum = 0.0f, part[GK_LANES] = {0};
  if (start >= 0 && start + len <= (long long)n) {
    const float *p = samples + start;
    int i = 0;
    for (; i + GK_LANES <= len; i += GK_LANES)
      for (int j = 0; j < GK_LANES; j++) {
        float v = p[i + j] * 32768.0f;
        x[i + j] = v;
        part[j] += v;
      }
    for (; i < len; i++) {
      x[i] = p[i] * 32768.0f;
      sum += x[i];
    }
    for (int j = 0; j < GK_LANES; j++) sum += part[j];
  } else {
    /* Kaldi ExtractWindow: reflect at the ends (index -1 -> 0, n -> n - 1). */
    long long nn = (long long)n;
    for (int i = 0; i < len; i++) {
      long long j = start + i;
      while (j < 0 || j >= nn) j = j < 0 ? -j - 1 : 2 * nn - 1 - j;
      x[i] = samples[j] * 32768.0f;
      sum += x[i];
    }
  }
  if (o->dither != 0.0) {
    add_dither(x, len, o->dither, o->seed, f);
    sum = 0.0f;
    for (int i = 0; i < len; i++) sum += x[i];
  }
  return sum;
}

/* Kaldi's ProcessWindow, one pass: DC removal, raw energy, pre-emphasis
 * x[i] - c x[i-1] (x[-1] = x[0]), window, from x (whose samples sum to `sum`) into y.
 * Returns the log energy (floored), or 0 when !need_energy. */
static inline float process_window(const gk_mfcc *ex, const float *x, float sum, float *y,
                                   int need_energy) {
  const gk_mfcc_opts *o = &ex->o;
  const int len = ex->len;
  const float mean = o->remove_dc_offset ? sum / (float)len : 0.0f;
  const float c = (float)o->preemphasis_coefficient;
  const float *w = ex->window;
  float part[GK_LANES] = {0};
  float d0 = x[0] - mean;
  float e = d0 * d0;
  y[0] = (d0 - c * d0) * w[0];
  int i = 1;
  for (; i + GK_LANES <= len; i += GK_LANES)
    for (int j = 0; j < GK_LANES; j++) {
      float d = x[i + j] - mean, dp = x[i + j - 1] - mean;
      part[j] += d * d;
      y[i + j] = (d - c * dp) * w[i + j];
    }
  for (; i < len; i++) {
    float d = x[i] - mean, dp = x[i - 1] - mean;
    e += d * d;
    y[i] = (d - c * dp) * w[i];
  }
  for (int j = 0; j < GK_LANES; j++) e += part[j];
  if (!need_energy) return 0.0f;
  if (!o->raw_energy) {
    e = 0.0f;
#pragma omp simd reduction(+ : e)
    for (int k = 0; k < len; k++) e += y[k] * y[k];
  }
  float log_e = logf(e > FLT_EPSILON ? e : FLT_EPSILON);
  return log_e < ex->log_energy_floor ? ex->log_energy_floor : log_e;
}

/* The power spectrum |FFT|^2 of s->frame into s->power (nfft/2 bins; the magnitude when
 * a filterbank is asked for without use_power). */
static inline void power_spectrum(const gk_mfcc *ex, scratch *s) {
  const int nfreq = ex->nfft / 2;
  float *pw = s->power;
  const float *sp = (const float *)s->spec;
  if (ex->packed) {
    /* Z = FFT_{N/2}(x[2m] + i x[2m+1]); with W = exp(-2 pi i k / N) and Z[N/2] = Z[0]:
     * X[k] = (Z[k] + conj Z[N/2-k]) / 2 + W (Z[k] - conj Z[N/2-k]) / 2i.
     * The mirrored Z[N/2-k] is copied first so that the main loop reads forwards. */
    fftwf_execute_dft(ex->plan, (fftwf_complex *)s->frame, s->spec);
    float *mr = s->mirror;
    mr[0] = sp[0];
    mr[1] = sp[1];
    for (int k = 1; k < nfreq; k++) {
      mr[2 * k] = sp[2 * (nfreq - k)];
      mr[2 * k + 1] = sp[2 * (nfreq - k) + 1];
    }
    const float *cs = ex->twiddle, *sn = ex->twiddle + nfreq;
#pragma omp simd
    for (int k = 0; k < nfreq; k++) {
      float zr = sp[2 * k], zi = sp[2 * k + 1], ar = mr[2 * k], ai = mr[2 * k + 1];
      float er = zr + ar, ei = zi - ai, orr = zi + ai, oi = ar - zr;  /* twice E and O */
      float xr = er + cs[k] * orr + sn[k] * oi, xi = ei + cs[k] * oi - sn[k] * orr;
      pw[k] = 0.25f * (xr * xr + xi * xi);
    }
  } else {
    fftwf_execute_dft_r2c(ex->plan, s->frame, s->spec);
#pragma omp simd
    for (int k = 0; k < nfreq; k++) pw[k] = sp[2 * k] * sp[2 * k] + sp[2 * k + 1] * sp[2 * k + 1];
  }
  if (ex->o.output == GK_MFCC_FBANK && !ex->o.use_power)
    for (int k = 0; k < nfreq; k++) pw[k] = sqrtf(pw[k]);
}

/* The mel filterbank energies of the power spectrum pw into mel (nbins). */
static inline void mel_energies(const gk_mfcc *ex, const float *pw, float *mel) {
  const float *wt = ex->weights;
  for (int b = 0; b < ex->nbins; b++) {
    const float *p = pw + ex->bin_first[b];
    int m = ex->bin_len[b];
    float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
    for (int i = 0; i < m; i += 4) {  /* m is a multiple of 4: one vector per step */
      a0 += wt[i] * p[i];
      a1 += wt[i + 1] * p[i + 1];
      a2 += wt[i + 2] * p[i + 2];
      a3 += wt[i + 3] * p[i + 3];
    }
    wt += m;
    mel[b] = (a0 + a1) + (a2 + a3);
  }
}

/* A filterbank row: the (log) mel energies, with the log energy first (Kaldi) or last
 * (htk_compat) when use_energy. */
static inline void fbank_row(const gk_mfcc *ex, const float *mel, float log_e, float *row) {
  const gk_mfcc_opts *o = &ex->o;
  int off = 0;
  if (o->use_energy && !o->htk_compat) row[off++] = log_e;
  for (int b = 0; b < ex->nbins; b++)
    row[off + b] = o->use_log_fbank ? logf(mel[b] > FLT_EPSILON ? mel[b] : FLT_EPSILON) : mel[b];
  if (o->use_energy && o->htk_compat) row[ex->nbins] = log_e;
}

/* A cepstra row: the DCT of the log mel energies (overwritten in mel) with the lifter,
 * C0 replaced by the log energy when use_energy, in HTK's order when htk_compat. */
static inline void cepstra(const gk_mfcc *ex, float *mel, float *cep, float log_e, float *row) {
  const gk_mfcc_opts *o = &ex->o;
  const int nb = ex->nbins, nc = ex->ncep, ncp = ex->ncep_pad;
  for (int b = 0; b < nb; b++) mel[b] = logf(mel[b] > FLT_EPSILON ? mel[b] : FLT_EPSILON);
  /* The DCT (lifter folded in), four cepstra at a time: their sums stay in one vector
   * register while the bins go by. */
  for (int k = 0; k < ncp; k += 4) {
    const float *d = ex->dct_t + k;
    float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
    for (int b = 0; b < nb; b++, d += ncp) {
      const float lm = mel[b];
      a0 += d[0] * lm;
      a1 += d[1] * lm;
      a2 += d[2] * lm;
      a3 += d[3] * lm;
    }
    cep[k] = a0;
    cep[k + 1] = a1;
    cep[k + 2] = a2;
    cep[k + 3] = a3;
  }
  for (int k = 0; k < nc; k++) row[k] = cep[k];
  if (o->use_energy) row[0] = log_e;
  if (o->htk_compat) {
    /* HTK order: C1 .. C(n-1), then energy or C0; HTK's C0 differs from the orthonormal
     * DCT's by sqrt(2) (Kaldi feature-mfcc.cc). */
    float e0 = row[0];
    for (int k = 0; k + 1 < nc; k++) row[k] = row[k + 1];
    row[nc - 1] = o->use_energy ? e0 : e0 * (float)M_SQRT2;
  }
}

/* One frame: `row` receives the static features, *energy the log energy. The steps are
 * Kaldi's (ExtractWindow, ProcessWindow, MfccComputer::Compute) with the same arithmetic
 * per sample, fused into two passes over the frame so that the compiler vectorises them
 * (`omp simd` lets it reorder the sums). */
static void compute_frame(const gk_mfcc *ex, const float *samples, size_t n, size_t f,
                          scratch *s, float *row, float *energy) {
  float sum = extract_window(ex, samples, n, f, s->raw);
  float log_e = process_window(ex, s->raw, sum, s->frame, energy != NULL || ex->o.use_energy);
  if (energy) *energy = log_e;
  power_spectrum(ex, s);
  mel_energies(ex, s->power, s->mel);
  if (ex->o.output == GK_MFCC_FBANK) fbank_row(ex, s->mel, log_e, row);
  else cepstra(ex, s->mel, s->cep, log_e, row);
}
/* Frames [f0, f1) into rows of `st` (stride `stride`). 0, or -1 when out of memory. */
static int compute_range(const gk_mfcc *ex, const float *samples, size_t n, size_t f0,
                         size_t f1, float *st, size_t stride, float *log_energy) {
  scratch s;
  if (!scratch_init(&s, ex)) return -1;
  for (size_t f = f0; f < f1; f++)
    compute_frame(ex, samples, n, f, &s, st + f * stride, log_energy ? log_energy + f : NULL);
  scratch_free(&s);
  return 0;
}

gk_status gk_mfcc_compute(const gk_mfcc *ex, const float *samples, size_t n, double rate,
                          gk_matrix *out, float *log_energy, gk_error *err) {
  const gk_mfcc_opts *o = &ex->o;
  if (rate != o->sample_frequency)
    return gk_fail(err, GK_EINVAL,
                   "the signal's rate %g Hz differs from option 'sample_frequency' %g Hz "
                   "(resample the signal to %g Hz, or set 'sample_frequency' to its rate)",
                   rate, o->sample_frequency, o->sample_frequency);
  size_t frames = gk_mfcc_num_frames(ex, n);
  if (frames == 0)
    return gk_fail(err, GK_EINVAL,
                   "the signal (%zu samples, %.4g s) is shorter than one frame: option "
                   "'frame_length' %g ms is %d samples%s",
                   n, (double)n / rate, o->frame_length, ex->len,
                   o->snip_edges ? " (with snip_edges; snip_edges=false needs only half a shift)" : "");
  if (!out || out->dtype != GK_FLOAT32 || out->rows != frames || out->cols != ex->dims)
    return gk_fail(err, GK_EINVAL, "output matrix must be float32 %zu x %zu, got %s %zu x %zu",
                   frames, ex->dims, out ? gk_dtype_name(out->dtype) : "none",
                   out ? out->rows : 0, out ? out->cols : 0);
  if (!samples) return gk_fail(err, GK_EINVAL, "no samples");
  if (gk_samples_check(samples, n, err) != GK_OK) return err ? err->status : GK_ENUMERIC;

  /* Static features go straight into `out` when there are no deltas; otherwise into a
   * scratch matrix that the delta filter expands. */
  float *st = out->data;
  size_t sd = ex->sdims;
  if (o->delta_order > 0) {
    st = gk_scratch_alloc(frames, sizeof(float) * sd);
    if (!st) return gk_fail_nomem(err);
  }
  size_t nblocks = (frames + GK_MFCC_BLOCK - 1) / GK_MFCC_BLOCK;
  int nthreads = 1;
#ifdef _OPENMP
  if (nblocks > 1 && !omp_in_parallel()) nthreads = gk_threads();
  if ((size_t)nthreads > nblocks) nthreads = (int)nblocks;
#endif
  int failed = 0, stopped = 0;
  long long b;
#pragma omp parallel for num_threads(nthreads) schedule(dynamic, 1) if (nthreads > 1) \
    reduction(| : failed, stopped)
  for (b = 0; b < (long long)nblocks; b++) {
    if (gk_interrupted()) { stopped = 1; continue; }
    size_t f0 = (size_t)b * GK_MFCC_BLOCK;
    size_t f1 = f0 + GK_MFCC_BLOCK < frames ? f0 + GK_MFCC_BLOCK : frames;
    if (compute_range(ex, samples, n, f0, f1, st, sd, log_energy) != 0) failed = 1;
  }
  gk_status ret = GK_OK;
  if (failed) ret = gk_fail_nomem(err);
  else if (stopped) ret = gk_fail(err, GK_EINTR, "MFCC computation interrupted");
  else if (o->delta_order > 0) {
    gk_matrix sm = gk_matrix_view(frames, sd, GK_FLOAT32, st);
    ret = gk_features_deltas(&sm, o->delta_order, o->delta_window, out, err);
  }
  if (st != out->data) gk_scratch_free(st);
  return ret;
}
