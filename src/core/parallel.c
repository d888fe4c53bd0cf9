/*
 * parallel.c: the thread setting and the interrupt flag (gmmkit/parallel.h).
 * The only mutable process-wide state of the core, because OpenMP's and BLAS's thread
 * pools and signals are process-wide themselves.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <stdlib.h>
#include <omp.h>
#include <cblas.h>
#include "gmmkit/limits.h"
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

/* The probe threads wait on a gate until all are started, so that their stacks exist
 * at once, as the threads of a parallel region's team do. */
typedef struct gate {
  pthread_mutex_t mu;
} gate;

static void *probe_thread(void *arg) {
  gate *g = arg;
  pthread_mutex_lock(&g->mu);
  pthread_mutex_unlock(&g->mu);
  return NULL;
}

gk_status gk_threads_check(int n, gk_error *err) {
  if (n <= 0) n = gk_cores();
  if (n > GK_MAX_THREADS)
    return gk_fail(err, GK_ELIMIT, "%d threads is beyond the limit of %d", n, GK_MAX_THREADS);
  pthread_t *t = n > 1 ? malloc((size_t)(n - 1) * sizeof *t) : NULL;
  if (n > 1 && !t) return gk_fail_nomem(err);
  gate g;
  pthread_mutex_init(&g.mu, NULL);
  pthread_mutex_lock(&g.mu);
  int started = 0, rc = 0;
  while (started < n - 1 && (rc = pthread_create(&t[started], NULL, probe_thread, &g)) == 0) started++;
  pthread_mutex_unlock(&g.mu);
  for (int i = 0; i < started; i++) pthread_join(t[i], NULL);
  pthread_mutex_destroy(&g.mu);
  free(t);
  if (started < n - 1)
    return gk_fail(err, GK_EIO, "cannot start %d threads (only %d): %s (a memory or process limit?); use fewer",
                   n, started + 1, strerror(rc));
  return GK_OK;
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
