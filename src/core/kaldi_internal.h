/*
 * kaldi_internal.h: what kaldi.c, kaldi_write.c and kaldi_compress.c share, and what the
 * fuzz targets reach directly (script-file lines and ranges, the compressed codecs).
 * Not installed; not part of the public API (gmmkit/kaldi.h is).
 */
#ifndef GMMKIT_KALDI_INTERNAL_H
#define GMMKIT_KALDI_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "gmmkit/error.h"
#include "gmmkit/matrix.h"

#define GK_KALDI_MAX_KEY 65536  /* bytes of a key; longer ones are taken for garbage */

/* Where a value comes from. */
typedef enum { GK_KALDI_SRC_FILE, GK_KALDI_SRC_PIPE, GK_KALDI_SRC_STDIN } gk_kaldi_src;


/* ---- compressed matrices (matrix/compressed-matrix.cc) -------------------------------- */
enum { GK_CM1 = 1, GK_CM2 = 2, GK_CM3 = 3 };  /* kOneByteWithColHeaders, kTwoByte, kOneByte */

/* The 16 bytes after the token, as Kaldi writes them (its GlobalHeader less `format`). */
typedef struct gk_kaldi_cm_header {
  int format;       /* GK_CM1, GK_CM2 or GK_CM3 (from the token) */
  float min_value;  /* the global range the 16-bit values map onto */
  float range;
  int32_t rows, cols;
} gk_kaldi_cm_header;

/* Bytes of the payload after the 16-byte header (rows, cols >= 0; no overflow for
 * shapes within GK_MAX_ELEMENTS). */
size_t gk_kaldi_cm_payload(const gk_kaldi_cm_header *h);

/* Decodes rows [r0, r0 + nr) and columns [c0, c0 + nc) of the payload into `out`
 * (nr x nc float32, row-major), giving exactly the floats Kaldi's CopyToMat gives. */
void gk_kaldi_cm_decode(const gk_kaldi_cm_header *h, const uint8_t *payload, size_t r0,
                        size_t nr, size_t c0, size_t nc, float *out);

/* Encodes `m` (finite, rows and cols >= 1) in `format`: *blob (malloc'd, free()) holds the
 * 16-byte header and the payload, *n bytes, as CompressedMatrix::Write writes them after the
 * token. */
gk_status gk_kaldi_cm_encode(const gk_matrix *m, int format, uint8_t **blob, size_t *n,
                             gk_error *err);

/* ---- script files ------------------------------------------------------------------------ */
typedef struct gk_kaldi_range {
  int rows_all, cols_all;  /* ":" (or no column part): the whole dimension */
  long long r0, r1, c0, c1;  /* inclusive bounds when not *_all */
} gk_kaldi_range;

/* Parses the text between '[' and ']' (n bytes at s): "r0:r1", "r0:r1,c0:c1", ":",
 * ":,c0:c1", "r0:r1,:". GK_EINVAL naming the range otherwise. */
gk_status gk_kaldi_parse_range(const char *s, size_t n, gk_kaldi_range *r, gk_error *err);

typedef struct gk_kaldi_scp_entry {
  char *key;            /* into the line */
  char *target;         /* file name or command, into the line (NUL-terminated) */
  gk_kaldi_src src;     /* what target is */
  long long offset;     /* byte offset, -1 when none */
  int has_range;
  gk_kaldi_range range;
} gk_kaldi_scp_entry;

/* Splits one script-file line (NUL-terminated, without its newline; modified in place).
 * *blank = 1 for a line of white space only. GK_EFORMAT with a message (without the file
 * name and line number, which the caller adds). */
gk_status gk_kaldi_parse_scp_line(char *line, gk_kaldi_scp_entry *e, int *blank, gk_error *err);

/* ---- binary primitives (also the binary <DiagGMM>/<FullGMM> of gmm_io.c) ----------------- */

/* A stream read with its byte position counted (for messages, also through pipes). */
typedef struct gk_kaldi_stream {
  FILE *fp;          /* NULL when closed */
  gk_kaldi_src src;  /* file, command or standard input */
  char *name;        /* file name or command (owned by the reader; borrowed elsewhere) */
  long long pos;     /* bytes consumed, counted from the start of the file */
  long long size;    /* size of a regular file, -1 when unknown */
} gk_kaldi_stream;

size_t gk_kaldi_stream_read(gk_kaldi_stream *s, void *buf, size_t n);
/* A binary token as WriteToken writes it: printable bytes up to a space (consumed), at most
 * n - 1 of them. Messages say what is wrong, without the place (the caller adds it). */
gk_status gk_kaldi_read_token(gk_kaldi_stream *s, char *tok, size_t n, gk_error *err);
/* WriteBasicType's binary int32: a size byte 4, then 4 little-endian bytes; negative
 * values refused. `what` names it in messages ("row count"). */
gk_status gk_kaldi_read_int32(gk_kaldi_stream *s, const char *what, int32_t *v, gk_error *err);
/* The writing counterparts: "TOKEN " and the size byte with the int32. */
void gk_kaldi_write_token(FILE *f, const char *tok);
void gk_kaldi_write_int32(FILE *f, int32_t v);

/* Kaldi's IsToken for keys: non-empty, printable ASCII, no white space. */
int gk_kaldi_key_ok(const char *key);

#endif
