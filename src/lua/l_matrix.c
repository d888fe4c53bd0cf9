/*
 * l_matrix.c: gk.matrix, the gmmkit.Matrix type (2-D row-major float32/float64).
 * The data lives inline in the userdata (aligned to 64 bytes), so Lua's collector
 * accounts for it and a matrix needs no close.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "gkl.h"

#define ALIGN 64

typedef struct lmatrix {
  gk_matrix m;
} lmatrix;

gk_matrix *gkL_newmatrix(lua_State *L, size_t rows, size_t cols, gk_dtype t) {
  size_t bytes;
  gk_error err;
  lmatrix *u;
  if (gk_matrix_bytes(rows, cols, t, &bytes, &err) != GK_OK) gkL_raise(L, &err);
  u = lua_newuserdatauv(L, sizeof(lmatrix) + (bytes ? bytes + ALIGN : 0), 0);
  u->m = gk_matrix_view(rows, cols, t, NULL);
  if (bytes) {
    uintptr_t p = (uintptr_t)(u + 1);
    u->m.data = (void *)((p + ALIGN - 1) / ALIGN * ALIGN);
    memset(u->m.data, 0, bytes);
  }
  luaL_setmetatable(L, GKL_MATRIX);
  return &u->m;
}

gk_matrix *gkL_testmatrix(lua_State *L, int idx) {
  lmatrix *u = luaL_testudata(L, idx, GKL_MATRIX);
  return u ? &u->m : NULL;
}

gk_matrix *gkL_checkmatrix(lua_State *L, int idx) {
  return &((lmatrix *)luaL_checkudata(L, idx, GKL_MATRIX))->m;
}

/* Reads a number from a table cell, with a message naming the cell when it is not one. */
static double cell(lua_State *L, int arg, size_t i, size_t j, int flat) {
  int isnum;
  double v = lua_tonumberx(L, -1, &isnum);
  if (!isnum) {
    if (flat) luaL_argerror(L, arg, lua_pushfstring(L, "element %I is a %s, not a number", (lua_Integer)i + 1, luaL_typename(L, -1)));
    luaL_argerror(L, arg, lua_pushfstring(L, "element [%I][%I] is a %s, not a number",
                                          (lua_Integer)i + 1, (lua_Integer)j + 1, luaL_typename(L, -1)));
  }
  lua_pop(L, 1);
  return v;
}

/* A table of rows ({{1,2},{3,4}}) or a flat table of numbers (a column). */
static gk_matrix *matrix_from_table(lua_State *L, int arg, gk_dtype t) {
  size_t rows, cols, i, j;
  gk_matrix *m;
  int flat;
  arg = lua_absindex(L, arg);
  rows = gkL_checklen(L, arg, arg, GK_MAX_TABLE, "the table");
  if (rows == 0) {
    return gkL_newmatrix(L, 0, 0, t);
  }
  lua_geti(L, arg, 1);
  flat = lua_type(L, -1) != LUA_TTABLE;
  cols = flat ? 1 : gkL_checklen(L, -1, arg, GK_MAX_TABLE, "row 1");
  lua_pop(L, 1);
  for (i = 0; i < rows && !flat; i++) {
    if (lua_geti(L, arg, (lua_Integer)i + 1) != LUA_TTABLE)
      luaL_argerror(L, arg, lua_pushfstring(L, "row %I is a %s, not a table", (lua_Integer)i + 1, luaL_typename(L, -1)));
    size_t len = gkL_checklen(L, -1, arg, GK_MAX_TABLE, "a row");
    if (len != cols)
      luaL_argerror(L, arg, lua_pushfstring(L, "row %I has %I elements, row 1 has %I",
                                            (lua_Integer)i + 1, (lua_Integer)len, (lua_Integer)cols));
    lua_pop(L, 1);
  }
  m = gkL_newmatrix(L, rows, cols, t);
  for (i = 0; i < rows; i++) {
    if (flat) {
      lua_geti(L, arg, (lua_Integer)i + 1);
      gk_matrix_set(m, i, 0, cell(L, arg, i, 0, 1));
      continue;
    }
    lua_geti(L, arg, (lua_Integer)i + 1);
    for (j = 0; j < cols; j++) {
      lua_geti(L, -1, (lua_Integer)j + 1);
      gk_matrix_set(m, i, j, cell(L, arg, i, j, 0));
    }
    lua_pop(L, 1);
  }
  return m;
}

gk_matrix *gkL_tomatrix(lua_State *L, int idx, int t, int *pushed) {
  gk_matrix *m = gkL_testmatrix(L, idx), *c;
  gk_error err;
  *pushed = 0;
  if (m) {
    if (t < 0 || (gk_dtype)t == m->dtype) return m;
    c = gkL_newmatrix(L, m->rows, m->cols, (gk_dtype)t);
    if (gk_matrix_copy(m, c, &err) != GK_OK) gkL_raise(L, &err);
    *pushed = 1;
    return c;
  }
  if (lua_type(L, idx) == LUA_TTABLE) {
    c = matrix_from_table(L, idx, t < 0 ? GK_FLOAT64 : (gk_dtype)t);
    *pushed = 1;
    return c;
  }
  luaL_typeerror(L, idx, "Matrix or table of rows");
  return NULL;
}

/* ---- constructors ----------------------------------------------------------------- */

static size_t check_size(lua_State *L, int arg, const char *what) {
  lua_Integer n = luaL_checkinteger(L, arg);
  if (n < 0) luaL_argerror(L, arg, lua_pushfstring(L, "%s must be >= 0, got %I", what, n));
  return (size_t)n;
}

static int m_new(lua_State *L) {
  size_t rows = check_size(L, 1, "rows"), cols = check_size(L, 2, "cols");
  double fill = luaL_optnumber(L, 3, 0.0);
  gk_dtype t = gkL_checkdtype(L, 4, GK_FLOAT64);
  gk_matrix *m = gkL_newmatrix(L, rows, cols, t);
  if (fill != 0.0) gk_matrix_fill(m, fill);
  return 1;
}

static int m_random(lua_State *L) {
  static const char *const keys[] = {"seed", "dist", "dtype", NULL};
  static const char *const dists[] = {"normal", "uniform", NULL};
  static const char *const dtypes[] = {"float32", "float64", NULL};
  size_t rows = check_size(L, 1, "rows"), cols = check_size(L, 2, "cols"), i, j;
  lua_Integer seed;
  int dist;
  gk_dtype t;
  gk_matrix *m;
  gk_rng rng;
  gkL_checkoptions(L, 3, keys);
  seed = gkL_optinteger(L, 3, "seed", 0, LUA_MININTEGER, LUA_MAXINTEGER);
  dist = gkL_optenum(L, 3, "dist", dists, 0);
  t = (gk_dtype)gkL_optenum(L, 3, "dtype", dtypes, GK_FLOAT64);
  m = gkL_newmatrix(L, rows, cols, t);
  gk_rng_seed(&rng, (uint64_t)seed, 0);
  for (i = 0; i < rows; i++)
    for (j = 0; j < cols; j++)
      gk_matrix_set(m, i, j, dist == 0 ? gk_rng_normal(&rng) : gk_rng_uniform(&rng));
  return 1;
}

static int m_from_table(lua_State *L) {
  gk_dtype t = gkL_checkdtype(L, 2, GK_FLOAT64);
  luaL_checktype(L, 1, LUA_TTABLE);
  matrix_from_table(L, 1, t);
  return 1;
}

static int m_load(lua_State *L) {
  const char *path = gkL_checkpath(L, 1);
  gk_npy_header h;
  gk_error err;
  gk_matrix *m;
  FILE *f = gkL_fopen(L, path, "rb");
  if (gk_npy_read_header(f, &h, &err) != GK_OK) {
    gk_error_prefix(&err, path);
    gkL_raise(L, &err);
  }
  m = gkL_newmatrix(L, h.rows, h.cols, h.dtype);
  if (gk_npy_read_data(f, &h, m, &err) != GK_OK) {
    gk_error_prefix(&err, path);
    gkL_raise(L, &err);
  }
  return 1; /* returning closes the file's to-be-closed slot */
}

/* A list of matrices at `arg` -> array of descriptors kept in a scratch userdata. */
static const gk_matrix **check_list(lua_State *L, int arg, size_t *n) {
  const gk_matrix **parts;
  size_t i;
  luaL_checktype(L, arg, LUA_TTABLE);
  *n = gkL_checklen(L, arg, arg, GK_MAX_LIST, "the list");
  parts = lua_newuserdatauv(L, (*n ? *n : 1) * sizeof *parts, 0);
  for (i = 0; i < *n; i++) {
    lua_geti(L, arg, (lua_Integer)i + 1);
    parts[i] = gkL_testmatrix(L, -1);
    if (!parts[i])
      luaL_argerror(L, arg, lua_pushfstring(L, "element %I is a %s, not a Matrix", (lua_Integer)i + 1, luaL_typename(L, -1)));
    lua_pop(L, 1); /* the list keeps it alive */
  }
  return parts;
}

static gk_dtype common_dtype(const gk_matrix **parts, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (parts[i]->dtype == GK_FLOAT64) return GK_FLOAT64;
  return n ? GK_FLOAT32 : GK_FLOAT64;
}

static int stack(lua_State *L, int vertical) {
  size_t n, i, rows = 0, cols = 0;
  int given = !lua_isnoneornil(L, 2);
  gk_dtype t = given ? gkL_checkdtype(L, 2, GK_FLOAT64) : GK_FLOAT64;
  const gk_matrix **parts = check_list(L, 1, &n);
  gk_matrix *dst;
  gk_error err;
  if (!given) t = common_dtype(parts, n);
  for (i = 0; i < n; i++) {
    if (vertical) {
      if (i && parts[i]->cols != cols)
        luaL_argerror(L, 1, lua_pushfstring(L, "matrix %I has %I columns, matrix 1 has %I", (lua_Integer)i + 1,
                                            (lua_Integer)parts[i]->cols, (lua_Integer)cols));
      cols = parts[i]->cols;
      rows += parts[i]->rows;
    } else {
      if (i && parts[i]->rows != rows)
        luaL_argerror(L, 1, lua_pushfstring(L, "matrix %I has %I rows, matrix 1 has %I", (lua_Integer)i + 1,
                                            (lua_Integer)parts[i]->rows, (lua_Integer)rows));
      rows = parts[i]->rows;
      cols += parts[i]->cols;
    }
  }
  dst = gkL_newmatrix(L, rows, cols, t);
  if ((vertical ? gk_matrix_vstack : gk_matrix_hstack)(parts, n, dst, &err) != GK_OK)
    gkL_raise(L, &err);
  return 1;
}

static int m_vstack(lua_State *L) { return stack(L, 1); }
static int m_hstack(lua_State *L) { return stack(L, 0); }

/* ---- methods ---------------------------------------------------------------------- */

static size_t check_index(lua_State *L, int arg, size_t n, const char *what) {
  lua_Integer i = luaL_checkinteger(L, arg);
  if (i < 1 || (size_t)i > n)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s index %I out of range 1..%I", what, i, (lua_Integer)n));
  return (size_t)i - 1;
}

static int m_rows(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)gkL_checkmatrix(L, 1)->rows);
  return 1;
}

static int m_cols(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)gkL_checkmatrix(L, 1)->cols);
  return 1;
}

static int m_shape(lua_State *L) {
  gk_matrix *m = gkL_checkmatrix(L, 1);
  lua_pushinteger(L, (lua_Integer)m->rows);
  lua_pushinteger(L, (lua_Integer)m->cols);
  return 2;
}

static int m_dtype(lua_State *L) {
  lua_pushstring(L, gk_dtype_name(gkL_checkmatrix(L, 1)->dtype));
  return 1;
}

static int m_get(lua_State *L) {
  gk_matrix *m = gkL_checkmatrix(L, 1);
  size_t i = check_index(L, 2, m->rows, "row"), j = check_index(L, 3, m->cols, "column");
  lua_pushnumber(L, gk_matrix_get(m, i, j));
  return 1;
}

static int m_set(lua_State *L) {
  gk_matrix *m = gkL_checkmatrix(L, 1);
  size_t i = check_index(L, 2, m->rows, "row"), j = check_index(L, 3, m->cols, "column");
  gk_matrix_set(m, i, j, luaL_checknumber(L, 4));
  lua_settop(L, 1);
  return 1;
}

static int m_fill(lua_State *L) {
  gk_matrix_fill(gkL_checkmatrix(L, 1), luaL_checknumber(L, 2));
  lua_settop(L, 1);
  return 1;
}

static void push_row(lua_State *L, const gk_matrix *m, size_t i) {
  size_t j;
  lua_createtable(L, (int)m->cols, 0);
  for (j = 0; j < m->cols; j++) {
    lua_pushnumber(L, gk_matrix_get(m, i, j));
    lua_rawseti(L, -2, (lua_Integer)j + 1);
  }
}

static int m_to_table(lua_State *L) {
  gk_matrix *m = gkL_checkmatrix(L, 1);
  size_t i;
  lua_createtable(L, (int)m->rows, 0);
  for (i = 0; i < m->rows; i++) {
    push_row(L, m, i);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

static int m_row(lua_State *L) {
  gk_matrix *m = gkL_checkmatrix(L, 1);
  push_row(L, m, check_index(L, 2, m->rows, "row"));
  return 1;
}

/* An index list {3, 1, 2} or a boolean mask {true, false, ...} of length n -> 0-based
 * indices in a scratch userdata; *count is their number. */
static size_t *check_selection(lua_State *L, int arg, size_t n, const char *what, size_t *count) {
  size_t len, i, k = 0, *idx;
  int mask;
  luaL_checktype(L, arg, LUA_TTABLE);
  len = gkL_checklen(L, arg, arg, GK_MAX_TABLE, "the selection");
  lua_geti(L, arg, 1);
  mask = lua_type(L, -1) == LUA_TBOOLEAN;
  lua_pop(L, 1);
  if (mask && len != n)
    luaL_argerror(L, arg, lua_pushfstring(L, "mask has %I entries, the matrix has %I %ss", (lua_Integer)len, (lua_Integer)n, what));
  idx = lua_newuserdatauv(L, (len ? len : 1) * sizeof *idx, 0);
  for (i = 0; i < len; i++) {
    int t = lua_geti(L, arg, (lua_Integer)i + 1);
    if (mask) {
      if (t != LUA_TBOOLEAN)
        luaL_argerror(L, arg, lua_pushfstring(L, "mask entry %I is a %s, not a boolean", (lua_Integer)i + 1, luaL_typename(L, -1)));
      if (lua_toboolean(L, -1)) idx[k++] = i;
    } else {
      int isint;
      lua_Integer v = lua_tointegerx(L, -1, &isint);
      if (!isint)
        luaL_argerror(L, arg, lua_pushfstring(L, "index list entry %I is not an integer", (lua_Integer)i + 1));
      if (v < 1 || (size_t)v > n)
        luaL_argerror(L, arg, lua_pushfstring(L, "%s index %I out of range 1..%I", what, v, (lua_Integer)n));
      idx[k++] = (size_t)v - 1;
    }
    lua_pop(L, 1);
  }
  *count = k;
  return idx;
}

static int m_select_rows(lua_State *L) {
  gk_matrix *m = gkL_checkmatrix(L, 1), *dst;
  size_t k, *idx = check_selection(L, 2, m->rows, "row", &k);
  dst = gkL_newmatrix(L, k, m->cols, m->dtype);
  gk_matrix_select_rows(m, idx, k, dst);
  return 1;
}

static int m_select_cols(lua_State *L) {
  gk_matrix *m = gkL_checkmatrix(L, 1), *dst;
  size_t k, *idx = check_selection(L, 2, m->cols, "column", &k);
  dst = gkL_newmatrix(L, m->rows, k, m->dtype);
  gk_matrix_select_cols(m, idx, k, dst);
  return 1;
}

static int moments(lua_State *L, int want_var) {
  gk_matrix *m = gkL_checkmatrix(L, 1), *mean, *var = NULL;
  lua_Integer ddof = luaL_optinteger(L, 2, 0);
  gk_error err;
  if (ddof < 0 || (size_t)ddof >= m->rows)
    return luaL_argerror(L, want_var ? 2 : 1, lua_pushfstring(L, "a %I x %I matrix has too few rows (ddof %I)",
                                          (lua_Integer)m->rows, (lua_Integer)m->cols, ddof));
  mean = gkL_newmatrix(L, 1, m->cols, GK_FLOAT64);
  if (want_var) var = gkL_newmatrix(L, 1, m->cols, GK_FLOAT64);
  if (gk_matrix_col_moments(m, (int)ddof, mean->data, var ? var->data : NULL, &err) != GK_OK)
    gkL_raise(L, &err);
  return 1;
}

static int m_mean(lua_State *L) { return moments(L, 0); }
static int m_var(lua_State *L) { return moments(L, 1); }

static int m_astype(lua_State *L) {
  gk_matrix *m = gkL_checkmatrix(L, 1), *c;
  gk_error err;
  c = gkL_newmatrix(L, m->rows, m->cols, gkL_checkdtype(L, 2, m->dtype));
  if (gk_matrix_copy(m, c, &err) != GK_OK) gkL_raise(L, &err);
  return 1;
}

/* A function of its own, so that copy and astype each keep their doc text. */
static int m_copy(lua_State *L) {
  lua_settop(L, 1);
  return m_astype(L);
}

static int m_save(lua_State *L) {
  gk_matrix *m = gkL_checkmatrix(L, 1);
  const char *path = gkL_checkpath(L, 2);
  gk_error err;
  if (gk_npy_save(path, m, &err) != GK_OK) gkL_raise(L, &err);
  lua_settop(L, 1);
  return 1;
}

static int m_len(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)gkL_checkmatrix(L, 1)->rows);
  return 1;
}

/* Appends element (i, j) in %.6g, right-aligned in 11 characters. */
static void add_cell(luaL_Buffer *b, const gk_matrix *m, size_t i, size_t j) {
  char s[32];
  snprintf(s, sizeof s, " %10.6g", gk_matrix_get(m, i, j));
  luaL_addstring(b, s);
}

static int m_tostring(lua_State *L) {
  enum { EDGE = 3 };
  gk_matrix *m = gkL_checkmatrix(L, 1);
  luaL_Buffer b;
  size_t i, j;
  luaL_buffinit(L, &b);
  lua_pushfstring(L, "Matrix %I x %I %s", (lua_Integer)m->rows, (lua_Integer)m->cols, gk_dtype_name(m->dtype));
  luaL_addvalue(&b);
  for (i = 0; i < m->rows; i++) {
    if (m->rows > 2 * EDGE && i == EDGE) {
      luaL_addstring(&b, "\n  ...");
      i = m->rows - EDGE;
    }
    luaL_addstring(&b, "\n ");
    for (j = 0; j < m->cols; j++) {
      if (m->cols > 2 * EDGE && j == EDGE) {
        luaL_addstring(&b, "        ...");
        j = m->cols - EDGE;
      }
      add_cell(&b, m, i, j);
    }
  }
  luaL_pushresult(&b);
  return 1;
}

static const gkL_Reg methods[] = {
  {"rows", m_rows, "m:rows() -> integer\nNumber of rows (frames, components)."},
  {"cols", m_cols, "m:cols() -> integer\nNumber of columns (dimensions)."},
  {"shape", m_shape, "m:shape() -> rows, cols"},
  {"dtype", m_dtype, "m:dtype() -> 'float32' | 'float64'"},
  {"get", m_get, "m:get(i, j) -> number\nElement at row i, column j (1-based)."},
  {"set", m_set, "m:set(i, j, v) -> m\nSets the element at row i, column j (1-based)."},
  {"fill", m_fill, "m:fill(v) -> m\nSets every element to v."},
  {"row", m_row, "m:row(i) -> table\nRow i as a Lua array."},
  {"to_table", m_to_table, "m:to_table() -> table\nA table of rows, each a Lua array."},
  {"select_rows", m_select_rows,
   "m:select_rows(sel) -> Matrix\nA new matrix of the rows chosen by `sel`: a list of 1-based row indices "
   "(in any order, repeats allowed) or a boolean mask with one entry per row (as returned by gk.features.vad)."},
  {"select_cols", m_select_cols,
   "m:select_cols(sel) -> Matrix\nA new matrix of the columns chosen by an index list or a boolean mask."},
  {"mean", m_mean, "m:mean() -> Matrix (1 x cols, float64)\nPer-column mean, summed in double precision."},
  {"var", m_var,
   "m:var([ddof=0]) -> Matrix (1 x cols, float64)\nPer-column variance divided by rows - ddof, by the "
   "corrected two-pass algorithm (no cancellation for data far from zero)."},
  {"astype", m_astype, "m:astype('float32' | 'float64') -> Matrix\nA converted copy."},
  {"copy", m_copy, "m:copy() -> Matrix\nA copy of the same element type."},
  {"save", m_save,
   "m:save(path) -> m\nWrites a NumPy .npy file (version 1.0, little-endian, C order) atomically: the "
   "previous file at `path` stays intact until the new one is complete."},
  {NULL, NULL, NULL}};

static const gkL_Reg meta[] = {
  {"__tostring", m_tostring, NULL},
  {"__len", m_len, NULL},
  {NULL, NULL, NULL}};

static const gkL_Reg funcs[] = {
  {"new", m_new,
   "gk.matrix.new(rows, cols[, fill=0[, dtype='float64']]) -> Matrix\nA rows x cols matrix filled "
   "with `fill`; dtype 'float32' (features) or 'float64' (parameters)."},
  {"random", m_random,
   "gk.matrix.random(rows, cols[, {seed=0, dist='normal'|'uniform', dtype='float64'}]) -> Matrix\n"
   "Independent N(0, 1) or U[0, 1) draws from the seeded xoshiro256** generator: the same seed "
   "gives the same matrix on every machine."},
  {"from_table", m_from_table,
   "gk.matrix.from_table(t[, dtype='float64']) -> Matrix\nFrom a table of rows {{1, 2}, {3, 4}}, "
   "or from a flat table of numbers (a column)."},
  {"load", m_load,
   "gk.matrix.load(path) -> Matrix\nReads a NumPy .npy file: float32 or float64, C order, 1-D (as a "
   "column) or 2-D, either byte order. Other files give an error naming the file and the reason."},
  {"vstack", m_vstack, "gk.matrix.vstack({m1, m2, ...}[, dtype]) -> Matrix\nStacks matrices with equal column counts."},
  {"hstack", m_hstack, "gk.matrix.hstack({m1, m2, ...}[, dtype]) -> Matrix\nJoins matrices with equal row counts side by side."},
  {NULL, NULL, NULL}};

int gkL_open_matrix(lua_State *L) {
  gkL_newclass(L, GKL_MATRIX, methods, meta,
               "Matrix: a 2-D row-major array of float32 or float64 (features are float32 "
               "frames x dims, parameters float64). Indices are 1-based. #m is the number of rows.");
  lua_newtable(L);
  gkL_setfuncs(L, funcs);
  return 1;
}
