/*
 * simplify.c: gk_simplify_reduce, its options and its report.
 *
 * Every method works on f in coordinates whitened by f's global mean and covariance
 * (y = A (x - c)): ISE changes by the constant factor |A|, NISE and the minimiser do not,
 * and the optimisers see unit-scale parameters whatever the units of the features. The
 * result is mapped back to the original coordinates.
 */
#include "simplify_opt.h"
#include "simplify_merge.h"

#include <stdlib.h>
#include <string.h>

#include "gmmkit/parallel.h"

const char *const gk_simplify_method_names[GK_SIMPLIFY_NMETHODS + 1] = {
  "lbfgs", "gd", "kmeans", "topk", "runnalls", "minise", "gmrc", "brute", NULL};

const char *gk_simplify_method_name(gk_simplify_method m) {
  return (int)m >= 0 && m < GK_SIMPLIFY_NMETHODS ? gk_simplify_method_names[m] : NULL;
}

void gk_simplify_opts_default(gk_simplify_opts *o) {
  memset(o, 0, sizeof *o);
  o->method = GK_SIMPLIFY_LBFGS;
  o->seed = 1;
  o->cov_type = -1;
  o->local_steps = 4;
  o->line_search_iters = 10;
  o->memory = 10;
  o->init = GK_SIMPLIFY_INIT_ALL;
  o->probe_iter = GK_PROBE_AUTO;
  o->refine = 4;
  o->whiten = 1;
  o->dead = GK_DEAD_KEEP;
}

void gk_simplify_info_free(gk_simplify_info *info) {
  if (!info) return;
  free(info->history);
  free(info->changes);
  free(info->dead);
  free(info->assignment);
  memset(info, 0, sizeof *info);
}

static int default_max_iter(gk_simplify_method m) {
  switch (m) {
    case GK_SIMPLIFY_GD: return 1000;
    case GK_SIMPLIFY_KMEANS: return 100;
    case GK_SIMPLIFY_GMRC: return 100;
    default: return 1000;
  }
}

/* Validates everything before the first allocation. */
static gk_status check_args(const gk_gmm *f, size_t k, const gk_simplify_opts *o,
                            gk_error *err) {
  if (!f) return gk_fail(err, GK_EINVAL, "reduce: no model given");
  gk_status s = gks_check_models(f, f, err);
  if (s != GK_OK) return s;
  if (k < 1) return gk_fail(err, GK_EINVAL, "reduce: K must be at least 1 (got %zu)", k);
  if (k >= f->k)
    return gk_fail(err, GK_EINVAL, "reduce: K = %zu must be smaller than the %zu components of f", k, f->k);
  if ((int)o->method < 0 || o->method >= GK_SIMPLIFY_NMETHODS)
    return gk_fail(err, GK_EINVAL, "reduce: unknown method %d", (int)o->method);
  if (o->cov_type != -1 && o->cov_type != GK_COV_DIAG && o->cov_type != GK_COV_FULL)
    return gk_fail(err, GK_EINVAL, "reduce: unknown covariance type %d", o->cov_type);
  if (o->max_iter < 0) return gk_fail(err, GK_EINVAL, "reduce: max_iter must be >= 0 (got %d)", o->max_iter);
  if (!(o->tol >= 0.0)) return gk_fail(err, GK_EINVAL, "reduce: tol must be >= 0 (got %g)", o->tol);
  if (o->local_steps < 1) return gk_fail(err, GK_EINVAL, "reduce: local_steps must be >= 1 (got %d)", o->local_steps);
  if (o->line_search_iters < 0) return gk_fail(err, GK_EINVAL, "reduce: line_search_iters must be >= 0");
  if (o->memory < 0 || o->memory > 1000) return gk_fail(err, GK_EINVAL, "reduce: memory must be in [0, 1000]");
  if ((o->probe_iter < 0 && o->probe_iter != GK_PROBE_AUTO) || o->refine < 0)
    return gk_fail(err, GK_EINVAL, "reduce: probe_iter and refine must be >= 0");
  if ((int)o->dead < 0 || o->dead > GK_DEAD_RESEED) return gk_fail(err, GK_EINVAL, "reduce: unknown dead policy %d", (int)o->dead);
  if (o->method == GK_SIMPLIFY_LBFGS && !(o->init & GK_SIMPLIFY_INIT_ALL))
    return gk_fail(err, GK_EINVAL, "reduce: no initialisation selected for lbfgs");
  if (o->start) {
    if (o->method != GK_SIMPLIFY_LBFGS && o->method != GK_SIMPLIFY_GD && o->method != GK_SIMPLIFY_KMEANS)
      return gk_fail(err, GK_EINVAL, "reduce: a start model applies to lbfgs, gd and kmeans, not to '%s'",
                     gk_simplify_method_name(o->method));
    if (o->start->k != k || o->start->d != f->d)
      return gk_fail(err, GK_EINVAL, "reduce: the start model has %zu components in dimension %zu, "
                     "expected %zu in dimension %zu", o->start->k, o->start->d, k, f->d);
    s = gks_check_models(f, o->start, err);
    if (s != GK_OK) return s;
  }
  if (o->method == GK_SIMPLIFY_BRUTE && f->k > 12)
    return gk_fail(err, GK_EINVAL, "reduce: method 'brute' needs f with at most 12 components (f has %zu)", f->k);
  return GK_OK;
}

/* NISE of g in the working problem (HUGE_VAL when not finite). */
static double working_nise(gks_run *r, gks_mix *g, double *F) {
  double Fv, gg;
  r->evals++;
  if (gks_eval(r->p, g, &Fv, NULL, &gg, NULL)) return HUGE_VAL;
  if (F) *F = Fv;
  return Fv / (gks_acc_value(&r->p->ff) + gg);
}

/* One initialisation of lbfgs into g. */
static gk_status make_init(gks_run *r, gk_simplify_method m, const gks_mix *f, gks_mix *g,
                           gk_error *err) {
  switch (m) {
    case GK_SIMPLIFY_TOPK: return gks_topk(f, g, NULL, err);
    case GK_SIMPLIFY_RUNNALLS: return gks_runnalls(f, g, NULL, r->p->threads, err);
    default: return gks_minise(f, g, r->p->shift, NULL, r->p->threads, err);
  }
}

/* Iterations of L-BFGS that topk gets at once when other initialisations follow (see
 * run_lbfgs). */
#define EARLY_PROBE 5

/* lbfgs from the selected initialisations, with the optional weight QP.
 *
 * With probe_iter > 0 (the default on small problems: probe_iter = max_iter) each
 * initialisation is refined in turn and the best result is kept: the best start is not
 * always the start of the best result (on the paper's 2-D problem topk, the worst start,
 * leads to a NISE a third lower than the others).
 *
 * With probe_iter = 0 (the default where one evaluation costs a millisecond or more) the
 * best initial NISE continues alone. The initialisations are made cheapest first. topk
 * costs nothing next to the greedy merges (O(Kf^2) overlaps each, most of the time before
 * the first iterate on a speech-scale f), so with other initialisations selected it gets
 * EARLY_PROBE iterations at once: a g better than every fixed initialisation is usually
 * held after a few evaluations. The choice among the initialisations is still made by
 * their initial NISE (the probe does not bias it, and the result is the one the others
 * lead to); when topk wins, L-BFGS continues from the end of its probe. */
/* The initialisations of lbfgs, in the order of the GK_SIMPLIFY_INIT_* bits. */
static const gk_simplify_method lbfgs_inits[3] = {GK_SIMPLIFY_TOPK, GK_SIMPLIFY_RUNNALLS, GK_SIMPLIFY_MINISE};

/* The initialisations of run_lbfgs and what their probes left. */
typedef struct lbfgs_starts {
  gks_mix c[3];           /* topk, runnalls, minise (or c[0]: the given start) */
  double nis[3];          /* NISE at the end of each probe (without probes: at the start) */
  double start_q[3];      /* NISE at the start of each probe */
  int conv_q[3];          /* whether each probe converged */
  int best;               /* the start chosen */
  int it;                 /* iterations so far */
  int probe_topk;         /* topk's early probe (probe_iter = 0 with other starts selected) */
  int early, early_conv;  /* its iterations, and whether it converged */
} lbfgs_starts;

/* Makes the selected initialisations (or takes the given start), probes them as the
 * options say, and chooses S->best. */
static gk_status lbfgs_choose_start(gks_run *r, const gks_mix *f, const gks_mix *g, lbfgs_starts *S,
                                    gk_error *err) {
  const gk_simplify_opts *o = r->opt;
  gk_status s;
  if (r->start) {  /* a given start replaces the initialisations */
    if ((s = gks_mix_alloc(&S->c[0], g->k, g->d, g->full, err)) != GK_OK) return s;
    gks_mix_copy(&S->c[0], r->start);
    S->nis[0] = working_nise(r, &S->c[0], NULL);
    S->best = 0;
    return GK_OK;
  }
  for (int q = 0; q < 3; q++) {
    if (!(o->init & (1u << q))) continue;
    if ((s = gks_mix_alloc(&S->c[q], g->k, g->d, g->full, err)) != GK_OK) return s;
    if ((s = make_init(r, lbfgs_inits[q], f, &S->c[q], err)) != GK_OK) return s;
    if (o->qp_weights && (s = gks_qp_weights(r->p, &S->c[q], err)) != GK_OK) return s;
    if (q == 0 && S->probe_topk) {
      /* nis[0] is topk's NISE before the probe (from the probe's first evaluation). */
      int n = o->max_iter < EARLY_PROBE ? o->max_iter : EARLY_PROBE;
      if ((s = gks_lbfgs(r, &S->c[0], n, &S->early, &S->early_conv, &S->nis[0], err)) != GK_OK) return s;
      S->it = S->early;
      r->it_base = S->it;
    } else if (o->probe_iter == 0) {
      S->nis[q] = working_nise(r, &S->c[q], NULL);
    }
    if (o->probe_iter > 0) {
      int pi;
      r->skip_start = S->best >= 0;  /* one record per iteration: a later start's is not kept */
      s = gks_lbfgs(r, &S->c[q], o->probe_iter, &pi, &S->conv_q[q], &S->start_q[q], err);
      r->skip_start = 0;
      if (s != GK_OK) return s;
      S->it += pi;
      r->it_base = S->it;
      /* the lowest F (the objective) wins; the records of the next start show the best g
       * held while theirs is worse */
      S->nis[q] = r->last_nise;
      if (S->best < 0 || r->last_F < r->floor_F) {
        r->floor_F = r->last_F;
        r->floor_nise = S->nis[q];
        S->best = q;
      }
      continue;
    }
    if (S->best < 0 || S->nis[q] < S->nis[S->best]) S->best = q;
  }
  return GK_OK;
}

static gk_status lbfgs_done(gk_simplify_info *in, int it, int conv) {
  in->iterations = it;
  in->converged = conv;
  return GK_OK;
}

/* Continues L-BFGS from the chosen start into g (with the weight QP between phases when
 * asked for), unless the probes already refined it to the end. */
static gk_status lbfgs_refine(gks_run *r, gks_mix *g, lbfgs_starts *S, gk_simplify_info *in,
                              gk_error *err) {
  const gk_simplify_opts *o = r->opt;
  int best = S->best, conv = 0;
  if (o->probe_iter > 0) r->floor_F = HUGE_VAL;
  in->init = r->start ? -1 : (int)lbfgs_inits[best];
  in->init_nise = o->probe_iter > 0 && !r->start ? S->start_q[best] : S->nis[best];
  gks_mix_copy(g, &S->c[best]);
  /* topk's probe is the first part of the run when topk wins (its end is not recorded
   * twice); otherwise the switch to the winner counts as one iteration, and the records
   * keep showing the probe's end while the new g is worse (the result is the better of
   * the two). */
  int cont = S->probe_topk && best == 0, budget = o->max_iter - (cont ? S->early : 0);
  double probe_F = r->last_F, probe_nise = r->last_nise;
  if (cont && (S->early_conv || budget <= 0)) return lbfgs_done(in, S->it, S->early_conv);
  /* every start refined to the end: the best of them is the result */
  if (o->probe_iter > 0 && !r->start && !o->qp_weights && (S->conv_q[best] || o->probe_iter >= o->max_iter))
    return lbfgs_done(in, S->it, S->conv_q[best]);
  if (cont || (o->probe_iter > 0 && !r->start)) r->skip_start = 1;  /* the start was the last record */
  else if (S->probe_topk) {
    r->floor_F = probe_F;
    r->floor_nise = probe_nise;
    r->it_base = ++S->it;
  }
  gk_status s;
  for (int phase = 0; phase < (o->qp_weights ? 4 : 1); phase++) {
    int pi;
    s = gks_lbfgs(r, g, phase ? o->max_iter : budget, &pi, &conv, NULL, err);
    r->skip_start = 0;
    if (s != GK_OK) return s;
    S->it += pi;
    r->it_base = S->it;
    if (!o->qp_weights) break;
    /* Exact weights; another phase only when they improve F by more than tol. */
    double F0 = HUGE_VAL, F1 = HUGE_VAL;
    working_nise(r, g, &F0);
    gks_mix_copy(&S->c[best], g);
    if ((s = gks_qp_weights(r->p, g, err)) != GK_OK) return s;
    working_nise(r, g, &F1);
    if (!(F1 < F0 - o->tol * F0)) { gks_mix_copy(g, &S->c[best]); break; }
  }
  if (!cont && S->probe_topk) {
    double F = r->last_F;
    if (o->qp_weights) working_nise(r, g, &F);
    if (probe_F < F) gks_mix_copy(g, &S->c[0]);  /* the probe's end was better */
    r->floor_F = HUGE_VAL;
  }
  return lbfgs_done(in, S->it, conv);
}

static gk_status run_lbfgs(gks_run *r, const gks_mix *f, gks_mix *g, gk_simplify_info *in,
                           gk_error *err) {
  const gk_simplify_opts *o = r->opt;
  lbfgs_starts S;
  memset(&S, 0, sizeof S);
  for (int q = 0; q < 3; q++) S.nis[q] = HUGE_VAL;
  S.best = -1;
  S.probe_topk = !r->start && o->probe_iter == 0 && (o->init & GK_SIMPLIFY_INIT_TOPK) &&
                 (o->init & (GK_SIMPLIFY_INIT_ALL & ~GK_SIMPLIFY_INIT_TOPK));
  gk_status s = lbfgs_choose_start(r, f, g, &S, err);
  if (s == GK_OK) s = lbfgs_refine(r, g, &S, in, err);
  for (int q = 0; q < 3; q++) gks_mix_free(&S.c[q]);
  return s;
}

/* brute: the best partitions, each refined by lbfgs; the lowest NISE wins. */
static gk_status run_brute(gks_run *r, const gks_mix *f, gks_mix *g, gk_simplify_info *in,
                           gk_error *err) {
  const gk_simplify_opts *o = r->opt;
  int nb = o->refine > 0 ? o->refine : 1, nf = 0, it = 0;
  gks_mix *b = gk_scratch_alloc((size_t)nb, sizeof(gks_mix));
  if (!b) return gk_fail_nomem(err);
  memset(b, 0, (size_t)nb * sizeof(gks_mix));
  gk_status s = GK_OK;
  for (int q = 0; q < nb; q++)
    if ((s = gks_mix_alloc(&b[q], g->k, g->d, g->full, err)) != GK_OK) goto done;
  if ((s = gks_brute(f, g->k, r->p, b, nb, &nf, err)) != GK_OK) goto done;
  if (nf == 0) { s = gk_fail(err, GK_ENUMERIC, "brute: no partition has a finite objective"); goto done; }
  double bestv = HUGE_VAL;
  int conv = 1;
  for (int q = 0; q < nf; q++) {
    if (o->refine > 0) {
      int pi, pc;
      gk_simplify_opts ro = *o;
      ro.history = 0;
      ro.tol = fmin(o->tol, 1e-13);  /* the reference: refined to the arithmetic's precision */
      const gk_simplify_opts *keep = r->opt;
      r->opt = &ro;
      s = gks_lbfgs(r, &b[q], o->max_iter, &pi, &pc, NULL, err);
      r->opt = keep;
      if (s != GK_OK) goto done;
      it += pi;
      conv = conv && pc;
    }
    double v = working_nise(r, &b[q], NULL);
    if (v < bestv) { bestv = v; gks_mix_copy(g, &b[q]); }
  }
  in->iterations = it;
  in->converged = conv;
done:
  for (int q = 0; q < nb; q++) gks_mix_free(&b[q]);
  gk_scratch_free(b);
  return s;
}

/* The reduction by method o->method of the working f into g (st: the start, when given). */
static gk_status run_method(gks_run *r, const gks_mix *fw, gks_mix *g, const gks_mix *st,
                            gk_simplify_info *in, gk_error *err) {
  const gk_simplify_opts *o = r->opt;
  gks_problem *p = r->p;
  gk_status s = GK_OK;
  int it = 0, conv = 1;
  switch (o->method) {
    case GK_SIMPLIFY_TOPK: s = gks_topk(fw, g, in->assignment, err); break;
    case GK_SIMPLIFY_RUNNALLS: s = gks_runnalls(fw, g, in->assignment, p->threads, err); break;
    case GK_SIMPLIFY_MINISE: s = gks_minise(fw, g, p->shift, in->assignment, p->threads, err); break;
    case GK_SIMPLIFY_GMRC: s = gks_gmrc(fw, g, o->max_iter, p->threads, in, err); break;
    case GK_SIMPLIFY_BRUTE: s = run_brute(r, fw, g, in, err); break;
    case GK_SIMPLIFY_LBFGS: s = run_lbfgs(r, fw, g, in, err); break;
    case GK_SIMPLIFY_GD:
      if (o->start) gks_mix_copy(g, st);
      if (o->start || (s = gks_topk(fw, g, NULL, err)) == GK_OK) {  /* paper sec. 4: the Kg heaviest */
        s = gks_gd(r, g, &it, &conv, err);
        in->iterations = it; in->converged = conv;
      }
      break;
    case GK_SIMPLIFY_KMEANS:
      if (o->start) gks_mix_copy(g, st);
      if (o->start || (s = gks_topk(fw, g, NULL, err)) == GK_OK) {
        s = gks_kmeans(r, g, &it, &conv, err);
        in->iterations = it; in->converged = conv;
      }
      break;
    default: s = gk_fail(err, GK_EINVAL, "reduce: unknown method"); break;
  }
  if (s == GK_OK && (o->method == GK_SIMPLIFY_TOPK || o->method == GK_SIMPLIFY_RUNNALLS ||
                     o->method == GK_SIMPLIFY_MINISE))
    in->converged = 1;
  return s;
}

/* The assignment to g's components once the dead ones (weight 0) are dropped: the others
 * renumbered, the members of a dropped one left to overlap_assign (SIZE_MAX). */
static void drop_from_assignment(size_t *lab, size_t n, const gks_mix *g) {
  for (size_t i = 0; i < n; i++) {
    size_t j = lab[i];
    if (j == SIZE_MAX) continue;
    if (!(g->w[j] > 0.0)) { lab[i] = SIZE_MAX; continue; }
    size_t q = 0;
    for (size_t t = 0; t < j; t++) q += g->w[t] > 0.0;
    lab[i] = q;
  }
}

/* The components of f that the method left unassigned (SIZE_MAX) go to the component j
 * of g of largest overlap log w_j N(mu_i; mu_j, S_i + S_j) (ties: the lower j). */
static gk_status overlap_assign(const gk_gmm *f, const gk_gmm *g, size_t *lab, gk_error *err) {
  double *work = NULL;
  for (size_t i = 0; i < f->k; i++) {
    if (lab[i] != SIZE_MAX) continue;
    if (!work && !(work = gk_scratch_alloc(f->d * f->d + f->d, sizeof(double)))) return gk_fail_nomem(err);
    double best = -INFINITY;
    lab[i] = 0;
    for (size_t j = 0; j < g->k; j++) {
      double v = gk_gmm_log_overlap(f, i, g, j, work);
      if (v > best) { best = v; lab[i] = j; }
    }
  }
  gk_scratch_free(work);
  return GK_OK;
}

/* The final figures of g (ISE, NISE, the merges' one history record); components at
 * weight zero are reported and, by option, dropped. */
static gk_status final_figures(gks_run *r, gks_mix *g, gk_simplify_info *in, gk_error *err) {
  const gk_simplify_opts *o = r->opt;
  gk_status s;
  double F, gg;
  r->evals++;
  if (gks_eval(r->p, g, &F, NULL, &gg, NULL))
    return gk_fail(err, GK_ENUMERIC, "reduce: the result has a non-finite objective");
  if (F < 0.0) F = 0.0;
  in->nise = F / (gks_acc_value(&r->p->ff) + gg);
  in->ise = F > 0.0 ? exp(log(F) + r->log_scale) : 0.0;
  if (o->history && o->method >= GK_SIMPLIFY_TOPK)  /* merges: one record, the result */
    if ((s = gks_record(r, in->iterations, F, in->nise, err)) != GK_OK) return s;
  for (size_t j = 0; j < g->k; j++)
    if (!(g->w[j] > 0.0) && (s = gks_mark_dead(r, j, err)) != GK_OK) return s;
  if (o->dead != GK_DEAD_DROP || !in->n_dead) return GK_OK;
  size_t q = 0, d = g->d, cl = gks_cov_len(g);
  for (size_t j = 0; j < g->k; j++) {
    if (!(g->w[j] > 0.0)) continue;
    g->w[q] = g->w[j];
    memmove(g->mu + q * d, g->mu + j * d, d * sizeof(double));
    memmove(g->cov + q * cl, g->cov + j * cl, cl * sizeof(double));
    q++;
  }
  if (q == 0) return gk_fail(err, GK_ENUMERIC, "reduce: every component reached weight zero");
  drop_from_assignment(in->assignment, in->n_assignment, g);
  g->k = q;
  return GK_OK;
}

gk_status gk_simplify_reduce(const gk_gmm *f, size_t k, const gk_simplify_opts *opt,
                             gk_gmm **out, gk_simplify_info *info, const gk_allocator *a,
                             gk_error *err) {
  *out = NULL;
  if (info) memset(info, 0, sizeof *info);
  gk_simplify_opts o;
  if (opt) o = *opt;
  else gk_simplify_opts_default(&o);
  gk_status s = check_args(f, k, &o, err);
  if (s != GK_OK) return s;
  if (o.max_iter == 0) o.max_iter = default_max_iter(o.method);
  /* Every initialisation of lbfgs refined to the end where that is cheap (one evaluation
   * of F and its gradient under about a millisecond); else the best start alone. */
  if (o.probe_iter == GK_PROBE_AUTO) {
    int full = f->cov == GK_COV_FULL || o.cov_type == GK_COV_FULL;
    o.probe_iter = gks_worth_threads((f->k + k) * k, f->d, full) ? 0 : o.max_iter;
  }
  if (o.tol == 0.0) o.tol = 1e-7;
  double t0 = gk_seconds();
  gk_cov_type gcov = o.cov_type < 0 ? f->cov : (gk_cov_type)o.cov_type;
  int gfull = gcov == GK_COV_FULL;

  gk_simplify_info in;
  memset(&in, 0, sizeof in);
  in.method = o.method;
  in.n_assignment = f->k;
  if (!(in.assignment = gk_scratch_alloc(f->k, sizeof(size_t)))) return gk_fail_nomem(err);
  for (size_t i = 0; i < f->k; i++) in.assignment[i] = SIZE_MAX;
  gks_white wt = {0};
  gks_mix fw = {0}, g = {0}, st = {0};
  gks_problem p;
  memset(&p, 0, sizeof p);
  if ((s = gks_white_init(&wt, f, gfull, o.whiten, err)) != GK_OK) goto done;
  if ((s = gks_white_apply(&wt, f, &fw, err)) != GK_OK) goto done;
  if ((s = gks_problem_init(&p, &fw, k, o.threads, NAN, err)) != GK_OK) goto done;
  if ((s = gks_mix_alloc(&g, k, f->d, gfull, err)) != GK_OK) goto done;
  if (o.start && (s = gks_white_apply(&wt, o.start, &st, err)) != GK_OK) goto done;
  gks_run r = {&p, &o, &in, t0, p.shift + wt.log_det_A, 0, o.start ? &st : NULL, 0, 0, HUGE_VAL, HUGE_VAL, 0.0, 0.0};
  if ((s = run_method(&r, &fw, &g, &st, &in, err)) != GK_OK) goto done;
  if ((s = final_figures(&r, &g, &in, err)) != GK_OK) goto done;
  if ((s = gks_white_undo(&wt, &g, gcov, out, a, err)) != GK_OK) goto done;
  if ((s = overlap_assign(f, *out, in.assignment, err)) != GK_OK) {
    gk_gmm_free(*out);
    *out = NULL;
    goto done;
  }
  in.evaluations = r.evals;
  in.seconds = gk_seconds() - t0;
done:
  gks_problem_free(&p);
  gks_mix_free(&g);
  gks_mix_free(&st);
  gks_mix_free(&fw);
  gks_white_free(&wt);
  if (s != GK_OK || !info) gk_simplify_info_free(&in);
  else *info = in;
  return s;
}
