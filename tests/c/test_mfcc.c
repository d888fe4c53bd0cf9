/*
 * test_mfcc.c: the MFCC front-end and feature post-processing against independent
 * references: torchaudio.compliance.kaldi (a port of Kaldi's feature code) and numpy /
 * torchaudio.functional for deltas, CMVN, VAD and warping, as fixtures written by
 * scripts/ref/mfcc_ref.py into tests/data/mfcc; closed forms for frame counts.
 */
#define _POSIX_C_SOURCE 200809L
#include "gk_test.h"
#include "gmmkit/audio.h"
#include "gmmkit/features.h"
#include "gmmkit/gmmkit.h"
#include "gmmkit/htk.h"
#include "gmmkit/mfcc.h"

#include <float.h>
#include <stdint.h>
#include <unistd.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* A file of tests/data/mfcc. */
static const char *data_path(const char *name) { return gk_test_fixture("mfcc", name); }

/* Loads a .npy fixture as float32 (malloc'ed). */
static int load_npy(const char *name, gk_matrix *m) {
  gk_error err;
  FILE *f = fopen(data_path(name), "rb");
  if (!f) { fprintf(stderr, "missing fixture %s\n", data_path(name)); return 0; }
  gk_npy_header h;
  int ok = gk_npy_read_header(f, &h, &err) == GK_OK;
  gk_matrix tmp = {0};
  if (ok) ok = gk_matrix_alloc(&tmp, h.rows, h.cols, h.dtype, NULL, &err) == GK_OK;
  if (ok) ok = gk_npy_read_data(f, &h, &tmp, &err) == GK_OK;
  fclose(f);
  if (!ok) { fprintf(stderr, "%s: %s\n", name, err.message); gk_matrix_release(&tmp, NULL); return 0; }
  if (tmp.dtype == GK_FLOAT32) { *m = tmp; return 1; }
  ok = gk_matrix_alloc(m, h.rows, h.cols, GK_FLOAT32, NULL, &err) == GK_OK &&
       gk_matrix_copy(&tmp, m, &err) == GK_OK;
  gk_matrix_release(&tmp, NULL);
  return ok;
}

static double max_abs_diff(const gk_matrix *a, const gk_matrix *b) {
  if (a->rows != b->rows || a->cols != b->cols) return INFINITY;
  double m = 0;
  for (size_t i = 0; i < a->rows; i++)
    for (size_t j = 0; j < a->cols; j++) {
      double d = fabs(gk_matrix_get(a, i, j) - gk_matrix_get(b, i, j));
      if (!(d <= m)) m = d;  /* NaN propagates as a failure */
    }
  return m;
}

/* Sets one option of `o` from its Kaldi name; 0 when the name is unknown. */
static int set_option(gk_mfcc_opts *o, const char *k, const char *v) {
  double x = atof(v);
  int b = strcmp(v, "true") == 0;
#define NUM(name) if (strcmp(k, #name) == 0) { o->name = x; return 1; }
#define INT(name) if (strcmp(k, #name) == 0) { o->name = (int)x; return 1; }
#define BOOL(name) if (strcmp(k, #name) == 0) { o->name = b; return 1; }
  NUM(sample_frequency) NUM(frame_length) NUM(frame_shift) NUM(dither)
  NUM(preemphasis_coefficient) NUM(blackman_coeff) NUM(low_freq) NUM(high_freq)
  NUM(energy_floor) NUM(cepstral_lifter)
  INT(num_mel_bins) INT(num_ceps)
  BOOL(remove_dc_offset) BOOL(round_to_power_of_two) BOOL(snip_edges) BOOL(use_energy)
  BOOL(raw_energy) BOOL(htk_compat) BOOL(use_power) BOOL(use_log_fbank)
#undef NUM
#undef INT
#undef BOOL
  if (strcmp(k, "window_type") == 0) {
    for (int i = 0; gk_window_type_names[i]; i++)
      if (strcmp(v, gk_window_type_names[i]) == 0) { o->window_type = (gk_window_type)i; return 1; }
    return 0;
  }
  if (strcmp(k, "output") == 0) { o->output = strcmp(v, "fbank") == 0 ? GK_MFCC_FBANK : GK_MFCC_CEPSTRA; return 1; }
  return 0;
}

static void test_reference_cases(void) {
  FILE *f = fopen(data_path("cases.txt"), "r");
  GK_CHECK(f != NULL);
  if (!f) return;
  char line[4096];
  int cases = 0;
  double worst = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#' || line[0] == '\n') continue;
    char *save = NULL, *name = strtok_r(line, " \n", &save), *wav = strtok_r(NULL, " \n", &save);
    gk_mfcc_opts o;
    gk_mfcc_opts_default(&o);
    char *kv;
    while ((kv = strtok_r(NULL, " \n", &save)) != NULL) {
      char *eq = strchr(kv, '=');
      GK_CHECK(eq != NULL);
      if (!eq) continue;
      *eq = 0;
      if (!set_option(&o, kv, eq + 1)) { fprintf(stderr, "unknown option %s\n", kv); GK_CHECK(0); }
    }
    gk_error err;
    gk_signal s = {0};
    GK_CHECK_OK(gk_audio_load(data_path(wav), NULL, &s, NULL, &err), &err);
    gk_mfcc *ex = NULL;
    GK_CHECK_OK(gk_mfcc_create(&ex, &o, &err), &err);
    char npy[512];
    snprintf(npy, sizeof npy, "%s.npy", name);
    gk_matrix ref = {0}, got = {0};
    if (ex && s.samples && load_npy(npy, &ref)) {
      size_t frames = gk_mfcc_num_frames(ex, s.n);
      GK_CHECK(frames == ref.rows);
      GK_CHECK(gk_mfcc_dims(ex) == ref.cols);
      GK_CHECK_OK(gk_matrix_alloc(&got, frames, gk_mfcc_dims(ex), GK_FLOAT32, NULL, &err), &err);
      GK_CHECK_OK(gk_mfcc_compute(ex, s.samples, s.n, s.rate, &got, NULL, &err), &err);
      double d = max_abs_diff(&got, &ref);
      if (!(d <= 1e-3) || getenv("GK_VERBOSE")) fprintf(stderr, "case %s: max |diff| %g\n", name, d);
      GK_CHECK(d <= 1e-3);
      if (d > worst) worst = d;
      cases++;
    }
    gk_matrix_release(&ref, NULL);
    gk_matrix_release(&got, NULL);
    gk_mfcc_free(ex);
    gk_signal_release(&s, NULL);
  }
  fclose(f);
  GK_CHECK(cases >= 15);
  printf("reference cases: %d, worst max |diff| %.3g\n", cases, worst);
}

/* Kaldi NumFrames against counting frame positions one by one. */
static void test_frame_counts(void) {
  size_t lens[] = {400, 200, 240, 256, 7};
  size_t shifts[] = {160, 80, 100, 128, 3};
  for (int c = 0; c < 5; c++) {
    size_t L = lens[c], S = shifts[c];
    for (size_t n = 0; n < 3 * L + 5 * S; n += 1) {
      size_t snip = 0;
      while (snip * S + L <= n) snip++;
      GK_CHECK(gk_mfcc_frame_count(n, L, S, 1) == snip);
      /* Without snip_edges: n / S rounded to the nearest integer, halves up. */
      GK_CHECK(gk_mfcc_frame_count(n, L, S, 0) == (size_t)floor((double)n / (double)S + 0.5));
    }
  }
  /* A few values by hand: 1 s at 16 kHz, 25/10 ms: snip 98, no snip 100. */
  GK_CHECK(gk_mfcc_frame_count(16000, 400, 160, 1) == 98);
  GK_CHECK(gk_mfcc_frame_count(16000, 400, 160, 0) == 100);
  GK_CHECK(gk_mfcc_frame_count(399, 400, 160, 1) == 0);
  GK_CHECK(gk_mfcc_frame_count(79, 400, 160, 0) == 0);
  GK_CHECK(gk_mfcc_frame_count(80, 400, 160, 0) == 1);
}

static float *make_noise(size_t n, uint64_t seed) {
  float *x = malloc(n * sizeof(float));
  uint64_t s = seed;
  for (size_t i = 0; i < n; i++) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    x[i] = (float)((double)(s >> 11) * 0x1.0p-53 - 0.5) * 0.5f;
  }
  return x;
}

/* The filterbank energies of one frame against a direct DFT and triangular filters
 * written here from the definitions (double precision), for an odd FFT size (FFTW's
 * real transform) and an even one (the half-size complex transform). */
static void test_filterbank_vs_dft(void) {
  int lens[] = {401, 400};
  for (int c = 0; c < 2; c++) {
    int N = lens[c], nb = 10;
    double rate = 16000;
    gk_mfcc_opts o;
    gk_mfcc_opts_default(&o);
    o.frame_length = 1000.0 * N / rate + 1e-9;
    o.round_to_power_of_two = 0;
    o.window_type = GK_WINDOW_RECTANGULAR;
    o.preemphasis_coefficient = 0;
    o.remove_dc_offset = 0;
    o.use_energy = 0;
    o.output = GK_MFCC_FBANK;
    o.use_log_fbank = 0;
    o.num_mel_bins = nb;
    o.low_freq = 0;
    gk_error err;
    gk_mfcc *ex = NULL;
    GK_CHECK_OK(gk_mfcc_create(&ex, &o, &err), &err);
    if (!ex) continue;
    GK_CHECK(gk_mfcc_fft_size(ex) == (size_t)N);
    float *x = make_noise((size_t)N, 11 + (uint64_t)c);
    gk_matrix m = {0};
    gk_matrix_alloc(&m, 1, (size_t)nb, GK_FLOAT32, NULL, &err);
    GK_CHECK_OK(gk_mfcc_compute(ex, x, (size_t)N, rate, &m, NULL, &err), &err);
    double mlow = 1127.0 * log(1.0), mhigh = 1127.0 * log(1.0 + 8000.0 / 700.0);
    double dm = (mhigh - mlow) / (nb + 1);
    for (int b = 0; b < nb; b++) {
      double e = 0;
      for (int k = 0; k < N / 2; k++) {
        double re = 0, im = 0;
        for (int t = 0; t < N; t++) {
          double a = -2 * M_PI * (double)k * t / N, v = x[t] * 32768.0;
          re += v * cos(a);
          im += v * sin(a);
        }
        double mel = 1127.0 * log(1.0 + (rate * k / N) / 700.0);
        double l = mlow + b * dm, ce = l + dm, r = l + 2 * dm, w = 0;
        if (mel > l && mel < r) w = mel <= ce ? (mel - l) / dm : (r - mel) / dm;
        e += w * (re * re + im * im);
      }
      GK_CHECK_REL(gk_matrix_get(&m, 0, (size_t)b), e, 1e-4);
    }
    free(x);
    gk_matrix_release(&m, NULL);
    gk_mfcc_free(ex);
  }
}

static void test_silence_and_threads(void) {
  gk_error err;
  gk_mfcc_opts o;
  gk_mfcc *ex = NULL;
  gk_mfcc_opts_default(&o);
  GK_CHECK_OK(gk_mfcc_create(&ex, &o, &err), &err);
  if (!ex) return;
  size_t n = 16000 * 30;  /* 30 s: several parallel blocks */
  float *zero = calloc(n, sizeof(float));
  gk_matrix a = {0}, b = {0};
  size_t T = gk_mfcc_num_frames(ex, n);
  gk_matrix_alloc(&a, T, 13, GK_FLOAT32, NULL, &err);
  gk_matrix_alloc(&b, T, 13, GK_FLOAT32, NULL, &err);
  float *le = malloc(T * sizeof(float));
  GK_CHECK_OK(gk_mfcc_compute(ex, zero, n, 16000, &a, le, &err), &err);
  size_t r, c;
  GK_CHECK(!gk_matrix_find_nonfinite(&a, &r, &c));
  /* Silence: energy and every mel log-energy floored at FLT_EPSILON: C0 = log(eps),
   * the other cepstra 0 (the DCT of a constant). */
  GK_CHECK_NEAR(gk_matrix_get(&a, 0, 0), log(FLT_EPSILON), 1e-5);
  GK_CHECK_NEAR(gk_matrix_get(&a, 5, 3), 0.0, 1e-4);
  GK_CHECK_NEAR(le[7], log(FLT_EPSILON), 1e-5);
  /* Threads: the same numbers with 1 thread and with all. */
  float *x = make_noise(n, 42);
  int before = gk_threads();
  gk_set_threads(1);
  GK_CHECK_OK(gk_mfcc_compute(ex, x, n, 16000, &a, NULL, &err), &err);
  gk_set_threads(4);
  GK_CHECK_OK(gk_mfcc_compute(ex, x, n, 16000, &b, NULL, &err), &err);
  gk_set_threads(before);
  GK_CHECK(memcmp(a.data, b.data, T * 13 * sizeof(float)) == 0);
  /* log_energy output equals column 0 when use_energy. */
  GK_CHECK_OK(gk_mfcc_compute(ex, x, n, 16000, &b, le, &err), &err);
  GK_CHECK(le[100] == ((float *)b.data)[100 * 13]);
  free(le);
  free(zero);
  free(x);
  gk_matrix_release(&a, NULL);
  gk_matrix_release(&b, NULL);
  gk_mfcc_free(ex);
}

static void test_dither(void) {
  gk_error err;
  gk_mfcc_opts o;
  gk_mfcc_opts_default(&o);
  o.dither = 1.0;
  o.seed = 7;
  gk_mfcc *e1 = NULL, *e2 = NULL, *e0 = NULL;
  GK_CHECK_OK(gk_mfcc_create(&e1, &o, &err), &err);
  o.seed = 8;
  GK_CHECK_OK(gk_mfcc_create(&e2, &o, &err), &err);
  o.dither = 0;
  GK_CHECK_OK(gk_mfcc_create(&e0, &o, &err), &err);
  size_t n = 8000;
  float *x = make_noise(n, 3);
  for (size_t i = 0; i < n; i++) x[i] *= 0.01f;
  size_t T = gk_mfcc_num_frames(e1, n);
  gk_matrix a, b, c, z;
  gk_matrix_alloc(&a, T, 13, GK_FLOAT32, NULL, &err);
  gk_matrix_alloc(&b, T, 13, GK_FLOAT32, NULL, &err);
  gk_matrix_alloc(&c, T, 13, GK_FLOAT32, NULL, &err);
  gk_matrix_alloc(&z, T, 13, GK_FLOAT32, NULL, &err);
  gk_mfcc_compute(e1, x, n, 16000, &a, NULL, &err);
  gk_mfcc_compute(e1, x, n, 16000, &b, NULL, &err);
  gk_mfcc_compute(e2, x, n, 16000, &c, NULL, &err);
  gk_mfcc_compute(e0, x, n, 16000, &z, NULL, &err);
  GK_CHECK(max_abs_diff(&a, &b) == 0.0);     /* same seed: same noise */
  GK_CHECK(max_abs_diff(&a, &c) > 1e-4);     /* another seed: other noise */
  GK_CHECK(max_abs_diff(&a, &z) > 1e-4);     /* dither changes the numbers ... */
  GK_CHECK(max_abs_diff(&a, &z) < 1.0);      /* ... a little (unit noise on ~160-unit samples) */
  gk_matrix_release(&a, NULL); gk_matrix_release(&b, NULL);
  gk_matrix_release(&c, NULL); gk_matrix_release(&z, NULL);
  free(x);
  gk_mfcc_free(e1); gk_mfcc_free(e2); gk_mfcc_free(e0);
}

static int fails_with(gk_status st, const gk_error *err, const char *needle) {
  int ok = st != GK_OK && strstr(err->message, needle) != NULL;
  if (!ok) fprintf(stderr, "expected an error mentioning '%s', got %d '%s'\n", needle, st, err->message);
  return ok;
}

static void test_bad_options(void) {
  gk_error err;
  gk_mfcc_opts o;
  gk_mfcc *ex = NULL;
  gk_mfcc_opts_default(&o);
  o.num_ceps = 30;
  GK_CHECK(fails_with(gk_mfcc_create(&ex, &o, &err), &err, "num_ceps"));
  gk_mfcc_opts_default(&o);
  o.num_mel_bins = 200;  /* 256 FFT bins at 16 kHz: the lowest filters are empty */
  GK_CHECK(fails_with(gk_mfcc_create(&ex, &o, &err), &err, "num_mel_bins"));
  GK_CHECK(strstr(err.message, "contains no FFT bin") != NULL);
  gk_mfcc_opts_default(&o);
  o.sample_frequency = 8000;
  o.high_freq = 7600;
  GK_CHECK(fails_with(gk_mfcc_create(&ex, &o, &err), &err, "high_freq"));
  GK_CHECK(strstr(err.message, "Nyquist") != NULL);
  gk_mfcc_opts_default(&o);
  o.high_freq = -8000;
  GK_CHECK(fails_with(gk_mfcc_create(&ex, &o, &err), &err, "high_freq"));
  gk_mfcc_opts_default(&o);
  o.low_freq = 9000;
  GK_CHECK(fails_with(gk_mfcc_create(&ex, &o, &err), &err, "low_freq"));
  gk_mfcc_opts_default(&o);
  o.frame_length = 0.05;
  GK_CHECK(fails_with(gk_mfcc_create(&ex, &o, &err), &err, "frame_length"));
  gk_mfcc_opts_default(&o);
  o.frame_shift = -1;
  GK_CHECK(fails_with(gk_mfcc_create(&ex, &o, &err), &err, "frame_shift"));
  GK_CHECK(fails_with(gk_mfcc_opts_preset(&o, "sre32k", &err), &err, "sre32k"));
  GK_CHECK(ex == NULL);
  /* Frame longer than the signal, and a rate that differs from sample_frequency. */
  gk_mfcc_opts_default(&o);
  GK_CHECK_OK(gk_mfcc_create(&ex, &o, &err), &err);
  if (!ex) return;
  float x[300] = {0};
  gk_matrix m = gk_matrix_view(0, 13, GK_FLOAT32, NULL);
  GK_CHECK(fails_with(gk_mfcc_compute(ex, x, 300, 16000, &m, NULL, &err), &err, "frame_length"));
  GK_CHECK(fails_with(gk_mfcc_compute(ex, x, 300, 8000, &m, NULL, &err), &err, "sample_frequency"));
  gk_mfcc_free(ex);
}

static void test_presets(void) {
  gk_error err;
  gk_mfcc_opts o;
  gk_mfcc *ex = NULL;
  for (int i = 0; gk_mfcc_preset_names[i]; i++) {
    GK_CHECK_OK(gk_mfcc_opts_preset(&o, gk_mfcc_preset_names[i], &err), &err);
    GK_CHECK_OK(gk_mfcc_create(&ex, &o, &err), &err);
    size_t want = strcmp(gk_mfcc_preset_names[i], "paper") == 0 ? 38
                  : strcmp(gk_mfcc_preset_names[i], "sre8k") == 0 ? 23
                  : strcmp(gk_mfcc_preset_names[i], "sre16k") == 0 ? 30 : 13;
    GK_CHECK(ex && gk_mfcc_dims(ex) == want);
    gk_mfcc_free(ex);
    ex = NULL;
  }
  /* paper: 30 ms frames: 240 samples at 8 kHz. */
  gk_mfcc_opts_preset(&o, "paper", &err);
  o.sample_frequency = 8000;
  GK_CHECK_OK(gk_mfcc_create(&ex, &o, &err), &err);
  if (ex) GK_CHECK(gk_mfcc_frame_length(ex) == 240 && gk_mfcc_frame_shift(ex) == 80);
  gk_mfcc_free(ex);
}

static void test_post_processing(void) {
  gk_error err;
  gk_matrix x = {0}, ref = {0}, y = {0};
  if (!load_npy("post_input.npy", &x)) { GK_CHECK(0); return; }
  size_t T = x.rows, D = x.cols;
  /* deltas */
  struct { const char *file; int order, window; } dc[] = {{"post_deltas_o2_w2.npy", 2, 2},
                                                          {"post_deltas_o1_w3.npy", 1, 3}};
  for (int i = 0; i < 2; i++) {
    GK_CHECK(load_npy(dc[i].file, &ref));
    gk_matrix_alloc(&y, T, D * (size_t)(dc[i].order + 1), GK_FLOAT32, NULL, &err);
    GK_CHECK_OK(gk_features_deltas(&x, dc[i].order, dc[i].window, &y, &err), &err);
    double d = max_abs_diff(&y, &ref);
    if (!(d <= 1e-4)) fprintf(stderr, "%s: %g\n", dc[i].file, d);
    GK_CHECK(d <= 1e-4);
    gk_matrix_release(&y, NULL);
    gk_matrix_release(&ref, NULL);
  }
  /* CMVN */
  struct { const char *file; gk_cmvn_opts o; } cc[] = {
      {"post_cmvn_w50_center.npy", {50, 1, 100, 0}},
      {"post_cmvn_w51_center_normvars.npy", {51, 1, 100, 1}},
      {"post_cmvn_w40_trailing_min10.npy", {40, 0, 10, 0}},
      {"post_cmvn_w300_center.npy", {300, 1, 100, 0}},
      {"post_cmvn_w0_normvars.npy", {0, 1, 100, 1}}};
  for (int i = 0; i < 5; i++) {
    GK_CHECK(load_npy(cc[i].file, &ref));
    gk_matrix_alloc(&y, T, D, GK_FLOAT32, NULL, &err);
    GK_CHECK_OK(gk_features_cmvn(&x, &cc[i].o, &y, &err), &err);
    double d = max_abs_diff(&y, &ref);
    if (!(d <= 1e-4)) fprintf(stderr, "%s: %g\n", cc[i].file, d);
    GK_CHECK(d <= 1e-4);
    gk_matrix_release(&y, NULL);
    gk_matrix_release(&ref, NULL);
  }
  /* VAD */
  GK_CHECK(load_npy("post_vad_ctx2.npy", &ref));
  FILE *f = fopen(data_path("post_vad_ctx2.txt"), "r");
  double thr = 0;
  GK_CHECK(f && fscanf(f, "energy_threshold=%lf", &thr) == 1);
  if (f) fclose(f);
  gk_vad_opts vo;
  gk_vad_opts_default(&vo);
  vo.energy_threshold = thr;
  vo.frames_context = 2;
  unsigned char *mask = malloc(T);
  size_t voiced = 0, agree = 0, want = 0;
  GK_CHECK_OK(gk_features_vad(&x, &vo, mask, &voiced, &err), &err);
  for (size_t t = 0; t < T; t++) {
    agree += mask[t] == (gk_matrix_get(&ref, t, 0) > 0.5);
    want += gk_matrix_get(&ref, t, 0) > 0.5;
  }
  GK_CHECK(agree == T);
  GK_CHECK(voiced == want && voiced > 0 && voiced < T);
  free(mask);
  gk_matrix_release(&ref, NULL);
  /* warping */
  GK_CHECK(load_npy("post_warp_w61.npy", &ref));
  gk_matrix_alloc(&y, T, D, GK_FLOAT32, NULL, &err);
  GK_CHECK_OK(gk_features_warp(&x, 61, &y, &err), &err);
  GK_CHECK(max_abs_diff(&y, &ref) <= 1e-5);
  gk_matrix_release(&y, NULL);
  gk_matrix_release(&ref, NULL);
  /* bad arguments name the option */
  gk_matrix_alloc(&y, T, D, GK_FLOAT32, NULL, &err);
  GK_CHECK(fails_with(gk_features_deltas(&x, 2, 0, &y, &err), &err, "window"));
  GK_CHECK(fails_with(gk_features_deltas(&x, 2, 2, &y, &err), &err, "output must be"));
  gk_cmvn_opts co = {-1, 1, 100, 0};
  GK_CHECK(fails_with(gk_features_cmvn(&x, &co, &y, &err), &err, "window"));
  vo.column = 9;
  GK_CHECK(fails_with(gk_features_vad(&x, &vo, NULL, NULL, &err), &err, "column"));
  gk_matrix_release(&y, NULL);
  gk_matrix_release(&x, NULL);
}

static void test_htk(void) {
  gk_error err;
  const char *path = "test_mfcc_tmp.htk";
  gk_matrix m = {0}, r = {0};
  gk_matrix_alloc(&m, 7, 3, GK_FLOAT32, NULL, &err);
  for (size_t i = 0; i < 21; i++) ((float *)m.data)[i] = (float)i * 0.25f - 2.0f;
  uint16_t kind = 0;
  GK_CHECK_OK(gk_htk_kind_parse("MFCC_0_D_A", &kind, &err), &err);
  GK_CHECK(kind == (GK_HTK_MFCC | GK_HTK_0 | GK_HTK_D | GK_HTK_A));
  char name[64];
  gk_htk_kind_format(kind, name, sizeof name);
  GK_CHECK(strcmp(name, "MFCC_D_A_0") == 0);
  GK_CHECK(fails_with(gk_htk_kind_parse("MFCC_Q", &kind, &err), &err, "MFCC_Q"));
  GK_CHECK_OK(gk_htk_kind_parse("USER_E", &kind, &err), &err);
  GK_CHECK_OK(gk_htk_write(path, &m, kind, 100000, &err), &err);
  /* The header bytes, by hand: 7 frames, 100000, 12 bytes, USER|E = 9 | 64 = 73. */
  unsigned char b[16];
  FILE *f = fopen(path, "rb");
  GK_CHECK(f && fread(b, 1, 16, f) == 16);
  if (f) fclose(f);
  GK_CHECK(b[3] == 7 && b[0] == 0 && b[5] == 0x01 && b[6] == 0x86 && b[7] == 0xA0);
  GK_CHECK(b[9] == 12 && b[11] == 73);
  GK_CHECK(b[12] == 0xC0 && b[13] == 0x00);  /* -2.0f big-endian */
  gk_htk_header h;
  GK_CHECK_OK(gk_htk_read_header(path, &h, &err), &err);
  GK_CHECK(h.frames == 7 && h.dims == 3 && h.period == 100000 && h.kind == kind);
  gk_matrix_alloc(&r, h.frames, h.dims, GK_FLOAT32, NULL, &err);
  GK_CHECK_OK(gk_htk_read_data(path, &h, &r, &err), &err);
  GK_CHECK(max_abs_diff(&m, &r) == 0.0);
  gk_matrix_release(&r, NULL);
  /* Truncated: cut the last 5 bytes. */
  f = fopen(path, "r+b");
  if (f) { GK_CHECK(ftruncate(fileno(f), 12 + 7 * 12 - 5) == 0); fclose(f); }
  GK_CHECK(fails_with(gk_htk_read_header(path, &h, &err), &err, "truncated"));
  GK_CHECK(strstr(err.message, path) != NULL);
  /* Absurd header: 2^31 - 1 frames. */
  unsigned char absurd[12] = {0x7f, 0xff, 0xff, 0xff, 0, 1, 0x86, 0xA0, 0, 12, 0, 9};
  f = fopen(path, "wb");
  fwrite(absurd, 1, 12, f);
  fclose(f);
  GK_CHECK(fails_with(gk_htk_read_header(path, &h, &err), &err, "limit"));
  /* Compressed file (_C): x = (s + B) / A, nSamples counting 4 extra frames. */
  unsigned char c[12 + 16 + 4 * 2];
  memset(c, 0, sizeof c);
  c[3] = 2 + 4;                       /* 2 frames + 4 */
  c[6] = 0x27; c[7] = 0x10;           /* 10000 */
  c[9] = 4;                           /* 2 columns x int16 */
  uint16_t ck = GK_HTK_MFCC | GK_HTK_C;
  c[10] = (unsigned char)(ck >> 8); c[11] = (unsigned char)ck;
  float ab[4] = {2.0f, 4.0f, 1.0f, -3.0f};  /* A = (2, 4), B = (1, -3) */
  for (int i = 0; i < 4; i++) {
    uint32_t u;
    memcpy(&u, &ab[i], 4);
    c[12 + 4 * i] = (unsigned char)(u >> 24); c[13 + 4 * i] = (unsigned char)(u >> 16);
    c[14 + 4 * i] = (unsigned char)(u >> 8); c[15 + 4 * i] = (unsigned char)u;
  }
  int16_t sv[4] = {5, 11, -7, 300};
  for (int i = 0; i < 4; i++) { c[28 + 2 * i] = (unsigned char)((uint16_t)sv[i] >> 8); c[29 + 2 * i] = (unsigned char)sv[i]; }
  f = fopen(path, "wb");
  fwrite(c, 1, sizeof c, f);
  fclose(f);
  GK_CHECK_OK(gk_htk_read_header(path, &h, &err), &err);
  GK_CHECK(h.frames == 2 && h.dims == 2);
  gk_matrix_alloc(&r, 2, 2, GK_FLOAT32, NULL, &err);
  GK_CHECK_OK(gk_htk_read_data(path, &h, &r, &err), &err);
  GK_CHECK_NEAR(gk_matrix_get(&r, 0, 0), (5 + 1) / 2.0, 1e-6);
  GK_CHECK_NEAR(gk_matrix_get(&r, 0, 1), (11 - 3) / 4.0, 1e-6);
  GK_CHECK_NEAR(gk_matrix_get(&r, 1, 0), (-7 + 1) / 2.0, 1e-6);
  GK_CHECK_NEAR(gk_matrix_get(&r, 1, 1), (300 - 3) / 4.0, 1e-6);
  gk_matrix_release(&r, NULL);
  remove(path);
  GK_CHECK(fails_with(gk_htk_read_header(path, &h, &err), &err, path));
  gk_matrix_release(&m, NULL);
}

int main(void) {
  GK_RUN(test_reference_cases);
  GK_RUN(test_frame_counts);
  GK_RUN(test_filterbank_vs_dft);
  GK_RUN(test_silence_and_threads);
  GK_RUN(test_dither);
  GK_RUN(test_bad_options);
  GK_RUN(test_presets);
  GK_RUN(test_post_processing);
  GK_RUN(test_htk);
  return GK_TEST_SUMMARY();
}
