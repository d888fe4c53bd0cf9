/*
 * gmmkit/kaldi.h: Kaldi tables of matrices (archives and script files), read and written
 * as Kaldi's own tools do (util/kaldi-table.h, matrix/kaldi-matrix.cc,
 * matrix/compressed-matrix.cc).
 *
 * Read specifiers (rspecifiers): "ark:FILE", "scp:FILE", "ark,t:FILE", "ark:-" (standard
 * input), "ark:COMMAND |" (the command's output, through popen); the options o, no, s, ns,
 * cs, ncs, p, np, b, t and bg may stand beside "ark"/"scp" (they are Kaldi's hints on
 * sortedness and permissiveness and change nothing for a sequential reader). A script file
 * has one "KEY RXFILENAME" per line, where RXFILENAME is a file (the whole file holds one
 * object), "FILE:OFFSET" (the object at that byte), "COMMAND |", or "-"; each may end with a
 * range "[r0:r1]", "[r0:r1,c0:c1]", "[:]", "[:,c0:c1]" (inclusive, 0-based, as Kaldi's
 * ParseMatrixRangeSpecifier accepts them, a row end up to 2 past the last row clamped).
 *
 * Values: an archive entry is "KEY " followed by a value in binary ("\0B" then a token) or
 * text form. Binary tokens read: FM and DM (float and double matrices), FV and DV
 * (vectors, read as 1 x n), CM, CM2 and CM3 (compressed matrices). Text values are matrices
 * "[ ... ]" with one row per line (a vector on one line is a 1 x n matrix). Element types:
 * float32 for FM, FV, CM* and text, float64 for DM and DV. Binary data is little-endian
 * (the byte order of every host Kaldi runs on); gmmkit assumes a little-endian host.
 *
 * Every reader error names the file, the key and the byte offset where the problem is
 * ("feats.ark: key 'utt3' at byte 1234: truncated (expected 4800 bytes of matrix data)").
 * Sizes are checked against gmmkit/limits.h and, for regular files, against the bytes left
 * in the file before anything is allocated. Files named in specifiers must be regular
 * files: FIFOs and devices are refused (use "ark:cat FIFO |" to read one on purpose).
 *
 * Writers: "ark:FILE", "ark,t:FILE" (text), "ark,scp:FILE.ark,FILE.scp" (with a script
 * file whose offsets point at each value, where Kaldi's point), "ark:-" (standard output);
 * the options b, t, f, nf and p are accepted. Files are written through gk_atomic_open: the
 * archive and script file appear under their names only at gk_kaldi_writer_close; an
 * aborted or interrupted writer leaves the old files (or none). Keys must be non-empty and
 * printable ASCII without white space (Kaldi's rule).
 *
 * Objects are not shared between threads; distinct objects may be used concurrently.
 */
#ifndef GMMKIT_KALDI_H
#define GMMKIT_KALDI_H

#include "gmmkit/alloc.h"
#include "gmmkit/error.h"
#include "gmmkit/matrix.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gk_kaldi_reader gk_kaldi_reader;
typedef struct gk_kaldi_writer gk_kaldi_writer;

/* How a writer stores matrices (compressed-matrix.h's CompressionMethod for the CM kinds). */
typedef enum gk_kaldi_compress {
  GK_KALDI_PLAIN = 0,  /* FM for float32, DM for float64 (exact) */
  GK_KALDI_CM_AUTO,    /* copy-feats --compress=true: CM above 8 rows, CM2 otherwise */
  GK_KALDI_CM,         /* CM: 8-bit codes with per-column percentile headers (kSpeechFeature) */
  GK_KALDI_CM2,        /* CM2: 16-bit codes on one global range (kTwoByteAuto) */
  GK_KALDI_CM3         /* CM3: 8-bit codes on one global range (kOneByteAuto) */
} gk_kaldi_compress;

/* Opens a sequential reader on `rspecifier` (see above). Nothing is read beyond what the
 * specifier needs (the script file or archive is opened; a command is started). */
gk_status gk_kaldi_reader_open(gk_kaldi_reader **out, const char *rspecifier, gk_error *err);

/* Reads the next entry into a new matrix `*m` allocated from `a` (NULL: malloc; release
 * with gk_matrix_release(m, a)) and points *key at its key (valid until the next call or
 * close). At the end: GK_OK with *done = 1, *key NULL and m zeroed; otherwise *done = 0.
 * After an error the reader stays in error (every later call repeats it). */
gk_status gk_kaldi_reader_next(gk_kaldi_reader *r, const char **key, gk_matrix *m,
                               const gk_allocator *a, int *done, gk_error *err);

/* The same in two steps, for callers that allocate the matrix themselves: _next_header
 * reads the key and the value's header (the whole value for text) and gives the shape and
 * element type the matrix will have (ranges applied); _read_data fills `dst` (allocated
 * by the caller with exactly that shape and type). Calling _next_header again without
 * _read_data skips the value. */
gk_status gk_kaldi_reader_next_header(gk_kaldi_reader *r, const char **key, size_t *rows,
                                      size_t *cols, gk_dtype *dtype, int *done, gk_error *err);
gk_status gk_kaldi_reader_read_data(gk_kaldi_reader *r, gk_matrix *dst, gk_error *err);

/* Closes files and commands; NULL is a no-op. */
void gk_kaldi_reader_close(gk_kaldi_reader *r);

/* Opens a writer on `wspecifier` (see above) storing matrices as `compress` says (text
 * archives write the values a compressed matrix decodes to, as Kaldi does). */
gk_status gk_kaldi_writer_open(gk_kaldi_writer **out, const char *wspecifier,
                               gk_kaldi_compress compress, gk_error *err);
/* Appends `m` (float32 or float64) under `key`. Compression needs finite values. */
gk_status gk_kaldi_writer_write(gk_kaldi_writer *w, const char *key, const gk_matrix *m,
                                gk_error *err);
/* Appends a 1 x n or n x 1 matrix as a Kaldi vector (FV for float32, DV for float64). */
gk_status gk_kaldi_writer_write_vector(gk_kaldi_writer *w, const char *key, const gk_matrix *v,
                                       gk_error *err);
/* Commits the archive (then the script file) under their names and frees the writer,
 * whatever the outcome; on failure the old files are kept. */
gk_status gk_kaldi_writer_close(gk_kaldi_writer *w, gk_error *err);
/* Removes what was written (the old files stay) and frees the writer; NULL is a no-op. */
void gk_kaldi_writer_abort(gk_kaldi_writer *w);

#ifdef __cplusplus
}
#endif
#endif
