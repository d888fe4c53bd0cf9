/*
 * kaldi_compress.c: Kaldi's compressed matrices (CM, CM2, CM3), decoded and encoded with
 * the arithmetic of matrix/compressed-matrix.cc, step for step in the same types (float
 * where Kaldi computes in float, double where its constants are double), so that decoded
 * values are the floats Kaldi's CopyToMat gives and encoded bytes those its CopyFromMat
 * writes.
 *
 * Layouts after the 16-byte header (min_value, range, rows, cols):
 *   CM:  cols x {p0, p25, p75, p100} uint16 percentile headers, then the 8-bit codes
 *        column by column (column-major);
 *   CM2: rows x cols uint16, row-major, value = min + code * range / 65535;
 *   CM3: rows x cols uint8, row-major, value = min + code * range / 255.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gmmkit/alloc.h"
#include "gmmkit/limits.h"
#include "kaldi_internal.h"

size_t gk_kaldi_cm_payload(const gk_kaldi_cm_header *h) {
  size_t r = (size_t)h->rows, c = (size_t)h->cols;
  if (h->format == GK_CM1) return c * (8 + r);
  if (h->format == GK_CM2) return 2 * r * c;
  return r * c;
}

/* Uint16ToFloat: all in float, (range * 1/65535f) * code, then + min. */
static float u16_to_float(const gk_kaldi_cm_header *h, uint16_t v) {
  return h->min_value + h->range * 1.52590218966964e-05F * (float)v;
}

/* CharToFloat: the product in float, the scaling by 1/64 (1/128, 1/63) in double. */
static float char_to_float(float p0, float p25, float p75, float p100, unsigned v) {
  if (v <= 64) return (float)((double)p0 + (double)((p25 - p0) * (float)v) * (1 / 64.0));
  if (v <= 192) return (float)((double)p25 + (double)((p75 - p25) * (float)(v - 64)) * (1 / 128.0));
  return (float)((double)p75 + (double)((p100 - p75) * (float)(v - 192)) * (1 / 63.0));
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

/* CM: a 256-entry table per column turns the decode into lookups; rows are written in
 * blocks so that the transposition from column-major codes stays in cache. */
static void decode_cm1(const gk_kaldi_cm_header *h, const uint8_t *payload, size_t r0, size_t nr,
                       size_t c0, size_t nc, float *out) {
  size_t rows = (size_t)h->rows;
  const uint8_t *heads = payload, *codes = payload + 8 * (size_t)h->cols;
  float table[256];
  const size_t block = 256;
  for (size_t rb = 0; rb < nr; rb += block) {
    size_t n = nr - rb < block ? nr - rb : block;
    for (size_t j = 0; j < nc; j++) {
      const uint8_t *ph = heads + 8 * (c0 + j);
      float p0 = u16_to_float(h, rd16(ph)), p25 = u16_to_float(h, rd16(ph + 2));
      float p75 = u16_to_float(h, rd16(ph + 4)), p100 = u16_to_float(h, rd16(ph + 6));
      for (unsigned v = 0; v < 256; v++) table[v] = char_to_float(p0, p25, p75, p100, v);
      const uint8_t *col = codes + (c0 + j) * rows + r0 + rb;
      float *o = out + rb * nc + j;
      for (size_t i = 0; i < n; i++) o[i * nc] = table[col[i]];
    }
  }
}

void gk_kaldi_cm_decode(const gk_kaldi_cm_header *h, const uint8_t *payload, size_t r0,
                        size_t nr, size_t c0, size_t nc, float *out) {
  size_t cols = (size_t)h->cols;
  if (h->format == GK_CM1) {
    decode_cm1(h, payload, r0, nr, c0, nc, out);
    return;
  }
  float min = h->min_value;
  if (h->format == GK_CM2) {
    float inc = (float)((double)h->range * (1.0 / 65535.0));
    for (size_t i = 0; i < nr; i++) {
      const uint8_t *p = payload + 2 * ((r0 + i) * cols + c0);
      for (size_t j = 0; j < nc; j++) out[i * nc + j] = min + (float)rd16(p + 2 * j) * inc;
    }
  } else {
    float inc = (float)((double)h->range * (1.0 / 255.0));
    float table[256];
    for (unsigned v = 0; v < 256; v++) table[v] = min + (float)v * inc;
    for (size_t i = 0; i < nr; i++) {
      const uint8_t *p = payload + (r0 + i) * cols + c0;
      for (size_t j = 0; j < nc; j++) out[i * nc + j] = table[p[j]];
    }
  }
}

/* ---- encoding ------------------------------------------------------------------------ */

/* FloatToUint16 / FloatToUint8: the fraction in float, the rounding offset in double. */
static unsigned float_to_code(const gk_kaldi_cm_header *h, float value, int top) {
  float f = (value - h->min_value) / h->range;
  if (f > 1.0f) f = 1.0f;
  if (f < 0.0f) f = 0.0f;
  return (unsigned)(int)((double)(f * (float)top) + 0.499);
}

static unsigned char float_to_char(float p0, float p25, float p75, float p100, float value) {
  int ans;
  if (value < p25) {
    float f = (value - p0) / (p25 - p0);
    ans = (int)((double)(f * 64.0f) + 0.5);
    ans = ans < 0 ? 0 : ans > 64 ? 64 : ans;
  } else if (value < p75) {
    float f = (value - p25) / (p75 - p25);
    ans = 64 + (int)((double)(f * 128.0f) + 0.5);
    ans = ans < 64 ? 64 : ans > 192 ? 192 : ans;
  } else {
    float f = (value - p75) / (p100 - p75);
    ans = 192 + (int)((double)(f * 63.0f) + 0.5);
    ans = ans < 192 ? 192 : ans > 255 ? 255 : ans;
  }
  return (unsigned char)ans;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static uint16_t max16(unsigned a, unsigned b) { return (uint16_t)(a > b ? a : b); }
static uint16_t min16(unsigned a, unsigned b) { return (uint16_t)(a < b ? a : b); }

/* ComputeColHeader: the order statistics at 0, n/4, 3n/4 and n-1 (a sort gives the values
 * std::nth_element finds), kept strictly increasing and below the top codes. */
static void col_header(const gk_kaldi_cm_header *h, double *s, size_t n, uint16_t p[4]) {
  qsort(s, n, sizeof *s, cmp_double);
  if (n >= 5) {
    size_t q = n / 4;
    p[0] = min16(float_to_code(h, (float)s[0], 65535), 65532);
    p[1] = min16(max16(float_to_code(h, (float)s[q], 65535), p[0] + 1u), 65533);
    p[2] = min16(max16(float_to_code(h, (float)s[3 * q], 65535), p[1] + 1u), 65534);
    p[3] = max16(float_to_code(h, (float)s[n - 1], 65535), p[2] + 1u);
    return;
  }
  p[0] = min16(float_to_code(h, (float)s[0], 65535), 65532);
  p[1] = n > 1 ? min16(max16(float_to_code(h, (float)s[1], 65535), p[0] + 1u), 65533)
               : (uint16_t)(p[0] + 1);
  p[2] = n > 2 ? min16(max16(float_to_code(h, (float)s[2], 65535), p[1] + 1u), 65534)
               : (uint16_t)(p[1] + 1);
  p[3] = n > 3 ? max16(float_to_code(h, (float)s[3], 65535), p[2] + 1u) : (uint16_t)(p[2] + 1);
}

static void wr16(uint8_t *p, unsigned v) {
  p[0] = (uint8_t)(v & 0xff);
  p[1] = (uint8_t)(v >> 8);
}

static gk_status encode_cm1(const gk_matrix *m, const gk_kaldi_cm_header *h, uint8_t *payload,
                            gk_error *err) {
  size_t rows = m->rows, cols = m->cols;
  double *s = malloc(rows * sizeof *s);
  if (!s) return gk_fail_nomem(err);
  uint8_t *codes = payload + 8 * cols;
  for (size_t j = 0; j < cols; j++) {
    for (size_t i = 0; i < rows; i++) s[i] = gk_matrix_get(m, i, j);
    uint16_t p[4];
    col_header(h, s, rows, p);
    for (int k = 0; k < 4; k++) wr16(payload + 8 * j + 2 * (size_t)k, p[k]);
    float p0 = u16_to_float(h, p[0]), p25 = u16_to_float(h, p[1]);
    float p75 = u16_to_float(h, p[2]), p100 = u16_to_float(h, p[3]);
    for (size_t i = 0; i < rows; i++)
      codes[j * rows + i] = float_to_char(p0, p25, p75, p100, (float)gk_matrix_get(m, i, j));
  }
  free(s);
  return GK_OK;
}

gk_status gk_kaldi_cm_encode(const gk_matrix *m, int format, uint8_t **blob, size_t *n,
                             gk_error *err) {
  size_t rows = m->rows, cols = m->cols, count = rows * cols;
  if (rows == 0 || cols == 0 || rows > INT32_MAX || cols > INT32_MAX)
    return gk_fail(err, GK_EINVAL, "cannot compress a %zu x %zu matrix", rows, cols);
  /* ComputeGlobalHeader: Min and Max in the matrix's type, then float. */
  double lo = gk_matrix_get(m, 0, 0), hi = lo;
  for (size_t k = 0; k < count; k++) {
    double v = m->dtype == GK_FLOAT32 ? ((const float *)m->data)[k] : ((const double *)m->data)[k];
    if (!isfinite(v)) return gk_fail(err, GK_ENUMERIC, "cannot compress NaN or Inf (row %zu, column %zu)", k / cols + 1, k % cols + 1);
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  float min_value = (float)lo, max_value = (float)hi;
  if (max_value == min_value) max_value = (float)(min_value + (1.0 + fabs(min_value)));
  gk_kaldi_cm_header h = {format, min_value, max_value - min_value, (int32_t)rows, (int32_t)cols};
  if (!(h.range > 0.0f) || !isfinite(h.range))
    return gk_fail(err, GK_ENUMERIC, "cannot compress: the value range overflows float");
  size_t bytes = 16 + gk_kaldi_cm_payload(&h);
  uint8_t *b = malloc(bytes);
  if (!b) return gk_fail_nomem(err);
  memcpy(b, &h.min_value, 4);
  memcpy(b + 4, &h.range, 4);
  memcpy(b + 8, &h.rows, 4);
  memcpy(b + 12, &h.cols, 4);
  uint8_t *payload = b + 16;
  if (format == GK_CM1) {
    gk_status st = encode_cm1(m, &h, payload, err);
    if (st != GK_OK) {
      free(b);
      return st;
    }
  } else {
    int top = format == GK_CM2 ? 65535 : 255;
    for (size_t k = 0; k < count; k++) {
      float v = (float)(m->dtype == GK_FLOAT32 ? ((const float *)m->data)[k] : ((const double *)m->data)[k]);
      unsigned c = float_to_code(&h, v, top);
      if (format == GK_CM2) wr16(payload + 2 * k, c);
      else payload[k] = (uint8_t)c;
    }
  }
  *blob = b;
  *n = bytes;
  return GK_OK;
}
