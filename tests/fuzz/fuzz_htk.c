/* fuzz_htk.c: libFuzzer target for the HTK parameter file reader (gk_htk_read_header +
 * gk_htk_read_data), compressed (_C) and CRC (_K) files included. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_path(data, size);
  gk_error err;
  gk_error_clear(&err);
  gk_htk_header h;
  gk_status st = gk_htk_read_header(path, &h, &err);
  fuzz_check_status(st, &err);
  if (st != GK_OK) return 0;
  char kind[64];
  gk_htk_kind_format(h.kind, kind, sizeof kind);
  gk_matrix m;
  st = gk_matrix_alloc(&m, h.frames, h.dims, GK_FLOAT32, NULL, &err);
  fuzz_check_status(st, &err);
  if (st != GK_OK) return 0;
  st = gk_htk_read_data(path, &h, &m, &err);
  fuzz_check_status(st, &err);
  gk_matrix_release(&m, NULL);
  return 0;
}
