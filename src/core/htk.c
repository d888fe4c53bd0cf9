/*
 * htk.c: HTK parameter files (see gmmkit/htk.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "gmmkit/htk.h"
#include "gmmkit/fileio.h"
#include "gmmkit/limits.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const base_names[] = {"WAVEFORM", "LPC", "LPREFC", "LPCEPSTRA", "LPDELCEP",
                                         "IREFC", "MFCC", "FBANK", "MELSPEC", "USER",
                                         "DISCRETE", "PLP"};
#define N_BASE (sizeof base_names / sizeof base_names[0])

static const struct { char c; uint16_t bit; } quals[] = {
    {'E', GK_HTK_E}, {'N', GK_HTK_N}, {'D', GK_HTK_D}, {'A', GK_HTK_A}, {'T', GK_HTK_T},
    {'C', GK_HTK_C}, {'Z', GK_HTK_Z}, {'K', GK_HTK_K}, {'0', GK_HTK_0}, {'V', GK_HTK_V}};
#define N_QUAL (sizeof quals / sizeof quals[0])

void gk_htk_kind_format(uint16_t kind, char *buf, size_t size) {
  unsigned base = kind & 077u;
  size_t k = (size_t)snprintf(buf, size, "%s", base < N_BASE ? base_names[base] : "ANON");
  for (size_t i = 0; i < N_QUAL && k + 3 <= size; i++)
    if (kind & quals[i].bit) {
      buf[k++] = '_';
      buf[k++] = quals[i].c;
      buf[k] = 0;
    }
}

gk_status gk_htk_kind_parse(const char *s, uint16_t *kind, gk_error *err) {
  size_t n = strcspn(s, "_");
  unsigned base = N_BASE;
  for (unsigned i = 0; i < N_BASE; i++)
    if (strlen(base_names[i]) == n && strncmp(s, base_names[i], n) == 0) base = i;
  if (base == N_BASE)
    return gk_fail(err, GK_EINVAL,
                   "HTK parameter kind '%s': unknown base kind (valid: WAVEFORM, LPC, LPREFC, "
                   "LPCEPSTRA, LPDELCEP, IREFC, MFCC, FBANK, MELSPEC, USER, DISCRETE, PLP)", s);
  uint16_t k = (uint16_t)base;
  const char *p = s + n;
  while (*p) {
    size_t i;
    if (p[0] != '_' || !p[1] || (p[2] && p[2] != '_'))
      return gk_fail(err, GK_EINVAL, "HTK parameter kind '%s': qualifiers are _E, _N, _D, _A, _T, _Z, _0, ...", s);
    for (i = 0; i < N_QUAL; i++)
      if (quals[i].c == p[1]) break;
    if (i == N_QUAL)
      return gk_fail(err, GK_EINVAL, "HTK parameter kind '%s': unknown qualifier _%c", s, p[1]);
    k |= quals[i].bit;
    p += 2;
  }
  *kind = k;
  return GK_OK;
}

static uint32_t be32(const unsigned char *b) {
  return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}
static uint16_t be16(const unsigned char *b) { return (uint16_t)(b[0] << 8 | b[1]); }
static void put32(unsigned char *b, uint32_t v) {
  b[0] = (unsigned char)(v >> 24); b[1] = (unsigned char)(v >> 16);
  b[2] = (unsigned char)(v >> 8); b[3] = (unsigned char)v;
}
static float f32_from_be(const unsigned char *b) {
  uint32_t u = be32(b);
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static gk_status parse_header(FILE *f, const char *path, long long file_size, gk_htk_header *h,
                              gk_error *err) {
  unsigned char b[12];
  if (file_size < 12)
    return gk_fail(err, GK_EFORMAT, "%s: not an HTK file: %lld bytes, shorter than the 12-byte header",
                   path, file_size);
  gk_status st = gk_read_exact(f, b, 12, "HTK header", err);
  if (st != GK_OK) { gk_error_prefix(err, path); return st; }
  uint32_t ns = be32(b), period = be32(b + 4);
  uint16_t size = be16(b + 8), kind = be16(b + 10);
  int compressed = (kind & GK_HTK_C) != 0;
  if ((int32_t)ns < 0 || ns > GK_MAX_HTK_FRAMES)
    return gk_fail(err, GK_ELIMIT, "%s: HTK header: %u frames exceeds the limit %u", path, ns,
                   (unsigned)GK_MAX_HTK_FRAMES);
  if ((kind & 077u) >= N_BASE)
    return gk_fail(err, GK_EFORMAT, "%s: HTK header: unknown parameter kind %u", path, kind & 077u);
  if (size == 0 || (int16_t)size < 0)
    return gk_fail(err, GK_EFORMAT, "%s: HTK header: frame size %d bytes", path, (int16_t)size);
  size_t esize = compressed ? 2 : 4;
  if (size % esize)
    return gk_fail(err, GK_EFORMAT, "%s: HTK header: frame size %u bytes is not a multiple of %zu",
                   path, size, esize);
  size_t dims = size / esize;
  if (dims > GK_MAX_DIM)
    return gk_fail(err, GK_ELIMIT, "%s: HTK header: %zu columns exceed the limit %u", path, dims,
                   (unsigned)GK_MAX_DIM);
  if (compressed) {
    if (ns < 4)
      return gk_fail(err, GK_EFORMAT, "%s: compressed HTK file with %u < 4 frames", path, ns);
    ns -= 4;  /* the scale and offset vectors take 4 frames' worth of bytes */
  }
  long long need = 12 + (long long)(compressed ? 8 * dims : 0) + (long long)ns * size;
  if (file_size < need)
    return gk_fail(err, GK_EFORMAT, "%s: truncated: the HTK header promises %lld bytes, the file has %lld",
                   path, need, file_size);
  h->frames = ns;
  h->period = period;
  h->frame_bytes = size;
  h->kind = kind;
  h->dims = dims;
  return GK_OK;
}


gk_status gk_htk_read_header(const char *path, gk_htk_header *h, gk_error *err) {
  long long size;
  FILE *f = gk_open_regular(path, &size, err);
  if (!f) return err ? err->status : GK_EIO;
  gk_status st = parse_header(f, path, size, h, err);
  fclose(f);
  return st;
}

gk_status gk_htk_read_data(const char *path, const gk_htk_header *h, gk_matrix *dst,
                           gk_error *err) {
  if (!dst || dst->dtype != GK_FLOAT32 || dst->rows != h->frames || dst->cols != h->dims)
    return gk_fail(err, GK_EINVAL, "%s: destination must be float32 %u x %zu", path, h->frames, h->dims);
  long long size;
  FILE *f = gk_open_regular(path, &size, err);
  if (!f) return err ? err->status : GK_EIO;
  gk_htk_header h2 = {0};
  gk_status st = parse_header(f, path, size, &h2, err);
  if (st == GK_OK && (h2.frames != h->frames || h2.dims != h->dims || h2.kind != h->kind))
    st = gk_fail(err, GK_EFORMAT, "%s: the file changed between reading its header and its data", path);
  size_t D = h->dims;
  float *out = dst->data;
  unsigned char *row = NULL;
  float *scale = NULL;
  if (st == GK_OK) {
    row = malloc(h->frame_bytes);
    scale = (h->kind & GK_HTK_C) ? malloc(2 * D * sizeof(float)) : NULL;
    if (!row || ((h->kind & GK_HTK_C) && !scale)) st = gk_fail_nomem(err);
  }
  if (st == GK_OK && (h->kind & GK_HTK_C)) {
    unsigned char *ab = malloc(8 * D);
    if (!ab) st = gk_fail_nomem(err);
    else {
      st = gk_read_exact(f, ab, 8 * D, "HTK compression vectors", err);
      for (size_t d = 0; st == GK_OK && d < 2 * D; d++) scale[d] = f32_from_be(ab + 4 * d);
      for (size_t d = 0; st == GK_OK && d < D; d++)
        if (scale[d] == 0.0f)
          st = gk_fail(err, GK_EFORMAT, "%s: compressed HTK file with a zero scale in column %zu", path, d + 1);
      free(ab);
    }
  }
  for (size_t t = 0; st == GK_OK && t < h->frames; t++) {
    st = gk_read_exact(f, row, h->frame_bytes, "HTK frame", err);
    if (st != GK_OK) break;
    float *o = out + t * D;
    if (h->kind & GK_HTK_C) {
      /* HTK book 5.10.1: x = (short + B) / A. */
      for (size_t d = 0; d < D; d++) o[d] = ((float)(int16_t)be16(row + 2 * d) + scale[D + d]) / scale[d];
    } else {
      for (size_t d = 0; d < D; d++) o[d] = f32_from_be(row + 4 * d);
    }
  }
  if (st != GK_OK && err && err->status == GK_EFORMAT && strncmp(err->message, path, strlen(path)) != 0)
    gk_error_prefix(err, path);
  free(row);
  free(scale);
  fclose(f);
  return st;
}

gk_status gk_htk_write(const char *path, const gk_matrix *m, uint16_t kind, uint32_t period,
                       gk_error *err) {
  if (m->cols == 0 || m->cols > GK_MAX_DIM || m->cols * 4 > 32767)
    return gk_fail(err, GK_EINVAL, "%s: gmmkit writes HTK files of 1 to %u columns, got %zu", path,
                   GK_MAX_DIM < 32767 / 4 ? GK_MAX_DIM : 32767 / 4, m->cols);
  if (m->rows > GK_MAX_HTK_FRAMES)
    return gk_fail(err, GK_ELIMIT, "%s: %zu frames exceed the HTK limit %u", path, m->rows,
                   (unsigned)GK_MAX_HTK_FRAMES);
  if ((kind & 077u) >= N_BASE)
    return gk_fail(err, GK_EINVAL, "%s: unknown HTK parameter kind %u", path, kind & 077u);
  if (kind & (GK_HTK_C | GK_HTK_K))
    return gk_fail(err, GK_EINVAL, "%s: writing compressed (_C) or checksummed (_K) HTK files is not supported", path);
  if (period == 0 || period > 0x7fffffffu)
    return gk_fail(err, GK_EINVAL, "%s: HTK sample period must be positive", path);
  gk_atomic_file af;
  gk_status st = gk_atomic_open(&af, path, err);
  if (st != GK_OK) return st;
  unsigned char hdr[12];
  put32(hdr, (uint32_t)m->rows);
  put32(hdr + 4, period);
  uint16_t size = (uint16_t)(m->cols * 4);
  hdr[8] = (unsigned char)(size >> 8); hdr[9] = (unsigned char)size;
  hdr[10] = (unsigned char)(kind >> 8); hdr[11] = (unsigned char)kind;
  int ok = fwrite(hdr, 1, 12, af.fp) == 12;
  unsigned char *row = malloc(m->cols * 4);
  if (!row) { gk_atomic_abort(&af); return gk_fail_nomem(err); }
  for (size_t t = 0; ok && t < m->rows; t++) {
    for (size_t d = 0; d < m->cols; d++) {
      float v = (float)gk_matrix_get(m, t, d);
      uint32_t u;
      memcpy(&u, &v, 4);
      put32(row + 4 * d, u);
    }
    ok = fwrite(row, 1, m->cols * 4, af.fp) == m->cols * 4;
  }
  free(row);
  if (!ok) {
    gk_atomic_abort(&af);
    return gk_fail(err, GK_EIO, "%s: write failed: %s", path, strerror(errno));
  }
  return gk_atomic_commit(&af, err);
}
