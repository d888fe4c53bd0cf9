/* fuzz_selector.c: libFuzzer target for the Gaussian selector reader (gk_selector_load),
 * for the UBM of fuzz_ubm.h. Each input is loaded as it is and with the UBM's fingerprint
 * and the checksum made right, so that mutations reach the counts and member lists behind
 * them. An accepted selector selects on a few frames: a status with its message, and every
 * index a UBM component. */
#include "fuzz_common.h"
#include "fuzz_ubm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gk_gmm *ubm;

static void use(const gk_selector *s) {
  float x[16 * FUZZ_UBM_D];
  for (size_t i = 0; i < 16 * FUZZ_UBM_D; i++) x[i] = (float)((i * 7919) % 23) * 0.4f - 2.0f;
  gk_matrix m = gk_matrix_view(16, FUZZ_UBM_D, GK_FLOAT32, x);
  gk_gmm_data data = {&m, 1, 1};
  size_t idx[16 * 3], top = 3, search = gk_selector_clusters(s) < 2 ? 1 : 2;
  gk_error err;
  gk_error_clear(&err);
  gk_status st = gk_selector_select(s, &data, search, top, idx, NULL, &err);
  fuzz_check_status(st, &err);
  if (st != GK_OK) return;  /* e.g. clusters whose densities underflow at these frames: a message */
  for (size_t i = 0; i < 16 * top; i++)
    if (idx[i] != SIZE_MAX && idx[i] >= FUZZ_UBM_K) abort();
}

static void one(const uint8_t *data, size_t size) {
  const char *path = fuzz_path(data, size);
  gk_error err;
  gk_error_clear(&err);
  gk_selector *s = NULL;
  gk_status st = gk_selector_load(path, ubm, &s, NULL, &err);
  fuzz_check_status(st, &err);
  if (st == GK_OK) {
    use(s);
    gk_selector_free(s);
  } else if (s) {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!ubm && !(ubm = fuzz_selector_ubm())) abort();
  one(data, size);
  if (size < 56) return 0;
  uint8_t *p = malloc(size);
  if (!p) abort();
  memcpy(p, data, size);
  uint64_t fp = gk_gmm_fingerprint(ubm);
  for (int i = 0; i < 8; i++) p[48 + i] = (uint8_t)(fp >> (8 * i));
  uint8_t *fixed = fuzz_fix_checksum(p, size);
  one(fixed, size);
  free(fixed);
  free(p);
  return 0;
}
