/*
 * gmmkit/htk.h: HTK parameter files (HTK book, sec. 5.10.1), the feature format that HTK,
 * SPro and the MSR identity toolbox exchange.
 *
 * Layout: a 12-byte big-endian header (nSamples int32, sampPeriod int32 in 100 ns units,
 * sampSize int16 bytes per frame, parmKind int16 = base kind | qualifier bits), then
 * nSamples frames of big-endian float32. Compressed files (_C: int16 values with a scale
 * and offset vector, nSamples counting 4 extra frames' worth of them) and a trailing CRC
 * (_K) are read; files are written uncompressed, without CRC, atomically.
 *
 * Limits are checked before any allocation: nSamples <= GK_MAX_HTK_FRAMES, dimension <=
 * GK_MAX_DIM, and the file must be as long as the header says (GK_EFORMAT "truncated").
 */
#ifndef GMMKIT_HTK_H
#define GMMKIT_HTK_H

#include <stdint.h>
#include "gmmkit/error.h"
#include "gmmkit/matrix.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Base kinds (low 6 bits of parmKind). */
enum {
  GK_HTK_WAVEFORM = 0, GK_HTK_LPC = 1, GK_HTK_LPREFC = 2, GK_HTK_LPCEPSTRA = 3,
  GK_HTK_LPDELCEP = 4, GK_HTK_IREFC = 5, GK_HTK_MFCC = 6, GK_HTK_FBANK = 7,
  GK_HTK_MELSPEC = 8, GK_HTK_USER = 9, GK_HTK_DISCRETE = 10, GK_HTK_PLP = 11
};
/* Qualifier bits. */
enum {
  GK_HTK_E = 0000100,  /* has energy */
  GK_HTK_N = 0000200,  /* absolute energy suppressed */
  GK_HTK_D = 0000400,  /* has deltas */
  GK_HTK_A = 0001000,  /* has accelerations */
  GK_HTK_C = 0002000,  /* compressed */
  GK_HTK_Z = 0004000,  /* zero mean static coefficients */
  GK_HTK_K = 0010000,  /* CRC checksum */
  GK_HTK_0 = 0020000,  /* has 0th cepstral coefficient */
  GK_HTK_V = 0040000,  /* VQ data */
  GK_HTK_T = 0100000   /* third differential */
};

typedef struct gk_htk_header {
  uint32_t frames;      /* nSamples (data frames, without the 4 of a compressed file) */
  uint32_t period;      /* sampPeriod, 100 ns units (100000 = 10 ms) */
  uint16_t frame_bytes; /* sampSize as stored */
  uint16_t kind;        /* parmKind */
  size_t dims;          /* columns of the matrix */
} gk_htk_header;

/* Writes the kind as HTK spells it ("MFCC_E_D_A", "USER") into buf (>= 64 bytes). */
void gk_htk_kind_format(uint16_t kind, char *buf, size_t size);
/* Parses "MFCC_0_D_A" (base name and _X qualifiers in any order); GK_EINVAL naming it. */
gk_status gk_htk_kind_parse(const char *s, uint16_t *kind, gk_error *err);

/* Reads the header of `path` (checks limits and the file's length). */
gk_status gk_htk_read_header(const char *path, gk_htk_header *h, gk_error *err);
/* Reads `path` into `dst`, a float32 h->frames x h->dims matrix the caller allocated
 * (decompressing _C files). */
gk_status gk_htk_read_data(const char *path, const gk_htk_header *h, gk_matrix *dst,
                           gk_error *err);
/* Writes float32 or float64 `m` (frames x dims) with kind `kind` (without _C / _K) and
 * period in 100 ns units, atomically. */
gk_status gk_htk_write(const char *path, const gk_matrix *m, uint16_t kind, uint32_t period,
                       gk_error *err);

#ifdef __cplusplus
}
#endif
#endif
