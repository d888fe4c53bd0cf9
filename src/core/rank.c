/*
 * rank.c: the C largest of a row of scores (rank.h). A row of hundreds or thousands of
 * scores holds its C best in a few places; inserting every score into the sorted list
 * costs a compare and a branch each. Instead: the maxima of LANES (C <= 8) or WIDE (C <= 64,
 * rows of 128 and more) interleaved subsequences, one vector pass, give a lower bound on the
 * C-th largest (C of them are distinct entries at least as large); the entries at or above
 * it are found by a mask, then inserted. A row the bound cannot serve (a NaN in it) is
 * ranked one by one, so the result never depends on the bound.
 */
#include <stdint.h>
#include "rank.h"
#include "vector_kernel.h"

enum { LANES = 8, WIDE = 64 };  /* interleaved maxima of a row: for C <= LANES, for C <= WIDE */

/* v[i], v[j] = the larger, the smaller (not NaN). */
static inline void exchange(float *v, size_t i, size_t j) {
  float hi = v[i] > v[j] ? v[i] : v[j], lo = v[i] > v[j] ? v[j] : v[i];
  v[i] = hi;
  v[j] = lo;
}

/* The maxima of the `lanes` interleaved subsequences v[l], v[l + lanes], ... of v[0..m)
 * (lanes <= m) into lm: one vector pass, lanes a constant where it is inlined. */
GK_KERNEL_PART void lane_maxima(const float *v, size_t m, size_t lanes, float *lm) {
  for (size_t l = 0; l < lanes; l++) lm[l] = v[l];
  size_t q = lanes;
  for (; q + lanes <= m; q += lanes)
    for (size_t l = 0; l < lanes; l++) lm[l] = v[q + l] > lm[l] ? v[q + l] : lm[l];
  for (size_t l = 0; q + l < m; l++) lm[l] = v[q + l] > lm[l] ? v[q + l] : lm[l];
}

/* A lower bound on the C-th largest of v[0..m) (C <= LANES <= m): the C-th largest of the
 * LANES interleaved maxima (C distinct entries are at least as large). */
GK_VECTOR_KERNEL
static float lane_bound(const float *v, size_t m, size_t C) {
  float lm[LANES];
  lane_maxima(v, m, LANES, lm);
  /* sorted decreasing by a network of 19 exchanges, written out so that each is a max and
   * a min, not a branch */
  exchange(lm, 0, 2), exchange(lm, 1, 3), exchange(lm, 4, 6), exchange(lm, 5, 7);
  exchange(lm, 0, 4), exchange(lm, 1, 5), exchange(lm, 2, 6), exchange(lm, 3, 7);
  exchange(lm, 0, 1), exchange(lm, 2, 3), exchange(lm, 4, 5), exchange(lm, 6, 7);
  exchange(lm, 2, 4), exchange(lm, 3, 5), exchange(lm, 1, 4), exchange(lm, 3, 6);
  exchange(lm, 1, 2), exchange(lm, 3, 4), exchange(lm, 5, 6);
  return lm[C - 1];
}

/* The same for C <= WIDE <= m (Kaldi's gselect keeps 20 of 2048): the C-th largest of the
 * WIDE interleaved maxima, by inserting them into a list of C. */
GK_VECTOR_KERNEL
static float wide_bound(const float *v, size_t m, size_t C) {
  float lm[WIDE];
  gk_cand top[WIDE];
  size_t n = 0;
  lane_maxima(v, m, WIDE, lm);
  for (size_t l = 0; l < WIDE; l++) gk_cand_insert(top, &n, C, (double)lm[l], l);
  return (float)top[C - 1].v;
}

/* Every entry inserted, one by one. */
static void rank_all(const float *v, size_t m, const size_t *index, size_t C, gk_cand *c, size_t *n) {
  *n = 0;
  for (size_t q = 0; q < m; q++) gk_cand_insert(c, n, C, (double)v[q], index ? index[q] : q);
}

/* Bit q of the result: v[q] >= b (q < n <= 64). */
GK_VECTOR_KERNEL
static uint64_t at_least(const float *v, size_t n, float b) {
  uint64_t mask = 0;
  for (size_t q = 0; q < n; q++) mask |= (uint64_t)(v[q] >= b) << q;
  return mask;
}

void gk_rank_row(const float *v, size_t m, const size_t *index, size_t C, gk_cand *c, size_t *n) {
  float b;
  if (C <= LANES && m >= 2 * LANES) {
    b = lane_bound(v, m, C);
  } else if (C <= WIDE && m >= 2 * WIDE) {
    b = wide_bound(v, m, C);
  } else {
    rank_all(v, m, index, C, c, n);
    return;
  }
  *n = 0;
  for (size_t q0 = 0; q0 < m; q0 += 64) { /* those at least b found by a mask, then inserted */
    uint64_t mask = at_least(v + q0, m - q0 < 64 ? m - q0 : 64, b);
    for (; mask; mask &= mask - 1) {
      size_t q = q0 + (size_t)__builtin_ctzll(mask);
      gk_cand_insert(c, n, C, (double)v[q], index ? index[q] : q);
    }
  }
  if (*n < C) rank_all(v, m, index, C, c, n); /* a NaN in the row spoilt the bound */
}
