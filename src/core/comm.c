/*
 * comm.c: the collective helpers of gmmkit/comm.h, built on a communicator's send,
 * receive and broadcast, and the reduction of GMM statistics over the ranks.
 *
 * Reductions are folds in rank order at rank 0, receiving one rank's message at a time
 * (one extra buffer, however many ranks), followed by a broadcast: a fixed order that
 * does not depend on the MPI library's choice of collective algorithm.
 */
#include "gmmkit/comm.h"

#include <string.h>

int gk_comm_rank(const gk_comm *c) { return c ? c->rank(c->ctx) : 0; }
int gk_comm_size(const gk_comm *c) { return c ? c->size(c->ctx) : 1; }

static gk_status comm_failed(gk_error *err, const char *op, int peer) {
  if (peer >= 0) return gk_fail(err, GK_EIO, "communication failed (%s, rank %d)", op, peer);
  return gk_fail(err, GK_EIO, "communication failed (%s)", op);
}

gk_status gk_comm_bcast(const gk_comm *c, void *buf, size_t bytes, int root, gk_error *err) {
  if (gk_comm_size(c) <= 1 || bytes == 0) return GK_OK;
  if (c->bcast(c->ctx, buf, bytes, root) != 0) return comm_failed(err, "broadcast", root);
  return GK_OK;
}

gk_status gk_comm_allgather_u64(const gk_comm *c, const uint64_t *mine, size_t n, uint64_t *all,
                                gk_error *err) {
  int p = gk_comm_size(c), me = gk_comm_rank(c);
  if (n == 0) return GK_OK;
  if (p <= 1) {
    memcpy(all, mine, n * sizeof *all);
    return GK_OK;
  }
  if (me != 0) {
    if (c->send(c->ctx, mine, n * sizeof *mine, 0) != 0) return comm_failed(err, "send", 0);
  } else {
    memcpy(all, mine, n * sizeof *all);
    for (int r = 1; r < p; r++)
      if (c->recv(c->ctx, all + (size_t)r * n, n * sizeof *all, r) != 0) return comm_failed(err, "receive", r);
  }
  return gk_comm_bcast(c, all, (size_t)p * n * sizeof *all, 0, err);
}

gk_status gk_comm_gather_doubles(const gk_comm *c, const double *send, const size_t *counts,
                                 double *recv, gk_error *err) {
  int p = gk_comm_size(c), me = gk_comm_rank(c);
  if (me != 0) {
    if (counts[me] && c->send(c->ctx, send, counts[me] * sizeof(double), 0) != 0)
      return comm_failed(err, "send", 0);
    return GK_OK;
  }
  if (counts[0]) memcpy(recv, send, counts[0] * sizeof(double));
  size_t off = counts[0];
  for (int r = 1; r < p; r++) {
    if (counts[r] && c->recv(c->ctx, recv + off, counts[r] * sizeof(double), r) != 0)
      return comm_failed(err, "receive", r);
    off += counts[r];
  }
  return GK_OK;
}

gk_status gk_comm_sum_doubles(const gk_comm *c, double *x, size_t n, gk_error *err) {
  int p = gk_comm_size(c), me = gk_comm_rank(c);
  if (p <= 1 || n == 0) return GK_OK;
  if (me != 0) {
    if (c->send(c->ctx, x, n * sizeof(double), 0) != 0) return comm_failed(err, "send", 0);
  } else {
    double *buf = gk_scratch_alloc(n, sizeof(double));
    if (!buf) return gk_fail_nomem(err);
    for (int r = 1; r < p; r++) {
      if (c->recv(c->ctx, buf, n * sizeof(double), r) != 0) {
        gk_scratch_free(buf);
        return comm_failed(err, "receive", r);
      }
      for (size_t i = 0; i < n; i++) x[i] += buf[i];
    }
    gk_scratch_free(buf);
  }
  return gk_comm_bcast(c, x, n * sizeof(double), 0, err);
}

/* ---- statistics -------------------------------------------------------------------- */

/* Doubles of packed statistics: frames, loglik, zero, first, second, shift. */
static size_t stats_doubles(size_t k, size_t d, gk_cov_type cov) {
  return 2 + k * (1 + 2 * d + gk_gmm_cov_size(cov, d));
}

static void stats_pack(const gk_gmm_stats *s, double *p) {
  size_t k = s->k, d = s->d, cs = gk_gmm_cov_size(s->cov, d);
  p[0] = s->frames;
  p[1] = s->loglik;
  p += 2;
  memcpy(p, s->zero, k * sizeof(double));
  p += k;
  memcpy(p, s->first, k * d * sizeof(double));
  p += k * d;
  memcpy(p, s->second, k * cs * sizeof(double));
  p += k * cs;
  memcpy(p, s->shift, k * d * sizeof(double));
}

static void stats_unpack(gk_gmm_stats *s, const double *p) {
  size_t k = s->k, d = s->d, cs = gk_gmm_cov_size(s->cov, d);
  s->frames = p[0];
  s->loglik = p[1];
  p += 2;
  memcpy(s->zero, p, k * sizeof(double));
  p += k;
  memcpy(s->first, p, k * d * sizeof(double));
  p += k * d;
  memcpy(s->second, p, k * cs * sizeof(double));
  p += k * cs;
  memcpy(s->shift, p, k * d * sizeof(double));
}

gk_status gk_gmm_stats_reduce(gk_gmm_stats **s, size_t k, size_t d, gk_cov_type cov, const gk_comm *c,
                              const gk_allocator *a, gk_error *err) {
  if (*s && ((*s)->k != k || (*s)->d != d || (*s)->cov != cov))
    return gk_fail(err, GK_EINVAL, "statistics of %zu %s components in dimension %zu, expected %zu %s "
                   "components in dimension %zu", (*s)->k, gk_cov_type_name((*s)->cov), (*s)->d, k,
                   gk_cov_type_name(cov), d);
  gk_status st;
  if (!*s) {
    st = gk_gmm_stats_create(s, k, d, cov, a, err);
    if (st != GK_OK) return st;
  }
  int p = gk_comm_size(c), me = gk_comm_rank(c);
  if (p <= 1) return GK_OK;
  size_t n = stats_doubles(k, d, cov);
  double *buf = gk_scratch_alloc(n, sizeof(double));
  if (!buf) return gk_fail_nomem(err);
  st = GK_OK;
  if (me != 0) {
    stats_pack(*s, buf);
    if (c->send(c->ctx, buf, n * sizeof(double), 0) != 0) st = comm_failed(err, "send", 0);
  } else {
    /* The fold: rank 0's statistics, then each other rank's in turn; a rank without
     * frames adds nothing (its shift may differ: its statistics are all zero). */
    gk_gmm_stats *in = NULL;
    st = gk_gmm_stats_create(&in, k, d, cov, NULL, err);
    int have = (*s)->frames > 0.0;
    for (int r = 1; st == GK_OK && r < p; r++) {
      if (c->recv(c->ctx, buf, n * sizeof(double), r) != 0) {
        st = comm_failed(err, "receive", r);
        break;
      }
      stats_unpack(in, buf);
      if (!(in->frames > 0.0)) continue;
      if (!have) {
        stats_unpack(*s, buf);
        have = 1;
      } else {
        st = gk_gmm_stats_merge(*s, in, err);
      }
    }
    gk_gmm_stats_free(in);
    if (st == GK_OK) stats_pack(*s, buf);
  }
  if (st == GK_OK) st = gk_comm_bcast(c, buf, n * sizeof(double), 0, err);
  if (st == GK_OK && me != 0) stats_unpack(*s, buf);
  gk_scratch_free(buf);
  return st;
}
