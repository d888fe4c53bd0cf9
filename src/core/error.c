/* error.c: status texts and the gk_error record (gmmkit/error.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "gmmkit/error.h"

const char *gk_strerror(gk_status status) {
  switch (status) {
    case GK_OK: return "success";
    case GK_EINVAL: return "invalid argument";
    case GK_ENOMEM: return "not enough memory";
    case GK_EIO: return "input/output error";
    case GK_EFORMAT: return "bad file format";
    case GK_EINTR: return "interrupted";
    case GK_ENUMERIC: return "numerical error";
    case GK_ELIMIT: return "size beyond gmmkit's limits";
  }
  return "unknown status";
}

gk_status gk_fail(gk_error *err, gk_status status, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    err->status = status;
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
  }
  return status;
}

gk_status gk_fail_nomem(gk_error *err) {
  return gk_fail(err, GK_ENOMEM, "%s", gk_strerror(GK_ENOMEM));
}

void gk_error_clear(gk_error *err) {
  if (err) {
    err->status = GK_OK;
    err->message[0] = '\0';
  }
}

void gk_error_prefix(gk_error *err, const char *prefix) {
  char tmp[GK_ERROR_MAX];
  size_t n;
  if (!err || !prefix) return;
  /* prefix + ": " + message, cut to the buffer (the message is the part that may be lost). */
  n = strlen(prefix);
  if (n > GK_ERROR_MAX - 3) n = GK_ERROR_MAX - 3;
  memcpy(tmp, prefix, n);
  tmp[n++] = ':';
  tmp[n++] = ' ';
  memcpy(tmp + n, err->message, GK_ERROR_MAX - n - 1);
  tmp[GK_ERROR_MAX - 1] = '\0';
  memcpy(err->message, tmp, sizeof tmp);
}
