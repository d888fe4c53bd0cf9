/*
 * simplify_opt.c: the optimisers of the ISE objective.
 *
 * lbfgs   limited-memory BFGS (Nocedal and Wright, Numerical Optimization, alg. 7.4 and
 *         7.5) with a strong-Wolfe line search (alg. 3.5 / 3.6, cubic interpolation) on the
 *         unconstrained parameters x = [softmax logits, means, log-Cholesky factors].
 * gd      the paper's gradient descent (sec. 3): secant step
 *         gamma = -sigma g'v / ((g(theta + sigma v) - g(theta))'v) for the first iterations
 *         (sigma small at first, then the previous |gamma|), then the fixed steps 10^(-d/3)
 *         for weights and means and 10^(-d/3 - 1) for covariances.
 * kmeans  the paper's K-means (eq. 11-13): each component of f goes to the component of g
 *         nearest by the pairwise chi-squared distance, then each component of g takes local
 *         gradient steps on F restricted to its components of f.
 * Both paper methods keep weights >= 0 (clipped, then renormalised to sum to 1) and
 * covariances positive definite (a step that would break it is halved for that component
 * until it does not), and halve a step that would increase F (the fixed steps of the paper
 * assume the data's scale; the halving keeps the iteration from diverging when it does not
 * match), down to the length whose predicted decrease is lost in F's rounding, where gd
 * stops.
 */
#include "simplify_opt.h"
#include "simplify_merge.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "gmmkit/parallel.h"

#ifdef _OPENMP
#define TID omp_get_thread_num()
#else
#define TID 0
#endif

/* ---- bookkeeping ------------------------------------------------------------------------- */

gk_status gks_record(gks_run *r, int iteration, double F, double nise, gk_error *err) {
  if (!r->info || !r->opt->history) return GK_OK;
  gk_simplify_info *in = r->info;
  if (in->n_history % 64 == 0) {
    gk_simplify_record *h = realloc(in->history, (in->n_history + 64) * sizeof *h);
    if (!h) return gk_fail_nomem(err);
    in->history = h;
  }
  if (F > r->floor_F) { F = r->floor_F; nise = r->floor_nise; }
  gk_simplify_record *rec = &in->history[in->n_history++];
  rec->iteration = r->it_base + iteration;
  rec->ise = F > 0.0 ? exp(log(F) + r->log_scale) : 0.0;
  rec->nise = nise;
  rec->seconds = gk_seconds() - r->t0;
  return GK_OK;
}

gk_status gks_mark_dead(gks_run *r, size_t j, gk_error *err) {
  if (!r->info) return GK_OK;
  gk_simplify_info *in = r->info;
  for (size_t t = 0; t < in->n_dead; t++) if (in->dead[t] == j) return GK_OK;
  size_t *d = realloc(in->dead, (in->n_dead + 1) * sizeof *d);
  if (!d) return gk_fail_nomem(err);
  in->dead = d;
  in->dead[in->n_dead++] = j;
  return GK_OK;
}

static double dot(const double *a, const double *b, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

static gk_status grad_alloc(gks_grad *gr, const gks_mix *g, gk_error *err) {
  size_t k = g->k;
  gr->w = gk_scratch_alloc(k * (1 + g->d + gks_cov_len(g)), sizeof(double));
  if (!gr->w) return gk_fail_nomem(err);
  gr->mu = gr->w + k;
  gr->cov = gr->mu + k * g->d;
  return GK_OK;
}

static void grad_free(gks_grad *gr) { gk_scratch_free(gr->w); gr->w = gr->mu = gr->cov = NULL; }

/* ---- the unconstrained parametrisation ---------------------------------------------------- */

static size_t chol_len(const gks_mix *g) { return g->full ? g->d * (g->d + 1) / 2 : g->d; }

size_t gks_param_size(const gks_mix *g) { return g->k * (1 + g->d + chol_len(g)); }

void gks_param_pack(const gks_mix *g, double *x) {
  size_t k = g->k, d = g->d, cl = chol_len(g);
  double wmax = 0.0;
  for (size_t j = 0; j < k; j++) wmax = fmax(wmax, g->w[j]);
  /* A zero weight becomes a logit 40 below the largest (weight ratio e^-40), not -inf. */
  for (size_t j = 0; j < k; j++) x[j] = g->w[j] > wmax * 4.2e-18 ? log(g->w[j]) : log(wmax) - 40.0;
  memcpy(x + k, g->mu, k * d * sizeof(double));
  double *xc = x + k + k * d;
  for (size_t j = 0; j < k; j++) {
    const double *S = g->cov + j * gks_cov_len(g);
    double *o = xc + j * cl;
    if (!g->full) {
      for (size_t a = 0; a < d; a++) o[a] = 0.5 * log(S[a]);
      continue;
    }
    /* Cholesky of S row by row into the packed lower triangle, diagonal as logs. */
    for (size_t a = 0; a < d; a++) {
      double *Ca = o + a * (a + 1) / 2;
      for (size_t b = 0; b <= a; b++) {
        const double *Cb = o + b * (b + 1) / 2;
        double s = S[a * d + b];
        for (size_t c = 0; c < b; c++) s -= Ca[c] * Cb[c];
        if (a == b) Ca[b] = sqrt(s > 0.0 ? s : 1e-300);
        else Ca[b] = s / Cb[b];
      }
    }
    for (size_t a = 0; a < d; a++) o[a * (a + 1) / 2 + a] = log(o[a * (a + 1) / 2 + a]);
  }
}

void gks_param_unpack(const double *x, gks_mix *g) {
  size_t k = g->k, d = g->d, cl = chol_len(g);
  double mx = x[0], s = 0.0;
  for (size_t j = 1; j < k; j++) mx = fmax(mx, x[j]);
  for (size_t j = 0; j < k; j++) { g->w[j] = exp(x[j] - mx); s += g->w[j]; }
  for (size_t j = 0; j < k; j++) g->w[j] /= s;
  memcpy(g->mu, x + k, k * d * sizeof(double));
  const double *xc = x + k + k * d;
  for (size_t j = 0; j < k; j++) {
    const double *o = xc + j * cl;
    double *S = g->cov + j * gks_cov_len(g);
    if (!g->full) {
      for (size_t a = 0; a < d; a++) S[a] = exp(2.0 * o[a]);
      continue;
    }
    /* S = C C', C_ab = o[a(a+1)/2 + b] below the diagonal, exp of it on the diagonal. */
    for (size_t a = 0; a < d; a++) {
      const double *Ca = o + a * (a + 1) / 2;
      for (size_t b = 0; b <= a; b++) {
        const double *Cb = o + b * (b + 1) / 2;
        double v = 0.0;
        for (size_t c = 0; c < b; c++) v += Ca[c] * Cb[c];
        v += (a == b ? exp(Ca[b]) : Ca[b]) * exp(Cb[b]);
        S[a * d + b] = S[b * d + a] = v;
      }
    }
  }
}

int gks_param_eval(gks_problem *p, gks_mix *g, const double *x, double *obj, double *gx,
                   double *nise, gks_grad *gr) {
  gks_param_unpack(x, g);
  double F, gg;
  if (gks_eval(p, g, &F, NULL, &gg, gx ? gr : NULL)) return -1;
  double ff = gks_acc_value(&p->ff);
  *obj = F / ff;
  if (nise) *nise = F / (ff + gg);
  if (!gx) return 0;
  size_t k = g->k, d = g->d, cl = chol_len(g), cg = gks_cov_len(g);
  double inv = 1.0 / ff, sw = 0.0;
  for (size_t j = 0; j < k; j++) sw += g->w[j] * gr->w[j];
  for (size_t j = 0; j < k; j++) gx[j] = g->w[j] * (gr->w[j] - sw) * inv;  /* softmax chain */
  for (size_t i = 0; i < k * d; i++) gx[k + i] = gr->mu[i] * inv;
  const double *xc = x + k + k * d;
  double *gc = gx + k + k * d;
  for (size_t j = 0; j < k; j++) {
    const double *G = gr->cov + j * cg, *o = xc + j * cl;
    double *q = gc + j * cl;
    if (!g->full) {  /* s = exp(2 theta): dF/dtheta = 2 s dF/ds */
      const double *S = g->cov + j * cg;
      for (size_t a = 0; a < d; a++) q[a] = 2.0 * S[a] * G[a] * inv;
      continue;
    }
    /* dF = tr(G dS), dS = dC C' + C dC'  =>  dF/dC = 2 G C (lower part); diagonal entries
     * are exp(theta), so their derivative takes one more factor C_aa. */
    for (size_t a = 0; a < d; a++) {
      for (size_t b = 0; b <= a; b++) {
        double v = 0.0;
        for (size_t c = b; c < d; c++) {
          const double *Cc = o + c * (c + 1) / 2;
          double cb = c == b ? exp(Cc[b]) : Cc[b];
          v += G[a * d + c] * cb;
        }
        v *= 2.0 * inv;
        if (a == b) v *= exp(o[a * (a + 1) / 2 + a]);
        q[a * (a + 1) / 2 + b] = v;
      }
    }
  }
  return 0;
}

/* ---- L-BFGS ------------------------------------------------------------------------------- */

typedef struct lb {
  gks_run *r;
  gks_mix *g;
  gks_grad gr;
  size_t n;
  double *xt, *gt;   /* trial point */
} lb;

static int phi(lb *L, const double *x, const double *dir, double t, double *f, double *dphi,
               double *nise) {
  for (size_t i = 0; i < L->n; i++) L->xt[i] = x[i] + t * dir[i];
  L->r->evals++;
  if (gks_param_eval(L->r->p, L->g, L->xt, f, L->gt, nise, &L->gr)) return -1;
  if (!isfinite(*f)) return -1;
  *dphi = dot(L->gt, dir, L->n);
  return isfinite(*dphi) ? 0 : -1;
}

/* The diagonal of L-BFGS's base matrix: every parameter of component j scaled by
 * 1 / (w_j^2 z_jj), z_jj = N(0; 0, 2 S_j), normalised by the median. The curvature of F in
 * component j's parameters is of that size (its overlap with what it represents), and it
 * spans orders of magnitude across components in 38 dimensions (|S_j|^-1/2); without it
 * the first iterations only fit the narrowest components. h needs n + k entries. */
static void precondition(const gks_mix *g, const double *x, double shift, double *h) {
  size_t k = g->k, d = g->d, cl = chol_len(g), n = gks_param_size(g);
  double *e = h + n, mx = x[0];
  for (size_t j = 1; j < k; j++) mx = fmax(mx, x[j]);
  const double *xc = x + k + k * d;
  for (size_t j = 0; j < k; j++) {
    double ld = 0.0;  /* log |S_j| = 2 sum log diag C_j */
    for (size_t a = 0; a < d; a++) ld += 2.0 * xc[j * cl + (g->full ? a * (a + 1) / 2 + a : a)];
    e[j] = 2.0 * (x[j] - mx) + gks_self_logz(ld, d) - shift;  /* log(w_j^2 z_jj), up to a constant */
  }
  /* Median of e (a copy sorted by insertion: k is small next to the evaluation). */
  double *srt = h;  /* the first k entries of h as scratch before h is written */
  for (size_t j = 0; j < k; j++) {
    size_t q = j;
    while (q > 0 && srt[q - 1] > e[j]) { srt[q] = srt[q - 1]; q--; }
    srt[q] = e[j];
  }
  double med = srt[k / 2];
  for (size_t j = 0; j < k; j++) e[j] = exp(fmin(fmax(med - e[j], -14.0), 14.0));
  for (size_t j = 0; j < k; j++) h[j] = e[j];
  for (size_t j = 0; j < k; j++)
    for (size_t a = 0; a < d; a++) h[k + j * d + a] = e[j];
  for (size_t j = 0; j < k; j++)
    for (size_t a = 0; a < cl; a++) h[k + k * d + j * cl + a] = e[j];
}

/* Minimiser of the cubic through (a, fa, ga), (b, fb, gb) (Nocedal-Wright eq. 3.59). */
static double cubic_min(double a, double fa, double ga, double b, double fb, double gb) {
  double d1 = ga + gb - 3.0 * (fa - fb) / (a - b);
  double disc = d1 * d1 - ga * gb;
  if (!(disc >= 0.0) || !isfinite(disc)) return NAN;
  double d2 = (b > a ? 1.0 : -1.0) * sqrt(disc);
  return b - (b - a) * (gb + d2 - d1) / (gb - ga + 2.0 * d2);
}

/* Strong-Wolfe line search from x along dir (dphi0 < 0), first trial t. On success the
 * accepted point is in xn, gn, *fn (and *nise) and 0 is returned; -1 when no point with
 * sufficient decrease was found. */
static int line_search(lb *L, const double *x, double f0, const double *dir, double dphi0,
                       double t, double *xn, double *gn, double *fn, double *nise) {
  const double c1 = 1e-4, c2 = 0.9;
  double lo = 0.0, flo = f0, glo = dphi0, hi = 0.0, fhi = 0.0, ghi = 0.0;
  int has_hi = 0, have = 0;
  for (int it = 0; it < 40; it++) {
    double ft = HUGE_VAL, gt_ = NAN, ns = NAN;
    int bad = phi(L, x, dir, t, &ft, &gt_, &ns);
    if (bad || ft > f0 + c1 * t * dphi0 || ft >= flo) {
      hi = t; fhi = bad ? HUGE_VAL : ft; ghi = bad ? NAN : gt_;
      has_hi = 1;
    } else {
      memcpy(xn, L->xt, L->n * sizeof(double));
      memcpy(gn, L->gt, L->n * sizeof(double));
      *fn = ft; *nise = ns; have = 1;
      if (fabs(gt_) <= -c2 * dphi0) return 0;
      if ((has_hi && gt_ * (hi - lo) >= 0.0) || (!has_hi && gt_ >= 0.0)) {
        hi = lo; fhi = flo; ghi = glo; has_hi = 1;
      }
      lo = t; flo = ft; glo = gt_;
    }
    if (!has_hi) { t = fmin(4.0 * t, 1e10); continue; }
    double a = fmin(lo, hi), b = fmax(lo, hi), w = b - a;
    if (w <= 1e-13 * b) break;
    double tn = isfinite(fhi) && isfinite(ghi) ? cubic_min(lo, flo, glo, hi, fhi, ghi) : NAN;
    if (!isfinite(tn) || tn < a + 0.1 * w || tn > b - 0.1 * w) tn = 0.5 * (lo + hi);
    t = tn;
  }
  return have ? 0 : -1;
}

/* The L-BFGS memory: up to m curvature pairs (s, y) of n values each, the newest at
 * head - 1 (mod m); alpha is the two-loop recursion's scratch. */
typedef struct lbmem {
  size_t n, m, mem, head;
  double *S, *Y, *rho, *alpha;
} lbmem;

/* Two-loop recursion (Nocedal and Wright, alg. 7.4): dir = -H gx, with the diagonal base
 * matrix gamma diag(h). */
static void lbfgs_direction(lbmem *M, const double *gx, const double *h, double *dir) {
  size_t n = M->n, m = M->m, head = M->head, mem = M->mem;
  const double *S = M->S, *Y = M->Y, *rho = M->rho;
  double *alpha = M->alpha;
  for (size_t i = 0; i < n; i++) dir[i] = -gx[i];
  for (size_t q = 0; q < mem; q++) {
    size_t c = (head + m - 1 - q) % m;
    alpha[c] = rho[c] * dot(S + c * n, dir, n);
    for (size_t i = 0; i < n; i++) dir[i] -= alpha[c] * Y[c * n + i];
  }
  double gam = 1.0;
  if (mem) {
    size_t c = (head + m - 1) % m;
    const double *yc = Y + c * n;
    double yhy = 0.0;
    for (size_t i = 0; i < n; i++) yhy += yc[i] * h[i] * yc[i];
    gam = dot(S + c * n, yc, n) / yhy;
  }
  for (size_t i = 0; i < n; i++) dir[i] *= gam * h[i];
  for (size_t q = mem; q-- > 0;) {
    size_t c = (head + m - 1 - q) % m;
    double beta = rho[c] * dot(Y + c * n, dir, n);
    for (size_t i = 0; i < n; i++) dir[i] += (alpha[c] - beta) * S[c * n + i];
  }
}

/* Stores the curvature pair of the step x -> xn, kept only when s'y is safely positive. */
static void lbfgs_push(lbmem *M, const double *x, const double *xn, const double *gx, const double *gn) {
  size_t n = M->n;
  double *sc = M->S + M->head * n, *yc = M->Y + M->head * n;
  for (size_t i = 0; i < n; i++) { sc[i] = xn[i] - x[i]; yc[i] = gn[i] - gx[i]; }
  double sy = dot(sc, yc, n), ss = dot(sc, sc, n), yy = dot(yc, yc, n);
  if (sy > 1e-12 * sqrt(ss * yy)) {
    M->rho[M->head] = 1.0 / sy;
    M->head = (M->head + 1) % M->m;
    if (M->mem < M->m) M->mem++;
  }
}

gk_status gks_lbfgs(gks_run *r, gks_mix *g, int max_iter, int *iters, int *converged,
                    double *start_nise, gk_error *err) {
  const gk_simplify_opts *o = r->opt;
  size_t n = gks_param_size(g), m = (size_t)(o->memory > 0 ? o->memory : 10);
  double tol = o->tol;
  lb L = {r, g, {0}, n, NULL, NULL};
  gk_status s = grad_alloc(&L.gr, g, err);
  if (s != GK_OK) return s;
  double *buf = gk_scratch_alloc(n * (8 + 2 * m) + 2 * m + g->k, sizeof(double));
  if (!buf) { grad_free(&L.gr); return gk_fail_nomem(err); }
  double *x = buf, *gx = x + n, *dir = gx + n, *xn = dir + n, *gn = xn + n;
  lbmem M = {n, m, 0, 0, gn + n + 2 * n, NULL, NULL, NULL};
  M.Y = M.S + m * n;
  M.rho = M.Y + m * n;
  M.alpha = M.rho + m;
  double *h = M.alpha + m;  /* n + k: the diagonal base matrix and its scratch */
  L.xt = gn + n; L.gt = L.xt + n;
  int it = 0, conv = 0;
  double fwin[10];  /* objective of the last 10 iterations: the stopping rule's window */
  double f, nise;
  gks_param_pack(g, x);
  r->evals++;
  if (gks_param_eval(r->p, g, x, &f, gx, &nise, &L.gr) || !isfinite(f)) {
    s = gk_fail(err, GK_ENUMERIC, "lbfgs: the objective is not finite at the initial mixture");
    goto done;
  }
  if (start_nise) *start_nise = nise;
  if (!r->skip_start && (s = gks_record(r, 0, f * gks_acc_value(&r->p->ff), nise, err)) != GK_OK) goto done;
  fwin[0] = f;
  for (it = 1; it <= max_iter; it++) {
    if (gk_interrupted()) { s = gk_fail(err, GK_EINTR, "interrupted"); goto done; }
    precondition(g, x, r->p->shift, h);
    lbfgs_direction(&M, gx, h, dir);
    double dphi0 = dot(gx, dir, n), gnorm = sqrt(dot(gx, gx, n));
    if (!(dphi0 < 0.0)) {
      M.mem = 0;
      for (size_t i = 0; i < n; i++) dir[i] = -h[i] * gx[i];
      dphi0 = dot(gx, dir, n);
    }
    if (!(gnorm > 0.0) || !(dphi0 < 0.0)) { conv = 1; break; }
    /* Without curvature pairs the gradient says nothing about the scale: the first trial
     * moves the largest coordinate by 0.1 (coordinates are whitened, so 0.1 is a tenth of
     * f's spread), whatever the size of F. */
    double dmax = 0.0;
    for (size_t i = 0; i < n; i++) dmax = fmax(dmax, fabs(dir[i]));
    double t0 = M.mem ? 1.0 : 0.1 / dmax;
    double fn, nn;
    if (line_search(&L, x, f, dir, dphi0, t0, xn, gn, &fn, &nn)) {
      if (M.mem) { M.mem = 0; it--; continue; }  /* retry once along the steepest descent */
      conv = 1;  /* no decrease along -g from here: a (numerical) stationary point */
      break;
    }
    lbfgs_push(&M, x, xn, gx, gn);
    memcpy(x, xn, n * sizeof(double));
    memcpy(gx, gn, n * sizeof(double));
    f = fn; nise = nn;
    if ((s = gks_record(r, it, f * gks_acc_value(&r->p->ff), nise, err)) != GK_OK) goto done;
    /* Converged when the last ten iterations gained less than tol relative each on
     * average: single short steps (a weak line search) do not stop it early. */
    if (it >= 10 && fwin[it % 10] - f <= 10.0 * tol * f) { conv = 1; break; }
    fwin[it % 10] = f;
  }
  if (it > max_iter) it = max_iter;
done:
  r->last_F = f * gks_acc_value(&r->p->ff);
  r->last_nise = nise;
  gks_param_unpack(x, g);
  *iters = it;
  *converged = conv;
  gk_scratch_free(buf);
  grad_free(&L.gr);
  return s;
}

/* ---- the paper's steps: weights clipped and renormalised, covariances kept PD ---------- */

/* Is S (full d x d or diagonal d) positive definite? wk->S is scratch. */
static int is_pd(const double *S, int full, size_t d, gks_work *wk) {
  gks_mix one = {1, d, full, NULL, NULL, (double *)S};
  return !isnan(gks_logdet(&one, 0, wk));
}

/* theta' = theta + gamma v for component j (v = -(gw, gm, cs gS)), with the covariance step
 * halved until S stays positive definite (kept unchanged after 40 halvings). */
static void step_component(const gks_mix *g0, gks_mix *g1, size_t j, double gamma, double cs,
                           const double *gw, const double *gm, const double *gS, gks_work *wk) {
  size_t d = g0->d, cl = gks_cov_len(g0);
  g1->w[j] = g0->w[j] - gamma * gw[j];
  for (size_t a = 0; a < d; a++) g1->mu[j * d + a] = g0->mu[j * d + a] - gamma * gm[j * d + a];
  const double *S0 = g0->cov + j * cl;
  double *S1 = g1->cov + j * cl;
  double h = gamma * cs;
  for (int t = 0; t < 40; t++, h *= 0.5) {
    for (size_t a = 0; a < cl; a++) S1[a] = S0[a] - h * gS[j * cl + a];
    if (is_pd(S1, g0->full, d, wk)) return;
  }
  memcpy(S1, S0, cl * sizeof(double));
}

/* Clips negative weights to 0 and renormalises; 0 when nothing is left. */
static int renormalise(gks_mix *g) {
  double s = 0.0;
  for (size_t j = 0; j < g->k; j++) {
    if (!(g->w[j] > 0.0)) g->w[j] = 0.0;
    s += g->w[j];
  }
  if (!(s > 0.0) || !isfinite(s)) return 0;
  for (size_t j = 0; j < g->k; j++) g->w[j] /= s;
  return 1;
}

/* Re-seeds component j of g on the component of f with the largest unexplained overlap
 * v_i (sum_k v_k z_ik - sum_l w_l z_il) (the place where g lacks mass most). */
static void reseed(gks_problem *p, gks_mix *g, size_t j) {
  const gks_mix *f = p->f;
  size_t d = f->d, cf = gks_cov_len(f), cg = gks_cov_len(g), best = 0;
  double bv = -HUGE_VAL;
  gks_work *wk = &p->work[0];
  for (size_t i = 0; i < f->k; i++) {
    double s = 0.0;
    for (size_t q = 0; q < f->k; q++)
      s += f->w[q] * exp(gks_pair_logz(f->mu + i * d, f->cov + i * cf, f->full, f->mu + q * d, f->cov + q * cf, f->full, d, wk, 0) - p->shift);
    for (size_t l = 0; l < g->k; l++)
      s -= g->w[l] * exp(gks_pair_logz(f->mu + i * d, f->cov + i * cf, f->full, g->mu + l * d, g->cov + l * cg, g->full, d, wk, 0) - p->shift);
    if (f->w[i] * s > bv) { bv = f->w[i] * s; best = i; }
  }
  gks_merge(f, &best, 1, g->full, &g->w[j], g->mu + j * d, g->cov + j * cg);
  renormalise(g);
}

/* After a step: report components at weight zero and, by option, re-seed them (*moved
 * is set when one was). */
static gk_status handle_dead(gks_run *r, gks_mix *g, int *moved, gk_error *err) {
  *moved = 0;
  for (size_t j = 0; j < g->k; j++) {
    if (g->w[j] > 0.0) continue;
    gk_status s = gks_mark_dead(r, j, err);
    if (s != GK_OK) return s;
    if (r->opt->dead == GK_DEAD_RESEED) {
      reseed(r->p, g, j);
      *moved = 1;
      if (r->info) r->info->reseeded++;
    }
  }
  return GK_OK;
}

/* The weight gradient in the tangent space of the simplex (its mean removed): the step
 * keeps sum w = 1 to first order, so that renormalising after it does not turn a descent
 * step into an ascent one (the raw gradient also pulls on the total mass). */
static void tangent_weights(gks_grad *gr, size_t k) {
  double m = 0.0;
  for (size_t j = 0; j < k; j++) m += gr->w[j];
  m /= (double)k;
  for (size_t j = 0; j < k; j++) gr->w[j] -= m;
}

/* g'v for the direction v = -(gw, gm, cs gS) of gradient gr: -(|gw|^2 + |gm|^2 + cs |gS|^2). */
static double gd_slope(const gks_grad *gr, size_t k, size_t d, size_t cl, double cs) {
  return -(dot(gr->w, gr->w, k) + dot(gr->mu, gr->mu, k * d) + cs * dot(gr->cov, gr->cov, k * cl));
}

/* The paper's secant step length along v = -(gw, gm, cs gS) (g0: the gradient at g, gv its
 * slope), from a probe at theta + sigma v (probe, g1: scratch): sigma is 1e-3 / |g'v|^1/2
 * on the first iteration (`first`), else the last step length gamma, halved until the
 * probe is finite. */
static double gd_secant(gks_run *r, const gks_mix *g, gks_mix *probe, const gks_grad *g0, gks_grad *g1,
                        double gv, int first, double gamma, double cs) {
  gks_problem *p = r->p;
  size_t k = g->k, d = g->d, cl = gks_cov_len(g);
  double sg = first ? 1e-3 / sqrt(-gv) : fabs(gamma);
  double num = 0.0, den = 0.0;
  int ok = 0;
  for (int t = 0; t < 30 && !ok; t++, sg *= 0.5) {
    for (size_t j = 0; j < k; j++) step_component(g, probe, j, sg, cs, g0->w, g0->mu, g0->cov, &p->work[0]);
    r->evals++;
    if (gks_eval(p, probe, NULL, NULL, NULL, g1)) continue;
    tangent_weights(g1, k);
    /* (g(theta + sigma v) - g(theta))'v with v = -(gw, gm, cs gS) */
    den = -(dot(g1->w, g0->w, k) - dot(g0->w, g0->w, k) + dot(g1->mu, g0->mu, k * d) -
            dot(g0->mu, g0->mu, k * d) + cs * (dot(g1->cov, g0->cov, k * cl) - dot(g0->cov, g0->cov, k * cl)));
    num = gv;
    ok = 1;
  }
  if (ok) sg *= 2.0;  /* undo the last halving of the loop */
  return ok && den > 0.0 ? -sg * num / den : 2.0 * sg;
}

/* Takes the step of length *h along v into trial (its F, gg and gradient g1), halving it
 * while F would increase (at most 30 times), but not below the length whose predicted
 * decrease h |g'v| is lost in F's rounding: there the comparison of F values says nothing
 * (the fixed steps of a high dimension reach it). 0 when no step decreases F. */
static int gd_backtrack(gks_run *r, const gks_mix *g, gks_mix *trial, const gks_grad *g0, gks_grad *g1,
                        double gv, double F, double cs, double *h, double *Fn, double *ggn) {
  gks_problem *p = r->p;
  for (int t = 0; t < 30 && *h * -gv > 8.0 * DBL_EPSILON * fabs(F); t++, *h *= 0.5) {
    for (size_t j = 0; j < g->k; j++) step_component(g, trial, j, *h, cs, g0->w, g0->mu, g0->cov, &p->work[0]);
    if (!renormalise(trial)) continue;
    r->evals++;
    if (gks_eval(p, trial, Fn, NULL, ggn, g1)) continue;
    tangent_weights(g1, g->k);
    if (*Fn <= F) return 1;
  }
  return 0;
}

gk_status gks_gd(gks_run *r, gks_mix *g, int *iters, int *converged, gk_error *err) {
  gks_problem *p = r->p;
  const gk_simplify_opts *o = r->opt;
  size_t k = g->k, d = g->d, cl = gks_cov_len(g), n = k * (1 + d + cl);
  gks_grad g0 = {0}, g1 = {0};
  gks_mix trial = {0}, probe = {0};
  gk_status s;
  if ((s = grad_alloc(&g0, g, err)) != GK_OK || (s = grad_alloc(&g1, g, err)) != GK_OK ||
      (s = gks_mix_alloc(&trial, k, d, g->full, err)) != GK_OK ||
      (s = gks_mix_alloc(&probe, k, d, g->full, err)) != GK_OK)
    goto done;
  const double cs = 0.1;  /* covariance steps are a tenth of the others (sec. 3) */
  /* The fixed step acts on the gradient of F itself: F = F_scaled e^shift. */
  double fixed = pow(10.0, -(double)d / 3.0) * exp(fmin(p->shift, 700.0));
  double F, gg, ff = gks_acc_value(&p->ff);
  int it = 0, conv = 0, ls = o->line_search_iters, small = 0;
  double gamma = 0.0;
  r->evals++;
  if (gks_eval(p, g, &F, NULL, &gg, &g0)) {
    s = gk_fail(err, GK_ENUMERIC, "gd: the objective is not finite at the initial mixture");
    goto done;
  }
  tangent_weights(&g0, k);
  if ((s = gks_record(r, 0, F, F / (ff + gg), err)) != GK_OK) goto done;
  /* v = -(gw, gm, cs gS) is the direction. */
  for (it = 1; it <= o->max_iter; it++) {
    if (gk_interrupted()) { s = gk_fail(err, GK_EINTR, "interrupted"); goto done; }
    double gv = gd_slope(&g0, k, d, cl, cs);
    if (!(gv < 0.0)) { conv = 1; break; }
    /* Secant estimates of the minimiser along v for the first line_search_iters
     * iterations, then the fixed step. */
    if (it <= ls) gamma = gd_secant(r, g, &probe, &g0, &g1, gv, it == 1, gamma, cs);
    else if (it == (ls > 0 ? ls : 0) + 1) gamma = fixed;
    double Fn = HUGE_VAL, ggn = 0.0, h = gamma;
    if (!gd_backtrack(r, g, &trial, &g0, &g1, gv, F, cs, &h, &Fn, &ggn)) {
      conv = 1;  /* no step of any size decreases F */
      break;
    }
    gamma = h;  /* a halved fixed step stays halved */
    gks_mix_copy(g, &trial);
    memcpy(g0.w, g1.w, n * sizeof(double));
    int moved;
    if ((s = handle_dead(r, g, &moved, err)) != GK_OK) goto done;
    double Fold = F;
    F = Fn; gg = ggn;
    if (moved) {
      r->evals++;
      if (gks_eval(p, g, &F, NULL, &gg, &g0)) { s = gk_fail(err, GK_ENUMERIC, "gd: non-finite objective after re-seeding"); goto done; }
      tangent_weights(&g0, k);
    }
    if ((s = gks_record(r, it, F, F / (ff + gg), err)) != GK_OK) goto done;
    if (Fold - F <= o->tol * F) {
      if (++small >= 2) { conv = 1; break; }
    } else small = 0;
  }
  if (it > o->max_iter) it = o->max_iter;
  *iters = it;
  *converged = conv;
done:
  grad_free(&g0); grad_free(&g1);
  gks_mix_free(&trial); gks_mix_free(&probe);
  return s;
}

/* ---- K-means (paper eq. 11-13) -------------------------------------------------------------- */

/* The part of F that depends on component j of g when it represents idx[0..n) of f (eq. 13):
 * Fj = -2 w sum_i v_i z_ij + w^2 z_jj (the constant sum_{i,i'} v v z is left out), scaled by
 * exp(-shift), with its gradient in (w, m, S) when gw is not NULL. -1 when not finite. */
static int local_eval(const gks_problem *p, const size_t *idx, size_t n, const gks_mix *g, size_t j,
                      double w, const double *m, const double *S, gks_work *wk, double *Fj,
                      double *gw, double *gm, double *gS) {
  const gks_mix *f = p->f;
  size_t d = f->d, cf = gks_cov_len(f), cg = gks_cov_len(g);
  int want = gw != NULL, pf = f->full || g->full;
  (void)j;
  gks_acc a = {0.0, 0.0};
  if (want) { *gw = 0.0; memset(gm, 0, d * sizeof(double)); memset(gS, 0, cg * sizeof(double)); }
  for (size_t t = 0; t < n; t++) {
    size_t i = idx[t];
    double lz = gks_pair_logz(f->mu + i * d, f->cov + i * cf, f->full, m, S, g->full, d, wk, want);
    if (isnan(lz)) return -1;
    double e = exp(lz - p->shift), tv = f->w[i] * w * e;
    gks_acc_add(&a, -2.0 * tv);
    if (!want) continue;
    *gw -= 2.0 * f->w[i] * e;
    for (size_t q = 0; q < d; q++) gm[q] -= 2.0 * tv * wk->u[q];
    const double *u = wk->u, *Si = wk->Sinv;
    if (!pf) for (size_t q = 0; q < d; q++) gS[q] -= tv * (u[q] * u[q] - Si[q]);
    else if (!g->full) for (size_t q = 0; q < d; q++) gS[q] -= tv * (u[q] * u[q] - Si[q * d + q]);
    else for (size_t q = 0; q < d * d; q++) gS[q] -= tv * (u[q / d] * u[q % d] - Si[q]);
  }
  double lz = gks_pair_logz(m, S, g->full, m, S, g->full, d, wk, want);
  if (isnan(lz)) return -1;
  double e = exp(lz - p->shift), tv = w * w * e;
  gks_acc_add(&a, tv);
  if (want) {
    *gw += 2.0 * w * e;
    const double *Si = wk->Sinv;
    if (!g->full) for (size_t q = 0; q < d; q++) gS[q] -= tv * Si[q];
    else for (size_t q = 0; q < d * d; q++) gS[q] -= tv * Si[q];
  }
  *Fj = gks_acc_value(&a);
  return isfinite(*Fj) ? 0 : -1;
}

/* `steps` secant-step gradient iterations on component j (local problem idx[0..n)). */
static void local_steps(const gks_problem *p, const size_t *idx, size_t n, gks_mix *g, size_t j,
                        int steps, double *sigma, gks_work *wk, double *buf) {
  size_t d = g->d, cl = gks_cov_len(g);
  const double cs = 0.1;
  double *m = buf, *S = m + d, *gm = S + cl, *gS = gm + d, *m1 = gS + cl, *S1 = m1 + d,
         *gm1 = S1 + cl, *gS1 = gm1 + d;
  double w = g->w[j], gw, gw1, F, F1;
  memcpy(m, g->mu + j * d, d * sizeof(double));
  memcpy(S, g->cov + j * cl, cl * sizeof(double));
  for (int st = 0; st < steps; st++) {
    if (local_eval(p, idx, n, g, j, w, m, S, wk, &F, &gw, gm, gS)) break;
    double gv = -(gw * gw + dot(gm, gm, d) + cs * dot(gS, gS, cl));
    if (!(gv < 0.0)) break;
    double sg = *sigma > 0.0 ? *sigma : 1e-3 / sqrt(-gv), den = 0.0;
    int ok = 0;
    for (int t = 0; t < 30 && !ok; t++, sg *= 0.5) {
      for (size_t q = 0; q < d; q++) m1[q] = m[q] - sg * gm[q];
      for (size_t q = 0; q < cl; q++) S1[q] = S[q] - sg * cs * gS[q];
      if (!is_pd(S1, g->full, d, wk)) continue;
      if (local_eval(p, idx, n, g, j, w - sg * gw, m1, S1, wk, &F1, &gw1, gm1, gS1)) continue;
      den = -((gw1 - gw) * gw + dot(gm1, gm, d) - dot(gm, gm, d) + cs * (dot(gS1, gS, cl) - dot(gS, gS, cl)));
      ok = 1;
    }
    if (ok) sg *= 2.0;
    double h = ok && den > 0.0 ? -sg * gv / den : 2.0 * sg;
    int taken = 0;
    for (int t = 0; t < 30; t++, h *= 0.5) {
      double w1 = w - h * gw;
      if (w1 < 0.0) w1 = 0.0;  /* a weight reaching zero is reported after the round */
      for (size_t q = 0; q < d; q++) m1[q] = m[q] - h * gm[q];
      double hc = h * cs;
      int pd = 0;
      for (int u = 0; u < 40 && !pd; u++, hc *= 0.5) {
        for (size_t q = 0; q < cl; q++) S1[q] = S[q] - hc * gS[q];
        pd = is_pd(S1, g->full, d, wk);
      }
      if (!pd) memcpy(S1, S, cl * sizeof(double));
      if (local_eval(p, idx, n, g, j, w1, m1, S1, wk, &F1, NULL, NULL, NULL)) continue;
      if (F1 <= F) {
        w = w1;
        memcpy(m, m1, d * sizeof(double));
        memcpy(S, S1, cl * sizeof(double));
        taken = 1;
        break;
      }
    }
    if (!taken) break;
    *sigma = fabs(h);
    if (!(w > 0.0)) break;
  }
  g->w[j] = w;
  memcpy(g->mu + j * d, m, d * sizeof(double));
  memcpy(g->cov + j * cl, S, cl * sizeof(double));
}

/* Assignment by the pairwise chi-squared distance (eq. 12): each component i of f goes to
 * the j of g with the least D_ij = w_j^2 z_jj - 2 w_j v_i z_ij + v_i^2 z_ii, into cur[i].
 * ldg: log |S_j| of g's components. */
static void kmeans_assign(gks_problem *p, const gks_mix *g, const double *ldg, size_t *cur) {
  const gks_mix *f = p->f;
  size_t kf = f->k, k = g->k, d = g->d, cl = gks_cov_len(g), cf = gks_cov_len(f);
  int nt = p->threads;
  #pragma omp parallel for schedule(dynamic, 8) num_threads(nt) \
      if (gks_worth_threads(kf * k, d, f->full || g->full))
  for (size_t i = 0; i < kf; i++) {
    gks_work *wk = &p->work[TID];
    size_t bj = 0;
    double bv = HUGE_VAL;
    for (size_t j = 0; j < k; j++) {
      double lz = gks_pair_logz(f->mu + i * d, f->cov + i * cf, f->full, g->mu + j * d, g->cov + j * cl, g->full, d, wk, 0);
      double D = g->w[j] * g->w[j] * exp(gks_self_logz(ldg[j], d) - p->shift) -
                 2.0 * g->w[j] * f->w[i] * exp(lz - p->shift);
      if (D < bv) { bv = D; bj = j; }
    }
    cur[i] = bj;
  }
}

/* The update (eq. 13): local_steps on each component of g over the components of f
 * assigned to it (idx[start[j] .. start[j+1]), grouped from cur). */
static void kmeans_update(gks_problem *p, gks_mix *g, const size_t *cur, int steps, size_t *idx,
                          size_t *start, double *sigma, double *buf) {
  size_t kf = p->f->k, k = g->k, d = g->d, cl = gks_cov_len(g), q = 0;
  int nt = p->threads;
  for (size_t j = 0; j < k; j++) {
    start[j] = q;
    for (size_t i = 0; i < kf; i++) if (cur[i] == j) idx[q++] = i;
  }
  start[k] = q;
  #pragma omp parallel for schedule(dynamic, 1) num_threads(nt) \
      if (gks_worth_threads(kf * (size_t)steps * 3, d, p->f->full || g->full))
  for (size_t j = 0; j < k; j++) {
    if (start[j + 1] == start[j]) continue;  /* nothing assigned: left as it is */
    local_steps(p, idx + start[j], start[j + 1] - start[j], g, j, steps, &sigma[j],
                &p->work[TID], buf + (size_t)TID * 4 * (d + cl));
  }
}

/* Oscillation: the assignment cur of round `it` was seen per >= 2 rounds ago and F has
 * not improved since (paper sec. 5 reports such cycles on speech data). The period, or 0. */
static int kmeans_period(const size_t *lab, size_t kf, int it, int nch, const double *Fh, double F,
                         double tol) {
  const size_t *cur = lab + (size_t)it * kf;
  for (int per = 2; per < it; per++) {
    if (memcmp(cur, lab + (size_t)(it - per) * kf, kf * sizeof(size_t)) != 0) continue;
    if (nch > 0 && Fh[it - per] - F <= tol * F) return per;
  }
  return 0;
}

gk_status gks_kmeans(gks_run *r, gks_mix *g, int *iters, int *converged, gk_error *err) {
  gks_problem *p = r->p;
  const gk_simplify_opts *o = r->opt;
  const gks_mix *f = p->f;
  size_t kf = f->k, k = g->k, d = g->d, cl = gks_cov_len(g);
  int R = o->max_iter, nt = p->threads;
  size_t *lab = gk_scratch_alloc((size_t)(R + 1) * kf, sizeof(size_t));
  size_t *idx = gk_scratch_alloc(kf, sizeof(size_t)), *start = gk_scratch_alloc(k + 1, sizeof(size_t));
  double *sigma = gk_scratch_alloc(k, sizeof(double)), *ldg = gk_scratch_alloc(k, sizeof(double));
  double *buf = gk_scratch_alloc((size_t)nt * 4 * (d + cl), sizeof(double));
  int *changes = gk_scratch_alloc((size_t)(R > 0 ? R : 1), sizeof(int));
  double *Fh = gk_scratch_alloc((size_t)R + 1, sizeof(double));
  gks_mix best = {0};
  gk_status s = GK_OK;
  if (!lab || !idx || !start || !sigma || !ldg || !buf || !changes || !Fh) { s = gk_fail_nomem(err); goto done; }
  if ((s = gks_mix_alloc(&best, k, d, g->full, err)) != GK_OK) goto done;
  for (size_t j = 0; j < k; j++) sigma[j] = 0.0;
  double ff = gks_acc_value(&p->ff), F, gg, Fbest;
  r->evals++;
  if (gks_eval(p, g, &F, NULL, &gg, NULL)) {
    s = gk_fail(err, GK_ENUMERIC, "kmeans: the objective is not finite at the initial mixture");
    goto done;
  }
  Fbest = F;
  Fh[0] = F;
  gks_mix_copy(&best, g);
  if ((s = gks_record(r, 0, F, F / (ff + gg), err)) != GK_OK) goto done;
  int it = 0, conv = 0, osc = 0;
  for (it = 1; it <= R; it++) {
    if (gk_interrupted()) { s = gk_fail(err, GK_EINTR, "interrupted"); goto done; }
    size_t *cur = lab + (size_t)it * kf, *prev = lab + (size_t)(it - 1) * kf;
    for (size_t j = 0; j < k; j++) ldg[j] = gks_logdet(g, j, &p->work[0]);
    kmeans_assign(p, g, ldg, cur);
    int nch = 0;
    for (size_t i = 0; i < kf; i++) nch += it == 1 || cur[i] != prev[i];
    changes[it - 1] = nch;
    kmeans_update(p, g, cur, o->local_steps, idx, start, sigma, buf);
    if (!renormalise(g)) { s = gk_fail(err, GK_ENUMERIC, "kmeans: every weight reached zero"); goto done; }
    int moved;
    if ((s = handle_dead(r, g, &moved, err)) != GK_OK) goto done;
    double Fold = F;
    r->evals++;
    if (gks_eval(p, g, &F, NULL, &gg, NULL)) { s = gk_fail(err, GK_ENUMERIC, "kmeans: non-finite objective"); goto done; }
    if ((s = gks_record(r, it, F, F / (ff + gg), err)) != GK_OK) goto done;
    Fh[it] = F;
    if (F < Fbest) { Fbest = F; gks_mix_copy(&best, g); }
    if (nch == 0 && it > 1 && Fold - F <= o->tol * F) { conv = 1; break; }
    if ((osc = kmeans_period(lab, kf, it, nch, Fh, F, o->tol)) != 0) break;
  }
  if (it > R) it = R;
  gks_mix_copy(g, &best);
  if (r->info && r->info->assignment) {  /* the partition of the result: one more assignment step */
    for (size_t j = 0; j < k; j++) ldg[j] = gks_logdet(g, j, &p->work[0]);
    kmeans_assign(p, g, ldg, r->info->assignment);
  }
  *iters = it;
  *converged = conv;
  if (r->info) {
    r->info->oscillation = osc;
    r->info->changes = changes;
    r->info->n_changes = (size_t)(it < R ? it : R);
    changes = NULL;
  }
done:
  gk_scratch_free(changes);
  gk_scratch_free(Fh);
  gk_scratch_free(lab); gk_scratch_free(idx); gk_scratch_free(start); gk_scratch_free(sigma);
  gk_scratch_free(ldg); gk_scratch_free(buf);
  gks_mix_free(&best);
  return s;
}

/* ---- exact weights: min w'Qw - 2 b'w over the simplex ------------------------------------- */

/* Solves Q_PP x = rhs for the free set P (Cholesky with a tiny ridge); 0 on failure. */
static int solve_free(const double *Q, size_t k, const unsigned char *P, const double *rhs,
                      double *x, double *Lm, size_t *map) {
  size_t n = 0;
  for (size_t j = 0; j < k; j++) if (P[j]) map[n++] = j;
  double dmax = 0.0;
  for (size_t a = 0; a < n; a++) dmax = fmax(dmax, Q[map[a] * k + map[a]]);
  for (size_t a = 0; a < n; a++)
    for (size_t b = 0; b <= a; b++) {
      double v = Q[map[a] * k + map[b]] + (a == b ? 1e-13 * dmax : 0.0);
      for (size_t c = 0; c < b; c++) v -= Lm[a * k + c] * Lm[b * k + c];
      if (a == b) { if (!(v > 0.0)) return 0; Lm[a * k + a] = sqrt(v); }
      else Lm[a * k + b] = v / Lm[b * k + b];
    }
  double *y = x + k;  /* room: x has 2k */
  for (size_t a = 0; a < n; a++) {
    double v = rhs[map[a]];
    for (size_t c = 0; c < a; c++) v -= Lm[a * k + c] * y[c];
    y[a] = v / Lm[a * k + a];
  }
  for (size_t a = n; a-- > 0;) {
    double v = y[a];
    for (size_t c = a + 1; c < n; c++) v -= Lm[c * k + a] * y[c];
    y[a] = v / Lm[a * k + a];
  }
  for (size_t j = 0; j < k; j++) x[j] = 0.0;
  for (size_t a = 0; a < n; a++) x[map[a]] = y[a];
  return 1;
}

gk_status gks_qp_weights(gks_problem *p, gks_mix *g, gk_error *err) {
  const gks_mix *f = p->f;
  size_t k = g->k, d = g->d, cg = gks_cov_len(g), cf = gks_cov_len(f);
  double *Q = gk_scratch_alloc(k * k + 8 * k, sizeof(double));
  double *Lm = gk_scratch_alloc(k * k, sizeof(double));
  size_t *map = gk_scratch_alloc(k, sizeof(size_t));
  unsigned char *P = gk_scratch_alloc(k, 1);
  if (!Q || !Lm || !map || !P) {
    gk_scratch_free(Q); gk_scratch_free(Lm); gk_scratch_free(map); gk_scratch_free(P);
    return gk_fail_nomem(err);
  }
  double *b = Q + k * k, *x1 = b + k, *x2 = x1 + 2 * k, *w = x2 + 2 * k, *gr = w + k;
  gk_status s = GK_OK;
  #pragma omp parallel for schedule(dynamic, 1) num_threads(p->threads) \
      if (gks_worth_threads((f->k + k) * k, d, f->full || g->full))
  for (size_t j = 0; j < k; j++) {
    gks_work *wk = &p->work[TID];
    gks_acc a = {0.0, 0.0};
    for (size_t i = 0; i < f->k; i++)
      gks_acc_add(&a, f->w[i] * exp(gks_pair_logz(f->mu + i * d, f->cov + i * cf, f->full, g->mu + j * d, g->cov + j * cg, g->full, d, wk, 0) - p->shift));
    b[j] = gks_acc_value(&a);
    for (size_t l = 0; l < k; l++)
      Q[j * k + l] = exp(gks_pair_logz(g->mu + j * d, g->cov + j * cg, g->full, g->mu + l * d, g->cov + l * cg, g->full, d, wk, 0) - p->shift);
  }
  for (size_t j = 0; j < k; j++) { w[j] = g->w[j]; P[j] = w[j] > 0.0; }
  double *one = gr;  /* the vector of ones */
  for (int it = 0; it < (int)(5 * k + 10); it++) {
    /* Equality-constrained minimiser on P: w = x1 + nu x2, Q x1 = b, Q x2 = 1, 1'w = 1. */
    for (size_t j = 0; j < k; j++) one[j] = 1.0;
    if (!solve_free(Q, k, P, b, x1, Lm, map) || !solve_free(Q, k, P, one, x2, Lm, map)) break;
    double s1 = 0.0, s2 = 0.0;
    for (size_t j = 0; j < k; j++) if (P[j]) { s1 += x1[j]; s2 += x2[j]; }
    double nu = (1.0 - s1) / s2;
    int feasible = 1;
    double alpha = 1.0;
    size_t block = k;
    for (size_t j = 0; j < k; j++) {
      if (!P[j]) continue;
      double pj = x1[j] + nu * x2[j];
      if (pj < 0.0) {
        feasible = 0;
        double a = w[j] / (w[j] - pj);
        if (a < alpha) { alpha = a; block = j; }
      }
    }
    if (!feasible) {
      for (size_t j = 0; j < k; j++) if (P[j]) w[j] += alpha * (x1[j] + nu * x2[j] - w[j]);
      if (block < k) { P[block] = 0; w[block] = 0.0; }
      continue;
    }
    for (size_t j = 0; j < k; j++) w[j] = P[j] ? x1[j] + nu * x2[j] : 0.0;
    /* KKT: the multiplier of w_j >= 0 is (Q w - b)_j - nu; the most negative joins P. */
    size_t add = k;
    double worst = 0.0;
    for (size_t j = 0; j < k; j++) {
      if (P[j]) continue;
      double gj = -nu - b[j];
      for (size_t l = 0; l < k; l++) gj += Q[j * k + l] * w[l];
      if (gj < worst - 1e-14 * fabs(b[j])) { worst = gj; add = j; }
    }
    if (add == k) break;
    P[add] = 1;
  }
  double sw = 0.0;
  for (size_t j = 0; j < k; j++) { if (!(w[j] > 0.0)) w[j] = 0.0; sw += w[j]; }
  if (sw > 0.0 && isfinite(sw)) for (size_t j = 0; j < k; j++) g->w[j] = w[j] / sw;
  else s = gk_fail(err, GK_ENUMERIC, "weight QP failed");
  gk_scratch_free(Q); gk_scratch_free(Lm); gk_scratch_free(map); gk_scratch_free(P);
  return s;
}
