/*
 * simplify_ise.c: the chi-squared (ISE) objective of GMM simplification and its gradient.
 *
 *   F = vf' Zf vf - 2 vf' Zfg vg + vg' Zg vg,  Z_ij = N(mu_i; mu_j, S_i + S_j)  (paper eq. 5-7)
 *
 * Each overlap is formed in the log domain from the Cholesky factor of S_i + S_j and
 * enters the sums as exp(log z - shift) with one shift per problem (z_ij <= sqrt(z_ii
 * z_jj), so the largest self-overlap bounds every term), accumulated in double-double.
 *
 * Gradient (derived here; the paper's eq. 9 drops a factor 2 in the mean term). With
 * S = S_a + S_b, delta = mu_a - mu_b, u = S^-1 delta:
 *   d z / d mu_a = -z u,   d z / d mu_b = z u,   d z / d S = z/2 (u u' - S^-1)
 * so for component j of g, summing over f's components i and g's components l:
 *   dF/dw_j = -2 sum_i v_i z_ij + 2 sum_l w_l z_jl
 *   dF/dm_j = -2 w_j sum_i v_i z_ij u_ij - 2 w_j sum_l w_l z_jl u_jl
 *   dF/dS_j = -w_j sum_i v_i z_ij (u u' - S^-1)_ij + w_j sum_l w_l z_jl (u u' - S^-1)_jl
 * (the l = j term of the last line is d(w_j^2 z(2 S_j))/dS_j, whose factor 2 cancels the 1/2).
 */
#include "simplify_ise.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "gmmkit/alloc.h"
#include "gmmkit/parallel.h"
#include "gmmkit/random.h"

/* ---- small things --------------------------------------------------------------- */

gk_status gks_mix_alloc(gks_mix *m, size_t k, size_t d, int full, gk_error *err) {
  memset(m, 0, sizeof *m);
  size_t cl = full ? d * d : d;
  m->w = gk_scratch_alloc(k, sizeof(double));
  m->mu = gk_scratch_alloc(k * d, sizeof(double));
  m->cov = gk_scratch_alloc(k * cl, sizeof(double));
  if (!m->w || !m->mu || !m->cov) {
    gks_mix_free(m);
    return gk_fail_nomem(err);
  }
  m->k = k; m->d = d; m->full = full;
  return GK_OK;
}

void gks_mix_free(gks_mix *m) {
  gk_scratch_free(m->w); gk_scratch_free(m->mu); gk_scratch_free(m->cov);
  memset(m, 0, sizeof *m);
}

void gks_mix_copy(gks_mix *dst, const gks_mix *src) {
  size_t k = dst->k < src->k ? dst->k : src->k, d = src->d;
  memcpy(dst->w, src->w, k * sizeof(double));
  memcpy(dst->mu, src->mu, k * d * sizeof(double));
  for (size_t c = 0; c < k; c++) {
    double *o = dst->cov + c * gks_cov_len(dst);
    const double *s = src->cov + c * gks_cov_len(src);
    if (dst->full == src->full) memcpy(o, s, gks_cov_len(src) * sizeof(double));
    else if (src->full) for (size_t a = 0; a < d; a++) o[a] = s[a * d + a];
    else {
      memset(o, 0, d * d * sizeof(double));
      for (size_t a = 0; a < d; a++) o[a * d + a] = s[a];
    }
  }
}

gk_status gks_work_alloc(gks_work *w, size_t d, gk_error *err) {
  w->d = d;
  /* S, Sinv, u, t (2 d + d^2 of room), then the four lanes of gks_pair_logz4 (d^2 + d
   * each, interleaved), 32-byte aligned for the lanes' vector loads. */
  w->mem = gk_scratch_alloc(3 * d * d + 3 * d + GKS_LANES * (d * d + d) + GKS_LANES, sizeof(double));
  if (!w->mem) return gk_fail_nomem(err);
  w->S = w->mem;
  w->Sinv = w->S + d * d;
  w->u = w->Sinv + d * d;
  w->t = w->u + d;  /* 2 d + d * d of room: the inverse factor lives here */
  uintptr_t lanes = (uintptr_t)(w->t + 2 * d + d * d);
  lanes = (lanes + 31u) & ~(uintptr_t)31u;
  w->U4 = (double *)lanes;
  w->t4 = w->U4 + GKS_LANES * d * d;
  return GK_OK;
}

void gks_work_free(gks_work *w) {
  gk_scratch_free(w->mem);
  w->mem = w->S = w->Sinv = w->u = w->t = w->U4 = w->t4 = NULL;
}

/* sum_k log x[k] as logs of products of 8 (each product stays well inside the double
 * range for the scales that occur), falling back to one log each when it would not. */
static double sum_log(const double *x, size_t n, size_t stride) {
  double s = 0.0;
  size_t k = 0;
  for (; k + 8 <= n; k += 8) {
    double p = 1.0;
    for (size_t j = 0; j < 8; j++) p *= x[(k + j) * stride];
    if (p > 1e-290 && p < 1e290) s += log(p);
    else for (size_t j = 0; j < 8; j++) s += log(x[(k + j) * stride]);
  }
  for (; k < n; k++) s += log(x[k * stride]);
  return s;
}

/* In-place lower Cholesky of the row-major d x d matrix S (lower triangle read); 0 when
 * not positive definite. */
static int chol_lower(double *S, size_t d) {
  for (size_t j = 0; j < d; j++) {
    double *Lj = S + j * d;
    double s = Lj[j];
    for (size_t k = 0; k < j; k++) s -= Lj[k] * Lj[k];
    if (!(s > 0.0) || !isfinite(s)) return 0;
    double ljj = sqrt(s), inv = 1.0 / ljj;
    Lj[j] = ljj;
    for (size_t i = j + 1; i < d; i++) {
      double *Li = S + i * d;
      double t = Li[j];
      for (size_t k = 0; k < j; k++) t -= Li[k] * Lj[k];
      Li[j] = t * inv;
    }
  }
  return 1;
}

/* y += a x over n entries (the loops below are written as such updates, not as dot
 * products, so that they vectorise without reassociating sums). */
static inline void axpy(size_t n, double a, const double *restrict x, double *restrict y) {
  for (size_t i = 0; i < n; i++) y[i] += a * x[i];
}

/* The dense kernels are also compiled for x86-64-v3 (AVX2, FMA) and chosen at load time
 * (GCC function multi-versioning); elsewhere they are plain C. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__gnu_linux__)
#define GKS_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define GKS_CLONES
#endif

/* y -= c0 a0 + c1 a1 + c2 a2 + c3 a3 over n entries: a rank-4 update loads and stores y
 * once for four multiply-adds (the blocked steps below are made of these). */
static inline void axpy4(size_t n, double c0, const double *restrict a0, double c1,
                         const double *restrict a1, double c2, const double *restrict a2,
                         double c3, const double *restrict a3, double *restrict y) {
  for (size_t j = 0; j < n; j++) y[j] -= (c0 * a0[j] + c1 * a1[j]) + (c2 * a2[j] + c3 * a3[j]);
}

/* Right-looking Cholesky S = U'U of the upper triangle of the row-major d x d matrix U
 * (rows i hold U_i,i..d-1); 0 when not positive definite. */
GKS_CLONES static int chol_upper(double *U, size_t d) {
  for (size_t k0 = 0; k0 < d; k0 += 4) {
    size_t k1 = k0 + 4 < d ? k0 + 4 : d;
    for (size_t k = k0; k < k1; k++) {  /* the panel of 4 rows */
      double *Uk = U + k * d;
      double p = Uk[k];
      if (!(p > 0.0) || !isfinite(p)) return 0;
      p = sqrt(p);
      Uk[k] = p;
      double ip = 1.0 / p;
      for (size_t j = k + 1; j < d; j++) Uk[j] *= ip;
      for (size_t i = k + 1; i < k1; i++) axpy(d - i, -Uk[i], Uk + i, U + i * d + i);
    }
    if (k1 - k0 == 4) {  /* the trailing rows, rank 4 at a time (k1 < d only then) */
      const double *A0 = U + k0 * d, *A1 = A0 + d, *A2 = A1 + d, *A3 = A2 + d;
      for (size_t i = k1; i < d; i++)
        axpy4(d - i, A0[i], A0 + i, A1[i], A1 + i, A2[i], A2 + i, A3[i], A3 + i, U + i * d + i);
    }
  }
  return 1;
}

/* The full branch of gks_pair_logz: S = Sa + Sb = U'U (right-looking Cholesky into the
 * upper triangle of wk->S, row k holding U_k,k..d-1) with the forward solve t = U'^-1 delta
 * interleaved, q = |t|^2. About d^3 / 6 multiply-adds, every loop a contiguous update. */
GKS_CLONES static double pair_full(const double *ma, const double *Sa, int fa, const double *mb,
                                   const double *Sb, int fb, size_t d, gks_work *wk) {
  double *U = wk->S, *t = wk->u, q = 0.0;
  for (size_t i = 0; i < d; i++) {
    double *Ui = U + i * d;
    if (fa) memcpy(Ui + i, Sa + i * d + i, (d - i) * sizeof(double));
    else { memset(Ui + i, 0, (d - i) * sizeof(double)); Ui[i] = Sa[i]; }
    if (fb) { const double *Bi = Sb + i * d; for (size_t j = i; j < d; j++) Ui[j] += Bi[j]; }
    else Ui[i] += Sb[i];
    t[i] = ma[i] - mb[i];
  }
  for (size_t k0 = 0; k0 < d; k0 += 4) {
    size_t k1 = k0 + 4 < d ? k0 + 4 : d;
    for (size_t k = k0; k < k1; k++) {  /* the panel of 4 rows, and t_k */
      double *Uk = U + k * d;
      double p = Uk[k];
      if (!(p > 0.0) || !isfinite(p)) return NAN;
      p = sqrt(p);
      Uk[k] = p;
      double ip = 1.0 / p;
      for (size_t j = k + 1; j < d; j++) Uk[j] *= ip;
      for (size_t i = k + 1; i < k1; i++) axpy(d - i, -Uk[i], Uk + i, U + i * d + i);
      t[k] *= ip;
      axpy(d - k - 1, -t[k], Uk + k + 1, t + k + 1);
      q += t[k] * t[k];
    }
    if (k1 - k0 == 4) {  /* the trailing rows, rank 4 at a time */
      const double *A0 = U + k0 * d, *A1 = A0 + d, *A2 = A1 + d, *A3 = A2 + d;
      for (size_t i = k1; i < d; i++)
        axpy4(d - i, A0[i], A0 + i, A1[i], A1 + i, A2[i], A2 + i, A3[i], A3 + i, U + i * d + i);
    }
  }
  wk->base = -0.5 * (double)d * GK_LOG_2PI - sum_log(U, d, d + 1);
  wk->q = q;
  return wk->base - 0.5 * q;
}

/* The gradient part of a full pair whose factor U is in wk->S: M = U'^-1 by rows,
 * S^-1 = M'M by rank-one rows (into wk->Sinv), u = S^-1 delta by columns. About d^3 / 3
 * multiply-adds. */
GKS_CLONES static void pair_full_grad(const double *ma, const double *mb, size_t d, gks_work *wk) {
  const double *U = wk->S;
  double *M = wk->Sinv;
  /* Rows of M are kept zero right of their diagonal, so that rank-4 updates may run over
   * whole blocks: M_i = (e_i - sum_{k<i} U_ki M_k) / U_ii. */
  for (size_t i = 0; i < d; i++) {
    double *Mi = M + i * d;
    memset(Mi, 0, d * sizeof(double));
    size_t k = 0;
    for (; k + 4 <= i; k += 4) {
      const double *M0 = M + k * d;
      axpy4(k + 4, U[k * d + i], M0, U[(k + 1) * d + i], M0 + d, U[(k + 2) * d + i], M0 + 2 * d,
            U[(k + 3) * d + i], M0 + 3 * d, Mi);
    }
    for (; k < i; k++) axpy(k + 1, -U[k * d + i], M + k * d, Mi);
    double inv = 1.0 / U[i * d + i];
    for (size_t j = 0; j < i; j++) Mi[j] *= inv;
    Mi[i] = inv;
  }
  /* P = M'M (lower triangle, P_a[0..a] += M_ka M_k[0..a], four k at a time) into U's room. */
  double *P = wk->S;
  for (size_t i = 0; i < d; i++) memset(P + i * d, 0, (i + 1) * sizeof(double));
  size_t k = 0;
  for (; k + 4 <= d; k += 4) {
    const double *M0 = M + k * d, *M1 = M0 + d, *M2 = M1 + d, *M3 = M2 + d;
    for (size_t a = 0; a < k + 4; a++)
      axpy4(a + 1, -M0[a], M0, -M1[a], M1, -M2[a], M2, -M3[a], M3, P + a * d);
  }
  for (; k < d; k++) {
    const double *Mk = M + k * d;
    for (size_t a = 0; a <= k; a++) axpy(a + 1, Mk[a], Mk, P + a * d);
  }
  for (size_t a = 0; a < d; a++)
    for (size_t b = 0; b < a; b++) P[b * d + a] = P[a * d + b];
  double *u = wk->u;
  memset(u, 0, d * sizeof(double));
  for (size_t b = 0; b < d; b++) axpy(d, ma[b] - mb[b], P + b * d, u);
  /* S^-1 goes to wk->Sinv: swap the two d x d buffers instead of copying. */
  wk->S = wk->Sinv;
  wk->Sinv = P;
}

/* The diagonal branch, four dimensions per vector: q = sum (ma - mb)^2 / s with s = Sa + Sb,
 * 1 / s kept in iv (the gradient's S^-1), and log |s| with a single log: each s is split
 * into its binary exponent (summed as integers) and its mantissa in [1, 2) (multiplied),
 * log |s| = log(prod of mantissas) + (sum of exponents) ln 2. A pair with an s that is not
 * a positive normal number takes the careful path (one log per dimension); NaN when an s
 * is not positive. */
typedef double gks_v4 __attribute__((vector_size(32)));
typedef long long gks_i4 __attribute__((vector_size(32)));

static double pair_diag_careful(const double *ma, const double *Sa, const double *mb, const double *Sb,
                                size_t d, double *iv, gks_work *wk) {
  double q = 0.0, ld = 0.0;
  for (size_t k = 0; k < d; k++) {
    double v = Sa[k] + Sb[k], dl = ma[k] - mb[k];
    if (!(v > 0.0)) return NAN;
    iv[k] = 1.0 / v;  /* infinite for a subnormal s: q divides */
    q += dl * dl / v;
    ld += log(v);
  }
  wk->base = -0.5 * ((double)d * GK_LOG_2PI + ld);
  wk->q = q;
  return wk->base - 0.5 * q;
}

GKS_CLONES static double pair_diag(const double *ma, const double *Sa, const double *mb,
                                   const double *Sb, size_t d, double *iv, gks_work *wk) {
  const long long man = 0x000fffffffffffffLL, one = 0x3ff0000000000000LL;
  gks_v4 q = {0, 0, 0, 0}, m = {1, 1, 1, 1};
  gks_i4 e = {0, 0, 0, 0}, bad = {0, 0, 0, 0};
  size_t k = 0;
  for (; k + 4 <= d; k += 4) {
    gks_v4 a, b, x, y;
    memcpy(&a, Sa + k, sizeof a); memcpy(&b, Sb + k, sizeof b);
    memcpy(&x, ma + k, sizeof x); memcpy(&y, mb + k, sizeof y);
    gks_v4 v = a + b, dl = x - y, r = 1.0 / v;
    memcpy(iv + k, &r, sizeof r);
    q += dl * dl * r;
    gks_i4 bits, ex;
    memcpy(&bits, &v, sizeof bits);
    ex = bits >> 52;  /* the sign and the biased exponent: 1..2046 for a positive normal s */
    bad |= (ex < 1) | (ex > 2046);
    e += ex;
    bits = (bits & man) | one;
    gks_v4 mt;
    memcpy(&mt, &bits, sizeof mt);
    m *= mt;
    if ((k & 252) == 252) {  /* every 256 dimensions (64 factors a lane, < 2^64) the products are renormalised */
      memcpy(&bits, &m, sizeof bits);
      e += (bits >> 52) - 1023;
      bits = (bits & man) | one;
      memcpy(&m, &bits, sizeof m);
    }
  }
  double qq = (q[0] + q[1]) + (q[2] + q[3]), mm = (m[0] * m[1]) * (m[2] * m[3]);
  long long ee = (e[0] + e[1]) + (e[2] + e[3]);
  int ok = !(bad[0] | bad[1] | bad[2] | bad[3]);
  for (; k < d; k++) {
    double v = Sa[k] + Sb[k], dl = ma[k] - mb[k];
    iv[k] = 1.0 / v;
    qq += dl * dl * iv[k];
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    long long ex = (long long)(bits >> 52);
    ok &= ex >= 1 && ex <= 2046;
    ee += ex;
    bits = (bits & (uint64_t)man) | (uint64_t)one;
    double mt;
    memcpy(&mt, &bits, sizeof mt);
    mm *= mt;
  }
  if (!ok) return pair_diag_careful(ma, Sa, mb, Sb, d, iv, wk);
  /* ln 2 in two parts, the first with trailing zeros so that n ln2_hi is exact */
  const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
  double n = (double)(ee - 1023LL * (long long)d);
  double ld = n * ln2_hi + (log(mm) + n * ln2_lo);
  wk->base = -0.5 * ((double)d * GK_LOG_2PI + ld);
  wk->q = qq;
  return wk->base - 0.5 * qq;
}

/* The gradient part of a diagonal pair: S^-1 is the iv that pair_diag left in wk->t. */
static void pair_diag_grad(const double *ma, const double *mb, size_t d, gks_work *wk) {
  const double *iv = wk->t;
  for (size_t k = 0; k < d; k++) {
    wk->Sinv[k] = iv[k];
    wk->u[k] = (ma[k] - mb[k]) * iv[k];
  }
}

void gks_pair_grad(const double *ma, const double *mb, size_t d, int full, gks_work *wk) {
  if (full) pair_full_grad(ma, mb, d, wk);
  else pair_diag_grad(ma, mb, d, wk);
}

double gks_pair_logz(const double *ma, const double *Sa, int fa, const double *mb,
                     const double *Sb, int fb, size_t d, gks_work *wk, int grad) {
  if (!fa && !fb) {
    double lz = pair_diag(ma, Sa, mb, Sb, d, wk->t, wk);
    if (grad && !isnan(lz)) pair_diag_grad(ma, mb, d, wk);
    return lz;
  }
  double lz = pair_full(ma, Sa, fa, mb, Sb, fb, d, wk);
  if (grad && !isnan(lz)) pair_full_grad(ma, mb, d, wk);
  return lz;
}

/* ---- four pairs at once ----------------------------------------------------------------
 * The full pair's Cholesky has short, shrinking rows (d - k long), which keep one pair's
 * vector units half idle. Four pairs side by side, each entry of the four factors in one
 * vector (U4[(i d + j) lanes + l]), make every operation a whole vector: about 2.4 times
 * the single-pair kernel's rate at d = 38. Each lane does the single pair's operations,
 * its trailing updates grouped two rows at a time instead of four, so the two kernels
 * agree to rounding (test_simplify checks 5e-16). */

GKS_CLONES static void pair_full4(const double *const ma[GKS_LANES], const double *const Sa[GKS_LANES], int fa,
                                  const double *const mb[GKS_LANES], const double *const Sb[GKS_LANES], int fb,
                                  size_t d, gks_work *wk) {
  gks_v4 *U = (gks_v4 *)wk->U4, *t = (gks_v4 *)wk->t4, q = {0, 0, 0, 0};
  for (size_t i = 0; i < d; i++) {
    gks_v4 *Ui = U + i * d;
    for (size_t j = i; j < d; j++) {
      gks_v4 v;
      for (int l = 0; l < GKS_LANES; l++)
        v[l] = (fa ? Sa[l][i * d + j] : (i == j ? Sa[l][i] : 0.0)) + (fb ? Sb[l][i * d + j] : (i == j ? Sb[l][i] : 0.0));
      Ui[j] = v;
    }
    gks_v4 dv;
    for (int l = 0; l < GKS_LANES; l++) dv[l] = ma[l][i] - mb[l][i];
    t[i] = dv;
  }
  int ok[GKS_LANES] = {1, 1, 1, 1};
  for (size_t k = 0; k < d; k += 2) {
    size_t nk = k + 2 <= d ? 2 : 1;
    for (size_t kk = k; kk < k + nk; kk++) {  /* the pivot rows, the second updated by the first */
      gks_v4 *Uk = U + kk * d, p = Uk[kk], sq;
      for (int l = 0; l < GKS_LANES; l++) {
        ok[l] &= p[l] > 0.0 && isfinite(p[l]);
        sq[l] = sqrt(p[l] > 0.0 ? p[l] : 1.0);  /* a failed lane goes on harmlessly */
      }
      Uk[kk] = sq;
      gks_v4 ip = 1.0 / sq;
      for (size_t j = kk + 1; j < d; j++) Uk[j] *= ip;
      gks_v4 tk = t[kk] * ip;
      t[kk] = tk;
      q += tk * tk;
      if (kk == k && nk == 2) {
        gks_v4 c = Uk[k + 1], *U1 = U + (k + 1) * d;
        t[k + 1] -= tk * c;
        for (size_t j = k + 1; j < d; j++) U1[j] -= c * Uk[j];
      }
    }
    if (nk == 2) {  /* the trailing rows, rank 2 at a time */
      const gks_v4 *U0 = U + k * d, *U1 = U0 + d, t0 = t[k], t1 = t[k + 1];
      for (size_t i = k + 2; i < d; i++) {
        gks_v4 c0 = U0[i], c1 = U1[i], *Ui = U + i * d;
        t[i] -= t0 * c0 + t1 * c1;
        for (size_t j = i; j < d; j++) Ui[j] -= c0 * U0[j] + c1 * U1[j];
      }
    }
  }
  double *diag = wk->u;  /* free until a gradient */
  for (int l = 0; l < GKS_LANES; l++) {
    double ld = 0.0;
    if (ok[l]) {
      for (size_t k = 0; k < d; k++) diag[k] = wk->U4[(k * d + k) * GKS_LANES + l];
      ld = sum_log(diag, d, 1);
    }
    wk->base4[l] = ok[l] ? -0.5 * (double)d * GK_LOG_2PI - ld : NAN;
    wk->q4[l] = q[l];
  }
}

void gks_pair_logz4(const double *const ma[GKS_LANES], const double *const Sa[GKS_LANES], int fa,
                    const double *const mb[GKS_LANES], const double *const Sb[GKS_LANES], int fb, size_t n,
                    size_t d, gks_work *wk, double lz[GKS_LANES]) {
  if (fa || fb) {
    const double *pa[GKS_LANES], *qa[GKS_LANES], *pb[GKS_LANES], *qb[GKS_LANES];
    for (size_t l = 0; l < GKS_LANES; l++) {  /* idle lanes repeat the first pair */
      size_t s = l < n ? l : 0;
      pa[l] = ma[s]; qa[l] = Sa[s]; pb[l] = mb[s]; qb[l] = Sb[s];
    }
    pair_full4(pa, qa, fa, pb, qb, fb, d, wk);
    wk->lanes_full = 1;
  } else {
    for (size_t l = 0; l < n; l++) {  /* diagonal pairs are cheap: one at a time, 1 / s kept per lane */
      double v = pair_diag(ma[l], Sa[l], mb[l], Sb[l], d, wk->t4 + l * d, wk);
      wk->base4[l] = isnan(v) ? NAN : wk->base;
      wk->q4[l] = wk->q;
    }
    wk->lanes_full = 0;
  }
  for (size_t l = 0; l < n; l++) lz[l] = wk->base4[l] - 0.5 * wk->q4[l];
}

void gks_pair_lane(gks_work *wk, size_t lane, int factor) {
  size_t d = wk->d;
  wk->base = wk->base4[lane];
  wk->q = wk->q4[lane];
  if (!factor) return;
  if (wk->lanes_full) {
    for (size_t i = 0; i < d; i++)
      for (size_t j = i; j < d; j++) wk->S[i * d + j] = wk->U4[(i * d + j) * GKS_LANES + lane];
  } else {
    memcpy(wk->t, wk->t4 + lane * d, d * sizeof(double));
  }
}

double gks_logdet(const gks_mix *m, size_t k, gks_work *wk) {
  size_t d = m->d;
  const double *S = m->cov + k * gks_cov_len(m);
  if (!m->full) {
    for (size_t a = 0; a < d; a++) if (!(S[a] > 0.0)) return NAN;
    return sum_log(S, d, 1);
  }
  memcpy(wk->S, S, d * d * sizeof(double));
  if (!chol_upper(wk->S, d)) return NAN;
  return 2.0 * sum_log(wk->S, d, d + 1);
}

/* ---- the problem -------------------------------------------------------------------- */

static int clamp_threads(int t) {
  if (t <= 0) t = gk_threads();
  return t < 1 ? 1 : t;
}

gk_status gks_problem_init(gks_problem *p, const gks_mix *f, size_t kmax, int threads,
                           double shift, gk_error *err) {
  memset(p, 0, sizeof *p);
  p->f = f;
  p->threads = clamp_threads(threads);
  p->kmax = kmax > f->k ? kmax : f->k;
  p->work = gk_scratch_alloc((size_t)p->threads, sizeof(gks_work));
  if (p->work) memset(p->work, 0, (size_t)p->threads * sizeof(gks_work));
  p->part = gk_scratch_alloc(p->kmax * 6, sizeof(double));
  if (!p->work || !p->part) { gks_problem_free(p); return gk_fail_nomem(err); }
  for (int t = 0; t < p->threads; t++)
    if (gks_work_alloc(&p->work[t], f->d, err) != GK_OK) { gks_problem_free(p); return GK_ENOMEM; }
  if (!isfinite(shift)) {
    shift = -HUGE_VAL;
    for (size_t i = 0; i < f->k; i++) {
      double ld = gks_logdet(f, i, &p->work[0]);
      if (isnan(ld)) {
        gks_problem_free(p);
        return gk_fail(err, GK_ENUMERIC, "covariance of component %zu of f is not positive definite", i + 1);
      }
      double lz = gks_self_logz(ld, f->d);
      if (lz > shift) shift = lz;
    }
  }
  p->shift = shift;
  /* vf' Zf vf, one row per component, rows reduced in order. */
  size_t kf = f->k, d = f->d, cl = gks_cov_len(f);
  int bad = 0;
  #pragma omp parallel for schedule(dynamic, 1) num_threads(p->threads) reduction(|:bad) \
      if (gks_worth_threads(kf * kf / 2, d, f->full))
  for (size_t i = 0; i < kf; i++) {
#ifdef _OPENMP
    gks_work *wk = &p->work[omp_get_thread_num()];
#else
    gks_work *wk = &p->work[0];
#endif
    gks_acc acc = {0.0, 0.0};
    for (size_t j0 = i; j0 < kf && !bad; j0 += GKS_LANES) {  /* z is symmetric: each pair once, doubled */
      size_t n = kf - j0 < GKS_LANES ? kf - j0 : GKS_LANES;
      const double *ma[GKS_LANES], *Sa[GKS_LANES], *mb[GKS_LANES], *Sb[GKS_LANES];
      double lz[GKS_LANES];
      for (size_t l = 0; l < n; l++) {
        ma[l] = f->mu + i * d; Sa[l] = f->cov + i * cl;
        mb[l] = f->mu + (j0 + l) * d; Sb[l] = f->cov + (j0 + l) * cl;
      }
      gks_pair_logz4(ma, Sa, f->full, mb, Sb, f->full, n, d, wk, lz);
      for (size_t l = 0; l < n; l++) {
        if (isnan(lz[l])) { bad = 1; break; }
        gks_pair_lane(wk, l, 0);
        size_t j = j0 + l;
        double t = (f->w[i] * f->w[j]) * gks_pair_term(wk, shift);
        gks_acc_add(&acc, j == i ? t : 2.0 * t);
      }
    }
    p->part[2 * i] = acc.hi;
    p->part[2 * i + 1] = acc.lo;
  }
  if (bad) {
    gks_problem_free(p);
    return gk_fail(err, GK_ENUMERIC, "f has a pair of components whose summed covariance is not positive definite");
  }
  gks_acc ff = {0.0, 0.0};
  for (size_t i = 0; i < kf; i++) { gks_acc_add(&ff, p->part[2 * i]); ff.lo += p->part[2 * i + 1]; }
  p->ff = ff;
  if (!isfinite(gks_acc_value(&ff))) {
    gks_problem_free(p);
    return gk_fail(err, GK_ENUMERIC, "the squared norm of f overflows");
  }
  return GK_OK;
}

void gks_problem_free(gks_problem *p) {
  if (p->work) for (int t = 0; t < p->threads; t++) gks_work_free(&p->work[t]);
  gk_scratch_free(p->work);
  gk_scratch_free(p->part);
  p->work = NULL; p->part = NULL;
}

/* Adds c * (u u' - Sinv) to G (cov layout of g) for one pair; `pfull` says how the pair's
 * u / Sinv were formed (full when either side was full). */
static inline void add_cov_grad(double *G, int gfull, int pfull, size_t d, double c,
                                const gks_work *wk) {
  const double *u = wk->u, *Si = wk->Sinv;
  if (!pfull) {
    for (size_t a = 0; a < d; a++) G[a] += c * (u[a] * u[a] - Si[a]);
  } else if (!gfull) {
    for (size_t a = 0; a < d; a++) G[a] += c * (u[a] * u[a] - Si[a * d + a]);
  } else {
    for (size_t a = 0; a < d; a++) {
      double cu = c * u[a];
      double *Ga = G + a * d;
      const double *Sa = Si + a * d;
      for (size_t b = 0; b < d; b++) Ga[b] += cu * u[b] - c * Sa[b];
    }
  }
}

/* One side of component j's sums in gks_eval: its overlaps with every component of `o`
 * (f with sign -1, g itself with sign +1), formed four at a time, into `side` (the fg or
 * the gg sum) and aF, and where wanted into j's gradient (gw, gm, gS may be NULL). The
 * pairs are (o_i, j), so that u = S^-1 (mu_i - mu_j) on both sides; `self` is j's own
 * index in o (no mean term). Returns 1 when a pair is not positive definite. */
static int eval_side(const gks_mix *o, int sign, size_t self, const double *mj, const double *Sj, int jfull,
                     double wj, double shift, double negligible, gks_work *wk, gks_acc *side, gks_acc *aF,
                     double *gw, double *gm, double *gS) {
  size_t k = o->k, d = o->d, co = gks_cov_len(o);
  int pfull = o->full || jfull;
  const double *ma[GKS_LANES], *Sa[GKS_LANES], *mb[GKS_LANES], *Sb[GKS_LANES];
  double lz[GKS_LANES];
  for (size_t l = 0; l < GKS_LANES; l++) { mb[l] = mj; Sb[l] = Sj; }
  for (size_t i0 = 0; i0 < k; i0 += GKS_LANES) {
    size_t n = k - i0 < GKS_LANES ? k - i0 : GKS_LANES;
    for (size_t l = 0; l < n; l++) { ma[l] = o->mu + (i0 + l) * d; Sa[l] = o->cov + (i0 + l) * co; }
    gks_pair_logz4(ma, Sa, o->full, mb, Sb, jfull, n, d, wk, lz);
    for (size_t l = 0; l < n; l++) {
      size_t i = i0 + l;
      if (isnan(lz[l])) return 1;
      gks_pair_lane(wk, l, 0);
      double e = gks_pair_term(wk, shift), t = (o->w[i] * wj) * e;
      gks_acc_add(side, t);
      gks_acc_add(aF, sign < 0 ? -2.0 * t : t);
      if (gw) *gw += sign * 2.0 * o->w[i] * e;
      /* A pair's gradient part (two thirds of the cost of a full pair) only where the
       * term can matter: t (1 + q) below 1e-22 of f's squared norm moves neither F nor
       * its gradient in the last digit (most pairs of a speech-scale mixture are so far). */
      if ((!gm && !gS) || t * (1.0 + wk->q) < negligible) continue;
      gks_pair_lane(wk, l, 1);
      gks_pair_grad(ma[l], mj, d, pfull, wk);
      if (gm && i != self) { double c = sign * 2.0 * t; for (size_t a = 0; a < d; a++) gm[a] += c * wk->u[a]; }
      if (gS) add_cov_grad(gS, jfull, pfull, d, sign * t, wk);
    }
  }
  return 0;
}

int gks_eval(gks_problem *p, const gks_mix *g, double *F, double *fg, double *gg,
             gks_grad *grad) {
  const gks_mix *f = p->f;
  size_t kf = f->k, kg = g->k, d = f->d, cg = gks_cov_len(g);
  int pfull_fg = f->full || g->full;
  double shift = p->shift, negligible = 1e-22 * gks_acc_value(&p->ff);
  int bad = 0, want = grad != NULL;
  #pragma omp parallel for schedule(dynamic, 1) num_threads(p->threads) reduction(|:bad) \
      if (gks_worth_threads((kf + kg) * kg, d, pfull_fg))
  for (size_t j = 0; j < kg; j++) {
#ifdef _OPENMP
    gks_work *wk = &p->work[omp_get_thread_num()];
#else
    gks_work *wk = &p->work[0];
#endif
    const double *mj = g->mu + j * d, *Sj = g->cov + j * cg;
    double wj = g->w[j];
    double *gw = want && grad->w ? grad->w + j : NULL;
    double *gm = want && grad->mu ? grad->mu + j * d : NULL;
    double *gS = want && grad->cov ? grad->cov + j * cg : NULL;
    if (gw) *gw = 0.0;
    if (gm) memset(gm, 0, d * sizeof(double));
    if (gS) memset(gS, 0, cg * sizeof(double));
    gks_acc afg = {0.0, 0.0}, agg = {0.0, 0.0}, aF = {0.0, 0.0};
    bad |= eval_side(f, -1, (size_t)-1, mj, Sj, g->full, wj, shift, negligible, wk, &afg, &aF, gw, gm, gS);
    if (!bad) bad |= eval_side(g, 1, j, mj, Sj, g->full, wj, shift, negligible, wk, &agg, &aF, gw, gm, gS);
    double *pt = p->part + 6 * j;
    pt[0] = afg.hi; pt[1] = afg.lo; pt[2] = agg.hi; pt[3] = agg.lo; pt[4] = aF.hi; pt[5] = aF.lo;
  }
  if (bad) return -1;
  gks_acc afg = {0.0, 0.0}, agg = {0.0, 0.0}, aF = p->ff;
  for (size_t j = 0; j < kg; j++) {
    const double *pt = p->part + 6 * j;
    gks_acc_add(&afg, pt[0]); afg.lo += pt[1];
    gks_acc_add(&agg, pt[2]); agg.lo += pt[3];
    gks_acc_add(&aF, pt[4]); aF.lo += pt[5];
  }
  double vF = gks_acc_value(&aF), vfg = gks_acc_value(&afg), vgg = gks_acc_value(&agg);
  if (!isfinite(vF) || !isfinite(vfg) || !isfinite(vgg)) return -1;
  if (F) *F = vF;
  if (fg) *fg = vfg;
  if (gg) *gg = vgg;
  return 0;
}

/* ---- whitening ----------------------------------------------------------------------- */

gk_status gks_white_init(gks_white *wt, const gk_gmm *f, int full, int enable, gk_error *err) {
  size_t d = f->d, k = f->k;
  memset(wt, 0, sizeof *wt);
  wt->d = d;
  wt->full = full && enable;
  wt->c = gk_scratch_alloc(d + d * d, sizeof(double));
  if (!wt->c) return gk_fail_nomem(err);
  wt->L = wt->c + d;
  memset(wt->c, 0, (d + d * d) * sizeof(double));
  if (!enable) {
    for (size_t a = 0; a < d; a++) wt->L[a] = 1.0;
    return GK_OK;
  }
  for (size_t c = 0; c < k; c++)
    for (size_t a = 0; a < d; a++) wt->c[a] += f->weights[c] * f->means[c * d + a];
  /* Global covariance sum_c v_c (S_c + (mu_c - m)(mu_c - m)'), about the mean. */
  double *G = wt->L;
  size_t cl = gk_gmm_cov_size(f->cov, d);
  for (size_t c = 0; c < k; c++) {
    double v = f->weights[c];
    const double *mu = f->means + c * d, *S = f->covs + c * cl;
    if (wt->full) {
      for (size_t a = 0; a < d; a++)
        for (size_t b = 0; b <= a; b++) {
          double s = f->cov == GK_COV_FULL ? S[a * d + b] : (a == b ? S[a] : 0.0);
          G[a * d + b] += v * (s + (mu[a] - wt->c[a]) * (mu[b] - wt->c[b]));
        }
    } else {
      for (size_t a = 0; a < d; a++) {
        double s = f->cov == GK_COV_FULL ? S[a * d + a] : S[a];
        G[a] += v * (s + (mu[a] - wt->c[a]) * (mu[a] - wt->c[a]));
      }
    }
  }
  if (wt->full) {
    if (!chol_lower(G, d)) {
      gks_white_free(wt);
      return gk_fail(err, GK_ENUMERIC, "the global covariance of f is not positive definite");
    }
    for (size_t a = 0; a < d; a++) for (size_t b = a + 1; b < d; b++) G[a * d + b] = 0.0;
    wt->log_det_A = -sum_log(G, d, d + 1);
  } else {
    for (size_t a = 0; a < d; a++) {
      if (!(G[a] > 0.0)) {
        gks_white_free(wt);
        return gk_fail(err, GK_ENUMERIC, "the global variance of f in dimension %zu is not positive", a + 1);
      }
      G[a] = sqrt(G[a]);
    }
    wt->log_det_A = -sum_log(G, d, 1);
  }
  return GK_OK;
}

void gks_white_free(gks_white *wt) {
  gk_scratch_free(wt->c);
  wt->c = wt->L = NULL;
}

gk_status gks_white_apply(const gks_white *wt, const gk_gmm *f, gks_mix *out, gk_error *err) {
  size_t d = f->d, k = f->k, cl = gk_gmm_cov_size(f->cov, d);
  int ffull = f->cov == GK_COV_FULL || wt->full;
  gk_status s = gks_mix_alloc(out, k, d, ffull, err);
  if (s != GK_OK) return s;
  memcpy(out->w, f->weights, k * sizeof(double));
  if (!wt->full) {
    const double *sd = wt->L;
    for (size_t c = 0; c < k; c++) {
      for (size_t a = 0; a < d; a++)
        out->mu[c * d + a] = (f->means[c * d + a] - wt->c[a]) / sd[a];
      const double *S = f->covs + c * cl;
      double *O = out->cov + c * gks_cov_len(out);
      if (f->cov == GK_COV_FULL)
        for (size_t a = 0; a < d; a++)
          for (size_t b = 0; b < d; b++) O[a * d + b] = S[a * d + b] / (sd[a] * sd[b]);
      else
        for (size_t a = 0; a < d; a++) O[a] = S[a] / (sd[a] * sd[a]);
    }
    return GK_OK;
  }
  /* Full: M = L^-1, mu' = M (mu - c), S' = M S M'. */
  double *M = gk_scratch_alloc(2 * d * d, sizeof(double));
  if (!M) { gks_mix_free(out); return gk_fail_nomem(err); }
  double *T = M + d * d;
  const double *L = wt->L;
  memset(M, 0, d * d * sizeof(double));
  for (size_t i = 0; i < d; i++) {
    for (size_t k2 = 0; k2 < i; k2++) {
      double c = L[i * d + k2];
      for (size_t j = 0; j <= k2; j++) M[i * d + j] -= c * M[k2 * d + j];
    }
    for (size_t j = 0; j < i; j++) M[i * d + j] /= L[i * d + i];
    M[i * d + i] = 1.0 / L[i * d + i];
  }
  for (size_t c = 0; c < k; c++) {
    for (size_t a = 0; a < d; a++) {
      double v = 0.0;
      for (size_t b = 0; b <= a; b++) v += M[a * d + b] * (f->means[c * d + b] - wt->c[b]);
      out->mu[c * d + a] = v;
    }
    const double *S = f->covs + c * cl;
    double *O = out->cov + c * d * d;
    /* T = M S */
    for (size_t a = 0; a < d; a++)
      for (size_t b = 0; b < d; b++) {
        double v = 0.0;
        if (f->cov == GK_COV_FULL) for (size_t q = 0; q <= a; q++) v += M[a * d + q] * S[q * d + b];
        else v = b <= a ? M[a * d + b] * S[b] : 0.0;
        T[a * d + b] = v;
      }
    /* O = T M', symmetrised. */
    for (size_t a = 0; a < d; a++)
      for (size_t b = 0; b <= a; b++) {
        double v = 0.0;
        for (size_t q = 0; q <= b; q++) v += T[a * d + q] * M[b * d + q];
        O[a * d + b] = O[b * d + a] = v;
      }
  }
  gk_scratch_free(M);
  return GK_OK;
}

gk_status gks_white_undo(const gks_white *wt, const gks_mix *g, gk_cov_type cov, gk_gmm **out,
                         const gk_allocator *a, gk_error *err) {
  size_t d = g->d, k = g->k;
  gk_status s = gk_gmm_create(out, k, d, cov, a, err);
  if (s != GK_OK) return s;
  gk_gmm *m = *out;
  int full = cov == GK_COV_FULL;
  double wsum = 0.0;
  for (size_t c = 0; c < k; c++) wsum += g->w[c];
  for (size_t c = 0; c < k; c++) m->weights[c] = g->w[c] / wsum;
  for (size_t c = 0; c < k; c++) {
    const double *mu = g->mu + c * d, *S = g->cov + c * gks_cov_len(g);
    double *om = m->means + c * d, *oS = m->covs + c * (full ? d * d : d);
    if (!wt->full) {
      const double *sd = wt->L;
      for (size_t i = 0; i < d; i++) om[i] = wt->c[i] + sd[i] * mu[i];
      if (full) {
        for (size_t i = 0; i < d; i++)
          for (size_t j = 0; j < d; j++)
            oS[i * d + j] = (g->full ? S[i * d + j] : (i == j ? S[i] : 0.0)) * sd[i] * sd[j];
      } else {
        for (size_t i = 0; i < d; i++) oS[i] = (g->full ? S[i * d + i] : S[i]) * sd[i] * sd[i];
      }
    } else {
      const double *L = wt->L;
      for (size_t i = 0; i < d; i++) {
        double v = wt->c[i];
        for (size_t j = 0; j <= i; j++) v += L[i * d + j] * mu[j];
        om[i] = v;
      }
      /* L S L' (g is full whenever the transform is). */
      for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j <= i; j++) {
          double v = 0.0;
          for (size_t p = 0; p <= i; p++) {
            double t = 0.0;
            for (size_t q = 0; q <= j; q++) t += S[p * d + q] * L[j * d + q];
            v += L[i * d + p] * t;
          }
          if (full) oS[i * d + j] = oS[j * d + i] = v;
          else if (i == j) oS[i] = v;
        }
    }
  }
  s = gk_gmm_prepare(m, err);
  if (s != GK_OK) { gk_gmm_free(m); *out = NULL; }
  return s;
}

/* ---- distances between two models ---------------------------------------------------- */

/* A model as a working mixture without copying (read only). */
static gks_mix view(const gk_gmm *m) {
  gks_mix v;
  v.k = m->k; v.d = m->d; v.full = m->cov == GK_COV_FULL;
  v.w = m->weights; v.mu = m->means; v.cov = m->covs;
  return v;
}

gk_status gks_check_models(const gk_gmm *f, const gk_gmm *g, gk_error *err) {
  if (!f || !g) return gk_fail(err, GK_EINVAL, "a model is missing");
  if (f->d != g->d)
    return gk_fail(err, GK_EINVAL, "dimension mismatch: f has dimension %zu, g has %zu", f->d, g->d);
  const gk_gmm *m[2] = {f, g};
  const char *nm[2] = {"f", "g"};
  for (int t = 0; t < 2; t++) {
    size_t n = m[t]->k * gk_gmm_cov_size(m[t]->cov, m[t]->d);
    for (size_t i = 0; i < m[t]->k; i++)
      if (!isfinite(m[t]->weights[i]) || m[t]->weights[i] < 0.0)
        return gk_fail(err, GK_ENUMERIC, "weight of component %zu of %s is %g", i + 1, nm[t], m[t]->weights[i]);
    for (size_t i = 0; i < m[t]->k * m[t]->d; i++)
      if (!isfinite(m[t]->means[i]))
        return gk_fail(err, GK_ENUMERIC, "mean of component %zu of %s is not finite", i / m[t]->d + 1, nm[t]);
    for (size_t i = 0; i < n; i++)
      if (!isfinite(m[t]->covs[i]))
        return gk_fail(err, GK_ENUMERIC, "covariance of component %zu of %s is not finite",
                       i / gk_gmm_cov_size(m[t]->cov, m[t]->d) + 1, nm[t]);
  }
  return GK_OK;
}

/* The shift for a pair of models: the largest self-overlap of either. */
static gk_status pair_shift(const gks_mix *f, const gks_mix *g, gks_work *wk, double *shift,
                            gk_error *err) {
  double s = -HUGE_VAL;
  const gks_mix *m[2] = {f, g};
  for (int t = 0; t < 2; t++)
    for (size_t i = 0; i < m[t]->k; i++) {
      double ld = gks_logdet(m[t], i, wk);
      if (isnan(ld))
        return gk_fail(err, GK_ENUMERIC, "covariance of component %zu of %s is not positive definite",
                       i + 1, t ? "g" : "f");
      double lz = gks_self_logz(ld, f->d);
      if (lz > s) s = lz;
    }
  *shift = s;
  return GK_OK;
}

/* Sets up a problem for (f, g) with their common shift. */
static gk_status pair_problem(const gks_mix *vf, const gks_mix *vg, int threads, gks_problem *p,
                              gk_error *err) {
  gks_work wk;
  gk_status s = gks_work_alloc(&wk, vf->d, err);
  if (s != GK_OK) return s;
  double shift = 0.0;
  s = pair_shift(vf, vg, &wk, &shift, err);
  gks_work_free(&wk);
  if (s != GK_OK) return s;
  return gks_problem_init(p, vf, vg->k, threads, shift, err);
}

gk_status gk_simplify_terms_compute(const gk_gmm *f, const gk_gmm *g, int threads,
                                    gk_simplify_terms *t, gk_error *err) {
  gk_status s = gks_check_models(f, g, err);
  if (s != GK_OK) return s;
  gks_mix vf = view(f), vg = view(g);
  gks_problem p;
  s = pair_problem(&vf, &vg, threads, &p, err);
  if (s != GK_OK) return s;
  double F, fg, gg;
  int bad = gks_eval(&p, &vg, &F, &fg, &gg, NULL);
  double ff = gks_acc_value(&p.ff), shift = p.shift;
  gks_problem_free(&p);
  if (bad) return gk_fail(err, GK_ENUMERIC, "a pair of components of f and g has a summed covariance that is not positive definite");
  if (F < 0.0) F = 0.0;  /* rounding of the individual overlaps, far below their sizes */
  t->log_ff = log(ff) + shift;
  t->log_fg = log(fg) + shift;
  t->log_gg = log(gg) + shift;
  t->log_ise = F > 0.0 ? log(F) + shift : -HUGE_VAL;
  t->ise = exp(t->log_ise);
  t->nise = F / (ff + gg);
  double cs = -log(fg) + 0.5 * log(ff) + 0.5 * log(gg);
  t->cs = cs > 0.0 ? cs : 0.0;
  return GK_OK;
}

gk_status gk_simplify_ise(const gk_gmm *f, const gk_gmm *g, double *ise, gk_error *err) {
  gk_simplify_terms t;
  gk_status s = gk_simplify_terms_compute(f, g, 0, &t, err);
  if (s == GK_OK) *ise = t.ise;
  return s;
}

gk_status gk_simplify_nise(const gk_gmm *f, const gk_gmm *g, double *nise, gk_error *err) {
  gk_simplify_terms t;
  gk_status s = gk_simplify_terms_compute(f, g, 0, &t, err);
  if (s == GK_OK) *nise = t.nise;
  return s;
}

gk_status gk_simplify_cs(const gk_gmm *f, const gk_gmm *g, double *cs, gk_error *err) {
  gk_simplify_terms t;
  gk_status s = gk_simplify_terms_compute(f, g, 0, &t, err);
  if (s == GK_OK) *cs = t.cs;
  return s;
}

gk_status gk_simplify_gradient(const gk_gmm *f, const gk_gmm *g, double *ise, double *gw,
                               double *gm, double *gcov, gk_error *err) {
  gk_status s = gks_check_models(f, g, err);
  if (s != GK_OK) return s;
  gks_mix vf = view(f), vg = view(g);
  gks_problem p;
  s = pair_problem(&vf, &vg, 0, &p, err);
  if (s != GK_OK) return s;
  gks_grad gr = {gw, gm, gcov};
  double F;
  int bad = gks_eval(&p, &vg, &F, NULL, NULL, &gr);
  double scale = exp(p.shift);
  gks_problem_free(&p);
  if (bad) return gk_fail(err, GK_ENUMERIC, "a pair of components of f and g has a summed covariance that is not positive definite");
  size_t k = g->k, d = g->d, cl = gk_gmm_cov_size(g->cov, d);
  if (ise) *ise = F * scale;
  if (gw) for (size_t i = 0; i < k; i++) gw[i] *= scale;
  if (gm) for (size_t i = 0; i < k * d; i++) gm[i] *= scale;
  if (gcov) for (size_t i = 0; i < k * cl; i++) gcov[i] *= scale;
  return GK_OK;
}

/* ---- Monte Carlo KL ------------------------------------------------------------------- */

/* log g(x) from the prepared factors of g (chol, log_det); t: d scratch. */
static double model_logpdf(const gk_gmm *g, const double *x, double *t) {
  double mx = -HUGE_VAL, s = 0.0;
  /* Two passes keep it simple: maximum, then the sum of exponentials. */
  for (int pass = 0; pass < 2; pass++) {
    for (size_t c = 0; c < g->k; c++) {
      if (!(g->weights[c] > 0.0)) continue;
      double lp = gk_gmm_component_logpdf(g, c, x, t);
      if (pass == 0) { if (lp > mx) mx = lp; }
      else s += exp(lp - mx);
    }
  }
  return mx + log(s);
}

gk_status gk_simplify_kl(const gk_gmm *f, const gk_gmm *g, size_t samples, uint64_t seed,
                         int threads, double *kl, double *se, gk_error *err) {
  gk_status st = gks_check_models(f, g, err);
  if (st != GK_OK) return st;
  if (samples < 2) return gk_fail(err, GK_EINVAL, "samples must be at least 2 (got %zu)", samples);
  const size_t B = 1024;  /* fixed blocks: each has its own random stream */
  size_t nb = (samples + B - 1) / B, d = f->d;
  int nt = clamp_threads(threads);
  double *part = gk_scratch_alloc(nb * 4, sizeof(double));
  double *tmp = gk_scratch_alloc((size_t)nt * 2 * d, sizeof(double));
  if (!part || !tmp) { gk_scratch_free(part); gk_scratch_free(tmp); return gk_fail_nomem(err); }
  int intr = 0;
  #pragma omp parallel for schedule(dynamic, 1) num_threads(nt) reduction(|:intr)
  for (size_t b = 0; b < nb; b++) {
#ifdef _OPENMP
    double *x = tmp + (size_t)omp_get_thread_num() * 2 * d;
#else
    double *x = tmp;
#endif
    double *t = x + d;
    if (gk_interrupted()) { intr = 1; continue; }
    gk_rng r;
    gk_rng_seed(&r, seed, b + 1);
    size_t n = b + 1 < nb ? B : samples - b * B;
    gks_acc s1 = {0, 0}, s2 = {0, 0};
    for (size_t i = 0; i < n; i++) {
      double u = gk_rng_uniform(&r), cum = 0.0;
      size_t c = 0;
      for (; c + 1 < f->k; c++) { cum += f->weights[c]; if (u < cum) break; }
      while (c > 0 && !(f->weights[c] > 0.0)) c--;
      for (size_t a = 0; a < d; a++) t[a] = gk_rng_normal(&r);
      const double *mu = f->means + c * d;
      if (f->cov == GK_COV_DIAG)
        for (size_t a = 0; a < d; a++) x[a] = mu[a] + f->chol[c * d + a] * t[a];
      else
        for (size_t a = 0; a < d; a++) {
          double v = mu[a];
          for (size_t q = 0; q <= a; q++) v += f->chol[c * d * d + a * d + q] * t[q];
          x[a] = v;
        }
      double diff = model_logpdf(f, x, t) - model_logpdf(g, x, t);
      gks_acc_add(&s1, diff);
      gks_acc_add(&s2, diff * diff);
    }
    part[4 * b] = s1.hi; part[4 * b + 1] = s1.lo; part[4 * b + 2] = s2.hi; part[4 * b + 3] = s2.lo;
  }
  gk_scratch_free(tmp);
  if (intr) { gk_scratch_free(part); return gk_fail(err, GK_EINTR, "interrupted"); }
  gks_acc s1 = {0, 0}, s2 = {0, 0};
  for (size_t b = 0; b < nb; b++) {
    gks_acc_add(&s1, part[4 * b]); s1.lo += part[4 * b + 1];
    gks_acc_add(&s2, part[4 * b + 2]); s2.lo += part[4 * b + 3];
  }
  gk_scratch_free(part);
  double n = (double)samples, m = gks_acc_value(&s1) / n;
  double var = (gks_acc_value(&s2) - n * m * m) / (n - 1.0);
  *kl = m;
  if (se) *se = sqrt(var > 0.0 ? var / n : 0.0);
  if (!isfinite(m)) return gk_fail(err, GK_ENUMERIC, "the KL estimate is not finite (g has no mass where f has)");
  return GK_OK;
}
