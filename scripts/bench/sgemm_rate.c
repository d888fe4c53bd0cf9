/*
 * sgemm_rate.c: the machine's single-precision GEMM rate with OpenBLAS on all cores (the
 * ceiling against which scripts/bench/em reports the E-step's GFLOP/s). Prints
 *   sgemm <GFLOP/s>   (best of 5 products of 2048 x 2048 matrices)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <cblas.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(void) {
  const int n = 2048;
  float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
  for (long i = 0; i < (long)n * n; i++) {
    a[i] = (float)((i * 7919) % 1000) / 1000.0f;
    b[i] = (float)((i * 104729) % 1000) / 1000.0f;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
  double best = 1e30;
  for (int r = 0; r < 5; r++) {
    double t0 = now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    double t = now() - t0;
    if (t < best) best = t;
  }
  printf("sgemm %.1f\n", 2.0 * n * n * (double)n / best / 1e9);
  free(a);
  free(b);
  free(c);
  return 0;
}
