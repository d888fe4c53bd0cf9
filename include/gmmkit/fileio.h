/*
 * gmmkit/fileio.h: files written atomically, so that nothing already on disk is lost.
 *
 * gk_atomic_open creates a temporary file beside `path` (same directory, so the rename
 * stays on one file system); the caller writes to `af->fp`; gk_atomic_commit flushes,
 * fsyncs, renames over `path` and fsyncs the directory; gk_atomic_abort removes the
 * temporary. Either way the old file at `path` is intact until the rename, and a process
 * killed at any point leaves the old complete file or the new complete one.
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

/* Reads exactly n bytes: GK_OK, or GK_EFORMAT "truncated (expected N bytes of WHAT)". */
gk_status gk_read_exact(FILE *f, void *buf, size_t n, const char *what, gk_error *err);

#ifdef __cplusplus
}
#endif
#endif
