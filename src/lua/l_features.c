/*
 * l_features.c: the Lua binding of gmmkit/features.h and gmmkit/htk.h: gk.features
 * (deltas, cmvn, vad, warp, extract, read_htk, write_htk).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gmmkit/features.h"
#include "gmmkit/htk.h"
#include "l_extract_output.h"
#include "l_mfcc.h"

/* A float32 view of the matrix at idx (converted copy pushed and left in place if needed). */
static gk_matrix *check_f32(lua_State *L, int idx) {
  int pushed = 0;
  if (!gkL_testmatrix(L, idx) && !lua_istable(L, idx)) luaL_typeerror(L, idx, GKL_MATRIX);
  gk_matrix *m = gkL_tomatrix(L, idx, GK_FLOAT32, &pushed);
  if (pushed) lua_replace(L, idx);
  return m;
}

static int f_deltas(lua_State *L) {
  static const char *const keys[] = {"order", "window", NULL};
  gk_matrix *m = check_f32(L, 1);
  gkL_checkoptions(L, 2, keys);
  int order = (int)gkL_optinteger(L, 2, "order", 2, 0, 8);
  int window = (int)gkL_optinteger(L, 2, "window", 2, 1, 1000);
  gk_matrix *d = gkL_newmatrix(L, m->rows, m->cols * (size_t)(order + 1), GK_FLOAT32);
  gk_error err;
  gk_error_clear(&err);
  if (gk_features_deltas(m, order, window, d, &err) != GK_OK) gkL_raise(L, &err);
  return 1;
}

static void read_cmvn(lua_State *L, int arg, gk_cmvn_opts *o) {
  gk_cmvn_opts_default(o);
  o->window = (int)gkL_optinteger(L, arg, "window", o->window, 0, 1 << 30);
  o->center = gkL_optboolean(L, arg, "center", o->center);
  o->min_window = (int)gkL_optinteger(L, arg, "min_window", o->min_window, 0, 1 << 30);
  o->norm_vars = gkL_optboolean(L, arg, "norm_vars", o->norm_vars);
}

static int f_cmvn(lua_State *L) {
  static const char *const keys[] = {"window", "center", "min_window", "norm_vars", NULL};
  gk_matrix *m = check_f32(L, 1);
  gkL_checkoptions(L, 2, keys);
  gk_cmvn_opts o;
  read_cmvn(L, 2, &o);
  gk_matrix *d = gkL_newmatrix(L, m->rows, m->cols, GK_FLOAT32);
  gk_error err;
  gk_error_clear(&err);
  if (gk_features_cmvn(m, &o, d, &err) != GK_OK) gkL_raise(L, &err);
  return 1;
}

static const char *const vad_keys[] = {"energy_threshold", "energy_mean_scale", "frames_context",
                                       "proportion_threshold", "column", NULL};

static void read_vad(lua_State *L, int arg, gk_vad_opts *o) {
  gk_vad_opts_default(o);
  o->energy_threshold = gkL_optnumber(L, arg, "energy_threshold", o->energy_threshold, -HUGE_VAL, HUGE_VAL);
  o->energy_mean_scale = gkL_optnumber(L, arg, "energy_mean_scale", o->energy_mean_scale, -HUGE_VAL, HUGE_VAL);
  o->frames_context = (int)gkL_optinteger(L, arg, "frames_context", o->frames_context, 0, 1 << 20);
  o->proportion_threshold = gkL_optnumber(L, arg, "proportion_threshold", o->proportion_threshold, 0, 1);
  o->column = (size_t)gkL_optinteger(L, arg, "column", 1, 1, GK_MAX_DIM) - 1;
}

static int f_vad(lua_State *L) {
  gk_matrix *m = check_f32(L, 1);
  gkL_checkoptions(L, 2, vad_keys);
  gk_vad_opts o;
  read_vad(L, 2, &o);
  if (o.column >= m->cols)
    gkL_opterror(L, 2, "column", "%d is beyond the %d columns of the matrix", (int)o.column + 1, (int)m->cols);
  unsigned char *mask = lua_newuserdatauv(L, m->rows ? m->rows : 1, 0);  /* collected scratch */
  size_t voiced = 0;
  gk_error err;
  gk_error_clear(&err);
  if (gk_features_vad(m, &o, mask, &voiced, &err) != GK_OK) gkL_raise(L, &err);
  lua_createtable(L, m->rows > 0x7fffffff ? 0 : (int)m->rows, 0);
  for (size_t t = 0; t < m->rows; t++) {
    lua_pushboolean(L, mask[t]);
    lua_rawseti(L, -2, (lua_Integer)t + 1);
  }
  lua_pushinteger(L, (lua_Integer)voiced);
  return 2;
}

static int f_warp(lua_State *L) {
  static const char *const keys[] = {"window", NULL};
  gk_matrix *m = check_f32(L, 1);
  gkL_checkoptions(L, 2, keys);
  int window = (int)gkL_optinteger(L, 2, "window", 301, 1, 1 << 30);
  gk_matrix *d = gkL_newmatrix(L, m->rows, m->cols, GK_FLOAT32);
  gk_error err;
  gk_error_clear(&err);
  if (gk_features_warp(m, window, d, &err) != GK_OK) gkL_raise(L, &err);
  return 1;
}

/* ---- HTK files ------------------------------------------------------------------------- */

static int f_read_htk(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  gk_htk_header h;
  gk_error err;
  gk_error_clear(&err);
  if (gk_htk_read_header(path, &h, &err) != GK_OK) gkL_raise(L, &err);
  gk_matrix *m = gkL_newmatrix(L, h.frames, h.dims, GK_FLOAT32);
  if (gk_htk_read_data(path, &h, m, &err) != GK_OK) gkL_raise(L, &err);
  char kind[64];
  gk_htk_kind_format(h.kind, kind, sizeof kind);
  lua_createtable(L, 0, 3);
  lua_pushstring(L, kind);
  lua_setfield(L, -2, "kind");
  lua_pushnumber(L, h.period * 1e-7);
  lua_setfield(L, -2, "period");
  lua_pushinteger(L, h.kind);
  lua_setfield(L, -2, "kind_code");
  return 2;
}

static int f_write_htk(lua_State *L) {
  static const char *const keys[] = {"kind", "period", NULL};
  const char *path = luaL_checkstring(L, 1);
  gk_matrix *m = gkL_checkmatrix(L, 2);
  gkL_checkoptions(L, 3, keys);
  const char *ks = gkL_optstring(L, 3, "kind", "USER");
  double period = gkL_optnumber(L, 3, "period", 0.01, 1e-7, 214.0);
  uint16_t kind;
  gk_error err;
  gk_error_clear(&err);
  if (gk_htk_kind_parse(ks, &kind, &err) != GK_OK) gkL_opterror(L, 3, "kind", "%s", err.message);
  if (gk_htk_write(path, m, kind, (uint32_t)floor(period * 1e7 + 0.5), &err) != GK_OK) gkL_raise(L, &err);
  lua_settop(L, 2);
  return 1;
}

/* ---- batch extraction ------------------------------------------------------------------ */

/* Per-chunk results owned by a userdata, so that a raise while converting them frees them. */
typedef struct chunk {
  gk_extract_result *r;
  size_t n;
} chunk;

static int chunk_gc(lua_State *L) {
  chunk *c = luaL_checkudata(L, 1, "gmmkit.ExtractChunk");
  if (c->r) {
    for (size_t i = 0; i < c->n; i++) gk_matrix_release(&c->r[i].features, NULL);
    free(c->r);
    c->r = NULL;
  }
  return 0;
}

/* Reads a sub-option that is a boolean (true: defaults), a number (`numkey`), or a table. */
static int subopt(lua_State *L, int arg, const char *key) {
  int t = gkL_optfield(L, arg, key);
  if (t == LUA_TNIL || (t == LUA_TBOOLEAN && !lua_toboolean(L, -1))) {
    lua_pop(L, 1);
    return 0;
  }
  if (t != LUA_TBOOLEAN && t != LUA_TTABLE && t != LUA_TNUMBER)
    gkL_opterror(L, arg, key, "must be a boolean, a number or a table, got %s", luaL_typename(L, -1));
  return gkL_subopts(L, arg, key);  /* left on the stack for the caller; subopt_end pops it */
}

/* The end of sub-option sub (subopt): its value popped. */
static void subopt_end(lua_State *L, int sub) {
  gkL_subopts_end(L, sub);
  lua_pop(L, 1);
}

/* An integer sub-option given as a number (deltas = 2, cmvn = 300, warp = 301): range-
 * checked as a lua_Integer before it becomes an int, so that 2^32 + 3 cannot wrap to 3. */
static int int_subopt(lua_State *L, int sub, const char *key, const char *what, lua_Integer lo,
                      lua_Integer hi) {
  int isint = 0;
  lua_Integer v = lua_tointegerx(L, sub, &isint);
  if (!isint)
    gkL_opterror(L, 2, key, "must be an integer %s in [%I, %I], got %s", what, lo, hi,
                 luaL_tolstring(L, sub, NULL));
  if (v < lo || v > hi) gkL_opterror(L, 2, key, "%s must be in [%I, %I], got %I", what, lo, hi, v);
  return (int)v;
}

/* The rate a preset fixes: sre8k and paper (telephone speech, as in the GMM
 * simplification paper) 8 kHz, sre16k 16 kHz; 0 for the others. */
static int preset_rate(const char *preset) {
  if (!preset) return 0;
  if (strcmp(preset, "sre8k") == 0 || strcmp(preset, "paper") == 0) return 8000;
  if (strcmp(preset, "sre16k") == 0) return 16000;
  return 0;
}

/* Stack slots of an extraction call, filled by its steps in this order. */
enum {
  EX_OPTS = 2,      /* the options table */
  EX_OUTPUT = 3,    /* option output's writer (l_extract_output.h), or nil */
  EX_SKIP = 4,      /* the keys its script file already lists (a set), or nil */
  EX_LIST = 5,      /* the files to read, a list of strings */
  EX_PATHS = 6,     /* the same as a C array (userdata) pointing into EX_LIST */
  EX_PROGRESS = 7,  /* the value of option progress */
  EX_MFCC = 8,      /* the extractor (gmmkit.Mfcc) */
  EX_CHUNK = 9,     /* the results of the chunk being converted (gmmkit.ExtractChunk) */
  EX_MATRICES = 10, /* the result's matrices, */
  EX_READ = 11,     /* the paths of the files read, */
  EX_FAILED = 12,   /* the files skipped ({path=, error=}), */
  EX_KEYS = 13      /* and the keys (utterance ids) of the matrices, from a data directory */
};

/* What an extraction call carries from one step to the next. */
typedef struct extraction {
  const char **paths;         /* the n files (EX_PATHS); for a data directory its wav.scp entries */
  size_t n;
  const gk_audio_source *srcs; /* a data directory's utterances (EX_PATHS), or NULL */
  const char **keys;          /* their ids (EX_PATHS), or NULL */
  gk_extract_opts eo;         /* what is done to each file */
  gk_mfcc_opts mo;            /* the extractor's options */
  int rate;                   /* the extraction's sample rate (Hz) */
  int strict, stack;          /* options strict and stack */
  int show_tty, call_fn;      /* progress: a line on stderr, or the function at EX_PROGRESS */
  gkL_output *out;            /* option output (EX_OUTPUT), or NULL: matrices returned */
  int compress;               /* option compress: Kaldi's compression in the archive */
  lua_Integer nskipped;       /* utterances skipped: the output's script file lists them */
  int interrupted;            /* Ctrl-C stopped the run (with output: what is done is committed) */
  size_t dims;                /* feature columns */
  double t_start, audio;      /* when the reading began; seconds of audio read */
  double total_rows;          /* frames read */
  lua_Integer nok, nfail, nresampled;  /* files read, skipped, resampled */
} extraction;

/* Refuses unknown options: the MFCC options and the extraction options are accepted. */
static void check_extract_keys(lua_State *L) {
  static const char *const ex_keys[] = {"rate", "channel", "quality", "deltas", "cmvn", "warp", "vad",
                                        "strict", "stack", "progress", "recursive", "output", "compress", NULL};
  const char *keys[64];
  size_t nk = 0;
  for (size_t i = 0; gkL_mfcc_keys[i]; i++) keys[nk++] = gkL_mfcc_keys[i];
  for (size_t i = 0; ex_keys[i]; i++) keys[nk++] = ex_keys[i];
  keys[nk] = NULL;
  gkL_checkoptions(L, EX_OPTS, keys);
  lua_settop(L, EX_OPTS);
}

/* The audio files of folder p into the list at EX_LIST; a folder without any raises. */
static void list_folder(lua_State *L, const char *p) {
  int recursive = gkL_optboolean(L, EX_OPTS, "recursive", 1);
  char **paths;
  size_t n;
  gk_error err;
  gk_error_clear(&err);
  if (gk_audio_list(p, recursive, &paths, &n, &err) != GK_OK) gkL_raise(L, &err);
  for (size_t i = 0; i < n; i++) {
    lua_pushstring(L, paths[i]);
    lua_rawseti(L, EX_LIST, (lua_Integer)i + 1);
  }
  gk_audio_list_free(paths, n);
  if (n == 0)
    luaL_error(L, "gk.features.extract: %s: no audio file in this folder%s (names ending in .wav, "
               ".flac, .ogg, ... are read)", p, recursive ? " or its sub-folders" : "");
}

/* Field `key` of the table at `idx` without metamethods (a data directory is a plain table). */
static int rawfield(lua_State *L, int idx, const char *key) {
  lua_pushstring(L, key);
  return lua_rawget(L, idx < 0 ? idx - 1 : idx);
}

/* Raises "bad argument #1 (data directory: ...)": a table that gk.kaldi.data_dir did not make. */
static int dd_error(lua_State *L, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lua_pushstring(L, "data directory: ");
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  lua_concat(L, 2);
  return luaL_argerror(L, 1, lua_tostring(L, -1));
}

/* Keeps the string on top of the stack alive (in EX_LIST, past the entries) and pops it. */
static const char *anchor(lua_State *L, size_t *nanchor) {
  const char *s = lua_tostring(L, -1);
  lua_rawseti(L, EX_LIST, (lua_Integer)++*nanchor);
  return s;
}

/* The segment of utterance `utt` (the table segs[utt]) into `src`; *rec: its recording. */
static void dd_segment(lua_State *L, int segs, const char *utt, gk_audio_source *src, const char **rec,
                       size_t *nanchor) {
  if (rawfield(L, segs, utt) != LUA_TTABLE) dd_error(L, "utterance '%s' has no segment", utt);
  int seg = lua_gettop(L);
  if (rawfield(L, seg, "recording") != LUA_TSTRING) dd_error(L, "the segment of '%s' has no recording", utt);
  *rec = anchor(L, nanchor);
  if (rawfield(L, seg, "start") != LUA_TNUMBER || rawfield(L, seg, "stop") != LUA_TNUMBER)
    dd_error(L, "the segment of '%s' has no numbers start and stop", utt);
  src->start = lua_tonumber(L, -2);
  src->stop = lua_tonumber(L, -1);
  src->cut = 1;
  if (!(src->start >= 0 && src->start < 1e9) || !(src->stop == -1 || (src->stop > src->start && src->stop < 1e9)))
    dd_error(L, "the segment of '%s' has times out of order or out of range", utt);
  lua_settop(L, seg - 1);
}

/* Utterance i (1-based) of the list at `utts`, with the tables wav and segments (0 when
 * absent), into slot j (0-based) of the extraction: its source, its wav.scp entry
 * (EX_LIST[j + 1] and paths), its key. */
static void dd_source(lua_State *L, lua_Integer i, int utts, int wav, int segs, extraction *x, size_t j,
                      size_t *nanchor) {
  int top = lua_gettop(L);
  gk_audio_source *src = (gk_audio_source *)&x->srcs[j];
  if (lua_rawgeti(L, utts, i) != LUA_TSTRING)
    dd_error(L, "utterance %I is a %s, not a string", i, luaL_typename(L, -1));
  const char *utt = lua_tostring(L, -1);
  x->keys[j] = anchor(L, nanchor);
  lua_pushfstring(L, "utterance '%s'", utt);
  src->name = anchor(L, nanchor);
  src->cut = 0;
  src->start = 0;
  src->stop = -1;
  const char *rec = utt;
  if (segs) dd_segment(L, segs, utt, src, &rec, nanchor);
  if (rawfield(L, wav, rec) != LUA_TSTRING) dd_error(L, "recording '%s' has no wav.scp entry", rec);
  size_t len;
  const char *entry = lua_tolstring(L, -1, &len);
  x->paths[j] = entry;
  lua_rawseti(L, EX_LIST, (lua_Integer)j + 1);
  while (len > 0 && (entry[len - 1] == ' ' || entry[len - 1] == '\t')) len--;
  src->path = src->command = NULL;
  if (len > 0 && entry[len - 1] == '|') {
    lua_pushlstring(L, entry, len - 1);  /* Kaldi's rxfilename "command |": the command */
    src->command = anchor(L, nanchor);
  } else {
    src->path = entry;
  }
  lua_settop(L, top);
}

/* Whether utterance i of the list at `utts` is in the output's script file already. */
static int skipped(lua_State *L, int utts, lua_Integer i) {
  if (lua_isnil(L, EX_SKIP)) return 0;
  /* A value that is not a string is refused by dd_source. */
  int found = lua_rawgeti(L, utts, i) == LUA_TSTRING && lua_rawget(L, EX_SKIP) != LUA_TNIL;
  lua_pop(L, 1);
  return found;
}

/* A data directory (gk.kaldi.data_dir's table at 1): its utterances as sources, their
 * wav.scp entries as EX_LIST and paths, their ids as keys. Every string the C arrays
 * point to is kept in EX_LIST (a progress function may change the table at 1). */
static void collect_data_dir(lua_State *L, extraction *x) {
  if (rawfield(L, 1, "utterances") != LUA_TTABLE) dd_error(L, "no list of utterances");
  size_t n = gkL_checklen(L, -1, 1, GK_MAX_LIST, "the data directory's utterances");
  if (n == 0) dd_error(L, "no utterances");
  lua_newtable(L);
  char *block = lua_newuserdatauv(L, n * (2 * sizeof(char *) + sizeof(gk_audio_source)), 0);
  lua_rotate(L, EX_LIST, -1);  /* EX_LIST, EX_PATHS, then the utterances */
  int utts = EX_PATHS + 1;
  x->srcs = (const gk_audio_source *)block;
  x->paths = (const char **)(block + n * sizeof(gk_audio_source));
  x->keys = x->paths + n;
  x->n = n;
  int wav = rawfield(L, 1, "wav") == LUA_TTABLE ? lua_gettop(L) : 0;
  if (!wav) dd_error(L, "no table wav");
  int t = rawfield(L, 1, "segments");
  if (t != LUA_TNIL && t != LUA_TTABLE) dd_error(L, "segments is not a table");
  int segs = t == LUA_TTABLE ? lua_gettop(L) : 0;
  size_t nanchor = n, m = 0;
  for (size_t i = 1; i <= n; i++) {
    if (skipped(L, utts, (lua_Integer)i)) {
      x->nskipped++;
      continue;
    }
    dd_source(L, (lua_Integer)i, utts, wav, segs, x, m, &nanchor);
    m++;
  }
  x->n = m;
  lua_settop(L, EX_PATHS);
}

/* Whether the argument is a data directory (a table with a field utterances). */
static int is_data_dir(lua_State *L) {
  if (!lua_istable(L, 1)) return 0;
  int t = rawfield(L, 1, "utterances");
  lua_pop(L, 1);
  return t != LUA_TNIL;
}

/* The options table without its field `output` (a wspecifier, which the MFCC options
 * would read as the feature kind), in place of the original at EX_OPTS. */
static void drop_output_option(lua_State *L) {
  lua_newtable(L);
  lua_pushnil(L);
  while (lua_next(L, EX_OPTS)) {
    if (lua_type(L, -2) == LUA_TSTRING && strcmp(lua_tostring(L, -2), "output") == 0) {
      lua_pop(L, 1);
      continue;
    }
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -4);
  }
  lua_replace(L, EX_OPTS);
}

/* Options output (a wspecifier: EX_OUTPUT, EX_SKIP; 'mfcc' or 'fbank' stay the MFCC
 * option) and compress. An archive needs a data directory (its utterance ids are the
 * keys) and excludes stack. */
static void read_output(lua_State *L, extraction *x) {
  x->compress = gkL_optboolean(L, EX_OPTS, "compress", 0);
  int has = gkL_optfield(L, EX_OPTS, "output") == LUA_TSTRING && strchr(lua_tostring(L, -1), ':') != NULL;
  lua_pop(L, 1);
  if (x->compress && !has)
    gkL_opterror(L, EX_OPTS, "compress", "needs option 'output' to be a wspecifier (an archive to compress)");
  if (!has) {
    lua_pushnil(L);  /* EX_OUTPUT */
    lua_pushnil(L);  /* EX_SKIP */
    return;
  }
  if (!is_data_dir(L))
    gkL_opterror(L, EX_OPTS, "output", "needs a data directory (gk.kaldi.data_dir): its utterance ids are the keys");
  if (gkL_optboolean(L, EX_OPTS, "stack", 0))
    gkL_opterror(L, EX_OPTS, "stack", "and option 'output' exclude each other (the matrices go to the archive)");
  x->out = gkL_output_plan(L, EX_OPTS);
  drop_output_option(L);
}

/* The list of files (EX_LIST, and as C strings at EX_PATHS): a folder, one file, an
 * array of paths, or a data directory. A path that does not exist, or a folder without
 * audio, is the caller's mistake: it raises. */
static void collect_paths(lua_State *L, extraction *x) {
  if (is_data_dir(L)) {
    collect_data_dir(L, x);
    return;
  }
  if (lua_type(L, 1) == LUA_TSTRING) {
    const char *p = gkL_checkpath(L, 1);
    struct stat sb;
    if (stat(p, &sb) != 0) luaL_error(L, "gk.features.extract: %s: no such file or folder (check the path)", p);
    lua_newtable(L);
    if (S_ISDIR(sb.st_mode)) {
      list_folder(L, p);
    } else {
      lua_pushvalue(L, 1);
      lua_rawseti(L, EX_LIST, 1);
    }
  } else if (lua_istable(L, 1)) {
    lua_newtable(L);
    lua_Integer n = (lua_Integer)gkL_checklen(L, 1, 1, GK_MAX_LIST, "the path list");
    for (lua_Integer i = 1; i <= n; i++) {
      if (lua_geti(L, 1, i) != LUA_TSTRING)
        luaL_argerror(L, 1, lua_pushfstring(L, "entry %I is a %s, not a path", i, luaL_typename(L, -1)));
      lua_rawseti(L, EX_LIST, i);
    }
  } else {
    luaL_typeerror(L, 1, "folder, path or array of paths");
  }
  size_t n = lua_rawlen(L, EX_LIST);
  const char **paths = lua_newuserdatauv(L, (n ? n : 1) * sizeof(char *), 0);  /* EX_PATHS */
  for (size_t i = 0; i < n; i++) {
    lua_geti(L, EX_LIST, (lua_Integer)i + 1);
    paths[i] = lua_tostring(L, -1);  /* kept alive by the list at EX_LIST */
    lua_pop(L, 1);
  }
  x->paths = paths;
  x->n = n;
}

/* The rate of the extraction: rate= (or sample_frequency) when given, else the preset's
 * when it fixes one, else the most common rate among the files' headers. Every file at
 * another rate is resampled to it: one odd file never decides for the folder, nor fails. */
static void read_rate(lua_State *L, extraction *x) {
  int rate = (int)gkL_optinteger(L, EX_OPTS, "rate", 0, 0, GK_AUDIO_MAX_RATE);
  if (gkL_optfield(L, EX_OPTS, "sample_frequency") != LUA_TNIL) {
    double sf = gkL_optnumber(L, EX_OPTS, "sample_frequency", 16000, 1, GK_AUDIO_MAX_RATE);
    if (sf != floor(sf))
      gkL_opterror(L, EX_OPTS, "sample_frequency", "must be a whole number of Hz for extract, got %f", sf);
    if (rate > 0 && sf != rate)
      gkL_opterror(L, EX_OPTS, "rate", "%d Hz differs from option 'sample_frequency' %d Hz (give one of them)",
                   rate, (int)sf);
    rate = (int)sf;
  }
  lua_pop(L, 1);
  if (rate == 0) rate = preset_rate(gkL_optstring(L, EX_OPTS, "preset", NULL));
  if (rate == 0) {
    gk_error err;
    gk_error_clear(&err);
    if (gk_features_common_rate(x->paths, x->n, &rate, &err) != GK_OK) gkL_raise(L, &err);
    /* A data directory's entries that are commands have no header to read without running them. */
    if (rate == 0 && x->srcs && x->n > 0)
      gkL_opterror(L, EX_OPTS, "rate", "is needed: no wav.scp entry of the data directory is an audio file whose "
                   "header can be read (commands are not run for it): give rate= or a preset that fixes it");
  }
  x->rate = rate;
  x->eo.audio.rate = rate;
}

/* Option deltas: an order, {order=, window=} or true. Without it, a preset's deltas
 * (paper) are taken after normalisation of the static features, not by the extractor. */
static void read_deltas(lua_State *L, extraction *x) {
  gk_extract_opts *eo = &x->eo;
  int sub = subopt(L, EX_OPTS, "deltas");
  if (sub != 0) {
    static const char *const dk[] = {"order", "window", NULL};
    if (lua_type(L, sub) == LUA_TNUMBER) {
      eo->delta_order = int_subopt(L, sub, "deltas", "order", 0, 8);
    } else if (lua_istable(L, sub)) {
      gkL_checkoptions(L, sub, dk);
      eo->delta_order = (int)gkL_optinteger(L, sub, "order", 2, 0, 8);
      eo->delta_window = (int)gkL_optinteger(L, sub, "window", 2, 1, 1000);
    } else {
      eo->delta_order = 2;
    }
    if (eo->delta_order < 0 || eo->delta_order > 8) gkL_opterror(L, EX_OPTS, "deltas", "order must be in [0, 8]");
    subopt_end(L, sub);
  } else if (x->mo.delta_order > 0) {
    eo->delta_order = x->mo.delta_order;
    eo->delta_window = x->mo.delta_window;
  }
  x->mo.delta_order = 0;
}

/* Options cmvn (true, a window or cmvn options) and warp (true or a window), exclusive. */
static void read_norm(lua_State *L, gk_extract_opts *eo) {
  int sub;
  if ((sub = subopt(L, EX_OPTS, "cmvn")) != 0) {
    static const char *const ck[] = {"window", "center", "min_window", "norm_vars", NULL};
    eo->norm = GK_NORM_CMVN;
    if (lua_type(L, sub) == LUA_TNUMBER) eo->cmvn.window = int_subopt(L, sub, "cmvn", "window", 0, 1 << 30);
    else if (lua_istable(L, sub)) {
      gkL_checkoptions(L, sub, ck);
      read_cmvn(L, sub, &eo->cmvn);
    }
    if (eo->cmvn.window < 0) gkL_opterror(L, EX_OPTS, "cmvn", "window must be >= 0");
    subopt_end(L, sub);
  }
  if ((sub = subopt(L, EX_OPTS, "warp")) != 0) {
    if (eo->norm != GK_NORM_NONE) gkL_opterror(L, EX_OPTS, "warp", "and option 'cmvn' exclude each other");
    eo->norm = GK_NORM_WARP;
    if (lua_type(L, sub) == LUA_TNUMBER) eo->warp_window = int_subopt(L, sub, "warp", "window", 1, 1 << 30);
    else if (lua_istable(L, sub)) {
      static const char *const wk[] = {"window", NULL};
      gkL_checkoptions(L, sub, wk);
      eo->warp_window = (int)gkL_optinteger(L, sub, "window", 301, 1, 1 << 30);
    }
    if (eo->warp_window < 1) gkL_opterror(L, EX_OPTS, "warp", "window must be >= 1");
    subopt_end(L, sub);
  }
}

/* Option vad: true or a table of compute-vad options. */
static void read_vad_option(lua_State *L, gk_extract_opts *eo) {
  int sub = subopt(L, EX_OPTS, "vad");
  if (sub == 0) return;
  eo->vad = 1;
  if (lua_istable(L, sub)) {
    gkL_checkoptions(L, sub, vad_keys);
    read_vad(L, sub, &eo->vad_opts);
  } else if (lua_type(L, sub) != LUA_TBOOLEAN) {
    gkL_opterror(L, EX_OPTS, "vad", "must be true or a table of compute-vad options");
  }
  if (eo->vad_opts.proportion_threshold <= 0 || eo->vad_opts.proportion_threshold >= 1)
    gkL_opterror(L, EX_OPTS, "vad", "proportion_threshold must be in (0, 1)");
  subopt_end(L, sub);
}

/* Option progress, left at EX_PROGRESS: a function, or a line on stderr when it is a
 * terminal (progress=false: none). */
static void read_progress(lua_State *L, extraction *x) {
  int ptype = gkL_optfield(L, EX_OPTS, "progress");
  if (ptype != LUA_TNIL && ptype != LUA_TBOOLEAN && ptype != LUA_TFUNCTION)
    gkL_opterror(L, EX_OPTS, "progress", "must be a boolean or a function, got %s", luaL_typename(L, -1));
  x->show_tty = (ptype == LUA_TNIL || (ptype == LUA_TBOOLEAN && lua_toboolean(L, EX_PROGRESS))) && isatty(2);
  x->call_fn = ptype == LUA_TFUNCTION;
}

/* Every option but the file list's recursive, in the order they are checked. */
static void read_extract_opts(lua_State *L, extraction *x) {
  gk_extract_opts *eo = &x->eo;
  gk_extract_opts_default(eo);
  eo->audio.channel = (int)gkL_optinteger(L, EX_OPTS, "channel", 0, 0, GK_AUDIO_MAX_CHANNELS) - 1;
  eo->audio.quality = (gk_resample_quality)gkL_optenum(L, EX_OPTS, "quality", gk_resample_quality_names,
                                                        GK_RESAMPLE_MEDIUM);
  x->strict = gkL_optboolean(L, EX_OPTS, "strict", 0);
  x->stack = gkL_optboolean(L, EX_OPTS, "stack", 0);
  read_rate(L, x);
  gkL_mfcc_options(L, EX_OPTS, &x->mo, x->rate);
  if (x->rate > 0) x->mo.sample_frequency = x->rate;  /* a preset that fixes it agrees (preset_rate) */
  read_deltas(L, x);
  read_norm(L, eo);
  read_vad_option(L, eo);
  read_progress(L, x);
}

/* The extractor at EX_MFCC; fixes the feature columns. */
static gk_mfcc *open_extractor(lua_State *L, extraction *x) {
  gk_mfcc **box = lua_newuserdatauv(L, sizeof(gk_mfcc *), 0);  /* EX_MFCC */
  *box = NULL;
  luaL_setmetatable(L, GKL_MFCC);
  gk_error err;
  gk_error_clear(&err);
  if (gk_mfcc_create(box, &x->mo, &err) != GK_OK) gkL_raise(L, &err);
  gk_mfcc *ex = *box;
  if (x->eo.vad && x->eo.vad_opts.column >= gk_mfcc_dims(ex))
    gkL_opterror(L, EX_OPTS, "vad", "column %d is beyond the %d feature columns", (int)x->eo.vad_opts.column + 1,
                 (int)gk_mfcc_dims(ex));
  x->dims = gk_features_extract_dims(ex, &x->eo);
  return ex;
}

/* The chunk at EX_CHUNK (its results not yet allocated) and the result lists at
 * EX_MATRICES, EX_READ and EX_FAILED. */
static chunk *new_chunk(lua_State *L) {
  if (luaL_newmetatable(L, "gmmkit.ExtractChunk")) {
    lua_pushcfunction(L, chunk_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  chunk *ck = lua_newuserdatauv(L, sizeof *ck, 0);  /* EX_CHUNK */
  ck->r = NULL;
  ck->n = 0;
  luaL_setmetatable(L, "gmmkit.ExtractChunk");
  lua_newtable(L);  /* EX_MATRICES */
  lua_newtable(L);  /* EX_READ */
  lua_newtable(L);  /* EX_FAILED */
  lua_newtable(L);  /* EX_KEYS */
  return ck;
}

/* Converts the results of the m files from paths[i0] into matrices (EX_MATRICES, their
 * paths at EX_READ) and entries of EX_FAILED, then releases them. A failed file raises
 * with strict=true, and always when memory ran out. */
static void keep_chunk(lua_State *L, extraction *x, chunk *ck, size_t i0, size_t m) {
  for (size_t k = 0; k < m; k++) {
    gk_extract_result *r = &ck->r[k];
    /* Not done: an interrupted run with output commits the rest. A failure in an interrupted
     * chunk may be the Ctrl-C itself (it also stops a wav.scp command): left for the resume. */
    if (r->error.status == GK_EINTR || (x->interrupted && r->error.status != GK_OK)) continue;
    if (r->error.status != GK_OK) {
      if (x->strict || r->error.status == GK_ENOMEM) {
        gk_error e = r->error;
        if (x->show_tty) fputc('\n', stderr);
        gkL_raise(L, &e);
      }
      lua_createtable(L, 0, 3);
      lua_pushstring(L, x->paths[i0 + k]);
      lua_setfield(L, -2, "path");
      if (x->keys) {
        lua_pushstring(L, x->keys[i0 + k]);
        lua_setfield(L, -2, "key");
      }
      lua_pushstring(L, r->error.message);
      lua_setfield(L, -2, "error");
      lua_rawseti(L, EX_FAILED, ++x->nfail);
      continue;
    }
    double rows = (double)r->features.rows;
    if (x->out) {
      gkL_output_write(L, x->out, x->keys[i0 + k], &r->features);
      gk_matrix_release(&r->features, NULL);
      ++x->nok;
    } else {
      gk_matrix *mm = gkL_newmatrix(L, r->features.rows, x->dims, GK_FLOAT32);
      if (r->features.rows) memcpy(mm->data, r->features.data, r->features.rows * x->dims * sizeof(float));
      gk_matrix_release(&r->features, NULL);
      lua_rawseti(L, EX_MATRICES, ++x->nok);
    }
    lua_pushstring(L, x->paths[i0 + k]);
    lua_rawseti(L, EX_READ, x->nok);
    if (x->keys) {
      lua_pushstring(L, x->keys[i0 + k]);
      lua_rawseti(L, EX_KEYS, x->nok);
    }
    x->audio += r->seconds;
    x->total_rows += rows;
    if (x->rate > 0 && r->source_rate > 0 && r->source_rate != x->rate) x->nresampled++;
  }
  for (size_t k = 0; k < m; k++) gk_matrix_release(&ck->r[k].features, NULL);
}

/* Progress after `done` files: the function at EX_PROGRESS called with (done, total,
 * audio seconds, elapsed), or a line on stderr. */
static void show_progress(lua_State *L, const extraction *x, size_t done) {
  double el = gk_seconds() - x->t_start;
  size_t n = x->n;
  if (x->call_fn) {
    lua_pushvalue(L, EX_PROGRESS);
    lua_pushinteger(L, (lua_Integer)done);
    lua_pushinteger(L, (lua_Integer)n);
    lua_pushnumber(L, x->audio);
    lua_pushnumber(L, el);
    lua_call(L, 4, 0);
  } else if (x->show_tty) {
    double left = done ? el * (double)(n - done) / (double)done : 0;
    /* Counts what succeeded and what failed, never only what was attempted. */
    fprintf(stderr, "\rextract: %zu/%zu files read, %lld ok, %lld failed, %.0f s of audio, %.0fx real time, "
            "%d:%02d left   ", done, n, (long long)x->nok, (long long)x->nfail, x->audio,
            el > 0 ? x->audio / el : 0.0, (int)(left / 60), (int)fmod(left, 60));
    if (done == n) {
      fputc('\n', stderr);
      if (x->nfail > 0) {
        lua_geti(L, EX_FAILED, 1);
        lua_getfield(L, -1, "error");
        fprintf(stderr, "extract: %lld of %zu files skipped (listed in the result's `failed`), the first: %s\n",
                (long long)x->nfail, n, lua_tostring(L, -1));
        lua_pop(L, 2);
      }
    }
    fflush(stderr);
  }
}

/* Files go in chunks (one parallel region each, results converted and progress shown in
 * between); chunks grow to about half a second of work, so that the barrier at the end
 * of each costs little even when other processes hold the cores. */
static void run_chunks(lua_State *L, extraction *x, gk_mfcc *ex, chunk *ck) {
  size_t block = (size_t)gk_threads() * 8, cap = 4096;
  if (block < 16) block = 16;
  ck->r = calloc(cap, sizeof(gk_extract_result));
  if (!ck->r) luaL_error(L, "not enough memory");
  x->t_start = gk_seconds();
  for (size_t i0 = 0, m = 0; i0 < x->n; i0 += m) {
    m = x->n - i0 < block ? x->n - i0 : block;
    ck->n = m;
    gk_error err;
    gk_error_clear(&err);
    double t_chunk = gk_seconds();
    gk_status st = x->srcs ? gk_features_extract_sources(ex, x->srcs + i0, m, &x->eo, ck->r, &err)
                           : gk_features_extract(ex, x->paths + i0, m, &x->eo, ck->r, &err);
    t_chunk = gk_seconds() - t_chunk;
    double want = t_chunk > 0 ? 0.5 * (double)m / t_chunk : (double)cap;
    block = want < 16 ? 16 : want > (double)cap ? cap : (size_t)want;
    if (st == GK_EINTR) {
      /* No file is at fault: say how far it got. What was written is kept for a resume. */
      if (x->show_tty) fputc('\n', stderr);
      if (x->out) {
        x->interrupted = 1;
        keep_chunk(L, x, ck, i0, m);
        gkL_output_commit(L, x->out);
        luaL_error(L, "gk.features.extract: interrupted (%I of %I utterances written to %s; run again to resume)",
                   x->nok, (lua_Integer)x->n, x->out->archive);
      }
      luaL_error(L, "gk.features.extract: interrupted (%I of %I files done)", x->nok + x->nfail, (lua_Integer)x->n);
    }
    keep_chunk(L, x, ck, i0, m);
    show_progress(L, x, i0 + m);
  }
}

/* The result table, on top of the stack. */
static void push_result(lua_State *L, const extraction *x) {
  lua_createtable(L, 0, 8);
  lua_pushvalue(L, EX_MATRICES);
  lua_setfield(L, -2, "matrices");
  lua_pushvalue(L, EX_READ);
  lua_setfield(L, -2, "paths");
  lua_pushvalue(L, EX_FAILED);
  lua_setfield(L, -2, "failed");
  lua_pushnumber(L, x->audio);
  lua_setfield(L, -2, "seconds");
  lua_pushnumber(L, gk_seconds() - x->t_start);
  lua_setfield(L, -2, "elapsed");
  lua_pushinteger(L, (lua_Integer)x->total_rows);
  lua_setfield(L, -2, "frames");
  lua_pushinteger(L, x->nresampled);
  lua_setfield(L, -2, "resampled");
  lua_pushinteger(L, x->rate);
  lua_setfield(L, -2, "rate");
  if (x->keys) {
    lua_pushvalue(L, EX_KEYS);
    lua_setfield(L, -2, "keys");
  }
  if (x->out) {
    lua_pushinteger(L, x->nskipped);
    lua_setfield(L, -2, "skipped");
    lua_pushstring(L, x->n > 0 ? x->out->archive : "");
    lua_setfield(L, -2, "archive");
  }
}

/* stack=true: the matrices one below the other in the result's `stacked`, and `offsets`,
 * the 1-based first row of each file and one past the end. */
static void push_stacked(lua_State *L, const extraction *x) {
  int res = lua_gettop(L);
  gk_matrix *all = gkL_newmatrix(L, (size_t)x->total_rows, x->dims, GK_FLOAT32);
  lua_createtable(L, (int)x->nok + 1, 0);
  size_t row = 0;
  for (lua_Integer i = 1; i <= x->nok; i++) {
    lua_geti(L, EX_MATRICES, i);
    gk_matrix *mm = gkL_checkmatrix(L, -1);
    if (mm->rows) memcpy((float *)all->data + row * x->dims, mm->data, mm->rows * x->dims * sizeof(float));
    lua_pop(L, 1);
    lua_pushinteger(L, (lua_Integer)row + 1);
    lua_rawseti(L, -2, i);
    row += mm->rows;
  }
  lua_pushinteger(L, (lua_Integer)row + 1);
  lua_rawseti(L, -2, x->nok + 1);
  lua_setfield(L, res, "offsets");
  lua_setfield(L, res, "stacked");
}

/* gk.features.extract: the steps in order, each leaving its values in the stack slots
 * EX_* for the next. */
static int f_extract(lua_State *L) {
  extraction x;
  memset(&x, 0, sizeof x);
  check_extract_keys(L);
  read_output(L, &x);
  collect_paths(L, &x);
  read_extract_opts(L, &x);
  gk_mfcc *ex = open_extractor(L, &x);
  chunk *ck = new_chunk(L);
  if (x.out && x.n > 0) gkL_output_open(L, x.out, x.compress);
  run_chunks(L, &x, ex, ck);
  if (x.out) gkL_output_commit(L, x.out);
  push_result(L, &x);
  if (x.stack) push_stacked(L, &x);
  return 1;
}

static const gkL_Reg funcs[] = {
  {"deltas", f_deltas,
   "gk.features.deltas(m, {order=2, window=2}) -> Matrix\n[static | delta | delta-delta ...] by the "
   "HTK/Kaldi regression formula d_t = sum_k k (x_{t+k} - x_{t-k}) / (2 sum_k k^2), higher orders by "
   "the convolved filter (Kaldi add-deltas), frames beyond the ends replaced by the first / last."},
  {"cmvn", f_cmvn,
   "gk.features.cmvn(m, {window=300, center=true, norm_vars=false, min_window=100}) -> Matrix\n"
   "Sliding-window cepstral mean (and variance) normalisation with Kaldi apply-cmvn-sliding "
   "semantics; window=0 uses the whole utterance."},
  {"vad", f_vad,
   "gk.features.vad(m, {energy_threshold=5, energy_mean_scale=0.5, frames_context=0, "
   "proportion_threshold=0.6, column=1}) -> mask, count\nKaldi compute-vad on the log energy in "
   "`column` (C0 or the energy): a boolean per frame, for m:select_rows(mask), and the voiced count."},
  {"warp", f_warp,
   "gk.features.warp(m, {window=301}) -> Matrix\nFeature warping (Pelecanos and Sridharan 2001): "
   "each value mapped to the standard normal quantile of its rank in a sliding window."},
  {"extract", f_extract,
   "gk.features.extract(files_or_folder, opts) -> {matrices=, paths=, failed=, seconds=, frames=, "
   "rate=, resampled=[, keys=, stacked=, offsets=]}\nFeatures of many files in parallel (OpenMP, "
   "gk.set_threads). The files: a folder, a path, an array of paths, or a Kaldi data directory read by "
   "gk.kaldi.data_dir: then each utterance is extracted (keys: the utterance ids of the matrices, in "
   "order; paths: their wav.scp entries; failed entries have key=), from its wav.scp file or command "
   "('cmd |': run by /bin/sh, its whole output read as the audio; a failing exit status fails the "
   "utterance, naming it and the command), cut to its segment as Kaldi's extract-segments does (from "
   "floor(start * rate) to floor(stop * rate) samples at the recording's rate, stop -1 the end; 0.5 s "
   "past the end truncated, more or a segment of 0.1 s or less fails). Each file is loaded (channel=, quality=) at the extraction's rate: rate= (or "
   "sample_frequency) when given, else the preset's (paper and sre8k 8000 Hz, sre16k 16000 Hz), "
   "else the most common rate among the files; a file at another rate is resampled (counted in "
   "`resampled`), never failed. A path that does not exist or a folder without audio raises. Each "
   "file is analysed with the MFCC options of gk.mfcc.new, then optionally: vad (true or compute-vad "
   "options; decided on the raw static features, applied at the end), cmvn (true, a window, or "
   "cmvn options) or warp (true or a window), deltas (an order or {order=, window=}; preset "
   "'paper' implies order 1). A bad file is listed in `failed` ({path=, error=}) and skipped, or "
   "raises with strict=true. progress: a function(done, total, audio_seconds, elapsed), or false; by default "
   "a line on stderr when it is a terminal. stack=true adds the stacked matrix and offsets (the "
   "1-based first row of each file, and one past the end). output = a wspecifier ('ark:feats.ark', "
   "'ark,t:...', 'ark,scp:feats.ark,feats.scp'; output 'mfcc' or 'fbank' is the feature kind), with a data "
   "directory: each utterance's features are written under its id as they are made (in parallel, in "
   "utterance order; compress=true: Kaldi's compression as copy-feats --compress=true) instead of "
   "returned (matrices is empty; keys lists what was written; archive names the archive written). The "
   "files appear when extraction ends (atomically; a failure leaves the old files). Resume: when the "
   "wspecifier has a script file and it exists, the utterances it lists are skipped (counted in "
   "`skipped`), the others go to a new archive beside the first (feats.2.ark, feats.3.ark, ...), and the "
   "script file is rewritten with its lines and the new ones sorted by key, so that it lists every "
   "utterance once. Ctrl-C commits the utterances done so far, so that the next run resumes from them; "
   "a process killed outright loses its unfinished archive."},
  {"read_htk", f_read_htk,
   "gk.features.read_htk(path) -> Matrix, {kind=, period=, kind_code=}\nAn HTK parameter file "
   "(float or compressed), its kind ('MFCC_E_D_A', ...) and frame period in seconds."},
  {"write_htk", f_write_htk,
   "gk.features.write_htk(path, m, {kind='USER', period=0.01}) -> m\nWrites an HTK parameter file "
   "(big-endian float32, atomically) with the given parameter kind and frame period (seconds)."},
  {NULL, NULL, NULL}};

int gkL_open_features(lua_State *L) {
  lua_newtable(L);
  gkL_setfuncs(L, funcs);
  return 1;
}
