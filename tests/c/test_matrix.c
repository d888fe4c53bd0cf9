/* test_matrix.c: matrices, .npy files, atomic files and the seeded generator. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "gmmkit/gmmkit.h"
#include "gk_test.h"

/* Closed form: {1, 2, 3, 4} + c has mean 2.5 + c and population variance 1.25, for any c.
 * With c = 1e8 a naive sum of squares loses every digit. */
static void test_moments_offset(void) {
  double data[4 * 2], mean[2], var[2];
  gk_matrix m = gk_matrix_view(4, 2, GK_FLOAT64, data);
  gk_error err;
  int i;
  for (i = 0; i < 4; i++) {
    data[2 * i] = 1e8 + (i + 1);
    data[2 * i + 1] = -(i + 1);
  }
  GK_CHECK_OK(gk_matrix_col_moments(&m, 0, mean, var, &err), &err);
  GK_CHECK_NEAR(mean[0], 1e8 + 2.5, 1e-7);
  GK_CHECK_NEAR(var[0], 1.25, 1e-9);
  GK_CHECK_NEAR(mean[1], -2.5, 1e-15);
  GK_CHECK_NEAR(var[1], 1.25, 1e-15);
  GK_CHECK_OK(gk_matrix_col_moments(&m, 1, mean, var, &err), &err);
  GK_CHECK_NEAR(var[1], 5.0 / 3.0, 1e-15);
  GK_CHECK(gk_matrix_col_moments(&m, 4, mean, var, &err) == GK_EINVAL);
}

static void test_select_stack(void) {
  float a[6] = {1, 2, 3, 4, 5, 6}, out[6];
  double b[2] = {7, 8}, vs[8], hs[4];
  size_t rows[2] = {2, 0}, cols[2] = {1, 1};
  gk_matrix A = gk_matrix_view(3, 2, GK_FLOAT32, a), B = gk_matrix_view(1, 2, GK_FLOAT64, b);
  gk_matrix R = gk_matrix_view(2, 2, GK_FLOAT32, out), C = gk_matrix_view(3, 2, GK_FLOAT32, out);
  gk_matrix V = gk_matrix_view(4, 2, GK_FLOAT64, vs), H = gk_matrix_view(2, 2, GK_FLOAT64, hs);
  gk_matrix Bc = gk_matrix_view(2, 1, GK_FLOAT64, b);
  const gk_matrix *parts[2] = {&A, &B}, *hparts[2] = {&Bc, &Bc};
  gk_error err;
  gk_matrix_select_rows(&A, rows, 2, &R);
  GK_CHECK(out[0] == 5 && out[1] == 6 && out[2] == 1 && out[3] == 2);
  gk_matrix_select_cols(&A, cols, 2, &C);
  GK_CHECK(out[0] == 2 && out[1] == 2 && out[4] == 6 && out[5] == 6);
  GK_CHECK_OK(gk_matrix_vstack(parts, 2, &V, &err), &err);
  GK_CHECK(vs[0] == 1 && vs[5] == 6 && vs[6] == 7 && vs[7] == 8);
  GK_CHECK_OK(gk_matrix_hstack(hparts, 2, &H, &err), &err);
  GK_CHECK(hs[0] == 7 && hs[1] == 7 && hs[2] == 8 && hs[3] == 8);
  V.rows = 5;
  GK_CHECK(gk_matrix_vstack(parts, 2, &V, &err) == GK_EINVAL);
  GK_CHECK(strstr(err.message, "5") != NULL);
}

static void test_limits_and_nonfinite(void) {
  size_t bytes, r, c;
  double d[4] = {0, 1, 0.0 / 0.0, 3};
  gk_matrix m = gk_matrix_view(2, 2, GK_FLOAT64, d);
  gk_error err;
  GK_CHECK(gk_matrix_bytes(SIZE_MAX / 2, 4, GK_FLOAT64, &bytes, &err) == GK_ELIMIT);
  GK_CHECK(gk_matrix_bytes(1u << 17, 1u << 17, GK_FLOAT32, &bytes, &err) == GK_OK);
  GK_CHECK(gk_matrix_find_nonfinite(&m, &r, &c) && r == 1 && c == 0);
  d[2] = 2;
  GK_CHECK(!gk_matrix_find_nonfinite(&m, &r, &c));
}

static void tmp_path(char *buf, size_t n, const char *name) {
  snprintf(buf, n, "/tmp/gk_test_matrix_%ld_%s", (long)getpid(), name);
}

static void test_npy_round_trip(void) {
  float a[6] = {1.5f, -2, 3, 4e10f, 5, -6e-10f}, b[6];
  char path[256];
  gk_matrix A = gk_matrix_view(2, 3, GK_FLOAT32, a), B = gk_matrix_view(2, 3, GK_FLOAT32, b);
  gk_npy_header h;
  gk_error err;
  FILE *f;
  tmp_path(path, sizeof path, "rt.npy");
  GK_CHECK_OK(gk_npy_save(path, &A, &err), &err);
  f = fopen(path, "rb");
  GK_CHECK(f != NULL);
  if (!f) return;
  GK_CHECK_OK(gk_npy_read_header(f, &h, &err), &err);
  GK_CHECK(h.rows == 2 && h.cols == 3 && h.dtype == GK_FLOAT32 && h.ndim == 2);
  GK_CHECK(h.data_offset % 64 == 0);
  GK_CHECK_OK(gk_npy_read_data(f, &h, &B, &err), &err);
  GK_CHECK(memcmp(a, b, sizeof a) == 0);
  fclose(f);
  unlink(path);
}

/* Builds a .npy image: magic, version, header text padded as NumPy pads it, then `data`. */
static size_t make_npy(unsigned char *buf, int major, const char *dict, const void *data, size_t n) {
  size_t dl = strlen(dict), pre = major == 1 ? 10 : 12, total = (pre + dl + 1 + 63) / 64 * 64;
  size_t hl = total - pre;
  memcpy(buf, "\x93NUMPY", 6);
  buf[6] = (unsigned char)major;
  buf[7] = 0;
  buf[8] = (unsigned char)(hl & 0xff);
  buf[9] = (unsigned char)(hl >> 8);
  if (major != 1) buf[10] = buf[11] = 0;
  memcpy(buf + pre, dict, dl);
  memset(buf + pre + dl, ' ', hl - dl - 1);
  buf[total - 1] = '\n';
  if (n) memcpy(buf + total, data, n);
  return total + n;
}

/* Reads a .npy image from memory; returns the status and leaves the message in err. */
static gk_status read_mem(unsigned char *buf, size_t n, gk_error *err) {
  double out[64];
  gk_npy_header h;
  gk_status s;
  FILE *f = fmemopen(buf, n, "rb");
  if (!f) return GK_EIO;
  s = gk_npy_read_header(f, &h, err);
  if (s == GK_OK) {
    gk_matrix m = gk_matrix_view(h.rows, h.cols, h.dtype, out);
    s = h.rows * h.cols <= 64 ? gk_npy_read_data(f, &h, &m, err) : GK_EINVAL;
  }
  fclose(f);
  return s;
}

static void test_npy_bad_inputs(void) {
  static const struct {
    const char *dict;
    size_t data_bytes;
    gk_status status;
    const char *says;
  } cases[] = {
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", 32, GK_OK, ""},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", 32, GK_OK, ""},
      {"{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }", 16, GK_OK, ""},
      {"{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }", 16, GK_EFORMAT, "'<i4'"},
      {"{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", 32, GK_EFORMAT, "Fortran"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2, 2), }", 64, GK_EFORMAT, "3-dimensional"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (), }", 8, GK_EFORMAT, "0-dimensional"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", 31, GK_EFORMAT, "truncated"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999, 99999999999), }", 8, GK_ELIMIT, "limit"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 10000), }", 8, GK_EFORMAT, "truncated"},
      {"{'descr': '<f8', 'shape': (2, 2), }", 32, GK_EFORMAT, "fortran_order"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), 'x': 1}", 32, GK_EFORMAT, "'x'"},
      {"['descr']", 0, GK_EFORMAT, "dict"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, -2), }", 32, GK_EFORMAT, "shape"},
      {"{'descr': '<f8' 'fortran_order': False}", 32, GK_EFORMAT, "malformed"},
  };
  unsigned char buf[1024], data[64] = {0};
  gk_error err;
  size_t i, n;
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    gk_status s;
    n = make_npy(buf, 1, cases[i].dict, data, cases[i].data_bytes);
    gk_error_clear(&err);
    s = read_mem(buf, n, &err);
    if (s != cases[i].status || (s != GK_OK && !strstr(err.message, cases[i].says))) {
      fprintf(stderr, "case %zu (%s): status %d, message '%s'\n", i, cases[i].dict, (int)s, err.message);
      GK_CHECK(0);
    }
  }
  /* Preamble damage: bad magic, unknown version, empty or oversized header, truncation. */
  n = make_npy(buf, 1, cases[0].dict, data, 32);
  buf[1] = 'X';
  GK_CHECK(read_mem(buf, n, &err) == GK_EFORMAT && strstr(err.message, "magic"));
  n = make_npy(buf, 1, cases[0].dict, data, 32);
  buf[6] = 9;
  GK_CHECK(read_mem(buf, n, &err) == GK_EFORMAT && strstr(err.message, "version"));
  n = make_npy(buf, 1, cases[0].dict, data, 32);
  buf[8] = buf[9] = 0;
  GK_CHECK(read_mem(buf, n, &err) == GK_ELIMIT);
  GK_CHECK(read_mem(buf, 5, &err) == GK_EFORMAT && strstr(err.message, "truncated"));
  n = make_npy(buf, 1, cases[0].dict, data, 32);
  GK_CHECK(read_mem(buf, 40, &err) == GK_EFORMAT && strstr(err.message, "truncated"));
  n = make_npy(buf, 2, cases[0].dict, data, 32);
  buf[10] = buf[11] = 0xff;
  GK_CHECK(read_mem(buf, n, &err) == GK_ELIMIT && strstr(err.message, "header length"));
  n = make_npy(buf, 2, cases[0].dict, data, 32);
  GK_CHECK(read_mem(buf, n, &err) == GK_OK);
}

static void test_atomic(void) {
  char path[256], tmpl[300];
  double one = 1, two = 2, back;
  gk_matrix A = gk_matrix_view(1, 1, GK_FLOAT64, &one), B = gk_matrix_view(1, 1, GK_FLOAT64, &two);
  gk_matrix R = gk_matrix_view(1, 1, GK_FLOAT64, &back);
  gk_atomic_file af;
  gk_npy_header h;
  gk_error err;
  FILE *f;
  tmp_path(path, sizeof path, "atomic.npy");
  GK_CHECK_OK(gk_npy_save(path, &A, &err), &err);
  /* An aborted write leaves the old file and no temporary behind. */
  GK_CHECK_OK(gk_atomic_open(&af, path, &err), &err);
  snprintf(tmpl, sizeof tmpl, "%s", af.tmp_path);
  GK_CHECK(gk_npy_write(af.fp, &B, &err) == GK_OK);
  gk_atomic_abort(&af);
  gk_atomic_abort(&af); /* idempotent */
  GK_CHECK(access(tmpl, F_OK) != 0);
  f = fopen(path, "rb");
  GK_CHECK(f && gk_npy_read_header(f, &h, &err) == GK_OK && gk_npy_read_data(f, &h, &R, &err) == GK_OK);
  GK_CHECK(back == 1);
  if (f) fclose(f);
  /* A save into a missing directory fails cleanly. */
  GK_CHECK(gk_npy_save("/nonexistent-dir/x.npy", &A, &err) == GK_EIO);
  GK_CHECK(strstr(err.message, "/nonexistent-dir/x.npy") != NULL);
  unlink(path);
}

static void test_rng(void) {
  gk_rng a, b;
  double s = 0, s2 = 0, n = 200000;
  int i, same = 1, hist[7] = {0};
  gk_rng_seed(&a, 42, 0);
  gk_rng_seed(&b, 42, 0);
  for (i = 0; i < 1000; i++) same &= gk_rng_next(&a) == gk_rng_next(&b);
  GK_CHECK(same);
  gk_rng_seed(&b, 42, 1);
  GK_CHECK(gk_rng_next(&a) != gk_rng_next(&b));
  for (i = 0; i < (int)n; i++) {
    double x = gk_rng_normal(&a);
    s += x;
    s2 += x * x;
  }
  /* Mean and variance of N(0,1) within 5 standard errors. */
  GK_CHECK_NEAR(s / n, 0.0, 5.0 / sqrt(n));
  GK_CHECK_NEAR(s2 / n, 1.0, 5.0 * sqrt(2.0 / n));
  for (i = 0; i < 70000; i++) hist[gk_rng_below(&a, 7)]++;
  for (i = 0; i < 7; i++) GK_CHECK_NEAR(hist[i], 10000, 500);
}

int main(void) {
  GK_RUN(test_moments_offset);
  GK_RUN(test_select_stack);
  GK_RUN(test_limits_and_nonfinite);
  GK_RUN(test_npy_round_trip);
  GK_RUN(test_npy_bad_inputs);
  GK_RUN(test_atomic);
  GK_RUN(test_rng);
  return GK_TEST_SUMMARY();
}
