/*
 * l_audio.c: the Lua binding of gmmkit/audio.h: gk.audio (load, save, info, resample,
 * list) and the gmmkit.Signal userdata (mono float32 samples in [-1, 1) and a rate).
 */
#include <math.h>
#include <string.h>

#include "l_audio.h"

/* ---- gmmkit.Signal: a gk_signal whose samples come from Lua's allocator -------------- */

typedef struct lsignal {
  gk_signal s;      /* samples NULL when closed or empty */
  int open;         /* 0 once closed */
} lsignal;

static int sig_release(lua_State *L) {
  lsignal *p = luaL_checkudata(L, 1, GKL_SIGNAL);
  if (p->s.samples) {
    gk_allocator a = gkL_allocator(L);
    gk_signal_release(&p->s, &a);
  }
  p->open = 0;
  return 0;
}

static void sig_ensure_class(lua_State *L);

gk_signal *gkL_newsignal(lua_State *L) {
  lsignal *p = lua_newuserdatauv(L, sizeof *p, 0);
  memset(p, 0, sizeof *p);
  p->open = 1;
  sig_ensure_class(L);
  luaL_setmetatable(L, GKL_SIGNAL);
  return &p->s;
}

gk_signal *gkL_testsignal(lua_State *L, int idx) {
  lsignal *p = luaL_testudata(L, idx, GKL_SIGNAL);
  return p && p->open ? &p->s : NULL;
}

gk_signal *gkL_checksignal(lua_State *L, int idx) {
  lsignal *p = luaL_checkudata(L, idx, GKL_SIGNAL);
  if (!p->open) luaL_argerror(L, idx, "attempt to use a closed gmmkit.Signal");
  return &p->s;
}

static int sig_len(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)gkL_checksignal(L, 1)->n);
  return 1;
}

static int sig_duration(lua_State *L) {
  gk_signal *s = gkL_checksignal(L, 1);
  lua_pushnumber(L, (lua_Number)s->n / s->rate);
  return 1;
}

static int sig_tostring(lua_State *L) {
  lsignal *p = luaL_checkudata(L, 1, GKL_SIGNAL);
  if (!p->open) lua_pushliteral(L, "gmmkit.Signal (closed)");
  else
    lua_pushfstring(L, "gmmkit.Signal (%d Hz, %I samples, %f s)", p->s.rate,
                    (lua_Integer)p->s.n, (lua_Number)p->s.n / p->s.rate);
  return 1;
}

/* Pushes a new signal holding a copy of src[i0, i1). */
static gk_signal *push_copy(lua_State *L, const float *src, size_t n, int rate) {
  gk_signal *s = gkL_newsignal(L);
  gk_allocator a = gkL_allocator(L);
  s->rate = rate;
  if (n) {
    s->samples = gk_alloc(&a, n * sizeof(float));
    if (!s->samples) luaL_error(L, "not enough memory");
    memcpy(s->samples, src, n * sizeof(float));
    s->n = n;
  }
  return s;
}

static int sig_slice(lua_State *L) {
  gk_signal *s = gkL_checksignal(L, 1);
  double dur = (double)s->n / s->rate;
  double t0 = luaL_optnumber(L, 2, 0.0), t1 = luaL_optnumber(L, 3, dur);
  if (!(t0 >= 0 && t0 <= dur)) luaL_argerror(L, 2, lua_pushfstring(L, "start %f s is outside [0, %f]", t0, dur));
  if (!(t1 >= t0 && t1 <= dur + 0.5 / s->rate))
    luaL_argerror(L, 3, lua_pushfstring(L, "end %f s is outside [start %f, %f]", t1, t0, dur));
  size_t i0 = (size_t)floor(t0 * s->rate + 0.5), i1 = (size_t)floor(t1 * s->rate + 0.5);
  if (i1 > s->n) i1 = s->n;
  if (i0 > i1) i0 = i1;
  push_copy(L, s->samples + i0, i1 - i0, s->rate);
  return 1;
}

static int sig_samples(lua_State *L) {
  gk_signal *s = gkL_checksignal(L, 1);
  gk_matrix *m = gkL_newmatrix(L, s->n, 1, GK_FLOAT32);
  if (s->n) memcpy(m->data, s->samples, s->n * sizeof(float));
  return 1;
}

static int sig_index(lua_State *L) {
  lsignal *p = luaL_checkudata(L, 1, GKL_SIGNAL);
  const char *k = lua_tostring(L, 2);
  if (k && strcmp(k, "rate") == 0) {
    if (!p->open) luaL_error(L, "attempt to use a closed gmmkit.Signal");
    lua_pushinteger(L, p->s.rate);
    return 1;
  }
  luaL_getmetatable(L, GKL_SIGNAL);
  lua_getfield(L, -1, "__methods");
  lua_pushvalue(L, 2);
  lua_rawget(L, -2);
  return 1;
}

static const gkL_Reg sig_methods[] = {
  {"duration", sig_duration, "s:duration() -> seconds\nLength of the signal in seconds (#s / s.rate)."},
  {"slice", sig_slice,
   "s:slice([t0=0[, t1=duration]]) -> Signal\nA copy of the samples from t0 to t1 seconds (rounded to "
   "the nearest sample), at the same rate."},
  {"samples", sig_samples, "s:samples() -> Matrix\nThe samples as a float32 n x 1 matrix (a copy)."},
  {"close", sig_release, "s:close()\nFrees the samples now; the signal cannot be used afterwards."},
  {NULL, NULL, NULL}};

static const gkL_Reg sig_meta[] = {
  {"__gc", sig_release, NULL},
  {"__close", sig_release, NULL},
  {"__len", sig_len, NULL},
  {"__tostring", sig_tostring, NULL},
  {NULL, NULL, NULL}};

static void sig_ensure_class(lua_State *L) {
  if (luaL_getmetatable(L, GKL_SIGNAL) != LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 1);
  gkL_newclass(L, GKL_SIGNAL, sig_methods, sig_meta,
               "Signal: mono audio as float32 samples in [-1, 1) with a sample rate. s.rate is "
               "the rate in Hz, #s the number of samples; s:duration(), s:slice(t0, t1), "
               "s:samples(). Made by gk.audio.load and gk.audio.signal.");
  /* `rate` is a field, so __index becomes a function that falls back on the methods. */
  luaL_getmetatable(L, GKL_SIGNAL);
  lua_getfield(L, -1, "__index");
  lua_setfield(L, -2, "__methods");
  lua_pushcfunction(L, sig_index);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

/* ---- gk.audio -------------------------------------------------------------------------- */

static void read_audio_opts(lua_State *L, int arg, gk_audio_opts *o) {
  static const char *const keys[] = {"rate", "channel", "quality", NULL};
  gkL_checkoptions(L, arg, keys);
  gk_audio_opts_default(o);
  o->rate = (int)gkL_optinteger(L, arg, "rate", 0, 0, GK_AUDIO_MAX_RATE);
  o->channel = (int)gkL_optinteger(L, arg, "channel", 0, 0, GK_AUDIO_MAX_CHANNELS) - 1;
  o->quality = (gk_resample_quality)gkL_optenum(L, arg, "quality", gk_resample_quality_names,
                                               GK_RESAMPLE_MEDIUM);
}

static int a_load(lua_State *L) {
  const char *path = gkL_checkpath(L, 1);
  gk_audio_opts o;
  read_audio_opts(L, 2, &o);
  gk_signal *s = gkL_newsignal(L);
  gk_allocator a = gkL_allocator(L);
  gk_error err;
  gk_error_clear(&err);
  if (gk_audio_load(path, &o, s, &a, &err) != GK_OK) gkL_raise(L, &err);
  return 1;
}

static int a_load_string(lua_State *L) {
  size_t len;
  const char *bytes = luaL_checklstring(L, 1, &len);
  gk_audio_opts o;
  read_audio_opts(L, 2, &o);
  gk_signal *s = gkL_newsignal(L);
  gk_allocator a = gkL_allocator(L);
  gk_error err;
  gk_error_clear(&err);
  if (gk_audio_load_memory(bytes, len, "<string>", &o, s, &a, &err) != GK_OK) gkL_raise(L, &err);
  return 1;
}

static int a_info(lua_State *L) {
  const char *path = gkL_checkpath(L, 1);
  gk_audio_info info;
  gk_error err;
  gk_error_clear(&err);
  if (gk_audio_info_file(path, &info, &err) != GK_OK) gkL_raise(L, &err);
  lua_createtable(L, 0, 5);
  lua_pushinteger(L, (lua_Integer)info.frames);
  lua_setfield(L, -2, "frames");
  lua_pushinteger(L, info.channels);
  lua_setfield(L, -2, "channels");
  lua_pushinteger(L, info.rate);
  lua_setfield(L, -2, "rate");
  lua_pushnumber(L, (lua_Number)info.frames / info.rate);
  lua_setfield(L, -2, "duration");
  lua_pushstring(L, info.format);
  lua_setfield(L, -2, "format");
  return 1;
}

static int a_save(lua_State *L) {
  static const char *const keys[] = {"format", "encoding", NULL};
  static const char *const formats[] = {"auto", "wav", "flac", NULL};
  static const char *const encodings[] = {"pcm16", "pcm24", "float", NULL};
  const char *path = gkL_checkpath(L, 1);
  gk_signal *s = gkL_checksignal(L, 2);
  gkL_checkoptions(L, 3, keys);
  gk_audio_format f = (gk_audio_format)gkL_optenum(L, 3, "format", formats, GK_AUDIO_AUTO);
  gk_audio_encoding e = (gk_audio_encoding)gkL_optenum(L, 3, "encoding", encodings, GK_ENC_PCM16);
  gk_error err;
  gk_error_clear(&err);
  if (gk_audio_save(path, s, f, e, &err) != GK_OK) gkL_raise(L, &err);
  lua_settop(L, 2);
  return 1;
}

static int a_signal(lua_State *L) {
  int pushed = 0;
  lua_Integer rate = luaL_checkinteger(L, 2);
  luaL_argcheck(L, rate >= 1 && rate <= GK_AUDIO_MAX_RATE, 2, "rate must be in [1, 1000000] Hz");
  gk_matrix *m = gkL_tomatrix(L, 1, GK_FLOAT32, &pushed);
  if (m->cols != 1 && m->rows != 1 && m->rows * m->cols > 0)
    luaL_argerror(L, 1, lua_pushfstring(L, "samples must be a column or a row, got %I x %I",
                                        (lua_Integer)m->rows, (lua_Integer)m->cols));
  gk_error err;
  gk_error_clear(&err);
  if (gk_samples_check(m->data, m->rows * m->cols, &err) != GK_OK)  /* NaN would pass into every feature */
    luaL_argerror(L, 1, err.message);
  push_copy(L, m->data, m->rows * m->cols, (int)rate);
  return 1;
}

static int a_resample(lua_State *L) {
  static const char *const keys[] = {"quality", NULL};
  gk_signal *s = gkL_checksignal(L, 1);
  lua_Integer rate = luaL_checkinteger(L, 2);
  luaL_argcheck(L, rate >= 1 && rate <= GK_AUDIO_MAX_RATE, 2, "rate must be in [1, 1000000] Hz");
  gkL_checkoptions(L, 3, keys);
  gk_resample_quality q = (gk_resample_quality)gkL_optenum(L, 3, "quality", gk_resample_quality_names,
                                                          GK_RESAMPLE_MEDIUM);
  gk_signal *out = gkL_newsignal(L);
  gk_allocator a = gkL_allocator(L);
  gk_error err;
  gk_error_clear(&err);
  if (gk_audio_resample(s, (int)rate, q, out, &a, &err) != GK_OK) gkL_raise(L, &err);
  return 1;
}

static int a_list(lua_State *L) {
  static const char *const keys[] = {"recursive", NULL};
  const char *dir = gkL_checkpath(L, 1);
  gkL_checkoptions(L, 2, keys);
  int rec = gkL_optboolean(L, 2, "recursive", 1);
  char **paths;
  size_t n;
  gk_error err;
  gk_error_clear(&err);
  if (gk_audio_list(dir, rec, &paths, &n, &err) != GK_OK) gkL_raise(L, &err);
  if (!lua_checkstack(L, 2)) {
    gk_audio_list_free(paths, n);
    return luaL_error(L, "not enough memory");
  }
  lua_createtable(L, n > 0x7fffffff ? 0 : (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_pushstring(L, paths[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  gk_audio_list_free(paths, n);
  return 1;
}

static const gkL_Reg funcs[] = {
  {"load", a_load,
   "gk.audio.load(path[, {rate=, channel=, quality='medium'}]) -> Signal\nReads any file libsndfile "
   "reads (WAV, FLAC, OGG, AIFF, ...; integer encodings scaled to [-1, 1), float ones as stored) in "
   "blocks. Channels are averaged to mono unless `channel` (1-based) picks one; with `rate` the "
   "signal is resampled by libsamplerate ('best', 'medium' or 'fast'). A missing, empty, truncated "
   "or non-audio file is an error naming the file and the reason."},
  {"load_string", a_load_string,
   "gk.audio.load_string(bytes[, opts]) -> Signal\nThe same from the bytes of a whole file held in a "
   "Lua string (options as gk.audio.load)."},
  {"info", a_info,
   "gk.audio.info(path) -> {frames=, channels=, rate=, duration=, format=}\nThe file's header, "
   "without decoding it."},
  {"save", a_save,
   "gk.audio.save(path, s[, {format='auto'|'wav'|'flac', encoding='pcm16'|'pcm24'|'float'}]) -> s\n"
   "Writes the signal atomically (a temporary file renamed over `path`); the format follows the "
   "extension unless given. Integer encodings clip samples outside [-1, 1)."},
  {"signal", a_signal,
   "gk.audio.signal(samples, rate) -> Signal\nA signal from a Matrix (a column or a row) or a Lua "
   "array of samples in [-1, 1)."},
  {"resample", a_resample,
   "gk.audio.resample(s, rate[, {quality='medium'}]) -> Signal\nA copy at another rate (libsamplerate)."},
  {"list", a_list,
   "gk.audio.list(folder[, {recursive=true}]) -> {paths}\nThe audio files under a folder (by "
   "extension: wav, flac, ogg, aiff, au, ...), sorted."},
  {NULL, NULL, NULL}};

int gkL_open_audio(lua_State *L) {
  sig_ensure_class(L);
  lua_newtable(L);
  gkL_setfuncs(L, funcs);
  return 1;
}
