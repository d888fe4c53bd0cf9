/* fuzz_kaldi.c: libFuzzer target for Kaldi's <DiagGMM> / <FullGMM> reader, text and binary
 * (gk_gmm_load_kaldi); an accepted model is scored on a few frames. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_path(data, size);
  gk_error err;
  gk_error_clear(&err);
  gk_gmm *g = NULL;
  gk_status st = gk_gmm_load_kaldi(path, &g, NULL, &err);
  fuzz_check_status(st, &err);
  if (st == GK_OK) {
    fuzz_use_model(g);
    gk_gmm_free(g);
  } else if (g) {
    abort();  /* a failed load must not hand out a model */
  }
  return 0;
}
