/* fuzz_npy.c: libFuzzer target for the .npy reader (gk_npy_read_header + gk_npy_read_data),
 * fed through fmemopen exactly as a file would be. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;  /* fmemopen refuses an empty buffer */
  FILE *f = fmemopen((void *)data, size, "rb");
  if (!f) abort();
  gk_error err;
  gk_error_clear(&err);
  gk_npy_header h;
  gk_status st = gk_npy_read_header(f, &h, &err);
  fuzz_check_status(st, &err);
  if (st == GK_OK) {
    gk_matrix m;
    st = gk_matrix_alloc(&m, h.rows, h.cols, h.dtype, NULL, &err);
    fuzz_check_status(st, &err);
    if (st == GK_OK) {
      st = gk_npy_read_data(f, &h, &m, &err);
      fuzz_check_status(st, &err);
      if (st == GK_OK) {
        size_t r, c;
        (void)gk_matrix_find_nonfinite(&m, &r, &c);
      }
      gk_matrix_release(&m, NULL);
    }
  }
  fclose(f);
  return 0;
}
