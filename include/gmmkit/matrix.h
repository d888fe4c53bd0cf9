/*
 * gmmkit/matrix.h: dense 2-D row-major matrices of float32 or float64.
 *
 * A gk_matrix is a plain descriptor (shape, element type, data pointer); it does not say
 * who owns the data. gk_matrix_alloc/gk_matrix_release pair up for matrices whose data
 * comes from a gk_allocator; the Lua binding instead keeps the data inline in a userdata
 * and only fills descriptors. Element (i, j) is at data[i * cols + j], 0-based.
 * Feature matrices are float32 (frames x dims); model parameters are float64.
 *
 * Operations that write into `dst` expect it allocated with the documented shape; they
 * never allocate. Functions are re-entrant; a matrix may be read by many threads at once.
 */
#ifndef GMMKIT_MATRIX_H
#define GMMKIT_MATRIX_H

#include <stddef.h>
#include <stdint.h>
#include "gmmkit/alloc.h"
#include "gmmkit/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gk_dtype {
  GK_FLOAT32 = 0,  /* IEEE single, features */
  GK_FLOAT64 = 1   /* IEEE double, parameters and statistics */
} gk_dtype;

typedef struct gk_matrix {
  size_t rows;     /* number of rows (frames, components) */
  size_t cols;     /* number of columns (dimensions) */
  gk_dtype dtype;  /* element type */
  void *data;      /* rows * cols elements, row-major, contiguous */
} gk_matrix;

/* Bytes per element of `t` (4 or 8). */
size_t gk_dtype_size(gk_dtype t);
/* "float32" or "float64". */
const char *gk_dtype_name(gk_dtype t);

/* Checks a shape against gmmkit/limits.h and computes its size in bytes without
 * overflow. GK_ELIMIT with a message naming the shape when too large. */
gk_status gk_matrix_bytes(size_t rows, size_t cols, gk_dtype t, size_t *bytes, gk_error *err);

/* A descriptor over existing memory (no allocation). */
gk_matrix gk_matrix_view(size_t rows, size_t cols, gk_dtype t, void *data);

/* Allocates a zero-filled rows x cols matrix from `a` (NULL: malloc). Release with
 * gk_matrix_release and the same allocator. A 0 x n or n x 0 matrix has data NULL. */
gk_status gk_matrix_alloc(gk_matrix *m, size_t rows, size_t cols, gk_dtype t,
                          const gk_allocator *a, gk_error *err);
void gk_matrix_release(gk_matrix *m, const gk_allocator *a);

/* Number of elements, rows * cols. */
static inline size_t gk_matrix_size(const gk_matrix *m) { return m->rows * m->cols; }

/* Element access by 0-based index, as double whatever the element type. No bounds check. */
static inline double gk_matrix_get(const gk_matrix *m, size_t i, size_t j) {
  size_t k = i * m->cols + j;
  return m->dtype == GK_FLOAT32 ? (double)((const float *)m->data)[k]
                                : ((const double *)m->data)[k];
}
static inline void gk_matrix_set(gk_matrix *m, size_t i, size_t j, double v) {
  size_t k = i * m->cols + j;
  if (m->dtype == GK_FLOAT32) ((float *)m->data)[k] = (float)v;
  else ((double *)m->data)[k] = v;
}

/* Sets every element to v. */
void gk_matrix_fill(gk_matrix *m, double v);

/* Copies src into dst of the same shape, converting the element type if they differ. */
gk_status gk_matrix_copy(const gk_matrix *src, gk_matrix *dst, gk_error *err);

/* dst (n x src->cols, dst->dtype == src->dtype) = rows idx[0..n) of src (0-based, each < rows). */
void gk_matrix_select_rows(const gk_matrix *src, const size_t *idx, size_t n, gk_matrix *dst);
/* dst (src->rows x n) = columns idx[0..n) of src. */
void gk_matrix_select_cols(const gk_matrix *src, const size_t *idx, size_t n, gk_matrix *dst);

/* dst = parts stacked vertically (same cols) or horizontally (same rows); element types
 * are converted to dst's. Shapes must add up; checked, GK_EINVAL otherwise. */
gk_status gk_matrix_vstack(const gk_matrix *const *parts, size_t n, gk_matrix *dst, gk_error *err);
gk_status gk_matrix_hstack(const gk_matrix *const *parts, size_t n, gk_matrix *dst, gk_error *err);

/* Per-column mean (mean[cols]) and variance (var[cols], divided by rows - ddof), in
 * float64: two passes, the second about the mean with a compensation term, so that a
 * large common offset does not cancel the variance. `var` may be NULL. rows > ddof required. */
gk_status gk_matrix_col_moments(const gk_matrix *m, int ddof, double *mean, double *var, gk_error *err);

/* Finds the first NaN or Inf in row-major order: 1 and its position, or 0 if none. */
int gk_matrix_find_nonfinite(const gk_matrix *m, size_t *row, size_t *col);

#ifdef __cplusplus
}
#endif
#endif
