/*
 * kaldi.c: sequential readers of Kaldi tables (gmmkit/kaldi.h): rspecifiers, script-file
 * lines and ranges, archive keys, and binary and text matrix values
 * (util/kaldi-table.h, util/kaldi-holder.cc, matrix/kaldi-matrix.cc).
 *
 * A reader holds one open stream (archive, script-file target, command or standard input)
 * whose byte position it counts itself, so that an error names the offset also in a pipe.
 * Reading is split into a header step (key, token, shape; a text value is parsed whole)
 * and a data step that reads straight into the caller's matrix.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include "gmmkit/alloc.h"
#include "gmmkit/fileio.h"
#include "gmmkit/kaldi.h"
#include "gmmkit/limits.h"
#include "kaldi_internal.h"

/* ---- streams ----------------------------------------------------------------------------- */

typedef gk_kaldi_stream kstream;

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

static gk_status ks_open(kstream *s, gk_kaldi_src src, const char *target, gk_error *err) {
  s->name = dup_str(target);
  if (!s->name) return gk_fail_nomem(err);
  s->src = src;
  s->pos = 0;
  s->size = -1;
  if (src == GK_KALDI_SRC_FILE) {
    s->fp = gk_open_regular(target, &s->size, err);
  } else if (src == GK_KALDI_SRC_PIPE) {
    fflush(NULL);  /* what we buffered must not be written twice by the child */
    s->fp = popen(target, "r");
    if (!s->fp) gk_fail(err, GK_EIO, "cannot start command '%s': %s", target, strerror(errno));
  } else {
    s->fp = stdin;
  }
  if (!s->fp) {
    free(s->name);
    s->name = NULL;
    return err ? err->status : GK_EIO;
  }
  return GK_OK;
}

/* Closes `s`; a command that failed (other than by the SIGPIPE of a reader that stopped
 * early) is an error when `check` is set. */
static gk_status ks_close(kstream *s, int check, gk_error *err) {
  gk_status st = GK_OK;
  if (s->fp && s->src == GK_KALDI_SRC_FILE) fclose(s->fp);
  if (s->fp && s->src == GK_KALDI_SRC_PIPE) {
    int ws = pclose(s->fp);
    /* 128 + SIGPIPE: the shell's report of a command that lost its reader. */
    int bad = ws == -1 || (WIFEXITED(ws) && WEXITSTATUS(ws) != 0 && WEXITSTATUS(ws) != 128 + SIGPIPE) ||
              (WIFSIGNALED(ws) && WTERMSIG(ws) != SIGPIPE);
    if (check && bad)
      st = gk_fail(err, GK_EIO, "command '%s' failed (%s %d)", s->name,
                   ws != -1 && WIFSIGNALED(ws) ? "signal" : "exit status",
                   ws == -1 ? -1 : WIFSIGNALED(ws) ? WTERMSIG(ws) : WEXITSTATUS(ws));
  }
  s->fp = NULL;
  free(s->name);
  s->name = NULL;
  return st;
}

static int ks_getc(kstream *s) {
  int c = getc(s->fp);
  if (c != EOF) s->pos++;
  return c;
}

static void ks_ungetc(kstream *s, int c) {
  if (c != EOF && ungetc(c, s->fp) != EOF) s->pos--;
}

size_t gk_kaldi_stream_read(gk_kaldi_stream *s, void *buf, size_t n) {
  size_t got = n ? fread(buf, 1, n, s->fp) : 0;
  s->pos += (long long)got;
  return got;
}

#define ks_read gk_kaldi_stream_read

gk_status gk_kaldi_read_token(gk_kaldi_stream *s, char *tok, size_t n, gk_error *err) {
  size_t k = 0;
  for (;;) {
    int c = ks_getc(s);
    if (c == ' ') break;
    if (c == EOF) return gk_fail(err, GK_EFORMAT, "truncated (in a token)");
    if (k + 1 >= n || !isgraph(c)) {
      tok[k] = 0;
      return gk_fail(err, GK_EFORMAT, "not a token of at most %zu printable bytes", n - 1);
    }
    tok[k++] = (char)c;
  }
  tok[k] = 0;
  return GK_OK;
}

gk_status gk_kaldi_read_int32(gk_kaldi_stream *s, const char *what, int32_t *v, gk_error *err) {
  unsigned char b[5];
  if (ks_read(s, b, 5) != 5) return gk_fail(err, GK_EFORMAT, "truncated (expected the %s)", what);
  if (b[0] != 4)
    return gk_fail(err, GK_EFORMAT, "expected a 4-byte integer (the %s), found size byte %u", what, b[0]);
  memcpy(v, b + 1, 4);
  if (*v < 0) return gk_fail(err, GK_EFORMAT, "negative %s %d", what, (int)*v);
  return GK_OK;
}

/* ---- the reader ---------------------------------------------------------------------------- */

enum { V_FM, V_DM, V_FV, V_DV, V_CM, V_TEXT };

struct gk_kaldi_reader {
  int scp;                 /* a script file lists the values */
  kstream list;            /* the script file (scp) */
  long long line_no;       /* its current line */
  char *line;              /* its current line (getline buffer) */
  size_t line_cap;
  kstream cur;             /* the archive, or the current script-file target */
  char *key;               /* current key (owned) */
  int pending;             /* a header was read whose data was not */
  int done;
  gk_error failure;        /* a failure repeats on every later call */
  /* the current value */
  int type;
  long long vstart, dstart;  /* offsets of the value and of its data */
  size_t srows, scols;     /* stored shape */
  size_t r0, c0, rows, cols; /* the part delivered (ranges applied) */
  int has_range;
  gk_kaldi_range range;
  gk_kaldi_cm_header cm;
  size_t data_bytes;       /* bytes of data after the header (binary) */
  double *text;            /* a text value's numbers */
  size_t text_cap;
  uint8_t *buf;            /* compressed payloads, rows of a column range */
  size_t buf_cap;
};

/* Records a failure naming file, key and offset, and makes it sticky. */
static gk_status rfail(gk_kaldi_reader *r, long long at, gk_status st, gk_error *err,
                       const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
static gk_status rfail(gk_kaldi_reader *r, long long at, gk_status st, gk_error *err,
                       const char *fmt, ...) {
  char msg[GK_ERROR_MAX], where[GK_ERROR_MAX], key[80] = "";
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (r->key && r->key[0]) {
    size_t n = strlen(r->key);
    snprintf(key, sizeof key, "key '%.*s%s' ", 60, r->key, n > 60 ? "..." : "");
  }
  const char *name = r->cur.name ? r->cur.name : r->list.name ? r->list.name : "?";
  if (r->scp && r->cur.name)
    snprintf(where, sizeof where, "%s: %sat byte %lld (%s line %lld)", name, key, at, r->list.name,
             r->line_no);
  else
    snprintf(where, sizeof where, "%s: %sat byte %lld", name, key, at);
  gk_fail(&r->failure, st, "%s: %s", where, msg);
  if (err) *err = r->failure;
  return st;
}

static gk_status sticky(gk_kaldi_reader *r, gk_status st, gk_error *err) {
  if (st != GK_OK && r->failure.status == GK_OK && err) r->failure = *err;
  if (st != GK_OK && r->failure.status == GK_OK) r->failure.status = st;
  return st;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 1;
  size_t c = *cap ? *cap : 1024;
  while (c < need) c *= 2;
  void *q = realloc(*p, c * elem);
  if (!q) return 0;
  *p = q;
  *cap = c;
  return 1;
}

/* ---- specifiers ------------------------------------------------------------------------------ */

static const char *const ropts[] = {"o", "no", "s", "ns", "cs", "ncs", "p", "np", "b", "t", "bg", NULL};

static int in_list(const char *w, size_t n, const char *const list[]) {
  for (size_t i = 0; list[i]; i++)
    if (strlen(list[i]) == n && memcmp(list[i], w, n) == 0) return 1;
  return 0;
}

/* The target after the colon: "-" (or nothing) is standard input, "... |" a command. */
static gk_kaldi_src classify(char *t, char **target) {
  size_t n = strlen(t);
  while (n && isspace((unsigned char)t[n - 1])) t[--n] = 0;
  if (n && t[n - 1] == '|') {
    t[--n] = 0;
    while (n && isspace((unsigned char)t[n - 1])) t[--n] = 0;
    while (isspace((unsigned char)*t)) t++;
    *target = t;
    return GK_KALDI_SRC_PIPE;
  }
  *target = t;
  return strcmp(t, "-") == 0 ? GK_KALDI_SRC_STDIN : GK_KALDI_SRC_FILE;
}

static gk_status bad_rspec(const char *spec, const char *why, gk_error *err) {
  return gk_fail(err, GK_EINVAL,
                 "bad rspecifier '%.200s': %s (expected ark:FILE, scp:FILE, ark,t:FILE, ark:- or "
                 "'ark:COMMAND |', with options o, s, cs, p, b, t beside ark or scp)",
                 spec, why);
}

static gk_status parse_rspec(const char *spec, char *copy, int *scp, gk_kaldi_src *src,
                             char **target, gk_error *err) {
  char *colon = strchr(copy, ':');
  if (!colon) return bad_rspec(spec, "no ':'", err);
  *colon = 0;
  int types = 0;
  for (char *w = copy; *w || w == copy;) {
    char *comma = strchr(w, ',');
    size_t n = comma ? (size_t)(comma - w) : strlen(w);
    if (n == 3 && (memcmp(w, "ark", 3) == 0 || memcmp(w, "scp", 3) == 0)) {
      types++;
      *scp = w[0] == 's';
    } else if (!in_list(w, n, ropts)) {
      char word[40];
      snprintf(word, sizeof word, "%.*s", (int)(n < 30 ? n : 30), w);
      char why[80];
      snprintf(why, sizeof why, "unknown option '%s'", word);
      return bad_rspec(spec, why, err);
    }
    if (!comma) break;
    w = comma + 1;
  }
  if (types != 1) return bad_rspec(spec, types ? "both ark and scp" : "neither ark nor scp", err);
  *src = classify(colon + 1, target);
  if (**target == 0)
    return bad_rspec(spec, *src == GK_KALDI_SRC_PIPE ? "an empty command" : "no file name", err);
  return GK_OK;
}

gk_status gk_kaldi_reader_open(gk_kaldi_reader **out, const char *rspecifier, gk_error *err) {
  *out = NULL;
  if (!rspecifier) return gk_fail(err, GK_EINVAL, "no rspecifier");
  char *copy = dup_str(rspecifier);
  if (!copy) return gk_fail_nomem(err);
  int scp = 0;
  gk_kaldi_src src = GK_KALDI_SRC_FILE;
  char *target = NULL;
  gk_status st = parse_rspec(rspecifier, copy, &scp, &src, &target, err);
  gk_kaldi_reader *r = st == GK_OK ? calloc(1, sizeof *r) : NULL;
  if (st == GK_OK && !r) st = gk_fail_nomem(err);
  if (st == GK_OK) {
    r->scp = scp;
    st = ks_open(scp ? &r->list : &r->cur, src, target, err);
  }
  free(copy);
  if (st != GK_OK) {
    free(r);
    return st;
  }
  *out = r;
  return GK_OK;
}

void gk_kaldi_reader_close(gk_kaldi_reader *r) {
  if (!r) return;
  ks_close(&r->cur, 0, NULL);
  ks_close(&r->list, 0, NULL);
  free(r->line);
  free(r->key);
  free(r->text);
  free(r->buf);
  free(r);
}

/* ---- binary values ------------------------------------------------------------------------ */

static gk_status read_i32(gk_kaldi_reader *r, const char *what, int32_t *v, gk_error *err) {
  long long at = r->cur.pos;
  gk_error e;
  gk_status st = gk_kaldi_read_int32(&r->cur, what, v, &e);
  return st == GK_OK ? GK_OK : rfail(r, at, st, err, "%s", e.message);
}

/* Checks a shape and the bytes of its data before anything is allocated for it. */
static gk_status check_size(gk_kaldi_reader *r, size_t rows, size_t cols, size_t bytes, gk_error *err) {
  if ((unsigned long long)rows * cols > GK_MAX_ELEMENTS)
    return rfail(r, r->vstart, GK_ELIMIT, err, "a %zu x %zu matrix is beyond the limit of %llu elements",
                 rows, cols, (unsigned long long)GK_MAX_ELEMENTS);
  r->dstart = r->cur.pos;
  r->data_bytes = bytes;
  if (r->cur.size >= 0 && (unsigned long long)(r->cur.size - r->cur.pos) < bytes)
    return rfail(r, r->dstart, GK_EFORMAT, err,
                 "truncated (expected %zu bytes of matrix data, the file has %lld left)", bytes,
                 r->cur.size - r->cur.pos);
  return GK_OK;
}

static gk_status read_binary_header(gk_kaldi_reader *r, gk_error *err) {
  char tok[4];
  long long at = r->cur.pos;
  gk_error e;
  if (gk_kaldi_read_token(&r->cur, tok, sizeof tok, &e) != GK_OK)
    return rfail(r, at, GK_EFORMAT, err, "%s: not a matrix or vector (expected FM, DM, CM, CM2, CM3, FV or DV)",
                 e.message);
  int32_t a = 0, b = 0;
  gk_status st;
  if (!strcmp(tok, "FM") || !strcmp(tok, "DM") || !strcmp(tok, "FV") || !strcmp(tok, "DV")) {
    int vec = tok[1] == 'V';
    r->type = tok[0] == 'F' ? (vec ? V_FV : V_FM) : (vec ? V_DV : V_DM);
    if ((st = read_i32(r, vec ? "vector length" : "row count", vec ? &b : &a, err)) != GK_OK) return st;
    if (vec) a = 1;
    else if ((st = read_i32(r, "column count", &b, err)) != GK_OK) return st;
    r->srows = (size_t)a;
    r->scols = (size_t)b;
    size_t es = tok[0] == 'F' ? 4 : 8;
    return check_size(r, r->srows, r->scols, r->srows * r->scols * es, err);
  }
  if (strcmp(tok, "CM") && strcmp(tok, "CM2") && strcmp(tok, "CM3"))
    return rfail(r, at, GK_EFORMAT, err, "unknown token '%s' (expected FM, DM, CM, CM2, CM3, FV or DV)", tok);
  unsigned char h[16];
  long long hat = r->cur.pos;
  if (ks_read(&r->cur, h, 16) != 16)
    return rfail(r, hat, GK_EFORMAT, err, "truncated (expected the 16-byte compressed-matrix header)");
  r->type = V_CM;
  r->cm.format = tok[2] == 0 ? GK_CM1 : tok[2] == '2' ? GK_CM2 : GK_CM3;
  memcpy(&r->cm.min_value, h, 4);
  memcpy(&r->cm.range, h + 4, 4);
  memcpy(&r->cm.rows, h + 8, 4);
  memcpy(&r->cm.cols, h + 12, 4);
  if (r->cm.rows < 0 || r->cm.cols < 0)
    return rfail(r, hat, GK_EFORMAT, err, "negative shape %d x %d in a compressed matrix", (int)r->cm.rows,
                 (int)r->cm.cols);
  if (r->cm.cols == 0) r->cm.rows = 0;  /* Kaldi's empty matrix: nothing follows */
  r->srows = (size_t)r->cm.rows;
  r->scols = (size_t)r->cm.cols;
  if ((unsigned long long)r->srows * r->scols > GK_MAX_ELEMENTS) return check_size(r, r->srows, r->scols, 0, err);
  return check_size(r, r->srows, r->scols, gk_kaldi_cm_payload(&r->cm), err);
}

/* ---- text values --------------------------------------------------------------------------- */

static gk_status text_number(gk_kaldi_reader *r, int c, size_t *count, gk_error *err) {
  char tok[72];
  size_t n = 0;
  long long at = r->cur.pos - 1;
  while (c != EOF && !isspace(c) && c != ']') {
    if (n == sizeof tok - 1) return rfail(r, at, GK_EFORMAT, err, "a number longer than %zu characters", n);
    tok[n++] = (char)c;
    c = ks_getc(&r->cur);
  }
  ks_ungetc(&r->cur, c);
  tok[n] = 0;
  char *end;
  double v = strtod(tok, &end);
  if (*end || end == tok) return rfail(r, at, GK_EFORMAT, err, "'%s' is not a number", tok);
  if (*count >= GK_MAX_ELEMENTS)
    return rfail(r, at, GK_ELIMIT, err, "a text matrix beyond %llu elements", (unsigned long long)GK_MAX_ELEMENTS);
  if (!grow((void **)&r->text, &r->text_cap, *count + 1, sizeof *r->text)) return gk_fail_nomem(err);
  r->text[(*count)++] = v;
  return GK_OK;
}

/* A text matrix "[ a b \n c d ]": rows end at newlines; a vector "[ a b c ]" is one row. */
static gk_status read_text(gk_kaldi_reader *r, gk_error *err) {
  int c;
  do c = ks_getc(&r->cur); while (c != EOF && isspace(c));
  if (c != '[') {
    if (c == EOF) return rfail(r, r->vstart, GK_EFORMAT, err, "truncated (no value after the key)");
    return rfail(r, r->cur.pos - 1, GK_EFORMAT, err,
                 "expected '[' (a text matrix) or \\0B (a binary value), found byte 0x%02x", (unsigned)c);
  }
  size_t count = 0, rows = 0, cols = 0, in_row = 0;
  for (;;) {
    c = ks_getc(&r->cur);
    if (c == EOF) return rfail(r, r->vstart, GK_EFORMAT, err, "truncated (a text matrix without its ']')");
    if (c == '\n' || c == ']') {
      if (in_row) {
        if (rows && in_row != cols)
          return rfail(r, r->cur.pos - 1, GK_EFORMAT, err, "row %zu of a text matrix has %zu values, row 1 has %zu",
                       rows + 1, in_row, cols);
        cols = in_row;
        rows++;
        in_row = 0;
      }
      if (c == ']') break;
      continue;
    }
    if (isspace(c)) continue;
    gk_status st = text_number(r, c, &count, err);
    if (st != GK_OK) return st;
    in_row++;
  }
  r->type = V_TEXT;
  r->srows = rows;
  r->scols = cols;
  r->dstart = r->vstart;
  r->data_bytes = 0;
  return GK_OK;
}

static gk_status read_value_header(gk_kaldi_reader *r, gk_error *err) {
  r->vstart = r->cur.pos;
  int c = ks_getc(&r->cur);
  if (c == 0) {
    if (ks_getc(&r->cur) != 'B')
      return rfail(r, r->vstart, GK_EFORMAT, err, "a NUL byte not followed by 'B' (not a Kaldi value)");
    return read_binary_header(r, err);
  }
  ks_ungetc(&r->cur, c);
  return read_text(r, err);
}

/* ---- ranges ----------------------------------------------------------------------------------- */

static gk_status apply_range(gk_kaldi_reader *r, gk_error *err) {
  r->r0 = r->c0 = 0;
  r->rows = r->srows;
  r->cols = r->scols;
  if (!r->has_range) return GK_OK;
  const gk_kaldi_range *g = &r->range;
  if (r->srows == 0 || r->scols == 0)
    return rfail(r, r->vstart, GK_EFORMAT, err, "a range on an empty %zu x %zu matrix", r->srows, r->scols);
  long long nr = (long long)r->srows, nc = (long long)r->scols;
  long long a = g->rows_all ? 0 : g->r0, b = g->rows_all ? nr - 1 : g->r1;
  long long c = g->cols_all ? 0 : g->c0, d = g->cols_all ? nc - 1 : g->c1;
  /* Kaldi tolerates a row end up to 2 past the last row (segments rounded to frames). */
  if (b >= nr && b < nr + 3) b = nr - 1;
  if (a > b || b >= nr || d >= nc)
    return rfail(r, r->vstart, GK_EFORMAT, err, "range [%lld:%lld,%lld:%lld] outside the %zu x %zu matrix",
                 g->rows_all ? 0 : g->r0, g->rows_all ? nr - 1 : g->r1, c, d, r->srows, r->scols);
  r->r0 = (size_t)a;
  r->rows = (size_t)(b - a + 1);
  r->c0 = (size_t)c;
  r->cols = (size_t)(d - c + 1);
  return GK_OK;
}

/* ---- entries --------------------------------------------------------------------------------- */

static gk_status set_key(gk_kaldi_reader *r, const char *k, size_t n, gk_error *err) {
  char *p = realloc(r->key, n + 1);
  if (!p) return gk_fail_nomem(err);
  memcpy(p, k, n);
  p[n] = 0;
  r->key = p;
  return GK_OK;
}

/* An archive key: white space skipped, then non-space bytes, then one space or tab. */
static gk_status read_key(gk_kaldi_reader *r, int *eof, gk_error *err) {
  int c;
  do c = ks_getc(&r->cur); while (c != EOF && isspace(c));
  if (c == EOF) {
    if (ferror(r->cur.fp)) return rfail(r, r->cur.pos, GK_EIO, err, "read error: %s", strerror(errno));
    *eof = 1;
    return GK_OK;
  }
  long long at = r->cur.pos - 1;
  size_t n = 0;
  if (r->key) r->key[0] = 0;
  while (c != EOF && !isspace(c)) {
    if (c == 0) return rfail(r, at, GK_EFORMAT, err, "a NUL byte in a key (not a Kaldi archive?)");
    if (n == GK_KALDI_MAX_KEY) return rfail(r, at, GK_EFORMAT, err, "a key longer than %d bytes (not a Kaldi archive?)", GK_KALDI_MAX_KEY);
    if (!grow((void **)&r->buf, &r->buf_cap, n + 1, 1)) return gk_fail_nomem(err);
    r->buf[n++] = (uint8_t)c;
    c = ks_getc(&r->cur);
  }
  gk_status st = set_key(r, (const char *)r->buf, n, err);
  if (st != GK_OK) return st;
  if (c != ' ' && c != '\t')
    return rfail(r, at, GK_EFORMAT, err, c == EOF ? "truncated (a key without a value)" : "expected a space after the key");
  return GK_OK;
}

static gk_status open_target(gk_kaldi_reader *r, const gk_kaldi_scp_entry *e, gk_error *err) {
  int reuse = e->src == GK_KALDI_SRC_FILE && r->cur.fp && r->cur.src == GK_KALDI_SRC_FILE &&
              strcmp(r->cur.name, e->target) == 0;
  if (!reuse) {
    gk_status st = ks_close(&r->cur, 1, err);
    if (st == GK_OK) st = ks_open(&r->cur, e->src, e->target, err);
    if (st != GK_OK) {
      char where[GK_ERROR_MAX];
      snprintf(where, sizeof where, "%s line %lld (key '%.60s')", r->list.name, r->line_no, e->key);
      gk_error_prefix(err, where);
      return st;
    }
  }
  long long off = e->offset < 0 ? 0 : e->offset;
  if (e->offset >= 0 && e->src != GK_KALDI_SRC_FILE)
    return rfail(r, 0, GK_EFORMAT, err, "a byte offset applies only to a file");
  if (e->src == GK_KALDI_SRC_FILE) {
    if (off > r->cur.size)
      return rfail(r, off, GK_EFORMAT, err, "offset beyond the end of the file (%lld bytes)", r->cur.size);
    if (fseeko(r->cur.fp, (off_t)off, SEEK_SET) != 0)
      return rfail(r, off, GK_EIO, err, "cannot seek: %s", strerror(errno));
    r->cur.pos = off;
  }
  return GK_OK;
}

static gk_status next_scp(gk_kaldi_reader *r, int *eof, gk_error *err) {
  for (;;) {
    errno = 0;
    ssize_t n = getline(&r->line, &r->line_cap, r->list.fp);
    if (n < 0) {
      if (ferror(r->list.fp))
        return gk_fail(err, GK_EIO, "%s: read error: %s", r->list.name, strerror(errno));
      *eof = 1;
      return GK_OK;
    }
    r->line_no++;
    if (memchr(r->line, 0, (size_t)n))
      return gk_fail(err, GK_EFORMAT, "%s line %lld: a NUL byte (not a script file?)", r->list.name, r->line_no);
    gk_kaldi_scp_entry e;
    int blank;
    gk_status st = gk_kaldi_parse_scp_line(r->line, &e, &blank, err);
    if (st != GK_OK) {
      char where[256];
      snprintf(where, sizeof where, "%s line %lld", r->list.name, r->line_no);
      gk_error_prefix(err, where);
      return st;
    }
    if (blank) continue;
    if ((st = set_key(r, e.key, strlen(e.key), err)) != GK_OK) return st;
    r->has_range = e.has_range;
    r->range = e.range;
    return open_target(r, &e, err);
  }
}

gk_status gk_kaldi_reader_next_header(gk_kaldi_reader *r, const char **key, size_t *rows,
                                      size_t *cols, gk_dtype *dtype, int *done, gk_error *err) {
  *key = NULL;
  *rows = *cols = 0;
  *dtype = GK_FLOAT32;
  *done = 0;
  if (r->failure.status != GK_OK) {
    if (err) *err = r->failure;
    return r->failure.status;
  }
  if (r->done) {
    *done = 1;
    return GK_OK;
  }
  gk_status st = GK_OK;
  int eof = 0;
  if (!r->scp && r->pending && r->data_bytes) {
    /* The caller skipped the data of the last value. */
    long long at = r->cur.pos;
    if (r->cur.src == GK_KALDI_SRC_FILE) {
      if (fseeko(r->cur.fp, (off_t)r->data_bytes, SEEK_CUR) != 0)
        return rfail(r, at, GK_EIO, err, "cannot seek: %s", strerror(errno));
      r->cur.pos += (long long)r->data_bytes;
    } else {
      for (size_t left = r->data_bytes; left;) {
        char tmp[65536];
        size_t k = left < sizeof tmp ? left : sizeof tmp;
        if (ks_read(&r->cur, tmp, k) != k) return rfail(r, at, GK_EFORMAT, err, "truncated (in matrix data)");
        left -= k;
      }
    }
  }
  r->pending = 0;
  st = r->scp ? next_scp(r, &eof, err) : read_key(r, &eof, err);
  if (st == GK_OK && eof) {
    r->done = 1;
    st = ks_close(&r->cur, 1, err);
    if (st == GK_OK && r->scp) st = ks_close(&r->list, 1, err);
    if (st == GK_OK) *done = 1;
    return sticky(r, st, err);
  }
  if (st == GK_OK) st = read_value_header(r, err);
  if (st == GK_OK) st = apply_range(r, err);
  if (st != GK_OK) return sticky(r, st, err);
  r->pending = 1;
  *key = r->key;
  *rows = r->rows;
  *cols = r->cols;
  *dtype = r->type == V_DM || r->type == V_DV ? GK_FLOAT64 : GK_FLOAT32;
  return GK_OK;
}

static gk_status read_plain(gk_kaldi_reader *r, gk_matrix *dst, gk_error *err) {
  size_t es = gk_dtype_size(dst->dtype), row_bytes = r->scols * es;
  char *out = dst->data;
  if (r->rows == r->srows && r->cols == r->scols) {
    size_t want = r->data_bytes, got = ks_read(&r->cur, out, want);
    if (got != want)
      return rfail(r, r->dstart, GK_EFORMAT, err, "truncated (expected %zu bytes of matrix data, found %zu)",
                   want, got);
    return GK_OK;
  }
  /* A range: rows before it skipped, each row read whole and its columns kept. */
  if (r->cur.src == GK_KALDI_SRC_FILE) {
    if (fseeko(r->cur.fp, (off_t)(r->r0 * row_bytes), SEEK_CUR) != 0)
      return rfail(r, r->dstart, GK_EIO, err, "cannot seek: %s", strerror(errno));
    r->cur.pos += (long long)(r->r0 * row_bytes);
  } else {
    for (size_t i = 0; i < r->r0; i++) {
      if (!grow((void **)&r->buf, &r->buf_cap, row_bytes, 1)) return gk_fail_nomem(err);
      if (ks_read(&r->cur, r->buf, row_bytes) != row_bytes)
        return rfail(r, r->dstart, GK_EFORMAT, err, "truncated (in matrix data)");
    }
  }
  if (!grow((void **)&r->buf, &r->buf_cap, row_bytes, 1)) return gk_fail_nomem(err);
  for (size_t i = 0; i < r->rows; i++) {
    if (ks_read(&r->cur, r->buf, row_bytes) != row_bytes)
      return rfail(r, r->dstart, GK_EFORMAT, err, "truncated (expected %zu bytes of matrix data)", r->data_bytes);
    memcpy(out + i * r->cols * es, r->buf + r->c0 * es, r->cols * es);
  }
  return GK_OK;
}

gk_status gk_kaldi_reader_read_data(gk_kaldi_reader *r, gk_matrix *dst, gk_error *err) {
  if (r->failure.status != GK_OK) {
    if (err) *err = r->failure;
    return r->failure.status;
  }
  gk_dtype t = r->type == V_DM || r->type == V_DV ? GK_FLOAT64 : GK_FLOAT32;
  if (!r->pending || dst->rows != r->rows || dst->cols != r->cols || dst->dtype != t)
    return gk_fail(err, GK_EINVAL, "gk_kaldi_reader_read_data: no pending value of this shape and type");
  r->pending = 0;
  gk_status st = GK_OK;
  if (r->type == V_TEXT) {
    float *out = dst->data;
    for (size_t i = 0; i < r->rows; i++)
      for (size_t j = 0; j < r->cols; j++) out[i * r->cols + j] = (float)r->text[(r->r0 + i) * r->scols + r->c0 + j];
  } else if (r->type == V_CM) {
    if (!grow((void **)&r->buf, &r->buf_cap, r->data_bytes, 1)) return sticky(r, gk_fail_nomem(err), err);
    size_t got = ks_read(&r->cur, r->buf, r->data_bytes);
    if (got != r->data_bytes)
      st = rfail(r, r->dstart, GK_EFORMAT, err, "truncated (expected %zu bytes of compressed data, found %zu)",
                 r->data_bytes, got);
    else if (r->rows && r->cols)
      gk_kaldi_cm_decode(&r->cm, r->buf, r->r0, r->rows, r->c0, r->cols, dst->data);
  } else {
    st = read_plain(r, dst, err);
  }
  return sticky(r, st, err);
}

gk_status gk_kaldi_reader_next(gk_kaldi_reader *r, const char **key, gk_matrix *m,
                               const gk_allocator *a, int *done, gk_error *err) {
  size_t rows, cols;
  gk_dtype t;
  memset(m, 0, sizeof *m);
  gk_status st = gk_kaldi_reader_next_header(r, key, &rows, &cols, &t, done, err);
  if (st != GK_OK || *done) return st;
  st = gk_matrix_alloc(m, rows, cols, t, a, err);
  if (st == GK_OK) st = gk_kaldi_reader_read_data(r, m, err);
  if (st != GK_OK) {
    gk_matrix_release(m, a);
    memset(m, 0, sizeof *m);
    *key = NULL;
    return sticky(r, st, err);
  }
  return GK_OK;
}
