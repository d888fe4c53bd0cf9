/* kaldi_read.c: the decode rate of Kaldi archives (see scripts/bench/kaldi_read). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "gmmkit/gmmkit.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void die(const gk_error *e) {
  fprintf(stderr, "kaldi_read: %s\n", e->message);
  exit(1);
}

/* Seconds to read every entry of `spec` (matrices allocated and freed as a caller would). */
static double read_once(const char *spec, size_t *bytes) {
  gk_kaldi_reader *r;
  gk_error err;
  double t0 = now();
  if (gk_kaldi_reader_open(&r, spec, &err) != GK_OK) die(&err);
  *bytes = 0;
  for (;;) {
    const char *key;
    gk_matrix m;
    int done;
    if (gk_kaldi_reader_next(r, &key, &m, NULL, &done, &err) != GK_OK) die(&err);
    if (done) break;
    *bytes += gk_matrix_size(&m) * 4;
    gk_matrix_release(&m, NULL);
  }
  gk_kaldi_reader_close(r);
  return now() - t0;
}

static double median_rate(const char *spec, int reps) {
  double s[16];
  size_t bytes = 0;
  read_once(spec, &bytes);  /* warm the page cache */
  for (int i = 0; i < reps; i++) s[i] = read_once(spec, &bytes);
  qsort(s, (size_t)reps, sizeof *s, cmp);
  return (double)bytes / s[reps / 2] / 1e6;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "/tmp";
  size_t frames = argc > 2 ? (size_t)atol(argv[2]) : 500000, dim = 60, per = 1000;
  size_t n = frames / per;
  float *x = malloc(per * dim * sizeof *x);
  unsigned s = 12345;
  char fm[4096], cm[4096];
  snprintf(fm, sizeof fm, "ark:%s/gk_bench_fm.ark", dir);
  snprintf(cm, sizeof cm, "ark:%s/gk_bench_cm.ark", dir);
  gk_kaldi_writer *wf, *wc;
  gk_error err;
  if (gk_kaldi_writer_open(&wf, fm, GK_KALDI_PLAIN, &err) != GK_OK) die(&err);
  if (gk_kaldi_writer_open(&wc, cm, GK_KALDI_CM_AUTO, &err) != GK_OK) die(&err);
  for (size_t u = 0; u < n; u++) {
    /* MFCC-like columns: a per-column offset and scale, noise. */
    for (size_t i = 0; i < per * dim; i++) {
      s = s * 1103515245u + 12345u;
      float noise = (float)((s >> 8) & 0xffff) / 65536.0f - 0.5f;
      size_t j = i % dim;
      x[i] = (float)j * 0.3f - 5.0f + noise * (1.0f + (float)(j % 7));
    }
    char key[32];
    snprintf(key, sizeof key, "utt%06zu", u);
    gk_matrix m = gk_matrix_view(per, dim, GK_FLOAT32, x);
    if (gk_kaldi_writer_write(wf, key, &m, &err) != GK_OK) die(&err);
    if (gk_kaldi_writer_write(wc, key, &m, &err) != GK_OK) die(&err);
  }
  if (gk_kaldi_writer_close(wf, &err) != GK_OK || gk_kaldi_writer_close(wc, &err) != GK_OK) die(&err);
  /* memcpy of the same bytes in the same chunks, into fresh buffers. */
  size_t chunk = per * dim * 4;
  double ms[5];
  for (int k = 0; k < 5; k++) {
    double t0 = now();
    for (size_t u = 0; u < n; u++) {
      float *d = malloc(chunk);
      memcpy(d, x, chunk);
      __asm__ volatile("" : : "r"(d) : "memory");
      free(d);
    }
    ms[k] = now() - t0;
  }
  qsort(ms, 5, sizeof *ms, cmp);
  double rcm = median_rate(cm, 5), rfm = median_rate(fm, 5);
  printf("%zu x %zu float32 in %zu utterances (%.0f MB decoded per read), median of 5 reads:\n", frames, dim,
         n, (double)(frames * dim * 4) / 1e6);
  printf("  CM (copy-feats --compress=true) %8.0f MB/s of decoded float32\n", rcm);
  printf("  FM (plain float)                %8.0f MB/s\n", rfm);
  printf("  memcpy (same chunks)            %8.0f MB/s\n", (double)(n * chunk) / ms[2] / 1e6);
  remove(fm + 4);
  remove(cm + 4);
  free(x);
  return 0;
}
