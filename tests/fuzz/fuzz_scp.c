/* fuzz_scp.c: libFuzzer target for Kaldi script files: every line through
 * gk_kaldi_parse_scp_line (and so the range parser), then the file entries re-pointed at a
 * fixed in-memory archive and read through "scp:", so that hostile offsets and ranges reach
 * the reader. Commands are parsed, never run. */
#define _GNU_SOURCE
#include "fuzz_common.h"
#include "../../src/core/kaldi_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A small archive: a 6 x 4 FM, a CM, a CM2, a text matrix and a DV. */
static const char *archive_path(void) {
  static char path[64];
  if (path[0]) return path;
  int fd = memfd_create("gmmkit-fuzz-ark", 0);
  if (fd < 0) abort();
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  float v[24];
  for (int i = 0; i < 24; i++) v[i] = (float)((i * 7) % 11) - 3.5f;
  gk_matrix m = gk_matrix_view(6, 4, GK_FLOAT32, v);
  gk_error err;
  const char *specs[] = {"ark:%s", "ark:%s", "ark:%s", "ark,t:%s"};
  gk_kaldi_compress kinds[] = {GK_KALDI_PLAIN, GK_KALDI_CM, GK_KALDI_CM2, GK_KALDI_PLAIN};
  char tmp[] = "/tmp/gmmkit-fuzz-scp-XXXXXX";
  int tfd = mkstemp(tmp);
  if (tfd < 0) abort();
  close(tfd);
  FILE *all = fopen(tmp, "wb+");
  for (int k = 0; k < 4; k++) {
    char part[] = "/tmp/gmmkit-fuzz-part-XXXXXX", spec[96];
    int pfd = mkstemp(part);
    if (pfd < 0) abort();
    close(pfd);
    snprintf(spec, sizeof spec, specs[k], part);
    gk_kaldi_writer *w;
    if (gk_kaldi_writer_open(&w, spec, kinds[k], &err) != GK_OK) abort();
    if (gk_kaldi_writer_write(w, "m", &m, &err) != GK_OK) abort();
    if (gk_kaldi_writer_close(w, &err) != GK_OK) abort();
    FILE *p = fopen(part, "rb");
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, p);
    fclose(p);
    unlink(part);
    fwrite(buf, 1, n, all);
  }
  rewind(all);
  char buf[16384];
  size_t n = fread(buf, 1, sizeof buf, all);
  fclose(all);
  unlink(tmp);
  if (write(fd, buf, n) != (ssize_t)n) abort();
  return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *ark = archive_path();
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = 0;
  size_t cap = 64 * 256, len = 0;  /* 64 lines of at most ~200 bytes */
  char *scp = malloc(cap);
  if (!scp) abort();
  int lines = 0;
  for (char *line = text, *next; line && lines < 64; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = 0;
    gk_kaldi_scp_entry e;
    gk_error err;
    gk_error_clear(&err);
    int blank;
    gk_status st = gk_kaldi_parse_scp_line(line, &e, &blank, &err);
    fuzz_check_status(st, &err);
    if (st != GK_OK || blank) continue;
    if (!*e.key || !*e.target || strpbrk(e.key, " \t\n")) abort();
    if (e.has_range && ((!e.range.rows_all && e.range.r0 > e.range.r1) ||
                        (!e.range.cols_all && e.range.c0 > e.range.c1)))
      abort();
    if (e.src != GK_KALDI_SRC_FILE) continue;
    int n = snprintf(scp + len, cap - len, "k%d %s:%lld", lines, ark, e.offset < 0 ? 0 : e.offset % 200);
    len += (size_t)n;
    if (e.has_range) {
      char r[96], c[96];
      if (e.range.rows_all) snprintf(r, sizeof r, ":");
      else snprintf(r, sizeof r, "%lld:%lld", e.range.r0 % 12, e.range.r1 % 12);
      if (e.range.cols_all) snprintf(c, sizeof c, ":");
      else snprintf(c, sizeof c, "%lld:%lld", e.range.c0 % 8, e.range.c1 % 8);
      len += (size_t)snprintf(scp + len, cap - len, "[%s,%s]", r, c);
    }
    scp[len++] = '\n';
    lines++;
  }
  free(text);
  int fd = memfd_create("gmmkit-fuzz-scp", 0);
  if (fd < 0 || write(fd, scp, len) != (ssize_t)len) abort();
  free(scp);
  char spec[96];
  snprintf(spec, sizeof spec, "scp:/proc/self/fd/%d", fd);
  gk_kaldi_reader *r;
  gk_error err;
  gk_error_clear(&err);
  if (gk_kaldi_reader_open(&r, spec, &err) != GK_OK) abort();
  for (;;) {
    const char *key;
    int done;
    gk_matrix m;
    gk_status st = gk_kaldi_reader_next(r, &key, &m, NULL, &done, &err);
    fuzz_check_status(st, &err);
    if (st != GK_OK || done) break;
    volatile double sum = 0;
    for (size_t i = 0; i < gk_matrix_size(&m); i++) sum += gk_matrix_get(&m, i / m.cols, i % m.cols);
    gk_matrix_release(&m, NULL);
  }
  gk_kaldi_reader_close(r);
  close(fd);
  return 0;
}
