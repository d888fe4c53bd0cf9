/*
 * make_seeds.c: writes the seed corpora of the fuzz targets with gmmkit's own writers:
 *   make_seeds DIR   ->  DIR/<target>/<name> for every target of tests/fuzz/
 * Each seed is a small valid file (under a few kilobytes), so that libFuzzer starts from
 * inputs that reach deep into each parser. Deterministic: the same files on every run.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sndfile.h>

#include "gmmkit/gmmkit.h"
#include "fuzz_ubm.h"

static const char *root;

static void die(const char *what, const gk_error *err) {
  fprintf(stderr, "make_seeds: %s: %s\n", what, err ? err->message : strerror(errno));
  exit(1);
}

static const char *seed_path(const char *target, const char *name) {
  static char p[4096];
  snprintf(p, sizeof p, "%s/%s", root, target);
  if (mkdir(p, 0777) != 0 && errno != EEXIST) die(p, NULL);
  snprintf(p, sizeof p, "%s/%s/%s", root, target, name);
  return p;
}

static void write_bytes(const char *target, const char *name, const void *b, size_t n) {
  FILE *f = fopen(seed_path(target, name), "wb");
  if (!f || fwrite(b, 1, n, f) != n || fclose(f) != 0) die(name, NULL);
}

/* Deterministic pseudo-random values in [-2, 2). */
static double val(unsigned i) {
  unsigned x = i * 2654435761u + 12345u;
  x ^= x >> 13;
  return (double)(x % 4000u) / 1000.0 - 2.0;
}

static void npy_seeds(void) {
  gk_error err;
  float a[6];
  double b[10];
  for (unsigned i = 0; i < 6; i++) a[i] = (float)val(i);
  for (unsigned i = 0; i < 10; i++) b[i] = val(i + 6);
  gk_matrix m = gk_matrix_view(3, 2, GK_FLOAT32, a);
  if (gk_npy_save(seed_path("npy", "f4_3x2.npy"), &m, &err) != GK_OK) die("npy", &err);
  m = gk_matrix_view(2, 5, GK_FLOAT64, b);
  if (gk_npy_save(seed_path("npy", "f8_2x5.npy"), &m, &err) != GK_OK) die("npy", &err);
  m = gk_matrix_view(0, 3, GK_FLOAT64, NULL);
  if (gk_npy_save(seed_path("npy", "f8_0x3.npy"), &m, &err) != GK_OK) die("npy", &err);
}

static void put_be32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}

static void htk_seeds(void) {
  gk_error err;
  float a[15];
  for (unsigned i = 0; i < 15; i++) a[i] = (float)val(i);
  gk_matrix m = gk_matrix_view(5, 3, GK_FLOAT32, a);
  if (gk_htk_write(seed_path("htk", "mfcc_e_5x3.htk"), &m, GK_HTK_MFCC | GK_HTK_E, 100000, &err) != GK_OK)
    die("htk", &err);
  m = gk_matrix_view(3, 2, GK_FLOAT32, a);
  if (gk_htk_write(seed_path("htk", "user_3x2.htk"), &m, GK_HTK_USER, 100000, &err) != GK_OK) die("htk", &err);
  /* gmmkit writes no compressed files but reads them (HTK book 5.10.1): nSamples counts
   * 4 extra frames' worth of int16 for the scale (A) and offset (B) vectors. */
  unsigned char c[12 + 8 * 2 + 3 * 4];
  put_be32(c, 3 + 4);
  put_be32(c + 4, 100000);
  c[8] = 0; c[9] = 4;                                          /* 2 dims x int16 */
  c[10] = (GK_HTK_MFCC | GK_HTK_C) >> 8; c[11] = (GK_HTK_MFCC | GK_HTK_C) & 0xff;
  float ab[4] = {100.0f, 50.0f, 0.0f, 10.0f};
  for (int i = 0; i < 4; i++) {
    uint32_t u;
    memcpy(&u, &ab[i], 4);
    put_be32(c + 12 + 4 * i, u);
  }
  for (int i = 0; i < 6; i++) { c[28 + 2 * i] = 0; c[29 + 2 * i] = (unsigned char)(10 * i); }
  write_bytes("htk", "mfcc_c_3x2.htk", c, sizeof c);
}

/* Small data for the statistics and checkpoint seeds. */
static float X[40 * 2];

static void model_seeds(void) {
  gk_error err;
  for (unsigned i = 0; i < 80; i++) X[i] = (float)(val(i) + (i % 4 < 2 ? 3.0 : -3.0));
  gk_matrix xm = gk_matrix_view(40, 2, GK_FLOAT32, X);
  gk_gmm_data data = {&xm, 1, 1};
  for (int cov = 0; cov < 2; cov++) {
    gk_gmm_train_opts o;
    gk_gmm_train_opts_default(&o);
    o.components = 2;
    o.cov = cov ? GK_COV_FULL : GK_COV_DIAG;
    o.seed = 7;
    gk_gmm_trainer *t;
    double ll;
    if (gk_gmm_trainer_create(&t, &data, &o, NULL, NULL, &err) != GK_OK) die("trainer", &err);
    for (int i = 0; i < 2; i++)
      if (gk_gmm_trainer_step(t, &data, NULL, &ll, NULL, &err) != GK_OK) die("step", &err);
    const char *tag = cov ? "full" : "diag";
    char name[64];
    snprintf(name, sizeof name, "%s_2x2.gmm", tag);
    if (gk_gmm_save(t->model, seed_path("model", name), &err) != GK_OK) die("model", &err);
    snprintf(name, sizeof name, "%s_2x2.txt", tag);
    if (gk_gmm_save_kaldi(t->model, seed_path("kaldi", name), &err) != GK_OK) die("kaldi", &err);
    snprintf(name, sizeof name, "%s_2x2.bin", tag);
    if (gk_gmm_save_kaldi_binary(t->model, seed_path("kaldi", name), &err) != GK_OK) die("kaldi", &err);
    snprintf(name, sizeof name, "%s_2x2.ckpt", tag);
    if (gk_gmm_trainer_save(t, 0x0123456789abcdefull, seed_path("checkpoint", name), &err) != GK_OK)
      die("checkpoint", &err);
    gk_gmm_stats *s = NULL;
    if (gk_gmm_accumulate(t->model, &data, &s, NULL, &err) != GK_OK) die("accumulate", &err);
    snprintf(name, sizeof name, "%s_2x2.stats", tag);
    if (gk_gmm_stats_save(s, seed_path("stats", name), &err) != GK_OK) die("stats", &err);
    gk_gmm_stats_free(s);
    gk_gmm_trainer_free(t);
  }
  /* Kaldi's older packed form "FP size values" for full covariances. */
  const char *old = "<FullGMMBegin> <GCONSTS> [ -2 ] <WEIGHTS> [ 1 ]\n<MEANS_INVCOVARS> [\n 0.5 0.25 ]\n"
                    "<INV_COVARS> FP 2 1 0.1 2 <FullGMMEnd>\n";
  write_bytes("kaldi", "full_old_1x2.txt", old, strlen(old));
}

/* A selector whose members come from data (frames drawn from f): clusters of any size. */
static void data_selector_seed(const gk_gmm *f, const gk_gmm *g) {
  gk_error err;
  gk_matrix x;
  if (gk_matrix_alloc(&x, 200, f->d, GK_FLOAT32, NULL, &err) != GK_OK) die("frames", &err);
  if (gk_gmm_sample(f, 200, 5, &x, &err) != GK_OK) die("sample", &err);
  gk_gmm_data data = {&x, 1, 1};
  gk_selector *s;
  if (gk_selector_create_data(&s, f, g, 1, &data, 1, 2, 1, NULL, &err) != GK_OK) die("data selector", &err);
  if (gk_selector_save(s, seed_path("selector", "diag_3_data.gks"), &err) != GK_OK) die("selector", &err);
  gk_selector_free(s);
  gk_matrix_release(&x, NULL);
}

/* Selectors for fuzz_ubm.h's UBM: Runnalls' clusters, overlap 1 and 2, diagonal and full,
 * and members by data. */
static void selector_seeds(void) {
  gk_error err;
  gk_gmm *f = fuzz_selector_ubm();
  if (!f) die("selector UBM", NULL);
  static const struct { const char *name; size_t clusters, overlap; int cov; } kinds[] = {
      {"diag_3_o1.gks", 3, 1, GK_COV_DIAG}, {"diag_3_o2.gks", 3, 2, GK_COV_DIAG}, {"full_2_o1.gks", 2, 1, GK_COV_FULL}};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    gk_simplify_opts o;
    gk_simplify_opts_default(&o);
    o.method = GK_SIMPLIFY_RUNNALLS;
    o.cov_type = kinds[i].cov;
    gk_gmm *g;
    gk_selector *s;
    if (gk_simplify_reduce(f, kinds[i].clusters, &o, &g, NULL, NULL, &err) != GK_OK) die("reduce", &err);
    if (gk_selector_create(&s, f, g, kinds[i].overlap, NULL, &err) != GK_OK) die("selector", &err);
    if (gk_selector_save(s, seed_path("selector", kinds[i].name), &err) != GK_OK) die("selector", &err);
    gk_selector_free(s);
    if (i == 0) data_selector_seed(f, g);
    gk_gmm_free(g);
  }
  gk_gmm_free(f);
}

static void audio_seeds(void) {
  gk_error err;
  float x[240];
  for (unsigned i = 0; i < 240; i++) x[i] = (float)(0.4 * val(i));
  gk_signal s = {x, 240, 8000};
  static const struct { const char *name; gk_audio_format f; gk_audio_encoding e; } kinds[] = {
      {"pcm16.wav", GK_AUDIO_WAV, GK_ENC_PCM16},
      {"pcm24.wav", GK_AUDIO_WAV, GK_ENC_PCM24},
      {"float.wav", GK_AUDIO_WAV, GK_ENC_FLOAT},
      {"pcm16.flac", GK_AUDIO_FLAC, GK_ENC_PCM16}};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (gk_audio_save(seed_path("audio", kinds[i].name), &s, kinds[i].f, kinds[i].e, &err) != GK_OK)
      die("audio", &err);
  /* Two channels and other containers, through libsndfile as gmmkit reads them. */
  static const struct { const char *name; int format, channels; } more[] = {
      {"stereo.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 2},
      {"ulaw.au", SF_FORMAT_AU | SF_FORMAT_ULAW, 1},
      {"pcm8.aiff", SF_FORMAT_AIFF | SF_FORMAT_PCM_S8, 1}};
  for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
    SF_INFO si = {0};
    si.samplerate = 8000;
    si.channels = more[i].channels;
    si.format = more[i].format;
    SNDFILE *sf = sf_open(seed_path("audio", more[i].name), SFM_WRITE, &si);
    if (!sf) {
      fprintf(stderr, "make_seeds: %s: %s\n", more[i].name, sf_strerror(NULL));
      exit(1);
    }
    sf_writef_float(sf, x, (sf_count_t)(240 / more[i].channels));
    sf_close(sf);
  }
}

/* Kaldi archives of every value kind (gmmkit's writer gives Kaldi's bytes, see
 * tests/data/kaldi), and script-file lines with offsets, ranges and commands. */
static void kaldi_table_seeds(void) {
  float a[24];
  double d[6];
  for (unsigned i = 0; i < 24; i++) a[i] = (float)val(i + 40);
  for (unsigned i = 0; i < 6; i++) d[i] = val(i + 70);
  gk_matrix m = gk_matrix_view(12, 2, GK_FLOAT32, a), dm = gk_matrix_view(2, 3, GK_FLOAT64, d);
  gk_matrix v = gk_matrix_view(1, 6, GK_FLOAT64, d), e = gk_matrix_view(0, 0, GK_FLOAT32, NULL);
  static const struct { const char *name; const char *opt; gk_kaldi_compress c; } kinds[] = {
    {"fm_dm_vectors.ark", "ark", GK_KALDI_PLAIN}, {"text.ark", "ark,t", GK_KALDI_PLAIN},
    {"cm.ark", "ark", GK_KALDI_CM}, {"cm2.ark", "ark", GK_KALDI_CM2}, {"cm3.ark", "ark", GK_KALDI_CM3}};
  for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
    gk_error err;
    char spec[4200];
    snprintf(spec, sizeof spec, "%s:%s", kinds[k].opt, seed_path("ark", kinds[k].name));
    gk_kaldi_writer *w;
    if (gk_kaldi_writer_open(&w, spec, kinds[k].c, &err) != GK_OK) die("ark", &err);
    if (gk_kaldi_writer_write(w, "utt1", &m, &err) != GK_OK) die("ark", &err);
    if (gk_kaldi_writer_write(w, "utt-2", &dm, &err) != GK_OK) die("ark", &err);
    if (kinds[k].c == GK_KALDI_PLAIN && gk_kaldi_writer_write_vector(w, "vec", &v, &err) != GK_OK) die("ark", &err);
    if (gk_kaldi_writer_write(w, "empty", &e, &err) != GK_OK) die("ark", &err);
    if (gk_kaldi_writer_close(w, &err) != GK_OK) die("ark", &err);
  }
  static const char scp1[] = "utt1 raw_mfcc.1.ark:12\nutt2 raw_mfcc.1.ark:4096[0:99]\n"
                             "utt3 a.ark:7[0:4,1:2]\nutt4 a.ark:0[:,0:1]\nutt5 a.ark:40[:]\n";
  static const char scp2[] = "seg1 copy-feats ark:a.ark ark:- |\n\n  seg2\tb.ark[2:3]  \nx -\n";
  write_bytes("scp", "offsets_ranges.scp", scp1, sizeof scp1 - 1);
  write_bytes("scp", "pipes_blank.scp", scp2, sizeof scp2 - 1);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: make_seeds DIR\n");
    return 2;
  }
  root = argv[1];
  if (mkdir(root, 0777) != 0 && errno != EEXIST) die(root, NULL);
  npy_seeds();
  htk_seeds();
  model_seeds();
  selector_seeds();
  audio_seeds();
  kaldi_table_seeds();
  return 0;
}
