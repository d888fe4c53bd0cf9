/*
 * source.c: feature matrices streamed from disk in chunks (gmmkit/source.h).
 *
 * Two chunk buffers: the caller holds one while a thread fills the other. gk_source_next
 * waits for the thread, releases the caller's previous chunk, hands out the new one and
 * starts the thread on the buffer just released, so that reading the next chunk overlaps
 * the caller's work on this one. The thread touches only its buffer and the reader; the
 * caller touches them only after joining it.
 */
#define _POSIX_C_SOURCE 200809L
#include "gmmkit/source.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gmmkit/alloc.h"
#include "gmmkit/fileio.h"
#include "gmmkit/htk.h"
#include "gmmkit/kaldi.h"
#include "gmmkit/limits.h"
#include "gmmkit/npy.h"

/* One chunk: its matrices and how reading it ended. */
typedef struct chunk_buf {
  gk_matrix *parts;  /* n matrices (cap allocated), data from malloc */
  size_t n, cap, frames;
  int end;           /* the pass ended while filling it */
  gk_status st;      /* how reading it ended */
  gk_error err;
} chunk_buf;

struct gk_source {
  gk_source_opts o;
  char *spec;               /* a Kaldi rspecifier, or NULL */
  char **paths;             /* else npaths files */
  size_t npaths;
  gk_kaldi_reader *reader;  /* the pass's reader (tables) */
  size_t entry;             /* index of the next entry of the pass */
  chunk_buf buf[2];
  int cur;                  /* the buffer the caller holds */
  pthread_t th;
  int running;              /* the thread is filling buf[1 - cur] */
  int ended;                /* the pass's last entry has been read */
};

void gk_source_opts_default(gk_source_opts *o) {
  o->chunk_frames = 262144;
  o->share = 0;
  o->shares = 1;
}

static void buf_release(chunk_buf *b) {
  for (size_t i = 0; i < b->n; i++) gk_matrix_release(&b->parts[i], NULL);
  b->n = 0;
  b->frames = 0;
  b->end = 0;
  b->st = GK_OK;
}

/* Appends m (taken over) to b. */
static gk_status buf_push(chunk_buf *b, gk_matrix *m, gk_error *err) {
  if (b->n == b->cap) {
    size_t cap = b->cap ? 2 * b->cap : 16;
    gk_matrix *p = realloc(b->parts, cap * sizeof *p);
    if (!p) {
      gk_matrix_release(m, NULL);
      return gk_fail_nomem(err);
    }
    b->parts = p;
    b->cap = cap;
  }
  b->parts[b->n++] = *m;
  b->frames += m->rows;
  return GK_OK;
}

/* ---- one entry of each kind ----------------------------------------------------------- */

static int has_suffix(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* A .npy file's rows (from its header), and with m its matrix (allocated here). */
static gk_status read_npy(const char *path, gk_matrix *m, size_t *rows, gk_error *err) {
  FILE *f = gk_open_regular(path, NULL, err);
  if (!f) return err ? err->status : GK_EIO;
  gk_npy_header h;
  gk_status st = gk_npy_read_header(f, &h, err);
  if (st == GK_OK) *rows = h.rows;
  if (st == GK_OK && m && (st = gk_matrix_alloc(m, h.rows, h.cols, h.dtype, NULL, err)) == GK_OK &&
      (st = gk_npy_read_data(f, &h, m, err)) != GK_OK)
    gk_matrix_release(m, NULL);
  fclose(f);
  if (st != GK_OK) gk_error_prefix(err, path);
  return st;
}

/* An HTK file's rows, and with m its matrix. */
static gk_status read_htk(const char *path, gk_matrix *m, size_t *rows, gk_error *err) {
  gk_htk_header h;
  gk_status st = gk_htk_read_header(path, &h, err);
  if (st == GK_OK) *rows = h.frames;
  if (st == GK_OK && m && (st = gk_matrix_alloc(m, h.frames, h.dims, GK_FLOAT32, NULL, err)) == GK_OK &&
      (st = gk_htk_read_data(path, &h, m, err)) != GK_OK)
    gk_matrix_release(m, NULL);
  return st;
}

/* The next value of table r: its rows, and with m its matrix (else the value is skipped,
 * which for a file is a seek). *done at the end of the table. */
static gk_status table_value(gk_kaldi_reader *r, gk_matrix *m, size_t *rows, int *done, gk_error *err) {
  const char *key;
  size_t cols;
  gk_dtype dt;
  gk_status st = gk_kaldi_reader_next_header(r, &key, rows, &cols, &dt, done, err);
  if (st == GK_OK && !*done && m && (st = gk_matrix_alloc(m, *rows, cols, dt, NULL, err)) == GK_OK &&
      (st = gk_kaldi_reader_read_data(r, m, err)) != GK_OK)
    gk_matrix_release(m, NULL);
  return st;
}

/* Opens the list's archive p as the reader of its matrices. Kaldi would read a name ending
 * in '|' as a command and "-" as the standard input: such a name is refused. */
static gk_status open_archive(gk_source *s, const char *p, gk_error *err) {
  size_t n = strlen(p);
  while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
  if ((n > 0 && p[n - 1] == '|') || strcmp(p, "-") == 0)
    return gk_fail(err, GK_EINVAL, "%s: a file name that Kaldi reads as a command or the standard input; give "
                   "such a source as an rspecifier (\"ark:cmd |\")", p);
  char *spec = gk_scratch_alloc(n + 5, 1);
  if (!spec) return gk_fail_nomem(err);
  memcpy(spec, "ark:", 4);
  memcpy(spec + 4, p, n);
  spec[n + 4] = '\0';
  gk_status st = gk_kaldi_reader_open(&s->reader, spec, err);
  gk_scratch_free(spec);
  return st;
}

/* The next matrix of this share from the files (its rows alone when m is NULL): a .npy or
 * HTK file is one matrix, a Kaldi archive (.ark) all of its own in order; the list's items
 * are shared, whole. *done at the end. */
static gk_status next_file(gk_source *s, gk_matrix *m, size_t *rows, int *done, gk_error *err) {
  for (;;) {
    gk_status st;
    if (s->reader) {  /* inside an archive of the list */
      st = table_value(s->reader, m, rows, done, err);
      if (st != GK_OK || !*done) return st;
      gk_kaldi_reader_close(s->reader);
      s->reader = NULL;
    }
    while (s->entry < s->npaths && s->entry % s->o.shares != s->o.share) s->entry++;
    *done = s->entry >= s->npaths;
    if (*done) return GK_OK;
    const char *p = s->paths[s->entry++];
    if (!has_suffix(p, ".ark")) return has_suffix(p, ".npy") ? read_npy(p, m, rows, err) : read_htk(p, m, rows, err);
    if ((st = open_archive(s, p, err)) != GK_OK) return st;
  }
}

/* The next entry of this share from the table (the others' values skipped). */
static gk_status next_table(gk_source *s, gk_matrix *m, size_t *rows, int *done, gk_error *err) {
  gk_status st = s->reader ? GK_OK : gk_kaldi_reader_open(&s->reader, s->spec, err);
  for (;;) {
    int mine = s->entry++ % s->o.shares == s->o.share;
    if (st == GK_OK) st = table_value(s->reader, mine ? m : NULL, rows, done, err);
    if (st != GK_OK || *done || mine) return st;
  }
}

/* The next entry of this share: its rows, and with m its matrix; *done at the end. */
static gk_status next_entry(gk_source *s, gk_matrix *m, size_t *rows, int *done, gk_error *err) {
  return s->spec ? next_table(s, m, rows, done, err) : next_file(s, m, rows, done, err);
}

/* Fills b with the next entries until chunk_frames frames or the end of the pass. */
static void fill(gk_source *s, chunk_buf *b) {
  buf_release(b);
  gk_error_clear(&b->err);
  while (b->st == GK_OK && !b->end && b->frames < s->o.chunk_frames) {
    gk_matrix m;
    memset(&m, 0, sizeof m);
    int done = 0;
    size_t rows;
    b->st = next_entry(s, &m, &rows, &done, &b->err);
    if (b->st == GK_OK && done) b->end = 1;
    else if (b->st == GK_OK) b->st = buf_push(b, &m, &b->err);
  }
}

static void *fill_thread(void *arg) {
  gk_source *s = arg;
  fill(s, &s->buf[1 - s->cur]);
  return NULL;
}

/* Starts the thread on buf[1 - cur]; without a thread (none could start) fills it here. */
static void prefetch(gk_source *s) {
  if (pthread_create(&s->th, NULL, fill_thread, s) == 0) s->running = 1;
  else fill(s, &s->buf[1 - s->cur]);
}

static void wait_prefetch(gk_source *s) {
  if (!s->running) return;
  pthread_join(s->th, NULL);
  s->running = 0;
}

/* ---- the public functions ----------------------------------------------------------------- */

static gk_status check_opts(const gk_source_opts *o, gk_error *err) {
  if (o->chunk_frames < 1 || o->chunk_frames > GK_MAX_ELEMENTS)
    return gk_fail(err, GK_EINVAL, "chunk_frames = %zu must be between 1 and %zu", o->chunk_frames,
                   (size_t)GK_MAX_ELEMENTS);
  if (o->shares < 1 || o->share >= o->shares)
    return gk_fail(err, GK_EINVAL, "share %zu of %zu: expected 0 <= share < shares", o->share, o->shares);
  return GK_OK;
}

/* A source with its options (NULL: the defaults) checked, or NULL with *st set. */
static gk_source *source_new(const gk_source_opts *o, gk_status *st, gk_error *err) {
  gk_source_opts d;
  gk_source_opts_default(&d);
  if (!o) o = &d;
  if ((*st = check_opts(o, err)) != GK_OK) return NULL;
  gk_source *s = calloc(1, sizeof *s);
  if (!s) *st = gk_fail_nomem(err);
  else s->o = *o;
  return s;
}

gk_status gk_source_open_table(gk_source **out, const char *rspecifier, const gk_source_opts *o, gk_error *err) {
  *out = NULL;
  gk_status st;
  gk_source *s = source_new(o, &st, err);
  if (!s) return st;
  if (!(s->spec = gk_strdup(rspecifier))) {
    free(s);
    return gk_fail_nomem(err);
  }
  /* The specifier is checked now: a typo is reported here, not at the first chunk. */
  st = gk_kaldi_reader_open(&s->reader, s->spec, err);
  if (st != GK_OK) {
    gk_source_close(s);
    return st;
  }
  *out = s;
  return GK_OK;
}

gk_status gk_source_open_files(gk_source **out, const char *const *paths, size_t n, const gk_source_opts *o,
                               gk_error *err) {
  *out = NULL;
  if (n < 1) return gk_fail(err, GK_EINVAL, "no data: an empty list of files");
  gk_status st;
  for (size_t i = 0; i < n; i++)
    if ((st = gk_check_regular(paths[i], NULL, err)) != GK_OK) return st;
  gk_source *s = source_new(o, &st, err);
  if (!s) return st;
  if (!(s->paths = calloc(n, sizeof *s->paths))) {
    free(s);
    return gk_fail_nomem(err);
  }
  s->npaths = n;
  for (size_t i = 0; i < n; i++)
    if (!(s->paths[i] = gk_strdup(paths[i]))) {
      gk_source_close(s);
      return gk_fail_nomem(err);
    }
  *out = s;
  return GK_OK;
}

gk_status gk_source_next(gk_source *s, gk_gmm_data *chunk, int *done, gk_error *err) {
  memset(chunk, 0, sizeof *chunk);
  chunk->stride = 1;
  *done = 1;
  if (!s->running && !s->ended) prefetch(s);
  wait_prefetch(s);
  buf_release(&s->buf[s->cur]);
  if (s->ended) return GK_OK;
  s->cur = 1 - s->cur;
  chunk_buf *b = &s->buf[s->cur];
  if (b->st != GK_OK) {
    s->ended = 1;
    if (err) *err = b->err;
    return b->st;
  }
  s->ended = b->end;
  if (!s->ended) prefetch(s);
  if (b->n == 0) return GK_OK;
  chunk->parts = b->parts;
  chunk->nparts = b->n;
  *done = 0;
  return GK_OK;
}

gk_status gk_source_rewind(gk_source *s, gk_error *err) {
  wait_prefetch(s);
  buf_release(&s->buf[0]);
  buf_release(&s->buf[1]);
  gk_kaldi_reader_close(s->reader);
  s->reader = NULL;
  s->entry = 0;
  s->ended = 0;
  (void)err;
  return GK_OK;
}

/* The frames of a pass, every stride-th of each entry, from the headers alone. */
static gk_status count_frames(gk_source *s, size_t stride, size_t *total, gk_error *err) {
  gk_status st = gk_source_rewind(s, err);
  *total = 0;
  for (int done = 0; st == GK_OK;) {
    size_t rows = 0;
    st = next_entry(s, NULL, &rows, &done, err);
    if (st != GK_OK || done) break;
    *total += rows ? (rows - 1) / stride + 1 : 0;
  }
  gk_source_rewind(s, NULL);
  return st;
}

/* Copies into out (rows of d floats, at most max) the frames of x (every stride-th of each
 * matrix) whose index in the pass's count (*seen, advanced) is a multiple of step. */
static gk_status sample_chunk(const gk_gmm_data *x, size_t step, size_t max, gk_matrix *out, size_t *seen,
                              size_t *n, gk_error *err) {
  for (size_t p = 0; p < x->nparts; p++) {
    const gk_matrix *m = &x->parts[p];
    if (m->rows == 0) continue;
    if (m->cols != out->cols)
      return gk_fail(err, GK_EINVAL, "the matrices have %zu and %zu columns: every frame must have the same "
                     "dimension", out->cols, m->cols);
    for (size_t r = 0; r < m->rows; r += x->stride, (*seen)++) {
      if (*seen % step || *n >= max) continue;
      float *o = (float *)out->data + (*n)++ * out->cols;
      for (size_t j = 0; j < out->cols; j++) o[j] = (float)gk_matrix_get(m, r, j);
    }
  }
  return GK_OK;
}

gk_status gk_source_sample(gk_source *s, size_t stride, size_t max_frames, gk_matrix *out, size_t *total,
                           const gk_allocator *a, gk_error *err) {
  memset(out, 0, sizeof *out);
  if (stride < 1 || max_frames < 1) return gk_fail(err, GK_EINVAL, "stride and sample size must be at least 1");
  size_t count = 0, seen = 0, n = 0;
  gk_status st = count_frames(s, stride, &count, err);
  if (st == GK_OK && count == 0) st = gk_fail(err, GK_EINVAL, "no data: the source holds no frames");
  if (st != GK_OK) return st;
  size_t step = (count + max_frames - 1) / max_frames, keep = (count - 1) / step + 1;
  for (int done = 0; st == GK_OK;) {
    gk_gmm_data x;
    st = gk_source_next(s, &x, &done, err);
    if (st != GK_OK || done) break;
    x.stride = stride;
    if (!out->data && (st = gk_matrix_alloc(out, keep, x.parts[0].cols, GK_FLOAT32, a, err)) != GK_OK) break;
    st = sample_chunk(&x, step, keep, out, &seen, &n, err);
  }
  if (st == GK_OK && (seen != count || n != keep))
    st = gk_fail(err, GK_EIO, "the data changed while it was read: %zu frames, %zu by the headers", seen, count);
  if (st != GK_OK) gk_matrix_release(out, a);
  else *total = count;
  gk_source_rewind(s, NULL);
  return st;
}

void gk_source_close(gk_source *s) {
  if (!s) return;
  wait_prefetch(s);
  for (int i = 0; i < 2; i++) {
    buf_release(&s->buf[i]);
    free(s->buf[i].parts);
  }
  gk_kaldi_reader_close(s->reader);
  for (size_t i = 0; i < s->npaths; i++) free(s->paths[i]);
  free(s->paths);
  free(s->spec);
  free(s);
}
