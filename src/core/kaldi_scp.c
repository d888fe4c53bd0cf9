/*
 * kaldi_scp.c: script-file lines "KEY RXFILENAME[RANGE]" and their ranges, as Kaldi's
 * ReadScriptFile and ParseMatrixRangeSpecifier (util/kaldi-holder.cc) take them, and
 * Kaldi's rule for keys.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "kaldi_internal.h"

/* "a:b" with a <= b, both non-negative decimal integers; or ":" (the whole dimension). */
static int parse_pair(const char *s, size_t n, int *all, long long *a, long long *b) {
  if (n == 1 && s[0] == ':') {
    *all = 1;
    return 1;
  }
  *all = 0;
  const char *colon = memchr(s, ':', n);
  if (!colon) return 0;
  long long v[2];
  const char *part[2] = {s, colon + 1};
  size_t len[2] = {(size_t)(colon - s), n - (size_t)(colon - s) - 1};
  for (int k = 0; k < 2; k++) {
    if (len[k] == 0 || len[k] > 18) return 0;
    v[k] = 0;
    for (size_t i = 0; i < len[k]; i++) {
      if (!isdigit((unsigned char)part[k][i])) return 0;
      v[k] = v[k] * 10 + (part[k][i] - '0');
    }
  }
  if (v[0] > v[1]) return 0;
  *a = v[0];
  *b = v[1];
  return 1;
}

gk_status gk_kaldi_parse_range(const char *s, size_t n, gk_kaldi_range *r, gk_error *err) {
  memset(r, 0, sizeof *r);
  const char *comma = memchr(s, ',', n);
  size_t n1 = comma ? (size_t)(comma - s) : n;
  int ok = n1 > 0 && parse_pair(s, n1, &r->rows_all, &r->r0, &r->r1);
  if (ok && comma) {
    size_t n2 = n - n1 - 1;
    ok = n2 > 0 && !memchr(comma + 1, ',', n2) && parse_pair(comma + 1, n2, &r->cols_all, &r->c0, &r->c1);
  } else {
    r->cols_all = 1;
  }
  if (!ok)
    return gk_fail(err, GK_EFORMAT,
                   "bad range '[%.*s]' (expected [r0:r1], [r0:r1,c0:c1], [:] or [:,c0:c1], inclusive "
                   "0-based bounds with start <= end)",
                   (int)(n < 60 ? n : 60), s);
  return GK_OK;
}

static char *trim(char *s) {
  while (isspace((unsigned char)*s)) s++;
  size_t n = strlen(s);
  while (n && isspace((unsigned char)s[n - 1])) s[--n] = 0;
  return s;
}

gk_status gk_kaldi_parse_scp_line(char *line, gk_kaldi_scp_entry *e, int *blank, gk_error *err) {
  memset(e, 0, sizeof *e);
  e->offset = -1;
  char *s = trim(line);
  *blank = *s == 0;
  if (*blank) return GK_OK;
  char *sp = s;
  while (*sp && !isspace((unsigned char)*sp)) sp++;
  if (!*sp) return gk_fail(err, GK_EFORMAT, "expected 'KEY RXFILENAME', found only '%.60s'", s);
  *sp = 0;
  e->key = s;
  char *t = trim(sp + 1);
  size_t n = strlen(t);
  /* A range at the end, "...[0:9]" (Kaldi takes it off first, whatever the target is). */
  if (n && t[n - 1] == ']') {
    char *open = strrchr(t, '[');
    if (!open) return gk_fail(err, GK_EFORMAT, "a ']' without '[' in '%.60s'", t);
    gk_status st = gk_kaldi_parse_range(open + 1, (size_t)(t + n - 1 - open - 1), &e->range, err);
    if (st != GK_OK) return st;
    e->has_range = 1;
    *open = 0;
    t = trim(t);
    n = strlen(t);
  }
  if (n && t[n - 1] == '|') {
    t[n - 1] = 0;
    e->target = trim(t);
    e->src = GK_KALDI_SRC_PIPE;
  } else if (strcmp(t, "-") == 0) {
    e->target = t;
    e->src = GK_KALDI_SRC_STDIN;
  } else {
    /* "FILE:OFFSET": digits after the last colon. */
    char *colon = strrchr(t, ':');
    if (colon && colon[1]) {
      char *p = colon + 1;
      while (isdigit((unsigned char)*p)) p++;
      if (!*p) {
        errno = 0;
        long long off = strtoll(colon + 1, NULL, 10);
        if (errno) return gk_fail(err, GK_EFORMAT, "offset '%.30s' out of range", colon + 1);
        e->offset = off;
        *colon = 0;
      }
    }
    e->target = t;
    e->src = GK_KALDI_SRC_FILE;
  }
  if (!*e->target) return gk_fail(err, GK_EFORMAT, "key '%.60s' without a file name or command", e->key);
  return GK_OK;
}

int gk_kaldi_key_ok(const char *key) {
  if (!key || !*key) return 0;
  for (const unsigned char *p = (const unsigned char *)key; *p; p++)
    if (*p <= ' ' || *p >= 127) return 0;
  return 1;
}
