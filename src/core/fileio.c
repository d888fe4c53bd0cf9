/*
 * fileio.c: atomic file replacement (gmmkit/fileio.h).
 * Temporary beside the target -> write -> fflush -> fsync -> rename -> fsync(directory):
 * the sequence that makes the rename durable and the content complete before it.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "gmmkit/fileio.h"

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

static void release(gk_atomic_file *af) {
  free(af->path);
  free(af->tmp_path);
  af->path = af->tmp_path = NULL;
  af->fp = NULL;
}

gk_status gk_atomic_open(gk_atomic_file *af, const char *path, gk_error *err) {
  static const char suffix[] = ".tmp-XXXXXX";
  size_t n = strlen(path);
  struct stat st;
  mode_t mode;
  int fd;
  af->fp = NULL;
  af->path = dup_str(path);
  af->tmp_path = malloc(n + sizeof suffix);
  if (!af->path || !af->tmp_path) {
    release(af);
    return gk_fail_nomem(err);
  }
  memcpy(af->tmp_path, path, n);
  memcpy(af->tmp_path + n, suffix, sizeof suffix);
  fd = mkstemp(af->tmp_path);
  if (fd < 0) {
    gk_status s = gk_fail(err, GK_EIO, "%s: cannot create a temporary file beside it: %s", path,
                          strerror(errno));
    release(af);
    return s;
  }
  /* The new file keeps the old one's permissions, or the umask's default for a new file. */
  if (stat(path, &st) == 0) {
    mode = st.st_mode & 07777;
  } else {
    mode_t um = umask(022);
    umask(um);
    mode = 0666 & ~um;
  }
  (void)fchmod(fd, mode);
  af->fp = fdopen(fd, "wb");
  if (!af->fp) {
    gk_status s = gk_fail(err, GK_EIO, "%s: %s", path, strerror(errno));
    close(fd);
    unlink(af->tmp_path);
    release(af);
    return s;
  }
  return GK_OK;
}

/* fsync of the directory that holds `path`, so that the rename itself is durable. */
static void sync_parent(const char *path) {
  const char *slash = strrchr(path, '/');
  char *dir;
  int fd;
  if (!slash) {
    dir = dup_str(".");
  } else {
    size_t n = (size_t)(slash - path);
    dir = malloc(n + 2);
    if (dir) {
      memcpy(dir, path, n ? n : 1);
      dir[n ? n : 1] = '\0';
    }
  }
  if (!dir) return;
  fd = open(dir, O_RDONLY);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
  free(dir);
}

gk_status gk_atomic_commit(gk_atomic_file *af, gk_error *err) {
  gk_status s = GK_OK;
  int failed_errno = 0;
  if (!af->fp) return gk_fail(err, GK_EINVAL, "atomic file already closed");
  if (fflush(af->fp) != 0 || ferror(af->fp)) failed_errno = errno ? errno : EIO;
  if (!failed_errno && fsync(fileno(af->fp)) != 0) failed_errno = errno;
  if (fclose(af->fp) != 0 && !failed_errno) failed_errno = errno ? errno : EIO;
  af->fp = NULL;
  if (!failed_errno && rename(af->tmp_path, af->path) != 0) failed_errno = errno;
  if (failed_errno) {
    s = gk_fail(err, GK_EIO, "%s: write failed, previous file kept: %s", af->path,
                strerror(failed_errno));
    unlink(af->tmp_path);
  } else {
    sync_parent(af->path);
  }
  release(af);
  return s;
}

void gk_atomic_abort(gk_atomic_file *af) {
  if (!af) return;
  if (af->fp) {
    fclose(af->fp);
    af->fp = NULL;
  }
  if (af->tmp_path) unlink(af->tmp_path);
  release(af);
}

gk_status gk_read_exact(FILE *f, void *buf, size_t n, const char *what, gk_error *err) {
  size_t got = n ? fread(buf, 1, n, f) : 0;
  if (got != n) {
    if (ferror(f))
      return gk_fail(err, GK_EIO, "read error in %s: %s", what, strerror(errno));
    return gk_fail(err, GK_EFORMAT, "truncated: expected %zu bytes of %s, found %zu", n, what, got);
  }
  return GK_OK;
}
