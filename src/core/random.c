/* random.c: xoshiro256** seeded by splitmix64 (gmmkit/random.h). */
#include <math.h>
#include "gmmkit/random.h"

__extension__ typedef unsigned __int128 u128;

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void gk_rng_seed(gk_rng *r, uint64_t seed, uint64_t stream) {
  uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ull);
  int i;
  /* Mix the stream in twice so that nearby (seed, stream) pairs do not share states. */
  x = splitmix64(&x) ^ stream;
  for (i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
  if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1;
}

uint64_t gk_rng_next(gk_rng *r) {
  uint64_t *s = r->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double gk_rng_uniform(gk_rng *r) { return (double)(gk_rng_next(r) >> 11) * 0x1.0p-53; }

uint64_t gk_rng_below(gk_rng *r, uint64_t n) {
  /* Lemire 2019: multiply-shift with rejection of the biased low range. */
  u128 m = (u128)gk_rng_next(r) * n;
  uint64_t low = (uint64_t)m;
  if (low < n) {
    uint64_t threshold = (0 - n) % n;
    while (low < threshold) {
      m = (u128)gk_rng_next(r) * n;
      low = (uint64_t)m;
    }
  }
  return (uint64_t)(m >> 64);
}

double gk_rng_normal(gk_rng *r) {
  double u, v, s;
  do {
    u = 2.0 * gk_rng_uniform(r) - 1.0;
    v = 2.0 * gk_rng_uniform(r) - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  return u * sqrt(-2.0 * log(s) / s);
}
