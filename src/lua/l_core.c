/*
 * l_core.c: the C module gmmkit.core (luaopen_gmmkit_core) and the host's preloader.
 * gmmkit.core holds the submodules listed in gkl_modules.h plus the process settings
 * (threads) and the doc registry; lua/gmmkit/init.lua builds the user-facing `gk` on it.
 */
#define _GNU_SOURCE /* dladdr, RTLD_NODELETE */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "gkl.h"

static int c_set_threads(lua_State *L) {
  lua_Integer n = luaL_optinteger(L, 1, 0);
  gk_error err;
  gk_error_clear(&err);
  if (n < 0 || n > GK_MAX_THREADS)
    return luaL_argerror(L, 1, lua_pushfstring(L, "thread count must be in 0..%d (0: all cores)", GK_MAX_THREADS));
  if (gk_threads_check((int)n, &err) != GK_OK) return luaL_argerror(L, 1, err.message);
  lua_pushinteger(L, gk_set_threads((int)n));
  return 1;
}

/* GMMKIT_THREADS, when set: a count from 0 (all cores) to GK_MAX_THREADS that the system
 * can start, or an error that names the variable. */
static void threads_from_env(lua_State *L) {
  const char *env = getenv("GMMKIT_THREADS");
  char *end;
  gk_error err;
  if (!env || !*env) return;
  errno = 0;
  long n = strtol(env, &end, 10);
  if (errno || *end || end == env || n < 0 || n > GK_MAX_THREADS)
    luaL_error(L, "GMMKIT_THREADS='%s': must be a whole number from 0 (all cores) to %d", env, GK_MAX_THREADS);
  gk_error_clear(&err);
  if (gk_threads_check((int)n, &err) != GK_OK) luaL_error(L, "GMMKIT_THREADS='%s': %s", env, err.message);
  gk_set_threads((int)n);
}

static int c_threads(lua_State *L) {
  lua_pushinteger(L, gk_threads());
  return 1;
}

static int c_cores(lua_State *L) {
  lua_pushinteger(L, gk_cores());
  return 1;
}

static int c_doc(lua_State *L) {
  luaL_checkany(L, 1);
  return gkL_pushdoc(L, 1);
}

static int c_setdoc(lua_State *L) {
  int t = lua_type(L, 1);
  luaL_argexpected(L, t == LUA_TFUNCTION || t == LUA_TTABLE || t == LUA_TSTRING, 1, "function, table or name");
  gkL_setdoc(L, 1, luaL_checkstring(L, 2));
  return 0;
}

/* The C function made by keep_caller: calls its upvalue with the same arguments. */
static int call_kept(lua_State *L) {
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

static int c_keep_caller(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_settop(L, 1);
  lua_pushcclosure(L, call_kept, 1);
  return 1;
}

static int c_suggest(lua_State *L) {
  const char *word = luaL_checkstring(L, 1), **names, *s;
  lua_Integer n, i;
  luaL_checktype(L, 2, LUA_TTABLE);
  n = (lua_Integer)gkL_checklen(L, 2, 2, GK_MAX_LIST, "the name list");
  names = lua_newuserdatauv(L, (size_t)(n + 1) * sizeof *names, 0);
  for (i = 0; i < n; i++) {
    if (lua_geti(L, 2, i + 1) != LUA_TSTRING)
      luaL_argerror(L, 2, lua_pushfstring(L, "entry %I is a %s, not a string", i + 1, luaL_typename(L, -1)));
    names[i] = lua_tostring(L, -1);
    lua_pop(L, 1); /* the table keeps the string alive */
  }
  names[n] = NULL;
  s = gkL_suggest(word, names);
  if (s) lua_pushstring(L, s);
  else lua_pushnil(L);
  return 1;
}

/* write_file(path, text): the text through the core's atomic writer, so that a report
 * is written as models are (temporary file beside it, fsync, rename; non-regular
 * targets refused). */
static int c_write_file(lua_State *L) {
  const char *path = gkL_checkpath(L, 1);
  size_t n;
  const char *text = luaL_checklstring(L, 2, &n);
  gk_atomic_file af;
  gk_error err;
  gk_error_clear(&err);
  if (gk_atomic_open(&af, path, &err) != GK_OK) return gkL_raise(L, &err);
  if (n > 0 && fwrite(text, 1, n, af.fp) != n) {
    gk_fail(&err, GK_EIO, "%s: write failed: %s", path, strerror(errno));
    gk_atomic_abort(&af);
    return gkL_raise(L, &err);
  }
  if (gk_atomic_commit(&af, &err) != GK_OK) return gkL_raise(L, &err);
  lua_settop(L, 1);
  return 1;
}

/* The scratch text of read_text, owned by a userdata so that a raise frees it. */
static int text_gc(lua_State *L) {
  char **box = lua_touserdata(L, 1);
  gk_scratch_free(*box);
  *box = NULL;
  return 0;
}

/* read_text(path[, optional]): a whole text file through the core's guarded reader (a
 * FIFO or device is refused, never blocked on); nil for a missing file when optional. */
static int c_read_text(lua_State *L) {
  const char *path = gkL_checkpath(L, 1);
  int optional = lua_toboolean(L, 2);
  struct stat sb;
  if (optional && lstat(path, &sb) != 0 && errno == ENOENT) return 0;
  char **box = lua_newuserdatauv(L, sizeof(char *), 0);
  *box = NULL;
  if (luaL_newmetatable(L, "gmmkit.TextScratch")) {
    lua_pushcfunction(L, text_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  size_t n;
  gk_error err;
  gk_error_clear(&err);
  if (gk_read_text(path, GK_MAX_TEXT_BYTES, "a text file", box, &n, &err) != GK_OK) return gkL_raise(L, &err);
  lua_pushlstring(L, *box, n);
  gk_scratch_free(*box);
  *box = NULL;
  return 1;
}

static int c_seconds(lua_State *L) {
  lua_pushnumber(L, gk_seconds());
  return 1;
}

static int c_interrupted(lua_State *L) {
  lua_pushboolean(L, gk_interrupted());
  return 1;
}

static const gkL_Reg core_funcs[] = {
  {"set_threads", c_set_threads,
   "gk.set_threads([n]) -> n\nSets the number of threads of every gmmkit loop and of BLAS (n <= 0 or "
   "absent: all cores). Results do not depend on it. GMMKIT_THREADS sets it at start-up."},
  {"threads", c_threads, "gk.threads() -> integer\nThe number of threads gmmkit uses."},
  {"cores", c_cores, "gk.cores() -> integer\nThe number of cores available to the process."},
  {"doc", c_doc, "gk.doc(x) -> string | nil\nThe doc text of a gmmkit function or object."},
  {"setdoc", c_setdoc, "gk.setdoc(x, text)\nRecords the doc text of a value (for pure-Lua helpers)."},
  {"keep_caller", c_keep_caller,
   "gk.core.keep_caller(f) -> function\n"
   "A C function that calls the Lua function f: a caller's tail call to it keeps the caller's frame "
   "(Lua replaces a frame only for a Lua callee), so that errors raised below f, at the position "
   "of the first frame outside gmmkit's Lua layer, name the caller's line. For lua/gmmkit/ modules "
   "that implement a gk function in Lua."},
  {"suggest", c_suggest,
   "gk.suggest(word, names) -> string | nil\nThe name in `names` closest to `word` (edit distance <= 2), for messages."},
  {"write_file", c_write_file,
   "gk.core.write_file(path, text) -> path\nWrites a text file atomically (a temporary file beside it, fsync, "
   "rename), as models are written; a target that is not a regular file is refused."},
  {"read_text", c_read_text,
   "gk.core.read_text(path[, optional]) -> string | nil\nA whole text file (at most 2 GiB) through the core's "
   "guarded reader: a FIFO, device or folder is refused with a message, never blocked on. With optional=true a "
   "missing file gives nil."},
  {"seconds", c_seconds, "gk.seconds() -> number\nMonotonic wall-clock seconds (for timings)."},
  {"interrupted", c_interrupted, "gk.interrupted() -> boolean\nWhether Ctrl-C was pressed during the current operation."},
  {NULL, NULL, NULL}};

/* gmmkit's loops run OpenMP (and OpenBLAS) worker threads that outlive the call. When a
 * stock lua5.4 closes its state it dlcloses this module, and the library's idle worker
 * threads would then wake up in unmapped code. Loading the module once more with
 * RTLD_NODELETE keeps it (and the thread runtimes it links) mapped until exit. */
static const char module_anchor = 0;

static void pin_module(void) {
#if defined(RTLD_NODELETE) && defined(RTLD_NOLOAD)
  Dl_info info;
  if (dladdr(&module_anchor, &info) && info.dli_fname) {
    void *h = dlopen(info.dli_fname, RTLD_NOW | RTLD_NODELETE | RTLD_NOLOAD);
    (void)h;  /* intentionally never closed */
  }
#endif
}

int luaopen_gmmkit_core(lua_State *L) {
  pin_module();
  threads_from_env(L);
  lua_newtable(L);
  gkL_setfuncs(L, core_funcs);
  lua_pushstring(L, gk_version());
  lua_setfield(L, -2, "version");
  lua_newtable(L); /* modules */
#define GKL_MODULE(name)          \
  gkL_open_##name(L);             \
  lua_pushvalue(L, -1);           \
  lua_setfield(L, -4, #name);     \
  lua_setfield(L, -2, #name);
#include "gkl_modules.h"
#undef GKL_MODULE
  lua_setfield(L, -2, "modules");
  return 1;
}

/* ---- the host's preloader ----------------------------------------------------------- */

struct gk_embedded_lua {
  const char *module, *chunkname, *source;
  size_t size;
};
extern const struct gk_embedded_lua gk_embedded_lua[];

static int load_embedded(lua_State *L) {
  const struct gk_embedded_lua *e = lua_touserdata(L, lua_upvalueindex(1));
  if (luaL_loadbuffer(L, e->source, e->size, e->chunkname) != LUA_OK) return lua_error(L);
  lua_pushvalue(L, 1); /* module name, as require passes it */
  lua_call(L, 1, 1);
  return 1;
}

void gkL_preload(lua_State *L) {
  const struct gk_embedded_lua *e;
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_gmmkit_core);
  lua_setfield(L, -2, "gmmkit.core");
  for (e = gk_embedded_lua; e->module; e++) {
    lua_pushlightuserdata(L, (void *)e);
    lua_pushcclosure(L, load_embedded, 1);
    lua_setfield(L, -2, e->module);
  }
  lua_pop(L, 1);
}
