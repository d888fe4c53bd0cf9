/* alloc.c: allocation through a gk_allocator (gmmkit/alloc.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "gmmkit/alloc.h"

int gk_mul_size(size_t a, size_t b, size_t *out) {
  if (b != 0 && a > SIZE_MAX / b) return 0;
  *out = a * b;
  return 1;
}

void *gk_alloc(const gk_allocator *a, size_t size) {
  if (size == 0) return NULL;
  if (a && a->fn) return a->fn(a->ud, NULL, 0, size);
  return malloc(size);
}

void *gk_calloc(const gk_allocator *a, size_t n, size_t size) {
  size_t bytes;
  void *p;
  if (!gk_mul_size(n, size, &bytes)) return NULL;
  p = gk_alloc(a, bytes);
  if (p) memset(p, 0, bytes);
  return p;
}

void gk_free(const gk_allocator *a, void *p, size_t size) {
  if (!p) return;
  if (a && a->fn) (void)a->fn(a->ud, p, size, 0);
  else free(p);
}

void *gk_scratch_alloc(size_t n, size_t size) {
  size_t bytes;
  if (!gk_mul_size(n, size, &bytes) || bytes == 0) return NULL;
  return malloc(bytes);
}

void gk_scratch_free(void *p) { free(p); }
