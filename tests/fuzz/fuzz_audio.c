/* fuzz_audio.c: libFuzzer target for audio files through the from-memory loader
 * (gk_audio_load_memory, the reader behind gk.audio.load_string), at the file's rate and
 * resampled, mixed to mono and one channel picked. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  gk_audio_opts o;
  gk_audio_opts_default(&o);
  /* The last byte picks the options, so that the corpus covers the decoding paths. */
  if (size > 0) {
    uint8_t sel = data[size - 1];
    if (sel & 1) o.rate = 8000 + 1000 * (sel >> 4);
    if (sel & 2) o.channel = (sel >> 2) & 1;
  }
  gk_error err;
  gk_error_clear(&err);
  gk_signal s;
  gk_status st = gk_audio_load_memory(data, size, "<fuzz>", &o, &s, NULL, &err);
  fuzz_check_status(st, &err);
  if (st == GK_OK) {
    if (s.n && !s.samples) abort();
    gk_signal_release(&s, NULL);
  }
  return 0;
}
