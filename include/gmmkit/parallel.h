/*
 * gmmkit/parallel.h: threads and interruption.
 *
 * Threads: one setting per process decides how many OpenMP threads gmmkit's loops use
 * (default: all cores; GMMKIT_THREADS overrides at start-up; gk_set_threads at any time).
 * Results never depend on it: parallel loops work on fixed blocks and reduce in a fixed
 * order. BLAS is called single-threaded inside gmmkit's own parallel regions
 * (gk_blas_serial_begin/end) so that the cores are not oversubscribed, and with the
 * setting outside them.
 *
 * Interruption: gk_interrupt_request() may be called from a signal handler; long loops
 * poll gk_interrupted() at block boundaries and return GK_EINTR, leaving their outputs
 * untouched or consistent. These two settings are the core's only process-wide state,
 * because threads and signals are process-wide.
 */
#ifndef GMMKIT_PARALLEL_H
#define GMMKIT_PARALLEL_H

#include "gmmkit/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Number of threads gmmkit uses (>= 1). */
int gk_threads(void);
/* Sets it; n <= 0 means all cores. Also sets BLAS's thread count. Returns the value set. */
int gk_set_threads(int n);
/* Checks that `n` threads (n <= 0: all cores) can run now, by starting n - 1 threads
 * with the default stack and joining them: OpenMP's runtime ends the whole process when
 * it cannot create a thread, so a thread count is checked here before it is used.
 * GK_OK, GK_ELIMIT beyond GK_MAX_THREADS, or GK_EIO "cannot start N threads: reason
 * (a memory limit?); use fewer". */
gk_status gk_threads_check(int n, gk_error *err);
/* Number of cores available to the process. */
int gk_cores(void);

/* Around a parallel region whose threads call BLAS: BLAS runs single-threaded inside.
 * begin returns the previous BLAS thread count for end. Not nestable across threads. */
int gk_blas_serial_begin(void);
void gk_blas_serial_end(int previous);

/* Monotonic wall-clock seconds (for progress reports and timings). */
double gk_seconds(void);

/* Async-signal-safe request to stop the current long operation. */
void gk_interrupt_request(void);
/* Clears a pending request (the host calls it before each chunk it runs). */
void gk_interrupt_clear(void);
/* Non-zero when an interruption was requested and not cleared. */
int gk_interrupted(void);

#ifdef __cplusplus
}
#endif
#endif
