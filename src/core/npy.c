/*
 * npy.c: NumPy .npy files (gmmkit/npy.h), after NumPy's format specification
 * (numpy/lib/format.py): magic "\x93NUMPY", major and minor version bytes, a little-endian
 * header length (2 bytes in version 1, 4 in versions 2 and 3), then an ASCII Python dict
 * literal {'descr': '<f8', 'fortran_order': False, 'shape': (r, c), } padded with spaces
 * to a multiple of 64 bytes and ended by '\n', then the raw data.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "gmmkit/fileio.h"
#include "gmmkit/limits.h"
#include "gmmkit/npy.h"

static const unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

/* ---- a parser for the header's dict literal -------------------------------------- */

typedef struct parser {
  const char *p, *end;
} parser;

static void skip_ws(parser *ps) {
  while (ps->p < ps->end && isspace((unsigned char)*ps->p)) ps->p++;
}

static int accept(parser *ps, char c) {
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == c) {
    ps->p++;
    return 1;
  }
  return 0;
}

/* A quoted Python string without escapes (all the format uses): copied into out. */
static int parse_string(parser *ps, char *out, size_t cap) {
  char q;
  size_t n = 0;
  skip_ws(ps);
  if (ps->p >= ps->end || (*ps->p != '\'' && *ps->p != '"')) return 0;
  q = *ps->p++;
  while (ps->p < ps->end && *ps->p != q) {
    if (*ps->p == '\\' || n + 1 >= cap) return 0;
    out[n++] = *ps->p++;
  }
  if (ps->p >= ps->end) return 0;
  ps->p++;
  out[n] = '\0';
  return 1;
}

static int parse_word(parser *ps, const char *w) {
  size_t n = strlen(w);
  skip_ws(ps);
  if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, w, n) == 0) {
    ps->p += n;
    return 1;
  }
  return 0;
}

/* A tuple of non-negative integers: (), (n,), (r, c), ... up to 8 entries. */
static int parse_shape(parser *ps, uint64_t *dims, int *ndim) {
  *ndim = 0;
  if (!accept(ps, '(')) return 0;
  for (;;) {
    uint64_t v = 0;
    int digits = 0;
    if (accept(ps, ')')) return 1;
    skip_ws(ps);
    while (ps->p < ps->end && isdigit((unsigned char)*ps->p)) {
      if (v > (UINT64_MAX - 9) / 10) return 0;
      v = v * 10 + (uint64_t)(*ps->p++ - '0');
      digits++;
    }
    if (parse_word(ps, "L")) { /* Python 2 long suffix */ }
    if (!digits || *ndim >= 8) return 0;
    dims[(*ndim)++] = v;
    if (!accept(ps, ',')) return accept(ps, ')');
  }
}

static gk_status parse_dict(const char *text, size_t len, gk_npy_header *h, gk_error *err) {
  parser ps = {text, text + len};
  char key[32], descr[16] = "";
  int have_descr = 0, have_order = 0, have_shape = 0, fortran = 0, ndim = 0;
  uint64_t dims[8];
  if (!accept(&ps, '{')) return gk_fail(err, GK_EFORMAT, "header is not a Python dict");
  for (;;) {
    if (accept(&ps, '}')) break;
    if (!parse_string(&ps, key, sizeof key) || !accept(&ps, ':'))
      return gk_fail(err, GK_EFORMAT, "malformed header dict");
    if (strcmp(key, "descr") == 0) {
      if (!parse_string(&ps, descr, sizeof descr))
        return gk_fail(err, GK_EFORMAT, "unsupported 'descr' (only float32 and float64)");
      have_descr = 1;
    } else if (strcmp(key, "fortran_order") == 0) {
      if (parse_word(&ps, "True")) fortran = 1;
      else if (!parse_word(&ps, "False"))
        return gk_fail(err, GK_EFORMAT, "malformed 'fortran_order'");
      have_order = 1;
    } else if (strcmp(key, "shape") == 0) {
      if (!parse_shape(&ps, dims, &ndim)) return gk_fail(err, GK_EFORMAT, "malformed 'shape'");
      have_shape = 1;
    } else {
      return gk_fail(err, GK_EFORMAT, "unexpected header key '%s'", key);
    }
    if (!accept(&ps, ',')) {
      if (!accept(&ps, '}')) return gk_fail(err, GK_EFORMAT, "malformed header dict");
      break;
    }
  }
  if (!have_descr || !have_order || !have_shape)
    return gk_fail(err, GK_EFORMAT, "header lacks '%s'",
                   !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
  if (fortran) return gk_fail(err, GK_EFORMAT, "Fortran-order arrays are not supported (save in C order)");
  if ((descr[0] != '<' && descr[0] != '>' && descr[0] != '=') ||
      (strcmp(descr + 1, "f4") != 0 && strcmp(descr + 1, "f8") != 0))
    return gk_fail(err, GK_EFORMAT, "element type '%s' is not supported (only float32 '<f4' and float64 '<f8')", descr);
  h->dtype = strcmp(descr + 1, "f4") == 0 ? GK_FLOAT32 : GK_FLOAT64;
  h->big_endian = descr[0] == '>';
  if (ndim != 1 && ndim != 2)
    return gk_fail(err, GK_EFORMAT, "%d-dimensional arrays are not supported (only 1-D and 2-D)", ndim);
  h->ndim = ndim;
  if (dims[0] > GK_MAX_ELEMENTS || (ndim == 2 && dims[1] > GK_MAX_ELEMENTS))
    return gk_fail(err, GK_ELIMIT, "shape exceeds the limit of %llu elements",
                   (unsigned long long)GK_MAX_ELEMENTS);
  h->rows = (size_t)dims[0];
  h->cols = ndim == 2 ? (size_t)dims[1] : 1;
  return GK_OK;
}

gk_status gk_npy_read_header(FILE *f, gk_npy_header *h, gk_error *err) {
  unsigned char pre[8], lenb[4];
  size_t hlen, bytes;
  char *text;
  gk_status s;
  long pos;
  memset(h, 0, sizeof *h);
  if ((s = gk_read_exact(f, pre, 8, "the .npy preamble", err)) != GK_OK) return s;
  if (memcmp(pre, magic, 6) != 0) return gk_fail(err, GK_EFORMAT, "not a .npy file (bad magic)");
  if (pre[6] < 1 || pre[6] > 3)
    return gk_fail(err, GK_EFORMAT, "unsupported .npy format version %d.%d", pre[6], pre[7]);
  if (pre[6] == 1) {
    if ((s = gk_read_exact(f, lenb, 2, "the header length", err)) != GK_OK) return s;
    hlen = (size_t)lenb[0] | (size_t)lenb[1] << 8;
  } else {
    if ((s = gk_read_exact(f, lenb, 4, "the header length", err)) != GK_OK) return s;
    hlen = (size_t)lenb[0] | (size_t)lenb[1] << 8 | (size_t)lenb[2] << 16 | (size_t)lenb[3] << 24;
  }
  if (hlen == 0 || hlen > GK_MAX_NPY_HEADER)
    return gk_fail(err, GK_ELIMIT, "header length %zu is outside 1..%u bytes", hlen, GK_MAX_NPY_HEADER);
  text = malloc(hlen);
  if (!text) return gk_fail_nomem(err);
  s = gk_read_exact(f, text, hlen, "the header", err);
  if (s == GK_OK) s = parse_dict(text, hlen, h, err);
  free(text);
  if (s != GK_OK) return s;
  pos = ftell(f);
  h->data_offset = pos;
  if ((s = gk_matrix_bytes(h->rows, h->cols, h->dtype, &bytes, err)) != GK_OK) return s;
  /* A seekable file must hold the data its header promises: checked before the caller
   * allocates, so that a corrupted shape cannot ask for memory the file cannot fill. */
  if (pos >= 0 && fseek(f, 0, SEEK_END) == 0) {
    long end = ftell(f);
    if (end >= 0 && (size_t)(end - pos) < bytes) {
      fseek(f, pos, SEEK_SET);
      return gk_fail(err, GK_EFORMAT, "truncated: the header promises %zu x %zu %s (%zu bytes), the file holds %ld",
                     h->rows, h->cols, gk_dtype_name(h->dtype), bytes, end - pos);
    }
    fseek(f, pos, SEEK_SET);
  }
  return GK_OK;
}

static void swap_bytes(void *data, size_t n, size_t es) {
  unsigned char *p = data;
  size_t i, j;
  for (i = 0; i < n; i++, p += es)
    for (j = 0; j < es / 2; j++) {
      unsigned char t = p[j];
      p[j] = p[es - 1 - j];
      p[es - 1 - j] = t;
    }
}

static int host_is_big_endian(void) {
  const uint16_t one = 1;
  return *(const unsigned char *)&one == 0;
}

gk_status gk_npy_read_data(FILE *f, const gk_npy_header *h, gk_matrix *dst, gk_error *err) {
  size_t n = h->rows * h->cols, es = gk_dtype_size(h->dtype);
  gk_status s;
  if (dst->rows != h->rows || dst->cols != h->cols || dst->dtype != h->dtype)
    return gk_fail(err, GK_EINVAL, "destination is %zu x %zu %s, the file holds %zu x %zu %s",
                   dst->rows, dst->cols, gk_dtype_name(dst->dtype), h->rows, h->cols,
                   gk_dtype_name(h->dtype));
  if ((s = gk_read_exact(f, dst->data, n * es, "the array data", err)) != GK_OK) return s;
  if (h->big_endian != host_is_big_endian()) swap_bytes(dst->data, n, es);
  return GK_OK;
}

gk_status gk_npy_write(FILE *f, const gk_matrix *m, gk_error *err) {
  char dict[160];
  unsigned char pre[10];
  size_t dlen, total, n = gk_matrix_size(m), es = gk_dtype_size(m->dtype);
  int len = snprintf(dict, sizeof dict, "{'descr': '%c%s', 'fortran_order': False, 'shape': (%zu, %zu), }",
                     host_is_big_endian() ? '>' : '<', m->dtype == GK_FLOAT32 ? "f4" : "f8",
                     m->rows, m->cols);
  dlen = (size_t)len;
  /* Pad with spaces so that magic + header is a multiple of 64 bytes, ending in '\n'. */
  total = (10 + dlen + 1 + 63) / 64 * 64;
  memcpy(pre, magic, 6);
  pre[6] = 1;
  pre[7] = 0;
  pre[8] = (unsigned char)((total - 10) & 0xff);
  pre[9] = (unsigned char)((total - 10) >> 8);
  if (fwrite(pre, 1, 10, f) != 10 || fwrite(dict, 1, dlen, f) != dlen)
    return gk_fail(err, GK_EIO, "write error");
  for (; 10 + dlen + 1 < total; dlen++)
    if (fputc(' ', f) == EOF) return gk_fail(err, GK_EIO, "write error");
  if (fputc('\n', f) == EOF) return gk_fail(err, GK_EIO, "write error");
  if (n && fwrite(m->data, es, n, f) != n) return gk_fail(err, GK_EIO, "write error");
  return GK_OK;
}

gk_status gk_npy_save(const char *path, const gk_matrix *m, gk_error *err) {
  gk_atomic_file af;
  gk_status s = gk_atomic_open(&af, path, err);
  if (s != GK_OK) return s;
  s = gk_npy_write(af.fp, m, err);
  if (s != GK_OK) {
    gk_error_prefix(err, path);
    gk_atomic_abort(&af);
    return s;
  }
  return gk_atomic_commit(&af, err);
}
