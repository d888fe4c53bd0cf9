/*
 * gkl.c: the binding helpers of gkl.h: docs, classes, the error seam, option tables.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "gkl.h"

#define DOCS_KEY "gmmkit.docs"

/* The registry table that maps functions (weak keys) and type names to doc texts. */
static void push_docs(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, DOCS_KEY) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, DOCS_KEY);
  }
}

void gkL_setdoc(lua_State *L, int idx, const char *doc) {
  idx = lua_absindex(L, idx);
  push_docs(L);
  lua_pushvalue(L, idx);
  lua_pushstring(L, doc);
  lua_rawset(L, -3);
  lua_pop(L, 1);
}

int gkL_pushdoc(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  push_docs(L);
  lua_pushvalue(L, idx);
  lua_rawget(L, -2);
  if (lua_isnil(L, -1)) {
    /* An object: the doc of its type, by the metatable's __name. */
    lua_pop(L, 1);
    if (lua_getmetatable(L, idx)) {
      lua_getfield(L, -1, "__name");
      lua_remove(L, -2);
      lua_rawget(L, -2);
    } else {
      lua_pushnil(L);
    }
  }
  lua_remove(L, -2);
  return 1;
}

void gkL_setfuncs(lua_State *L, const gkL_Reg *l) {
  for (; l->name; l++) {
    lua_pushcfunction(L, l->func);
    if (l->doc) gkL_setdoc(L, -1, l->doc);
    lua_setfield(L, -2, l->name);
  }
}

void gkL_newclass(lua_State *L, const char *tname, const gkL_Reg *methods,
                  const gkL_Reg *meta, const char *doc) {
  luaL_newmetatable(L, tname);
  if (meta) gkL_setfuncs(L, meta);
  if (methods) {
    if (lua_getfield(L, -1, "__index") != LUA_TTABLE) {
      lua_pop(L, 1);
      lua_newtable(L);
      lua_pushvalue(L, -1);
      lua_setfield(L, -3, "__index");
    }
    gkL_setfuncs(L, methods);
    /* __methods: the methods table, kept where help() and the REPL's completion find it
     * after a class replaces __index by a function that also serves fields. */
    lua_setfield(L, -2, "__methods");
  }
  lua_pop(L, 1);
  if (doc) {
    lua_pushstring(L, tname);
    gkL_setdoc(L, -1, doc);
    lua_pop(L, 1);
  }
}

void gkL_newclass_fields(lua_State *L, const char *tname, const gkL_Reg *methods, const gkL_Reg *meta,
                         const char *doc, lua_CFunction index) {
  if (luaL_getmetatable(L, tname) == LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 1);
  gkL_newclass(L, tname, methods, meta, doc);
  luaL_getmetatable(L, tname);
  lua_getfield(L, -1, "__index");
  lua_pushcclosure(L, index, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

/* Whether `source` is a chunk of gmmkit's own Lua layer (lua/gmmkit/NAME.lua, embedded or
 * on LUA_PATH). */
static int own_chunk(const char *source) {
  size_t n = strlen(source);
  if (source[0] != '@' || n < 12 || strcmp(source + n - 4, ".lua") != 0) return 0;
  const char *base = strrchr(source, '/');
  return base && base - source >= 7 && strncmp(base - 7, "/gmmkit", 7) == 0;
}

/* Pushes "chunk:line: " of the first caller outside gmmkit's Lua layer (as luaL_where(L,
 * 1) when a user called the C function directly), so that an error raised below
 * gk.gmm.train's loop names the user's line, not the loop's. */
static void where_caller(lua_State *L) {
  lua_Debug ar;
  int below_own = 0;  /* past a frame of gmmkit's Lua layer: its C entry (keep_caller) is passed too */
  for (int level = 1; lua_getstack(L, level, &ar); level++) {
    lua_getinfo(L, "Sl", &ar);
    if (ar.currentline > 0 && own_chunk(ar.source)) {
      below_own = 1;
      continue;
    }
    if (ar.currentline > 0) {
      lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
      return;
    }
    if (!below_own || strcmp(ar.what, "C") != 0) break;
    below_own = 0;
  }
  lua_pushliteral(L, "");
}

int gkL_raise(lua_State *L, const gk_error *err) {
  if (err->status == GK_ENOMEM) {
    lua_pushliteral(L, "not enough memory");
    return lua_error(L);
  }
  where_caller(L);
  lua_pushstring(L, err->message[0] ? err->message : gk_strerror(err->status));
  lua_concat(L, 2);
  return lua_error(L);
}

gk_allocator gkL_allocator(lua_State *L) {
  gk_allocator a;
  a.fn = lua_getallocf(L, &a.ud);
  return a;
}

/* ---- suggestions --------------------------------------------------------------- */

/* Optimal string alignment distance (Levenshtein with adjacent transpositions),
 * for words of at most 63 characters (longer ones are not suggested for). */
static int edit_distance(const char *a, const char *b) {
  int d[64][64];
  int n = (int)strlen(a), m = (int)strlen(b), i, j;
  if (n > 63 || m > 63) return 99;
  for (i = 0; i <= n; i++) d[i][0] = i;
  for (j = 0; j <= m; j++) d[0][j] = j;
  for (i = 1; i <= n; i++)
    for (j = 1; j <= m; j++) {
      int cost = a[i - 1] != b[j - 1], v = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
      if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
        v = d[i - 2][j - 2] + 1;
      d[i][j] = v;
    }
  return d[n][m];
}

const char *gkL_suggest(const char *word, const char *const names[]) {
  const char *best = NULL;
  int best_d = 99, limit = strlen(word) >= 4 ? 2 : 1, i;
  size_t wl = strlen(word);
  for (i = 0; names[i]; i++) {
    int d = edit_distance(word, names[i]);
    if (wl >= 3 && strncmp(word, names[i], wl) == 0 && d > 1) d = limit; /* a prefix */
    if (d < best_d) {
      best_d = d;
      best = names[i];
    }
  }
  return best_d <= limit ? best : NULL;
}

/* ---- option tables ------------------------------------------------------------- */

static int has_options(lua_State *L, int arg) { return !lua_isnoneornil(L, arg); }

/* Nested option tables (gkL_subopts): which argument and option the table at a stack
 * index belongs to, a few per thread, matched by state, index and the table itself (a
 * record left by an error that unwound past gkL_subopts_end matches nothing later: its
 * slot holds another value, or is dropped when a new table takes an index at or below). */
enum { NEST_MAX = 8 };
typedef struct nest {
  lua_State *L;
  const void *tab;
  int idx, arg;
  const char *key;
} nest;
static _Thread_local nest nests[NEST_MAX];
static _Thread_local int nnests;

/* Drops this state's records at index idx and above. */
static void nests_drop(lua_State *L, int idx) {
  int k = 0;
  for (int i = 0; i < nnests; i++)
    if (!(nests[i].L == L && nests[i].idx >= idx)) nests[k++] = nests[i];
  nnests = k;
}

int gkL_subopts(lua_State *L, int arg, const char *key) {
  int idx = lua_gettop(L);
  nests_drop(L, idx);
  if (nnests == NEST_MAX) {
    memmove(nests, nests + 1, (NEST_MAX - 1) * sizeof nests[0]);
    nnests--;
  }
  nests[nnests++] = (nest){L, lua_topointer(L, idx), idx, lua_absindex(L, arg), key};
  return idx;
}

void gkL_subopts_end(lua_State *L, int idx) { nests_drop(L, idx); }

/* The argument that errors in the options table at arg name (arg itself, or the argument
 * whose option holds it), and the path of options that leads to it pushed ("" or
 * "gselect."). */
static int opt_owner(lua_State *L, int arg) {
  arg = lua_absindex(L, arg);
  for (int i = nnests - 1; i >= 0; i--) {
    const nest *n = &nests[i];
    if (n->L != L || n->idx != arg || !lua_istable(L, arg) || lua_topointer(L, arg) != n->tab) continue;
    const char *key = n->key;
    int owner = opt_owner(L, n->arg);
    lua_pushfstring(L, "%s%s.", lua_tostring(L, -1), key);
    lua_remove(L, -2);
    return owner;
  }
  lua_pushliteral(L, "");
  return arg;
}

int gkL_opterror(lua_State *L, int arg, const char *key, const char *fmt, ...) {
  va_list ap;
  int owner = opt_owner(L, arg);
  va_start(ap, fmt);
  lua_pushfstring(L, "option '%s%s' ", lua_tostring(L, -1), key);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  lua_concat(L, 2);
  return luaL_argerror(L, owner, lua_tostring(L, -1));
}

void gkL_checkoptions(lua_State *L, int arg, const char *const keys[]) {
  if (!has_options(L, arg)) return;
  luaL_checktype(L, arg, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, arg)) {
    const char *k;
    int i, known = 0;
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) {
      int owner = opt_owner(L, arg);
      size_t n;
      const char *path = lua_tolstring(L, -1, &n);  /* "" or "gselect." */
      if (n == 0) luaL_argerror(L, owner, lua_pushfstring(L, "option names must be strings, got a %s key",
                                                          luaL_typename(L, -2)));
      lua_pushlstring(L, path, n - 1);
      luaL_argerror(L, owner, lua_pushfstring(L, "option names in '%s' must be strings, got a %s key",
                                              lua_tostring(L, -1), luaL_typename(L, -3)));
    }
    k = lua_tostring(L, -1);
    for (i = 0; keys[i]; i++)
      if (strcmp(k, keys[i]) == 0) known = 1;
    if (!known) {
      const char *s = gkL_suggest(k, keys);
      int owner = opt_owner(L, arg);
      const char *path = lua_tostring(L, -1);
      if (s) luaL_argerror(L, owner, lua_pushfstring(L, "unknown option '%s%s' (did you mean '%s%s'?)", path, k, path, s));
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      lua_pushfstring(L, "unknown option '%s%s' (valid options:", path, k);
      luaL_addvalue(&b);
      for (i = 0; keys[i]; i++) {
        luaL_addstring(&b, i ? ", " : " ");
        luaL_addstring(&b, path);
        luaL_addstring(&b, keys[i]);
      }
      luaL_addchar(&b, ')');
      luaL_pushresult(&b);
      luaL_argerror(L, owner, lua_tostring(L, -1));
    }
  }
}

int gkL_optfield(lua_State *L, int arg, const char *key) {
  if (!has_options(L, arg)) {
    lua_pushnil(L);
    return LUA_TNIL;
  }
  return lua_getfield(L, arg, key);
}

lua_Number gkL_optnumber(lua_State *L, int arg, const char *key, lua_Number def,
                         lua_Number lo, lua_Number hi) {
  lua_Number v;
  int t = gkL_optfield(L, arg, key);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return def;
  }
  if (t != LUA_TNUMBER) gkL_opterror(L, arg, key, "must be a number, got %s", luaL_typename(L, -1));
  v = lua_tonumber(L, -1);
  lua_pop(L, 1);
  if (isnan(v)) gkL_opterror(L, arg, key, "must be a number, got NaN");
  if (v < lo || v > hi) {
    char buf[96];
    if (lo == -HUGE_VAL) snprintf(buf, sizeof buf, "must be <= %g, got %g", hi, v);
    else if (hi == HUGE_VAL) snprintf(buf, sizeof buf, "must be >= %g, got %g", lo, v);
    else snprintf(buf, sizeof buf, "must be in [%g, %g], got %g", lo, hi, v);
    gkL_opterror(L, arg, key, "%s", buf);
  }
  return v;
}

/* The number at idx as a message shows it: NaN and inf in words, not the C library's
 * "-nan". */
static const char *number_text(lua_State *L, int idx) {
  lua_Number v = lua_tonumber(L, idx);
  if (isnan(v)) return "NaN";
  if (isinf(v)) return v > 0 ? "inf" : "-inf";
  return lua_tostring(L, idx);
}

lua_Integer gkL_optinteger(lua_State *L, int arg, const char *key, lua_Integer def,
                           lua_Integer lo, lua_Integer hi) {
  lua_Integer v;
  int isint, t = gkL_optfield(L, arg, key);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return def;
  }
  if (t != LUA_TNUMBER) gkL_opterror(L, arg, key, "must be an integer, got %s", luaL_typename(L, -1));
  v = lua_tointegerx(L, -1, &isint);
  if (!isint) gkL_opterror(L, arg, key, "must be an integer, got %s", number_text(L, -1));
  lua_pop(L, 1);
  if (v < lo || v > hi) {
    if (hi == LUA_MAXINTEGER) gkL_opterror(L, arg, key, "must be >= %I, got %I", lo, v);
    gkL_opterror(L, arg, key, "must be in [%I, %I], got %I", lo, hi, v);
  }
  return v;
}

int gkL_optthreads(lua_State *L, int arg, const char *key) {
  int n = (int)gkL_optinteger(L, arg, key, 0, 0, GK_MAX_THREADS);
  gk_error err;
  gk_error_clear(&err);
  if (gk_threads_check(n, &err) != GK_OK) gkL_opterror(L, arg, key, "%s", err.message);
  return n;
}

int gkL_optboolean(lua_State *L, int arg, const char *key, int def) {
  int v, t = gkL_optfield(L, arg, key);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return def;
  }
  if (t != LUA_TBOOLEAN) gkL_opterror(L, arg, key, "must be a boolean, got %s", luaL_typename(L, -1));
  v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

const char *gkL_optstring(lua_State *L, int arg, const char *key, const char *def) {
  const char *v;
  int t = gkL_optfield(L, arg, key);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return def;
  }
  if (t != LUA_TSTRING) gkL_opterror(L, arg, key, "must be a string, got %s", luaL_typename(L, -1));
  v = lua_tostring(L, -1);
  lua_pop(L, 1); /* the options table keeps the string alive */
  return v;
}

/* "'a', 'b' or 'c'" for an error message, pushed on the stack. */
static const char *push_name_list(lua_State *L, const char *const names[]) {
  luaL_Buffer b;
  int i;
  luaL_buffinit(L, &b);
  for (i = 0; names[i]; i++) {
    if (i) luaL_addstring(&b, names[i + 1] ? ", " : " or ");
    luaL_addchar(&b, '\'');
    luaL_addstring(&b, names[i]);
    luaL_addchar(&b, '\'');
  }
  luaL_pushresult(&b);
  return lua_tostring(L, -1);
}

int gkL_optenum(lua_State *L, int arg, const char *key, const char *const names[], int def) {
  const char *v = gkL_optstring(L, arg, key, NULL), *s;
  int i;
  if (!v) return def;
  for (i = 0; names[i]; i++)
    if (strcmp(v, names[i]) == 0) return i;
  s = gkL_suggest(v, names);
  if (s) gkL_opterror(L, arg, key, "'%s' is unknown (did you mean '%s'?)", v, s);
  return gkL_opterror(L, arg, key, "must be %s, got '%s'", push_name_list(L, names), v);
}

/* The offset of the first NUL in s[0..n), or n. */
static size_t nul_at(const char *s, size_t n) {
  const char *z = memchr(s, '\0', n);
  return z ? (size_t)(z - s) : n;
}

const char *gkL_checkpath(lua_State *L, int arg) {
  size_t n;
  const char *p = luaL_checklstring(L, arg, &n);
  size_t z = nul_at(p, n);
  if (z < n)
    luaL_argerror(L, arg, lua_pushfstring(L, "the path has a NUL byte at position %I (a file name cannot hold one)",
                                          (lua_Integer)z + 1));
  if (n == 0) luaL_argerror(L, arg, "the path is empty");
  return p;
}

const char *gkL_optpath(lua_State *L, int arg, const char *key, const char *def) {
  size_t n;
  int t = gkL_optfield(L, arg, key);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return def;
  }
  if (t != LUA_TSTRING) gkL_opterror(L, arg, key, "must be a path string, got %s", luaL_typename(L, -1));
  const char *p = lua_tolstring(L, -1, &n);
  lua_pop(L, 1); /* the options table keeps the string alive */
  if (nul_at(p, n) < n)
    gkL_opterror(L, arg, key, "has a NUL byte at position %I (a file name cannot hold one)",
                 (lua_Integer)nul_at(p, n) + 1);
  if (n == 0) gkL_opterror(L, arg, key, "is an empty path");
  return p;
}

size_t gkL_checklen(lua_State *L, int idx, int arg, size_t max, const char *what) {
  int isint;
  lua_len(L, idx);
  lua_Integer n = lua_tointegerx(L, -1, &isint);
  if (!isint) {
    luaL_argerror(L, arg, lua_pushfstring(L, "the length of %s is %s, not an integer", what,
                                          luaL_tolstring(L, -1, NULL)));
  }
  lua_pop(L, 1);
  if (n < 0 || (lua_Unsigned)n > (lua_Unsigned)max)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s has %I entries, expected 0 to %I", what, n, (lua_Integer)max));
  return (size_t)n;
}

gk_dtype gkL_checkdtype(lua_State *L, int arg, gk_dtype def) {
  static const char *const names[] = {"float32", "float64", NULL};
  return (gk_dtype)luaL_checkoption(L, arg, def == GK_FLOAT32 ? "float32" : "float64", names);
}

/* ---- files -------------------------------------------------------------------- */

/* A FILE owned by a to-be-closed userdata, so that a raise never leaks it. */
typedef struct lfile {
  FILE *f;
} lfile;

static int lfile_close(lua_State *L) {
  lfile *p = luaL_checkudata(L, 1, "gmmkit.File");
  if (p->f) {
    fclose(p->f);
    p->f = NULL;
  }
  return 0;
}

FILE *gkL_fopen(lua_State *L, const char *path, const char *mode) {
  lfile *p = lua_newuserdatauv(L, sizeof *p, 0);
  p->f = NULL;
  if (luaL_newmetatable(L, "gmmkit.File")) {
    lua_pushcfunction(L, lfile_close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, lfile_close);
    lua_setfield(L, -2, "__close");
  }
  lua_setmetatable(L, -2);
  lua_toclose(L, -1);
  if (mode[0] == 'r') {
    gk_error err;
    p->f = gk_open_regular(path, NULL, &err);
    if (!p->f) gkL_raise(L, &err);
  } else {
    p->f = fopen(path, mode);
    if (!p->f) luaL_error(L, "%s: cannot open: %s", path, strerror(errno));
  }
  return p->f;
}

