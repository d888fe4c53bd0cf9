/* fuzz_ark.c: libFuzzer target for the Kaldi archive reader (gmmkit/kaldi.h): keys, binary
 * FM/DM/FV/DV, compressed CM/CM2/CM3 and text values, read whole and, in a second pass,
 * with the data of every value skipped. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void pass(const char *spec, int skip) {
  gk_kaldi_reader *r;
  gk_error err;
  gk_error_clear(&err);
  gk_status st = gk_kaldi_reader_open(&r, spec, &err);
  fuzz_check_status(st, &err);
  if (st != GK_OK) return;
  for (int n = 0; n < 1000; n++) {
    const char *key;
    int done;
    gk_matrix m;
    if (skip) {
      size_t rows, cols;
      gk_dtype t;
      st = gk_kaldi_reader_next_header(r, &key, &rows, &cols, &t, &done, &err);
    } else {
      st = gk_kaldi_reader_next(r, &key, &m, NULL, &done, &err);
    }
    fuzz_check_status(st, &err);
    if (st != GK_OK || done) break;
    if (!key || !*key) abort();
    if (!skip) {
      /* Touch every element: a short or misplaced decode shows up under ASan. */
      volatile double sum = 0;
      for (size_t i = 0; i < m.rows; i++)
        for (size_t j = 0; j < m.cols; j++) sum += gk_matrix_get(&m, i, j);
      gk_matrix_release(&m, NULL);
    }
  }
  gk_kaldi_reader_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char spec[96];
  snprintf(spec, sizeof spec, "ark:%s", fuzz_path(data, size));
  pass(spec, 0);
  pass(spec, 1);
  return 0;
}
