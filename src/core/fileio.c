/*
 * fileio.c: atomic file replacement (gmmkit/fileio.h).
 * Temporary beside the target -> write -> fflush -> fsync -> rename -> fsync(directory):
 * the sequence that makes the rename durable and the content complete before it.
 * Also the checks that keep readers and writers to regular files.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "gmmkit/alloc.h"
#include "gmmkit/fileio.h"

/* What a file of mode `m` is, for messages ("a FIFO"). */
static const char *kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISLNK(m)) return "a symbolic link";
  return "not a regular file";
}

static gk_status not_regular(const char *path, mode_t m, gk_error *err) {
  return gk_fail(err, GK_EIO, "%s: is %s, not a regular file", path, kind_of(m));
}

gk_status gk_check_regular(const char *path, long long *size, gk_error *err) {
  struct stat st;
  if (stat(path, &st) != 0) return gk_fail(err, GK_EIO, "%s: cannot open: %s", path, strerror(errno));
  if (!S_ISREG(st.st_mode)) return not_regular(path, st.st_mode, err);
  if (size) *size = (long long)st.st_size;
  return GK_OK;
}

FILE *gk_open_regular(const char *path, long long *size, gk_error *err) {
  struct stat st;
  if (gk_check_regular(path, size, err) != GK_OK) return NULL;
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    gk_fail(err, GK_EIO, "%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    not_regular(path, st.st_mode, err);
    close(fd);
    return NULL;
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  FILE *f = fdopen(fd, "rb");
  if (!f) {
    gk_fail(err, GK_EIO, "%s: cannot open: %s", path, strerror(errno));
    close(fd);
    return NULL;
  }
  if (size) *size = (long long)st.st_size;
  return f;
}

/* Grows *buf (scratch) to hold at least `need` bytes; 0 when out of memory. */
static int grow(char **buf, size_t *cap, size_t need) {
  if (need <= *cap) return 1;
  size_t c = *cap ? *cap : 4096;
  while (c < need) c *= 2;
  char *b = gk_scratch_alloc(c, 1);
  if (!b) return 0;
  if (*buf) memcpy(b, *buf, *cap);
  gk_scratch_free(*buf);
  *buf = b;
  *cap = c;
  return 1;
}

gk_status gk_read_text(const char *path, size_t limit, const char *what, char **text, size_t *n,
                       gk_error *err) {
  long long size;
  *text = NULL;
  *n = 0;
  FILE *f = gk_open_regular(path, &size, err);
  if (!f) return err ? err->status : GK_EIO;
  if ((unsigned long long)size > limit) {
    fclose(f);
    return gk_fail(err, GK_ELIMIT, "%s: %lld bytes is too large for %s (limit %zu)", path, size, what, limit);
  }
  char *buf = NULL;
  size_t cap = 0, len = 0, got;
  gk_status st = GK_OK;
  do {
    if (!grow(&buf, &cap, len + (size_t)size + 4097)) {
      st = gk_fail_nomem(err);
      break;
    }
    got = fread(buf + len, 1, cap - len - 1, f);
    len += got;
    if (len > limit) st = gk_fail(err, GK_ELIMIT, "%s: more than %zu bytes is too large for %s", path, limit, what);
  } while (st == GK_OK && got > 0);
  if (st == GK_OK && ferror(f)) st = gk_fail(err, GK_EIO, "%s: read error: %s", path, strerror(errno));
  fclose(f);
  if (st != GK_OK) {
    gk_scratch_free(buf);
    return st;
  }
  buf[len] = '\0';
  *text = buf;
  *n = len;
  return GK_OK;
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
  af->path = af->tmp_path = NULL;
  /* Only a regular file (or nothing) is replaced: a rename over /dev/null, a FIFO or a
   * symbolic link would destroy what the name stood for. */
  if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
    return gk_fail(err, GK_EIO, "%s: is %s, not a regular file: refusing to replace it (save to another path)",
                   path, kind_of(st.st_mode));
  af->path = gk_strdup(path);
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
    dir = gk_strdup(".");
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
