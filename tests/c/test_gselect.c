/* test_gselect.c: the selector built from explicit member lists (gk_selector_create_members)
 * against the one gk_selector_create builds, and the lists it must refuse. */
#include <stdint.h>
#include "gk_test.h"
#include "gmmkit/gmmkit.h"

enum { K = 12, D = 3, M = 4, N = 200 };

/* A UBM of 12 diagonal components on a line, from constants. */
static gk_gmm *make_ubm(gk_error *err) {
  gk_gmm *f;
  if (gk_gmm_create(&f, K, D, GK_COV_DIAG, NULL, err) != GK_OK) return NULL;
  for (size_t i = 0; i < K; i++) {
    f->weights[i] = 1.0 / K;
    for (size_t t = 0; t < D; t++) {
      f->means[i * D + t] = t == 0 ? 2.0 * (double)i : 0.1 * (double)((i * 7 + t) % 5);
      f->covs[i * D + t] = 0.5 + 0.05 * (double)((i + t) % 4);
    }
  }
  if (gk_gmm_prepare(f, err) != GK_OK) {
    gk_gmm_free(f);
    return NULL;
  }
  return f;
}

/* Runnalls' reduction of f to k clusters (NULL on failure, counted as a failed check). */
static gk_gmm *clusters_of(const gk_gmm *f, size_t k, gk_error *err) {
  gk_simplify_opts o;
  gk_simplify_opts_default(&o);
  o.method = GK_SIMPLIFY_RUNNALLS;
  gk_gmm *g = NULL;
  GK_CHECK_OK(gk_simplify_reduce(f, k, &o, &g, NULL, NULL, err), err);
  return g;
}

/* The member lists of s (counts per cluster, members concatenated); the total. */
static size_t lists_of(const gk_selector *s, size_t *count, size_t *members) {
  size_t q = 0;
  for (size_t j = 0; j < gk_selector_clusters(s); j++) {
    const size_t *m = gk_selector_members(s, j, &count[j]);
    for (size_t t = 0; t < count[j]; t++) members[q++] = m[t];
  }
  return q;
}

static void test_members_equal_create(void) {
  gk_error err;
  gk_gmm *f = make_ubm(&err);
  if (!f) { GK_CHECK(0); return; }
  gk_gmm *g = clusters_of(f, M, &err);
  float x[N * D];
  for (size_t i = 0; i < N * D; i++) x[i] = (float)(i % D == 0 ? (double)(i % 97) * 0.25 : 0.01 * (double)(i % 13));
  gk_matrix xm = gk_matrix_view(N, D, GK_FLOAT32, x);
  gk_gmm_data data = {&xm, 1, 1};
  for (size_t overlap = 1; g && overlap <= 2; overlap++) {
    gk_selector *a = NULL, *b = NULL;
    GK_CHECK_OK(gk_selector_create(&a, f, g, overlap, NULL, &err), &err);
    if (!a) continue;
    size_t count[M], members[K * 2];
    GK_CHECK(lists_of(a, count, members) == K * overlap);
    GK_CHECK_OK(gk_selector_create_members(&b, f, gk_selector_mixture(a), overlap, count, members, NULL, &err), &err);
    if (b) {
      GK_CHECK(gk_selector_fingerprint(a) == gk_selector_fingerprint(b));
      GK_CHECK(gk_selector_fingerprint(a) == gk_gmm_fingerprint(f));
      for (size_t search = 1; search <= gk_selector_clusters(a); search++) {
        size_t ia[N * 3], ib[N * 3];
        double ea, eb;
        GK_CHECK_OK(gk_selector_select(a, &data, search, 3, ia, &ea, &err), &err);
        GK_CHECK_OK(gk_selector_select(b, &data, search, 3, ib, &eb, &err), &err);
        GK_CHECK(memcmp(ia, ib, sizeof ia) == 0);
        GK_CHECK(ea == eb);
      }
    }
    gk_selector_free(b);
    gk_selector_free(a);
  }
  gk_gmm_free(g);
  gk_gmm_free(f);
}

/* Lists that break the rules: GK_EFORMAT with a message, nothing made. */
static void test_members_refused(void) {
  gk_error err;
  gk_gmm *f = make_ubm(&err);
  if (!f) { GK_CHECK(0); return; }
  gk_gmm *g = clusters_of(f, 2, &err);
  if (!g) { gk_gmm_free(f); return; }
  /* a valid pair of lists: 0..5 and 6..11 */
  size_t count[2] = {6, 6}, members[K];
  for (size_t i = 0; i < K; i++) members[i] = i;
  gk_selector *s = NULL;
  GK_CHECK_OK(gk_selector_create_members(&s, f, g, 1, count, members, NULL, &err), &err);
  gk_selector_free(s);
  struct { size_t c0, at, v; const char *why; } bad[] = {
    {6, 3, 12, "a member index >= the 12 components"},
    {6, 3, SIZE_MAX, "a member index >= the 12 components"},
    {6, 3, 2, "not in increasing order"},
    {6, 8, 5, "not in increasing order"},
    {13, 0, 0, "more than the 12 components"},
  };
  for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
    size_t cnt[2] = {bad[c].c0, 6}, mem[K];
    memcpy(mem, members, sizeof mem);
    if (bad[c].c0 == 6) mem[bad[c].at] = bad[c].v;
    if (bad[c].c0 == 13) cnt[1] = 0;
    s = NULL;
    gk_error_clear(&err);
    GK_CHECK(gk_selector_create_members(&s, f, g, 1, cnt, mem, NULL, &err) == GK_EFORMAT);
    GK_CHECK(s == NULL);
    if (!strstr(err.message, bad[c].why)) fprintf(stderr, "case %zu: '%s'\n", c, err.message);
    GK_CHECK(strstr(err.message, bad[c].why) != NULL);
  }
  /* overlap 2 with each component listed once */
  s = NULL;
  GK_CHECK(gk_selector_create_members(&s, f, g, 2, count, members, NULL, &err) == GK_EFORMAT);
  GK_CHECK(strstr(err.message, "component 1 is in 1 clusters, fewer than overlap = 2") != NULL);
  /* a component in two clusters (as members chosen by data make) is fine; one in none is not */
  size_t cnt2[2] = {6, 6}, mem2[K] = {0, 1, 2, 3, 4, 5, 0, 7, 8, 9, 10, 11};
  GK_CHECK(gk_selector_create_members(&s, f, g, 1, cnt2, mem2, NULL, &err) == GK_EFORMAT);
  GK_CHECK(strstr(err.message, "component 7 is in 0 clusters, fewer than overlap = 1") != NULL);
  size_t cnt3[2] = {7, 6}, mem3[K + 1] = {0, 1, 2, 3, 4, 5, 6, 0, 7, 8, 9, 10, 11};
  GK_CHECK_OK(gk_selector_create_members(&s, f, g, 1, cnt3, mem3, NULL, &err), &err);
  size_t n0;
  gk_selector_members(s, 1, &n0);
  GK_CHECK(n0 == 6);
  gk_selector_free(s);
  gk_gmm_free(g);
  gk_gmm_free(f);
}

int main(void) {
  GK_RUN(test_members_equal_create);
  GK_RUN(test_members_refused);
  return GK_TEST_SUMMARY();
}
