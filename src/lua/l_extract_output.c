/*
 * l_extract_output.c: option `output` of gk.features.extract (see l_extract_output.h):
 * the wspecifier's writer, the keys an existing script file already lists, and the merge
 * of script files that makes a resumed run's result list every utterance once.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "l_extract_output.h"

#define GKL_OUTPUT "gmmkit.ExtractOutput"

static int output_gc(lua_State *L) {
  gkL_output *o = luaL_checkudata(L, 1, GKL_OUTPUT);
  gk_kaldi_writer_abort(o->w);  /* not committed: nothing half-written stays */
  o->w = NULL;
  return 0;
}

/* Keeps a copy of s[0..len) in the output's user value (a table) and returns it. */
static char *keep(lua_State *L, int ud, const char *s, size_t len) {
  lua_getiuservalue(L, ud, 1);
  lua_pushlstring(L, s, len);
  char *p = (char *)lua_tostring(L, -1);
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
  lua_pop(L, 1);
  return p;
}

/* The whole regular file at argument 1 as a string (a C function, so that returning closes
 * the file's to-be-closed slot). */
static int read_whole(lua_State *L) {
  FILE *f = gkL_fopen(L, lua_tostring(L, 1), "rb");
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  size_t got;
  do {
    got = fread(luaL_prepbuffer(&b), 1, LUAL_BUFFERSIZE, f);
    luaL_addsize(&b, got);
  } while (got > 0);
  if (ferror(f)) luaL_error(L, "%s: read error", lua_tostring(L, 1));
  luaL_pushresult(&b);
  return 1;
}

static const char *push_file(lua_State *L, const char *path, size_t *n) {
  lua_pushcfunction(L, read_whole);
  lua_pushstring(L, path);
  lua_call(L, 1, 1);
  return lua_tolstring(L, -1, n);
}

/* Splits "OPTS:ARK[,SCP]" into the output's archive and script file. */
static void parse_wspec(lua_State *L, int opts, int ud, gkL_output *o, const char *spec) {
  const char *colon = strchr(spec, ':');
  if (!colon)
    gkL_opterror(L, opts, "output", "'%s' is not a wspecifier (ark:FILE, ark,t:FILE or ark,scp:FILE.ark,FILE.scp)", spec);
  int scp = 0;
  for (const char *w = spec; w < colon;) {
    const char *e = memchr(w, ',', (size_t)(colon - w));
    if (!e) e = colon;
    if (e - w == 3 && !memcmp(w, "scp", 3)) scp = 1;
    w = e + 1;
  }
  const char *rest = colon + 1, *comma = scp ? strchr(rest, ',') : NULL;
  if (scp && !comma) gkL_opterror(L, opts, "output", "'%s': ark,scp: needs ARCHIVE,SCRIPT", spec);
  o->archive = keep(L, ud, rest, comma ? (size_t)(comma - rest) : strlen(rest));
  o->scp = comma ? keep(L, ud, comma + 1, strlen(comma + 1)) : NULL;
  o->wspec = keep(L, ud, spec, strlen(spec));
}

/* The rxfilename's file: without a trailing range "[...]" and offset ":N"; NULL for a command. */
static const char *archive_of(lua_State *L, const char *rx, size_t len) {
  while (len && (rx[len - 1] == ' ' || rx[len - 1] == '\t')) len--;
  if (len && rx[len - 1] == '|') return NULL;
  if (len && rx[len - 1] == ']') {
    const char *open = memchr(rx, '[', len);
    if (open) len = (size_t)(open - rx);
  }
  size_t d = len;
  while (d && rx[d - 1] >= '0' && rx[d - 1] <= '9') d--;
  if (d < len && d > 0 && rx[d - 1] == ':') len = d - 1;
  lua_pushlstring(L, rx, len);
  return lua_tostring(L, -1);
}

/* Line `no` of the script file: its key into the skip set at `skip`, its archive checked. */
static void skip_line(lua_State *L, const gkL_output *o, int skip, const char *line, size_t len, int no) {
  size_t k = 0;
  while (k < len && line[k] != ' ' && line[k] != '\t') k++;
  size_t r = k;
  while (r < len && (line[r] == ' ' || line[r] == '\t')) r++;
  if (k == 0 || r == len)
    luaL_error(L, "%s line %d: not 'KEY RXFILENAME' (fix the line, or remove %s to extract everything again)", o->scp,
               no, o->scp);
  lua_pushlstring(L, line, k);
  lua_pushboolean(L, 1);
  lua_rawset(L, skip);
  const char *ark = archive_of(L, line + r, len - r);
  struct stat sb;
  if (ark && stat(ark, &sb) != 0)
    luaL_error(L, "%s line %d: its archive '%s' is missing (remove %s to extract everything again)", o->scp, no, ark,
               o->scp);
  if (ark) lua_pop(L, 1);
}

/* The keys of the existing script file into the set at `skip`. */
static void read_skip(lua_State *L, const gkL_output *o, int skip) {
  size_t n;
  const char *text = push_file(L, o->scp, &n);
  int no = 0;
  for (const char *p = text, *end = text + n; p < end;) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    no++;
    if (len > 0) skip_line(L, o, skip, p, len, no);
    p += len + 1;
  }
  lua_pop(L, 1);
}

/* A resumed run writes a new archive beside the first (A.2.ark, A.3.ark, ... or A.2, ...)
 * and its script file to SCP.part, merged into SCP at the end. */
static void plan_part(lua_State *L, int ud, gkL_output *o) {
  size_t an = strlen(o->archive), stem = an;
  int ark_ext = an > 4 && !strcmp(o->archive + an - 4, ".ark");
  if (ark_ext) stem -= 4;
  struct stat sb;
  for (int k = 2; k < 100000; k++) {
    lua_pushfstring(L, "%s.%d%s", lua_pushlstring(L, o->archive, stem), k, ark_ext ? ".ark" : "");
    const char *cand = lua_tostring(L, -1);
    if (lstat(cand, &sb) != 0 && errno == ENOENT) {
      o->archive = keep(L, ud, cand, strlen(cand));
      lua_pop(L, 2);
      lua_pushfstring(L, "%s.part", o->scp);
      o->part_scp = keep(L, ud, lua_tostring(L, -1), lua_rawlen(L, -1));
      const char *colon = strchr(o->wspec, ':');
      lua_pushfstring(L, "%s%s,%s", lua_pushlstring(L, o->wspec, (size_t)(colon - o->wspec) + 1), o->archive,
                      o->part_scp);
      o->wspec = keep(L, ud, lua_tostring(L, -1), lua_rawlen(L, -1));
      lua_pop(L, 3);
      return;
    }
    lua_pop(L, 2);
  }
  luaL_error(L, "%s: no free name for a new archive part beside it", o->archive);
}

gkL_output *gkL_output_plan(lua_State *L, int opts) {
  int t = gkL_optfield(L, opts, "output");
  if (t == LUA_TNIL) {
    lua_pushnil(L);
    return NULL;
  }
  size_t len;
  const char *spec = t == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
  if (!spec || len != strlen(spec) || len == 0)
    gkL_opterror(L, opts, "output", "must be a wspecifier such as 'ark,scp:feats.ark,feats.scp' (a string without NUL)");
  gkL_output *o = lua_newuserdatauv(L, sizeof *o, 1);
  memset(o, 0, sizeof *o);
  if (luaL_newmetatable(L, GKL_OUTPUT)) {
    lua_pushcfunction(L, output_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, output_gc);
    lua_setfield(L, -2, "__close");
  }
  lua_setmetatable(L, -2);
  lua_newtable(L);
  lua_setiuservalue(L, -2, 1);
  lua_replace(L, -2);  /* the userdata takes the option's slot */
  int ud = lua_gettop(L);
  lua_toclose(L, ud);  /* a raise aborts the writer at once, not at the next collection */
  parse_wspec(L, opts, ud, o, spec);
  lua_newtable(L);  /* the keys to skip */
  struct stat sb;
  if (o->scp && lstat(o->scp, &sb) == 0) {
    read_skip(L, o, ud + 1);
    plan_part(L, ud, o);
  }
  return o;
}

void gkL_output_open(lua_State *L, gkL_output *o, int compress) {
  gk_error err;
  gk_error_clear(&err);
  if (gk_kaldi_writer_open(&o->w, o->wspec, compress ? GK_KALDI_CM_AUTO : GK_KALDI_PLAIN, &err) != GK_OK) {
    o->w = NULL;
    gk_error_prefix(&err, "option 'output'");
    gkL_raise(L, &err);
  }
}

void gkL_output_write(lua_State *L, gkL_output *o, const char *key, const gk_matrix *m) {
  gk_error err;
  gk_error_clear(&err);
  if (gk_kaldi_writer_write(o->w, key, m, &err) != GK_OK) {
    gk_kaldi_writer_abort(o->w);
    o->w = NULL;
    gkL_raise(L, &err);
  }
  o->written++;
}

/* One line of a script file: where it starts, its length and its key's length. */
typedef struct scp_line {
  const char *s;
  size_t len, klen;
} scp_line;

static int line_cmp(const void *a, const void *b) {
  const scp_line *x = a, *y = b;
  size_t n = x->klen < y->klen ? x->klen : y->klen;
  int c = memcmp(x->s, y->s, n);
  return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

/* The non-empty lines of the string on top of the stack, appended to lines[*n..]. */
static void split_lines(lua_State *L, scp_line *lines, size_t *n) {
  size_t len;
  const char *text = lua_tolstring(L, -1, &len);
  for (const char *p = text, *end = text + len; p < end;) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
    if (l > 0) {
      size_t k = 0;
      while (k < l && p[k] != ' ' && p[k] != '\t') k++;
      lines[(*n)++] = (scp_line){p, l, k};
    }
    p += l + 1;
  }
}

/* Rewrites the script file with its lines and the part's, sorted by key (C order). */
static void merge_scp(lua_State *L, const gkL_output *o) {
  size_t n1, n2;
  push_file(L, o->scp, &n1);
  push_file(L, o->part_scp, &n2);
  size_t most = 2;
  for (int k = -2; k <= -1; k++) {
    size_t len;
    const char *t = lua_tolstring(L, k, &len);
    for (size_t i = 0; i < len; i++) most += t[i] == '\n';
  }
  scp_line *lines = lua_newuserdatauv(L, most * sizeof(scp_line), 0);
  size_t n = 0;
  lua_pushvalue(L, -3);
  split_lines(L, lines, &n);
  lua_pop(L, 1);
  lua_pushvalue(L, -2);
  split_lines(L, lines, &n);
  lua_pop(L, 1);
  qsort(lines, n, sizeof *lines, line_cmp);
  gk_atomic_file af;
  gk_error err;
  gk_error_clear(&err);
  if (gk_atomic_open(&af, o->scp, &err) != GK_OK) gkL_raise(L, &err);
  for (size_t i = 0; i < n; i++) {
    if (fwrite(lines[i].s, 1, lines[i].len, af.fp) != lines[i].len || fputc('\n', af.fp) == EOF) {
      gk_atomic_abort(&af);
      luaL_error(L, "%s: write failed: %s", o->scp, strerror(errno));
    }
  }
  if (gk_atomic_commit(&af, &err) != GK_OK) gkL_raise(L, &err);
  remove(o->part_scp);
  lua_pop(L, 3);
}

void gkL_output_commit(lua_State *L, gkL_output *o) {
  if (!o->w) return;
  gk_error err;
  gk_error_clear(&err);
  gk_status st = gk_kaldi_writer_close(o->w, &err);
  o->w = NULL;
  if (st != GK_OK) gkL_raise(L, &err);
  if (o->part_scp) merge_scp(L, o);
}
