/*
 * fuzz_common.h: what the libFuzzer targets in tests/fuzz/ share.
 *
 * Readers that take a path (HTK, model, statistics, checkpoint and Kaldi files) are fed
 * through an in-memory file (memfd_create) named by its /proc/self/fd path, so that no
 * run touches the disk. Every target checks the contract of a reader: GK_OK with a valid
 * result, or a status other than GK_OK with a non-empty message; never a crash, a leak or
 * an allocation the input's size cannot justify (libFuzzer's -malloc_limit_mb).
 */
#ifndef GMMKIT_FUZZ_COMMON_H
#define GMMKIT_FUZZ_COMMON_H

#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gmmkit/gmmkit.h"

/* The path of an in-memory file holding exactly data[0..size). One file per process,
 * rewritten on every call. */
static inline const char *fuzz_path(const uint8_t *data, size_t size) {
  static int fd = -1;
  static char path[64];
  if (fd < 0) {
    fd = memfd_create("gmmkit-fuzz", 0);
    if (fd < 0) {
      perror("memfd_create");
      abort();
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  }
  if (ftruncate(fd, 0) != 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size)) {
    perror("memfd write");
    abort();
  }
  return path;
}

/* A failure must come with a message; GK_OK must leave none behind. */
static inline void fuzz_check_status(gk_status st, const gk_error *err) {
  if (st != GK_OK && (err->status != st || err->message[0] == 0)) {
    fprintf(stderr, "status %d without a matching message (recorded %d: '%s')\n", (int)st,
            (int)err->status, err->message);
    abort();
  }
}

/* Exercises a model that a reader accepted: it must be prepared, so that scoring a few
 * frames gives finite log densities. */
static inline void fuzz_use_model(const gk_gmm *g) {
  float x[4 * 8];
  size_t n = g->d <= 8 ? 4 : 1, d = g->d;
  float *buf = d <= 8 ? x : calloc(d, sizeof(float));
  if (!buf) abort();
  for (size_t i = 0; i < n * d; i++) buf[i] = (float)((i % 7) - 3) * 0.5f;
  gk_matrix m = gk_matrix_view(n, d, GK_FLOAT32, buf);
  gk_gmm_data data = {&m, 1, 1};
  gk_error err;
  gk_error_clear(&err);
  double ll[4], total;
  gk_status st = gk_gmm_score(g, &data, ll, &total, &err);
  fuzz_check_status(st, &err);
  if (buf != x) free(buf);
}

/* The native files (model, statistics, checkpoint) end their 48-byte header with an
 * FNV-1a-64 checksum of the payload, which random mutations almost never keep. Each
 * native target loads the input as it is and, when it has a header, a copy with the
 * checksum recomputed, so that the payload parsers behind the check are reached too.
 * Returns the copy (malloc'ed) or NULL. */
static inline uint8_t *fuzz_fix_checksum(const uint8_t *data, size_t size) {
  if (size < 48) return NULL;
  uint8_t *p = malloc(size);
  if (!p) abort();
  memcpy(p, data, size);
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 48; i < size; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  for (int i = 0; i < 8; i++) p[40 + i] = (uint8_t)(h >> (8 * i));
  return p;
}

/* The entry of the targets whose files carry a checksum: `one` on the input as it is,
 * then on a copy with the checksum made right. */
static inline int fuzz_both_checksums(void (*one)(const uint8_t *, size_t), const uint8_t *data, size_t size) {
  one(data, size);
  uint8_t *fixed = fuzz_fix_checksum(data, size);
  if (fixed) {
    one(fixed, size);
    free(fixed);
  }
  return 0;
}

#endif
