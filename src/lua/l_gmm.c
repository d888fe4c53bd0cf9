/*
 * l_gmm.c: the Lua binding of gmmkit/gmm.h: gk.gmm (models, scoring, EM training,
 * sufficient statistics, MAP adaptation, model files) and the userdata types
 * gmmkit.Gmm and gmmkit.Stats.
 */
#define _GNU_SOURCE  /* access */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gkl.h"
#include "gmmkit/gselect.h"
#include "gmmkit/source.h"
#include "l_mpi.h"

/* luaL_error with the C library's printf (size_t formats), position information included. */
static int raisef(lua_State *L, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static int raisef(lua_State *L, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  luaL_where(L, 1);
  lua_pushstring(L, buf);
  lua_concat(L, 2);
  return lua_error(L);
}

/* ---- gmmkit.Gmm: a box holding a gk_gmm*, NULL when closed ------------------------- */

static int gmm_release(lua_State *L) {
  gk_gmm **box = luaL_checkudata(L, 1, GKL_GMM);
  if (*box) {
    gk_gmm_free(*box);
    *box = NULL;
  }
  return 0;
}

static void gmm_ensure_class(lua_State *L);

gk_gmm **gkL_newgmm(lua_State *L) {
  gk_gmm **box = lua_newuserdatauv(L, sizeof(gk_gmm *), 0);
  *box = NULL;
  gmm_ensure_class(L);
  luaL_setmetatable(L, GKL_GMM);
  return box;
}

gk_gmm *gkL_checkgmm(lua_State *L, int idx) {
  gk_gmm **box = luaL_checkudata(L, idx, GKL_GMM);
  if (!*box) luaL_argerror(L, idx, "attempt to use a closed gmmkit.Gmm");
  return *box;
}

/* A new model of the given shape owned by a Gmm userdata pushed on the stack. */
static gk_gmm *push_new_model(lua_State *L, size_t k, size_t d, gk_cov_type cov) {
  gk_gmm **box = gkL_newgmm(L);
  gk_allocator a = gkL_allocator(L);
  gk_error err;
  gk_error_clear(&err);
  if (gk_gmm_create(box, k, d, cov, &a, &err) != GK_OK) gkL_raise(L, &err);
  return *box;
}

/* Pushes a prepared deep copy of g. */
static gk_gmm *push_clone(lua_State *L, const gk_gmm *g) {
  gk_gmm **box = gkL_newgmm(L);
  gk_allocator a = gkL_allocator(L);
  gk_error err;
  gk_error_clear(&err);
  if (gk_gmm_clone(g, box, &a, &err) != GK_OK) gkL_raise(L, &err);
  return *box;
}

/* ---- reading parameters from Lua values ------------------------------------------- */

/* The shape of a parameter value at idx: a Matrix, a table of rows (tables of numbers),
 * or a flat table of numbers (n x 1). Raises naming `what` otherwise. The values are
 * options of argument 1 (gk.gmm.new's table). */
static void value_shape(lua_State *L, int idx, const char *what, size_t *rows, size_t *cols) {
  gk_matrix *m = gkL_testmatrix(L, idx);
  if (m) {
    *rows = m->rows;
    *cols = m->cols;
    return;
  }
  if (!lua_istable(L, idx))
    raisef(L, "%s must be a gmmkit.Matrix or a table of rows (got %s)", what, luaL_typename(L, idx));
  size_t n = gkL_checklen(L, idx, 1, GK_MAX_TABLE, what);
  if (n == 0) raisef(L, "%s is empty", what);
  int t = lua_geti(L, idx, 1);
  if (t == LUA_TNUMBER) {
    *rows = n;
    *cols = 1;
  } else if (t == LUA_TTABLE) {
    size_t c = gkL_checklen(L, -1, 1, GK_MAX_TABLE, what);
    if (c == 0) raisef(L, "%s[1] is an empty row", what);
    *rows = n;
    *cols = c;
  } else {
    raisef(L, "%s[1] must be a number or a row table (got %s)", what, luaL_typename(L, -1));
  }
  lua_pop(L, 1);
}

/* Copies the value at idx (shape rows x cols, checked) into dst (row-major float64). */
static void value_read(lua_State *L, int idx, const char *what, size_t rows, size_t cols, double *dst) {
  size_t r, c;
  value_shape(L, idx, what, &r, &c);
  if (r != rows || c != cols)
    raisef(L, "%s has shape %zu x %zu, expected %zu x %zu", what, r, c, rows, cols);
  gk_matrix *m = gkL_testmatrix(L, idx);
  if (m) {
    for (size_t i = 0; i < rows; i++)
      for (size_t j = 0; j < cols; j++) dst[i * cols + j] = gk_matrix_get(m, i, j);
    return;
  }
  for (size_t i = 0; i < rows; i++) {
    int t = lua_geti(L, idx, (lua_Integer)i + 1);
    if (cols == 1 && t == LUA_TNUMBER) {
      dst[i] = lua_tonumber(L, -1);
    } else {
      if (t != LUA_TTABLE) raisef(L, "%s[%zu] must be a row table (got %s)", what, i + 1, luaL_typename(L, -1));
      size_t len = gkL_checklen(L, -1, 1, GK_MAX_TABLE, what);
      if (len != cols) raisef(L, "%s[%zu] has %zu values, expected %zu", what, i + 1, len, cols);
      for (size_t j = 0; j < cols; j++) {
        if (lua_geti(L, -1, (lua_Integer)j + 1) != LUA_TNUMBER)
          raisef(L, "%s[%zu][%zu] must be a number (got %s)", what, i + 1, j + 1, luaL_typename(L, -1));
        dst[i * cols + j] = lua_tonumber(L, -1);
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 1);
  }
}

/* The core's table of covariance type names, under a short name. */
static const char *const *const cov_names = gk_cov_type_names;

/* gk.gmm.new{weights=, means=, covariances=, covariance_type=} */
static int l_new(lua_State *L) {
  static const char *const keys[] = {"weights", "means", "covariances", "covariance_type", NULL};
  luaL_checktype(L, 1, LUA_TTABLE);
  gkL_checkoptions(L, 1, keys);
  gk_cov_type cov = (gk_cov_type)gkL_optenum(L, 1, "covariance_type", gk_cov_type_names, GK_COV_DIAG);
  int iw = lua_gettop(L) + 1;
  if (gkL_optfield(L, 1, "weights") == LUA_TNIL) raisef(L, "gmm.new: option 'weights' is required");
  int im = iw + 1;
  if (gkL_optfield(L, 1, "means") == LUA_TNIL) raisef(L, "gmm.new: option 'means' is required");
  int ic = im + 1;
  if (gkL_optfield(L, 1, "covariances") == LUA_TNIL) raisef(L, "gmm.new: option 'covariances' is required");

  size_t k, wr, wc, d, mk;
  value_shape(L, iw, "weights", &wr, &wc);  /* K x 1 or 1 x K */
  if (wr != 1 && wc != 1) raisef(L, "weights must be a list of K numbers (got %zu x %zu)", wr, wc);
  k = wr * wc;
  value_shape(L, im, "means", &mk, &d);
  if (mk != k) raisef(L, "means has %zu rows but there are %zu weights", mk, k);
  if (cov == GK_COV_DIAG) {
    size_t ck, cd;
    value_shape(L, ic, "covariances", &ck, &cd);
    if (ck != k || cd != d)
      raisef(L, "diagonal covariances have shape %zu x %zu, expected %zu x %zu (K x D)", ck, cd, k, d);
  } else {
    if (!lua_istable(L, ic) || gkL_testmatrix(L, ic))
      raisef(L, "full covariances must be a list of K matrices of D x D");
    size_t nc = gkL_checklen(L, ic, 1, GK_MAX_COMPONENTS, "covariances");
    if (nc != k) raisef(L, "full covariances: %zu matrices for %zu components", nc, k);
  }

  gk_gmm *g = push_new_model(L, k, d, cov);
  int ig = lua_gettop(L);
  value_read(L, iw, "weights", wr, wc, g->weights);
  value_read(L, im, "means", k, d, g->means);
  if (cov == GK_COV_DIAG) {
    value_read(L, ic, "covariances", k, d, g->covs);
  } else {
    char what[64];
    for (size_t c = 0; c < k; c++) {
      lua_geti(L, ic, (lua_Integer)c + 1);
      snprintf(what, sizeof what, "covariances[%zu]", c + 1);
      value_read(L, lua_gettop(L), what, d, d, g->covs + c * d * d);
      lua_pop(L, 1);
    }
  }
  gk_error err;
  gk_error_clear(&err);
  if (gk_gmm_prepare(g, &err) != GK_OK) gkL_raise(L, &err);
  lua_settop(L, ig);
  return 1;
}

/* ---- accessors ---------------------------------------------------------------------- */

static int l_weights(lua_State *L) {
  gk_gmm *g = gkL_checkgmm(L, 1);
  lua_createtable(L, (int)g->k, 0);
  for (size_t c = 0; c < g->k; c++) {
    lua_pushnumber(L, g->weights[c]);
    lua_rawseti(L, -2, (lua_Integer)c + 1);
  }
  return 1;
}

static int l_means(lua_State *L) {
  gk_gmm *g = gkL_checkgmm(L, 1);
  gk_matrix *m = gkL_newmatrix(L, g->k, g->d, GK_FLOAT64);
  memcpy(m->data, g->means, g->k * g->d * sizeof(double));
  return 1;
}

static int l_covariances(lua_State *L) {
  gk_gmm *g = gkL_checkgmm(L, 1);
  if (g->cov == GK_COV_DIAG) {
    gk_matrix *m = gkL_newmatrix(L, g->k, g->d, GK_FLOAT64);
    memcpy(m->data, g->covs, g->k * g->d * sizeof(double));
    return 1;
  }
  lua_createtable(L, (int)g->k, 0);
  for (size_t c = 0; c < g->k; c++) {
    gk_matrix *m = gkL_newmatrix(L, g->d, g->d, GK_FLOAT64);
    memcpy(m->data, g->covs + c * g->d * g->d, g->d * g->d * sizeof(double));
    lua_rawseti(L, -2, (lua_Integer)c + 1);
  }
  return 1;
}

static int l_copy(lua_State *L) {
  push_clone(L, gkL_checkgmm(L, 1));
  return 1;
}

static int l_tostring(lua_State *L) {
  gk_gmm **box = luaL_checkudata(L, 1, GKL_GMM);
  if (!*box) {
    lua_pushfstring(L, "gmmkit.Gmm (closed)");
  } else {
    gk_gmm *g = *box;
    lua_pushfstring(L, "gmmkit.Gmm (%d components, dim %d, %s covariances)",
                    (int)g->k, (int)g->d, gk_cov_type_name(g->cov));
  }
  return 1;
}

/* __index: the fields components, dim, covariance_type, closed; then the methods. */
static int l_index(lua_State *L) {
  gk_gmm **box = luaL_checkudata(L, 1, GKL_GMM);
  const char *key = lua_tostring(L, 2);
  if (key && lua_type(L, 2) == LUA_TSTRING) {
    if (strcmp(key, "closed") == 0) {
      lua_pushboolean(L, *box == NULL);
      return 1;
    }
    if (strcmp(key, "components") == 0 || strcmp(key, "dim") == 0 || strcmp(key, "covariance_type") == 0) {
      gk_gmm *g = gkL_checkgmm(L, 1);
      if (strcmp(key, "components") == 0) lua_pushinteger(L, (lua_Integer)g->k);
      else if (strcmp(key, "dim") == 0) lua_pushinteger(L, (lua_Integer)g->d);
      else lua_pushstring(L, gk_cov_type_name(g->cov));
      return 1;
    }
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  return 1;
}

/* ---- data arguments ------------------------------------------------------------------ */

/* The frames at `idx`: a Matrix, a list of Matrices (one per file), or a table of rows.
 * Pushes an anchor table (which keeps every matrix alive while the C core reads them,
 * even if a progress callback drops the caller's references) and a userdata holding the
 * descriptors; fills x. */
static void check_data_list(lua_State *L, int idx, gk_gmm_data *x, size_t stride, int allow_empty);

static void check_data(lua_State *L, int idx, gk_gmm_data *x, size_t stride) {
  check_data_list(L, idx, x, stride, 0);
}

/* check_data; with allow_empty, an empty list is data without matrices (a rank of a
 * distributed training that was dealt no files). */
static void check_data_list(lua_State *L, int idx, gk_gmm_data *x, size_t stride, int allow_empty) {
  idx = lua_absindex(L, idx);
  lua_newtable(L);
  int anchor = lua_gettop(L);
  size_t n = 0;
  if (allow_empty && lua_istable(L, idx) && !gkL_testmatrix(L, idx) &&
      gkL_checklen(L, idx, idx, GK_MAX_LIST, "the data list") == 0) {
    lua_newuserdatauv(L, sizeof(gk_matrix), 0);
    x->parts = NULL;
    x->nparts = 0;
    x->stride = stride;
    return;
  }
  if (gkL_testmatrix(L, idx)) {
    n = 1;
    lua_pushvalue(L, idx);
    lua_rawseti(L, anchor, 1);
  } else if (lua_istable(L, idx)) {
    lua_geti(L, idx, 1);
    int list = gkL_testmatrix(L, -1) != NULL;
    lua_pop(L, 1);
    if (list) {
      lua_Integer len = (lua_Integer)gkL_checklen(L, idx, idx, GK_MAX_LIST, "the data list");
      for (lua_Integer i = 1; i <= len; i++) {
        lua_geti(L, idx, i);
        if (!gkL_testmatrix(L, -1))
          raisef(L, "bad argument #%d (item %d of the data list is a %s, not a gmmkit.Matrix)", idx, (int)i,
                     luaL_typename(L, -1));
        lua_rawseti(L, anchor, i);
      }
      n = (size_t)len;
    } else {
      int pushed;
      gkL_tomatrix(L, idx, GK_FLOAT32, &pushed);
      lua_rawseti(L, anchor, 1);
      n = 1;
    }
  } else {
    luaL_typeerror(L, idx, "Matrix or list of matrices");
  }
  gk_matrix *parts = lua_newuserdatauv(L, (n ? n : 1) * sizeof(gk_matrix), 0);
  for (size_t i = 0; i < n; i++) {
    lua_geti(L, anchor, (lua_Integer)i + 1);
    parts[i] = *gkL_testmatrix(L, -1);
    lua_pop(L, 1);
  }
  x->parts = parts;
  x->nparts = n;
  x->stride = stride;
  if (n == 0) raisef(L, "no data: an empty list of matrices");
}

static gk_error *clear_err(gk_error *e) {
  gk_error_clear(e);
  return e;
}

/* ---- gmmkit.Stats ------------------------------------------------------------------------ */

#define GKL_STATS "gmmkit.Stats"

static int stats_release(lua_State *L) {
  gk_gmm_stats **box = luaL_checkudata(L, 1, GKL_STATS);
  if (*box) {
    gk_gmm_stats_free(*box);
    *box = NULL;
  }
  return 0;
}

static gk_gmm_stats **push_stats_box(lua_State *L) {
  gk_gmm_stats **box = lua_newuserdatauv(L, sizeof(gk_gmm_stats *), 0);
  *box = NULL;
  luaL_setmetatable(L, GKL_STATS);
  return box;
}

static gk_gmm_stats *check_stats(lua_State *L, int idx) {
  gk_gmm_stats **box = luaL_checkudata(L, idx, GKL_STATS);
  if (!*box) luaL_argerror(L, idx, "attempt to use a closed gmmkit.Stats");
  return *box;
}

static int l_stats_merge(lua_State *L) {
  gk_gmm_stats *a = check_stats(L, 1), *b = check_stats(L, 2);
  gk_error e;
  if (gk_gmm_stats_merge(a, b, clear_err(&e)) != GK_OK) gkL_raise(L, &e);
  lua_settop(L, 1);
  return 1;
}

static int l_stats_save(lua_State *L) {
  gk_gmm_stats *s = check_stats(L, 1);
  const char *path = gkL_checkpath(L, 2);
  gk_error e;
  if (gk_gmm_stats_save(s, path, clear_err(&e)) != GK_OK) gkL_raise(L, &e);
  return 0;
}

static int l_stats_copy(lua_State *L) {
  gk_gmm_stats *s = check_stats(L, 1);
  gk_gmm_stats **box = push_stats_box(L);
  gk_allocator a = gkL_allocator(L);
  gk_error e;
  if (gk_gmm_stats_clone(s, box, &a, clear_err(&e)) != GK_OK) gkL_raise(L, &e);
  return 1;
}

/* A K x n float64 matrix from k * n doubles. */
static void push_f64(lua_State *L, const double *v, size_t rows, size_t cols) {
  gk_matrix *m = gkL_newmatrix(L, rows, cols, GK_FLOAT64);
  if (rows > 0 && cols > 0) memcpy(m->data, v, rows * cols * sizeof(double));
}

static int l_stats_zero(lua_State *L) {
  gk_gmm_stats *s = check_stats(L, 1);
  push_f64(L, s->zero, s->k, 1);
  return 1;
}

/* Moments about the origin: first = sum r x (K x D); second: diag sum r x^2 (K x D), full
 * a list of D x D sums r x x'. Computed from the shifted statistics. */
static int l_stats_first(lua_State *L) {
  gk_gmm_stats *s = check_stats(L, 1);
  size_t k = s->k, d = s->d;
  gk_matrix *m = gkL_newmatrix(L, k, d, GK_FLOAT64);
  double *o = m->data;
  for (size_t c = 0; c < k; c++)
    for (size_t j = 0; j < d; j++) o[c * d + j] = s->first[c * d + j] + s->zero[c] * s->shift[c * d + j];
  return 1;
}

static int l_stats_second(lua_State *L) {
  gk_gmm_stats *s = check_stats(L, 1);
  size_t k = s->k, d = s->d;
  if (s->cov == GK_COV_DIAG) {
    gk_matrix *m = gkL_newmatrix(L, k, d, GK_FLOAT64);
    double *o = m->data;
    for (size_t c = 0; c < k; c++)
      for (size_t j = 0; j < d; j++) {
        double a = s->shift[c * d + j];
        o[c * d + j] = s->second[c * d + j] + 2.0 * a * s->first[c * d + j] + s->zero[c] * a * a;
      }
    return 1;
  }
  lua_createtable(L, (int)k, 0);
  for (size_t c = 0; c < k; c++) {
    gk_matrix *m = gkL_newmatrix(L, d, d, GK_FLOAT64);
    double *o = m->data;
    const double *a = s->shift + c * d, *f = s->first + c * d, *S = s->second + c * d * d;
    for (size_t p = 0; p < d; p++)
      for (size_t t = 0; t < d; t++)
        o[p * d + t] = S[p * d + t] + a[p] * f[t] + f[p] * a[t] + s->zero[c] * a[p] * a[t];
    lua_rawseti(L, -2, (lua_Integer)c + 1);
  }
  return 1;
}

static int l_stats_tostring(lua_State *L) {
  gk_gmm_stats **box = luaL_checkudata(L, 1, GKL_STATS);
  if (!*box) {
    lua_pushliteral(L, "gmmkit.Stats (closed)");
  } else {
    char buf[160];
    snprintf(buf, sizeof buf, "gmmkit.Stats (%zu %s components, dim %zu, %.0f frames)", (*box)->k,
             gk_cov_type_name((*box)->cov), (*box)->d, (*box)->frames);
    lua_pushstring(L, buf);
  }
  return 1;
}

/* __index: the field closed; the fields below (a closed Stats raises, as a closed Gmm
 * does); then the methods. */
static int l_stats_index(lua_State *L) {
  static const char *const fields[] = {"frames", "loglik", "components", "dim", "covariance_type", NULL};
  gk_gmm_stats **box = luaL_checkudata(L, 1, GKL_STATS);
  const char *key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
  if (key && strcmp(key, "closed") == 0) {
    lua_pushboolean(L, *box == NULL);
    return 1;
  }
  int field = -1;
  for (int i = 0; key && fields[i]; i++)
    if (strcmp(key, fields[i]) == 0) field = i;
  if (field >= 0) {
    gk_gmm_stats *s = check_stats(L, 1);
    switch (field) {
      case 0: lua_pushnumber(L, s->frames); break;
      case 1: lua_pushnumber(L, s->loglik); break;
      case 2: lua_pushinteger(L, (lua_Integer)s->k); break;
      case 3: lua_pushinteger(L, (lua_Integer)s->d); break;
      default: lua_pushstring(L, gk_cov_type_name(s->cov)); break;
    }
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  return 1;
}

static const gkL_Reg stats_methods[] = {
  {"merge", l_stats_merge,
   "stats:merge(other) -> stats\n"
   "Adds `other` (statistics of the same model shape, for example from another process) "
   "into these statistics and returns them."},
  {"save", l_stats_save,
   "stats:save(path)\n"
   "Writes the statistics to a native binary file (checksummed, atomic); read back with "
   "gk.gmm.load_stats."},
  {"copy", l_stats_copy, "stats:copy() -> Stats\nA deep copy."},
  {"zero", l_stats_zero, "stats:zero() -> Matrix\nThe occupancies n_k = sum_i r_ik (K x 1 float64)."},
  {"first", l_stats_first, "stats:first() -> Matrix\nThe first-order sums sum_i r_ik x_i (K x D float64)."},
  {"second", l_stats_second,
   "stats:second() -> Matrix | {Matrix, ...}\n"
   "The second-order sums about the origin: diag sum_i r_ik x_i^2 (K x D); full a list of K "
   "D x D matrices sum_i r_ik x_i x_i'."},
  {"close", stats_release, "stats:close()\nFrees the statistics now (idempotent)."},
  {NULL, NULL, NULL}
};

static const gkL_Reg stats_meta[] = {
  {"__gc", stats_release, NULL},
  {"__close", stats_release, NULL},
  {"__tostring", l_stats_tostring, NULL},
  {NULL, NULL, NULL}
};

/* ---- scoring ------------------------------------------------------------------------------ */

static int source_gc(lua_State *L) {
  gk_source **box = lua_touserdata(L, 1);
  gk_source_close(*box);
  *box = NULL;
  return 0;
}

/* ---- data on disk: a Kaldi rspecifier or a list of feature files, read chunk by chunk ---- */

/* Whether the data at idx is on disk: a string (a Kaldi rspecifier) or a list whose first
 * item is a string (feature files). */
static int is_source(lua_State *L, int idx) {
  if (lua_type(L, idx) == LUA_TSTRING) return 1;
  if (!lua_istable(L, idx) || gkL_testmatrix(L, idx)) return 0;
  int t = lua_geti(L, idx, 1);
  lua_pop(L, 1);
  return t == LUA_TSTRING;
}

/* The file names of the list at idx, in a userdata pushed on the stack (the strings stay
 * in the list). */
static const char **check_paths(lua_State *L, int idx, size_t *n) {
  *n = gkL_checklen(L, idx, idx, GK_MAX_LIST, "the list of files");
  const char **p = lua_newuserdatauv(L, (*n ? *n : 1) * sizeof *p, 0);
  for (size_t i = 0; i < *n; i++) {
    size_t len = 0;
    int string = lua_geti(L, idx, (lua_Integer)i + 1) == LUA_TSTRING;  /* a number is not a name */
    p[i] = string ? lua_tolstring(L, -1, &len) : NULL;
    if (!string || strlen(p[i]) != len)
      luaL_argerror(L, idx, lua_pushfstring(L, "item %d of the list of files is a %s, not a file name", (int)i + 1,
                                            string ? "string with a NUL byte" : luaL_typename(L, -1)));
    lua_pop(L, 1);
  }
  return p;
}

/* The source of the data at idx (is_source) in a userdata pushed on the stack, which
 * closes it when collected (a raise in the loop over its chunks leaks nothing). */
static gk_source *push_source(lua_State *L, int idx, const gk_source_opts *so) {
  size_t n = 0;
  const char *spec = lua_type(L, idx) == LUA_TSTRING ? gkL_checkpath(L, idx) : NULL;
  const char **paths = spec ? NULL : check_paths(L, idx, &n);
  gk_source **box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  if (luaL_newmetatable(L, "gmmkit.Source")) {
    lua_pushcfunction(L, source_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  gk_error e;
  clear_err(&e);
  gk_status st = spec ? gk_source_open_table(box, spec, so, &e) : gk_source_open_files(box, paths, n, so, &e);
  if (st == GK_EINVAL && spec)  /* not an rspecifier: say what the argument may be */
    luaL_argerror(L, idx, lua_pushfstring(L, "a Matrix, a list of matrices, or data on disk (a Kaldi rspecifier "
                                             "or a list of files) expected: %s", e.message));
  if (st != GK_OK) gkL_raise(L, &e);
  return *box;
}

/* Calls fn(ctx, chunk) for every chunk of a pass over s; the first failure ends it. */
static gk_status each_chunk(gk_source *s, gk_status (*fn)(void *ctx, const gk_gmm_data *x, gk_error *e), void *ctx,
                            gk_error *e) {
  gk_status st = gk_source_rewind(s, e);
  for (int done = 0; st == GK_OK;) {
    gk_gmm_data chunk;
    st = gk_source_next(s, &chunk, &done, e);
    if (st != GK_OK || done) break;
    st = fn(ctx, &chunk, e);
  }
  return st;
}

/* What a scoring pass over chunks adds up. */
typedef struct score_sum {
  const gk_gmm *g;
  double total;
  size_t n;
} score_sum;

static gk_status score_chunk(void *ctx, const gk_gmm_data *x, gk_error *e) {
  score_sum *c = ctx;
  double t;
  gk_status st = gk_gmm_score(c->g, x, NULL, &t, e);
  c->total += t;
  c->n += gk_gmm_data_frames(x);
  return st;
}

static void score_total(lua_State *L, gk_gmm *g, int arg, double *total, size_t *n) {
  gk_error e;
  clear_err(&e);
  if (is_source(L, arg)) {
    score_sum c = {g, 0.0, 0};
    if (each_chunk(push_source(L, arg, NULL), score_chunk, &c, &e) != GK_OK) gkL_raise(L, &e);
    if (c.n == 0) luaL_argerror(L, arg, "no data: the source holds no frames");
    *total = c.total;
    *n = c.n;
    lua_pop(L, 1);
    return;
  }
  gk_gmm_data x;
  check_data(L, arg, &x, 1);
  if (gk_gmm_score(g, &x, NULL, total, &e) != GK_OK) gkL_raise(L, &e);
  *n = gk_gmm_data_frames(&x);
}

static gk_selector *opt_selector(lua_State *L, int arg);
static void read_selection(lua_State *L, int arg, const gk_selector *s, size_t *search, size_t *top);

/* The selection options of a scoring method at `arg` (selector, search, top): the
 * selector or NULL. With a selector, search and top are read for it; without one, search
 * is an error and top is read in [top_lo, top_hi] (default 0), or is an error as well when
 * top_hi < 0 (methods whose top only means "of the selection"). */
static gk_selector *read_ubm_selection(lua_State *L, int arg, size_t *search, size_t *top, lua_Integer top_lo,
                                       lua_Integer top_hi) {
  gk_selector *sel = opt_selector(L, arg);
  *search = *top = 0;
  if (sel) {
    read_selection(L, arg, sel, search, top);
    return sel;
  }
  if (gkL_optfield(L, arg, "search") != LUA_TNIL) gkL_opterror(L, arg, "search", "needs the option 'selector'");
  lua_pop(L, 1);
  if (top_hi < 0) {
    if (gkL_optfield(L, arg, "top") != LUA_TNIL) gkL_opterror(L, arg, "top", "needs the option 'selector'");
    lua_pop(L, 1);
  } else {
    *top = (size_t)gkL_optinteger(L, arg, "top", 0, top_lo, top_hi);
  }
  return sel;
}

/* g:log_likelihood(X[, {selector=, search=1, top=5}]) */
/* A scoring pass over chunks with a selector. */
typedef struct selected_sum {
  const gk_gmm *g;
  const gk_selector *sel;
  size_t search, top;
  double total;
  size_t n;
} selected_sum;

static gk_status selected_chunk(void *ctx, const gk_gmm_data *x, gk_error *e) {
  selected_sum *c = ctx;
  size_t n = gk_gmm_data_frames(x);
  size_t *idx = gk_scratch_alloc(n ? n * c->top : 1, sizeof(size_t));
  double t = 0.0;
  gk_status st = idx ? gk_selector_posteriors(c->sel, c->g, x, c->search, c->top, idx, NULL, &t, NULL, e)
                     : gk_fail_nomem(e);
  gk_scratch_free(idx);
  c->total += t;
  c->n += n;
  return st;
}

static int l_log_likelihood(lua_State *L) {
  static const char *const keys[] = {"selector", "search", "top", NULL};
  gk_gmm *g = gkL_checkgmm(L, 1);
  gkL_checkoptions(L, 3, keys);
  size_t search, top;
  gk_selector *sel = read_ubm_selection(L, 3, &search, &top, 0, -1);
  double t;
  size_t n;
  if (!sel) {
    score_total(L, g, 2, &t, &n);
  } else if (is_source(L, 2)) {
    selected_sum c = {g, sel, search, top, 0.0, 0};
    gk_error e;
    if (each_chunk(push_source(L, 2, NULL), selected_chunk, &c, clear_err(&e)) != GK_OK) gkL_raise(L, &e);
    t = c.total;
    n = c.n;
  } else {
    gk_gmm_data x;
    check_data(L, 2, &x, 1);
    n = gk_gmm_data_frames(&x);
    size_t *idx = lua_newuserdatauv(L, (n ? n : 1) * top * sizeof(size_t), 0);
    gk_error e;
    if (gk_selector_posteriors(sel, g, &x, search, top, idx, NULL, &t, NULL, clear_err(&e)) != GK_OK) gkL_raise(L, &e);
  }
  lua_pushnumber(L, t / (double)n);
  return 1;
}

static int l_score_samples(lua_State *L) {
  gk_gmm *g = gkL_checkgmm(L, 1);
  gk_gmm_data x;
  check_data(L, 2, &x, 1);
  gk_error e;
  if (gk_gmm_data_check(&x, g->d, clear_err(&e)) != GK_OK) gkL_raise(L, &e);
  gk_matrix *m = gkL_newmatrix(L, gk_gmm_data_frames(&x), 1, GK_FLOAT64);
  if (gk_gmm_score(g, &x, m->data, NULL, &e) != GK_OK) gkL_raise(L, &e);
  return 1;
}

static int information_criterion(lua_State *L, int bic) {
  gk_gmm *g = gkL_checkgmm(L, 1);
  double t;
  size_t n;
  score_total(L, g, 2, &t, &n);
  double p = (double)gk_gmm_num_params(g);
  lua_pushnumber(L, -2.0 * t + p * (bic ? log((double)n) : 2.0));
  return 1;
}
static int l_bic(lua_State *L) { return information_criterion(L, 1); }
static int l_aic(lua_State *L) { return information_criterion(L, 0); }

/* g:posteriors(X, {selector=sel, search=, top=}): the selection's components and posteriors. */
static int selected_posteriors(lua_State *L, gk_gmm *g, gk_selector *sel, size_t search, size_t top) {
  gk_gmm_data x;
  check_data(L, 2, &x, 1);
  size_t n = gk_gmm_data_frames(&x);
  gk_matrix *val = gkL_newmatrix(L, n, top, GK_FLOAT64);
  gk_matrix *ix = gkL_newmatrix(L, n, top, GK_FLOAT64);
  size_t *idx = lua_newuserdatauv(L, (n ? n : 1) * top * sizeof(size_t), 0);
  gk_error e;
  double total;
  if (gk_selector_posteriors(sel, g, &x, search, top, idx, val->data, &total, NULL, clear_err(&e)) != GK_OK)
    gkL_raise(L, &e);
  double *o = ix->data;
  for (size_t i = 0; i < n * top; i++) o[i] = idx[i] == SIZE_MAX ? 0.0 : (double)(idx[i] + 1);
  lua_pop(L, 1);
  return 2;
}

static int l_posteriors(lua_State *L) {
  static const char *const keys[] = {"top", "selector", "search", NULL};
  gk_gmm *g = gkL_checkgmm(L, 1);
  gkL_checkoptions(L, 3, keys);
  size_t search, top;
  gk_selector *sel = read_ubm_selection(L, 3, &search, &top, 1, (lua_Integer)g->k);
  if (sel) return selected_posteriors(L, g, sel, search, top);
  gk_gmm_data x;
  check_data(L, 2, &x, 1);
  gk_error e;
  if (gk_gmm_data_check(&x, g->d, clear_err(&e)) != GK_OK) gkL_raise(L, &e);
  size_t n = gk_gmm_data_frames(&x);
  if (top == 0) {
    gk_matrix *m = gkL_newmatrix(L, n, g->k, GK_FLOAT64);
    if (gk_gmm_posteriors(g, &x, m->data, &e) != GK_OK) gkL_raise(L, &e);
    return 1;
  }
  size_t c = (size_t)top;
  gk_matrix *val = gkL_newmatrix(L, n, c, GK_FLOAT64);
  gk_matrix *ix = gkL_newmatrix(L, n, c, GK_FLOAT64);
  size_t *idx = lua_newuserdatauv(L, (n > 0 ? n * c : 1) * sizeof(size_t), 0);
  if (gk_gmm_top_posteriors(g, &x, c, idx, val->data, &e) != GK_OK) gkL_raise(L, &e);
  double *o = ix->data;
  for (size_t i = 0; i < n * c; i++) o[i] = (double)(idx[i] + 1);
  lua_pop(L, 1);
  return 2;
}

static int l_predict(lua_State *L) {
  gk_gmm *g = gkL_checkgmm(L, 1);
  gk_gmm_data x;
  check_data(L, 2, &x, 1);
  gk_error e;
  if (gk_gmm_data_check(&x, g->d, clear_err(&e)) != GK_OK) gkL_raise(L, &e);
  size_t n = gk_gmm_data_frames(&x);
  size_t *idx = lua_newuserdatauv(L, (n ? n : 1) * sizeof(size_t), 0);
  double *val = lua_newuserdatauv(L, (n ? n : 1) * sizeof(double), 0);
  if (gk_gmm_top_posteriors(g, &x, 1, idx, val, &e) != GK_OK) gkL_raise(L, &e);
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_pushinteger(L, (lua_Integer)idx[i] + 1);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

static int l_sample(lua_State *L) {
  static const char *const keys[] = {"seed", "dtype", NULL};
  static const char *const dtypes[] = {"float32", "float64", NULL};
  gk_gmm *g = gkL_checkgmm(L, 1);
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_argcheck(L, n >= 0 && (lua_Unsigned)n <= GK_MAX_ELEMENTS / g->d, 2, "sample count out of range");
  gkL_checkoptions(L, 3, keys);
  lua_Integer seed = gkL_optinteger(L, 3, "seed", 0, LUA_MININTEGER, LUA_MAXINTEGER);
  gk_dtype dt = (gk_dtype)gkL_optenum(L, 3, "dtype", dtypes, GK_FLOAT32);
  gk_matrix *m = gkL_newmatrix(L, (size_t)n, g->d, dt);
  gk_error e;
  if (gk_gmm_sample(g, (size_t)n, (uint64_t)seed, m, clear_err(&e)) != GK_OK) gkL_raise(L, &e);
  return 1;
}

/* ---- statistics, M-step, MAP ------------------------------------------------------------------ */

/* The E-step of g over x into *stats: all components, or each frame's selected ones. */
static gk_status accumulate_with(gk_gmm *g, gk_gmm_data *x, gk_selector *sel, size_t search, size_t top,
                                 gk_gmm_stats **stats, gk_allocator *a, gk_error *e) {
  return sel ? gk_selector_accumulate(sel, g, x, search, top, stats, a, e) : gk_gmm_accumulate(g, x, stats, a, e);
}

static const char *const selection_keys[] = {"selector", "search", "top", NULL};

/* An accumulation over chunks: accumulate_with's arguments. */
typedef struct acc_pass {
  gk_gmm *g;
  gk_selector *sel;
  size_t search, top;
  gk_gmm_stats **stats;
  gk_allocator *a;
} acc_pass;

static gk_status acc_chunk(void *ctx, const gk_gmm_data *x, gk_error *e) {
  acc_pass *c = ctx;
  return accumulate_with(c->g, (gk_gmm_data *)x, c->sel, c->search, c->top, c->stats, c->a, e);
}

/* Adds the statistics of the data at `arg` (matrices, or data on disk read in chunks)
 * under g to *target (created when NULL). */
static gk_status accumulate_arg(lua_State *L, int arg, gk_gmm *g, gk_selector *sel, size_t search, size_t top,
                                gk_gmm_stats **target, gk_allocator *a, gk_error *e) {
  if (is_source(L, arg)) {
    acc_pass c = {g, sel, search, top, target, a};
    gk_status st = each_chunk(push_source(L, arg, NULL), acc_chunk, &c, e);
    if (st == GK_OK && !*target) st = gk_fail(e, GK_EINVAL, "no data: the source holds no frames");
    return st;
  }
  gk_gmm_data x;
  check_data(L, arg, &x, 1);
  return accumulate_with(g, &x, sel, search, top, target, a, e);
}

/* g:accumulate(X[, stats[, {selector=, search=, top=}]]): X matrices, or on disk. */
static int l_accumulate(lua_State *L) {
  gk_gmm *g = gkL_checkgmm(L, 1);
  gk_gmm_stats *into = lua_isnoneornil(L, 3) ? NULL : check_stats(L, 3);
  gkL_checkoptions(L, 4, selection_keys);
  size_t search, top;
  gk_selector *sel = read_ubm_selection(L, 4, &search, &top, 0, -1);
  gk_error e;
  gk_allocator a = gkL_allocator(L);
  gk_gmm_stats **target = into ? &into : push_stats_box(L);
  int result = into ? 3 : lua_gettop(L);
  if (accumulate_arg(L, 2, g, sel, search, top, target, &a, clear_err(&e)) != GK_OK) gkL_raise(L, &e);
  lua_pushvalue(L, result);
  return 1;
}

static const char *const death_names[] = {"resplit", "remove", NULL};

/* Floors and the handling of dying components from an options table at `arg`. */
static gk_gmm_update_opts read_update_opts(lua_State *L, int arg) {
  gk_gmm_update_opts o;
  gk_gmm_update_opts_default(&o);
  o.var_floor = gkL_optnumber(L, arg, "var_floor", o.var_floor, 0.0, HUGE_VAL);
  o.var_floor_relative = gkL_optnumber(L, arg, "var_floor_relative", o.var_floor_relative, 0.0, HUGE_VAL);
  o.reg = gkL_optnumber(L, arg, "reg", o.reg, 0.0, HUGE_VAL);
  o.min_weight = gkL_optnumber(L, arg, "min_weight", o.min_weight, 0.0, 1.0);
  o.death = (gk_gmm_death)gkL_optenum(L, arg, "min_weight_action", death_names, GK_DEATH_RESPLIT);
  return o;
}

static int l_update(lua_State *L) {
  static const char *const keys[] = {"var_floor", "var_floor_relative", "reg", "min_weight",
                                     "min_weight_action", NULL};
  gk_gmm *g = gkL_checkgmm(L, 1);  /* the model the statistics were accumulated under */
  gk_gmm_stats *s = check_stats(L, 2);
  gkL_checkoptions(L, 3, keys);
  gk_gmm_update_opts o = read_update_opts(L, 3);
  if (s->k != g->k || s->d != g->d || s->cov != g->cov)
    raisef(L, "statistics of %d %s components in dimension %d do not fit this model (%d %s components in "
               "dimension %d)", (int)s->k, gk_cov_type_name(s->cov), (int)s->d, (int)g->k,
               gk_cov_type_name(g->cov), (int)g->d);
  gk_gmm **box = gkL_newgmm(L);
  gk_allocator a = gkL_allocator(L);
  gk_error e;
  size_t ev = 0;
  if (gk_gmm_update(s, &o, box, &a, &ev, clear_err(&e)) != GK_OK) gkL_raise(L, &e);
  lua_pushinteger(L, (lua_Integer)ev);
  return 2;
}

static int l_map_adapt(lua_State *L) {
  static const char *const keys[] = {"relevance", "means", "weights", "variances", "selector", "search", "top",
                                     NULL};
  gk_gmm *ubm = gkL_checkgmm(L, 1);
  gkL_checkoptions(L, 3, keys);
  double r = gkL_optnumber(L, 3, "relevance", 16.0, 1e-300, HUGE_VAL);
  int means = gkL_optboolean(L, 3, "means", 1);
  int weights = gkL_optboolean(L, 3, "weights", 0);
  int variances = gkL_optboolean(L, 3, "variances", 0);
  size_t search, top;
  gk_selector *sel = read_ubm_selection(L, 3, &search, &top, 0, -1);
  gk_error e;
  gk_gmm_stats **sbox = push_stats_box(L);
  gk_allocator a = gkL_allocator(L);
  if (accumulate_arg(L, 2, ubm, sel, search, top, sbox, &a, clear_err(&e)) != GK_OK) gkL_raise(L, &e);
  gk_gmm **box = gkL_newgmm(L);
  if (gk_gmm_map(ubm, *sbox, r, means, weights, variances, box, &a, &e) != GK_OK) gkL_raise(L, &e);
  return 1;
}

/* ---- files ------------------------------------------------------------------------------------- */

static int l_save(lua_State *L) {
  gk_gmm *g = gkL_checkgmm(L, 1);
  const char *path = gkL_checkpath(L, 2);
  gk_error e;
  if (gk_gmm_save(g, path, clear_err(&e)) != GK_OK) gkL_raise(L, &e);
  return 0;
}

static const char *const save_kaldi_keys[] = {"binary", NULL};

static int l_save_kaldi(lua_State *L) {
  gk_gmm *g = gkL_checkgmm(L, 1);
  const char *path = gkL_checkpath(L, 2);
  gkL_checkoptions(L, 3, save_kaldi_keys);
  int binary = gkL_optboolean(L, 3, "binary", 0);
  gk_error e;
  gk_status st = binary ? gk_gmm_save_kaldi_binary(g, path, clear_err(&e)) : gk_gmm_save_kaldi(g, path, clear_err(&e));
  if (st != GK_OK) gkL_raise(L, &e);
  return 0;
}

static int l_load(lua_State *L) {
  const char *path = gkL_checkpath(L, 1);
  gk_gmm **box = gkL_newgmm(L);
  gk_allocator a = gkL_allocator(L);
  gk_error e;
  if (gk_gmm_load(path, box, &a, clear_err(&e)) != GK_OK) gkL_raise(L, &e);
  return 1;
}

static int l_load_kaldi(lua_State *L) {
  const char *path = gkL_checkpath(L, 1);
  gk_gmm **box = gkL_newgmm(L);
  gk_allocator a = gkL_allocator(L);
  gk_error e;
  if (gk_gmm_load_kaldi(path, box, &a, clear_err(&e)) != GK_OK) gkL_raise(L, &e);
  return 1;
}

static int l_load_stats(lua_State *L) {
  const char *path = gkL_checkpath(L, 1);
  gk_gmm_stats **box = push_stats_box(L);
  gk_allocator a = gkL_allocator(L);
  gk_error e;
  if (gk_gmm_stats_load(path, box, &a, clear_err(&e)) != GK_OK) gkL_raise(L, &e);
  return 1;
}


/* ---- Gaussian selection: gmmkit.Selector ----------------------------------------------------- */

#define GKL_SELECTOR "gmmkit.Selector"

static int selector_release(lua_State *L) {
  gk_selector **box = luaL_checkudata(L, 1, GKL_SELECTOR);
  if (*box) {
    gk_selector_free(*box);
    *box = NULL;
  }
  return 0;
}

static gk_selector *check_selector(lua_State *L, int idx) {
  gk_selector **box = luaL_checkudata(L, idx, GKL_SELECTOR);
  if (!*box) luaL_argerror(L, idx, "attempt to use a closed gmmkit.Selector");
  return *box;
}

static void selector_ensure_class(lua_State *L);

/* The option `data` of selector_from at `arg` (a Matrix or a list of them) into x, left
 * on the stack with its anchors; 0 when absent. */
static int opt_member_data(lua_State *L, int arg, gk_gmm_data *x) {
  int t = gkL_optfield(L, arg, "data");
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return 0;
  }
  int at = lua_gettop(L);
  if (!gkL_testmatrix(L, at)) {
    if (t != LUA_TTABLE)
      gkL_opterror(L, arg, "data", "must be a gmmkit.Matrix or a list of them, got %s", luaL_typename(L, at));
    size_t len = gkL_checklen(L, at, arg, GK_MAX_LIST, "option 'data'");
    if (len == 0) gkL_opterror(L, arg, "data", "is an empty list: give the frames that choose the members");
    for (size_t i = 1; i <= len; i++) {
      lua_geti(L, at, (lua_Integer)i);
      if (!gkL_testmatrix(L, -1))
        gkL_opterror(L, arg, "data", "item %d is a %s, not a gmmkit.Matrix", (int)i, luaL_typename(L, -1));
      lua_pop(L, 1);
    }
  }
  check_data(L, at, x, 1);
  if (gk_gmm_data_frames(x) == 0)
    gkL_opterror(L, arg, "data", "has no frames: give the frames that choose the members");
  return 1;
}

/* gk.gmm.selector_from(ubm, g[, {overlap=1, data=, search=1, top=2, min_count=5}]) */
static int l_selector_from(lua_State *L) {
  static const char *const keys[] = {"overlap", "data", "search", "top", "min_count", NULL};
  gk_gmm *f = gkL_checkgmm(L, 1), *g = gkL_checkgmm(L, 2);
  gkL_checkoptions(L, 3, keys);
  lua_Integer overlap = gkL_optinteger(L, 3, "overlap", 1, 1, (lua_Integer)g->k);
  if (g->d != f->d) luaL_argerror(L, 2, lua_pushfstring(L, "the clusters have dimension %d, the UBM %d", (int)g->d, (int)f->d));
  gk_gmm_data x;
  int by_data = opt_member_data(L, 3, &x);
  for (int i = 2; !by_data && keys[i]; i++)
    if (gkL_optfield(L, 3, keys[i]) != LUA_TNIL) gkL_opterror(L, 3, keys[i], "needs the option 'data'");
  lua_Integer search = gkL_optinteger(L, 3, "search", 1, 1, (lua_Integer)g->k);
  lua_Integer top = gkL_optinteger(L, 3, "top", f->k < 2 ? (lua_Integer)f->k : 2, 1, (lua_Integer)f->k);
  lua_Integer min_count = gkL_optinteger(L, 3, "min_count", 5, 1, INT32_MAX);
  if (by_data && x.parts[0].cols != f->d)
    gkL_opterror(L, 3, "data", "has %d columns, the UBM dimension %d", (int)x.parts[0].cols, (int)f->d);
  gk_selector **box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  selector_ensure_class(L);
  luaL_setmetatable(L, GKL_SELECTOR);
  gk_allocator a = gkL_allocator(L);
  gk_error e;
  gk_status st = by_data ? gk_selector_create_data(box, f, g, (size_t)overlap, &x, (size_t)search, (size_t)top,
                                                   (size_t)min_count, &a, clear_err(&e))
                         : gk_selector_create(box, f, g, (size_t)overlap, &a, clear_err(&e));
  if (st != GK_OK) gkL_raise(L, &e);
  return 1;
}

/* The options search and top of a selection at `arg`. */
static void read_selection(lua_State *L, int arg, const gk_selector *s, size_t *search, size_t *top) {
  *search = (size_t)gkL_optinteger(L, arg, "search", 1, 1, (lua_Integer)gk_selector_clusters(s));
  *top = (size_t)gkL_optinteger(L, arg, "top", 5 < gk_selector_components(s) ? 5 : 1, 1,
                                 (lua_Integer)(gk_selector_components(s) < 64 ? gk_selector_components(s) : 64));
}

/* sel:select(X[, {search=1, top=5}]) -> Matrix (N x C, 1-based; 0 where fewer), evals */
static int selector_select(lua_State *L) {
  static const char *const keys[] = {"search", "top", NULL};
  gk_selector *s = check_selector(L, 1);
  gkL_checkoptions(L, 3, keys);
  size_t search, top;
  read_selection(L, 3, s, &search, &top);
  gk_gmm_data x;
  check_data(L, 2, &x, 1);
  size_t n = gk_gmm_data_frames(&x);
  size_t *idx = lua_newuserdatauv(L, (n ? n : 1) * top * sizeof(size_t), 0);
  gk_matrix *out = gkL_newmatrix(L, n, top, GK_FLOAT64);
  gk_error e;
  double evals = 0.0;
  if (gk_selector_select(s, &x, search, top, idx, &evals, clear_err(&e)) != GK_OK) gkL_raise(L, &e);
  double *o = out->data;
  for (size_t i = 0; i < n * top; i++) o[i] = idx[i] == SIZE_MAX ? 0.0 : (double)(idx[i] + 1);
  lua_pushnumber(L, evals);
  return 2;
}

/* sel:save(path) */
static int selector_save(lua_State *L) {
  gk_selector *s = check_selector(L, 1);
  const char *path = gkL_checkpath(L, 2);
  gk_error e;
  if (gk_selector_save(s, path, clear_err(&e)) != GK_OK) gkL_raise(L, &e);
  return 0;
}

/* gk.gmm.load_selector(path, ubm) */
static int l_load_selector(lua_State *L) {
  const char *path = gkL_checkpath(L, 1);
  gk_gmm *ubm = gkL_checkgmm(L, 2);
  gk_selector **box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  selector_ensure_class(L);
  luaL_setmetatable(L, GKL_SELECTOR);
  gk_allocator a = gkL_allocator(L);
  gk_error e;
  if (gk_selector_load(path, ubm, box, &a, clear_err(&e)) != GK_OK) gkL_raise(L, &e);
  return 1;
}

static int selector_mixture(lua_State *L) {
  push_clone(L, gk_selector_mixture(check_selector(L, 1)));
  return 1;
}

static int selector_members(lua_State *L) {
  gk_selector *s = check_selector(L, 1);
  lua_Integer j = luaL_checkinteger(L, 2);
  luaL_argcheck(L, j >= 1 && (size_t)j <= gk_selector_clusters(s), 2, "cluster index out of range");
  size_t n;
  const size_t *m = gk_selector_members(s, (size_t)j - 1, &n);
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_pushinteger(L, (lua_Integer)m[i] + 1);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

static int selector_index(lua_State *L) {
  static const char *const fields[] = {"clusters", "components", "overlap", "dim", NULL};
  gk_selector **box = luaL_checkudata(L, 1, GKL_SELECTOR);
  const char *key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
  if (key && strcmp(key, "closed") == 0) {
    lua_pushboolean(L, *box == NULL);
    return 1;
  }
  int f = -1;
  for (int i = 0; key && fields[i]; i++)
    if (strcmp(key, fields[i]) == 0) f = i;
  if (f < 0) {
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    return 1;
  }
  gk_selector *s = check_selector(L, 1);
  size_t v = f == 0 ? gk_selector_clusters(s) : f == 1 ? gk_selector_components(s)
           : f == 2 ? gk_selector_overlap(s) : gk_selector_dim(s);
  lua_pushinteger(L, (lua_Integer)v);
  return 1;
}

static int selector_tostring(lua_State *L) {
  gk_selector **box = luaL_checkudata(L, 1, GKL_SELECTOR);
  if (!*box) lua_pushliteral(L, "gmmkit.Selector (closed)");
  else
    lua_pushfstring(L, "gmmkit.Selector (%d clusters over %d components, overlap %d)", (int)gk_selector_clusters(*box),
                    (int)gk_selector_components(*box), (int)gk_selector_overlap(*box));
  return 1;
}

static const gkL_Reg selector_methods[] = {
  {"select", selector_select,
   "sel:select(X[, {search=1, top=5}]) -> Matrix, evals\n"
   "For each frame of X: its `top` best UBM components (1-based, best first; 0 where the searched "
   "clusters hold fewer) among the members of its `search` best clusters, and the mean number of "
   "Gaussians evaluated per frame (clusters plus members; exhaustive scoring evaluates all K)."},
  {"save", selector_save,
   "sel:save(path)\n"
   "Writes the selector atomically in gmmkit's model file format (magic, version, checksum): the "
   "clusters' mixture, the overlap, each cluster's members and a fingerprint of the UBM, not the UBM "
   "itself. gk.gmm.load_selector(path, ubm) reads it back for that UBM."},
  {"mixture", selector_mixture, "sel:mixture() -> Gmm\nA copy of the reduced mixture whose components are the clusters."},
  {"members", selector_members, "sel:members(j) -> {k1, k2, ...}\nThe UBM components of cluster j (1-based)."},
  {"close", selector_release, "sel:close()\nFrees the selector now (idempotent)."},
  {NULL, NULL, NULL}
};

static const gkL_Reg selector_meta[] = {
  {"__gc", selector_release, NULL},
  {"__close", selector_release, NULL},
  {"__tostring", selector_tostring, NULL},
  {NULL, NULL, NULL}
};

static void selector_ensure_class(lua_State *L) {
  gkL_newclass_fields(L, GKL_SELECTOR, selector_methods, selector_meta,
                      "gmmkit.Selector: Gaussian selection with a reduced UBM (gk.gmm.selector). Fields: "
                      "clusters, components, overlap, dim, closed.", selector_index);
}

/* The selector option at `arg` (NULL when absent). */
static gk_selector *opt_selector(lua_State *L, int arg) {
  if (gkL_optfield(L, arg, "selector") == LUA_TNIL) {
    lua_pop(L, 1);
    return NULL;
  }
  gk_selector **box = luaL_testudata(L, -1, GKL_SELECTOR);
  if (!box || !*box) gkL_opterror(L, arg, "selector", "must be an open gmmkit.Selector, got %s", luaL_typename(L, -1));
  lua_pop(L, 1);  /* the options table keeps it alive */
  return *box;
}

/* gk.gmm.llr(model, ubm, X[, {top=0, selector=, search=1}]) */
static int l_llr(lua_State *L) {
  static const char *const keys[] = {"top", "selector", "search", NULL};
  gk_gmm *model = gkL_checkgmm(L, 1), *ubm = gkL_checkgmm(L, 2);
  gkL_checkoptions(L, 4, keys);
  size_t search, top;
  gk_selector *sel = read_ubm_selection(L, 4, &search, &top, 0, (lua_Integer)ubm->k);
  gk_gmm_data x;
  check_data(L, 3, &x, 1);
  gk_error e;
  double v;
  const gk_gmm *models[1] = {model};
  gk_status st = sel ? gk_selector_llr_matrix(sel, models, 1, ubm, &x, 1, search, top, &v, NULL, clear_err(&e))
                     : gk_gmm_llr(model, ubm, &x, top, &v, clear_err(&e));
  if (st != GK_OK) gkL_raise(L, &e);
  lua_pushnumber(L, v);
  return 1;
}

/* gk.gmm.llr_matrix(models, ubm, tests[, {top=0}]) */
static int l_llr_matrix(lua_State *L) {
  static const char *const keys[] = {"top", "selector", "search", NULL};
  luaL_checktype(L, 1, LUA_TTABLE);
  gk_gmm *ubm = gkL_checkgmm(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  gkL_checkoptions(L, 4, keys);
  size_t search, stop;
  gk_selector *sel = read_ubm_selection(L, 4, &search, &stop, 0, (lua_Integer)ubm->k);
  lua_Integer top = (lua_Integer)stop;
  size_t nm = gkL_checklen(L, 1, 1, GK_MAX_LIST, "the model list");
  size_t nt = gkL_checklen(L, 3, 3, GK_MAX_LIST, "the test list");
  if (nm == 0) luaL_argerror(L, 1, "no models");
  if (nt == 0) luaL_argerror(L, 3, "no tests");
  const gk_gmm **models = lua_newuserdatauv(L, nm * sizeof *models, 0);
  for (size_t m = 0; m < nm; m++) {
    lua_geti(L, 1, (lua_Integer)m + 1);
    gk_gmm **box = luaL_testudata(L, -1, GKL_GMM);
    if (!box || !*box)
      luaL_argerror(L, 1, lua_pushfstring(L, "item %I is %s, not an open gmmkit.Gmm", (lua_Integer)m + 1,
                                          box ? "a closed gmmkit.Gmm" : luaL_typename(L, -1)));
    models[m] = *box;
    lua_pop(L, 1);  /* the list keeps it alive */
  }
  gk_gmm_data *tests = lua_newuserdatauv(L, nt * sizeof *tests, 0);
  lua_createtable(L, (int)(2 * nt), 0);  /* keeps each test's matrices and descriptors alive */
  int keep = lua_gettop(L);
  for (size_t t = 0; t < nt; t++) {
    lua_geti(L, 3, (lua_Integer)t + 1);
    check_data(L, lua_gettop(L), &tests[t], 1);  /* pushes an anchor and the descriptors */
    lua_rawseti(L, keep, (lua_Integer)(2 * t + 2));
    lua_rawseti(L, keep, (lua_Integer)(2 * t + 1));
    lua_pop(L, 1);
  }
  gk_matrix *out = gkL_newmatrix(L, nm, nt, GK_FLOAT64);
  gk_error e;
  double evals = (double)ubm->k;
  gk_status st = sel ? gk_selector_llr_matrix(sel, models, nm, ubm, tests, nt, search, (size_t)top, out->data, &evals,
                                              clear_err(&e))
                     : gk_gmm_llr_matrix(models, nm, ubm, tests, nt, (size_t)top, out->data, clear_err(&e));
  if (st != GK_OK) gkL_raise(L, &e);
  lua_pushnumber(L, evals);
  return 2;
}

/* ---- training: the Trainer object (the loop is gk.gmm.train in lua/gmmkit/training.lua) --- */

#define GKL_TRAINER "gmmkit.Trainer"

/* A Trainer: the core's training state, the data it steps over and the settings of the
 * loop. User values: 1 the anchor table of the data's matrices, 2 the userdata of their
 * descriptors (x.parts points into it), 3 the progress option. */
typedef struct trainer_box {
  gk_gmm_trainer *t;    /* NULL when closed */
  gk_gmm_data x;
  const gk_comm *comm;  /* NULL: this process alone */
  uint64_t fp;          /* digest of data and options, checked when resuming */
  int threads;          /* threads of its steps (0: the process setting) */
  int resumed, converged;
  lua_Integer max_iter;
  double tol;
  /* Gaussian selection in the E-step (option gselect), once the model has its final K:
   * each frame's `top` components, chosen among all K (clusters = 0) or by a selector
   * made from a reduction of the current model to `clusters` by `method`, are chosen
   * again every `refresh` iterations (and at once after a resume); the iterations in
   * between score each frame under its chosen components only. With gs_data the
   * selector's members come from the data too (gk_selector_create_data on at most
   * GSELECT_SAMPLE frames of x, evenly spread; from disk, x is that part of the initial
   * model's sample, member_sample). */
  int gselect, gs_data;
  size_t gs_top, gs_search, gs_clusters, gs_refresh, gs_min_count;
  gk_simplify_method gs_method;
  size_t *gs_idx;       /* frames x gs_top: the chosen components (NULL until chosen) */
  size_t gs_made;       /* the iteration they were chosen at */
  /* Data read from disk (X a Kaldi rspecifier or a list of files): each iteration reads
   * the source in chunks; x is then a sample of it (the initial model's data). */
  gk_source *src;
  size_t stride;        /* subsample, applied to each chunk */
  size_t frames;        /* this rank's frames (after the stride) */
  gk_matrix sample;     /* the sample x describes (malloc'ed) */
} trainer_box;

static int trainer_release(lua_State *L) {
  trainer_box *b = luaL_checkudata(L, 1, GKL_TRAINER);
  if (b->t) {
    gk_gmm_trainer_free(b->t);
    b->t = NULL;
  }
  gk_scratch_free(b->gs_idx);
  b->gs_idx = NULL;
  gk_source_close(b->src);
  b->src = NULL;
  gk_matrix_release(&b->sample, NULL);
  return 0;
}

/* opts.gselect: {top=5, clusters=0 (all K), search=2, method="runnalls", refresh=1,
 * members="overlap", min_count=5}. */
static void read_gselect(lua_State *L, int arg, size_t k, int disk, trainer_box *b) {
  static const char *const keys[] = {"top", "search", "clusters", "method", "refresh", "members", "min_count", NULL};
  static const char *const members[] = {"overlap", "data", NULL};
  int t = gkL_optfield(L, arg, "gselect");
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  if (t != LUA_TTABLE)
    gkL_opterror(L, arg, "gselect",
                 "must be a table {top=, search=, clusters=, method=, refresh=, members=, min_count=}");
  if (k < 2) gkL_opterror(L, arg, "gselect", "needs at least 2 components");
  int g = gkL_subopts(L, arg, "gselect");
  gkL_checkoptions(L, g, keys);
  b->gselect = 1;
  b->gs_clusters = (size_t)gkL_optinteger(L, g, "clusters", 0, 0,
                                          (lua_Integer)k - 1);
  b->gs_top = (size_t)gkL_optinteger(L, g, "top", (lua_Integer)(k < 5 ? k : 5), 1, (lua_Integer)k);
  b->gs_search = (size_t)gkL_optinteger(L, g, "search", b->gs_clusters < 2 ? 1 : 2, 1,
                                        (lua_Integer)(b->gs_clusters ? b->gs_clusters : 1));
  b->gs_method = (gk_simplify_method)gkL_optenum(L, g, "method", gk_simplify_method_names, GK_SIMPLIFY_RUNNALLS);
  b->gs_refresh = (size_t)gkL_optinteger(L, g, "refresh", 1, 1, LUA_MAXINTEGER);
  b->gs_data = gkL_optenum(L, g, "members", members, 0) == 1;
  if (b->gs_data && b->gs_clusters == 0)
    gkL_opterror(L, g, "members", "'data' needs clusters > 0 (a selector to give members to)");
  if (b->gs_data && b->comm && disk)
    gkL_opterror(L, g, "members", "'data' with comm needs the frames in memory (a list of matrices): from disk each "
                 "rank holds only its own sample of them");
  if (!b->gs_data && gkL_optfield(L, g, "min_count") != LUA_TNIL)
    gkL_opterror(L, g, "min_count", "needs members = \"data\"");
  b->gs_min_count = (size_t)gkL_optinteger(L, g, "min_count", 5, 1, INT32_MAX);
  gkL_subopts_end(L, g);
  lua_settop(L, g - 1);
}

static trainer_box *check_trainer(lua_State *L, int idx) {
  trainer_box *b = luaL_checkudata(L, idx, GKL_TRAINER);
  if (!b->t) luaL_argerror(L, idx, "attempt to use a closed gmmkit.Trainer");
  return b;
}

/* The trainer's thread count for the length of one core call, the setting restored
 * before the call returns to Lua (the process setting is the caller's). */
static int threads_begin(int threads) {
  int previous = gk_threads();
  if (threads > 0 && threads != previous) gk_set_threads(threads);
  return previous;
}

static void threads_end(int threads, int previous) {
  if (threads > 0 && threads != previous) gk_set_threads(previous);
}

static const char *const init_names[] = {"kmeans++", "kmeans", "random", "split", NULL};

/* opts.init: a method name, or a Gmm to start from (which fixes K and the covariance type;
 * the options components and covariance_type may only repeat them). */
static void read_init(lua_State *L, int arg, gk_gmm_train_opts *o) {
  if (gkL_optfield(L, arg, "init") != LUA_TUSERDATA) {
    lua_pop(L, 1);
    o->init = (gk_gmm_init)gkL_optenum(L, arg, "init", init_names, GK_INIT_KMEANSPP);
    return;
  }
  gk_gmm **mb = luaL_testudata(L, -1, GKL_GMM);
  if (!mb || !*mb) gkL_opterror(L, arg, "init", "must be a method name or an open gmmkit.Gmm");
  o->init = GK_INIT_MODEL;
  o->init_model = *mb;
  o->components = (*mb)->k;
  o->cov = (*mb)->cov;
  lua_getfield(L, arg, "components");
  if (!lua_isnil(L, -1) && lua_tointeger(L, -1) != (lua_Integer)(*mb)->k)
    gkL_opterror(L, arg, "components", "(%d) differs from the initial model's %d components",
                 (int)lua_tointeger(L, -1), (int)(*mb)->k);
  lua_pop(L, 1);
  lua_getfield(L, arg, "covariance_type");
  if (!lua_isnil(L, -1) && strcmp(lua_tostring(L, -1), gk_cov_type_name((*mb)->cov)) != 0)
    gkL_opterror(L, arg, "covariance_type", "('%s') differs from the initial model's ('%s')",
                 lua_tostring(L, -1), gk_cov_type_name((*mb)->cov));
  lua_pop(L, 1);
  lua_pop(L, 1);
}

/* What gk.gmm.trainer reads besides the core's options. */
typedef struct trainer_settings {
  size_t stride, chunk_frames;
  const char *checkpoint;
  int resume, threads;
} trainer_settings;

/* The options at `arg` in gk.gmm.train's order (so that the first bad one is the one it
 * reported); the progress option is left on the stack. */
static void read_trainer_opts(lua_State *L, int arg, gk_gmm_train_opts *o, trainer_box *b, trainer_settings *s,
                              int disk) {
  static const char *const keys[] = {
    "components", "covariance_type", "init", "max_iter", "tol", "seed", "var_floor",
    "var_floor_relative", "min_weight", "min_weight_action", "reg", "subsample", "threads",
    "progress", "checkpoint", "resume", "init_frames", "comm", "gselect", "chunk_frames", NULL};
  gkL_checkoptions(L, arg, keys);
  gk_gmm_train_opts_default(o);
  o->components = (size_t)gkL_optinteger(L, arg, "components", 1, 1, GK_MAX_COMPONENTS);
  o->cov = (gk_cov_type)gkL_optenum(L, arg, "covariance_type", cov_names, GK_COV_DIAG);
  read_init(L, arg, o);
  b->max_iter = gkL_optinteger(L, arg, "max_iter", 100, 0, LUA_MAXINTEGER);
  b->tol = gkL_optnumber(L, arg, "tol", 1e-3, 0.0, HUGE_VAL);
  o->seed = (uint64_t)gkL_optinteger(L, arg, "seed", 0, LUA_MININTEGER, LUA_MAXINTEGER);
  o->update = read_update_opts(L, arg);
  o->init_frames = (size_t)gkL_optinteger(L, arg, "init_frames", 0, 0, LUA_MAXINTEGER);
  s->stride = (size_t)gkL_optinteger(L, arg, "subsample", 1, 1, LUA_MAXINTEGER);
  s->chunk_frames = (size_t)gkL_optinteger(L, arg, "chunk_frames", 262144, 1, (lua_Integer)GK_MAX_ELEMENTS);
  s->threads = gkL_optthreads(L, arg, "threads");
  int t = gkL_optfield(L, arg, "progress");
  if (t != LUA_TNIL && t != LUA_TBOOLEAN && t != LUA_TFUNCTION)
    gkL_opterror(L, arg, "progress", "must be a boolean or a function, got %s", luaL_typename(L, -1));
  s->checkpoint = gkL_optpath(L, arg, "checkpoint", NULL);
  s->resume = gkL_optboolean(L, arg, "resume", 0);
  if (s->resume && !s->checkpoint)
    gkL_opterror(L, arg, "resume", "needs the option 'checkpoint' (the file to resume from)");
  /* Distributed over the MPI ranks: by default whenever there is more than one. */
  b->comm = gkL_comm(L);
  if (!gkL_optboolean(L, arg, "comm", b->comm != NULL)) b->comm = NULL;
  int progress = lua_gettop(L);
  read_gselect(L, arg, o->components, disk, b);
  lua_settop(L, progress);
}

/* Starts the training of `b` afresh, or from its checkpoint when resuming and there is
 * one (under MPI rank 0 decides, every rank reads it: a file system they share). */
static void trainer_start(lua_State *L, trainer_box *b, const gk_gmm_train_opts *o, const trainer_settings *s) {
  gk_allocator a = gkL_allocator(L);
  gk_error e;
  if (gk_gmm_train_fingerprint(&b->x, o, b->comm, &b->fp, clear_err(&e)) != GK_OK) gkL_raise(L, &e);
  if (b->src) b->fp = (b->fp ^ (uint64_t)b->frames) * 0x100000001b3ull;  /* the sample's digest and the count */
  int resumed = s->resume && (gk_comm_rank(b->comm) != 0 || access(s->checkpoint, F_OK) == 0);
  if (s->resume && gk_comm_bcast(b->comm, &resumed, sizeof resumed, 0, &e) != GK_OK) gkL_raise(L, &e);
  int previous = threads_begin(b->threads);
  gk_status st = resumed ? gk_gmm_trainer_load(s->checkpoint, b->fp, &b->t, &a, &e)
                         : gk_gmm_trainer_create(&b->t, &b->x, o, b->comm, &a, &e);
  threads_end(b->threads, previous);
  if (st != GK_OK) gkL_raise(L, &e);
  b->resumed = resumed;
}

static void trainer_ensure_class(lua_State *L);

/* The trainer's userdata for `proto`, its class set, the data's anchor and descriptors
 * (the values at anchor and anchor + 1; none: 0) and the progress value kept. */
static trainer_box *new_trainer(lua_State *L, const trainer_box *proto, const trainer_settings *s, int anchor,
                                int progress) {
  trainer_box *b = lua_newuserdatauv(L, sizeof *b, 3);
  *b = *proto;
  b->t = NULL;
  b->threads = s->threads;
  trainer_ensure_class(L);
  luaL_setmetatable(L, GKL_TRAINER);
  for (int i = 0; anchor && i < 2; i++) {
    lua_pushvalue(L, anchor + i);
    lua_setiuservalue(L, -2, i + 1);
  }
  lua_pushvalue(L, progress);
  lua_setiuservalue(L, -2, 3);
  return b;
}

enum { GSELECT_SAMPLE = 100000 };  /* frames that choose a gselect selector's members */

/* Training from disk with gselect members by data: of the initial model's sample, at most
 * GSELECT_SAMPLE frames, evenly spread, kept in b->sample (and b->x) to choose the
 * selector's members whenever it is made again (the source itself is read only by the
 * E-steps). */
static gk_status member_sample(trainer_box *b, gk_error *e) {
  size_t n = b->sample.rows, step = (n + GSELECT_SAMPLE - 1) / GSELECT_SAMPLE;
  if (step <= 1) return GK_OK;
  size_t m = (n + step - 1) / step;
  size_t *idx = gk_scratch_alloc(m, sizeof(size_t));
  gk_matrix kept;
  if (!idx) return gk_fail_nomem(e);
  gk_status st = gk_matrix_alloc(&kept, m, b->sample.cols, b->sample.dtype, NULL, e);
  if (st == GK_OK) {
    for (size_t i = 0; i < m; i++) idx[i] = i * step;
    gk_matrix_select_rows(&b->sample, idx, m, &kept);
    gk_matrix_release(&b->sample, NULL);
    b->sample = kept;
  }
  gk_scratch_free(idx);
  return st;
}

/* gk.gmm.trainer on data read from disk: the source opened (this rank's share of its
 * entries), one pass that counts the frames and keeps a sample for the initial model
 * (init_frames of them, 500000 by default, as Kaldi's train_diag_ubm.sh), then the start. */
static int trainer_from_source(lua_State *L, const gk_gmm_train_opts *o, const trainer_box *proto,
                               const trainer_settings *s, int progress) {
  gk_source_opts so;
  gk_source_opts_default(&so);
  so.chunk_frames = s->chunk_frames;
  so.share = (size_t)gk_comm_rank(proto->comm);
  so.shares = (size_t)gk_comm_size(proto->comm);
  gk_source *src = push_source(L, 1, &so);
  trainer_box *b = new_trainer(L, proto, s, 0, progress);
  b->src = src;
  *(gk_source **)lua_touserdata(L, -2) = NULL;  /* the trainer owns the source from here */
  b->stride = s->stride;
  gk_error e;
  clear_err(&e);
  gk_status st = gk_source_sample(b->src, s->stride, o->init_frames ? o->init_frames : 500000, &b->sample,
                                  &b->frames, NULL, &e);
  b->x.parts = &b->sample;
  b->x.nparts = 1;
  b->x.stride = 1;
  if (st == GK_OK) st = gk_gmm_train_check(&b->x, o, b->comm, NULL, &e);
  if (st != GK_OK) gkL_raise(L, &e);
  trainer_start(L, b, o, s);
  /* The sample made the initial model and the fingerprint; the iterations read the source,
   * whose frames (of all ranks) are the trainer's. Gaussian selection with members by data
   * keeps part of it to choose the members from (member_sample). */
  if (b->gselect && b->gs_data) {
    if (member_sample(b, &e) != GK_OK) gkL_raise(L, &e);
  } else {
    gk_matrix_release(&b->sample, NULL);
    b->x.nparts = 0;
  }
  double frames = (double)b->frames;
  if (gk_comm_sum_doubles(b->comm, &frames, 1, &e) != GK_OK) gkL_raise(L, &e);
  b->t->frames = frames;
  return 1;
}

/* gk.gmm.trainer(X, opts) */
static int l_trainer(lua_State *L) {
  lua_settop(L, 2);
  gk_gmm_train_opts o;
  trainer_settings s;
  trainer_box proto = {0};
  int disk = is_source(L, 1);
  read_trainer_opts(L, 2, &o, &proto, &s, disk);
  int progress = lua_gettop(L);
  if (disk) return trainer_from_source(L, &o, &proto, &s, progress);
  if (lua_istable(L, 2) && lua_getfield(L, 2, "chunk_frames") != LUA_TNIL)
    gkL_opterror(L, 2, "chunk_frames", "is for data read from files (a Kaldi rspecifier or a list of files)");
  lua_settop(L, progress);
  check_data_list(L, 1, &proto.x, s.stride, proto.comm != NULL);  /* pushes the anchor and the descriptors */
  gk_error e;
  if (gk_gmm_train_check(&proto.x, &o, proto.comm, NULL, clear_err(&e)) != GK_OK) gkL_raise(L, &e);
  trainer_box *b = new_trainer(L, &proto, &s, progress + 1, progress);
  trainer_start(L, b, &o, &s);
  return 1;
}

/* How a step of Gaussian selection takes each frame's components: chosen now (with the
 * selector, else the best of all K) or kept from an earlier step. */
typedef struct choice {
  int now;
  gk_selector *sel;
} choice;

/* Before a step that chooses each frame's components: the lists' memory, and for
 * clusters > 0 the selector made from a reduction of the current model into *sel (the
 * caller frees it after the step). */
static gk_status choose_begin(lua_State *L, trainer_box *b, gk_selector **sel, gk_error *e) {
  gk_gmm_trainer *t = b->t;
  size_t n = b->src ? b->frames : gk_gmm_data_frames(&b->x);
  if (!b->gs_idx && !(b->gs_idx = gk_scratch_alloc(n ? n * b->gs_top : 1, sizeof(size_t)))) return gk_fail_nomem(e);
  if (b->gs_clusters == 0) return GK_OK;
  gk_simplify_opts so;
  gk_simplify_opts_default(&so);
  so.method = b->gs_method;
  gk_gmm *g = NULL;
  gk_allocator a = gkL_allocator(L);
  gk_status st = gk_simplify_reduce(t->model, b->gs_clusters, &so, &g, NULL, NULL, e);
  if (st == GK_OK && b->gs_data) {
    /* in memory (this rank's matrices), or the source's sample; every matrix strided alike
     * on every rank, by the count of all ranks' frames, as one process strides them all */
    gk_gmm_data sample = b->x;
    double have = (double)gk_gmm_data_frames(&b->x);
    st = gk_comm_sum_doubles(b->comm, &have, 1, e);
    size_t step = (size_t)ceil(have / GSELECT_SAMPLE);
    sample.stride = (b->x.stride > 1 ? b->x.stride : 1) * (step > 1 ? step : 1);
    if (st == GK_OK)
      st = gk_selector_create_data_comm(sel, t->model, g, 1, &sample, 1, 2, b->gs_min_count, b->comm, &a, e);
  } else if (st == GK_OK) {
    st = gk_selector_create(sel, t->model, g, 1, &a, e);
  }
  gk_gmm_free(g);
  return st;
}

/* The E-step over x (this rank's frames in memory, or a chunk of the source that starts at
 * frame `offset`): all components, or each frame's chosen ones, chosen now when c->now
 * (the best of all K as Kaldi's gmm-gselect, or by the selector). */
static gk_status estep_part(trainer_box *b, const gk_gmm_data *x, size_t offset, const choice *c,
                            gk_gmm_stats **s, gk_error *e) {
  gk_gmm *g = b->t->model;
  if (!b->gselect || b->t->splitting) return gk_gmm_accumulate(g, x, s, NULL, e);
  size_t *idx = b->gs_idx + offset * b->gs_top;
  gk_status st = GK_OK;
  if (c->now)
    st = c->sel ? gk_selector_select(c->sel, x, b->gs_search, b->gs_top, idx, NULL, e)
                : gk_gmm_top_posteriors(g, x, b->gs_top, idx, NULL, e);
  if (st == GK_OK) st = gk_gmm_accumulate_selected(g, x, idx, b->gs_top, s, NULL, e);
  return st;
}

/* The E-step over all this rank's frames: in memory, or the source read chunk by chunk
 * (the next chunk read while this one is scored). */
static gk_status estep(trainer_box *b, const choice *c, gk_gmm_stats **s, gk_error *e) {
  if (!b->src) return gk_gmm_data_frames(&b->x) > 0 ? estep_part(b, &b->x, 0, c, s, e) : GK_OK;
  gk_status st = gk_source_rewind(b->src, e);
  size_t offset = 0;
  for (int done = 0; st == GK_OK;) {
    gk_gmm_data chunk;
    st = gk_source_next(b->src, &chunk, &done, e);
    if (st != GK_OK || done) break;
    chunk.stride = b->stride;
    size_t n = gk_gmm_data_frames(&chunk);
    if (offset + n > b->frames) break;
    st = estep_part(b, &chunk, offset, c, s, e);
    offset += n;
  }
  if (st == GK_OK && offset != b->frames)
    st = gk_fail(e, GK_EIO, "the data changed during training: this pass read %s%zu frames, the first %zu",
                 offset > b->frames ? "more than " : "", offset, b->frames);
  return st;
}

/* One EM iteration done here rather than by gk_gmm_trainer_step (data on disk, or
 * Gaussian selection): the components of each frame chosen again when due, this rank's
 * statistics, summed over the ranks, then the trainer's own update. */
static gk_status own_step(lua_State *L, trainer_box *b, double *ll, double *comm_seconds, gk_error *e) {
  gk_gmm_trainer *t = b->t;
  choice c = {b->gselect && !t->splitting && (!b->gs_idx || t->iteration - b->gs_made >= b->gs_refresh), NULL};
  gk_status st = c.now ? choose_begin(L, b, &c.sel, e) : GK_OK;
  gk_gmm_stats *stats = NULL;
  if (st == GK_OK) st = estep(b, &c, &stats, e);
  gk_selector_free(c.sel);
  if (st == GK_OK && c.now) b->gs_made = t->iteration;
  double t0 = gk_seconds();
  if (st == GK_OK && b->comm)
    st = gk_gmm_stats_reduce(&stats, t->model->k, t->model->d, t->model->cov, b->comm, NULL, e);
  *comm_seconds = b->comm ? gk_seconds() - t0 : 0.0;
  if (st == GK_OK) st = gk_gmm_trainer_advance(t, stats, ll, e);
  gk_gmm_stats_free(stats);
  return st;
}

/* t:step() -> record | nil: nil (and t.converged set when the log-likelihood changed by
 * less than tol) once the loop's settings say training is done. */
static int trainer_step(lua_State *L) {
  trainer_box *b = check_trainer(L, 1);
  gk_gmm_trainer *t = b->t;
  size_t h = t->history_len;
  if (!t->splitting && h >= 2 && fabs(t->history[h - 1] - t->history[h - 2]) < b->tol) b->converged = 1;
  if (b->converged || (!t->splitting && t->iteration >= (size_t)b->max_iter)) {
    lua_pushnil(L);
    return 1;
  }
  int splitting = t->splitting;
  size_t k_before = t->model->k, stage = t->stage + 1, stage_iter = t->stage_iter + 1;
  double t0 = gk_seconds(), ll, comm_seconds = 0.0;
  gk_error e;
  int previous = threads_begin(b->threads);
  gk_status st = (b->gselect && !t->splitting) || b->src
                    ? own_step(L, b, &ll, &comm_seconds, clear_err(&e))
                    : gk_gmm_trainer_step(t, &b->x, b->comm, &ll, &comm_seconds, clear_err(&e));
  threads_end(b->threads, previous);
  /* An interrupt that came after the step's last poll (in its M-step) stops here, in C, as
   * the C loop did: returning would run the caller's Lua loop, where the host's hook would
   * raise it inside any pcall around gk.gmm.train. The step itself is complete. */
  if (st == GK_OK && gk_interrupted()) st = gk_fail(&e, GK_EINTR, "interrupted");
  if (st != GK_OK) gkL_raise(L, &e);
  lua_createtable(L, 0, 8);
  lua_pushinteger(L, (lua_Integer)t->iteration);
  lua_setfield(L, -2, "iteration");
  lua_pushnumber(L, ll);
  lua_setfield(L, -2, "log_likelihood");
  lua_pushnumber(L, gk_seconds() - t0);
  lua_setfield(L, -2, "seconds");
  lua_pushnumber(L, comm_seconds);
  lua_setfield(L, -2, "comm_seconds");
  lua_pushinteger(L, (lua_Integer)k_before);
  lua_setfield(L, -2, "components");
  lua_pushboolean(L, splitting);
  lua_setfield(L, -2, "splitting");
  lua_pushinteger(L, (lua_Integer)stage);
  lua_setfield(L, -2, "stage");
  lua_pushinteger(L, (lua_Integer)stage_iter);
  lua_setfield(L, -2, "stage_iteration");
  return 1;
}

static int trainer_model(lua_State *L) {
  push_clone(L, check_trainer(L, 1)->t->model);
  return 1;
}

/* t:save(path): a checkpoint, written by rank 0 alone under MPI. */
static int trainer_save(lua_State *L) {
  trainer_box *b = check_trainer(L, 1);
  const char *path = gkL_checkpath(L, 2);
  gk_error e;
  if (gk_comm_rank(b->comm) == 0 && gk_gmm_trainer_save(b->t, b->fp, path, clear_err(&e)) != GK_OK)
    gkL_raise(L, &e);
  lua_settop(L, 1);
  return 1;
}

static void push_history(lua_State *L, const gk_gmm_trainer *t) {
  lua_createtable(L, (int)t->history_len, 0);
  for (size_t i = 0; i < t->history_len; i++) {
    lua_pushnumber(L, t->history[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

/* __index: the fields (closed; then, raising when closed, the state and settings); then the methods. */
static int trainer_index(lua_State *L) {
  static const char *const fields[] = {"iteration", "history", "splitting", "components", "events", "frames",
                                       "resumed", "converged", "ranks", "max_iter", "tol", "progress", NULL};
  trainer_box *b = luaL_checkudata(L, 1, GKL_TRAINER);
  const char *key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
  if (key && strcmp(key, "closed") == 0) {
    lua_pushboolean(L, b->t == NULL);
    return 1;
  }
  int f = -1;
  for (int i = 0; key && fields[i]; i++)
    if (strcmp(key, fields[i]) == 0) f = i;
  if (f < 0) {
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    return 1;
  }
  const gk_gmm_trainer *t = check_trainer(L, 1)->t;
  switch (f) {
    case 0: lua_pushinteger(L, (lua_Integer)t->iteration); break;
    case 1: push_history(L, t); break;
    case 2: lua_pushboolean(L, t->splitting); break;
    case 3: lua_pushinteger(L, (lua_Integer)t->model->k); break;
    case 4: lua_pushinteger(L, (lua_Integer)t->events); break;
    case 5: lua_pushnumber(L, t->frames); break;
    case 6: lua_pushboolean(L, b->resumed); break;
    case 7: lua_pushboolean(L, b->converged); break;
    case 8: lua_pushinteger(L, gk_comm_size(b->comm)); break;
    case 9: lua_pushinteger(L, b->max_iter); break;
    case 10: lua_pushnumber(L, b->tol); break;
    default: lua_getiuservalue(L, 1, 3); break;
  }
  return 1;
}

static int trainer_tostring(lua_State *L) {
  trainer_box *b = luaL_checkudata(L, 1, GKL_TRAINER);
  if (!b->t) {
    lua_pushliteral(L, "gmmkit.Trainer (closed)");
  } else {
    lua_pushfstring(L, "gmmkit.Trainer (%d %s components%s, %d iterations)", (int)b->t->model->k,
                    gk_cov_type_name(b->t->model->cov), b->t->splitting ? ", splitting" : "", (int)b->t->iteration);
  }
  return 1;
}

static const gkL_Reg trainer_methods[] = {
  {"step", trainer_step,
   "t:step() -> {iteration=, log_likelihood=, seconds=, comm_seconds=, components=, splitting=, stage=, "
   "stage_iteration=} | nil\n"
   "One EM iteration over the trainer's data (under MPI, over all ranks' data: every rank calls it). "
   "log_likelihood is the mean per frame of the model before the iteration's M-step; components and "
   "splitting describe that model (a split stage may double the components). nil once training is "
   "done: max_iter iterations at the final K, or a change of the log-likelihood below tol (t.converged)."},
  {"model", trainer_model, "t:model() -> Gmm\nA copy of the current model."},
  {"save", trainer_save,
   "t:save(path) -> t\n"
   "Writes a checkpoint (model and training state, atomically); gk.gmm.trainer(X, {checkpoint = path, "
   "resume = true}) with the same data and options continues from it. Under MPI rank 0 alone writes."},
  {"close", trainer_release, "t:close()\nFrees the training state now (idempotent)."},
  {NULL, NULL, NULL}
};

static const gkL_Reg trainer_meta[] = {
  {"__gc", trainer_release, NULL},
  {"__close", trainer_release, NULL},
  {"__tostring", trainer_tostring, NULL},
  {NULL, NULL, NULL}
};

static void trainer_ensure_class(lua_State *L) {
  gkL_newclass_fields(L, GKL_TRAINER, trainer_methods, trainer_meta,
                      "gmmkit.Trainer: EM training one iteration at a time (gk.gmm.trainer). Fields: "
                      "iteration, history, splitting, components, events, frames, resumed, converged, ranks, "
                      "max_iter, tol, progress, closed.", trainer_index);
}

static const gkL_Reg gmm_methods[] = {
  {"weights", l_weights,
   "g:weights() -> {w1, ..., wK}\n"
   "The mixing weights as a new Lua array (non-negative, summing to 1)."},
  {"means", l_means,
   "g:means() -> Matrix\n"
   "The component means as a new K x D float64 matrix (row k = mean of component k)."},
  {"covariances", l_covariances,
   "g:covariances() -> Matrix | {Matrix, ...}\n"
   "Diagonal models: the variances as a new K x D float64 matrix. Full models: a Lua array "
   "of K new D x D float64 covariance matrices."},
  {"copy", l_copy,
   "g:copy() -> Gmm\n"
   "A deep copy of the model."},
  {"log_likelihood", l_log_likelihood,
   "g:log_likelihood(X[, {selector=, search=1, top=5}]) -> number\n"
   "Mean natural-log density per frame of X (a Matrix, a list of matrices or a table of rows; or "
   "data on disk, read in chunks: a Kaldi rspecifier or a list of .npy, HTK and .ark files). "
   "With selector = sel (gk.gmm.selector of this model): the density summed over each frame's top "
   "components among the members of its `search` best clusters."},
  {"score_samples", l_score_samples,
   "g:score_samples(X) -> Matrix\n"
   "log p(x_i) for every frame, as an N x 1 float64 matrix."},
  {"posteriors", l_posteriors,
   "g:posteriors(X[, {top=C}]) -> Matrix | Matrix, Matrix\n"
   "Component posteriors P(k | x_i) as an N x K float64 matrix. With top=C: the C largest "
   "posteriors of each frame in decreasing order (N x C, exact posteriors under the whole "
   "mixture, not renormalised) and their 1-based component indices (N x C). With selector = sel "
   "(and search=, top=): each frame's top components among the members of its best clusters, and "
   "the posteriors over those components (they sum to 1), as Gaussian selection scores."},
  {"predict", l_predict,
   "g:predict(X) -> {k1, k2, ...}\n"
   "The most probable component (1-based) of every frame."},
  {"sample", l_sample,
   "g:sample(n[, {seed=0, dtype=\"float32\"}]) -> Matrix\n"
   "n frames drawn from the mixture (n x D), reproducibly from the seed."},
  {"bic", l_bic,
   "g:bic(X) -> number\n"
   "Bayesian information criterion -2 log L + p log N (p free parameters, as scikit-learn)."},
  {"aic", l_aic,
   "g:aic(X) -> number\n"
   "Akaike information criterion -2 log L + 2 p."},
  {"accumulate", l_accumulate,
   "g:accumulate(X[, stats[, {selector=, search=1, top=5}]]) -> Stats\n"
   "E-step: the sufficient statistics of X under the model (occupancies, first and second "
   "order sums, log-likelihood sum and frame count, float64), added into `stats` when given. X may "
   "be data on disk, read in chunks: a Kaldi rspecifier (\"scp:feats.scp\") or a list of .npy, HTK and .ark files. "
   "Merge statistics from several processes with stats:merge and finish the iteration with "
   "g:update(stats). With selector = sel: each frame's responsibilities spread over its selected "
   "components only (Kaldi's gselect)."},
  {"update", l_update,
   "g:update(stats[, {var_floor=0, var_floor_relative=1e-3, reg=1e-6, min_weight=1e-5, "
   "min_weight_action=\"resplit\"}]) -> Gmm, events\n"
   "M-step: the maximum-likelihood model for the statistics, with the same floors and "
   "handling of dying components as gk.gmm.train; `events` counts components re-split or removed."},
  {"map_adapt", l_map_adapt,
   "g:map_adapt(X[, {relevance=16, means=true, weights=false, variances=false, selector=, search=, top=}]) -> Gmm\n"
   "Reynolds-style MAP adaptation of this UBM to the frames X (Reynolds, Quatieri and Dunn "
   "2000; X may be data on disk, as for g:accumulate): each component moves toward the data by "
   "alpha_k = n_k / (n_k + relevance). With "
   "selector = sel its statistics come from each frame's selected components (g:accumulate)."},
  {"save", l_save,
   "g:save(path)\n"
   "Writes the model to a native binary file (magic, version, checksum), atomically: a "
   "crash never leaves a half-written file in place of the old one."},
  {"save_kaldi", l_save_kaldi,
   "g:save_kaldi(path, {binary=false})\n"
   "Writes the model in Kaldi's format (<DiagGMM> or <FullGMM>, as gmm-global-copy / "
   "fgmm-global-copy write them): text (--binary=false), or with binary = true the binary "
   "form (float32 parameters) that Kaldi's tools write by default."},
  {"close", gmm_release,
   "g:close()\n"
   "Frees the model now (also done by the garbage collector and by a to-be-closed variable). "
   "Idempotent; a closed model raises an error when used."},
  {NULL, NULL, NULL}
};

static const gkL_Reg gmm_meta[] = {
  {"__gc", gmm_release, NULL},
  {"__close", gmm_release, NULL},
  {"__tostring", l_tostring, NULL},
  {NULL, NULL, NULL}
};

static const char gmm_doc[] =
  "gmmkit.Gmm: a Gaussian mixture model with diagonal or full covariances.\n"
  "Fields: g.components (K), g.dim (D), g.covariance_type (\"diag\" or \"full\"). "
  "Parameters are float64; densities are evaluated in the log domain from Cholesky factors.";

static void gmm_ensure_class(lua_State *L) {
  if (luaL_getmetatable(L, GKL_GMM) == LUA_TTABLE) {
    lua_getfield(L, -1, "__index");
    int ok = lua_iscfunction(L, -1);
    lua_pop(L, 2);
    if (ok) return;
  } else {
    lua_pop(L, 1);
  }
  gkL_newclass(L, GKL_GMM, gmm_methods, gmm_meta, gmm_doc);
  /* Replace the methods table in __index by a function that also serves the fields. */
  luaL_getmetatable(L, GKL_GMM);
  lua_getfield(L, -1, "__index");
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    lua_newtable(L);
  }
  lua_pushcclosure(L, l_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

/* ---- the module ---------------------------------------------------------------------- */

static const gkL_Reg gmm_funcs[] = {
  {"llr_matrix", l_llr_matrix,
   "gk.gmm.llr_matrix(models, ubm, tests[, {top=0, selector=, search=1}]) -> Matrix, evals\n"
   "The scores of a trial list: entry (m, t) is gk.gmm.llr(models[m], ubm, tests[t], {top = top}) (a "
   "#models x #tests float64 matrix; a test is a Matrix or a list of matrices). Each test's UBM pass (with "
   "top = C, its C best components per frame) is made once and reused for every model, as scoring "
   "tools do; the values equal per-pair calls up to the order of the sums (1e-12 relative). With selector = "
   "sel (gk.gmm.selector) the top (default 5) components of each frame come from the members of its "
   "`search` best clusters instead of all K. evals: the mean Gaussians evaluated per frame for the UBM pass."},
  {"selector_from", l_selector_from,
   "gk.gmm.selector_from(ubm, g[, {overlap=1, data=, search=1, top=2, min_count=5}]) -> Selector\n"
   "A selector from a UBM and a smaller mixture g whose components become the clusters (a reduction of "
   "the UBM, gk.simplify.reduce): each UBM component joins the `overlap` clusters of largest overlap "
   "w_j N(mu_i; mu_j, S_i + S_j). With data (a Matrix or list of them: the UBM's training frames or a "
   "sample), membership by responsibility too: each frame's `top` best UBM components join its `search` "
   "best clusters, kept where at least `min_count` frames put them. A larger min_count or a smaller top "
   "gives fewer members (fewer Gaussians per frame, the best component found less often); search = 1 "
   "and a scoring search of 1-2 measured best. gk.gmm.selector(ubm, opts) makes the reduction too."},
  {"trainer", l_trainer,
   "gk.gmm.trainer(X[, opts]) -> Trainer\n"
   "EM training in the caller's hands: the data, the initial model and the settings of gk.gmm.train "
   "(its options, the same checks and messages), then t:step() per iteration, t:model(), t:save(path). "
   "X may be data on disk: a Kaldi rspecifier (\"scp:feats.scp\", \"ark:cmd |\") or a list of .npy, HTK "
   "and .ark files, read every iteration in chunks of chunk_frames=262144 frames or more (whole matrices; the "
   "next chunk read while this one is scored), giving the model training on the same matrices in "
   "memory gives; the initial model is made from an evenly spread sample of init_frames (default "
   "500000) frames, and under MPI each rank reads every size-th entry from its rank on. "
   "max_iter and tol decide when t:step() returns nil; progress is kept for the loop (t.progress). "
   "checkpoint = path with resume = true continues from a checkpoint t:save wrote (or starts afresh when "
   "there is none). Five steps from init = g0 with tol = 0 give the model gk.gmm.train(X, {init = g0, "
   "max_iter = 5, tol = 0}) gives. threads applies to the trainer's own calls; the process setting is "
   "left as it is. gselect = {top=5, clusters=0, search=2, method='runnalls', refresh=1, members='overlap', "
   "min_count=5}: once the "
   "model has its final K, each iteration's E-step spreads a frame's responsibilities over its `top` "
   "chosen components only, as Kaldi's gselect. They are chosen every `refresh` iterations (and at once "
   "after a resume) under the current model: the best `top` of all K (clusters = 0, Kaldi's "
   "gmm-gselect: a full E-step), or the best among the members of the frame's `search` best clusters "
   "of a reduction of the model to `clusters` components by `method` (gk.gmm.selector); the iterations "
   "in between score each frame under its chosen components alone (top instead of K Gaussians a "
   "frame). members = 'data' gives that selector members by data too (gk.gmm.selector_from with data: "
   "up to 100,000 of the frames, evenly spread, each frame's best 2 components joining its best "
   "cluster where at least min_count frames put them; from data on disk, up to 100,000 of the initial "
   "model's sample (init_frames), kept in memory). With comm the ranks' counts are summed, so every rank "
   "makes the selector one process makes (frames in memory only). The lists take frames x top x 8 "
   "bytes."},
  {"load", l_load,
   "gk.gmm.load(path) -> Gmm\n"
   "Reads a model written by g:save (checksum and sizes checked)."},
  {"load_kaldi", l_load_kaldi,
   "gk.gmm.load_kaldi(path) -> Gmm\n"
   "Reads a Kaldi GMM (<DiagGMM> or <FullGMM>, as gmm-global-copy / fgmm-global-copy write "
   "them), text or binary (detected by Kaldi's \\0B header)."},
  {"load_selector", l_load_selector,
   "gk.gmm.load_selector(path, ubm) -> Selector\n"
   "Reads a selector written by sel:save (checksum, sizes and every member checked) for `ubm`, "
   "which must be the UBM it was built for: another one (by its components, dimension and a "
   "fingerprint of its parameters) is an error naming both. The selector selects exactly as the "
   "saved one did."},
  {"load_stats", l_load_stats,
   "gk.gmm.load_stats(path) -> Stats\n"
   "Reads statistics written by stats:save."},
  {"llr", l_llr,
   "gk.gmm.llr(model, ubm, X[, {top=0, selector=, search=1}]) -> number\n"
   "Mean log-likelihood ratio per frame, log p(x | model) - log p(x | ubm). With top=C both "
   "densities are summed over the C best UBM components of each frame (the model must be "
   "adapted from the UBM); with selector = sel (gk.gmm.selector) those C (default 5) are "
   "the best among the members of the frame's `search` best clusters."},
  {"new", l_new,
   "gk.gmm.new{weights=, means=, covariances=, covariance_type=\"diag\"} -> Gmm\n"
   "A model from its parameters, given as gmmkit.Matrix values or Lua tables of rows: weights "
   "(K numbers, non-negative, summing to 1 within 1e-6), means (K x D), covariances (diag: "
   "K x D variances; full: a list of K symmetric positive definite D x D matrices). A flat "
   "table of K numbers for means is a one-dimensional model."},
  {NULL, NULL, NULL}
};

static void stats_ensure_class(lua_State *L) {
  gkL_newclass_fields(L, GKL_STATS, stats_methods, stats_meta,
                      "gmmkit.Stats: sufficient statistics of a GMM (zeroth, first and second order, "
                      "log-likelihood sum, frame count; float64). Fields: frames, loglik, components, dim, "
                      "covariance_type, closed.", l_stats_index);
}

int gkL_open_gmm(lua_State *L) {
  gmm_ensure_class(L);
  stats_ensure_class(L);
  lua_newtable(L);
  gkL_setfuncs(L, gmm_funcs);
  return 1;
}
