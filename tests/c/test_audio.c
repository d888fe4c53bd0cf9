/*
 * test_audio.c: audio loading, saving and resampling. References: the WAV bytes decoded
 * by hand (16-bit little-endian / 32768), closed-form sines, and files written by
 * libsndfile directly; bad files must fail with the file name and the reason.
 */
#define _POSIX_C_SOURCE 200809L
#include "gk_test.h"
#include "gmmkit/audio.h"
#include "gmmkit/gmmkit.h"

#include <sndfile.h>
#include <stdint.h>
#include <unistd.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* A file of tests/data/mfcc. */
static const char *data_path(const char *name) { return gk_test_fixture("mfcc", name); }

static unsigned char *read_all(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc((size_t)sz);
  *n = fread(b, 1, (size_t)sz, f);
  fclose(f);
  return b;
}

static void write_bytes(const char *path, const unsigned char *b, size_t n) {
  FILE *f = fopen(path, "wb");
  if (n) fwrite(b, 1, n, f);
  fclose(f);
}

static int fails_with(gk_status st, const gk_error *err, const char *a, const char *b) {
  int ok = st != GK_OK && strstr(err->message, a) && (!b || strstr(err->message, b));
  if (!ok) fprintf(stderr, "expected an error with '%s' and '%s', got %d '%s'\n", a, b ? b : "", st, err->message);
  return ok;
}

/* The fixture tones8k.wav: 44-byte header, then 16-bit little-endian samples. */
static void test_load_wav_bytes(void) {
  gk_error err;
  size_t nb = 0;
  unsigned char *b = read_all(data_path("tones8k.wav"), &nb);
  GK_CHECK(b && nb > 44);
  if (!b) return;
  size_t n = (nb - 44) / 2;
  gk_signal s = {0}, m = {0};
  GK_CHECK_OK(gk_audio_load(data_path("tones8k.wav"), NULL, &s, NULL, &err), &err);
  GK_CHECK(s.n == n && s.rate == 8000);
  size_t bad = 0;
  for (size_t i = 0; i < n && i < s.n; i++) {
    int16_t v = (int16_t)(b[44 + 2 * i] | b[45 + 2 * i] << 8);
    if (s.samples[i] != (float)v / 32768.0f) bad++;
  }
  GK_CHECK(bad == 0);
  /* From memory: the same signal. */
  GK_CHECK_OK(gk_audio_load_memory(b, nb, "<bytes>", NULL, &m, NULL, &err), &err);
  GK_CHECK(m.n == s.n && memcmp(m.samples, s.samples, s.n * sizeof(float)) == 0);
  GK_CHECK(fails_with(gk_audio_load_memory(b, 30, "<bytes>", NULL, &m, NULL, &err), &err, "<bytes>", NULL));
  gk_audio_info info;
  GK_CHECK_OK(gk_audio_info_file(data_path("tones8k.wav"), &info, &err), &err);
  GK_CHECK(info.frames == (long long)n && info.channels == 1 && info.rate == 8000);
  GK_CHECK(strstr(info.format, "WAV") != NULL);
  gk_signal_release(&s, NULL);
  gk_signal_release(&m, NULL);
  free(b);
}

static void test_save_roundtrip(void) {
  gk_error err;
  size_t n = 4001;
  gk_signal s = {malloc(n * sizeof(float)), n, 16000}, r = {0};
  for (size_t i = 0; i < n; i++) s.samples[i] = (float)(0.5 * sin(2 * M_PI * 440 * (double)i / 16000));
  const char *files[] = {"t_audio.wav", "t_audio.flac", "t_audio_f.wav", "t_audio24.flac"};
  gk_audio_encoding enc[] = {GK_ENC_PCM16, GK_ENC_PCM16, GK_ENC_FLOAT, GK_ENC_PCM24};
  double tol[] = {1.0 / 32768, 1.0 / 32768, 0, 1.0 / 8388608};
  for (int k = 0; k < 4; k++) {
    GK_CHECK_OK(gk_audio_save(files[k], &s, GK_AUDIO_AUTO, enc[k], &err), &err);
    GK_CHECK_OK(gk_audio_load(files[k], NULL, &r, NULL, &err), &err);
    GK_CHECK(r.n == n && r.rate == 16000);
    double md = 0;
    for (size_t i = 0; i < n && i < r.n; i++) md = fmax(md, fabs(r.samples[i] - s.samples[i]));
    GK_CHECK(md <= tol[k]);
    gk_signal_release(&r, NULL);
    remove(files[k]);
  }
  GK_CHECK(fails_with(gk_audio_save("t_audio.mp4", &s, GK_AUDIO_AUTO, GK_ENC_PCM16, &err), &err, "t_audio.mp4", "extension"));
  GK_CHECK(fails_with(gk_audio_save("t_audio.flac", &s, GK_AUDIO_AUTO, GK_ENC_FLOAT, &err), &err, "FLAC", NULL));
  GK_CHECK(access("t_audio.flac", F_OK) != 0);
  free(s.samples);
}

/* A stereo file written by libsndfile: left = a sine, right = a constant. */
static void test_channels_and_resampling(void) {
  gk_error err;
  SF_INFO si = {0};
  si.samplerate = 16000;
  si.channels = 2;
  si.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
  SNDFILE *sf = sf_open("t_stereo.wav", SFM_WRITE, &si);
  GK_CHECK(sf != NULL);
  if (!sf) return;
  size_t n = 16000;
  float *x = malloc(2 * n * sizeof(float));
  for (size_t i = 0; i < n; i++) {
    x[2 * i] = (float)(0.5 * sin(2 * M_PI * 300 * (double)i / 16000));
    x[2 * i + 1] = 0.25f;
  }
  sf_writef_float(sf, x, (sf_count_t)n);
  sf_close(sf);
  gk_signal s = {0};
  gk_audio_opts o;
  gk_audio_opts_default(&o);
  GK_CHECK_OK(gk_audio_load("t_stereo.wav", &o, &s, NULL, &err), &err);
  GK_CHECK(s.n == n);
  if (s.n == n) GK_CHECK_NEAR(s.samples[100], 0.5 * (x[200] + 0.25f), 1e-7);
  gk_signal_release(&s, NULL);
  o.channel = 1;
  GK_CHECK_OK(gk_audio_load("t_stereo.wav", &o, &s, NULL, &err), &err);
  if (s.n == n) GK_CHECK(s.samples[1234] == 0.25f);
  gk_signal_release(&s, NULL);
  o.channel = 2;
  GK_CHECK(fails_with(gk_audio_load("t_stereo.wav", &o, &s, NULL, &err), &err, "t_stereo.wav", "channel"));
  /* Resampling the left channel 16 kHz -> 8 kHz: the same 300 Hz sine at the new rate
   * (away from the ends, where the filter sees the edge). */
  gk_resample_quality q[] = {GK_RESAMPLE_BEST, GK_RESAMPLE_MEDIUM, GK_RESAMPLE_FAST};
  for (int k = 0; k < 3; k++) {
    o.channel = 0;
    o.rate = 8000;
    o.quality = q[k];
    GK_CHECK_OK(gk_audio_load("t_stereo.wav", &o, &s, NULL, &err), &err);
    GK_CHECK(s.rate == 8000 && s.n >= 7990 && s.n <= 8010);
    double md = 0;
    for (size_t i = 200; i + 200 < s.n; i++)
      md = fmax(md, fabs(s.samples[i] - 0.5 * sin(2 * M_PI * 300 * (double)i / 8000)));
    GK_CHECK(md < 2e-3);
    gk_signal_release(&s, NULL);
  }
  /* gk_audio_resample on a signal in memory, 8 kHz -> 16 kHz. */
  gk_signal in = {malloc(8000 * sizeof(float)), 8000, 8000}, up = {0};
  for (size_t i = 0; i < 8000; i++) in.samples[i] = (float)(0.5 * sin(2 * M_PI * 300 * (double)i / 8000));
  GK_CHECK_OK(gk_audio_resample(&in, 16000, GK_RESAMPLE_MEDIUM, &up, NULL, &err), &err);
  GK_CHECK(up.rate == 16000 && up.n >= 15990 && up.n <= 16010);
  double md = 0;
  for (size_t i = 400; i + 400 < up.n; i++)
    md = fmax(md, fabs(up.samples[i] - 0.5 * sin(2 * M_PI * 300 * (double)i / 16000)));
  GK_CHECK(md < 2e-3);
  gk_signal_release(&up, NULL);
  free(in.samples);
  free(x);
  remove("t_stereo.wav");
}

static void test_bad_files(void) {
  gk_error err;
  gk_signal s = {0};
  GK_CHECK(fails_with(gk_audio_load("no/such/file.wav", NULL, &s, NULL, &err), &err, "no/such/file.wav", "No such file"));
  write_bytes("t_text.wav", (const unsigned char *)"this is not audio, just some text\n", 34);
  GK_CHECK(fails_with(gk_audio_load("t_text.wav", NULL, &s, NULL, &err), &err, "t_text.wav", "not an audio file"));
  write_bytes("t_empty.wav", NULL, 0);
  GK_CHECK(fails_with(gk_audio_load("t_empty.wav", NULL, &s, NULL, &err), &err, "t_empty.wav", "empty"));
  size_t nb = 0;
  unsigned char *b = read_all(data_path("chirp8k.wav"), &nb);
  GK_CHECK(b != NULL);
  if (b) {
    /* Truncated in the data (an odd number of bytes cut). */
    write_bytes("t_trunc.wav", b, nb - 1001);
    GK_CHECK(fails_with(gk_audio_load("t_trunc.wav", NULL, &s, NULL, &err), &err, "t_trunc.wav", "truncated"));
    /* Truncated in the header. */
    write_bytes("t_trunc2.wav", b, 20);
    GK_CHECK(fails_with(gk_audio_load("t_trunc2.wav", NULL, &s, NULL, &err), &err, "t_trunc2.wav", NULL));
    /* Absurd headers: 0 channels; a sample rate of 0. */
    unsigned char *c = malloc(nb);
    memcpy(c, b, nb);
    c[22] = 0; c[23] = 0;
    write_bytes("t_absurd.wav", c, nb);
    GK_CHECK(fails_with(gk_audio_load("t_absurd.wav", NULL, &s, NULL, &err), &err, "t_absurd.wav", NULL));
    memcpy(c, b, nb);
    c[24] = c[25] = c[26] = c[27] = 0;
    write_bytes("t_absurd.wav", c, nb);
    GK_CHECK(fails_with(gk_audio_load("t_absurd.wav", NULL, &s, NULL, &err), &err, "t_absurd.wav", NULL));
    memcpy(c, b, nb);
    c[22] = 0xff; c[23] = 0x7f;  /* 32767 channels */
    write_bytes("t_absurd.wav", c, nb);
    GK_CHECK(fails_with(gk_audio_load("t_absurd.wav", NULL, &s, NULL, &err), &err, "t_absurd.wav", NULL));
    free(c);
    free(b);
  }
  GK_CHECK(s.samples == NULL && s.n == 0);
  remove("t_text.wav"); remove("t_empty.wav"); remove("t_trunc.wav"); remove("t_trunc2.wav");
  remove("t_absurd.wav");
}

static void test_list(void) {
  gk_error err;
  char **paths = NULL;
  size_t n = 0;
  GK_CHECK_OK(gk_audio_list(data_path(""), 1, &paths, &n, &err), &err);
  GK_CHECK(n == 4);
  for (size_t i = 0; i + 1 < n; i++) GK_CHECK(strcmp(paths[i], paths[i + 1]) < 0);
  gk_audio_list_free(paths, n);
  GK_CHECK(fails_with(gk_audio_list("no/such/dir", 1, &paths, &n, &err), &err, "no/such/dir", NULL));
}

/* Sources: a segment is samples floor(start * rate) to floor(stop * rate) of the recording
 * (a ramp, so that each sample names its index), a small overshoot truncated, a large one
 * or a short segment refused; a command's output equals the file; a failing command is
 * named with its exit status. */
static void test_sources(void) {
  gk_error err;
  size_t n = 8000;
  gk_signal s = {malloc(n * sizeof(float)), n, 8000}, r = {0};
  for (size_t i = 0; i < n; i++) s.samples[i] = (float)i / 16384.0f;  /* exact in 16 bits */
  GK_CHECK_OK(gk_audio_save("t_src.wav", &s, GK_AUDIO_WAV, GK_ENC_PCM16, &err), &err);
  gk_audio_source src = {"t_src.wav", NULL, 1, 0.1003, 0.4567, "utterance 'u'"};
  int rate = 0;
  GK_CHECK_OK(gk_audio_load_source(&src, NULL, &r, &rate, NULL, &err), &err);
  GK_CHECK(rate == 8000 && r.rate == 8000 && r.n == 3653 - 802);
  GK_CHECK(r.n > 0 && r.samples[0] == 802.0f / 16384.0f && r.samples[r.n - 1] == 3652.0f / 16384.0f);
  gk_signal_release(&r, NULL);
  src.start = 0.5;
  src.stop = 1.3;  /* 0.3 s past the end: truncated */
  GK_CHECK_OK(gk_audio_load_source(&src, NULL, &r, NULL, NULL, &err), &err);
  GK_CHECK(r.n == 4000);
  gk_signal_release(&r, NULL);
  src.stop = 1.6;
  GK_CHECK(fails_with(gk_audio_load_source(&src, NULL, &r, NULL, NULL, &err), &err, "utterance 'u': the segment ends at 1.600 s", NULL));
  src.start = 0.2;
  src.stop = 0.29;
  GK_CHECK(fails_with(gk_audio_load_source(&src, NULL, &r, NULL, NULL, &err), &err, "0.1 s or shorter", NULL));
  gk_audio_source cmd = {NULL, "cat t_src.wav", 0, 0, -1, NULL};
  GK_CHECK_OK(gk_audio_load_source(&cmd, NULL, &r, &rate, NULL, &err), &err);
  GK_CHECK(r.n == n && rate == 8000 && r.samples[n - 1] == s.samples[n - 1]);
  gk_signal_release(&r, NULL);
  cmd.command = "cat t_src.wav; exit 4";
  GK_CHECK(fails_with(gk_audio_load_source(&cmd, NULL, &r, NULL, NULL, &err), &err, "'cat t_src.wav; exit 4'", "exit status 4"));
  cmd.command = "kill -9 $$";
  GK_CHECK(fails_with(gk_audio_load_source(&cmd, NULL, &r, NULL, NULL, &err), &err, "killed by signal 9", NULL));
  gk_audio_opts o;
  gk_audio_opts_default(&o);
  o.rate = 16000;  /* the cut is made at the recording's rate, then resampled */
  src.start = 0.25;
  src.stop = -1;
  GK_CHECK_OK(gk_audio_load_source(&src, &o, &r, &rate, NULL, &err), &err);
  GK_CHECK(rate == 8000 && r.rate == 16000 && r.n >= 2 * 6000 - 2 && r.n <= 2 * 6000 + 2);
  gk_signal_release(&r, NULL);
  remove("t_src.wav");
  free(s.samples);
}

int main(void) {
  GK_RUN(test_load_wav_bytes);
  GK_RUN(test_save_roundtrip);
  GK_RUN(test_channels_and_resampling);
  GK_RUN(test_bad_files);
  GK_RUN(test_list);
  GK_RUN(test_sources);
  return GK_TEST_SUMMARY();
}
