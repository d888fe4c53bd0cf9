/* alloc.c: allocation through a gk_allocator (gmmkit/alloc.h). */
#define GMMKIT_FAULT_NO_MACROS
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "gmmkit/alloc.h"

int gk_mul_size(size_t a, size_t b, size_t *out) {
  if (b != 0 && a > SIZE_MAX / b) return 0;
  *out = a * b;
  return 1;
}

#ifdef GMMKIT_FAULT_INJECTION
/* Test builds only (see gmmkit/alloc.h): the one piece of mutable global state, atomic
 * so that allocations from OpenMP threads count safely. */
static _Atomic long fault_at = 0, fault_count = 0;

void gk_fault_arm(long n) {
  fault_count = 0;
  fault_at = n > 0 ? n : 0;
}

long gk_fault_count(void) { return fault_count; }

int gk_fault_hit(void) {
  long at = fault_at;
  if (at == 0) return 0;
  return ++fault_count >= at;
}
#define FAULT_HIT() gk_fault_hit()
#else
#define FAULT_HIT() 0
#endif

void *gk_alloc(const gk_allocator *a, size_t size) {
  if (size == 0) return NULL;
  if (a && a->fn) return a->fn(a->ud, NULL, 0, size);
  if (FAULT_HIT()) return NULL;
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
  if (FAULT_HIT()) return NULL;
  return malloc(bytes);
}

void gk_scratch_free(void *p) { free(p); }

char *gk_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = gk_scratch_alloc(n, 1);
  if (p) memcpy(p, s, n);
  return p;
}
