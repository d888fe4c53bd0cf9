/* fuzz_stats.c: libFuzzer target for the statistics file reader (gk_gmm_stats_load);
 * accepted statistics go through the M-step (gk_gmm_update), as a distributed EM
 * iteration would do with statistics received from another process. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const uint8_t *data, size_t size) {
  const char *path = fuzz_path(data, size);
  gk_error err;
  gk_error_clear(&err);
  gk_gmm_stats *s = NULL;
  gk_status st = gk_gmm_stats_load(path, &s, NULL, &err);
  fuzz_check_status(st, &err);
  if (st != GK_OK) {
    if (s) abort();
    return;
  }
  gk_gmm_update_opts o;
  gk_gmm_update_opts_default(&o);
  gk_gmm *g = NULL;
  size_t events = 0;
  gk_error_clear(&err);
  st = gk_gmm_update(s, &o, &g, NULL, &events, &err);
  fuzz_check_status(st, &err);
  if (st == GK_OK) {
    fuzz_use_model(g);
    gk_gmm_free(g);
  }
  gk_gmm_stats_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_both_checksums(one, data, size); }
