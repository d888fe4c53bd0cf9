/*
 * gmmkit/alloc.h: the allocator through which core objects obtain their memory.
 *
 * gk_allocator has the signature of lua_Alloc, so the Lua binding hands the core the
 * allocator of its lua_State and large model buffers are made where Lua's allocator (and
 * a fault-injecting test allocator) sees them. A NULL allocator means malloc/free.
 * Short-lived scratch buffers inside one call use gk_scratch_alloc (malloc), are freed
 * before the call returns, and turn into GK_ENOMEM on failure.
 */
#ifndef GMMKIT_ALLOC_H
#define GMMKIT_ALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void *(*gk_alloc_fn)(void *ud, void *ptr, size_t osize, size_t nsize);

typedef struct gk_allocator {
  gk_alloc_fn fn;  /* lua_Alloc semantics: nsize 0 frees and returns NULL */
  void *ud;        /* passed back to fn */
} gk_allocator;

/* Allocates `size` bytes (NULL on failure or size 0). `a` may be NULL (malloc). */
void *gk_alloc(const gk_allocator *a, size_t size);
/* Allocates `n * size` zeroed bytes, failing (NULL) when the product overflows. */
void *gk_calloc(const gk_allocator *a, size_t n, size_t size);
/* Frees `p`, which was allocated with `size` bytes from the same allocator. NULL is a no-op. */
void gk_free(const gk_allocator *a, void *p, size_t size);

/* Scratch memory inside one call: malloc with overflow-checked count, and free. */
void *gk_scratch_alloc(size_t n, size_t size);
void gk_scratch_free(void *p);
/* A malloc'ed copy of the string s (free with gk_scratch_free), or NULL. */
char *gk_strdup(const char *s);

/* Overflow-checked product: 1 and *out = a * b, or 0 when it would overflow. */
int gk_mul_size(size_t a, size_t b, size_t *out);

/* ---- allocation-failure testing (test builds only) -------------------------------------
 * Compiled with -DGMMKIT_FAULT_INJECTION (cmake -DCMAKE_C_FLAGS=-DGMMKIT_FAULT_INJECTION;
 * scripts/test builds its sanitizer pass that way), allocations are counted once armed,
 * and the n-th one and every later one fail until disarmed, as in Lua's and SQLite's own
 * out-of-memory tests. This is how the specs check that every allocation failure becomes
 * GK_ENOMEM and the Lua error "not enough memory", never a crash or a leak. Counted:
 * gk_alloc / gk_calloc with a NULL allocator, gk_scratch_alloc, and the malloc, calloc and
 * realloc calls of every file that includes this header (through the macros below, unless
 * it defines GMMKIT_FAULT_NO_MACROS first). A gk_allocator passed in counts itself by
 * calling gk_fault_hit (the host's Lua allocator does, src/host/faults.c). Allocations
 * inside libraries (libsndfile, FFTW plans, OpenBLAS, the C library) are not counted.
 * The counter is process-wide: sweeps run with one thread. Without the macro none of
 * this exists and the allocator functions above are plain. */
#ifdef GMMKIT_FAULT_INJECTION
/* n >= 1: the n-th allocation counted from now, and every later one, fail; 0 disarms. */
void gk_fault_arm(long n);
/* Allocations counted since the last gk_fault_arm (failed ones included). */
long gk_fault_count(void);
/* Counts one allocation when armed: 1 when it must fail, 0 otherwise (and when disarmed). */
int gk_fault_hit(void);
#if !defined(GMMKIT_FAULT_NO_MACROS)
#include <stdlib.h>
#define malloc(n) (gk_fault_hit() ? NULL : malloc(n))
#define calloc(n, s) (gk_fault_hit() ? NULL : calloc(n, s))
#define realloc(p, n) (gk_fault_hit() ? NULL : realloc(p, n))
#endif
#endif

#ifdef __cplusplus
}
#endif
#endif
