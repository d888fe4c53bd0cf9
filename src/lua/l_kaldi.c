/*
 * l_kaldi.c: the Lua binding of gmmkit/kaldi.h: gk.kaldi (read, read_all, writer), the
 * reader userdata gmmkit.KaldiReader (the to-be-closed value of a generic for) and the
 * writer userdata gmmkit.KaldiWriter. Both are made closed (NULL) before their core object
 * is acquired; close, __close and __gc share one idempotent release (a writer released
 * without close() is aborted: no half archive is left under the final names).
 */
#include <string.h>
#include "gkl.h"

#define GKL_KREADER "gmmkit.KaldiReader"
#define GKL_KWRITER "gmmkit.KaldiWriter"

/* ---- reader ------------------------------------------------------------------------------ */

static int reader_release(lua_State *L) {
  gk_kaldi_reader **box = luaL_checkudata(L, 1, GKL_KREADER);
  gk_kaldi_reader_close(*box);
  *box = NULL;
  return 0;
}

/* Opens a reader on the rspecifier at `arg` into a new userdata on the stack. */
static gk_kaldi_reader **push_reader(lua_State *L, int arg) {
  const char *spec = gkL_checkpath(L, arg);
  gk_kaldi_reader **box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  luaL_setmetatable(L, GKL_KREADER);
  gk_error err;
  gk_error_clear(&err);
  if (gk_kaldi_reader_open(box, spec, &err) != GK_OK) gkL_raise(L, &err);
  return box;
}

/* Reads the next entry of *box: pushes key and Matrix (2) or nothing at the end (0, the
 * reader closed). Errors close the reader, then raise. */
static int reader_step(lua_State *L, gk_kaldi_reader **box) {
  const char *key;
  size_t rows, cols;
  gk_dtype t;
  int done;
  gk_error err;
  gk_error_clear(&err);
  if (gk_kaldi_reader_next_header(*box, &key, &rows, &cols, &t, &done, &err) != GK_OK) goto fail;
  if (done) {
    gk_kaldi_reader_close(*box);
    *box = NULL;
    return 0;
  }
  lua_pushstring(L, key);
  gk_matrix *m = gkL_newmatrix(L, rows, cols, t);
  if (gk_kaldi_reader_read_data(*box, m, &err) != GK_OK) goto fail;
  return 2;
fail:
  gk_kaldi_reader_close(*box);
  *box = NULL;
  return gkL_raise(L, &err);
}

static int reader_iter(lua_State *L) {
  gk_kaldi_reader **box = luaL_checkudata(L, 1, GKL_KREADER);
  if (!*box) return 0;
  int n = reader_step(L, box);
  if (n == 0) lua_pushnil(L);
  return n ? n : 1;
}

static int k_read(lua_State *L) {
  push_reader(L, 1);
  int rd = lua_gettop(L);
  lua_pushcfunction(L, reader_iter);
  lua_pushvalue(L, rd);
  lua_pushnil(L);
  lua_pushvalue(L, rd);
  return 4;
}

static int k_read_all(lua_State *L) {
  gk_kaldi_reader **box = push_reader(L, 1);
  int rd = lua_gettop(L);
  lua_newtable(L);
  lua_newtable(L);
  lua_newtable(L);
  lua_Integer i = 0;
  for (;;) {
    if (reader_step(L, box) == 0) break;
    i++;
    lua_rawseti(L, rd + 3, i);
    lua_rawseti(L, rd + 2, i);
  }
  lua_setfield(L, rd + 1, "matrices");
  lua_setfield(L, rd + 1, "keys");
  return 1;
}

static int reader_close(lua_State *L) {
  reader_release(L);
  return 0;
}

/* ---- writer ------------------------------------------------------------------------------ */

static int writer_release(lua_State *L) {
  gk_kaldi_writer **box = luaL_checkudata(L, 1, GKL_KWRITER);
  gk_kaldi_writer_abort(*box);
  *box = NULL;
  return 0;
}

static gk_kaldi_writer *check_writer(lua_State *L, int idx) {
  gk_kaldi_writer **box = luaL_checkudata(L, idx, GKL_KWRITER);
  if (!*box) luaL_argerror(L, idx, "attempt to use a closed gmmkit.KaldiWriter");
  return *box;
}

static const char *const writer_keys[] = {"compress", NULL};
static const char *const compress_names[] = {"cm", "cm2", "cm3", NULL};

static gk_kaldi_compress opt_compress(lua_State *L, int arg) {
  int t = gkL_optfield(L, arg, "compress");
  gk_kaldi_compress c = GK_KALDI_PLAIN;
  if (t == LUA_TBOOLEAN) {
    c = lua_toboolean(L, -1) ? GK_KALDI_CM_AUTO : GK_KALDI_PLAIN;
  } else if (t == LUA_TSTRING) {
    const char *s = lua_tostring(L, -1);
    int i = 0;
    while (compress_names[i] && strcmp(compress_names[i], s) != 0) i++;
    if (!compress_names[i])
      gkL_opterror(L, arg, "compress", "'%s' is unknown (valid: false, true, 'cm', 'cm2', 'cm3')", s);
    c = (gk_kaldi_compress)(GK_KALDI_CM + i);
  } else if (t != LUA_TNIL && t != LUA_TNONE) {
    gkL_opterror(L, arg, "compress", "must be a boolean or 'cm', 'cm2', 'cm3' (got %s)", luaL_typename(L, -1));
  }
  lua_pop(L, 1);
  return c;
}

static int k_writer(lua_State *L) {
  const char *spec = gkL_checkpath(L, 1);
  gkL_checkoptions(L, 2, writer_keys);
  gk_kaldi_compress c = opt_compress(L, 2);
  gk_kaldi_writer **box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  luaL_setmetatable(L, GKL_KWRITER);
  gk_error err;
  gk_error_clear(&err);
  if (gk_kaldi_writer_open(box, spec, c, &err) != GK_OK) gkL_raise(L, &err);
  return 1;
}

static int writer_put(lua_State *L, int vector) {
  gk_kaldi_writer *w = check_writer(L, 1);
  size_t n;
  const char *key = luaL_checklstring(L, 2, &n);
  if (strlen(key) != n) luaL_argerror(L, 2, "key contains a NUL byte");
  int pushed = 0;
  gk_matrix *m = gkL_tomatrix(L, 3, -1, &pushed);
  gk_error err;
  gk_error_clear(&err);
  gk_status st = vector ? gk_kaldi_writer_write_vector(w, key, m, &err) : gk_kaldi_writer_write(w, key, m, &err);
  if (st != GK_OK) gkL_raise(L, &err);
  lua_settop(L, 1);
  return 1;
}

static int writer_write(lua_State *L) { return writer_put(L, 0); }
static int writer_write_vector(lua_State *L) { return writer_put(L, 1); }

static int writer_close(lua_State *L) {
  gk_kaldi_writer **box = luaL_checkudata(L, 1, GKL_KWRITER);
  if (!*box) return 0;
  gk_kaldi_writer *w = *box;
  *box = NULL;
  gk_error err;
  gk_error_clear(&err);
  if (gk_kaldi_writer_close(w, &err) != GK_OK) gkL_raise(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

static const gkL_Reg reader_methods[] = {
  {"close", reader_close, "r:close()\nCloses the reader now (idempotent); a for loop closes it by itself."},
  {NULL, NULL, NULL}};
static const gkL_Reg reader_meta[] = {
  {"__gc", reader_release, NULL}, {"__close", reader_release, NULL}, {NULL, NULL, NULL}};

static const gkL_Reg writer_methods[] = {
  {"write", writer_write,
   "w:write(key, m) -> w\nAppends Matrix (or table of rows) m under key: FM for float32, DM for "
   "float64, or compressed as the writer's compress option says. Keys are non-empty printable "
   "ASCII without white space."},
  {"write_vector", writer_write_vector,
   "w:write_vector(key, m) -> w\nAppends a 1 x n or n x 1 Matrix as a Kaldi vector (FV for "
   "float32, DV for float64)."},
  {"close", writer_close,
   "w:close() -> true\nCommits the archive (and script file) under their names. A writer "
   "garbage-collected or leaving a to-be-closed scope without close() is aborted: the old "
   "files stay."},
  {NULL, NULL, NULL}};
static const gkL_Reg writer_meta[] = {
  {"__gc", writer_release, NULL}, {"__close", writer_release, NULL}, {NULL, NULL, NULL}};

static const gkL_Reg funcs[] = {
  {"read", k_read,
   "gk.kaldi.read(rspecifier) -> iterator\nfor key, m in gk.kaldi.read(\"scp:feats.scp\") do ... end: "
   "the entries of a Kaldi table as key and Matrix (float32 for FM, FV, CM, CM2, CM3 and text, "
   "float64 for DM and DV; vectors as 1 x n). rspecifier: ark:FILE, scp:FILE, ark,t:FILE, ark:- "
   "or 'ark:COMMAND |' (options o, s, cs, p, ... accepted); script-file lines may give "
   "FILE:OFFSET, a command ('cmd |') and a range [r0:r1], [r0:r1,c0:c1], [:,c0:c1]. The reader "
   "closes at the end, on an error and when the loop is left early."},
  {"read_all", k_read_all,
   "gk.kaldi.read_all(rspecifier) -> {keys = {...}, matrices = {...}}\nEvery entry of a Kaldi "
   "table (see gk.kaldi.read) in order."},
  {"writer", k_writer,
   "gk.kaldi.writer(wspecifier, {compress=false}) -> KaldiWriter\nA writer of a Kaldi archive: "
   "wspecifier ark:FILE, ark,t:FILE (text), ark,scp:FILE.ark,FILE.scp or ark:-. compress: false "
   "(FM/DM), true (Kaldi's default: CM above 8 rows, CM2 otherwise), 'cm', 'cm2' or 'cm3'. "
   "w:write(key, m), then w:close() commits; files appear only then (atomically)."},
  {NULL, NULL, NULL}};

int gkL_open_kaldi(lua_State *L) {
  gkL_newclass(L, GKL_KREADER, reader_methods, reader_meta,
               "KaldiReader: the state of gk.kaldi.read (to-be-closed in a for loop). r:close().");
  gkL_newclass(L, GKL_KWRITER, writer_methods, writer_meta,
               "KaldiWriter: a Kaldi archive being written. w:write(key, m), w:write_vector(key, v), "
               "w:close().");
  lua_newtable(L);
  gkL_setfuncs(L, funcs);
  return 1;
}
