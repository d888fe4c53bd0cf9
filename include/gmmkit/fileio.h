/*
 * gmmkit/fileio.h: files written atomically, so that nothing already on disk is lost.
 *
 * gk_atomic_open creates a temporary file beside `path` (same directory, so the rename
 * stays on one file system); the caller writes to `af->fp`; gk_atomic_commit flushes,
 * fsyncs, renames over `path` and fsyncs the directory; gk_atomic_abort removes the
 * temporary. Either way the old file at `path` is intact until the rename, and a process
 * killed at any point leaves the old complete file or the new complete one.
 *
 * Only regular files are read or replaced: a FIFO, device, directory or (as a target of
 * a writer) symbolic link is refused with a message that names what it is, before
 * anything is opened, so that no reader blocks on a FIFO and no writer replaces
 * /dev/null.
 */
#ifndef GMMKIT_FILEIO_H
#define GMMKIT_FILEIO_H

#include <stdio.h>
#include "gmmkit/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gk_atomic_file {
  FILE *fp;        /* write here; NULL once committed or aborted */
  char *path;      /* final path (owned) */
  char *tmp_path;  /* temporary path (owned) */
} gk_atomic_file;

gk_status gk_atomic_open(gk_atomic_file *af, const char *path, gk_error *err);
/* Commits; on failure the temporary is removed and the old file kept. Always releases `af`. */
gk_status gk_atomic_commit(gk_atomic_file *af, gk_error *err);
/* Removes the temporary and releases `af`. Safe to call repeatedly and after commit. */
void gk_atomic_abort(gk_atomic_file *af);

/* Checks that `path` names a regular file (following symbolic links, as a reader does):
 * GK_OK with its size in *size (may be NULL), or GK_EIO "path: cannot open: reason" /
 * "path: is a FIFO, not a regular file" (directory, character device, ...). */
gk_status gk_check_regular(const char *path, long long *size, gk_error *err);
/* Opens `path` for reading in binary mode after gk_check_regular, without blocking on a
 * FIFO swapped in between (opened O_NONBLOCK, checked again by fstat). NULL on failure. */
FILE *gk_open_regular(const char *path, long long *size, gk_error *err);
/* Reads the whole regular file at `path`, of at most `limit` bytes, into a NUL-terminated
 * scratch buffer (*text, free with gk_scratch_free; *n bytes before the NUL). Reads to the
 * end, so that files whose size stat does not know (/proc) are read whole. `what` names
 * the content in the limit's message ("a Kaldi text GMM"). */
gk_status gk_read_text(const char *path, size_t limit, const char *what, char **text, size_t *n,
                       gk_error *err);

/* Reads exactly n bytes: GK_OK, or GK_EFORMAT "truncated (expected N bytes of WHAT)". */
gk_status gk_read_exact(FILE *f, void *buf, size_t n, const char *what, gk_error *err);

#ifdef __cplusplus
}
#endif
#endif
