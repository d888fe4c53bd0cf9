/*
 * l_simplify.c: the Lua binding of gmmkit/simplify.h: gk.simplify (ise, nise, cs, kl,
 * terms, reduce).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gkl.h"
#include "gmmkit/simplify.h"

static const char *const dead_names[] = {"keep", "drop", "reseed", NULL};
static const char *const init_names[] = {"topk", "runnalls", "minise", NULL};

static const char *const reduce_keys[] = {
  "method", "max_iter", "tol", "seed", "threads", "history", "covariance_type", "local_steps",
  "line_search_iters", "memory", "qp_weights", "init", "probe_iter", "refine", "whiten", "dead",
  "start", NULL};

/* The two models of a distance, checked for the same dimension here so that the message
 * names the arguments. */
static void check_two(lua_State *L, gk_gmm **f, gk_gmm **g) {
  *f = gkL_checkgmm(L, 1);
  *g = gkL_checkgmm(L, 2);
  if ((*f)->d != (*g)->d)
    luaL_error(L, "dimension mismatch: f has dimension %d, g has %d", (int)(*f)->d, (int)(*g)->d);
}

static void terms_of(lua_State *L, gk_simplify_terms *t) {
  gk_gmm *f, *g;
  check_two(L, &f, &g);
  gk_error err;
  gk_error_clear(&err);
  if (gk_simplify_terms_compute(f, g, 0, t, &err) != GK_OK) gkL_raise(L, &err);
}

static int l_ise(lua_State *L) {
  gk_simplify_terms t;
  terms_of(L, &t);
  lua_pushnumber(L, t.ise);
  return 1;
}

static int l_nise(lua_State *L) {
  gk_simplify_terms t;
  terms_of(L, &t);
  lua_pushnumber(L, t.nise);
  return 1;
}

static int l_cs(lua_State *L) {
  gk_simplify_terms t;
  terms_of(L, &t);
  lua_pushnumber(L, t.cs);
  return 1;
}

static int l_terms(lua_State *L) {
  gk_simplify_terms t;
  terms_of(L, &t);
  lua_createtable(L, 0, 7);
  lua_pushnumber(L, t.ise); lua_setfield(L, -2, "ise");
  lua_pushnumber(L, t.log_ise); lua_setfield(L, -2, "log_ise");
  lua_pushnumber(L, t.nise); lua_setfield(L, -2, "nise");
  lua_pushnumber(L, t.cs); lua_setfield(L, -2, "cs");
  lua_pushnumber(L, t.log_ff); lua_setfield(L, -2, "log_ff");
  lua_pushnumber(L, t.log_fg); lua_setfield(L, -2, "log_fg");
  lua_pushnumber(L, t.log_gg); lua_setfield(L, -2, "log_gg");
  return 1;
}

static int l_kl(lua_State *L) {
  static const char *const keys[] = {"samples", "seed", "threads", NULL};
  gk_gmm *f, *g;
  check_two(L, &f, &g);
  gkL_checkoptions(L, 3, keys);
  lua_Integer n = gkL_optinteger(L, 3, "samples", 10000, 2, (lua_Integer)1 << 40);
  lua_Integer seed = gkL_optinteger(L, 3, "seed", 1, LUA_MININTEGER, LUA_MAXINTEGER);
  int threads = gkL_optthreads(L, 3, "threads");
  double kl, se;
  gk_error err;
  gk_error_clear(&err);
  if (gk_simplify_kl(f, g, (size_t)n, (uint64_t)seed, threads, &kl, &se, &err) != GK_OK)
    gkL_raise(L, &err);
  lua_pushnumber(L, kl);
  lua_pushnumber(L, se);
  return 2;
}

/* opts.init: a name or a list of names of topk / runnalls / minise. */
static unsigned read_init(lua_State *L, int arg) {
  int t = gkL_optfield(L, arg, "init");
  unsigned mask = 0;
  if (t == LUA_TNIL) { lua_pop(L, 1); return GK_SIMPLIFY_INIT_ALL; }
  if (t == LUA_TSTRING) {
    lua_pop(L, 1);
    return 1u << gkL_optenum(L, arg, "init", init_names, 0);
  }
  if (t != LUA_TTABLE) gkL_opterror(L, arg, "init", "must be a name or a list of names, got %s", luaL_typename(L, -1));
  lua_Integer n = (lua_Integer)gkL_checklen(L, -1, arg, GK_MAX_LIST, "option 'init'");
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, -1, i);
    const char *s = lua_tostring(L, -1);
    int found = -1;
    for (int q = 0; s && init_names[q]; q++) if (strcmp(s, init_names[q]) == 0) found = q;
    if (found < 0) {
      const char *sug = s ? gkL_suggest(s, init_names) : NULL;
      if (sug) gkL_opterror(L, arg, "init", "'%s' is unknown (did you mean '%s'?)", s, sug);
      gkL_opterror(L, arg, "init", "entries must be topk, runnalls or minise");
    }
    mask |= 1u << found;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  if (!mask) gkL_opterror(L, arg, "init", "must name at least one initialisation");
  return mask;
}

static void set_int(lua_State *L, const char *k, lua_Integer v) { lua_pushinteger(L, v); lua_setfield(L, -2, k); }
static void set_num(lua_State *L, const char *k, double v) { lua_pushnumber(L, v); lua_setfield(L, -2, k); }

/* Pushes the info table (the arrays of `in` are freed by the caller). */
static void push_info(lua_State *L, const gk_simplify_info *in, int history) {
  lua_createtable(L, 0, 12);
  lua_pushstring(L, gk_simplify_method_name(in->method)); lua_setfield(L, -2, "method");
  set_num(L, "ise", in->ise);
  set_num(L, "nise", in->nise);
  set_int(L, "iterations", in->iterations);
  set_num(L, "seconds", in->seconds);
  lua_pushboolean(L, in->converged); lua_setfield(L, -2, "converged");
  set_int(L, "evaluations", in->evaluations);
  if (in->method == GK_SIMPLIFY_LBFGS) {
    lua_pushstring(L, in->init < 0 ? "start" : gk_simplify_method_name((gk_simplify_method)in->init));
    lua_setfield(L, -2, "init");
    set_num(L, "init_nise", in->init_nise);
  }
  if (history) {
    lua_createtable(L, (int)in->n_history, 0);
    for (size_t i = 0; i < in->n_history; i++) {
      lua_createtable(L, 0, 4);
      set_int(L, "iteration", in->history[i].iteration);
      set_num(L, "ise", in->history[i].ise);
      set_num(L, "nise", in->history[i].nise);
      set_num(L, "seconds", in->history[i].seconds);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "history");
  }
  if (in->method == GK_SIMPLIFY_KMEANS || in->method == GK_SIMPLIFY_GMRC) {
    lua_createtable(L, (int)in->n_changes, 0);
    for (size_t i = 0; i < in->n_changes; i++) {
      lua_pushinteger(L, in->changes[i]);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "changes");
  }
  if (in->method == GK_SIMPLIFY_KMEANS) {
    lua_pushboolean(L, in->oscillation > 0); lua_setfield(L, -2, "oscillating");
    set_int(L, "period", in->oscillation);
  }
  lua_createtable(L, (int)in->n_dead, 0);
  for (size_t i = 0; i < in->n_dead; i++) {
    lua_pushinteger(L, (lua_Integer)in->dead[i] + 1);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "dead");
  set_int(L, "reseeded", in->reseeded);
  lua_createtable(L, (int)in->n_assignment, 0);
  for (size_t i = 0; i < in->n_assignment; i++) {
    lua_pushinteger(L, (lua_Integer)in->assignment[i] + 1);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "assignment");
}

static int info_release(lua_State *L) {
  gk_simplify_info_free(lua_touserdata(L, 1));
  return 0;
}

/* A zeroed gk_simplify_info owned by a userdata on the stack: its arrays are freed by the
 * collector when building the info table raises (out of memory). */
static gk_simplify_info *push_info_box(lua_State *L) {
  gk_simplify_info *in = lua_newuserdatauv(L, sizeof *in, 0);
  memset(in, 0, sizeof *in);
  if (luaL_newmetatable(L, "gmmkit.SimplifyInfo")) {
    lua_pushcfunction(L, info_release);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return in;
}

static int l_reduce(lua_State *L) {
  gk_gmm *f = gkL_checkgmm(L, 1);
  lua_Integer k = luaL_checkinteger(L, 2);
  if (k < 1) luaL_argerror(L, 2, lua_pushfstring(L, "K must be at least 1, got %I", k));
  if ((lua_Unsigned)k >= f->k)
    luaL_argerror(L, 2, lua_pushfstring(L, "K = %I must be smaller than the %I components of f", k,
                                        (lua_Integer)f->k));
  gkL_checkoptions(L, 3, reduce_keys);
  gk_simplify_opts o;
  gk_simplify_opts_default(&o);
  o.method = (gk_simplify_method)gkL_optenum(L, 3, "method", gk_simplify_method_names, GK_SIMPLIFY_LBFGS);
  o.max_iter = (int)gkL_optinteger(L, 3, "max_iter", 0, 0, 100000000);
  o.tol = gkL_optnumber(L, 3, "tol", 0.0, 0.0, 1.0);
  o.seed = (uint64_t)gkL_optinteger(L, 3, "seed", 1, LUA_MININTEGER, LUA_MAXINTEGER);
  o.threads = gkL_optthreads(L, 3, "threads");
  o.history = gkL_optboolean(L, 3, "history", 0);
  o.cov_type = gkL_optenum(L, 3, "covariance_type", gk_cov_type_names, -1);
  o.local_steps = (int)gkL_optinteger(L, 3, "local_steps", o.local_steps, 1, 1000000);
  o.line_search_iters = (int)gkL_optinteger(L, 3, "line_search_iters", o.line_search_iters, 0, 100000000);
  o.memory = (int)gkL_optinteger(L, 3, "memory", o.memory, 1, 1000);
  o.qp_weights = gkL_optboolean(L, 3, "qp_weights", 0);
  o.init = read_init(L, 3);
  o.probe_iter = (int)gkL_optinteger(L, 3, "probe_iter", o.probe_iter, 0, 100000000);
  o.refine = (int)gkL_optinteger(L, 3, "refine", o.refine, 0, 1000);
  o.whiten = gkL_optboolean(L, 3, "whiten", 1);
  o.dead = (gk_simplify_dead)gkL_optenum(L, 3, "dead", dead_names, GK_DEAD_KEEP);
  int st = gkL_optfield(L, 3, "start");
  if (st != LUA_TNIL) {
    gk_gmm **sb = luaL_testudata(L, -1, GKL_GMM);
    if (!sb || !*sb) gkL_opterror(L, 3, "start", "must be an open gmmkit.Gmm, got %s", luaL_typename(L, -1));
    o.start = *sb;  /* kept alive by the options table during the call */
  }
  lua_pop(L, 1);
  if (o.method == GK_SIMPLIFY_BRUTE && f->k > 12)
    luaL_argerror(L, 3, lua_pushfstring(L, "method 'brute' needs f with at most 12 components (f has %d)", (int)f->k));

  gk_gmm **box = gkL_newgmm(L);
  gk_allocator a = gkL_allocator(L);
  gk_simplify_info *in = push_info_box(L);
  gk_error err;
  gk_error_clear(&err);
  if (gk_simplify_reduce(f, (size_t)k, &o, box, in, &a, &err) != GK_OK) gkL_raise(L, &err);
  push_info(L, in, o.history);
  gk_simplify_info_free(in);
  lua_remove(L, -2);  /* the box */
  return 2;
}

static const gkL_Reg simplify_funcs[] = {
  {"ise", l_ise,
   "gk.simplify.ise(f, g) -> number\n"
   "The integral squared error integral (f - g)^2 = vf'Zf vf - 2 vf'Zfg vg + vg'Zg vg between two "
   "models of the same dimension (diagonal, full or mixed), Z_ij = N(mu_i; mu_j, S_i + S_j), "
   "computed in the log domain with compensated sums. math.huge or 0 when F leaves the double "
   "range (see gk.simplify.terms for log F)."},
  {"nise", l_nise,
   "gk.simplify.nise(f, g) -> number\n"
   "The normalised ISE F / (vf'Zf vf + vg'Zg vg), in [0, 1]: 0 for g = f, 1 for disjoint "
   "supports. Scale-free, so comparable across feature units and dimensions."},
  {"cs", l_cs,
   "gk.simplify.cs(f, g) -> number\n"
   "The Cauchy-Schwarz divergence -log(<f,g> / sqrt(<f,f><g,g>)) >= 0, from the same overlaps "
   "as the ISE."},
  {"kl", l_kl,
   "gk.simplify.kl(f, g [, {samples=10000, seed=1, threads=}]) -> kl, standard_error\n"
   "Monte Carlo estimate of KL(f || g) = E_f[log f(x) - log g(x)] from `samples` draws of f. "
   "The same seed gives the same value whatever the number of threads."},
  {"terms", l_terms,
   "gk.simplify.terms(f, g) -> {ise=, log_ise=, nise=, cs=, log_ff=, log_fg=, log_gg=}\n"
   "Every distance at once, with the logs of the three quadratic terms (log_ise stays finite "
   "where ise over- or underflows, e.g. 60-dimensional mixtures)."},
  {"reduce", l_reduce,
   "gk.simplify.reduce(f, K [, opts]) -> g, info\n"
   "Reduces f to K components by minimising the ISE. opts.method: 'lbfgs' (default: L-BFGS on "
   "softmax weights, means and log-Cholesky factors, whitened coordinates, from "
   "topk/runnalls/minise: each refined and the best result kept on small problems, else the best "
   "start), 'gd' and 'kmeans' (the paper's gradient descent and K-means, from the "
   "K heaviest components), 'topk', 'runnalls', 'minise', 'gmrc', 'brute' (f with <= 12 "
   "components). Options: max_iter, tol, seed, threads, history=true (info.history = "
   "{{iteration=, ise=, nise=, seconds=}, ...}), covariance_type ('diag' g from a full f is "
   "allowed), local_steps (kmeans), line_search_iters (gd), memory, qp_weights, init (names), "
   "probe_iter (lbfgs: iterations for each start before the best continues; default max_iter "
   "where one evaluation costs under about 1 ms, else 0), refine (brute), whiten, start (a Gmm of K components to start lbfgs, gd or kmeans "
   "from), dead ('keep', 'drop', 'reseed': what happens to a "
   "component whose weight reaches 0). info: method, ise, nise, iterations, seconds, converged, "
   "evaluations, dead (1-based), reseeded; lbfgs: init, init_nise; kmeans: changes (assignment "
   "changes per round), oscillating, period; assignment: for each component of f (1-based), the "
   "component of g it belongs to: runnalls, minise, gmrc their own partition (each component of g is "
   "the merge of its members: its weight is their weights' sum); kmeans its assignment step (least "
   "pairwise chi-squared distance) on the result; topk a kept component to itself, a dropped one "
   "(topk merges nothing) as lbfgs, gd and brute assign every component: to the component j of g of "
   "largest overlap w_j N(mu_i; mu_j, S_i + S_j) (log domain; ties: the lower j). For a UBM meant for scoring use method = 'runnalls' (or "
   "'gmrc'): on 38-D speech UBMs the ISE-optimal default keeps the least held-out likelihood and "
   "verification accuracy (README, speech results); the ISE is the paper's criterion.\n"
   "Example: local g = gk.simplify.reduce(ubm, 64, {method = 'runnalls'})"},
  {NULL, NULL, NULL}};

int gkL_open_simplify(lua_State *L) {
  lua_newtable(L);
  gkL_setfuncs(L, simplify_funcs);
  return 1;
}
