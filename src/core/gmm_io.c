/*
 * gmm_io.c: model, statistics and checkpoint files of gmmkit/gmm.h (native binary
 * format, atomic writes, checksums) and Kaldi's text <DiagGMM> / <FullGMM> formats.
 */
#include "gmmkit/gmm.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lapacke.h>

#include "gmmkit/fileio.h"
#include "gmmkit/gselect.h"
#include "gmmkit/limits.h"
#include "kaldi_internal.h"

#define HEADER_BYTES 48
#define FORMAT_VERSION 1u

/* ---- little-endian encoding ---------------------------------------------------------- */

static void put_u64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint64_t get_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}
static void put_u32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
  return v;
}
static void put_f64(unsigned char *p, double x) {
  uint64_t v;
  memcpy(&v, &x, 8);
  put_u64(p, v);
}
static double get_f64(const unsigned char *p) {
  uint64_t v = get_u64(p);
  double x;
  memcpy(&x, &v, 8);
  return x;
}

/* FNV-1a, 64 bits, continued from h over n more bytes. */
static uint64_t fnv1a_more(uint64_t h, const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

/* FNV-1a, 64 bits, over the payload. */
static uint64_t fnv1a(const unsigned char *p, size_t n) { return fnv1a_more(0xcbf29ce484222325ull, p, n); }

/* A cursor over a payload buffer. */
typedef struct cur {
  unsigned char *p;
  size_t off;
} cur;

static void w_u64(cur *c, uint64_t v) { put_u64(c->p + c->off, v); c->off += 8; }
static void w_f64s(cur *c, const double *x, size_t n) {
  for (size_t i = 0; i < n; i++) put_f64(c->p + c->off + 8 * i, x[i]);
  c->off += 8 * n;
}
static uint64_t r_u64(cur *c) { uint64_t v = get_u64(c->p + c->off); c->off += 8; return v; }
static double r_f64(cur *c) { double v = get_f64(c->p + c->off); c->off += 8; return v; }
static void r_f64s(cur *c, double *x, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = get_f64(c->p + c->off + 8 * i);
  c->off += 8 * n;
}

/* Writes header + payload atomically. */
static gk_status write_file(const char *path, char kind, gk_cov_type cov, size_t k, size_t d,
                            const unsigned char *payload, size_t n, gk_error *err) {
  unsigned char h[HEADER_BYTES];
  memcpy(h, "GMMKIT", 6);
  h[6] = 0;
  h[7] = (unsigned char)kind;
  put_u32(h + 8, FORMAT_VERSION);
  put_u32(h + 12, (uint32_t)cov);
  put_u64(h + 16, k);
  put_u64(h + 24, d);
  put_u64(h + 32, n);
  put_u64(h + 40, fnv1a(payload, n));
  gk_atomic_file af;
  gk_status st = gk_atomic_open(&af, path, err);
  if (st != GK_OK) return st;
  if (fwrite(h, 1, HEADER_BYTES, af.fp) != HEADER_BYTES || (n && fwrite(payload, 1, n, af.fp) != n)) {
    gk_atomic_abort(&af);
    return gk_fail(err, GK_EIO, "%s: write failed: %s", path, strerror(errno));
  }
  return gk_atomic_commit(&af, err);
}

/* What a file that is not a native one looks like, as a hint naming its reader. */
static const char *other_format(const unsigned char *h) {
  size_t i = 0;
  while (i < HEADER_BYTES && (h[i] == ' ' || h[i] == '\t' || h[i] == '\n' || h[i] == '\r')) i++;
  const char *t = (const char *)h + i;
  size_t left = HEADER_BYTES - i;
  if ((left >= 9 && memcmp(t, "<DiagGMM>", 9) == 0) || (left >= 9 && memcmp(t, "<FullGMM>", 9) == 0) ||
      (left >= 14 && memcmp(t, "<DiagGMMBegin>", 14) == 0) || (left >= 14 && memcmp(t, "<FullGMMBegin>", 14) == 0))
    return ": it is a Kaldi text GMM; read it with gk.gmm.load_kaldi";
  if (h[0] == 0 && h[1] == 'B')
    return ": it is a binary Kaldi file; read a Kaldi GMM with gk.gmm.load_kaldi";
  if (memcmp(h, "\x93NUMPY", 6) == 0) return ": it is a NumPy .npy matrix; read it with gk.matrix.load";
  return "";
}

static const char *kind_name(char kind) {
  return kind == 'M' ? "a gmmkit model" : kind == 'S' ? "gmmkit statistics" : kind == 'G' ? "a gmmkit Gaussian selector"
                                                                                          : "a gmmkit training checkpoint";
}

/* The Lua function that reads a kind of file. */
static const char *reader_of(char kind) {
  return kind == 'M' ? "gk.gmm.load" : kind == 'S' ? "gk.gmm.load_stats" : kind == 'G' ? "gk.gmm.load_selector"
                                                                                        : "gk.gmm.train or gk.gmm.trainer with checkpoint and resume";
}

/* Reads and checks a file: header fields, sizes against the limits and the file size
 * (the regular file's, from gk_open_regular, before allocating), then the payload and its
 * checksum. `*payload` is scratch memory. */
static gk_status read_file(const char *path, char kind, gk_cov_type *cov, size_t *k, size_t *d,
                           unsigned char **payload, size_t *n, gk_error *err) {
  *payload = NULL;
  long long size = -1;
  FILE *f = gk_open_regular(path, &size, err);
  if (!f) return err ? err->status : GK_EIO;
  unsigned char h[HEADER_BYTES];
  gk_status st = gk_read_exact(f, h, HEADER_BYTES, "header", err);
  if (st != GK_OK) goto fail;
  if (memcmp(h, "GMMKIT", 6) != 0 || h[6] != 0) {
    st = gk_fail(err, GK_EFORMAT, "not a gmmkit file (bad magic)%s", other_format(h));
    goto fail;
  }
  if (h[7] != (unsigned char)kind) {
    int known = h[7] == 'M' || h[7] == 'S' || h[7] == 'C' || h[7] == 'G';
    st = gk_fail(err, GK_EFORMAT, "this file holds %s, not %s%s%s", known ? kind_name((char)h[7]) : "something unknown",
                 kind_name(kind), known ? "; read it with " : "", known ? reader_of((char)h[7]) : "");
    goto fail;
  }
  uint32_t ver = get_u32(h + 8), ct = get_u32(h + 12);
  uint64_t kk = get_u64(h + 16), dd = get_u64(h + 24), pn = get_u64(h + 32), sum = get_u64(h + 40);
  if (ver != FORMAT_VERSION) {
    st = gk_fail(err, GK_EFORMAT, "format version %u is not supported (this gmmkit reads version %u)", ver,
                 FORMAT_VERSION);
    goto fail;
  }
  if (ct > 1) {
    st = gk_fail(err, GK_EFORMAT, "unknown covariance type %u", ct);
    goto fail;
  }
  if (kk == 0 || dd == 0 || kk > GK_MAX_COMPONENTS || dd > GK_MAX_DIM) {
    st = gk_fail(err, GK_ELIMIT, "%llu components in dimension %llu: outside the limits (1..%u, 1..%u)",
                 (unsigned long long)kk, (unsigned long long)dd, GK_MAX_COMPONENTS, GK_MAX_DIM);
    goto fail;
  }
  if (size < 0 || (uint64_t)size != HEADER_BYTES + pn) {
    st = gk_fail(err, GK_EFORMAT, "truncated or padded: the file has %lld bytes, its header announces %llu",
                 size, (unsigned long long)(HEADER_BYTES + pn));
    goto fail;
  }
  *payload = gk_scratch_alloc(pn ? pn : 1, 1);
  if (!*payload) {
    st = gk_fail_nomem(err);
    goto fail;
  }
  st = gk_read_exact(f, *payload, pn, "payload", err);
  if (st != GK_OK) goto fail;
  if (fnv1a(*payload, pn) != sum) {
    st = gk_fail(err, GK_EFORMAT, "checksum mismatch: the file is corrupted");
    goto fail;
  }
  fclose(f);
  *cov = (gk_cov_type)ct;
  *k = kk;
  *d = dd;
  *n = pn;
  return GK_OK;
fail:
  fclose(f);
  gk_scratch_free(*payload);
  *payload = NULL;
  gk_error_prefix(err, path);
  return st;
}

/* ---- models ------------------------------------------------------------------------------ */

static size_t model_bytes(size_t k, size_t d, gk_cov_type cov) {
  return 8 * (k + k * d + k * gk_gmm_cov_size(cov, d));
}

static void write_model(cur *c, const gk_gmm *g) {
  w_f64s(c, g->weights, g->k);
  w_f64s(c, g->means, g->k * g->d);
  w_f64s(c, g->covs, g->k * gk_gmm_cov_size(g->cov, g->d));
}

static gk_status read_model(cur *c, size_t k, size_t d, gk_cov_type cov, const gk_allocator *a, gk_gmm **out,
                            gk_error *err) {
  gk_status st = gk_gmm_create(out, k, d, cov, a, err);
  if (st != GK_OK) return st;
  gk_gmm *g = *out;
  r_f64s(c, g->weights, k);
  r_f64s(c, g->means, k * d);
  r_f64s(c, g->covs, k * gk_gmm_cov_size(cov, d));
  st = gk_gmm_prepare(g, err);
  if (st != GK_OK) {
    gk_gmm_free(g);
    *out = NULL;
  }
  return st;
}

gk_status gk_gmm_save(const gk_gmm *g, const char *path, gk_error *err) {
  size_t n = model_bytes(g->k, g->d, g->cov);
  cur c = {gk_scratch_alloc(n, 1), 0};
  if (!c.p) return gk_fail_nomem(err);
  write_model(&c, g);
  gk_status st = write_file(path, 'M', g->cov, g->k, g->d, c.p, n, err);
  gk_scratch_free(c.p);
  return st;
}

gk_status gk_gmm_load(const char *path, gk_gmm **out, const gk_allocator *a, gk_error *err) {
  gk_cov_type cov;
  size_t k, d, n;
  unsigned char *p;
  *out = NULL;
  gk_status st = read_file(path, 'M', &cov, &k, &d, &p, &n, err);
  if (st != GK_OK) return st;
  if (n != model_bytes(k, d, cov)) {
    gk_scratch_free(p);
    return gk_fail(err, GK_EFORMAT, "%s: payload of %zu bytes does not fit %zu components in dimension %zu",
                   path, n, k, d);
  }
  cur c = {p, 0};
  st = read_model(&c, k, d, cov, a, out, err);
  gk_scratch_free(p);
  if (st != GK_OK) gk_error_prefix(err, path);
  return st;
}

/* ---- statistics ---------------------------------------------------------------------------- */

static size_t stats_bytes(size_t k, size_t d, gk_cov_type cov) {
  return 8 * (2 + k + 2 * k * d + k * gk_gmm_cov_size(cov, d));
}

gk_status gk_gmm_stats_save(const gk_gmm_stats *s, const char *path, gk_error *err) {
  size_t n = stats_bytes(s->k, s->d, s->cov);
  cur c = {gk_scratch_alloc(n, 1), 0};
  if (!c.p) return gk_fail_nomem(err);
  w_f64s(&c, &s->frames, 1);
  w_f64s(&c, &s->loglik, 1);
  w_f64s(&c, s->zero, s->k);
  w_f64s(&c, s->first, s->k * s->d);
  w_f64s(&c, s->second, s->k * gk_gmm_cov_size(s->cov, s->d));
  w_f64s(&c, s->shift, s->k * s->d);
  gk_status st = write_file(path, 'S', s->cov, s->k, s->d, c.p, n, err);
  gk_scratch_free(c.p);
  return st;
}

gk_status gk_gmm_stats_load(const char *path, gk_gmm_stats **out, const gk_allocator *a, gk_error *err) {
  gk_cov_type cov;
  size_t k, d, n;
  unsigned char *p;
  *out = NULL;
  gk_status st = read_file(path, 'S', &cov, &k, &d, &p, &n, err);
  if (st != GK_OK) return st;
  if (n != stats_bytes(k, d, cov)) {
    gk_scratch_free(p);
    return gk_fail(err, GK_EFORMAT, "%s: payload of %zu bytes does not fit statistics of %zu components in "
                   "dimension %zu", path, n, k, d);
  }
  st = gk_gmm_stats_create(out, k, d, cov, a, err);
  if (st == GK_OK) {
    gk_gmm_stats *s = *out;
    cur c = {p, 0};
    s->frames = r_f64(&c);
    s->loglik = r_f64(&c);
    r_f64s(&c, s->zero, k);
    r_f64s(&c, s->first, k * d);
    r_f64s(&c, s->second, k * gk_gmm_cov_size(cov, d));
    r_f64s(&c, s->shift, k * d);
  }
  gk_scratch_free(p);
  return st;
}

/* ---- checkpoints ---------------------------------------------------------------------------- */

#define CKPT_FIXED (8 * 14)

gk_status gk_gmm_trainer_save(const gk_gmm_trainer *t, uint64_t fingerprint, const char *path, gk_error *err) {
  const gk_gmm *g = t->model;
  size_t n = CKPT_FIXED + 8 * t->history_len + model_bytes(g->k, g->d, g->cov);
  cur c = {gk_scratch_alloc(n, 1), 0};
  if (!c.p) return gk_fail_nomem(err);
  w_u64(&c, fingerprint);
  w_u64(&c, t->iteration);
  w_u64(&c, t->stage);
  w_u64(&c, t->stage_iter);
  w_u64(&c, (uint64_t)t->splitting);
  w_u64(&c, t->target_k);
  w_u64(&c, t->events);
  w_u64(&c, t->history_len);
  w_f64s(&c, &t->frames, 1);
  w_f64s(&c, &t->update.var_floor, 1);
  w_f64s(&c, &t->update.var_floor_relative, 1);
  w_f64s(&c, &t->update.reg, 1);
  w_f64s(&c, &t->update.min_weight, 1);
  w_u64(&c, (uint64_t)t->update.death);
  w_f64s(&c, t->history, t->history_len);
  write_model(&c, g);
  gk_status st = write_file(path, 'C', g->cov, g->k, g->d, c.p, n, err);
  gk_scratch_free(c.p);
  return st;
}

/* The fixed fields of a checkpoint after the fingerprint, into t: *hl receives the history
 * length, *splitting and *death the stored values (checked by ckpt_state_ok). */
static void read_ckpt_state(cur *c, gk_gmm_trainer *t, uint64_t *hl, uint64_t *splitting, uint64_t *death) {
  t->iteration = r_u64(c);
  t->stage = r_u64(c);
  t->stage_iter = r_u64(c);
  *splitting = r_u64(c);
  t->splitting = *splitting != 0;
  t->target_k = r_u64(c);
  t->events = r_u64(c);
  *hl = r_u64(c);
  t->frames = r_f64(c);
  t->update.var_floor = r_f64(c);
  t->update.var_floor_relative = r_f64(c);
  t->update.reg = r_f64(c);
  t->update.min_weight = r_f64(c);
  *death = r_u64(c);
  t->update.death = *death == GK_DEATH_REMOVE ? GK_DEATH_REMOVE : GK_DEATH_RESPLIT;
}

/* The state training resumes from is checked as the options it came from were: a split
 * stage must still be below its target (growing to a smaller target copied K components
 * into fewer), the target within the limits, the options in range. */
static int ckpt_state_ok(const gk_gmm_trainer *t, size_t k, uint64_t splitting, uint64_t death) {
  const gk_gmm_update_opts *u = &t->update;
  return !(splitting > 1 || death > GK_DEATH_REMOVE || t->target_k == 0 ||
           t->target_k > GK_MAX_COMPONENTS || (t->splitting && k >= t->target_k) ||
           !(u->var_floor >= 0.0 && isfinite(u->var_floor)) ||
           !(u->var_floor_relative >= 0.0 && isfinite(u->var_floor_relative)) ||
           !(u->reg >= 0.0 && isfinite(u->reg)) || !(u->min_weight >= 0.0 && u->min_weight < 1.0) ||
           !(t->frames >= 0.0 && isfinite(t->frames)));
}

gk_status gk_gmm_trainer_load(const char *path, uint64_t fingerprint, gk_gmm_trainer **out,
                              const gk_allocator *a, gk_error *err) {
  gk_cov_type cov;
  size_t k, d, n;
  unsigned char *p;
  *out = NULL;
  gk_status st = read_file(path, 'C', &cov, &k, &d, &p, &n, err);
  if (st != GK_OK) return st;
  size_t mb = model_bytes(k, d, cov);
  cur c = {p, 0};
  gk_gmm_trainer *t = NULL;
  uint64_t hl, splitting, death;
  if (n < CKPT_FIXED + mb) {
    st = gk_fail(err, GK_EFORMAT, "%s: checkpoint payload too short", path);
    goto fail;
  }
  if (r_u64(&c) != fingerprint) {
    st = gk_fail(err, GK_EINVAL, "%s: the checkpoint was written for other data or options; "
                 "remove it or train without resume", path);
    goto fail;
  }
  if (!(t = gk_calloc(a, 1, sizeof *t))) {
    st = gk_fail_nomem(err);
    goto fail;
  }
  if (a) t->alloc = *a;
  read_ckpt_state(&c, t, &hl, &splitting, &death);
  if (hl != (n - CKPT_FIXED - mb) / 8 || n != CKPT_FIXED + mb + 8 * hl) {
    st = gk_fail(err, GK_EFORMAT, "%s: inconsistent checkpoint sizes", path);
    goto fail;
  }
  if (!ckpt_state_ok(t, k, splitting, death)) {
    st = gk_fail(err, GK_EFORMAT, "%s: inconsistent checkpoint state (%zu of %zu components, splitting %llu)",
                 path, k, t->target_k, (unsigned long long)splitting);
    goto fail;
  }
  if (hl) {
    if (!(t->history = gk_alloc(a, hl * sizeof(double)))) {
      st = gk_fail_nomem(err);
      goto fail;
    }
    t->history_cap = t->history_len = hl;
    r_f64s(&c, t->history, hl);
  }
  if ((st = read_model(&c, k, d, cov, a, &t->model, err)) != GK_OK) {
    gk_error_prefix(err, path);
    goto fail;
  }
  gk_scratch_free(p);
  *out = t;
  return GK_OK;
fail:
  gk_gmm_trainer_free(t);
  gk_scratch_free(p);
  return st;
}

/* ---- Kaldi text formats ------------------------------------------------------------------------
 * Written as Kaldi's WriteToken / Vector::Write / Matrix::Write / PackedMatrix::Write do in
 * text mode (src/gmm/diag-gmm.cc, full-gmm.cc, matrix/kaldi-vector.cc, packed-matrix.cc):
 *   <DiagGMM> \n<GCONSTS>  [ g1 g2 ]\n<WEIGHTS>  [ w1 w2 ]\n<MEANS_INVVARS>  [\n  a b \n  c d ]\n
 *   <INV_VARS>  [\n  ... ]\n</DiagGMM> \n
 * and for <FullGMM> the <MEANS_INVCOVARS> matrix and, after <INV_COVARS> , K lower-
 * triangular packed matrices "[\n p00 \n p10 p11 ]\n" (row i holds i + 1 values). */

static void kaldi_vector(FILE *f, const char *tok, const double *v, size_t n) {
  fprintf(f, "%s  [ ", tok);
  for (size_t i = 0; i < n; i++) fprintf(f, "%.10g ", v[i]);
  fprintf(f, "]\n");
}

static void kaldi_matrix(FILE *f, const char *tok, const double *m, size_t r, size_t c) {
  fprintf(f, "%s  [", tok);
  for (size_t i = 0; i < r; i++) {
    fprintf(f, "\n  ");
    for (size_t j = 0; j < c; j++) fprintf(f, "%.10g ", m[i * c + j]);
  }
  fprintf(f, "]\n");
}

/* Kaldi's stored parameters of `g`: gconsts (k), means times inverse covariances (k x d)
 * and the inverse covariances (k x d, or k full d x d), in scratch buffers. */
static gk_status kaldi_params(const gk_gmm *g, double **gcp, double **mip, double **ivp, gk_error *err) {
  size_t k = g->k, d = g->d, cs = gk_gmm_cov_size(g->cov, d);
  double *gc = *gcp = gk_scratch_alloc(k, sizeof(double));
  double *mi = *mip = gk_scratch_alloc(k * d, sizeof(double));
  double *iv = *ivp = gk_scratch_alloc(k * cs, sizeof(double));
  if (!gc || !mi || !iv) return gk_fail_nomem(err);
  for (size_t c = 0; c < k; c++) {
    const double *mu = g->means + c * d;
    double q = 0.0;
    if (g->cov == GK_COV_DIAG) {
      for (size_t j = 0; j < d; j++) {
        double v = g->covs[c * d + j];
        iv[c * d + j] = 1.0 / v;
        mi[c * d + j] = mu[j] / v;
        q += mu[j] * mu[j] / v;
      }
    } else {
      /* P = S^-1 from the Cholesky factor (dpotri). */
      double *P = iv + c * cs;
      memcpy(P, g->chol + c * cs, cs * sizeof(double));
      if (LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'L', (lapack_int)d, P, (lapack_int)d) != 0)
        return gk_fail(err, GK_ENUMERIC, "covariance of component %zu cannot be inverted", c + 1);
      for (size_t a = 0; a < d; a++)
        for (size_t b = 0; b < a; b++) P[b * d + a] = P[a * d + b];
      for (size_t a = 0; a < d; a++) {
        double s = 0.0;
        for (size_t b = 0; b < d; b++) s += P[a * d + b] * mu[b];
        mi[c * d + a] = s;
        q += s * mu[a];
      }
    }
    double lw = g->weights[c] > 0.0 ? log(g->weights[c]) : -INFINITY;
    gc[c] = lw - 0.5 * ((double)d * GK_LOG_2PI + g->log_det[c] + q);
  }
  return GK_OK;
}

static void kaldi_emit_text(FILE *f, const gk_gmm *g, const double *gc, const double *mi, const double *iv) {
  size_t k = g->k, d = g->d, cs = gk_gmm_cov_size(g->cov, d);
  int full = g->cov == GK_COV_FULL;
  fprintf(f, "%s \n", full ? "<FullGMM>" : "<DiagGMM>");
  kaldi_vector(f, "<GCONSTS>", gc, k);
  kaldi_vector(f, "<WEIGHTS>", g->weights, k);
  if (!full) {
    kaldi_matrix(f, "<MEANS_INVVARS>", mi, k, d);
    kaldi_matrix(f, "<INV_VARS>", iv, k, d);
    fprintf(f, "</DiagGMM> \n");
    return;
  }
  kaldi_matrix(f, "<MEANS_INVCOVARS>", mi, k, d);
  fprintf(f, "<INV_COVARS> ");
  for (size_t c = 0; c < k; c++) {
    const double *P = iv + c * cs;
    fprintf(f, "[\n");
    for (size_t a = 0; a < d; a++) {
      for (size_t b = 0; b <= a; b++) fprintf(f, "%.10g ", P[a * d + b]);
      fprintf(f, a + 1 == d ? "]\n" : "\n");
    }
  }
  fprintf(f, "</FullGMM> \n");
}

/* Binary values as Kaldi's Vector/Matrix/PackedMatrix<float>::Write write them (BaseFloat). */
static void kaldi_bin_floats(FILE *f, const char *tok, const double *v, size_t rows, size_t cols, int packed) {
  gk_kaldi_write_token(f, tok);
  if (tok[1] == 'M') gk_kaldi_write_int32(f, (int32_t)rows);
  gk_kaldi_write_int32(f, (int32_t)(tok[1] == 'V' ? rows * cols : cols));
  for (size_t a = 0; a < rows; a++)
    for (size_t b = 0; b < (packed ? a + 1 : cols); b++) {
      float x = (float)v[a * cols + b];
      fwrite(&x, 4, 1, f);
    }
}

/* DiagGmm::Write / FullGmm::Write in binary mode, after the "\0B" of a binary file. */
static void kaldi_emit_binary(FILE *f, const gk_gmm *g, const double *gc, const double *mi, const double *iv) {
  size_t k = g->k, d = g->d, cs = gk_gmm_cov_size(g->cov, d);
  int full = g->cov == GK_COV_FULL;
  fwrite("\0B", 1, 2, f);
  gk_kaldi_write_token(f, full ? "<FullGMM>" : "<DiagGMM>");
  gk_kaldi_write_token(f, "<GCONSTS>");
  kaldi_bin_floats(f, "FV", gc, 1, k, 0);
  gk_kaldi_write_token(f, "<WEIGHTS>");
  kaldi_bin_floats(f, "FV", g->weights, 1, k, 0);
  gk_kaldi_write_token(f, full ? "<MEANS_INVCOVARS>" : "<MEANS_INVVARS>");
  kaldi_bin_floats(f, "FM", mi, k, d, 0);
  if (!full) {
    gk_kaldi_write_token(f, "<INV_VARS>");
    kaldi_bin_floats(f, "FM", iv, k, d, 0);
  } else {
    gk_kaldi_write_token(f, "<INV_COVARS>");
    for (size_t c = 0; c < k; c++) kaldi_bin_floats(f, "FP", iv + c * cs, d, d, 1);
  }
  gk_kaldi_write_token(f, full ? "</FullGMM>" : "</DiagGMM>");
}

static gk_status save_kaldi(const gk_gmm *g, const char *path, int binary, gk_error *err) {
  double *gc = NULL, *mi = NULL, *iv = NULL;
  gk_status st = kaldi_params(g, &gc, &mi, &iv, err);
  gk_atomic_file af;
  if (st == GK_OK) st = gk_atomic_open(&af, path, err);
  if (st == GK_OK) {
    if (binary) kaldi_emit_binary(af.fp, g, gc, mi, iv);
    else kaldi_emit_text(af.fp, g, gc, mi, iv);
    if (ferror(af.fp)) {
      gk_atomic_abort(&af);
      st = gk_fail(err, GK_EIO, "%s: write failed", path);
    } else {
      st = gk_atomic_commit(&af, err);
    }
  }
  gk_scratch_free(gc);
  gk_scratch_free(mi);
  gk_scratch_free(iv);
  return st;
}

gk_status gk_gmm_save_kaldi(const gk_gmm *g, const char *path, gk_error *err) {
  return save_kaldi(g, path, 0, err);
}

gk_status gk_gmm_save_kaldi_binary(const gk_gmm *g, const char *path, gk_error *err) {
  return save_kaldi(g, path, 1, err);
}

/* A tokenizer over the whole text, tracking line breaks (matrix rows). */
typedef struct lex {
  const char *s, *end, *path;
  size_t line;
} lex;

static void skip_ws(lex *x, int *newline) {
  while (x->s < x->end && (*x->s == ' ' || *x->s == '\t' || *x->s == '\r' || *x->s == '\n')) {
    if (*x->s == '\n') {
      x->line++;
      if (newline) *newline = 1;
    }
    x->s++;
  }
}

/* The next whitespace-delimited token into buf (empty at the end). */
static void next_token(lex *x, char *buf, size_t n, int *newline) {
  if (newline) *newline = 0;
  skip_ws(x, newline);
  size_t i = 0;
  while (x->s < x->end && !(*x->s == ' ' || *x->s == '\t' || *x->s == '\r' || *x->s == '\n')) {
    if (i + 1 < n) buf[i++] = *x->s;
    x->s++;
  }
  buf[i] = 0;
}

static gk_status expect(lex *x, const char *tok, gk_error *err) {
  char b[64];
  next_token(x, b, sizeof b, NULL);
  if (strcmp(b, tok) != 0)
    return gk_fail(err, GK_EFORMAT, "%s:%zu: expected %s, found '%s'", x->path, x->line, tok, b[0] ? b : "end of file");
  return GK_OK;
}

enum {
  BR_RAGGED = 1,   /* rows may differ in length (packed triangular matrices) */
  BR_INFINITE = 2  /* +-inf accepted: Kaldi writes -inf as the gconst of a zero-weight component */
};

/* Ends a row of `rowlen` values: the first row (or any, when ragged) sets the column
 * count *c, later rows must match it. */
static gk_status end_row(lex *x, size_t rowlen, int ragged, size_t *r, size_t *c, gk_error *err) {
  if (*c == 0 || ragged) *c = rowlen;
  else if (rowlen != *c)
    return gk_fail(err, GK_EFORMAT, "%s:%zu: a matrix row has %zu values, the previous ones %zu", x->path,
                   x->line, rowlen, *c);
  (*r)++;
  return GK_OK;
}

/* Reads "[ v v v ]" (rows separated by line breaks) into a growing array: values, number of
 * values, and the column count (all rows must agree unless BR_RAGGED; 0 when the values
 * are on one line with the bracket, as vectors are). `flags`: BR_*. */
static gk_status read_bracket(lex *x, double **vals, size_t *nv, size_t *rows, size_t *cols, size_t maxv,
                              int flags, gk_error *err) {
  int ragged = flags & BR_RAGGED;
  *vals = NULL;
  *nv = *rows = *cols = 0;
  gk_status st = expect(x, "[", err);
  if (st != GK_OK) return st;
  size_t cap = 0, n = 0, r = 0, c = 0, rowlen = 0;
  double *v = NULL;
  char b[64];
  for (;;) {
    int nl;
    next_token(x, b, sizeof b, &nl);
    if (nl && rowlen > 0) {
      if ((st = end_row(x, rowlen, ragged, &r, &c, err)) != GK_OK) break;
      rowlen = 0;
    }
    if (!b[0]) {
      st = gk_fail(err, GK_EFORMAT, "%s: unexpected end of file inside [ ]", x->path);
      break;
    }
    if (strcmp(b, "]") == 0) {
      if (rowlen > 0) st = end_row(x, rowlen, ragged, &r, &c, err);
      break;
    }
    char *e;
    double d = strtod(b, &e);
    if (*e || isnan(d) || (isinf(d) && !(flags & BR_INFINITE))) {
      st = gk_fail(err, GK_EFORMAT, "%s:%zu: '%s' is not a finite number", x->path, x->line, b);
      break;
    }
    if (n == maxv) {
      st = gk_fail(err, GK_ELIMIT, "%s:%zu: more than %zu values", x->path, x->line, maxv);
      break;
    }
    if (n == cap) {
      size_t nc = cap ? 2 * cap : 256;
      double *t = realloc(v, nc * sizeof(double));
      if (!t) {
        st = gk_fail_nomem(err);
        break;
      }
      v = t;
      cap = nc;
    }
    v[n++] = d;
    rowlen++;
  }
  if (st != GK_OK) {
    free(v);
    return st;
  }
  *vals = v;
  *nv = n;
  *rows = r;
  *cols = c;
  return GK_OK;
}

/* The opening of a Kaldi text GMM: refuses a binary one, reads <DiagGMM> or <FullGMM>
 * (*full) and skips the <GCONSTS> if present (gmmkit recomputes them). */
static gk_status kaldi_begin(lex *x, size_t size, int *full, gk_error *err) {
  char b[64];
  if (size >= 2 && x->s[0] == 0 && x->s[1] == 'B')
    return gk_fail(err, GK_EFORMAT, "%s: a binary Kaldi file; write it as text with gmm-global-copy --binary=false",
                   x->path);
  next_token(x, b, sizeof b, NULL);
  if (strcmp(b, "<DiagGMM>") == 0 || strcmp(b, "<DiagGMMBegin>") == 0) *full = 0;
  else if (strcmp(b, "<FullGMM>") == 0 || strcmp(b, "<FullGMMBegin>") == 0) *full = 1;
  else return gk_fail(err, GK_EFORMAT, "%s: expected <DiagGMM> or <FullGMM>, found '%s'", x->path, b);
  const char *save = x->s;
  size_t sline = x->line;
  next_token(x, b, sizeof b, NULL);
  if (strcmp(b, "<GCONSTS>") != 0) {
    x->s = save;
    x->line = sline;
    return GK_OK;
  }
  double *gc;
  size_t n, r, c;
  gk_status st = read_bracket(x, &gc, &n, &r, &c, GK_MAX_COMPONENTS, BR_INFINITE, err);
  free(gc);
  return st;
}

/* <WEIGHTS> (*w, *k of them) and the means times the inverse covariances (*mi, k x *d),
 * then a check that the file can still hold the (inverse) covariances, before anything is
 * allocated for them: they take K x D or K x D(D+1)/2 values, each at least a digit and a
 * separator, so a short file cannot make a full model of K x D x D doubles be allocated
 * (gigabytes for a 256 x 4096 means block of half a megabyte). */
static gk_status kaldi_weights_means(lex *x, int full, double **w, size_t *k, double **mi, size_t *d,
                                     gk_error *err) {
  size_t n, r, c, maxv = (size_t)GK_MAX_COMPONENTS * GK_MAX_DIM;
  gk_status st;
  if ((st = expect(x, "<WEIGHTS>", err)) != GK_OK) return st;
  if ((st = read_bracket(x, w, k, &r, &c, GK_MAX_COMPONENTS, 0, err)) != GK_OK) return st;
  if (*k == 0) return gk_fail(err, GK_EFORMAT, "%s: no weights", x->path);
  if ((st = expect(x, full ? "<MEANS_INVCOVARS>" : "<MEANS_INVVARS>", err)) != GK_OK) return st;
  if ((st = read_bracket(x, mi, &n, &r, &c, maxv, 0, err)) != GK_OK) return st;
  if (r != *k || c == 0 || c > GK_MAX_DIM || n != r * c)
    return gk_fail(err, GK_EFORMAT, "%s: the means matrix is %zu x %zu for %zu weights", x->path, r, c, *k);
  *d = c;
  size_t need = *k * (full ? c * (c + 1) / 2 : c), left = (size_t)(x->end - x->s);
  if (left / 2 < need)
    return gk_fail(err, GK_EFORMAT, "%s: truncated: the covariances of %zu components in dimension %zu take %zu "
                   "values, the rest of the file has %zu bytes", x->path, *k, c, need, left);
  return GK_OK;
}

/* Variances 1 / iv, means mi / iv (k x d each). */
static gk_status diag_from_inv(gk_gmm *g, const double *mi, const double *iv, const char *path, gk_error *err) {
  for (size_t i = 0; i < g->k * g->d; i++) {
    if (!(iv[i] > 0.0) || !isfinite(iv[i]) || !isfinite(mi[i]))
      return gk_fail(err, GK_EFORMAT, "%s: inverse variance %g of component %zu is not positive", path, iv[i],
                     i / g->d + 1);
    g->covs[i] = 1.0 / iv[i];
    g->means[i] = mi[i] * g->covs[i];
  }
  return GK_OK;
}

/* Kaldi prints weights to about 7 digits (and stores floats): a sum that is 1 within 1e-4
 * is renormalised. */
static void set_weights(gk_gmm *g, const double *w) {
  double wsum = 0.0;
  for (size_t i = 0; i < g->k; i++) wsum += w[i];
  for (size_t i = 0; i < g->k; i++) g->weights[i] = fabs(wsum - 1.0) < 1e-4 ? w[i] / wsum : w[i];
}

/* <INV_VARS> and the closing tag of a diagonal model: variances 1 / iv, means mi / iv. */
static gk_status kaldi_diag(lex *x, gk_gmm *g, const double *mi, gk_error *err) {
  size_t k = g->k, d = g->d, n, r, c;
  double *iv = NULL;
  char b[64];
  gk_status st = expect(x, "<INV_VARS>", err);
  if (st == GK_OK) st = read_bracket(x, &iv, &n, &r, &c, (size_t)GK_MAX_COMPONENTS * GK_MAX_DIM, 0, err);
  if (st == GK_OK && (r != k || c != d || n != k * d))
    st = gk_fail(err, GK_EFORMAT, "%s: <INV_VARS> is %zu x %zu, expected %zu x %zu", x->path, r, c, k, d);
  if (st == GK_OK) st = diag_from_inv(g, mi, iv, x->path, err);
  free(iv);
  if (st != GK_OK) return st;
  next_token(x, b, sizeof b, NULL);
  if (strcmp(b, "</DiagGMM>") != 0 && strcmp(b, "<DiagGMMEnd>") != 0)
    return gk_fail(err, GK_EFORMAT, "%s: expected </DiagGMM>, found '%s'", x->path, b[0] ? b : "end of file");
  return GK_OK;
}

/* The packed lower triangle of inverse covariance cc (1-based in messages) into *tmp
 * (*n values, at most `packed`): the current text form "[ rows ]", or the older
 * "FP|DP size values" one. */
static gk_status kaldi_packed(lex *x, size_t d, size_t cc, double **tmp, size_t *n, gk_error *err) {
  size_t packed = d * (d + 1) / 2, r, c;
  const char *at = x->s;
  size_t at_line = x->line;
  char b[64];
  next_token(x, b, sizeof b, NULL);
  if (strcmp(b, "FP") != 0 && strcmp(b, "DP") != 0) {
    x->s = at;
    x->line = at_line;
    return read_bracket(x, tmp, n, &r, &c, packed, BR_RAGGED, err);
  }
  next_token(x, b, sizeof b, NULL);
  if (strtoul(b, NULL, 10) != d)
    return gk_fail(err, GK_EFORMAT, "%s:%zu: inverse covariance %zu has size '%s', expected %zu", x->path, x->line,
                   cc + 1, b, d);
  double *t = *tmp = malloc(packed * sizeof(double));
  if (!t) return gk_fail_nomem(err);
  for (*n = 0; *n < packed; (*n)++) {
    char *e;
    next_token(x, b, sizeof b, NULL);
    t[*n] = strtod(b, &e);
    if (!b[0] || *e || !isfinite(t[*n]))
      return gk_fail(err, GK_EFORMAT, "%s:%zu: '%s' is not a finite number", x->path, x->line, b);
  }
  return GK_OK;
}

/* Component cc of a full model from its packed inverse covariance: S = P^-1 (dpotrf +
 * dpotri), mu = S (P mu) with P mu the row of mi. */
static gk_status kaldi_full_component(gk_gmm *g, size_t cc, const double *packed, const double *mi,
                                      const char *path, gk_error *err) {
  size_t d = g->d;
  double *P = g->covs + cc * d * d;
  for (size_t p = 0, i = 0; p < d; p++)
    for (size_t t = 0; t <= p; t++, i++) P[p * d + t] = P[t * d + p] = packed[i];
  if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)d, P, (lapack_int)d) != 0 ||
      LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'L', (lapack_int)d, P, (lapack_int)d) != 0)
    return gk_fail(err, GK_ENUMERIC, "%s: inverse covariance %zu is not positive definite", path, cc + 1);
  for (size_t p = 0; p < d; p++)
    for (size_t t = 0; t < p; t++) P[t * d + p] = P[p * d + t];
  for (size_t p = 0; p < d; p++) {
    double s = 0.0;
    for (size_t t = 0; t < d; t++) s += P[p * d + t] * mi[cc * d + t];
    g->means[cc * d + p] = s;
  }
  return GK_OK;
}

/* <INV_COVARS> and the closing tag of a full model. */
static gk_status kaldi_full(lex *x, gk_gmm *g, const double *mi, gk_error *err) {
  size_t d = g->d, packed = d * (d + 1) / 2;
  char b[64];
  gk_status st = expect(x, "<INV_COVARS>", err);
  for (size_t cc = 0; st == GK_OK && cc < g->k; cc++) {
    double *tmp = NULL;
    size_t n = 0;
    st = kaldi_packed(x, d, cc, &tmp, &n, err);
    if (st == GK_OK && n != packed)
      st = gk_fail(err, GK_EFORMAT, "%s: inverse covariance %zu has %zu values, expected %zu (packed %zu x %zu)",
                   x->path, cc + 1, n, packed, d, d);
    if (st == GK_OK) st = kaldi_full_component(g, cc, tmp, mi, x->path, err);
    free(tmp);
  }
  if (st != GK_OK) return st;
  next_token(x, b, sizeof b, NULL);
  if (strcmp(b, "</FullGMM>") != 0 && strcmp(b, "<FullGMMEnd>") != 0)
    return gk_fail(err, GK_EFORMAT, "%s: expected </FullGMM>, found '%s'", x->path, b);
  return GK_OK;
}

/* ---- binary Kaldi GMMs ------------------------------------------------------------------------ */

/* One binary value "FV"/"DV", "FM"/"DM" or "FP"/"DP" (kind 'V', 'M' or 'P') into a new
 * double array: *rows x *cols values (packed: *rows = *cols = n, n(n+1)/2 values), sizes
 * checked against `max` values and the bytes left in the file before allocating. */
static gk_status kb_values(gk_kaldi_stream *s, char kind, size_t max, double **out, size_t *rows, size_t *cols,
                           gk_error *err) {
  char tok[4];
  *out = NULL;
  gk_status st = gk_kaldi_read_token(s, tok, sizeof tok, err);
  if (st != GK_OK) return st;
  if (strlen(tok) != 2 || (tok[0] != 'F' && tok[0] != 'D') || tok[1] != kind)
    return gk_fail(err, GK_EFORMAT, "found token '%s' where F%c or D%c was expected", tok, kind, kind);
  int32_t a = 1, b = 0;
  if (kind == 'M' && (st = gk_kaldi_read_int32(s, "row count", &a, err)) != GK_OK) return st;
  if ((st = gk_kaldi_read_int32(s, kind == 'M' ? "column count" : "size", &b, err)) != GK_OK) return st;
  size_t r = (size_t)a, c = (size_t)b, n = kind == 'P' ? c * (c + 1) / 2 : r * c, es = tok[0] == 'F' ? 4 : 8;
  if (kind == 'P') r = c;
  if ((unsigned long long)a * (unsigned long long)b > max || n > max)
    return gk_fail(err, GK_ELIMIT, "a %zu x %zu value is beyond the limits of a model", r, c);
  if (s->size - s->pos < (long long)(n * es))
    return gk_fail(err, GK_EFORMAT, "truncated (expected %zu bytes of values, the file has %lld left)", n * es,
                   s->size - s->pos);
  double *v = malloc((n ? n : 1) * sizeof(double));
  if (!v) return gk_fail_nomem(err);
  for (size_t i = 0; i < n; i++) {
    unsigned char x[8];
    if (gk_kaldi_stream_read(s, x, es) != es) {
      free(v);
      return gk_fail(err, GK_EFORMAT, "truncated (in values)");
    }
    float f;
    if (es == 4) memcpy(&f, x, 4), v[i] = f;
    else memcpy(&v[i], x, 8);
  }
  *out = v;
  *rows = r;
  *cols = c;
  return GK_OK;
}

static gk_status kb_expect(gk_kaldi_stream *s, const char *want, const char *alt, char *tok, gk_error *err) {
  gk_status st = gk_kaldi_read_token(s, tok, 32, err);
  if (st == GK_OK && strcmp(tok, want) != 0 && !(alt && strcmp(tok, alt) == 0))
    st = gk_fail(err, GK_EFORMAT, "expected %s, found '%s'", want, tok);
  return st;
}

/* Weights, means times inverse covariances and the inverse covariances of a binary model,
 * into a new model *g. */
static gk_status kb_model(gk_kaldi_stream *s, gk_gmm **out, const gk_allocator *a, gk_error *err) {
  char tok[32];
  double *w = NULL, *mi = NULL, *iv = NULL;
  size_t k, d, r, c, one;
  gk_gmm *g = NULL;
  int full;
  gk_status st = gk_kaldi_read_token(s, tok, sizeof tok, err);
  if (st != GK_OK) return st;
  if (strcmp(tok, "<DiagGMM>") && strcmp(tok, "<FullGMM>"))
    return gk_fail(err, GK_EFORMAT, "expected <DiagGMM> or <FullGMM>, found '%s'", tok);
  full = tok[1] == 'F';
  if ((st = gk_kaldi_read_token(s, tok, sizeof tok, err)) != GK_OK) return st;
  if (strcmp(tok, "<GCONSTS>") == 0) {  /* recomputed, not trusted */
    if ((st = kb_values(s, 'V', GK_MAX_COMPONENTS, &w, &one, &k, err)) != GK_OK) return st;
    free(w);
    w = NULL;
    if ((st = gk_kaldi_read_token(s, tok, sizeof tok, err)) != GK_OK) return st;
  }
  if (strcmp(tok, "<WEIGHTS>") != 0) return gk_fail(err, GK_EFORMAT, "expected <WEIGHTS>, found '%s'", tok);
  if ((st = kb_values(s, 'V', GK_MAX_COMPONENTS, &w, &one, &k, err)) != GK_OK) goto done;
  if ((st = kb_expect(s, full ? "<MEANS_INVCOVARS>" : "<MEANS_INVVARS>", NULL, tok, err)) != GK_OK ||
      (st = kb_values(s, 'M', (size_t)GK_MAX_COMPONENTS * GK_MAX_DIM, &mi, &r, &d, err)) != GK_OK)
    goto done;
  if (k == 0 || r != k || d == 0 || d > GK_MAX_DIM) {
    st = gk_fail(err, GK_EFORMAT, "the means matrix is %zu x %zu for %zu weights", r, d, k);
    goto done;
  }
  if ((st = gk_gmm_create(&g, k, d, full ? GK_COV_FULL : GK_COV_DIAG, a, err)) != GK_OK) goto done;
  set_weights(g, w);
  if ((st = kb_expect(s, full ? "<INV_COVARS>" : "<INV_VARS>", NULL, tok, err)) != GK_OK) goto done;
  if (!full) {
    if ((st = kb_values(s, 'M', (size_t)GK_MAX_COMPONENTS * GK_MAX_DIM, &iv, &r, &c, err)) != GK_OK) goto done;
    st = r == k && c == d ? diag_from_inv(g, mi, iv, s->name, err)
                          : gk_fail(err, GK_EFORMAT, "<INV_VARS> is %zu x %zu, expected %zu x %zu", r, c, k, d);
  }
  for (size_t cc = 0; full && st == GK_OK && cc < k; cc++) {
    free(iv);
    iv = NULL;
    if ((st = kb_values(s, 'P', d * (d + 1) / 2, &iv, &r, &c, err)) != GK_OK) break;
    if (c != d) st = gk_fail(err, GK_EFORMAT, "inverse covariance %zu is %zu x %zu, expected %zu x %zu", cc + 1, c, c, d, d);
    else st = kaldi_full_component(g, cc, iv, mi, s->name, err);
  }
  if (st == GK_OK) st = kb_expect(s, full ? "</FullGMM>" : "</DiagGMM>", NULL, tok, err);
  if (st == GK_OK && (st = gk_gmm_prepare(g, err)) != GK_OK) gk_error_prefix(err, s->name);
done:
  free(w);
  free(mi);
  free(iv);
  if (st != GK_OK) {
    gk_gmm_free(g);
    return st;
  }
  *out = g;
  return GK_OK;
}

/* A binary Kaldi GMM: errors name the file and the byte where reading stopped. */
static gk_status load_kaldi_binary(const char *path, gk_gmm **out, const gk_allocator *a, gk_error *err) {
  long long size;
  FILE *f = gk_open_regular(path, &size, err);
  if (!f) return err ? err->status : GK_EIO;
  gk_kaldi_stream s = {f, GK_KALDI_SRC_FILE, (char *)path, 0, size};
  unsigned char h[2];
  gk_status st = gk_kaldi_stream_read(&s, h, 2) == 2 && h[0] == 0 && h[1] == 'B'
                     ? kb_model(&s, out, a, err)
                     : gk_fail(err, GK_EFORMAT, "no \\0B header");
  fclose(f);
  if (st != GK_OK && st != GK_ENOMEM && err && strncmp(err->message, path, strlen(path)) != 0) {
    char where[GK_ERROR_MAX];
    snprintf(where, sizeof where, "%s: a binary Kaldi file, at byte %lld", path, s.pos);
    gk_error_prefix(err, where);
  }
  return st;
}

gk_status gk_gmm_load_kaldi(const char *path, gk_gmm **out, const gk_allocator *a, gk_error *err) {
  *out = NULL;
  char *text;
  size_t size, k = 0, d = 0;
  gk_status st = gk_read_text(path, GK_MAX_TEXT_BYTES, "a Kaldi text GMM", &text, &size, err);
  if (st != GK_OK) return st;
  if (size >= 2 && text[0] == 0 && text[1] == 'B') {
    gk_scratch_free(text);
    return load_kaldi_binary(path, out, a, err);
  }
  double *w = NULL, *mi = NULL;
  gk_gmm *g = NULL;
  lex x = {text, text + size, path, 1};
  int full = 0;
  if ((st = kaldi_begin(&x, size, &full, err)) != GK_OK ||
      (st = kaldi_weights_means(&x, full, &w, &k, &mi, &d, err)) != GK_OK ||
      (st = gk_gmm_create(&g, k, d, full ? GK_COV_FULL : GK_COV_DIAG, a, err)) != GK_OK)
    goto done;
  set_weights(g, w);
  st = full ? kaldi_full(&x, g, mi, err) : kaldi_diag(&x, g, mi, err);
  if (st != GK_OK) goto done;
  st = gk_gmm_prepare(g, err);
  if (st != GK_OK) gk_error_prefix(err, path);
done:
  free(w);
  free(mi);
  gk_scratch_free(text);
  if (st != GK_OK) {
    gk_gmm_free(g);
    return st;
  }
  *out = g;
  return GK_OK;
}

/* ---- Gaussian selectors (gmmkit/gselect.h) ------------------------------------------------
 * Kind 'G'; the header's K and D are the UBM's, its covariance type the clusters'. Payload:
 * u64 UBM fingerprint, u64 clusters M, u64 overlap, the clusters' mixture (as a model),
 * u64 member count of each cluster (M), then the members (u64, as many as the counts sum
 * to: K x overlap, or more for members chosen by data). */

#define SEL_FIXED (8 * 3)

uint64_t gk_gmm_fingerprint(const gk_gmm *g) {
  /* K, D and the covariance type, then the parameters as a model file stores them */
  unsigned char b[8];
  uint64_t h = 0xcbf29ce484222325ull;
  uint64_t head[3] = {g->k, g->d, (uint64_t)g->cov};
  for (int i = 0; i < 3; i++) {
    put_u64(b, head[i]);
    h = fnv1a_more(h, b, 8);
  }
  const double *arr[3] = {g->weights, g->means, g->covs};
  size_t len[3] = {g->k, g->k * g->d, g->k * gk_gmm_cov_size(g->cov, g->d)};
  for (int a = 0; a < 3; a++)
    for (size_t i = 0; i < len[a]; i++) {
      put_f64(b, arr[a][i]);
      h = fnv1a_more(h, b, 8);
    }
  return h;
}

gk_status gk_selector_save(const gk_selector *s, const char *path, gk_error *err) {
  const gk_gmm *g = gk_selector_mixture(s);
  size_t k = gk_selector_components(s), m = gk_selector_clusters(s), o = gk_selector_overlap(s), slots = 0;
  for (size_t j = 0; j < m; j++) {
    size_t nj;
    gk_selector_members(s, j, &nj);
    slots += nj;
  }
  size_t n = SEL_FIXED + model_bytes(m, g->d, g->cov) + 8 * m + 8 * slots;
  cur c = {gk_scratch_alloc(n, 1), 0};
  if (!c.p) return gk_fail_nomem(err);
  w_u64(&c, gk_selector_fingerprint(s));
  w_u64(&c, m);
  w_u64(&c, o);
  write_model(&c, g);
  for (size_t j = 0; j < m; j++) {
    size_t nj;
    gk_selector_members(s, j, &nj);
    w_u64(&c, nj);
  }
  for (size_t j = 0; j < m; j++) {
    size_t nj;
    const size_t *mem = gk_selector_members(s, j, &nj);
    for (size_t t = 0; t < nj; t++) w_u64(&c, mem[t]);
  }
  gk_status st = write_file(path, 'G', g->cov, k, g->d, c.p, n, err);
  gk_scratch_free(c.p);
  return st;
}

/* The fixed fields of a selector file checked against the limits, the payload's size and
 * the UBM it is loaded for (before anything is allocated for them). */
static gk_status sel_check(const char *path, const gk_gmm *ubm, size_t k, size_t d, gk_cov_type cov, size_t n,
                           uint64_t fp, uint64_t m, uint64_t o, gk_error *err) {
  if (m == 0 || m > GK_MAX_COMPONENTS || o == 0 || o > m)
    return gk_fail(err, GK_ELIMIT, "%s: %llu clusters with overlap %llu: outside the limits (1..%u clusters, overlap "
                   "1..clusters)", path, (unsigned long long)m, (unsigned long long)o, GK_MAX_COMPONENTS);
  if (n < SEL_FIXED + model_bytes(m, d, cov) + 8 * m + 8 * k * o)
    return gk_fail(err, GK_EFORMAT, "%s: payload of %zu bytes is too short for %llu clusters over %zu components in "
                   "dimension %zu with overlap %llu", path, n, (unsigned long long)m, k, d, (unsigned long long)o);
  uint64_t mine = gk_gmm_fingerprint(ubm);
  if (ubm->k != k || ubm->d != d || mine != fp)
    return gk_fail(err, GK_EINVAL, "%s was built for a UBM of %zu components in dimension %zu (fingerprint %016llx), "
                   "not this one of %zu components in dimension %zu (fingerprint %016llx)", path, k, d,
                   (unsigned long long)fp, ubm->k, ubm->d, (unsigned long long)mine);
  return GK_OK;
}

gk_status gk_selector_load(const char *path, const gk_gmm *ubm, gk_selector **out, const gk_allocator *a,
                           gk_error *err) {
  gk_cov_type cov;
  size_t k, d, n;
  unsigned char *p;
  *out = NULL;
  gk_status st = read_file(path, 'G', &cov, &k, &d, &p, &n, err);
  if (st != GK_OK) return st;
  cur c = {p, 0};
  uint64_t fp = 0, m = 0, o = 0;
  if (n >= SEL_FIXED) {
    fp = r_u64(&c);
    m = r_u64(&c);
    o = r_u64(&c);
  }
  if (n < SEL_FIXED) st = gk_fail(err, GK_EFORMAT, "%s: selector payload too short (%zu bytes)", path, n);
  else st = sel_check(path, ubm, k, d, cov, n, fp, m, o, err);
  gk_gmm *g = NULL;
  size_t *count = NULL, *members = NULL;
  if (st == GK_OK && (st = read_model(&c, m, d, cov, NULL, &g, err)) != GK_OK) gk_error_prefix(err, path);
  size_t slots = 0;
  if (st == GK_OK && !(count = gk_scratch_alloc(m, sizeof(size_t)))) st = gk_fail_nomem(err);
  for (size_t j = 0; st == GK_OK && j < m; j++) {
    uint64_t v = r_u64(&c);
    if (v > k)
      st = gk_fail(err, GK_EFORMAT, "%s: cluster %zu has %llu members, more than the %zu components", path, j + 1,
                   (unsigned long long)v, k);
    count[j] = (size_t)v;
    slots += count[j];  /* at most M x K: no overflow within the limits */
  }
  if (st == GK_OK && (n - c.off) / 8 != slots)
    st = gk_fail(err, GK_EFORMAT, "%s: the clusters' counts sum to %zu members but the payload holds %zu", path,
                 slots, (n - c.off) / 8);
  if (st == GK_OK && (n - c.off) % 8 != 0)
    st = gk_fail(err, GK_EFORMAT, "%s: the payload's members end in a partial value", path);
  if (st == GK_OK && !(members = gk_scratch_alloc(slots ? slots : 1, sizeof(size_t)))) st = gk_fail_nomem(err);
  for (size_t q = 0; st == GK_OK && q < slots; q++) {
    uint64_t v = r_u64(&c);
    members[q] = v > k ? k : (size_t)v;  /* the constructor names an index >= K */
  }
  if (st == GK_OK) {
    if ((st = gk_selector_create_members(out, ubm, g, o, count, members, a, err)) != GK_OK) gk_error_prefix(err, path);
  }
  gk_gmm_free(g);
  gk_scratch_free(count);
  gk_scratch_free(members);
  gk_scratch_free(p);
  return st;
}
