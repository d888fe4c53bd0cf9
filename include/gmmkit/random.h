/*
 * gmmkit/random.h: the seeded pseudo-random generator behind every random choice.
 *
 * xoshiro256** (Blackman and Vigna 2018), its state filled by splitmix64 from a 64-bit
 * seed and a stream number, so that independent streams (one per frame block, one per
 * file) are reproducible whatever the number of threads. A gk_rng is a plain value:
 * copy it, keep one per thread; no hidden state.
 */
#ifndef GMMKIT_RANDOM_H
#define GMMKIT_RANDOM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gk_rng {
  uint64_t s[4];  /* xoshiro256** state, never all zero */
} gk_rng;

/* Seeds `r` for stream `stream` of `seed` (different streams are independent). */
void gk_rng_seed(gk_rng *r, uint64_t seed, uint64_t stream);
/* The next 64 random bits. */
uint64_t gk_rng_next(gk_rng *r);
/* Uniform in [0, 1), 53 random bits. */
double gk_rng_uniform(gk_rng *r);
/* Uniform integer in [0, n), without modulo bias (Lemire's method); n >= 1. */
uint64_t gk_rng_below(gk_rng *r, uint64_t n);
/* Standard normal N(0, 1) (Marsaglia's polar method; no cached second value, so a
 * stream's values do not depend on how calls interleave). */
double gk_rng_normal(gk_rng *r);

#ifdef __cplusplus
}
#endif
#endif
