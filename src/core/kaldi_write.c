/*
 * kaldi_write.c: Kaldi archive writers (gmmkit/kaldi.h): wspecifiers, binary values as
 * Kaldi's Matrix/Vector/CompressedMatrix::Write write them, text values as its text mode
 * writes them (" [\n  a b \n  c d ]\n", %.7g as Kaldi's streams print), and the script
 * file of "ark,scp:" whose offsets point just after "KEY ", at the value.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include "gmmkit/alloc.h"
#include "gmmkit/fileio.h"
#include "gmmkit/kaldi.h"
#include "kaldi_internal.h"

struct gk_kaldi_writer {
  gk_kaldi_compress compress;
  int text;               /* ark,t */
  int to_stdout;          /* ark:- */
  int with_scp;           /* ark,scp */
  gk_atomic_file ark, scp;
  FILE *out;              /* the archive stream */
  char *ark_name;         /* the archive's final name, as the script file cites it */
  int failed;             /* a write failed: close aborts */
};

static const char *const wopts[] = {"b", "t", "f", "nf", "p", NULL};

static gk_status bad_wspec(const char *spec, const char *why, gk_error *err) {
  return gk_fail(err, GK_EINVAL,
                 "bad wspecifier '%.200s': %s (expected ark:FILE, ark,t:FILE, ark,scp:FILE.ark,FILE.scp "
                 "or ark:-, with options b, t, f, nf, p)",
                 spec, why);
}

/* Parses the part before the colon; *ark_path and *scp_path point into `copy`. */
static gk_status parse_wspec(const char *spec, char *copy, gk_kaldi_writer *w, char **ark_path,
                             char **scp_path, gk_error *err) {
  char *colon = strchr(copy, ':');
  if (!colon) return bad_wspec(spec, "no ':'", err);
  *colon = 0;
  int ark = 0;
  for (char *word = copy;;) {
    char *comma = strchr(word, ',');
    if (comma) *comma = 0;
    if (!strcmp(word, "ark")) ark++;
    else if (!strcmp(word, "scp")) w->with_scp++;
    else if (!strcmp(word, "t")) w->text = 1;
    else {
      int known = 0;
      for (size_t i = 0; wopts[i]; i++) known |= !strcmp(word, wopts[i]);
      if (!known) {
        char why[80];
        snprintf(why, sizeof why, "unknown option '%.30s'", word);
        return bad_wspec(spec, why, err);
      }
    }
    if (!comma) break;
    word = comma + 1;
  }
  if (ark != 1 || w->with_scp > 1)
    return bad_wspec(spec, ark ? "ark given twice" : w->with_scp ? "a script file needs ark,scp: (an archive beside it)" : "no ark", err);
  char *rest = colon + 1;
  if (w->with_scp) {
    char *comma = strchr(rest, ',');
    if (!comma || strchr(comma + 1, ','))
      return bad_wspec(spec, "ark,scp: needs two file names, ARCHIVE,SCRIPT", err);
    *comma = 0;
    *scp_path = comma + 1;
  }
  *ark_path = rest;
  if (!*rest || (w->with_scp && !**scp_path)) return bad_wspec(spec, "an empty file name", err);
  if (rest[0] == '|' || rest[strlen(rest) - 1] == '|' || (w->with_scp && (**scp_path == '|')))
    return bad_wspec(spec, "writing to a command is not supported; write to a file", err);
  if (w->with_scp && (!strcmp(rest, "-") || !strcmp(*scp_path, "-")))
    return bad_wspec(spec, "ark,scp: needs files (offsets into standard output mean nothing)", err);
  return GK_OK;
}

gk_status gk_kaldi_writer_open(gk_kaldi_writer **out, const char *wspecifier,
                               gk_kaldi_compress compress, gk_error *err) {
  *out = NULL;
  if (!wspecifier) return gk_fail(err, GK_EINVAL, "no wspecifier");
  if ((int)compress < GK_KALDI_PLAIN || compress > GK_KALDI_CM3)
    return gk_fail(err, GK_EINVAL, "unknown compression kind %d", (int)compress);
  size_t n = strlen(wspecifier) + 1;
  char *copy = malloc(n);
  gk_kaldi_writer *w = calloc(1, sizeof *w);
  if (!copy || !w) {
    free(copy);
    free(w);
    return gk_fail_nomem(err);
  }
  memcpy(copy, wspecifier, n);
  w->compress = compress;
  char *ark_path = NULL, *scp_path = NULL;
  gk_status st = parse_wspec(wspecifier, copy, w, &ark_path, &scp_path, err);
  if (st == GK_OK && !strcmp(ark_path, "-")) {
    w->to_stdout = 1;
    w->out = stdout;
  } else if (st == GK_OK) {
    w->ark_name = malloc(strlen(ark_path) + 1);
    if (!w->ark_name) st = gk_fail_nomem(err);
    else strcpy(w->ark_name, ark_path);
    if (st == GK_OK) st = gk_atomic_open(&w->ark, ark_path, err);
    if (st == GK_OK) w->out = w->ark.fp;
    if (st == GK_OK && w->with_scp) {
      st = gk_atomic_open(&w->scp, scp_path, err);
      if (st != GK_OK) gk_atomic_abort(&w->ark);
    }
  }
  free(copy);
  if (st != GK_OK) {
    free(w->ark_name);
    free(w);
    return st;
  }
  *out = w;
  return GK_OK;
}

void gk_kaldi_writer_abort(gk_kaldi_writer *w) {
  if (!w) return;
  if (!w->to_stdout) {
    gk_atomic_abort(&w->ark);
    if (w->with_scp) gk_atomic_abort(&w->scp);
  }
  free(w->ark_name);
  free(w);
}

gk_status gk_kaldi_writer_close(gk_kaldi_writer *w, gk_error *err) {
  if (!w) return GK_OK;
  gk_status st = GK_OK;
  if (w->failed) {
    st = gk_fail(err, GK_EIO, "%s: an earlier write failed; nothing was written",
                 w->ark_name ? w->ark_name : "standard output");
  } else if (w->to_stdout) {
    if (fflush(stdout) != 0 || ferror(stdout))
      st = gk_fail(err, GK_EIO, "standard output: write error: %s", strerror(errno));
  } else {
    st = gk_atomic_commit(&w->ark, err);
    if (st == GK_OK && w->with_scp) st = gk_atomic_commit(&w->scp, err);
  }
  gk_kaldi_writer_abort(w);
  return st;
}

/* ---- values ----------------------------------------------------------------------------- */

void gk_kaldi_write_token(FILE *f, const char *tok) {
  fputs(tok, f);
  putc(' ', f);
}

void gk_kaldi_write_int32(FILE *f, int32_t v) {
  putc(4, f);
  fwrite(&v, 4, 1, f);
}

static void put_i32(FILE *f, size_t v) { gk_kaldi_write_int32(f, (int32_t)v); }

static void write_text(FILE *f, const gk_matrix *m, int vector) {
  if (m->rows == 0 || m->cols == 0) {
    fputs(" [ ]\n", f);
    return;
  }
  fputs(vector ? " [ " : " [", f);
  for (size_t i = 0; i < m->rows; i++) {
    if (!vector) fputs("\n  ", f);
    for (size_t j = 0; j < m->cols; j++) fprintf(f, "%.7g ", gk_matrix_get(m, i, j));
  }
  fputs("]\n", f);
}

static gk_status write_binary(gk_kaldi_writer *w, const gk_matrix *m, int vector) {
  FILE *f = w->out;
  fwrite("\0B", 1, 2, f);
  int dbl = m->dtype == GK_FLOAT64;
  if (vector) {
    fputs(dbl ? "DV " : "FV ", f);
    put_i32(f, m->rows * m->cols);
  } else {
    fputs(dbl ? "DM " : "FM ", f);
    put_i32(f, m->rows);
    put_i32(f, m->cols);
  }
  size_t n = gk_matrix_size(m);
  if (n) fwrite(m->data, gk_dtype_size(m->dtype), n, f);
  return GK_OK;
}

static int cm_format(gk_kaldi_compress c, size_t rows) {
  if (c == GK_KALDI_CM_AUTO) return rows > 8 ? GK_CM1 : GK_CM2;
  return c == GK_KALDI_CM ? GK_CM1 : c == GK_KALDI_CM2 ? GK_CM2 : GK_CM3;
}

static gk_status write_compressed(gk_kaldi_writer *w, const gk_matrix *m, gk_error *err) {
  FILE *f = w->out;
  if (m->rows == 0 || m->cols == 0) {
    static const unsigned char empty[16] = {0};
    if (w->text) fputs(" [ ]\n", f);
    else {
      fwrite("\0BCM ", 1, 5, f);
      fwrite(empty, 1, 16, f);
    }
    return GK_OK;
  }
  int format = cm_format(w->compress, m->rows);
  uint8_t *blob;
  size_t n;
  gk_status st = gk_kaldi_cm_encode(m, format, &blob, &n, err);
  if (st != GK_OK) return st;
  if (w->text) {
    /* Kaldi's text mode writes what the compressed matrix decodes to. */
    gk_kaldi_cm_header h = {format, 0, 0, (int32_t)m->rows, (int32_t)m->cols};
    memcpy(&h.min_value, blob, 4);
    memcpy(&h.range, blob + 4, 4);
    gk_matrix d;
    st = gk_matrix_alloc(&d, m->rows, m->cols, GK_FLOAT32, NULL, err);
    if (st == GK_OK) {
      gk_kaldi_cm_decode(&h, blob + 16, 0, m->rows, 0, m->cols, d.data);
      write_text(f, &d, 0);
      gk_matrix_release(&d, NULL);
    }
  } else {
    fwrite("\0B", 1, 2, f);
    fputs(format == GK_CM1 ? "CM " : format == GK_CM2 ? "CM2 " : "CM3 ", f);
    fwrite(blob, 1, n, f);
  }
  free(blob);
  return st;
}

static gk_status write_entry(gk_kaldi_writer *w, const char *key, const gk_matrix *m, int vector,
                             gk_error *err) {
  if (!gk_kaldi_key_ok(key))
    return gk_fail(err, GK_EINVAL,
                   "bad key '%.60s': Kaldi keys are non-empty printable ASCII without white space",
                   key ? key : "(null)");
  if (!m || (m->dtype != GK_FLOAT32 && m->dtype != GK_FLOAT64) || (gk_matrix_size(m) && !m->data))
    return gk_fail(err, GK_EINVAL, "key '%.60s': not a float32 or float64 matrix", key);
  if (vector && m->rows != 1 && m->cols != 1 && gk_matrix_size(m))
    return gk_fail(err, GK_EINVAL, "key '%.60s': a %zu x %zu matrix is not a vector (1 x n or n x 1)", key,
                   m->rows, m->cols);
  if (m->rows > INT32_MAX || m->cols > INT32_MAX || (vector && gk_matrix_size(m) > INT32_MAX))
    return gk_fail(err, GK_ELIMIT, "key '%.60s': a %zu x %zu matrix is beyond Kaldi's 32-bit sizes", key,
                   m->rows, m->cols);
  size_t bi, bj;
  if (w->compress != GK_KALDI_PLAIN && !vector && gk_matrix_find_nonfinite(m, &bi, &bj))
    return gk_fail(err, GK_ENUMERIC, "key '%.60s': cannot compress NaN or Inf (row %zu, column %zu)", key,
                   bi + 1, bj + 1);
  if (w->failed) return gk_fail(err, GK_EIO, "an earlier write to this archive failed");
  FILE *f = w->out;
  fputs(key, f);
  putc(' ', f);
  off_t at = w->with_scp ? ftello(f) : 0;
  gk_status st;
  if (w->compress != GK_KALDI_PLAIN && !vector) st = write_compressed(w, m, err);
  else if (w->text) {
    write_text(f, m, vector);
    st = GK_OK;
  } else {
    st = write_binary(w, m, vector);
  }
  if (st == GK_OK && ferror(f))
    st = gk_fail(err, GK_EIO, "%s: write error: %s", w->ark_name ? w->ark_name : "standard output",
                 strerror(errno));
  if (st == GK_OK && w->with_scp) {
    fprintf(w->scp.fp, "%s %s:%lld\n", key, w->ark_name, (long long)at);
    if (ferror(w->scp.fp)) st = gk_fail(err, GK_EIO, "%s: write error: %s", w->scp.path, strerror(errno));
  }
  /* Part of an entry may be in the archive: only an abort is safe from here. */
  if (st != GK_OK) w->failed = 1;
  return st;
}

gk_status gk_kaldi_writer_write(gk_kaldi_writer *w, const char *key, const gk_matrix *m, gk_error *err) {
  return write_entry(w, key, m, 0, err);
}

gk_status gk_kaldi_writer_write_vector(gk_kaldi_writer *w, const char *key, const gk_matrix *v,
                                       gk_error *err) {
  return write_entry(w, key, v, 1, err);
}
