/*
 * gmmkit/error.h: status codes and error messages of the C core.
 *
 * Every fallible core function returns a gk_status and, when its last argument `err` is
 * not NULL, fills it with a message that says what was wrong and where (file name, option
 * name, matrix shape). The core never raises, never prints and never exits; the Lua
 * binding turns a status into a Lua error at one seam (gkL_raise in src/lua/gkl.h).
 */
#ifndef GMMKIT_ERROR_H
#define GMMKIT_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gk_status {
  GK_OK = 0,    /* success */
  GK_EINVAL,    /* an argument or option is out of its domain */
  GK_ENOMEM,    /* an allocation failed */
  GK_EIO,       /* the operating system refused an open, read, write, fsync or rename */
  GK_EFORMAT,   /* a file's contents do not follow its format */
  GK_EINTR,     /* interrupted by gk_interrupt_request() (Ctrl-C) */
  GK_ENUMERIC,  /* NaN or Inf in input, or a matrix that is not positive definite */
  GK_ELIMIT     /* a size beyond the documented limits of gmmkit/limits.h */
} gk_status;

#define GK_ERROR_MAX 512

typedef struct gk_error {
  gk_status status;            /* GK_OK until a failure is recorded */
  char message[GK_ERROR_MAX];  /* NUL-terminated, without a trailing newline */
} gk_error;

/* Short generic text of a status ("invalid argument", "not enough memory", ...). */
const char *gk_strerror(gk_status status);

/* Records `status` and a printf-style message in `err` (if not NULL); returns `status`,
 * so that a failure reads `return gk_fail(err, GK_EINVAL, "num_ceps %d > num_mel_bins %d", ...)`. */
gk_status gk_fail(gk_error *err, gk_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Records GK_ENOMEM with the standard text "not enough memory". */
gk_status gk_fail_nomem(gk_error *err);

/* Resets `err` to GK_OK with an empty message. */
void gk_error_clear(gk_error *err);

/* Prefixes the message in `err` with "prefix: " (for example a file name), keeping the status. */
void gk_error_prefix(gk_error *err, const char *prefix);

#ifdef __cplusplus
}
#endif
#endif
