/* matrix.c: dense row-major matrices (gmmkit/matrix.h). */
#include <math.h>
#include <string.h>
#include "gmmkit/limits.h"
#include "gmmkit/matrix.h"

size_t gk_dtype_size(gk_dtype t) { return t == GK_FLOAT32 ? sizeof(float) : sizeof(double); }

const char *gk_dtype_name(gk_dtype t) { return t == GK_FLOAT32 ? "float32" : "float64"; }

gk_status gk_matrix_bytes(size_t rows, size_t cols, gk_dtype t, size_t *bytes, gk_error *err) {
  size_t n;
  if (!gk_mul_size(rows, cols, &n) || n > GK_MAX_ELEMENTS)
    return gk_fail(err, GK_ELIMIT, "a %zu x %zu matrix exceeds the limit of %llu elements",
                   rows, cols, (unsigned long long)GK_MAX_ELEMENTS);
  *bytes = n * gk_dtype_size(t);
  return GK_OK;
}

gk_matrix gk_matrix_view(size_t rows, size_t cols, gk_dtype t, void *data) {
  gk_matrix m;
  m.rows = rows;
  m.cols = cols;
  m.dtype = t;
  m.data = data;
  return m;
}

gk_status gk_matrix_alloc(gk_matrix *m, size_t rows, size_t cols, gk_dtype t,
                          const gk_allocator *a, gk_error *err) {
  size_t bytes;
  gk_status st = gk_matrix_bytes(rows, cols, t, &bytes, err);
  *m = gk_matrix_view(rows, cols, t, NULL);
  if (st != GK_OK) return st;
  if (bytes == 0) return GK_OK;
  m->data = gk_alloc(a, bytes);
  if (!m->data) return gk_fail_nomem(err);
  memset(m->data, 0, bytes);
  return GK_OK;
}

void gk_matrix_release(gk_matrix *m, const gk_allocator *a) {
  if (!m) return;
  gk_free(a, m->data, gk_matrix_size(m) * gk_dtype_size(m->dtype));
  m->data = NULL;
  m->rows = m->cols = 0;
}

void gk_matrix_fill(gk_matrix *m, double v) {
  size_t n = gk_matrix_size(m), k;
  if (m->dtype == GK_FLOAT32) {
    float *p = m->data, f = (float)v;
    for (k = 0; k < n; k++) p[k] = f;
  } else {
    double *p = m->data;
    for (k = 0; k < n; k++) p[k] = v;
  }
}

/* Copies n elements between buffers of possibly different element types. */
static void convert(void *dst, gk_dtype dt, const void *src, gk_dtype st, size_t n) {
  size_t k;
  if (n == 0) return;
  if (dt == st) {
    memcpy(dst, src, n * gk_dtype_size(dt));
  } else if (dt == GK_FLOAT32) {
    const double *s = src;
    float *d = dst;
    for (k = 0; k < n; k++) d[k] = (float)s[k];
  } else {
    const float *s = src;
    double *d = dst;
    for (k = 0; k < n; k++) d[k] = (double)s[k];
  }
}

gk_status gk_matrix_copy(const gk_matrix *src, gk_matrix *dst, gk_error *err) {
  if (src->rows != dst->rows || src->cols != dst->cols)
    return gk_fail(err, GK_EINVAL, "cannot copy a %zu x %zu matrix into a %zu x %zu one",
                   src->rows, src->cols, dst->rows, dst->cols);
  convert(dst->data, dst->dtype, src->data, src->dtype, gk_matrix_size(src));
  return GK_OK;
}

void gk_matrix_select_rows(const gk_matrix *src, const size_t *idx, size_t n, gk_matrix *dst) {
  size_t es = gk_dtype_size(src->dtype), rb = src->cols * es, i;
  for (i = 0; i < n; i++)
    memcpy((char *)dst->data + i * rb, (const char *)src->data + idx[i] * rb, rb);
}

void gk_matrix_select_cols(const gk_matrix *src, const size_t *idx, size_t n, gk_matrix *dst) {
  size_t i, j;
  if (src->dtype == GK_FLOAT32) {
    const float *s = src->data;
    float *d = dst->data;
    for (i = 0; i < src->rows; i++)
      for (j = 0; j < n; j++) d[i * n + j] = s[i * src->cols + idx[j]];
  } else {
    const double *s = src->data;
    double *d = dst->data;
    for (i = 0; i < src->rows; i++)
      for (j = 0; j < n; j++) d[i * n + j] = s[i * src->cols + idx[j]];
  }
}

gk_status gk_matrix_vstack(const gk_matrix *const *parts, size_t n, gk_matrix *dst, gk_error *err) {
  size_t rows = 0, i, es = gk_dtype_size(dst->dtype);
  char *out = dst->data;
  for (i = 0; i < n; i++) {
    if (parts[i]->cols != dst->cols)
      return gk_fail(err, GK_EINVAL, "vstack: part %zu has %zu columns, expected %zu", i + 1,
                     parts[i]->cols, dst->cols);
    rows += parts[i]->rows;
  }
  if (rows != dst->rows)
    return gk_fail(err, GK_EINVAL, "vstack: parts have %zu rows in all, destination %zu", rows,
                   dst->rows);
  for (i = 0; i < n; i++) {
    convert(out, dst->dtype, parts[i]->data, parts[i]->dtype, gk_matrix_size(parts[i]));
    out += gk_matrix_size(parts[i]) * es;
  }
  return GK_OK;
}

gk_status gk_matrix_hstack(const gk_matrix *const *parts, size_t n, gk_matrix *dst, gk_error *err) {
  size_t cols = 0, i, r, off = 0, es = gk_dtype_size(dst->dtype);
  for (i = 0; i < n; i++) {
    if (parts[i]->rows != dst->rows)
      return gk_fail(err, GK_EINVAL, "hstack: part %zu has %zu rows, expected %zu", i + 1,
                     parts[i]->rows, dst->rows);
    cols += parts[i]->cols;
  }
  if (cols != dst->cols)
    return gk_fail(err, GK_EINVAL, "hstack: parts have %zu columns in all, destination %zu", cols,
                   dst->cols);
  for (i = 0; i < n; i++) {
    size_t pes = gk_dtype_size(parts[i]->dtype), pc = parts[i]->cols;
    for (r = 0; r < dst->rows; r++)
      convert((char *)dst->data + (r * dst->cols + off) * es, dst->dtype,
              (const char *)parts[i]->data + r * pc * pes, parts[i]->dtype, pc);
    off += pc;
  }
  return GK_OK;
}

gk_status gk_matrix_col_moments(const gk_matrix *m, int ddof, double *mean, double *var,
                                gk_error *err) {
  size_t i, j, n = m->rows, d = m->cols;
  if (ddof < 0 || n <= (size_t)ddof)
    return gk_fail(err, GK_EINVAL, "moments of a %zu x %zu matrix need more than %d rows", n, d,
                   ddof);
  /* Pass 1: the mean, summed in double. */
  for (j = 0; j < d; j++) mean[j] = 0.0;
  for (i = 0; i < n; i++)
    for (j = 0; j < d; j++) mean[j] += gk_matrix_get(m, i, j);
  for (j = 0; j < d; j++) mean[j] /= (double)n;
  if (!var) return GK_OK;
  /* Pass 2: the corrected two-pass algorithm (Chan, Golub and LeVeque 1983):
   * sum (x - m)^2 - (sum (x - m))^2 / n, whose second term removes the rounding of m. */
  for (j = 0; j < d; j++) {
    double s = 0.0, c = 0.0;
    for (i = 0; i < n; i++) {
      double dx = gk_matrix_get(m, i, j) - mean[j];
      s += dx * dx;
      c += dx;
    }
    var[j] = (s - c * c / (double)n) / (double)(n - (size_t)ddof);
    if (var[j] < 0.0) var[j] = 0.0;
  }
  return GK_OK;
}

int gk_matrix_find_nonfinite(const gk_matrix *m, size_t *row, size_t *col) {
  size_t n = gk_matrix_size(m), k;
  if (m->dtype == GK_FLOAT32) {
    const float *p = m->data;
    for (k = 0; k < n; k++)
      if (!isfinite(p[k])) goto found;
  } else {
    const double *p = m->data;
    for (k = 0; k < n; k++)
      if (!isfinite(p[k])) goto found;
  }
  return 0;
found:
  if (row) *row = k / m->cols;
  if (col) *col = k % m->cols;
  return 1;
}
