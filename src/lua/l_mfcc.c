/*
 * l_mfcc.c: the Lua binding of gmmkit/mfcc.h: gk.mfcc (new, compute, fbank, presets,
 * defaults) and the extractor userdata gmmkit.Mfcc.
 */
#include <math.h>
#include <string.h>

#include "l_mfcc.h"
#include "l_audio.h"

const char *const gkL_mfcc_keys[] = {
  "preset", "sample_frequency", "frame_length", "frame_shift", "dither", "seed",
  "preemphasis_coefficient", "remove_dc_offset", "window_type", "blackman_coeff",
  "round_to_power_of_two", "snip_edges", "num_mel_bins", "low_freq", "high_freq", "num_ceps",
  "use_energy", "raw_energy", "energy_floor", "cepstral_lifter", "htk_compat", "output",
  "use_log_fbank", "use_power", "delta_order", "delta_window", NULL};

static const char *const output_names[] = {"mfcc", "fbank", NULL};

void gkL_mfcc_options(lua_State *L, int arg, gk_mfcc_opts *o, double rate) {
  const char *preset = gkL_optstring(L, arg, "preset", NULL);
  gk_error err;
  gk_error_clear(&err);
  if (preset) {
    if (gk_mfcc_opts_preset(o, preset, &err) != GK_OK) {
      const char *s = gkL_suggest(preset, gk_mfcc_preset_names);
      if (s) gkL_opterror(L, arg, "preset", "'%s' is unknown (did you mean '%s'?)", preset, s);
      gkL_opterror(L, arg, "preset", "'%s' is unknown (valid: kaldi, htk, sre8k, sre16k, paper)", preset);
    }
  } else {
    gk_mfcc_opts_default(o);
  }
  int preset_fixes_rate = preset && (strcmp(preset, "sre8k") == 0 || strcmp(preset, "sre16k") == 0);
  double def_rate = (!preset_fixes_rate && rate > 0) ? rate : o->sample_frequency;
  o->sample_frequency = gkL_optnumber(L, arg, "sample_frequency", def_rate, 1, 1e6);
  o->frame_length = gkL_optnumber(L, arg, "frame_length", o->frame_length, 0, 1e6);
  o->frame_shift = gkL_optnumber(L, arg, "frame_shift", o->frame_shift, 0, 1e6);
  o->dither = gkL_optnumber(L, arg, "dither", o->dither, 0, 1e9);
  o->seed = (uint64_t)gkL_optinteger(L, arg, "seed", (lua_Integer)o->seed, LUA_MININTEGER, LUA_MAXINTEGER);
  o->preemphasis_coefficient =
      gkL_optnumber(L, arg, "preemphasis_coefficient", o->preemphasis_coefficient, 0, 1);
  o->remove_dc_offset = gkL_optboolean(L, arg, "remove_dc_offset", o->remove_dc_offset);
  o->window_type = (gk_window_type)gkL_optenum(L, arg, "window_type", gk_window_type_names, o->window_type);
  o->blackman_coeff = gkL_optnumber(L, arg, "blackman_coeff", o->blackman_coeff, 0, 1);
  o->round_to_power_of_two = gkL_optboolean(L, arg, "round_to_power_of_two", o->round_to_power_of_two);
  o->snip_edges = gkL_optboolean(L, arg, "snip_edges", o->snip_edges);
  o->num_mel_bins = (int)gkL_optinteger(L, arg, "num_mel_bins", o->num_mel_bins, 3, 4096);
  o->low_freq = gkL_optnumber(L, arg, "low_freq", o->low_freq, 0, 1e6);
  o->high_freq = gkL_optnumber(L, arg, "high_freq", o->high_freq, -1e6, 1e6);
  o->num_ceps = (int)gkL_optinteger(L, arg, "num_ceps", o->num_ceps, 1, 4096);
  o->use_energy = gkL_optboolean(L, arg, "use_energy", o->use_energy);
  o->raw_energy = gkL_optboolean(L, arg, "raw_energy", o->raw_energy);
  o->energy_floor = gkL_optnumber(L, arg, "energy_floor", o->energy_floor, 0, HUGE_VAL);
  o->cepstral_lifter = gkL_optnumber(L, arg, "cepstral_lifter", o->cepstral_lifter, 0, 1e6);
  o->htk_compat = gkL_optboolean(L, arg, "htk_compat", o->htk_compat);
  o->output = (gk_mfcc_output)gkL_optenum(L, arg, "output", output_names, o->output);
  o->use_log_fbank = gkL_optboolean(L, arg, "use_log_fbank", o->use_log_fbank);
  o->use_power = gkL_optboolean(L, arg, "use_power", o->use_power);
  o->delta_order = (int)gkL_optinteger(L, arg, "delta_order", o->delta_order, 0, 8);
  o->delta_window = (int)gkL_optinteger(L, arg, "delta_window", o->delta_window, 1, 1000);
}

/* ---- gmmkit.Mfcc --------------------------------------------------------------------- */

static int ex_release(lua_State *L) {
  gk_mfcc **box = luaL_checkudata(L, 1, GKL_MFCC);
  if (*box) {
    gk_mfcc_free(*box);
    *box = NULL;
  }
  return 0;
}

static gk_mfcc *check_ex(lua_State *L, int idx) {
  gk_mfcc **box = luaL_checkudata(L, idx, GKL_MFCC);
  if (!*box) luaL_argerror(L, idx, "attempt to use a closed gmmkit.Mfcc");
  return *box;
}

/* Pushes an extractor built from `o` (raises with the option named on bad options). */
static gk_mfcc *push_extractor(lua_State *L, const gk_mfcc_opts *o) {
  gk_mfcc **box = lua_newuserdatauv(L, sizeof(gk_mfcc *), 0);
  *box = NULL;
  luaL_setmetatable(L, GKL_MFCC);
  gk_error err;
  gk_error_clear(&err);
  if (gk_mfcc_create(box, o, &err) != GK_OK) gkL_raise(L, &err);
  return *box;
}

/* The samples to analyse at `idx`: a Signal, or a Matrix / array of samples at the
 * extractor's sample_frequency. */
static const float *get_samples(lua_State *L, int idx, double def_rate, size_t *n, double *rate) {
  gk_signal *s = gkL_testsignal(L, idx);
  if (s) {
    *n = s->n;
    *rate = s->rate;
    return s->samples;
  }
  if (gkL_testmatrix(L, idx) || lua_istable(L, idx)) {
    int pushed = 0;
    gk_matrix *m = gkL_tomatrix(L, idx, GK_FLOAT32, &pushed);
    if (pushed) lua_replace(L, idx);  /* keep the converted matrix alive in the argument slot */
    if (m->cols != 1 && m->rows != 1)
      luaL_argerror(L, idx, "samples must be a Signal, or a column or row of samples");
    *n = m->rows * m->cols;
    *rate = def_rate;
    return m->data;
  }
  if (luaL_testudata(L, idx, GKL_SIGNAL)) gkL_checksignal(L, idx);  /* says "closed" */
  luaL_typeerror(L, idx, "gmmkit.Signal");
  return NULL;
}

/* Features of the signal at `sig_arg` (and the log energy when `want_energy`). */
static int compute_with(lua_State *L, gk_mfcc *ex, int sig_arg, int want_energy) {
  size_t n = 0;
  double rate = 0;
  const float *x = get_samples(L, sig_arg, gk_mfcc_options(ex)->sample_frequency, &n, &rate);
  size_t frames = gk_mfcc_num_frames(ex, n);
  gk_error err;
  gk_error_clear(&err);
  if (frames == 0 || rate != gk_mfcc_options(ex)->sample_frequency) {
    /* Let the core word the error (rate mismatch, signal shorter than a frame). */
    gk_mfcc_compute(ex, x, n, rate, NULL, NULL, &err);
    return gkL_raise(L, &err);
  }
  gk_matrix *m = gkL_newmatrix(L, frames, gk_mfcc_dims(ex), GK_FLOAT32);
  gk_matrix *e = want_energy ? gkL_newmatrix(L, frames, 1, GK_FLOAT32) : NULL;
  if (gk_mfcc_compute(ex, x, n, rate, m, e ? (float *)e->data : NULL, &err) != GK_OK)
    return gkL_raise(L, &err);
  return want_energy ? 2 : 1;
}

static int ex_compute(lua_State *L) {
  static const char *const keys[] = {"energy", NULL};
  gk_mfcc *ex = check_ex(L, 1);
  gkL_checkoptions(L, 3, keys);
  return compute_with(L, ex, 2, gkL_optboolean(L, 3, "energy", 0));
}

static int ex_frames(lua_State *L) {
  gk_mfcc *ex = check_ex(L, 1);
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_argcheck(L, n >= 0, 2, "number of samples must be >= 0");
  lua_pushinteger(L, (lua_Integer)gk_mfcc_num_frames(ex, (size_t)n));
  return 1;
}

static int ex_dims(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)gk_mfcc_dims(check_ex(L, 1)));
  return 1;
}

static void push_options(lua_State *L, const gk_mfcc_opts *o) {
  lua_createtable(L, 0, 26);
#define NUM(k) (lua_pushnumber(L, o->k), lua_setfield(L, -2, #k))
#define INT(k) (lua_pushinteger(L, o->k), lua_setfield(L, -2, #k))
#define BOOL(k) (lua_pushboolean(L, o->k), lua_setfield(L, -2, #k))
  NUM(sample_frequency); NUM(frame_length); NUM(frame_shift); NUM(dither);
  NUM(preemphasis_coefficient); BOOL(remove_dc_offset); NUM(blackman_coeff);
  BOOL(round_to_power_of_two); BOOL(snip_edges); INT(num_mel_bins); NUM(low_freq);
  NUM(high_freq); INT(num_ceps); BOOL(use_energy); BOOL(raw_energy); NUM(energy_floor);
  NUM(cepstral_lifter); BOOL(htk_compat); BOOL(use_log_fbank); BOOL(use_power);
  INT(delta_order); INT(delta_window);
#undef NUM
#undef INT
#undef BOOL
  lua_pushinteger(L, (lua_Integer)o->seed);
  lua_setfield(L, -2, "seed");
  lua_pushstring(L, gk_window_type_names[o->window_type]);
  lua_setfield(L, -2, "window_type");
  lua_pushstring(L, output_names[o->output]);
  lua_setfield(L, -2, "output");
}

static int ex_options(lua_State *L) {
  push_options(L, gk_mfcc_options(check_ex(L, 1)));
  return 1;
}

static int ex_tostring(lua_State *L) {
  gk_mfcc **box = luaL_checkudata(L, 1, GKL_MFCC);
  if (!*box) {
    lua_pushliteral(L, "gmmkit.Mfcc (closed)");
    return 1;
  }
  const gk_mfcc_opts *o = gk_mfcc_options(*box);
  lua_pushfstring(L, "gmmkit.Mfcc (%s, %I dims, %f Hz, %f/%f ms, %d mel bins)",
                  output_names[o->output], (lua_Integer)gk_mfcc_dims(*box), o->sample_frequency,
                  o->frame_length, o->frame_shift, o->num_mel_bins);
  return 1;
}

static const gkL_Reg ex_methods[] = {
  {"compute", ex_compute,
   "ex:compute(signal[, {energy=false}]) -> Matrix[, Matrix]\nFeatures of a Signal (its rate must be "
   "the extractor's sample_frequency) or of a column of samples: float32 frames x dims. With "
   "energy=true also the per-frame log energy (frames x 1). The extractor is not changed, so it "
   "may serve any number of signals."},
  {"frames", ex_frames, "ex:frames(n) -> integer\nFrames made from n samples (Kaldi's NumFrames)."},
  {"dims", ex_dims, "ex:dims() -> integer\nColumns of the output."},
  {"options", ex_options, "ex:options() -> table\nThe options the extractor was built with."},
  {"close", ex_release, "ex:close()\nFrees the extractor now."},
  {NULL, NULL, NULL}};

static const gkL_Reg ex_meta[] = {
  {"__gc", ex_release, NULL},
  {"__close", ex_release, NULL},
  {"__tostring", ex_tostring, NULL},
  {NULL, NULL, NULL}};

/* ---- gk.mfcc --------------------------------------------------------------------------- */

static int m_new(lua_State *L) {
  gkL_checkoptions(L, 1, gkL_mfcc_keys);
  gk_mfcc_opts o;
  gkL_mfcc_options(L, 1, &o, 0);
  push_extractor(L, &o);
  return 1;
}

/* gk.mfcc.compute / fbank: one-shot extractor at the signal's rate. */
static int shorthand(lua_State *L, int fbank) {
  gkL_checkoptions(L, 2, gkL_mfcc_keys);
  double rate = 0;
  gk_signal *s = gkL_testsignal(L, 1);
  if (s) rate = s->rate;
  gk_mfcc_opts o;
  gkL_mfcc_options(L, 2, &o, rate);
  if (fbank) o.output = GK_MFCC_FBANK;
  gk_mfcc *ex = push_extractor(L, &o);
  int top = lua_gettop(L);
  int nres = compute_with(L, ex, 1, 0);
  /* Results are above the extractor; free the plan now rather than at collection. */
  gk_mfcc **box = lua_touserdata(L, top);
  gk_mfcc_free(*box);
  *box = NULL;
  return nres;
}

static int m_compute(lua_State *L) { return shorthand(L, 0); }
static int m_fbank(lua_State *L) { return shorthand(L, 1); }

static int m_defaults(lua_State *L) {
  const char *p = luaL_optstring(L, 1, "kaldi");
  gk_mfcc_opts o;
  gk_error err;
  gk_error_clear(&err);
  if (gk_mfcc_opts_preset(&o, p, &err) != GK_OK) gkL_raise(L, &err);
  push_options(L, &o);
  return 1;
}

static const gkL_Reg funcs[] = {
  {"new", m_new,
   "gk.mfcc.new(opts) -> Mfcc\nBuilds an extractor once (window, FFT plan, mel filterbank, DCT, "
   "lifter) for ex:compute(signal). Options carry Kaldi's names and meaning: preset ('kaldi', "
   "'htk', 'sre8k', 'sre16k', 'paper'), sample_frequency (16000), frame_length (25 ms), "
   "frame_shift (10 ms), dither (0) with seed, preemphasis_coefficient (0.97), remove_dc_offset, "
   "window_type ('povey', 'hamming', 'hanning', 'rectangular', 'blackman', 'sine'), blackman_coeff, "
   "round_to_power_of_two, snip_edges, num_mel_bins (23), low_freq (20), high_freq (0: Nyquist; "
   "< 0: offset from it), num_ceps (13), use_energy, raw_energy, energy_floor, cepstral_lifter "
   "(22), htk_compat; output ('mfcc' | 'fbank'), use_log_fbank, use_power; delta_order and "
   "delta_window to append deltas. Samples are scaled to the 16-bit range as in Kaldi."},
  {"compute", m_compute,
   "gk.mfcc.compute(signal, opts) -> Matrix\nShorthand for gk.mfcc.new(opts):compute(signal); "
   "sample_frequency defaults to the signal's rate (except presets sre8k / sre16k, which fix it)."},
  {"fbank", m_fbank,
   "gk.mfcc.fbank(signal, opts) -> Matrix\nLog mel filterbank energies (frames x num_mel_bins, "
   "plus the log energy with use_energy), as Kaldi's compute-fbank-feats."},
  {"defaults", m_defaults,
   "gk.mfcc.defaults([preset='kaldi']) -> table\nThe options a preset stands for."},
  {NULL, NULL, NULL}};

int gkL_open_mfcc(lua_State *L) {
  gkL_newclass(L, GKL_MFCC, ex_methods, ex_meta,
               "Mfcc: an MFCC / filterbank extractor (plan once, compute many times, from any "
               "number of signals). ex:compute(signal), ex:frames(n), ex:dims(), ex:options().");
  lua_newtable(L);
  gkL_setfuncs(L, funcs);
  lua_createtable(L, 5, 0);
  for (int i = 0; gk_mfcc_preset_names[i]; i++) {
    lua_pushstring(L, gk_mfcc_preset_names[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "presets");
  return 1;
}
