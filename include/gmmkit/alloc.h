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

/* Overflow-checked product: 1 and *out = a * b, or 0 when it would overflow. */
int gk_mul_size(size_t a, size_t b, size_t *out);

#ifdef __cplusplus
}
#endif
#endif
