/*
 * simplify_merge.c: moment-preserving merges and the baselines of mixture reduction.
 *
 * topk      the Kg heaviest components, weights renormalised (the paper's initialisation).
 * runnalls  Runnalls, "Kullback-Leibler approach to Gaussian mixture reduction" (IEEE TAES
 *           2007): greedily merge the pair with the smallest upper bound on the KL
 *           discrimination, B(i,j) = 1/2 [(w_i + w_j) log|P_ij| - w_i log|S_i| - w_j log|S_j|],
 *           P_ij the covariance of the moment-preserving merge.
 * minise    the same greedy scheme with the local ISE of a merge as its cost:
 *           F(w_i N_i + w_j N_j, (w_i + w_j) N_ij) (Williams and Maybeck 2003, pairwise form).
 * gmrc      Goldberger and Roweis (NIPS 2004), Schieferdecker and Huber (2009): k-means over
 *           components, assignment by KL(f_i || g_j), centroids moment-matched, from runnalls.
 * brute     every partition of f into Kg blocks (Kf <= 12), each merged, ranked by NISE.
 */
#include "simplify_merge.h"

#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "gmmkit/alloc.h"
#include "gmmkit/parallel.h"

void gks_merge(const gks_mix *m, const size_t *idx, size_t n, int full, double *w,
               double *mu, double *cov) {
  size_t d = m->d, cl = gks_cov_len(m);
  double W = 0.0;
  for (size_t t = 0; t < n; t++) W += m->w[idx[t]];
  /* All-zero weights: the moments of the equally weighted set (never a division by 0). */
  int eq = !(W > 0.0);
  double den = eq ? (double)n : W;
  for (size_t a = 0; a < d; a++) {
    double s = 0.0;
    for (size_t t = 0; t < n; t++) s += (eq ? 1.0 : m->w[idx[t]]) * m->mu[idx[t] * d + a];
    mu[a] = s / den;
  }
  memset(cov, 0, (full ? d * d : d) * sizeof(double));
  /* Second moments about the merged mean (no cancellation of a large common offset). */
  for (size_t t = 0; t < n; t++) {
    size_t i = idx[t];
    double wi = (eq ? 1.0 : m->w[i]) / den;
    const double *mi = m->mu + i * d, *Si = m->cov + i * cl;
    if (full) {
      for (size_t a = 0; a < d; a++) {
        double da = mi[a] - mu[a];
        for (size_t b = 0; b <= a; b++) {
          double s = m->full ? Si[a * d + b] : (a == b ? Si[a] : 0.0);
          cov[a * d + b] += wi * (s + da * (mi[b] - mu[b]));
        }
      }
    } else {
      for (size_t a = 0; a < d; a++) {
        double da = mi[a] - mu[a];
        cov[a] += wi * ((m->full ? Si[a * d + a] : Si[a]) + da * da);
      }
    }
  }
  if (full)
    for (size_t a = 0; a < d; a++)
      for (size_t b = 0; b < a; b++) cov[b * d + a] = cov[a * d + b];
  *w = W;
}

gk_status gk_simplify_merge(const gk_gmm *g, const size_t *idx, size_t n, gk_cov_type cov_type,
                            double *w, double *mean, double *cov, gk_error *err) {
  if (n == 0) return gk_fail(err, GK_EINVAL, "merge: no components given");
  for (size_t t = 0; t < n; t++)
    if (idx[t] >= g->k)
      return gk_fail(err, GK_EINVAL, "merge: component index %zu out of range (model has %zu)", idx[t], g->k);
  gks_mix v = {g->k, g->d, g->cov == GK_COV_FULL, g->weights, g->means, g->covs};
  gks_merge(&v, idx, n, cov_type == GK_COV_FULL, w, mean, cov);
  return GK_OK;
}

/* ---- topk -------------------------------------------------------------------------------- */

gk_status gks_topk(const gks_mix *f, gks_mix *g, size_t *assign, gk_error *err) {
  size_t kf = f->k, k = g->k, d = f->d;
  size_t *ord = gk_scratch_alloc(kf, sizeof(size_t));
  if (!ord) return gk_fail_nomem(err);
  /* Selection by repeated maximum (k is small next to Kf in every use; ties: lower index). */
  for (size_t i = 0; i < kf; i++) ord[i] = i;
  for (size_t t = 0; t < k; t++) {
    size_t best = t;
    for (size_t i = t + 1; i < kf; i++)
      if (f->w[ord[i]] > f->w[ord[best]] || (f->w[ord[i]] == f->w[ord[best]] && ord[i] < ord[best]))
        best = i;
    size_t tmp = ord[t]; ord[t] = ord[best]; ord[best] = tmp;
  }
  double W = 0.0;
  for (size_t t = 0; t < k; t++) W += f->w[ord[t]];
  for (size_t t = 0; t < k; t++) {
    size_t i = ord[t];
    gks_merge(f, &i, 1, g->full, &g->w[t], g->mu + t * d, g->cov + t * gks_cov_len(g));
    g->w[t] = W > 0.0 ? f->w[i] / W : 1.0 / (double)k;
  }
  if (assign) {
    for (size_t i = 0; i < kf; i++) assign[i] = SIZE_MAX;
    for (size_t t = 0; t < k; t++) assign[ord[t]] = t;
  }
  gk_scratch_free(ord);
  return GK_OK;
}

/* ---- greedy pairwise merging (runnalls, minise) ----------------------------------------- */

typedef struct greedy {
  gks_mix cur;        /* current components (f's covariance type), merged in place */
  unsigned char *active;
  double *cost;       /* K x K, symmetric */
  double *rowmin;
  size_t *rowarg;
  double *logdet;     /* log |S| of the current components */
  int kind;           /* 0 runnalls, 1 minise */
  double shift;       /* minise: overlaps as exp(log z - shift) */
  int threads;
  gks_work *work;     /* per thread */
  double *tmp;        /* per thread: merged mean and covariance */
} greedy;

/* Cost of merging current components i and j. */
static double pair_cost(greedy *G, size_t i, size_t j, gks_work *wk, double *tmp) {
  const gks_mix *m = &G->cur;
  size_t d = m->d, cl = gks_cov_len(m);
  size_t idx[2] = {i, j};
  double W, *mu = tmp, *S = tmp + d;
  gks_merge(m, idx, 2, m->full, &W, mu, S);
  gks_mix one = {1, d, m->full, &W, mu, S};
  double ldm = gks_logdet(&one, 0, wk);
  if (isnan(ldm)) return HUGE_VAL;
  double wi = m->w[i], wj = m->w[j];
  if (G->kind == 0)  /* Runnalls 2007, eq. (27): the KL upper bound */
    return 0.5 * ((wi + wj) * ldm - wi * G->logdet[i] - wj * G->logdet[j]);
  /* Local ISE: |w_i N_i + w_j N_j - W N_m|^2 (double-double over its six terms). */
  double sh = G->shift;
  double lzij = gks_pair_logz(m->mu + i * d, m->cov + i * cl, m->full, m->mu + j * d, m->cov + j * cl, m->full, d, wk, 0);
  double lzim = gks_pair_logz(m->mu + i * d, m->cov + i * cl, m->full, mu, S, m->full, d, wk, 0);
  double lzjm = gks_pair_logz(m->mu + j * d, m->cov + j * cl, m->full, mu, S, m->full, d, wk, 0);
  gks_acc a = {0.0, 0.0};
  gks_acc_add(&a, wi * wi * exp(gks_self_logz(G->logdet[i], d) - sh));
  gks_acc_add(&a, wj * wj * exp(gks_self_logz(G->logdet[j], d) - sh));
  gks_acc_add(&a, W * W * exp(gks_self_logz(ldm, d) - sh));
  gks_acc_add(&a, 2.0 * wi * wj * exp(lzij - sh));
  gks_acc_add(&a, -2.0 * W * wi * exp(lzim - sh));
  gks_acc_add(&a, -2.0 * W * wj * exp(lzjm - sh));
  double c = gks_acc_value(&a);
  return isfinite(c) ? (c > 0.0 ? c : 0.0) : HUGE_VAL;
}

static void row_min(greedy *G, size_t r) {
  size_t K = G->cur.k;
  double best = HUGE_VAL;
  size_t arg = K;
  for (size_t s = 0; s < K; s++)
    if (s != r && G->active[s] && (arg == K || G->cost[r * K + s] < best)) {
      best = G->cost[r * K + s];
      arg = s;
    }
  G->rowmin[r] = best;
  G->rowarg[r] = arg;
}

#ifdef _OPENMP
#define TID omp_get_thread_num()
#else
#define TID 0
#endif

/* The cost of every pair of G's components, and each row's minimum. */
static void greedy_costs(greedy *G) {
  size_t K = G->cur.k, d = G->cur.d;
  #pragma omp parallel for schedule(dynamic, 4) num_threads(G->threads) \
      if (gks_worth_threads(K * K / 2 * (G->kind ? 4 : 1), d, G->cur.full))
  for (size_t i = 0; i < K; i++) {
    G->cost[i * K + i] = HUGE_VAL;
    for (size_t j = i + 1; j < K; j++)
      G->cost[i * K + j] = pair_cost(G, i, j, &G->work[TID], G->tmp + (size_t)TID * (d + d * d));
  }
  for (size_t i = 0; i < K; i++)
    for (size_t j = 0; j < i; j++) G->cost[i * K + j] = G->cost[j * K + i];
  for (size_t i = 0; i < K; i++) row_min(G, i);
}

/* Merges the cheapest pair (i < j) into i, relabels j's members (lab) and updates the
 * costs of i and the row minima that involved i or j. */
static void greedy_merge_cheapest(greedy *G, size_t *lab) {
  size_t K = G->cur.k, d = G->cur.d, bi = K;
  for (size_t r = 0; r < K; r++)
    if (G->active[r] && (bi == K || G->rowmin[r] < G->rowmin[bi])) bi = r;
  size_t i = bi, j = G->rowarg[bi];
  if (j < i) { size_t t = i; i = j; j = t; }
  size_t idx[2] = {i, j};
  double W, *mu = G->tmp, *S = G->tmp + d;
  gks_merge(&G->cur, idx, 2, G->cur.full, &W, mu, S);
  G->cur.w[i] = W;
  memcpy(G->cur.mu + i * d, mu, d * sizeof(double));
  memcpy(G->cur.cov + i * gks_cov_len(&G->cur), S, gks_cov_len(&G->cur) * sizeof(double));
  G->logdet[i] = gks_logdet(&G->cur, i, &G->work[0]);
  G->active[j] = 0;
  for (size_t t = 0; t < K; t++) if (lab[t] == j) lab[t] = i;
  #pragma omp parallel for schedule(dynamic, 8) num_threads(G->threads) \
      if (gks_worth_threads(K * (G->kind ? 4 : 1), d, G->cur.full))
  for (size_t r = 0; r < K; r++) {
    if (!G->active[r] || r == i) continue;
    double c = pair_cost(G, r < i ? r : i, r < i ? i : r, &G->work[TID], G->tmp + (size_t)TID * (d + d * d));
    G->cost[r * K + i] = G->cost[i * K + r] = c;
  }
  for (size_t r = 0; r < K; r++) {
    if (!G->active[r]) continue;
    if (r == i || G->rowarg[r] == i || G->rowarg[r] == j) row_min(G, r);
    else if (G->cost[r * K + i] < G->rowmin[r] || (G->cost[r * K + i] == G->rowmin[r] && i < G->rowarg[r])) {
      G->rowmin[r] = G->cost[r * K + i];
      G->rowarg[r] = i;
    }
  }
}

static gk_status greedy_run(const gks_mix *f, gks_mix *g, int kind, double shift, int threads,
                            size_t *assign, gk_error *err) {
  size_t K = f->k, d = f->d, k = g->k;
  greedy G;
  memset(&G, 0, sizeof G);
  G.kind = kind;
  G.shift = shift;
  G.threads = threads < 1 ? 1 : threads;
  gk_status s = gks_mix_alloc(&G.cur, K, d, f->full, err);
  if (s != GK_OK) return s;
  gks_mix_copy(&G.cur, f);
  size_t *lab = gk_scratch_alloc(K, sizeof(size_t));
  G.active = gk_scratch_alloc(K, 1);
  G.cost = gk_scratch_alloc(K * K, sizeof(double));
  G.rowmin = gk_scratch_alloc(K, sizeof(double));
  G.rowarg = gk_scratch_alloc(K, sizeof(size_t));
  G.logdet = gk_scratch_alloc(K, sizeof(double));
  G.work = gk_scratch_alloc((size_t)G.threads, sizeof(gks_work));
  if (G.work) memset(G.work, 0, (size_t)G.threads * sizeof(gks_work));
  G.tmp = gk_scratch_alloc((size_t)G.threads * (d + d * d), sizeof(double));
  if (!lab || !G.active || !G.cost || !G.rowmin || !G.rowarg || !G.logdet || !G.work || !G.tmp) {
    s = gk_fail_nomem(err);
    goto done;
  }
  for (int t = 0; t < G.threads; t++)
    if ((s = gks_work_alloc(&G.work[t], d, err)) != GK_OK) goto done;
  for (size_t i = 0; i < K; i++) {
    lab[i] = i;
    G.active[i] = 1;
    G.logdet[i] = gks_logdet(&G.cur, i, &G.work[0]);
  }
  greedy_costs(&G);
  for (size_t left = K; left > k; left--) {
    if (gk_interrupted()) { s = gk_fail(err, GK_EINTR, "interrupted"); goto done; }
    greedy_merge_cheapest(&G, lab);
  }
  /* The surviving components, in index order. */
  {
    size_t t = 0;
    size_t *pos = G.rowarg;  /* reused: position of each survivor in g */
    for (size_t r = 0; r < K; r++) {
      if (!G.active[r]) continue;
      pos[r] = t;
      gks_merge(&G.cur, &r, 1, g->full, &g->w[t], g->mu + t * d, g->cov + t * gks_cov_len(g));
      t++;
    }
    if (assign) for (size_t r = 0; r < K; r++) assign[r] = pos[lab[r]];
  }
done:
  if (G.work) for (int t = 0; t < G.threads; t++) gks_work_free(&G.work[t]);
  gk_scratch_free(G.work); gk_scratch_free(G.tmp);
  gk_scratch_free(lab); gk_scratch_free(G.active); gk_scratch_free(G.cost);
  gk_scratch_free(G.rowmin); gk_scratch_free(G.rowarg); gk_scratch_free(G.logdet);
  gks_mix_free(&G.cur);
  return s;
}

gk_status gks_runnalls(const gks_mix *f, gks_mix *g, size_t *assign, int threads,
                       gk_error *err) {
  return greedy_run(f, g, 0, 0.0, threads, assign, err);
}

gk_status gks_minise(const gks_mix *f, gks_mix *g, double shift, size_t *assign, int threads,
                     gk_error *err) {
  return greedy_run(f, g, 1, shift, threads, assign, err);
}

/* ---- gmrc: k-means over components --------------------------------------------------------- */

/* KL(N(mi, Si) || N(mj, Sj)) with Sj^-1 given (full: d x d, else d) and log|Sj|, log|Si|. */
static double gauss_kl(const double *mi, const double *Si, int fi, const double *mj,
                       const double *Pj, int fj, double ldi, double ldj, size_t d) {
  double tr = 0.0, q = 0.0;
  if (fj) {
    for (size_t a = 0; a < d; a++) {
      if (fi) for (size_t b = 0; b < d; b++) tr += Pj[a * d + b] * Si[b * d + a];
      else tr += Pj[a * d + a] * Si[a];
      double s = 0.0;
      for (size_t b = 0; b < d; b++) s += Pj[a * d + b] * (mj[b] - mi[b]);
      q += (mj[a] - mi[a]) * s;
    }
  } else {
    for (size_t a = 0; a < d; a++) {
      tr += Pj[a] * (fi ? Si[a * d + a] : Si[a]);
      q += Pj[a] * (mj[a] - mi[a]) * (mj[a] - mi[a]);
    }
  }
  return 0.5 * (tr + q - (double)d + ldj - ldi);
}

/* Inverse of a symmetric positive definite d x d matrix (or of a diagonal) into P, and its
 * log-determinant; 0 when not positive definite. */
static int spd_inverse(const double *S, int full, size_t d, double *P, double *ld, gks_work *wk) {
  if (!full) {
    double s = 0.0;
    for (size_t a = 0; a < d; a++) { if (!(S[a] > 0.0)) return 0; P[a] = 1.0 / S[a]; s += log(S[a]); }
    *ld = s;
    return 1;
  }
  /* z(0; 0, S/2 + S/2) with grad gives S^-1 and log|S| through the pair kernel (the zero
   * mean lives in P until the result is copied there). */
  for (size_t a = 0; a < d * d; a++) wk->t[a] = 0.5 * S[a];
  memset(P, 0, d * sizeof(double));
  double lz = gks_pair_logz(P, wk->t, 1, P, wk->t, 1, d, wk, 1);
  if (isnan(lz)) return 0;
  memcpy(P, wk->Sinv, d * d * sizeof(double));
  *ld = -2.0 * lz - (double)d * 1.8378770664093454836;
  return 1;
}

gk_status gks_gmrc(const gks_mix *f, gks_mix *g, int max_iter, int threads,
                   gk_simplify_info *info, gk_error *err) {
  size_t K = f->k, k = g->k, d = f->d, cf = gks_cov_len(f);
  gks_mix c;  /* centroids in f's covariance type */
  gk_status s = gks_mix_alloc(&c, k, d, f->full, err);
  if (s != GK_OK) return s;
  size_t *lab = gk_scratch_alloc(K, sizeof(size_t)), *idx = gk_scratch_alloc(K, sizeof(size_t));
  double *P = gk_scratch_alloc(k * cf, sizeof(double)), *ldc = gk_scratch_alloc(k, sizeof(double));
  double *ldf = gk_scratch_alloc(K, sizeof(double)), *kl = gk_scratch_alloc(K, sizeof(double));
  gks_work wk = {0};
  int *changes = NULL;
  if (!lab || !idx || !P || !ldc || !ldf || !kl || (s = gks_work_alloc(&wk, d, err)) != GK_OK) {
    if (s == GK_OK) s = gk_fail_nomem(err);
    goto done;
  }
  if ((s = gks_runnalls(f, &c, lab, threads, err)) != GK_OK) goto done;
  /* Runnalls' survivors are the moment-matched merges of their blocks: lab is consistent. */
  for (size_t i = 0; i < K; i++) ldf[i] = gks_logdet(f, i, &wk);
  int it = 0, conv = 0;
  changes = gk_scratch_alloc(max_iter > 0 ? (size_t)max_iter : 1, sizeof(int));
  if (!changes) { s = gk_fail_nomem(err); goto done; }
  for (it = 0; it < max_iter; it++) {
    if (gk_interrupted()) { s = gk_fail(err, GK_EINTR, "interrupted"); goto done; }
    for (size_t j = 0; j < k; j++)
      if (!spd_inverse(c.cov + j * cf, f->full, d, P + j * cf, &ldc[j], &wk)) {
        s = gk_fail(err, GK_ENUMERIC, "gmrc: centroid %zu has a covariance that is not positive definite", j + 1);
        goto done;
      }
    int nch = 0;
    for (size_t i = 0; i < K; i++) {
      size_t best = lab[i];
      double bv = HUGE_VAL;
      for (size_t j = 0; j < k; j++) {
        double v = gauss_kl(f->mu + i * d, f->cov + i * cf, f->full, c.mu + j * d, P + j * cf,
                            f->full, ldf[i], ldc[j], d);
        if (v < bv) { bv = v; best = j; }
      }
      kl[i] = f->w[i] * bv;
      if (best != lab[i]) { lab[i] = best; nch++; }
    }
    /* An empty cluster takes the worst-explained component of a cluster with two or more. */
    for (size_t j = 0; j < k; j++) {
      size_t n = 0;
      for (size_t i = 0; i < K; i++) n += lab[i] == j;
      if (n) continue;
      size_t wi = K;
      for (size_t i = 0; i < K; i++) {
        size_t m = 0;
        for (size_t q = 0; q < K; q++) m += lab[q] == lab[i];
        if (m >= 2 && (wi == K || kl[i] > kl[wi])) wi = i;
      }
      lab[wi] = j;
      kl[wi] = 0.0;
      nch++;
    }
    changes[it] = nch;
    for (size_t j = 0; j < k; j++) {
      size_t n = 0;
      for (size_t i = 0; i < K; i++) if (lab[i] == j) idx[n++] = i;
      gks_merge(f, idx, n, f->full, &c.w[j], c.mu + j * d, c.cov + j * cf);
    }
    if (nch == 0) { conv = 1; it++; break; }
  }
  gks_mix_copy(g, &c);
  if (info) {
    /* every centroid is the moment-matched merge of its block: lab is g's partition */
    if (info->assignment) memcpy(info->assignment, lab, K * sizeof(size_t));
    info->iterations = it;
    info->converged = conv;
    info->changes = changes;
    info->n_changes = (size_t)it;
    changes = NULL;
  }
done:
  gk_scratch_free(changes);
  gks_work_free(&wk);
  gk_scratch_free(lab); gk_scratch_free(idx); gk_scratch_free(P); gk_scratch_free(ldc);
  gk_scratch_free(ldf); gk_scratch_free(kl);
  gks_mix_free(&c);
  return s;
}

/* ---- brute force over partitions ------------------------------------------------------------ */

typedef struct cand { double nise; uint64_t index; unsigned char lab[16]; } cand;

/* Inserts into the ascending list (nise, index) of at most n. */
static void cand_insert(cand *list, int *len, int n, const cand *c) {
  int pos = *len;
  while (pos > 0 && (list[pos - 1].nise > c->nise ||
                     (list[pos - 1].nise == c->nise && list[pos - 1].index > c->index))) pos--;
  if (pos >= n) return;
  int last = *len < n ? *len : n - 1;
  for (int t = last; t > pos; t--) list[t] = list[t - 1];
  list[pos] = *c;
  if (*len < n) (*len)++;
}

/* Next restricted growth string of length n with exactly k blocks (a[0] = 0, a[i] <=
 * 1 + max a[<i]); 0 when there is none. */
static int rgs_next(unsigned char *a, size_t n, size_t k) {
  unsigned char mx[16];
  for (;;) {
    mx[0] = 0;
    for (size_t i = 1; i < n; i++) mx[i] = a[i - 1] > mx[i - 1] ? a[i - 1] : mx[i - 1];
    size_t i = n - 1;
    while (i > 0 && (a[i] > mx[i] || a[i] + 1u >= k)) i--;
    if (i == 0) return 0;
    a[i]++;
    unsigned char m = a[i] > mx[i] ? a[i] : mx[i];
    for (size_t j = i + 1; j < n; j++) a[j] = 0;
    /* Fill the tail so that k blocks are reached with the smallest string. */
    size_t need = k - 1 > m ? k - 1 - m : 0;
    if (need > n - 1 - i) continue;
    for (size_t t = 0; t < need; t++) a[n - need + t] = (unsigned char)(m + 1 + t);
    return 1;
  }
}

gk_status gks_brute(const gks_mix *f, size_t k, gks_problem *p, gks_mix *best, int nbest,
                    int *nfound, gk_error *err) {
  size_t n = f->k, d = f->d;
  if (n > 12) return gk_fail(err, GK_EINVAL, "brute: f has %zu components (at most 12)", n);
  int nt = p->threads;
  cand *lists = gk_scratch_alloc((size_t)nt * (size_t)nbest, sizeof(cand));
  int *lens = gk_scratch_alloc((size_t)nt, sizeof(int));
  gks_problem *pp = gk_scratch_alloc((size_t)nt, sizeof(gks_problem));
  gks_mix *gm = gk_scratch_alloc((size_t)nt, sizeof(gks_mix));
  size_t *idx = gk_scratch_alloc((size_t)nt * n, sizeof(size_t));
  gk_status s = GK_OK;
  if (!lists || !lens || !pp || !gm || !idx) { s = gk_fail_nomem(err); goto out; }
  memset(pp, 0, (size_t)nt * sizeof(gks_problem));
  memset(gm, 0, (size_t)nt * sizeof(gks_mix));
  for (int t = 0; t < nt; t++) {
    lens[t] = 0;
    if ((s = gks_problem_init(&pp[t], f, k, 1, p->shift, err)) != GK_OK) goto out;
    if ((s = gks_mix_alloc(&gm[t], k, d, best[0].full, err)) != GK_OK) goto out;
  }
  int intr = 0;
  #pragma omp parallel num_threads(nt)
  {
    int t = TID, nthr = 1;
#ifdef _OPENMP
    nthr = omp_get_num_threads();
#endif
    unsigned char a[16] = {0};
    for (size_t i = 0; i < n; i++) a[i] = i + k >= n ? (unsigned char)(i + k - n) : 0;
    uint64_t index = 0;
    int more = 1;
    size_t *ix = idx + (size_t)t * n;
    for (; more; more = rgs_next(a, n, k), index++) {
      if (index % (uint64_t)nthr != (uint64_t)t) continue;
      if ((index & 4095) == 0 && gk_interrupted()) { intr = 1; break; }
      for (size_t b = 0; b < k; b++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++) if (a[i] == b) ix[m++] = i;
        gks_merge(f, ix, m, gm[t].full, &gm[t].w[b], gm[t].mu + b * d, gm[t].cov + b * gks_cov_len(&gm[t]));
      }
      double F, gg;
      if (gks_eval(&pp[t], &gm[t], &F, NULL, &gg, NULL)) continue;
      cand c;
      c.nise = F / (gks_acc_value(&pp[t].ff) + gg);
      c.index = index;
      memcpy(c.lab, a, sizeof c.lab);
      cand_insert(lists + (size_t)t * (size_t)nbest, &lens[t], nbest, &c);
    }
  }
  if (intr) { s = gk_fail(err, GK_EINTR, "interrupted"); goto out; }
  /* Merge the per-thread lists in (nise, index) order: independent of the thread count. */
  {
    cand *all = lists;  /* thread 0's list receives the others */
    int len = lens[0];
    for (int t = 1; t < nt; t++)
      for (int q = 0; q < lens[t]; q++) cand_insert(all, &len, nbest, &lists[(size_t)t * (size_t)nbest + q]);
    for (int q = 0; q < len; q++) {
      for (size_t b = 0; b < k; b++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++) if (all[q].lab[i] == b) idx[m++] = i;
        gks_merge(f, idx, m, best[q].full, &best[q].w[b], best[q].mu + b * d, best[q].cov + b * gks_cov_len(&best[q]));
      }
    }
    *nfound = len;
  }
out:
  if (pp) for (int t = 0; t < nt; t++) gks_problem_free(&pp[t]);
  if (gm) for (int t = 0; t < nt; t++) gks_mix_free(&gm[t]);
  gk_scratch_free(lists); gk_scratch_free(lens); gk_scratch_free(pp); gk_scratch_free(gm);
  gk_scratch_free(idx);
  return s;
}
