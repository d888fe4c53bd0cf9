/* test_gmm.c: the GMM object, scoring, EM and files against closed forms and textbook values. */
#include "gk_test.h"
#include "gmmkit/gmmkit.h"

/* prepare: diagonal standard deviations and log-determinants; full Cholesky factors. */
static void test_prepare(void) {
  gk_error err_, *err = &err_;
  gk_error_clear(err);
  gk_gmm *g = NULL;
  GK_CHECK_OK(gk_gmm_create(&g, 2, 2, GK_COV_DIAG, NULL, err), err);
  if (!g) return;
  g->weights[0] = 0.25; g->weights[1] = 0.75;
  g->covs[0] = 4.0; g->covs[1] = 9.0; g->covs[2] = 1.0; g->covs[3] = 0.25;
  GK_CHECK_OK(gk_gmm_prepare(g, err), err);
  GK_CHECK_NEAR(g->chol[0], 2.0, 1e-15);
  GK_CHECK_NEAR(g->chol[3], 0.5, 1e-15);
  GK_CHECK_NEAR(g->log_det[0], log(36.0), 1e-14);
  GK_CHECK_NEAR(g->log_det[1], log(0.25), 1e-14);
  g->weights[1] = 0.7;
  GK_CHECK(gk_gmm_prepare(g, err) == GK_EINVAL);
  GK_CHECK(strstr(err->message, "sum") != NULL);
  g->weights[1] = 0.75;
  g->covs[3] = 0.0;
  GK_CHECK(gk_gmm_prepare(g, err) == GK_ENUMERIC);
  GK_CHECK(strstr(err->message, "component 2") != NULL);
  gk_gmm_free(g);

  /* Full: S = [[4, 2], [2, 3]] has L = [[2, 0], [1, sqrt 2]], |S| = 8. */
  GK_CHECK_OK(gk_gmm_create(&g, 1, 2, GK_COV_FULL, NULL, err), err);
  if (!g) return;
  g->weights[0] = 1.0;
  double S[4] = {4, 2, 2, 3};
  memcpy(g->covs, S, sizeof S);
  GK_CHECK_OK(gk_gmm_prepare(g, err), err);
  GK_CHECK_NEAR(g->chol[0], 2.0, 1e-15);
  GK_CHECK_NEAR(g->chol[1], 0.0, 0.0);
  GK_CHECK_NEAR(g->chol[2], 1.0, 1e-15);
  GK_CHECK_NEAR(g->chol[3], sqrt(2.0), 1e-15);
  GK_CHECK_NEAR(g->log_det[0], log(8.0), 1e-14);
  gk_gmm *c = NULL;
  GK_CHECK_OK(gk_gmm_clone(g, &c, NULL, err), err);
  if (c) GK_CHECK_NEAR(c->log_det[0], log(8.0), 1e-14);
  gk_gmm_free(c);
  g->covs[1] = 2.5;  /* not symmetric */
  GK_CHECK(gk_gmm_prepare(g, err) == GK_EINVAL);
  g->covs[1] = 5.0; g->covs[2] = 5.0;  /* symmetric, indefinite */
  GK_CHECK(gk_gmm_prepare(g, err) == GK_ENUMERIC);
  GK_CHECK(strstr(err->message, "positive definite") != NULL);
  gk_gmm_free(g);
}

int main(void) {
  GK_RUN(test_prepare);
  return GK_TEST_SUMMARY();
}
