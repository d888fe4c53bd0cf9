/*
 * sgemm_rate.c: the machine's single-precision GEMM rate with OpenBLAS.
 *   sgemm_rate          sgemm <GFLOP/s>: all cores, best of 5 products of 2048 x 2048
 *                       matrices (the ceiling against which scripts/bench/em reports the
 *                       E-step's GFLOP/s)
 *   sgemm_rate shapes   one line per shape M x N x K (A M x K times B' with B N x K, as the
 *                       scoring passes call it): GFLOP/s and seconds per (row, column), best
 *                       of 5; run with OPENBLAS_NUM_THREADS=1 for one core (scripts/bench/
 *                       scoring: the exhaustive pass's shapes against Gaussian selection's)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cblas.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *filled(long n, long mod) {
  float *v = malloc(sizeof(float) * (size_t)n);
  if (!v) {
    fprintf(stderr, "sgemm_rate: out of memory\n");
    exit(1);
  }
  for (long i = 0; i < n; i++) v[i] = (float)((i * 7919) % mod) / (float)mod;
  return v;
}

/* The best of 5 timings of C = A B' (A m x k, B n x k), each over enough calls for 2 GFLOP. */
static double best_time(int m, int n, int k) {
  float *a = filled((long)m * k, 97), *b = filled((long)n * k, 89), *c = filled((long)m * n, 2);
  long reps = (long)(2e9 / (2.0 * m * n * k)) + 1;
  double best = 1e30;
  for (int r = 0; r < 5; r++) {
    double t0 = now();
    for (long q = 0; q < reps; q++)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a, k, b, k, 0.0f, c, n);
    double t = (now() - t0) / (double)reps;
    if (t < best) best = t;
  }
  free(a);
  free(b);
  free(c);
  return best;
}

static void shapes(void) {
  /* D = 38 and 60 ([x^2 | x] rows 76 and 120 wide): a block of the exhaustive pass against
   * all K, a chunk against the clusters, a cluster's frames against its members */
  static const int s[][3] = {{512, 512, 76}, {512, 2048, 120}, {1024, 32, 76}, {1024, 64, 120},
                             {32, 50, 76},   {64, 50, 76},     {32, 100, 76},  {16, 32, 120},
                             {32, 56, 120}};
  for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
    double t = best_time(s[i][0], s[i][1], s[i][2]);
    printf("%5d x %5d x %3d  %6.1f GFLOP/s  %.2f ns per (row, column)\n", s[i][0], s[i][1], s[i][2],
           2.0 * s[i][0] * s[i][1] * s[i][2] / t / 1e9, t / ((double)s[i][0] * s[i][1]) * 1e9);
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "shapes") == 0) {
    shapes();
    return 0;
  }
  const int n = 2048;
  float *a = filled((long)n * n, 1000), *b = filled((long)n * n, 1000), *c = filled((long)n * n, 2);
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
