/* test_kaldi.c: the C API of gmmkit/kaldi.h (the streaming contract a trainer relies on)
 * against archives Kaldi wrote (tests/data/kaldi), and the script-file and range parsers. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <unistd.h>
#include "gk_test.h"
#include "gmmkit/gmmkit.h"
#include "../../src/core/kaldi_internal.h"

static char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)len + 1);
  *n = b ? fread(b, 1, (size_t)len, f) : 0;
  fclose(f);
  return b;
}

/* Reads every entry of `spec` through gk_kaldi_reader_next; returns the count. */
static int read_all(const char *spec, gk_matrix *out, int max, char keys[][64]) {
  gk_kaldi_reader *r;
  gk_error err;
  gk_error_clear(&err);
  GK_CHECK_OK(gk_kaldi_reader_open(&r, spec, &err), &err);
  int n = 0;
  for (;;) {
    const char *key;
    int done;
    gk_matrix m;
    gk_status st = gk_kaldi_reader_next(r, &key, &m, NULL, &done, &err);
    GK_CHECK_OK(st, &err);
    if (st != GK_OK || done) break;
    if (n < max) {
      out[n] = m;
      snprintf(keys[n], 64, "%s", key);
    } else {
      gk_matrix_release(&m, NULL);
    }
    n++;
  }
  gk_kaldi_reader_close(r);
  return n;
}

static void test_fixtures(void) {
  char spec[2200], keys[3][64], ckeys[3][64];
  gk_matrix fm[3], cm[3];
  snprintf(spec, sizeof spec, "ark:%s", gk_test_fixture("kaldi", "feats.ark"));
  int n = read_all(spec, fm, 3, keys);
  snprintf(spec, sizeof spec, "ark:%s", gk_test_fixture("kaldi", "feats_compressed.ark"));
  int nc = read_all(spec, cm, 3, ckeys);
  GK_CHECK(n == 2 && nc == 2);
  if (n != 2 || nc != 2) return;
  GK_CHECK(strcmp(keys[1], "AMI_ES2011a_H00_FEE041_0003714_0003915") == 0);
  GK_CHECK(fm[0].rows == 285 && fm[0].cols == 13 && fm[0].dtype == GK_FLOAT32);
  GK_CHECK(cm[1].rows == 199 && cm[1].cols == 13 && cm[1].dtype == GK_FLOAT32);
  /* Every CM code covers at most 1/63 of its column's widest percentile interval. */
  for (int k = 0; k < 2; k++) {
    double lo = 1e300, hi = -1e300;
    for (size_t i = 0; i < gk_matrix_size(&fm[k]); i++) {
      double v = ((float *)fm[k].data)[i];
      lo = v < lo ? v : lo;
      hi = v > hi ? v : hi;
    }
    for (size_t i = 0; i < fm[k].rows; i++)
      for (size_t j = 0; j < fm[k].cols; j++)
        GK_CHECK_NEAR(gk_matrix_get(&cm[k], i, j), gk_matrix_get(&fm[k], i, j), (hi - lo) / 63 / 2);
  }
  /* The CM encoder gives Kaldi's bytes. */
  char path[] = "/tmp/gk_test_kaldi_XXXXXX";
  int fd = mkstemp(path);
  GK_CHECK(fd >= 0);
  close(fd);
  gk_kaldi_writer *w;
  gk_error err;
  gk_error_clear(&err);
  snprintf(spec, sizeof spec, "ark:%s", path);
  GK_CHECK_OK(gk_kaldi_writer_open(&w, spec, GK_KALDI_CM_AUTO, &err), &err);
  for (int k = 0; k < 2; k++) GK_CHECK_OK(gk_kaldi_writer_write(w, keys[k], &fm[k], &err), &err);
  GK_CHECK_OK(gk_kaldi_writer_close(w, &err), &err);
  size_t na, nb;
  char *a = slurp(path, &na), *b = slurp(gk_test_fixture("kaldi", "feats_compressed.ark"), &nb);
  GK_CHECK(a && b && na == nb && memcmp(a, b, na) == 0);
  free(a);
  free(b);
  unlink(path);
  for (int k = 0; k < 2; k++) {
    gk_matrix_release(&fm[k], NULL);
    gk_matrix_release(&cm[k], NULL);
  }
}

/* CM2 and CM3 decode to min + code * range / (2^bits - 1) (compressed-matrix.cc). */
static void test_cm2_cm3_closed_form(void) {
  uint8_t payload[2 * 6];
  gk_kaldi_cm_header h = {GK_CM2, -3.0f, 10.0f, 2, 3};
  unsigned codes[6] = {0, 1, 65535, 32768, 100, 65534};
  for (int k = 0; k < 6; k++) {
    payload[2 * k] = (uint8_t)(codes[k] & 0xff);
    payload[2 * k + 1] = (uint8_t)(codes[k] >> 8);
  }
  float out[6];
  gk_kaldi_cm_decode(&h, payload, 0, 2, 0, 3, out);
  for (int k = 0; k < 6; k++) GK_CHECK_NEAR(out[k], -3.0 + codes[k] * 10.0 / 65535, 2e-6);
  h.format = GK_CM3;
  gk_kaldi_cm_decode(&h, payload, 1, 1, 1, 2, out);  /* row 1, columns 1..2 */
  GK_CHECK_NEAR(out[0], -3.0 + payload[4] * 10.0 / 255, 2e-6);
  GK_CHECK_NEAR(out[1], -3.0 + payload[5] * 10.0 / 255, 2e-6);
}

static void test_scp_lines(void) {
  gk_kaldi_scp_entry e;
  gk_error err;
  int blank;
  char l1[] = "utt1 /data/raw_mfcc.1.ark:1234[0:99,0:12]";
  GK_CHECK_OK(gk_kaldi_parse_scp_line(l1, &e, &blank, &err), &err);
  GK_CHECK(!blank && strcmp(e.key, "utt1") == 0 && strcmp(e.target, "/data/raw_mfcc.1.ark") == 0);
  GK_CHECK(e.offset == 1234 && e.src == GK_KALDI_SRC_FILE && e.has_range);
  GK_CHECK(!e.range.rows_all && e.range.r0 == 0 && e.range.r1 == 99 && e.range.c0 == 0 && e.range.c1 == 12);
  char l2[] = "  utt2\tcopy-feats ark:a.ark ark:- |  ";
  GK_CHECK_OK(gk_kaldi_parse_scp_line(l2, &e, &blank, &err), &err);
  GK_CHECK(e.src == GK_KALDI_SRC_PIPE && strcmp(e.target, "copy-feats ark:a.ark ark:-") == 0 && e.offset == -1);
  char l3[] = "u c:/x.ark[:,3:4]";
  GK_CHECK_OK(gk_kaldi_parse_scp_line(l3, &e, &blank, &err), &err);
  GK_CHECK(strcmp(e.target, "c:/x.ark") == 0 && e.offset == -1 && e.range.rows_all && e.range.c0 == 3);
  char l4[] = "   ";
  GK_CHECK_OK(gk_kaldi_parse_scp_line(l4, &e, &blank, &err), &err);
  GK_CHECK(blank);
  char l5[] = "lonely";
  GK_CHECK(gk_kaldi_parse_scp_line(l5, &e, &blank, &err) == GK_EFORMAT && strstr(err.message, "KEY RXFILENAME"));
  const char *bad[] = {"", ":,", "1:", "3:1", "a:b", "1:2,", "1:2,3", "1:2,3:4,5:6", "-1:2"};
  gk_kaldi_range r;
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
    GK_CHECK(gk_kaldi_parse_range(bad[k], strlen(bad[k]), &r, &err) == GK_EFORMAT);
  GK_CHECK_OK(gk_kaldi_parse_range(":", 1, &r, &err), &err);
  GK_CHECK(r.rows_all && r.cols_all);
  GK_CHECK(gk_kaldi_key_ok("spk1-utt_2") && !gk_kaldi_key_ok("a b") && !gk_kaldi_key_ok("") &&
           !gk_kaldi_key_ok("tab\there") && !gk_kaldi_key_ok("caf\xc3\xa9"));
}

static void test_errors(void) {
  gk_kaldi_reader *r;
  gk_error err;
  gk_error_clear(&err);
  GK_CHECK(gk_kaldi_reader_open(&r, "arc:x", &err) == GK_EINVAL && strstr(err.message, "bad rspecifier 'arc:x'"));
  GK_CHECK(gk_kaldi_reader_open(&r, "ark:/nonexistent/f.ark", &err) == GK_EIO && strstr(err.message, "f.ark"));
  /* A corrupt size byte: the error names file, key and byte, and repeats. */
  char path[] = "/tmp/gk_test_kaldi_XXXXXX";
  int fd = mkstemp(path);
  static const char bad[] = "k1 \0BFM \x05\x01\x00\x00\x00";
  GK_CHECK(fd >= 0 && write(fd, bad, sizeof bad - 1) == (ssize_t)(sizeof bad - 1));
  close(fd);
  char spec[64];
  snprintf(spec, sizeof spec, "ark:%s", path);
  GK_CHECK_OK(gk_kaldi_reader_open(&r, spec, &err), &err);
  const char *key;
  gk_matrix m;
  int done;
  GK_CHECK(gk_kaldi_reader_next(r, &key, &m, NULL, &done, &err) == GK_EFORMAT);
  GK_CHECK(strstr(err.message, ": key 'k1' at byte 8: expected a 4-byte integer (the row count)") != NULL);
  gk_error_clear(&err);
  GK_CHECK(gk_kaldi_reader_next(r, &key, &m, NULL, &done, &err) == GK_EFORMAT && strstr(err.message, "'k1'"));
  gk_kaldi_reader_close(r);
  unlink(path);
}

int main(void) {
  GK_RUN(test_fixtures);
  GK_RUN(test_cm2_cm3_closed_form);
  GK_RUN(test_scp_lines);
  GK_RUN(test_errors);
  return GK_TEST_SUMMARY();
}
