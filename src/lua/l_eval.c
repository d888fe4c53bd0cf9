/*
 * l_eval.c: the Lua binding of gmmkit/eval.h: gk.eval (eer, min_dcf, act_dcf, det, znorm,
 * tnorm, snorm). Score lists are Lua arrays of numbers or vector matrices; score matrices
 * are gk.matrix matrices (rows = models, columns = test utterances).
 */
#include <math.h>
#include <string.h>

#include "gkl.h"
#include "gmmkit/eval.h"

/* The scores at `arg` (an array of numbers, or a 1 x n or n x 1 Matrix) as float64, the
 * converted copy left in place of the argument so that it lives as long as the call.
 * `name` names the argument in errors. */
static const double *check_scores(lua_State *L, int arg, const char *name, size_t *n) {
  int pushed = 0;
  gk_matrix *m = gkL_testmatrix(L, arg);
  if (!m && !lua_istable(L, arg)) luaL_typeerror(L, arg, "array of scores or Matrix");
  m = gkL_tomatrix(L, arg, GK_FLOAT64, &pushed);
  if (pushed) lua_replace(L, arg);
  if (m->rows != 1 && m->cols != 1 && m->rows * m->cols > 0)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s must be a vector (1 x n or n x 1), got a %I x %I matrix",
                                          name, (lua_Integer)m->rows, (lua_Integer)m->cols));
  *n = m->rows * m->cols;
  if (*n == 0) luaL_argerror(L, arg, lua_pushfstring(L, "%s is empty: no scores", name));
  const double *x = m->data;
  for (size_t i = 0; i < *n; i++)
    if (isnan(x[i])) luaL_argerror(L, arg, lua_pushfstring(L, "%s score %I is NaN", name, (lua_Integer)i + 1));
  return x;
}

/* The DCF options at `arg` (absent: NIST SRE defaults). */
static void check_dcf(lua_State *L, int arg, gk_dcf_params *p) {
  static const char *const keys[] = {"p_target", "c_miss", "c_fa", NULL};
  gkL_checkoptions(L, arg, keys);
  gk_dcf_params_default(p);
  p->p_target = gkL_optnumber(L, arg, "p_target", p->p_target, -HUGE_VAL, HUGE_VAL);
  p->c_miss = gkL_optnumber(L, arg, "c_miss", p->c_miss, -HUGE_VAL, HUGE_VAL);
  p->c_fa = gkL_optnumber(L, arg, "c_fa", p->c_fa, -HUGE_VAL, HUGE_VAL);
  if (!(p->p_target > 0 && p->p_target < 1))
    gkL_opterror(L, arg, "p_target", "must be in (0, 1), got %f", p->p_target);
  if (!(p->c_miss > 0 && p->c_miss < HUGE_VAL))
    gkL_opterror(L, arg, "c_miss", "must be a finite cost > 0, got %f", p->c_miss);
  if (!(p->c_fa > 0 && p->c_fa < HUGE_VAL))
    gkL_opterror(L, arg, "c_fa", "must be a finite cost > 0, got %f", p->c_fa);
}

static void call_ok(lua_State *L, gk_status st, const gk_error *err) {
  if (st != GK_OK) gkL_raise(L, err);
}

static int f_eer(lua_State *L) {
  size_t nt, nn;
  const double *tar = check_scores(L, 1, "tar", &nt);
  const double *non = check_scores(L, 2, "non", &nn);
  double eer, thr;
  gk_error err;
  gk_error_clear(&err);
  call_ok(L, gk_eval_eer(tar, nt, non, nn, &eer, &thr, &err), &err);
  lua_pushnumber(L, eer);
  lua_pushnumber(L, thr);
  return 2;
}

static int f_min_dcf(lua_State *L) {
  size_t nt, nn;
  const double *tar = check_scores(L, 1, "tar", &nt);
  const double *non = check_scores(L, 2, "non", &nn);
  gk_dcf_params p;
  check_dcf(L, 3, &p);
  double dcf, thr;
  gk_error err;
  gk_error_clear(&err);
  call_ok(L, gk_eval_min_dcf(tar, nt, non, nn, &p, &dcf, &thr, &err), &err);
  lua_pushnumber(L, dcf);
  lua_pushnumber(L, thr);
  return 2;
}

static int f_act_dcf(lua_State *L) {
  size_t nt, nn;
  const double *tar = check_scores(L, 1, "tar", &nt);
  const double *non = check_scores(L, 2, "non", &nn);
  double thr = luaL_checknumber(L, 3);
  if (isnan(thr)) luaL_argerror(L, 3, "threshold is NaN");
  gk_dcf_params p;
  check_dcf(L, 4, &p);
  double dcf, pmiss, pfa;
  gk_error err;
  gk_error_clear(&err);
  call_ok(L, gk_eval_act_dcf(tar, nt, non, nn, thr, &p, &dcf, &pmiss, &pfa, &err), &err);
  lua_pushnumber(L, dcf);
  lua_pushnumber(L, pmiss);
  lua_pushnumber(L, pfa);
  return 3;
}

static void push_array(lua_State *L, const double *x, size_t n, const char *field) {
  lua_createtable(L, n > 0x7fffffff ? 0 : (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_pushnumber(L, x[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, field);
}

static int f_det(lua_State *L) {
  static const char *const keys[] = {"rocch", NULL};
  size_t nt, nn;
  const double *tar = check_scores(L, 1, "tar", &nt);
  const double *non = check_scores(L, 2, "non", &nn);
  gkL_checkoptions(L, 3, keys);
  int hull = gkL_optboolean(L, 3, "rocch", 0);
  size_t cap = nt + nn + 1, n = 0;
  /* Scratch in a matrix userdata, so that the collector frees it whatever happens. */
  gk_matrix *buf = gkL_newmatrix(L, 3, cap, GK_FLOAT64);
  double *pmiss = buf->data, *pfa = pmiss + cap, *thr = pfa + cap;
  gk_error err;
  gk_error_clear(&err);
  call_ok(L, gk_eval_det(tar, nt, non, nn, hull, &n, pmiss, pfa, thr, &err), &err);
  lua_createtable(L, 0, 3);
  push_array(L, pmiss, n, "pmiss");
  push_array(L, pfa, n, "pfa");
  push_array(L, thr, n, "threshold");
  return 1;
}

/* ---- score normalisation ---------------------------------------------------------------- */

/* The float64 score matrix at `arg` (converted copy left in its place), NaN-free. */
static gk_matrix *check_scorematrix(lua_State *L, int arg, const char *name) {
  int pushed = 0;
  if (!gkL_testmatrix(L, arg) && !lua_istable(L, arg)) luaL_typeerror(L, arg, GKL_MATRIX);
  gk_matrix *m = gkL_tomatrix(L, arg, GK_FLOAT64, &pushed);
  if (pushed) lua_replace(L, arg);
  const double *d = m->data;
  for (size_t i = 0; i < m->rows * m->cols; i++)
    if (isnan(d[i]))
      luaL_argerror(L, arg, lua_pushfstring(L, "%s: row %I, column %I is NaN", name,
                                            (lua_Integer)(i / m->cols) + 1, (lua_Integer)(i % m->cols) + 1));
  return m;
}

/* Reads {top = N} at `arg`; ne / nc: the cohort sizes it may not exceed (0: no such side). */
static size_t check_top(lua_State *L, int arg, size_t ne, size_t nc) {
  static const char *const keys[] = {"top", NULL};
  gkL_checkoptions(L, arg, keys);
  lua_Integer top = gkL_optinteger(L, arg, "top", 0, 0, LUA_MAXINTEGER);
  if (top == 1) gkL_opterror(L, arg, "top", "must be 0 (the whole cohort) or >= 2, got 1");
  if (ne && (size_t)top > ne)
    gkL_opterror(L, arg, "top", "%I exceeds the %I impostor scores in each row of E", top, (lua_Integer)ne);
  if (nc && (size_t)top > nc)
    gkL_opterror(L, arg, "top", "%I exceeds the %I cohort scores in each column of T", top, (lua_Integer)nc);
  return (size_t)top;
}

/* E (at earg) must have S's rows and >= 2 columns; T (at targ) S's columns and >= 2 rows. */
static void check_shapes(lua_State *L, const gk_matrix *S, int earg, const gk_matrix *E, int targ,
                         const gk_matrix *T) {
  if (E && E->rows != S->rows)
    luaL_argerror(L, earg, lua_pushfstring(L, "E is %I x %I, S is %I x %I: E needs one row of impostor "
                  "scores for each model (row) of S", (lua_Integer)E->rows, (lua_Integer)E->cols,
                  (lua_Integer)S->rows, (lua_Integer)S->cols));
  if (E && E->cols < 2 && S->rows > 0)
    luaL_argerror(L, earg, lua_pushfstring(L, "E has %I column(s): each model needs at least 2 impostor "
                  "scores", (lua_Integer)E->cols));
  if (T && T->cols != S->cols)
    luaL_argerror(L, targ, lua_pushfstring(L, "T is %I x %I, S is %I x %I: T needs one column of cohort "
                  "scores for each test (column) of S", (lua_Integer)T->rows, (lua_Integer)T->cols,
                  (lua_Integer)S->rows, (lua_Integer)S->cols));
  if (T && T->rows < 2 && S->cols > 0)
    luaL_argerror(L, targ, lua_pushfstring(L, "T has %I row(s): each test needs at least 2 cohort scores",
                  (lua_Integer)T->rows));
}

/* A core failure of a norm: a cohort with zero spread names E or T; raise it against
 * that argument. */
static int raise_norm(lua_State *L, const gk_error *err, int earg, int targ) {
  if (err->status == GK_ENUMERIC && err->message[0] == 'E' && earg) return luaL_argerror(L, earg, err->message);
  if (err->status == GK_ENUMERIC && err->message[0] == 'T' && targ) return luaL_argerror(L, targ, err->message);
  return gkL_raise(L, err);
}

static int run_norm(lua_State *L, int earg, int targ, int oarg) {
  gk_matrix *S = check_scorematrix(L, 1, "S");
  gk_matrix *E = earg ? check_scorematrix(L, earg, "E") : NULL;
  gk_matrix *T = targ ? check_scorematrix(L, targ, "T") : NULL;
  check_shapes(L, S, earg, E, targ, T);
  size_t top = check_top(L, oarg, E && S->rows ? E->cols : 0, T && S->cols ? T->rows : 0);
  gk_matrix *out = gkL_newmatrix(L, S->rows, S->cols, GK_FLOAT64);
  gk_error err;
  gk_error_clear(&err);
  gk_status st = E && T ? gk_eval_snorm(S, E, T, top, out, &err)
               : E      ? gk_eval_znorm(S, E, top, out, &err)
                        : gk_eval_tnorm(S, T, top, out, &err);
  if (st != GK_OK) raise_norm(L, &err, earg, targ);
  return 1;
}

static int f_znorm(lua_State *L) { return run_norm(L, 2, 0, 3); }
static int f_tnorm(lua_State *L) { return run_norm(L, 0, 2, 3); }
static int f_snorm(lua_State *L) { return run_norm(L, 2, 3, 4); }

#define SCORES_DOC \
  " tar and non: target and non-target scores, Lua arrays of numbers or vector Matrices (1 x n or " \
  "n x 1), each non-empty and NaN-free (+-inf allowed). Decision rule everywhere in gk.eval: a trial " \
  "is accepted when score >= threshold, so Pmiss(t) = #{tar < t}/#tar and Pfa(t) = #{non >= t}/#non."
#define DCF_DOC \
  " DCF = c_miss p_target Pmiss + c_fa (1 - p_target) Pfa, normalised (NIST SRE) by min(c_miss " \
  "p_target, c_fa (1 - p_target)); 0 < p_target < 1, costs finite and > 0."
#define NORM_DOC \
  " Statistics: mean and population standard deviation (divided by n, numpy's np.std default) of " \
  "the cohort scores; with top = N > 0 only the N largest of each cohort (adaptive normalisation), " \
  "top = 0 (default) all of them. A cohort with zero spread is an error. Returns a new float64 Matrix."

static const gkL_Reg funcs[] = {
  {"eer", f_eer,
   "gk.eval.eer(tar, non) -> eer, threshold\nEqual error rate by the ROC convex hull, as the BOSARIS "
   "toolkit defines it (rocch + rocch2eer): the lower-left convex hull of the (Pfa, Pmiss) points over "
   "all thresholds (tied target and non-target scores move together), and the EER where it crosses "
   "Pmiss = Pfa (linear on the crossing segment); at most 0.5, and never above the crossing of the step curve. threshold: that of the DET point on the hull (a "
   "vertex or a point on an edge) nearest to the crossing in Pmiss, the higher one when two are "
   "equally near (math.huge: reject all); gk.eval.act_dcf at it gives that point's error rates." SCORES_DOC},
  {"min_dcf", f_min_dcf,
   "gk.eval.min_dcf(tar, non, {p_target=0.01, c_miss=1, c_fa=1}) -> dcf, threshold\nNormalised minimum "
   "detection cost over all thresholds, and the lowest threshold reaching it." DCF_DOC SCORES_DOC},
  {"act_dcf", f_act_dcf,
   "gk.eval.act_dcf(tar, non, threshold, {p_target=0.01, c_miss=1, c_fa=1}) -> dcf, pmiss, pfa\n"
   "Normalised actual detection cost when trials with score >= threshold are accepted (threshold "
   "may be +-math.huge), and the error rates there." DCF_DOC SCORES_DOC},
  {"det", f_det,
   "gk.eval.det(tar, non, {rocch=false}) -> {pmiss=, pfa=, threshold=}\nThe DET curve over all "
   "thresholds as Lua arrays (1-based, same length): point 1 accepts everything (pmiss 0, pfa 1), "
   "each later point passes one distinct score (targets and non-targets equal to it move together, "
   "in one step), the last rejects everything (pmiss 1, pfa 0). threshold[i] is the threshold giving "
   "point i: the i-th distinct score, math.huge for the last. rocch=true keeps only the vertices of "
   "the ROC convex hull (BOSARIS rocch; collinear points dropped), the curve eer uses." SCORES_DOC},
  {"znorm", f_znorm,
   "gk.eval.znorm(S, E, {top=0}) -> Matrix\nZ-norm of the score matrix S (models x tests): row i is "
   "shifted and scaled by the mean and standard deviation of row i of E (models x impostor "
   "utterances, the model's scores against an impostor cohort)." NORM_DOC},
  {"tnorm", f_tnorm,
   "gk.eval.tnorm(S, T, {top=0}) -> Matrix\nT-norm of the score matrix S (models x tests): column j "
   "is shifted and scaled by the mean and standard deviation of column j of T (cohort models x the "
   "same tests)." NORM_DOC},
  {"snorm", f_snorm,
   "gk.eval.snorm(S, E, T, {top=0}) -> Matrix\nSymmetric normalisation: (znorm(S, E) + tnorm(S, T)) / "
   "2, each trial normalised by both its model's and its test's cohort statistics; with top = N the "
   "adaptive S-norm (AS-norm1, Matejka et al. 2017) from the N largest scores of each side's "
   "cohort." NORM_DOC},
  {NULL, NULL, NULL}};

int gkL_open_eval(lua_State *L) {
  lua_newtable(L);
  gkL_setfuncs(L, funcs);
  return 1;
}
