/*
 * vlfeat_em.c: seconds per EM iteration of VLFeat's vl_gmm (diagonal covariances), for
 * scripts/bench/em. Reads the data and the initial parameters as raw little-endian float32
 * files written by the benchmark, runs EM from those parameters, and prints one line:
 *   vlfeat <median seconds per iteration> <iterations timed> <final log-likelihood>
 *
 * vl_gmm_em runs max_iter + 1 E-steps and max_iter M-steps and may stop early on a small
 * relative change, so an iteration is timed as (T(n) - T(0)) / n, where T(0) is a run with
 * zero iterations (one E-step and the set-up) and n the M-steps that VLFeat reports.
 *
 * usage: vlfeat_em DIR N D K ITERS REPEATS   (DIR holds X.f32, w.f32, mu.f32, var.f32)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <vl/generic.h>
#include <vl/gmm.h>

static int em_lines;

static int count_printf(char const *fmt, ...) {
  if (strstr(fmt, "iteration %d: loglikelihood")) em_lines++;
  return 0;
}

static float *load(const char *dir, const char *name, size_t n) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); exit(1); }
  float *p = malloc(n * sizeof(float));
  if (!p || fread(p, sizeof(float), n, f) != n) { fprintf(stderr, "%s: short read\n", path); exit(1); }
  fclose(f);
  return p;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Runs EM for `iters` iterations from the initial parameters; returns seconds. */
static double run(const float *X, size_t n, size_t d, size_t k, const float *w, const float *mu,
                  const float *var, size_t iters, double *ll) {
  VlGMM *g = vl_gmm_new(VL_TYPE_FLOAT, d, k);
  vl_gmm_set_initialization(g, VlGMMCustom);
  vl_gmm_set_max_num_iterations(g, iters);
  vl_gmm_set_priors(g, w);
  vl_gmm_set_means(g, mu);
  vl_gmm_set_covariances(g, var);
  vl_gmm_set_covariance_lower_bound(g, 1e-6);
  vl_gmm_set_verbosity(g, 1);
  em_lines = 0;
  double t0 = now();
  *ll = vl_gmm_em(g, X, n);
  double t = now() - t0;
  vl_gmm_delete(g);
  return t;
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s DIR N D K ITERS REPEATS\n", argv[0]);
    return 2;
  }
  const char *dir = argv[1];
  size_t n = strtoul(argv[2], 0, 10), d = strtoul(argv[3], 0, 10), k = strtoul(argv[4], 0, 10);
  size_t iters = strtoul(argv[5], 0, 10), reps = strtoul(argv[6], 0, 10);
  float *X = load(dir, "X.f32", n * d), *w = load(dir, "w.f32", k), *mu = load(dir, "mu.f32", k * d);
  float *var = load(dir, "var.f32", k * d);
  vl_set_num_threads(0);  /* all cores */
  vl_set_printf_func(count_printf);
  double *per = malloc(reps * sizeof(double)), ll = 0.0;
  size_t timed = iters;
  for (size_t r = 0; r < reps; r++) {
    double t0 = run(X, n, d, k, w, mu, var, 0, &ll);
    double tn = run(X, n, d, k, w, mu, var, iters, &ll);
    size_t m = em_lines > 1 ? (size_t)em_lines - 1 : 1;  /* M-steps done */
    timed = m;
    per[r] = (tn - t0) / (double)m;
  }
  qsort(per, reps, sizeof(double), cmp);
  printf("vlfeat %.6f %zu %.6f\n", per[reps / 2], timed, ll / (double)n);
  free(per);
  free(X);
  free(w);
  free(mu);
  free(var);
  return 0;
}
