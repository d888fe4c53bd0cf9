/* fuzz_checkpoint.c: libFuzzer target for the training checkpoint reader
 * (gk_gmm_trainer_load). The fingerprint that resuming must match is taken from the
 * input itself (the first payload word), so that mutations reach the state behind it.
 * An accepted checkpoint is resumed for one EM step on a few frames, as gk.gmm.train
 * with resume=true would do: the state it restores must be one training can go on from. */
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
  size_t d = t->model->d;
  if (d <= 8 && t->model->k <= 64) {
    float x[128 * 8];
    for (size_t i = 0; i < 128 * d; i++) x[i] = (float)((i * 7919) % 23) * 0.25f - 2.5f;
    gk_matrix m = gk_matrix_view(128, d, GK_FLOAT32, x);
    gk_gmm_data data = {&m, 1, 1};
    double ll;
    gk_error_clear(&err);
    st = gk_gmm_trainer_step(t, &data, NULL, &ll, NULL, &err);
    fuzz_check_status(st, &err);
  }
  gk_gmm_trainer_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_both_checksums(one, data, size); }
