/*
 * fuzz_ubm.h: the UBM of the selector target (fuzz_selector.c) and of its seeds
 * (make_seeds.c): a selector file loads only for the UBM it was built for, so both build
 * this one, from constants.
 */
#ifndef GMMKIT_FUZZ_UBM_H
#define GMMKIT_FUZZ_UBM_H

#include <stdlib.h>
#include "gmmkit/gmmkit.h"

#define FUZZ_UBM_K 6
#define FUZZ_UBM_D 2

/* Six diagonal components in two dimensions on a 3 x 2 grid; NULL when allocation fails. */
static inline gk_gmm *fuzz_selector_ubm(void) {
  gk_gmm *g;
  gk_error err;
  if (gk_gmm_create(&g, FUZZ_UBM_K, FUZZ_UBM_D, GK_COV_DIAG, NULL, &err) != GK_OK) return NULL;
  for (size_t i = 0; i < FUZZ_UBM_K; i++) {
    g->weights[i] = (double)(i + 1) / 21.0;
    g->means[2 * i] = 3.0 * (double)(i % 3);
    g->means[2 * i + 1] = 2.0 * (double)(i / 3);
    g->covs[2 * i] = 0.5 + 0.1 * (double)i;
    g->covs[2 * i + 1] = 0.8 - 0.05 * (double)i;
  }
  if (gk_gmm_prepare(g, &err) != GK_OK) {
    gk_gmm_free(g);
    return NULL;
  }
  return g;
}

#endif
