/*
 * rank.h (internal to src/core): the C largest of a row of float scores, as candidates
 * (value, index) in decreasing order, ties to the earlier entry. Both Gaussian selection
 * (gselect.c: a cluster's members, the clusters) and exhaustive top-C scoring
 * (gmm_estep.c: all K components) rank their rows here.
 */
#ifndef GMMKIT_RANK_H
#define GMMKIT_RANK_H

#include <stddef.h>

typedef struct gk_cand {
  double v;
  size_t i;
} gk_cand;

/* Inserts (v, i) into the decreasing list c[0..*n) of at most C entries. */
static inline void gk_cand_insert(gk_cand *c, size_t *n, size_t C, double v, size_t i) {
  if (*n == C && !(v > c[C - 1].v)) return;
  size_t p = *n < C ? (*n)++ : C - 1;
  while (p > 0 && v > c[p - 1].v) {
    c[p] = c[p - 1];
    p--;
  }
  c[p].v = v;
  c[p].i = i;
}

/* The C best of v[0..m) into c[0..*n) (*n = min(C, m)), decreasing, ties to the earlier
 * entry; entry q's index is index[q] (index NULL: q itself). Long rows insert only the
 * values at least a lower bound on their C-th largest, found in one vector pass (rows of
 * 16 and more for C <= 8, of 128 and more for C <= 64). */
void gk_rank_row(const float *v, size_t m, const size_t *index, size_t C, gk_cand *c, size_t *n);

#endif
