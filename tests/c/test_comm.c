/*
 * test_comm.c: the distributed parts of the core (gmmkit/comm.h) without MPI. A small
 * communicator over Unix sockets joins P forked processes pairwise; the same job a host
 * runs under mpirun then runs here, whether or not MPI is installed:
 * - sums of doubles are ((x_0 + x_1) + x_2) + ..., the same bits on every rank;
 * - statistics reduced over the ranks equal one process's statistics of the ranks' shares
 *   merged in rank order (bit for bit), with a rank that holds no data;
 * - the fingerprint of the job is the one process's fingerprint of the whole list;
 * - the trainer on 2 and 3 ranks gives every rank the same model, the one-process model
 *   within 1e-12 relative (diag and full, k-means++ and split initialisations, a rank
 *   without data), and the initial model of one process exactly.
 * All forking happens before the parent runs any OpenMP region (libgomp is not fork-safe);
 * the children run single-threaded.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gk_test.h"
#include "gmmkit/gmmkit.h"
#include "gmmkit/comm.h"

#define MAXP 4

/* ---- a communicator over socket pairs ---------------------------------------------- */

typedef struct fake {
  int rank, size;
  int fd[MAXP];  /* fd[r]: this process's end of the pair with rank r */
} fake;

static int write_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int read_all(int fd, void *buf, size_t n) {
  char *p = buf;
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

static int f_rank(void *c) { return ((fake *)c)->rank; }
static int f_size(void *c) { return ((fake *)c)->size; }
static int f_send(void *c, const void *b, size_t n, int dest) { return write_all(((fake *)c)->fd[dest], b, n); }
static int f_recv(void *c, void *b, size_t n, int src) { return read_all(((fake *)c)->fd[src], b, n); }

static int f_bcast(void *c, void *b, size_t n, int root) {
  fake *f = c;
  if (f->rank != root) return read_all(f->fd[root], b, n);
  for (int r = 0; r < f->size; r++)
    if (r != root && write_all(f->fd[r], b, n) != 0) return -1;
  return 0;
}

static int f_barrier(void *c) {
  fake *f = c;
  char t = 1;
  if (f->rank != 0) {
    if (write_all(f->fd[0], &t, 1) != 0) return -1;
  } else {
    for (int r = 1; r < f->size; r++)
      if (read_all(f->fd[r], &t, 1) != 0) return -1;
  }
  return f_bcast(c, &t, 1, 0);
}

typedef int (*rank_body)(const gk_comm *c, const void *arg);

/* Runs body in `p` forked processes joined pairwise; the number of ranks that failed
 * (non-zero return, a crash, or more than 60 s). */
static int run_ranks(int p, rank_body body, const void *arg) {
  int fds[MAXP][MAXP];
  for (int i = 0; i < p; i++)
    for (int j = i + 1; j < p; j++) {
      int sv[2];
      if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return p;
      fds[i][j] = sv[0];
      fds[j][i] = sv[1];
    }
  fflush(stdout);
  fflush(stderr);
  pid_t pid[MAXP];
  for (int r = 0; r < p; r++) {
    pid[r] = fork();
    if (pid[r] == 0) {
      fake f;
      f.rank = r;
      f.size = p;
      for (int q = 0; q < p; q++) f.fd[q] = q == r ? -1 : fds[r][q];
      for (int i = 0; i < p; i++)
        for (int j = 0; j < p; j++)
          if (i != j && i != r) close(fds[i][j]);
      alarm(60);
      gk_set_threads(1);
      gk_comm c = {&f, f_rank, f_size, f_send, f_recv, f_bcast, f_barrier};
      int st = body(&c, arg);
      fflush(stdout);
      fflush(stderr);
      _exit(st ? 1 : 0);
    }
  }
  for (int i = 0; i < p; i++)
    for (int j = 0; j < p; j++)
      if (i != j) close(fds[i][j]);
  int failed = 0;
  for (int r = 0; r < p; r++) {
    int status = 0;
    if (pid[r] < 0 || waitpid(pid[r], &status, 0) != pid[r] || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
      failed++;
  }
  return failed;
}

/* ---- data: files drawn from a fixed mixture, dealt as gk.mpi.deal does ------------- */

#define NFILES_MAX 32

typedef struct corpus {
  size_t nfiles, d;
  gk_matrix m[NFILES_MAX];
} corpus;

static void corpus_free(corpus *cp) {
  for (size_t i = 0; i < cp->nfiles; i++) gk_matrix_release(&cp->m[i], NULL);
  memset(cp, 0, sizeof *cp);
}

static int corpus_make(corpus *cp, size_t nfiles) {
  size_t k = 5, d = 4;
  gk_gmm *g = NULL;
  memset(cp, 0, sizeof *cp);
  if (gk_gmm_create(&g, k, d, GK_COV_DIAG, NULL, NULL) != GK_OK) return -1;
  for (size_t c = 0; c < k; c++) {
    g->weights[c] = 1.0 / (double)k;
    for (size_t j = 0; j < d; j++) {
      g->means[c * d + j] = 3.0 * cos((double)(c * 7 + j * 3));
      g->covs[c * d + j] = 0.3 + (double)((c + 2 * j) % 3);
    }
  }
  int bad = gk_gmm_prepare(g, NULL) != GK_OK;
  cp->d = d;
  for (size_t i = 0; !bad && i < nfiles; i++) {
    size_t n = 150 + (i * 173) % 700;
    if (gk_matrix_alloc(&cp->m[i], n, d, GK_FLOAT32, NULL, NULL) != GK_OK) bad = 1;
    else if (gk_gmm_sample(g, n, 1000 + i, &cp->m[i], NULL) != GK_OK) bad = 1;
    cp->nfiles = i + 1;
  }
  gk_gmm_free(g);
  return bad ? -1 : 0;
}

/* Rank r's contiguous share of n files out of p ranks: [n r / p, n (r + 1) / p). */
static gk_gmm_data share(const corpus *cp, int r, int p) {
  size_t lo = cp->nfiles * (size_t)r / (size_t)p, hi = cp->nfiles * (size_t)(r + 1) / (size_t)p;
  gk_gmm_data x = {cp->m + lo, hi - lo, 1};
  return x;
}

/* ---- the jobs ------------------------------------------------------------------------- */

typedef struct job {
  char dir[32];
  size_t nfiles;
  gk_gmm_train_opts o;
  size_t steps;
  int tag;
} job;

static void path_of(const job *j, const char *what, int r, char *buf, size_t n) {
  snprintf(buf, n, "%.31s/%d.%.8s.%d", j->dir, j->tag, what, r);
}

/* Every rank: the sum of doubles, the reduced statistics under a fixed model, the
 * fingerprint and a training run, written to files for the parent. */
static int job_body(const gk_comm *c, const void *arg) {
  const job *j = arg;
  int r = gk_comm_rank(c), p = gk_comm_size(c), bad = 0;
  corpus cp;
  if (corpus_make(&cp, j->nfiles) != 0) return 1;
  gk_gmm_data x = share(&cp, r, p);
  gk_error e;
  char path[96];

  /* sums in rank order, the same bits everywhere */
  double v[2] = {0.1 * (r + 1) + 1e-17 * r, 1.0 / (r + 3)};
  if (gk_comm_sum_doubles(c, v, 2, &e) != GK_OK) bad = 1;
  double w0 = 0.0, w1 = 0.0;
  for (int q = 0; q < p; q++) {
    w0 = q == 0 ? 0.1 : w0 + (0.1 * (q + 1) + 1e-17 * q);
    w1 = q == 0 ? 1.0 / 3 : w1 + 1.0 / (q + 3);
  }
  if (v[0] != w0 || v[1] != w1) bad = 1;

  /* statistics under the initial model of the job */
  gk_gmm_trainer *t = NULL;
  gk_gmm_stats *s = NULL;
  if (!bad && gk_gmm_trainer_create(&t, &x, &j->o, c, NULL, &e) != GK_OK) bad = 1;
  if (!bad) {
    path_of(j, "init", r, path, sizeof path);
    if (gk_gmm_save(t->model, path, &e) != GK_OK) bad = 1;
  }
  if (!bad && x.nparts > 0 && gk_gmm_accumulate(t->model, &x, &s, NULL, &e) != GK_OK) bad = 1;
  if (!bad && gk_gmm_stats_reduce(&s, t->model->k, t->model->d, t->model->cov, c, NULL, &e) != GK_OK) bad = 1;
  if (!bad) {
    path_of(j, "stats", r, path, sizeof path);
    if (gk_gmm_stats_save(s, path, &e) != GK_OK) bad = 1;
  }
  gk_gmm_stats_free(s);

  /* the fingerprint */
  uint64_t fp = 0;
  if (!bad && gk_gmm_train_fingerprint(&x, &j->o, c, &fp, &e) != GK_OK) bad = 1;
  if (!bad) {
    path_of(j, "fp", r, path, sizeof path);
    FILE *f = fopen(path, "w");
    if (!f) bad = 1;
    else {
      fprintf(f, "%llu\n", (unsigned long long)fp);
      fclose(f);
    }
  }

  /* training */
  for (size_t i = 0; !bad && i < j->steps; i++) {
    double ll;
    if (gk_gmm_trainer_step(t, &x, c, &ll, NULL, &e) != GK_OK) bad = 1;
  }
  if (!bad) {
    path_of(j, "model", r, path, sizeof path);
    if (gk_gmm_save(t->model, path, &e) != GK_OK) bad = 1;
  }
  if (bad && e.message[0]) fprintf(stderr, "rank %d: %s\n", r, e.message);
  gk_gmm_trainer_free(t);
  corpus_free(&cp);
  return bad;
}

/* max |a - b| / max |a| over n values */
static double reldiff(const double *a, const double *b, size_t n) {
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < n; i++) {
    num = fmax(num, fabs(a[i] - b[i]));
    den = fmax(den, fabs(a[i]));
  }
  return den > 0.0 ? num / den : num;
}

static double model_diff(const gk_gmm *a, const gk_gmm *b) {
  if (a->k != b->k || a->d != b->d || a->cov != b->cov) return INFINITY;
  size_t cs = gk_gmm_cov_size(a->cov, a->d);
  double d = reldiff(a->weights, b->weights, a->k);
  d = fmax(d, reldiff(a->means, b->means, a->k * a->d));
  for (size_t c = 0; c < a->k; c++) d = fmax(d, reldiff(a->covs + c * cs, b->covs + c * cs, cs));
  return d;
}

static gk_gmm *load_model(const job *j, const char *what, int r) {
  char path[96];
  gk_gmm *g = NULL;
  path_of(j, what, r, path, sizeof path);
  gk_error e;
  GK_CHECK_OK(gk_gmm_load(path, &g, NULL, &e), &e);
  return g;
}

#define NJOBS 5
static job jobs[NJOBS];
static int job_ranks[NJOBS] = {2, 3, 2, 3, 3};
static int job_failed[NJOBS];

/* The parent's side of a job: one process on the whole list, against the files the ranks
 * wrote. */
static void check_job(int ji) {
  const job *j = &jobs[ji];
  int p = job_ranks[ji];
  GK_CHECK(job_failed[ji] == 0);
  if (job_failed[ji]) return;
  corpus cp;
  GK_CHECK(corpus_make(&cp, j->nfiles) == 0);
  gk_gmm_data all = {cp.m, cp.nfiles, 1};
  gk_error e;
  gk_gmm_trainer *t = NULL;
  GK_CHECK_OK(gk_gmm_trainer_create(&t, &all, &j->o, NULL, NULL, &e), &e);
  if (!t) {
    corpus_free(&cp);
    return;
  }
  /* the initial model: exactly one process's, on every rank */
  for (int r = 0; r < p; r++) {
    gk_gmm *g = load_model(j, "init", r);
    if (g) GK_CHECK(model_diff(t->model, g) == 0.0);
    gk_gmm_free(g);
  }
  /* statistics: the ranks' shares accumulated here and merged in rank order */
  gk_gmm_stats *ref = NULL;
  for (int r = 0; r < p; r++) {
    gk_gmm_data x = share(&cp, r, p);
    if (x.nparts == 0) continue;
    gk_gmm_stats *s = NULL;
    GK_CHECK_OK(gk_gmm_accumulate(t->model, &x, &s, NULL, &e), &e);
    if (!ref) ref = s;
    else {
      GK_CHECK_OK(gk_gmm_stats_merge(ref, s, &e), &e);
      gk_gmm_stats_free(s);
    }
  }
  for (int r = 0; ref && r < p; r++) {
    char path[96];
    gk_gmm_stats *s = NULL;
    path_of(j, "stats", r, path, sizeof path);
    GK_CHECK_OK(gk_gmm_stats_load(path, &s, NULL, &e), &e);
    if (!s) continue;
    size_t k = s->k, d = s->d, cs = gk_gmm_cov_size(s->cov, d);
    GK_CHECK(s->frames == ref->frames && s->loglik == ref->loglik);
    GK_CHECK(memcmp(s->zero, ref->zero, k * sizeof(double)) == 0);
    GK_CHECK(memcmp(s->first, ref->first, k * d * sizeof(double)) == 0);
    GK_CHECK(memcmp(s->second, ref->second, k * cs * sizeof(double)) == 0);
    GK_CHECK(memcmp(s->shift, ref->shift, k * d * sizeof(double)) == 0);
    gk_gmm_stats_free(s);
  }
  gk_gmm_stats_free(ref);
  /* the fingerprint of the whole list */
  uint64_t fp = 0;
  GK_CHECK_OK(gk_gmm_train_fingerprint(&all, &j->o, NULL, &fp, &e), &e);
  for (int r = 0; r < p; r++) {
    char path[96];
    unsigned long long v = 0;
    path_of(j, "fp", r, path, sizeof path);
    FILE *f = fopen(path, "r");
    GK_CHECK(f && fscanf(f, "%llu", &v) == 1 && v == fp);
    if (f) fclose(f);
  }
  /* training: every rank the same bits, one process within 1e-12 */
  for (size_t i = 0; i < j->steps; i++) GK_CHECK_OK(gk_gmm_trainer_step(t, &all, NULL, NULL, NULL, &e), &e);
  gk_gmm *m0 = load_model(j, "model", 0);
  if (m0) {
    double d = model_diff(t->model, m0);
    printf("job %d (%d ranks, %s): relative difference %.2g to one process\n", ji, p,
           gk_cov_type_name(t->model->cov), d);
    GK_CHECK(d <= 1e-12);
    for (int r = 1; r < p; r++) {
      gk_gmm *g = load_model(j, "model", r);
      if (g) GK_CHECK(model_diff(m0, g) == 0.0);
      gk_gmm_free(g);
    }
  }
  gk_gmm_free(m0);
  gk_gmm_trainer_free(t);
  corpus_free(&cp);
}

static void test_job0(void) { check_job(0); }
static void test_job1(void) { check_job(1); }
static void test_job2(void) { check_job(2); }
static void test_job3(void) { check_job(3); }
static void test_job4(void) { check_job(4); }

/* Without a communicator (NULL): one process, the same results twice. */
static void test_single(void) {
  corpus cp;
  GK_CHECK(corpus_make(&cp, 3) == 0);
  gk_gmm_data x = {cp.m, cp.nfiles, 1};
  gk_gmm_train_opts o;
  gk_gmm_train_opts_default(&o);
  o.components = 3;
  gk_error e;
  uint64_t fp = 0;
  size_t total = 0;
  GK_CHECK(gk_comm_rank(NULL) == 0 && gk_comm_size(NULL) == 1);
  GK_CHECK_OK(gk_gmm_train_check(&x, &o, NULL, &total, &e), &e);
  GK_CHECK(total == gk_gmm_data_frames(&x));
  uint64_t fp2 = 1;
  GK_CHECK_OK(gk_gmm_train_fingerprint(&x, &o, NULL, &fp, &e), &e);
  GK_CHECK_OK(gk_gmm_train_fingerprint(&x, &o, NULL, &fp2, &e), &e);
  GK_CHECK(fp == fp2);
  double v = 2.5;
  GK_CHECK_OK(gk_comm_sum_doubles(NULL, &v, 1, &e), &e);
  GK_CHECK(v == 2.5);
  gk_gmm_trainer *a = NULL, *b = NULL;
  GK_CHECK_OK(gk_gmm_trainer_create(&a, &x, &o, NULL, NULL, &e), &e);
  GK_CHECK_OK(gk_gmm_trainer_create(&b, &x, &o, NULL, NULL, &e), &e);
  for (int i = 0; a && b && i < 3; i++) {
    GK_CHECK_OK(gk_gmm_trainer_step(a, &x, NULL, NULL, NULL, &e), &e);
    GK_CHECK_OK(gk_gmm_trainer_step(b, &x, NULL, NULL, NULL, &e), &e);
  }
  if (a && b) GK_CHECK(model_diff(a->model, b->model) == 0.0);
  gk_gmm_trainer_free(a);
  gk_gmm_trainer_free(b);
  /* statistics of another shape are refused */
  gk_gmm_stats *s = NULL;
  GK_CHECK_OK(gk_gmm_stats_create(&s, 2, 4, GK_COV_DIAG, NULL, &e), &e);
  GK_CHECK(gk_gmm_stats_reduce(&s, 3, 4, GK_COV_DIAG, NULL, NULL, &e) == GK_EINVAL);
  GK_CHECK(strstr(e.message, "statistics of 2 diag components in dimension 4, expected 3") != NULL);
  gk_gmm_stats_free(s);
  corpus_free(&cp);
}

int main(void) {
  char dir[] = "/tmp/gk_test_comm_XXXXXX";
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return EXIT_FAILURE;
  }
  struct { size_t nfiles; gk_cov_type cov; gk_gmm_init init; size_t k; size_t steps; } cases[NJOBS] = {
    {13, GK_COV_DIAG, GK_INIT_KMEANSPP, 6, 8},
    {13, GK_COV_DIAG, GK_INIT_SPLIT, 6, 12},
    {9, GK_COV_FULL, GK_INIT_KMEANS, 3, 8},
    {9, GK_COV_FULL, GK_INIT_SPLIT, 4, 10},
    {2, GK_COV_DIAG, GK_INIT_KMEANSPP, 3, 6},  /* rank 0 holds no file */
  };
  /* Every fork first (the parent then runs OpenMP regions). */
  for (int i = 0; i < NJOBS; i++) {
    job *j = &jobs[i];
    snprintf(j->dir, sizeof j->dir, "%s", dir);
    j->nfiles = cases[i].nfiles;
    gk_gmm_train_opts_default(&j->o);
    j->o.cov = cases[i].cov;
    j->o.init = cases[i].init;
    j->o.components = cases[i].k;
    j->o.seed = 5 + (uint64_t)i;
    j->steps = cases[i].steps;
    j->tag = i;
    job_failed[i] = run_ranks(job_ranks[i], job_body, j);
  }
  GK_RUN(test_job0);
  GK_RUN(test_job1);
  GK_RUN(test_job2);
  GK_RUN(test_job3);
  GK_RUN(test_job4);
  GK_RUN(test_single);
  char cmd[96];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  return GK_TEST_SUMMARY();
}
