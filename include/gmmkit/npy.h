/*
 * gmmkit/npy.h: NumPy .npy files (format versions 1.0, 2.0 and 3.0), so that Python users
 * read and write gmmkit's matrices unchanged.
 *
 * Read: little- or big-endian float32 ('<f4', '>f4') and float64 ('<f8', '>f8'), C order,
 * 1-D (read as n x 1) and 2-D. Anything else (Fortran order, other types, 3-D, a truncated
 * file, a bad magic, an absurd or oversized header) is GK_EFORMAT or GK_ELIMIT with a
 * message naming the reason. Write: version 1.0, little-endian, C order, 2-D, atomically
 * (temporary file, fsync, rename; see gmmkit/fileio.h).
 *
 * Reading is two-phase so that the caller allocates the destination: read the header,
 * allocate a matrix of that shape and type, read the data.
 */
#ifndef GMMKIT_NPY_H
#define GMMKIT_NPY_H

#include <stdio.h>
#include "gmmkit/matrix.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gk_npy_header {
  size_t rows, cols;  /* shape (a 1-D array of n is n x 1) */
  int ndim;           /* 1 or 2, as stored */
  gk_dtype dtype;     /* element type in memory after reading */
  int big_endian;     /* stored byte order */
  long data_offset;   /* bytes from the start of the file to the data */
} gk_npy_header;

/* Parses the header from the current position (the start of the file). */
gk_status gk_npy_read_header(FILE *f, gk_npy_header *h, gk_error *err);
/* Reads the data that follows a header into `dst` (h->rows x h->cols, h->dtype).
 * A file shorter than the header promises is GK_EFORMAT ("truncated"). */
gk_status gk_npy_read_data(FILE *f, const gk_npy_header *h, gk_matrix *dst, gk_error *err);

/* Writes `m` as a .npy stream (version 1.0) to `f` (no atomicity: see gk_npy_save). */
gk_status gk_npy_write(FILE *f, const gk_matrix *m, gk_error *err);
/* Writes `m` to `path` atomically. */
gk_status gk_npy_save(const char *path, const gk_matrix *m, gk_error *err);

#ifdef __cplusplus
}
#endif
#endif
