/*
 * parallel.c: the thread setting and the interrupt flag (gmmkit/parallel.h).
 * The only mutable process-wide state of the core, because OpenMP's and BLAS's thread
 * pools and signals are process-wide themselves.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <time.h>
#include <stdlib.h>
#include <omp.h>
#include <cblas.h>
#include "gmmkit/parallel.h"

static volatile sig_atomic_t interrupt_flag;

int gk_cores(void) {
  int n = omp_get_num_procs();
  return n > 0 ? n : 1;
}

int gk_threads(void) { return omp_get_max_threads(); }

int gk_set_threads(int n) {
  if (n <= 0) n = gk_cores();
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
  return n;
}

int gk_blas_serial_begin(void) {
  int previous = openblas_get_num_threads();
  openblas_set_num_threads(1);
  return previous;
}

void gk_blas_serial_end(int previous) { openblas_set_num_threads(previous > 0 ? previous : 1); }

void gk_interrupt_request(void) { interrupt_flag = 1; }
void gk_interrupt_clear(void) { interrupt_flag = 0; }
int gk_interrupted(void) { return interrupt_flag != 0; }

double gk_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
