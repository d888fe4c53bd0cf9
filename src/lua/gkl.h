/*
 * gkl.h: the seam between the C core and Lua. Only src/lua/ and src/host/ include it.
 *
 * What the binding files (one l_<module>.c per Lua module) share:
 * - gkL_Reg: a function with its one-paragraph doc text; gkL_setfuncs registers both, so
 *   that help(f) in the REPL (and gk.help(f)) shows the text.
 * - gkL_raise: the one place where a core gk_error becomes a Lua error.
 * - option tables: gkL_checkoptions rejects unknown keys with a suggestion
 *   ("unknown option 'max_iters' (did you mean 'max_iter'?)"); gkL_opt* read typed,
 *   range-checked fields and name the field in every error.
 * - userdata types: gmmkit.Matrix (data inline in the userdata, so Lua's collector sees
 *   it) and gmmkit.Gmm (a pointer to a core model, created in a closed NULL state before
 *   the model is acquired; close, __close and __gc share one idempotent release).
 *
 * Rule for every binding: validate all arguments and options, then allocate; anything
 * acquired across a call that may raise is owned by a userdata already on the stack.
 * Indices are 1-based in Lua and converted once here.
 */
#ifndef GMMKIT_GKL_H
#define GMMKIT_GKL_H

#include <lua.h>
#include <lauxlib.h>
#include <stdio.h>
#include "gmmkit/gmmkit.h"

/* Metatable names (they appear in error messages through __name). */
#define GKL_MATRIX "gmmkit.Matrix"
#define GKL_GMM    "gmmkit.Gmm"

/* A Lua-callable function with its doc text (first line: the signature). */
typedef struct gkL_Reg {
  const char *name;
  lua_CFunction func;
  const char *doc;
} gkL_Reg;

/* Sets the functions of `l` (terminated by a NULL name) as fields of the table on top
 * of the stack and records their docs. */
void gkL_setfuncs(lua_State *L, const gkL_Reg *l);
/* Records `doc` for the value at `idx` (a function, or a metatable name string key). */
void gkL_setdoc(lua_State *L, int idx, const char *doc);
/* Pushes the doc of the value at `idx`, or nil. */
int gkL_pushdoc(lua_State *L, int idx);

/* Creates (or completes) the metatable `tname` with `methods` in __index (the same table
 * also as __methods, which help() and completion list when __index becomes a function),
 * and the metamethods `meta` (__gc, __tostring, ...). `doc` describes the type for help().
 * Leaves nothing on the stack. */
void gkL_newclass(lua_State *L, const char *tname, const gkL_Reg *methods,
                  const gkL_Reg *meta, const char *doc);

/* gkL_newclass (once: nothing is done when `tname` exists), then __index replaced by
 * `index`, a C closure whose upvalue 1 is the methods table: for classes that also serve
 * fields (a closed object raising on them) before their methods. */
void gkL_newclass_fields(lua_State *L, const char *tname, const gkL_Reg *methods, const gkL_Reg *meta,
                         const char *doc, lua_CFunction index);

/* Raises err->message as a Lua error with the position of the caller, like luaL_error,
 * where frames of gmmkit's own Lua layer (lua/gmmkit/) are passed over so that the user's
 * line is named. Never returns. GK_ENOMEM raises Lua's memory error. */
int gkL_raise(lua_State *L, const gk_error *err);

/* The lua_State's allocator as a gk_allocator (for long-lived core objects). */
gk_allocator gkL_allocator(lua_State *L);

/* ---- option tables ---------------------------------------------------------------
 * `arg` is the stack index of the options table, which may be absent or nil. `keys` is a
 * NULL-terminated list of the accepted field names. */
void gkL_checkoptions(lua_State *L, int arg, const char *const keys[]);
/* Typed fields: the default when absent or nil; a wrong type or a value out of
 * [lo, hi] raises "bad argument #arg to 'f' (option 'key' must be ...)". */
lua_Number gkL_optnumber(lua_State *L, int arg, const char *key, lua_Number def,
                         lua_Number lo, lua_Number hi);
lua_Integer gkL_optinteger(lua_State *L, int arg, const char *key, lua_Integer def,
                           lua_Integer lo, lua_Integer hi);
int gkL_optboolean(lua_State *L, int arg, const char *key, int def);
/* A thread count option: 0 (all cores, the default) to GK_MAX_THREADS, checked with
 * gk_threads_check so that a count the system cannot start is an error, not an exit. */
int gkL_optthreads(lua_State *L, int arg, const char *key);
const char *gkL_optstring(lua_State *L, int arg, const char *key, const char *def);
/* One of `names` (NULL-terminated): its index, or `def` when absent; an unknown name
 * raises with the list of valid ones and a suggestion. */
int gkL_optenum(lua_State *L, int arg, const char *key, const char *const names[], int def);
/* Pushes the field (any type) and returns its Lua type; for options read by hand. */
int gkL_optfield(lua_State *L, int arg, const char *key);
/* Raises "bad argument #arg to 'f' (option 'key' <msg>)"; in a nested table, the
 * argument that holds it and the option's path ("option 'gselect.top' ..."). */
int gkL_opterror(lua_State *L, int arg, const char *key, const char *fmt, ...);
/* An option whose value is a table of options of its own (gselect = {top = 5}): the table,
 * pushed by gkL_optfield, is read by the same gkL_opt* calls at its index (the return,
 * the top of the stack), and their errors name argument `arg` and the option by its path
 * ("option 'gselect.top'"), not the table's stack slot. `key` must outlive the reading (a
 * literal). gkL_subopts_end(L, index) when done. */
int gkL_subopts(lua_State *L, int arg, const char *key);
void gkL_subopts_end(lua_State *L, int idx);

/* The length of the list at `idx` (its __len when it has one) as a count in [0, max],
 * checked before any allocation or loop; a negative, huge or non-integer length raises
 * "bad argument #arg to 'f' (what has N entries, expected 0 to max)". Every binding reads
 * list lengths through it. */
size_t gkL_checklen(lua_State *L, int idx, int arg, size_t max, const char *what);

/* The closest of `names` to `word` by edit distance (<= 2, or a prefix), or NULL. */
const char *gkL_suggest(const char *word, const char *const names[]);

/* A file or folder path at `arg`: a string without NUL bytes (the C library would cut
 * the name at the first one and use another file), or a raised "bad argument" error. */
const char *gkL_checkpath(lua_State *L, int arg);
/* The path option `key` of the table at `arg` (gkL_optstring, with gkL_checkpath's check). */
const char *gkL_optpath(lua_State *L, int arg, const char *key, const char *def);

/* Parses "float32"/"float64" at `arg` (default `def`). */
gk_dtype gkL_checkdtype(lua_State *L, int arg, gk_dtype def);

/* Opens `path` as fopen does, the FILE owned by a to-be-closed userdata pushed on the
 * stack (closed when that slot goes out of scope, is removed, or on a raise). A failure
 * raises "path: cannot open: reason"; a read mode refuses anything but a regular file
 * (gk_open_regular), so that a FIFO never blocks. */
FILE *gkL_fopen(lua_State *L, const char *path, const char *mode);

/* ---- gmmkit.Matrix --------------------------------------------------------------- */
/* Pushes a new zero-filled matrix (data inline in the userdata) and returns its
 * descriptor, valid while the userdata lives. Raises on limits or memory. */
gk_matrix *gkL_newmatrix(lua_State *L, size_t rows, size_t cols, gk_dtype t);
/* The matrix at `idx`, or a raised "bad argument" error. */
gk_matrix *gkL_checkmatrix(lua_State *L, int idx);
/* The matrix at `idx`, or NULL when it is not one. */
gk_matrix *gkL_testmatrix(lua_State *L, int idx);
/* A matrix from the value at `idx`: a Matrix (returned as is when its type is `t` or
 * t < 0) or a table of rows / a flat table (converted; the new matrix is pushed and
 * `*pushed` set to 1). Raises a clear error otherwise. */
gk_matrix *gkL_tomatrix(lua_State *L, int idx, int t, int *pushed);

/* ---- gmmkit.Gmm -------------------------------------------------------------------- */
/* Pushes a Gmm userdata in its closed state and returns the slot to fill with a model
 * (ownership passes to the userdata once stored). */
gk_gmm **gkL_newgmm(lua_State *L);
/* The open model at `idx`, or a raised error (also for a closed one). */
gk_gmm *gkL_checkgmm(lua_State *L, int idx);

/* ---- module openers (one per l_<name>.c), listed in gkl_modules.h ------------------ */
#define GKL_MODULE(name) int gkL_open_##name(lua_State *L);
#include "gkl_modules.h"
#undef GKL_MODULE

/* Registers "gmmkit.core" and the embedded lua/gmmkit/ modules in package.preload. */
void gkL_preload(lua_State *L);
/* luaopen_gmmkit_core: the C module's entry point (for a stock lua5.4). */
int luaopen_gmmkit_core(lua_State *L);

#endif
