/* fuzz_checkpoint.c: libFuzzer target for the training checkpoint reader
 * (gk_gmm_trainer_load). The fingerprint that resuming must match is taken from the
 * input itself (the first payload word), so that mutations reach the state behind it. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const uint8_t *data, size_t size) {
  const char *path = fuzz_path(data, size);
  uint64_t fp = 0;
  if (size >= 56)
    for (int i = 0; i < 8; i++) fp |= (uint64_t)data[48 + i] << (8 * i);
  gk_error err;
  gk_error_clear(&err);
  gk_gmm_trainer *t = NULL;
  gk_status st = gk_gmm_trainer_load(path, fp, &t, NULL, &err);
  fuzz_check_status(st, &err);
  if (st != GK_OK) {
    if (t) abort();
    return;
  }
  fuzz_use_model(t->model);
  gk_gmm_trainer_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  one(data, size);
  uint8_t *fixed = fuzz_fix_checksum(data, size);
  if (fixed) {
    one(fixed, size);
    free(fixed);
  }
  return 0;
}
