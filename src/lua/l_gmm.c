/*
 * l_gmm.c: the Lua binding of gmmkit/gmm.h: gk.gmm (models, scoring, EM training,
 * sufficient statistics, MAP adaptation, model files) and the userdata types
 * gmmkit.Gmm and gmmkit.Stats.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gkl.h"

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
 * or a flat table of numbers (n x 1). Raises naming `what` otherwise. */
static void value_shape(lua_State *L, int idx, const char *what, size_t *rows, size_t *cols) {
  gk_matrix *m = gkL_testmatrix(L, idx);
  if (m) {
    *rows = m->rows;
    *cols = m->cols;
    return;
  }
  if (!lua_istable(L, idx))
    luaL_error(L, "%s must be a gmmkit.Matrix or a table of rows (got %s)", what, luaL_typename(L, idx));
  lua_Integer n = luaL_len(L, idx);
  if (n <= 0) luaL_error(L, "%s is empty", what);
  int t = lua_geti(L, idx, 1);
  if (t == LUA_TNUMBER) {
    *rows = (size_t)n;
    *cols = 1;
  } else if (t == LUA_TTABLE) {
    lua_Integer c = luaL_len(L, -1);
    if (c <= 0) luaL_error(L, "%s[1] is an empty row", what);
    *rows = (size_t)n;
    *cols = (size_t)c;
  } else {
    luaL_error(L, "%s[1] must be a number or a row table (got %s)", what, luaL_typename(L, -1));
  }
  lua_pop(L, 1);
}

/* Copies the value at idx (shape rows x cols, checked) into dst (row-major float64). */
static void value_read(lua_State *L, int idx, const char *what, size_t rows, size_t cols, double *dst) {
  size_t r, c;
  value_shape(L, idx, what, &r, &c);
  if (r != rows || c != cols)
    luaL_error(L, "%s has shape %zu x %zu, expected %zu x %zu", what, r, c, rows, cols);
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
      if (t != LUA_TTABLE) luaL_error(L, "%s[%zu] must be a row table (got %s)", what, i + 1, luaL_typename(L, -1));
      if ((size_t)luaL_len(L, -1) != cols)
        luaL_error(L, "%s[%zu] has %d values, expected %zu", what, i + 1, (int)luaL_len(L, -1), cols);
      for (size_t j = 0; j < cols; j++) {
        if (lua_geti(L, -1, (lua_Integer)j + 1) != LUA_TNUMBER)
          luaL_error(L, "%s[%zu][%zu] must be a number (got %s)", what, i + 1, j + 1, luaL_typename(L, -1));
        dst[i * cols + j] = lua_tonumber(L, -1);
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 1);
  }
}

static const char *const cov_names[] = {"diag", "full", NULL};

/* gk.gmm.new{weights=, means=, covariances=, covariance_type=} */
static int l_new(lua_State *L) {
  static const char *const keys[] = {"weights", "means", "covariances", "covariance_type", NULL};
  luaL_checktype(L, 1, LUA_TTABLE);
  gkL_checkoptions(L, 1, keys);
  gk_cov_type cov = (gk_cov_type)gkL_optenum(L, 1, "covariance_type", cov_names, GK_COV_DIAG);
  int iw = lua_gettop(L) + 1;
  if (gkL_optfield(L, 1, "weights") == LUA_TNIL) luaL_error(L, "gmm.new: option 'weights' is required");
  int im = iw + 1;
  if (gkL_optfield(L, 1, "means") == LUA_TNIL) luaL_error(L, "gmm.new: option 'means' is required");
  int ic = im + 1;
  if (gkL_optfield(L, 1, "covariances") == LUA_TNIL) luaL_error(L, "gmm.new: option 'covariances' is required");

  size_t k, one, d, mk;
  value_shape(L, iw, "weights", &k, &one);
  if (one != 1 && k == 1) { k = one; one = 1; }  /* a 1 x K matrix of weights */
  if (one != 1) luaL_error(L, "weights must be a list of K numbers (got %zu x %zu)", k, one);
  value_shape(L, im, "means", &mk, &d);
  if (mk != k) luaL_error(L, "means has %zu rows but there are %zu weights", mk, k);
  if (cov == GK_COV_DIAG) {
    size_t ck, cd;
    value_shape(L, ic, "covariances", &ck, &cd);
    if (ck != k || cd != d)
      luaL_error(L, "diagonal covariances have shape %zu x %zu, expected %zu x %zu (K x D)", ck, cd, k, d);
  } else {
    if (!lua_istable(L, ic) || gkL_testmatrix(L, ic))
      luaL_error(L, "full covariances must be a list of K matrices of D x D");
    if ((size_t)luaL_len(L, ic) != k)
      luaL_error(L, "full covariances: %d matrices for %zu components", (int)luaL_len(L, ic), k);
  }

  gk_gmm *g = push_new_model(L, k, d, cov);
  int ig = lua_gettop(L);
  if (k == 1 && gkL_testmatrix(L, iw) && gkL_testmatrix(L, iw)->rows == 1) {
    value_read(L, iw, "weights", 1, gkL_testmatrix(L, iw)->cols, g->weights);
  } else {
    value_read(L, iw, "weights", k, 1, g->weights);
  }
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
  {"new", l_new,
   "gk.gmm.new{weights=, means=, covariances=, covariance_type=\"diag\"} -> Gmm\n"
   "A model from its parameters, given as gmmkit.Matrix values or Lua tables of rows: weights "
   "(K numbers, non-negative, summing to 1 within 1e-6), means (K x D), covariances (diag: "
   "K x D variances; full: a list of K symmetric positive definite D x D matrices). A flat "
   "table of K numbers for means is a one-dimensional model."},
  {NULL, NULL, NULL}
};

int gkL_open_gmm(lua_State *L) {
  gmm_ensure_class(L);
  lua_newtable(L);
  gkL_setfuncs(L, gmm_funcs);
  return 1;
}
