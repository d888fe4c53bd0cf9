/*
 * gk_test.h: the small harness of the C unit tests (one executable per tests/c/test_*.c,
 * run by CTest). A test is a function registered in main with GK_RUN; checks print the
 * file:line and the values on failure and let the test go on; main returns non-zero when
 * any check failed, after printing "N passed, N failed".
 */
#ifndef GK_TEST_H
#define GK_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gmmkit/error.h"

/* The message of a failed status: the error record's, or the generic text. */
static inline const char *gk_test_message(const gk_error *e, gk_status s) {
  return e && e->message[0] ? e->message : gk_strerror(s);
}

/* The path of file `name` in the fixture folder tests/data/<sub> of the source tree
 * (GMMKIT_SOURCE_DIR, set by CTest; "." otherwise). The buffer is reused by the next call. */
static inline const char *gk_test_fixture(const char *sub, const char *name) {
  static char buf[2048];
  const char *src = getenv("GMMKIT_SOURCE_DIR");
  snprintf(buf, sizeof buf, "%s/tests/data/%s/%s", src ? src : ".", sub, name);
  return buf;
}

static int gk_test_checks_failed, gk_test_failed, gk_test_passed;

#define GK_CHECK(cond)                                                              \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);      \
      gk_test_checks_failed++;                                                      \
    }                                                                               \
  } while (0)

/* |a - b| <= tol, reported with both values. */
#define GK_CHECK_NEAR(a, b, tol)                                                    \
  do {                                                                              \
    double gk_a_ = (double)(a), gk_b_ = (double)(b), gk_t_ = (double)(tol);         \
    if (!(fabs(gk_a_ - gk_b_) <= gk_t_)) {                                          \
      fprintf(stderr, "%s:%d: %s = %.17g, %s = %.17g, |diff| %.3g > %.3g\n",        \
              __FILE__, __LINE__, #a, gk_a_, #b, gk_b_, fabs(gk_a_ - gk_b_), gk_t_); \
      gk_test_checks_failed++;                                                      \
    }                                                                               \
  } while (0)

/* |a - b| <= rtol * max(|a|, |b|, tiny). */
#define GK_CHECK_REL(a, b, rtol)                                                    \
  do {                                                                              \
    double gk_a_ = (double)(a), gk_b_ = (double)(b);                                \
    double gk_s_ = fmax(fmax(fabs(gk_a_), fabs(gk_b_)), 1e-300);                    \
    if (!(fabs(gk_a_ - gk_b_) <= (double)(rtol) * gk_s_)) {                         \
      fprintf(stderr, "%s:%d: %s = %.17g, %s = %.17g, relative %.3g > %.3g\n",      \
              __FILE__, __LINE__, #a, gk_a_, #b, gk_b_, fabs(gk_a_ - gk_b_) / gk_s_, \
              (double)(rtol));                                                      \
      gk_test_checks_failed++;                                                      \
    }                                                                               \
  } while (0)

/* A gk_status expression that must be GK_OK; prints the error message otherwise. */
#define GK_CHECK_OK(expr, errp)                                                     \
  do {                                                                              \
    gk_status gk_s_ = (expr);                                                       \
    if (gk_s_ != GK_OK) {                                                           \
      fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr,          \
              gk_test_message((errp), gk_s_));                       \
      gk_test_checks_failed++;                                                      \
    }                                                                               \
  } while (0)

#define GK_RUN(fn)                                                                  \
  do {                                                                              \
    int gk_before_ = gk_test_checks_failed;                                         \
    fn();                                                                           \
    if (gk_test_checks_failed == gk_before_) { gk_test_passed++; }                  \
    else { gk_test_failed++; fprintf(stderr, "FAIL %s\n", #fn); }                   \
  } while (0)

#define GK_TEST_SUMMARY()                                                           \
  (printf("%d passed, %d failed\n", gk_test_passed, gk_test_failed),                \
   gk_test_failed ? EXIT_FAILURE : EXIT_SUCCESS)

#endif
