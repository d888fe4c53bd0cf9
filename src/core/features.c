/*
 * features.c: deltas, sliding CMVN, energy VAD, feature warping and batch extraction
 * (see gmmkit/features.h).
 */
#include "gmmkit/features.h"
#include "gmmkit/alloc.h"
#include "gmmkit/parallel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static gk_status check_f32(const gk_matrix *m, const char *what, gk_error *err) {
  if (!m || m->dtype != GK_FLOAT32 || (!m->data && m->rows * m->cols > 0))
    return gk_fail(err, GK_EINVAL, "%s must be a float32 matrix", what);
  return GK_OK;
}

/* ---- deltas ------------------------------------------------------------------------ */

gk_status gk_features_deltas(const gk_matrix *src, int order, int window, gk_matrix *dst,
                             gk_error *err) {
  gk_status st = check_f32(src, "deltas: input", err);
  if (st != GK_OK) return st;
  st = check_f32(dst, "deltas: output", err);
  if (st != GK_OK) return st;
  if (order < 0 || order > 8)
    return gk_fail(err, GK_EINVAL, "deltas: option 'order' must be in [0, 8], got %d", order);
  if (window < 1 || window > 1000)
    return gk_fail(err, GK_EINVAL, "deltas: option 'window' must be in [1, 1000], got %d", window);
  size_t T = src->rows, D = src->cols, DO = D * (size_t)(order + 1);
  if (dst->rows != T || dst->cols != DO)
    return gk_fail(err, GK_EINVAL, "deltas: output must be %zu x %zu, got %zu x %zu", T, DO,
                   dst->rows, dst->cols);
  if (dst->data == src->data && T * D > 0)
    return gk_fail(err, GK_EINVAL, "deltas: output must not alias the input");
  /* Filters: scales[0] = [1]; scales[i] = scales[i-1] convolved with the regression
   * kernel j / (2 sum_{k<=W} k^2), j = -W..W (Kaldi DeltaFeatures, HTK book eq. 5.16). */
  size_t flen = (size_t)(2 * window * order + 1);
  double *scales = calloc((size_t)(order + 1) * flen, sizeof(double));
  double *tmp = calloc(flen, sizeof(double));
  if (!scales || !tmp) { free(scales); free(tmp); return gk_fail_nomem(err); }
  double norm = 0;
  for (int j = -window; j <= window; j++) norm += (double)j * j;
  scales[0] = 1.0;  /* order 0: length 1 */
  for (int i = 1; i <= order; i++) {
    const double *prev = scales + (size_t)(i - 1) * flen;
    double *cur = scales + (size_t)i * flen;
    int prev_half = (i - 1) * window, cur_half = i * window;
    memset(tmp, 0, flen * sizeof(double));
    for (int j = -window; j <= window; j++)
      for (int k = -prev_half; k <= prev_half; k++)
        tmp[j + k + cur_half] += j * prev[k + prev_half];
    for (int m = 0; m <= 2 * cur_half; m++) cur[m] = tmp[m] / norm;
  }
  free(tmp);
  const float *x = src->data;
  float *y = dst->data;
  for (size_t t = 0; t < T; t++) {
    float *out = y + t * DO;
    memcpy(out, x + t * D, D * sizeof(float));
    for (int i = 1; i <= order; i++) {
      const double *sc = scales + (size_t)i * flen;
      int half = i * window;
      float *o = out + (size_t)i * D;
      for (size_t d = 0; d < D; d++) o[d] = 0.0f;
      for (int j = -half; j <= half; j++) {
        double s = sc[j + half];
        if (s == 0.0) continue;
        long long tt = (long long)t + j;
        if (tt < 0) tt = 0;
        if (tt >= (long long)T) tt = (long long)T - 1;
        const float *r = x + (size_t)tt * D;
        for (size_t d = 0; d < D; d++) o[d] += (float)s * r[d];
      }
    }
  }
  free(scales);
  return GK_OK;
}

/* ---- sliding CMVN ------------------------------------------------------------------- */

void gk_cmvn_opts_default(gk_cmvn_opts *o) {
  o->window = 300;
  o->center = 1;
  o->min_window = 100;
  o->norm_vars = 0;
}

gk_status gk_features_cmvn(const gk_matrix *src, const gk_cmvn_opts *o, gk_matrix *dst,
                           gk_error *err) {
  gk_status st = check_f32(src, "cmvn: input", err);
  if (st != GK_OK) return st;
  st = check_f32(dst, "cmvn: output", err);
  if (st != GK_OK) return st;
  if (o->window < 0)
    return gk_fail(err, GK_EINVAL, "cmvn: option 'window' must be >= 0 frames, got %d", o->window);
  if (o->min_window < 0)
    return gk_fail(err, GK_EINVAL, "cmvn: option 'min_window' must be >= 0, got %d", o->min_window);
  size_t T = src->rows, D = src->cols;
  if (dst->rows != T || dst->cols != D)
    return gk_fail(err, GK_EINVAL, "cmvn: output must be %zu x %zu, got %zu x %zu", T, D,
                   dst->rows, dst->cols);
  if (dst->data == src->data && T * D > 0)
    return gk_fail(err, GK_EINVAL, "cmvn: output must not alias the input");
  if (T == 0 || D == 0) return GK_OK;
  double *sum = calloc(2 * D, sizeof(double));
  if (!sum) return gk_fail_nomem(err);
  double *sumsq = sum + D;
  const float *x = src->data;
  float *y = dst->data;
  long long n = (long long)T, w = o->window;
  long long last_start = 0, last_end = 0;  /* the window [last_start, last_end) summed */
  for (long long t = 0; t < n; t++) {
    long long start, end;
    if (w == 0) {  /* whole utterance */
      start = 0;
      end = n;
    } else {
      /* Kaldi SlidingWindowCmnInternal: centred [t - w/2, t - w/2 + w) or trailing
       * [t - w, t + 1); shifted inside the utterance at the ends. */
      if (o->center) {
        start = t - w / 2;
        end = start + w;
      } else {
        start = t - w;
        end = t + 1;
      }
      if (start < 0) {
        end -= start;
        start = 0;
      }
      if (!o->center && end > t) end = (t + 1 > o->min_window) ? t + 1 : o->min_window;
      if (end > n) {
        start -= end - n;
        end = n;
        if (start < 0) start = 0;
      }
    }
    /* Both ends only move forward: add the rows entering and remove those leaving. */
    while (last_end < end) {
      const float *r = x + (size_t)last_end * D;
      for (size_t d = 0; d < D; d++) { sum[d] += r[d]; sumsq[d] += (double)r[d] * r[d]; }
      last_end++;
    }
    while (last_start < start) {
      const float *r = x + (size_t)last_start * D;
      for (size_t d = 0; d < D; d++) { sum[d] -= r[d]; sumsq[d] -= (double)r[d] * r[d]; }
      last_start++;
    }
    double frames = (double)(end - start);
    const float *r = x + (size_t)t * D;
    float *out = y + (size_t)t * D;
    for (size_t d = 0; d < D; d++) {
      double mean = sum[d] / frames;
      double v = r[d] - mean;
      if (o->norm_vars) {
        if (end - start == 1) {
          v = 0.0;
        } else {
          double var = sumsq[d] / frames - mean * mean;
          if (var < 1e-10) var = 1e-10;  /* Kaldi floors the variance at 1e-10 */
          v /= sqrt(var);
        }
      }
      out[d] = (float)v;
    }
  }
  free(sum);
  return GK_OK;
}

/* ---- VAD ---------------------------------------------------------------------------- */

void gk_vad_opts_default(gk_vad_opts *o) {
  o->energy_threshold = 5.0;
  o->energy_mean_scale = 0.5;
  o->frames_context = 0;
  o->proportion_threshold = 0.6;
  o->column = 0;
}

gk_status gk_features_vad(const gk_matrix *src, const gk_vad_opts *o, unsigned char *mask,
                          size_t *voiced, gk_error *err) {
  gk_status st = check_f32(src, "vad: input", err);
  if (st != GK_OK) return st;
  if (o->column >= src->cols)
    return gk_fail(err, GK_EINVAL, "vad: option 'column' %zu is beyond the %zu columns of the input",
                   o->column + 1, src->cols);
  if (o->frames_context < 0)
    return gk_fail(err, GK_EINVAL, "vad: option 'frames_context' must be >= 0, got %d",
                   o->frames_context);
  if (!(o->proportion_threshold > 0 && o->proportion_threshold < 1))
    return gk_fail(err, GK_EINVAL, "vad: option 'proportion_threshold' must be in (0, 1), got %g",
                   o->proportion_threshold);
  if (!isfinite(o->energy_threshold) || !isfinite(o->energy_mean_scale))
    return gk_fail(err, GK_EINVAL, "vad: options 'energy_threshold' and 'energy_mean_scale' must be finite");
  long long T = (long long)src->rows;
  size_t D = src->cols, c = o->column;
  const float *x = src->data;
  double thr = o->energy_threshold;
  if (o->energy_mean_scale != 0.0 && T > 0) {
    double s = 0;
    for (long long t = 0; t < T; t++) s += x[(size_t)t * D + c];
    thr += o->energy_mean_scale * s / (double)T;
  }
  size_t count = 0;
  long long ctx = o->frames_context;
  for (long long t = 0; t < T; t++) {
    int num = 0, den = 0;
    for (long long u = t - ctx; u <= t + ctx; u++) {
      if (u < 0 || u >= T) continue;
      den++;
      if (x[(size_t)u * D + c] > thr) num++;
    }
    mask[t] = num >= den * o->proportion_threshold ? 1 : 0;
    count += mask[t];
  }
  if (voiced) *voiced = count;
  return GK_OK;
}

/* ---- feature warping ---------------------------------------------------------------- */

/* Standard normal quantile: Acklam's rational approximation (relative error 1.15e-9)
 * refined by one Halley step on Phi(x) = erfc(-x / sqrt 2) / 2, giving full double
 * precision. */
static double norm_quantile(double p) {
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                             -2.759285104469687e+02, 1.383577518672690e+02,
                             -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                             -1.556989798598866e+02, 6.680131188771972e+01,
                             -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                             -2.400758277161838e+00, -2.549732539343734e+00,
                             4.374664141464968e+00, 2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                             2.445134137142996e+00, 3.754408661907416e+00};
  double x, q, r;
  if (p < 0.02425) {
    q = sqrt(-2 * log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - 0.02425) {
    q = p - 0.5;
    r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    q = sqrt(-2 * log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  double e = 0.5 * erfc(-x / sqrt(2.0)) - p;
  double u = e * sqrt(2 * 3.14159265358979323846) * exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

gk_status gk_features_warp(const gk_matrix *src, int window, gk_matrix *dst, gk_error *err) {
  gk_status st = check_f32(src, "warp: input", err);
  if (st != GK_OK) return st;
  st = check_f32(dst, "warp: output", err);
  if (st != GK_OK) return st;
  if (window < 1)
    return gk_fail(err, GK_EINVAL, "warp: option 'window' must be >= 1 frame, got %d", window);
  size_t T = src->rows, D = src->cols;
  if (dst->rows != T || dst->cols != D)
    return gk_fail(err, GK_EINVAL, "warp: output must be %zu x %zu, got %zu x %zu", T, D,
                   dst->rows, dst->cols);
  if (dst->data == src->data && T * D > 0)
    return gk_fail(err, GK_EINVAL, "warp: output must not alias the input");
  if (T == 0 || D == 0) return GK_OK;
  long long n = (long long)T, N = window < n ? window : n;
  const float *x = src->data;
  float *y = dst->data;
  for (long long t = 0; t < n; t++) {
    long long start = t - N / 2;
    if (start < 0) start = 0;
    if (start + N > n) start = n - N;
    for (size_t d = 0; d < D; d++) {
      float v = x[(size_t)t * D + d];
      long long greater = 0, equal = 0;
      for (long long u = start; u < start + N; u++) {
        float w = x[(size_t)u * D + d];
        greater += w > v;
        equal += w == v;
      }
      /* Rank from the top, ties (equal includes the frame itself) sharing the mean rank. */
      double R = (double)greater + 0.5 * (double)(equal + 1);
      double p = ((double)N + 0.5 - R) / (double)N;
      y[(size_t)t * D + d] = (float)norm_quantile(p);
    }
  }
  return GK_OK;
}

/* ---- batch extraction --------------------------------------------------------------- */

void gk_extract_opts_default(gk_extract_opts *o) {
  memset(o, 0, sizeof *o);
  gk_audio_opts_default(&o->audio);
  o->delta_order = 0;
  o->delta_window = 2;
  o->norm = GK_NORM_NONE;
  gk_cmvn_opts_default(&o->cmvn);
  o->warp_window = 301;
  o->vad = 0;
  gk_vad_opts_default(&o->vad_opts);
}

size_t gk_features_extract_dims(const gk_mfcc *ex, const gk_extract_opts *o) {
  return gk_mfcc_dims(ex) * (size_t)(1 + o->delta_order);
}

/* The features of the signal `sig` (released here) into r->features. Errors are
 * recorded in r->error without a prefix. */
static gk_status features_of_signal(const gk_mfcc *ex, gk_signal sig, const gk_extract_opts *o,
                                    gk_extract_result *r) {
  gk_error *err = &r->error;
  gk_status st = GK_OK;
  gk_matrix a = {0}, b = {0};
  unsigned char *mask = NULL;
  r->seconds = sig.rate > 0 ? (double)sig.n / sig.rate : 0;
  size_t frames = gk_mfcc_num_frames(ex, sig.n), sd = gk_mfcc_dims(ex);
  size_t dims = gk_features_extract_dims(ex, o);
  if (gk_mfcc_options(ex)->delta_order != 0) {
    st = gk_fail(err, GK_EINVAL, "extract: the extractor's own delta_order must be 0");
    goto done;
  }
  if (frames == 0) {
    st = gk_mfcc_compute(ex, sig.samples, sig.n, sig.rate, NULL, NULL, err);
    goto done;
  }
  if ((st = gk_matrix_alloc(&a, frames, sd, GK_FLOAT32, NULL, err)) != GK_OK) goto done;
  if ((st = gk_mfcc_compute(ex, sig.samples, sig.n, sig.rate, &a, NULL, err)) != GK_OK) goto done;
  gk_signal_release(&sig, NULL);
  size_t keep = frames;
  if (o->vad) {
    mask = malloc(frames);
    if (!mask) { st = gk_fail_nomem(err); goto done; }
    if ((st = gk_features_vad(&a, &o->vad_opts, mask, &keep, err)) != GK_OK) goto done;
  }
  if (o->norm != GK_NORM_NONE) {
    if ((st = gk_matrix_alloc(&b, frames, sd, GK_FLOAT32, NULL, err)) != GK_OK) goto done;
    st = o->norm == GK_NORM_CMVN ? gk_features_cmvn(&a, &o->cmvn, &b, err)
                                 : gk_features_warp(&a, o->warp_window, &b, err);
    if (st != GK_OK) goto done;
    gk_matrix_release(&a, NULL);
    a = b;
    b = (gk_matrix){0};
  }
  if (o->delta_order > 0) {
    if ((st = gk_matrix_alloc(&b, frames, dims, GK_FLOAT32, NULL, err)) != GK_OK) goto done;
    if ((st = gk_features_deltas(&a, o->delta_order, o->delta_window, &b, err)) != GK_OK) goto done;
    gk_matrix_release(&a, NULL);
    a = b;
    b = (gk_matrix){0};
  }
  if (mask && keep < frames) {
    /* Keep the voiced rows in place (row order is preserved, so copying forward is safe). */
    float *p = a.data;
    size_t k = 0;
    for (size_t t = 0; t < frames; t++) {
      if (!mask[t]) continue;
      if (k != t) memmove(p + k * dims, p + t * dims, dims * sizeof(float));
      k++;
    }
    a.rows = keep;
  }
  r->features = a;
  a = (gk_matrix){0};
done:
  free(mask);
  /* `a` may have been shrunk by VAD only on success, so its recorded size is intact here. */
  gk_matrix_release(&a, NULL);
  gk_matrix_release(&b, NULL);
  gk_signal_release(&sig, NULL);
  return st;
}

/* The features of `sig` into `r`; errors of the analysis (the loader's name their file
 * or command) are prefixed with `prefix` when it is not NULL. */
static gk_status finish_one(const gk_mfcc *ex, gk_signal sig, const char *prefix, const gk_extract_opts *o,
                            gk_extract_result *r) {
  gk_status st = features_of_signal(ex, sig, o, r);
  /* An interruption is no fault of the file: its message names none. */
  if (st == GK_EINTR) gk_fail(&r->error, GK_EINTR, "interrupted");
  else if (st != GK_OK && prefix) gk_error_prefix(&r->error, prefix);
  return st;
}

static void result_clear(gk_extract_result *r) {
  gk_error_clear(&r->error);
  r->features = gk_matrix_view(0, 0, GK_FLOAT32, NULL);
  r->seconds = 0;
  r->source_rate = 0;
}

/* One source; `prefix` as for finish_one. */
static gk_status extract_one(const gk_mfcc *ex, const gk_audio_source *src, const char *prefix,
                             const gk_extract_opts *o, gk_extract_result *r) {
  result_clear(r);
  gk_signal sig = {0};
  /* The recording's own rate is reported (the caller counts resampled files). */
  gk_status st = gk_audio_load_source(src, &o->audio, &sig, &r->source_rate, NULL, &r->error);
  if (st != GK_OK) return st;
  return finish_one(ex, sig, prefix, o, r);
}

gk_status gk_features_extract_source(const gk_mfcc *ex, const gk_audio_source *src,
                                     const gk_extract_opts *o, gk_extract_result *r) {
  return extract_one(ex, src, src ? src->name : NULL, o, r);
}

gk_status gk_features_extract_file(const gk_mfcc *ex, const char *path,
                                   const gk_extract_opts *o, gk_extract_result *r) {
  gk_audio_source src = {path, NULL, 0, 0, -1, NULL};
  return extract_one(ex, &src, path, o, r);
}

/* Whether sources a and b are segments of one recording (one file, or one command). */
static int same_recording(const gk_audio_source *a, const gk_audio_source *b) {
  if (!a->cut || !b->cut) return 0;
  if (a->command && b->command) return strcmp(a->command, b->command) == 0;
  return a->path && b->path && strcmp(a->path, b->path) == 0;
}

/* The segments srcs[0..m) of one recording, which is loaded (its command run) once. A
 * failure to load it is the failure of each segment. Returns whether it was interrupted. */
static int extract_group(const gk_mfcc *ex, const gk_audio_source *srcs, size_t m, const gk_extract_opts *o,
                         gk_extract_result *results) {
  gk_audio_source whole = srcs[0];
  whole.cut = 0;
  whole.name = NULL;
  gk_audio_opts native = o->audio;
  native.rate = 0;  /* cut at the recording's own rate, then resampled */
  gk_signal rec = {0};
  gk_error lerr;
  gk_error_clear(&lerr);
  int rate = 0, stopped = 0;
  gk_status lst = gk_audio_load_source(&whole, &native, &rec, &rate, NULL, &lerr);
  for (size_t k = 0; k < m; k++) {
    gk_extract_result *r = &results[k];
    result_clear(r);
    if (gk_interrupted()) {
      gk_fail(&r->error, GK_EINTR, "interrupted");
      stopped = 1;
      continue;
    }
    r->source_rate = rate;
    gk_signal seg = {0};
    if (lst != GK_OK) r->error = lerr;
    if (lst != GK_OK || gk_audio_segment(&rec, srcs[k].start, srcs[k].stop, o->audio.rate, o->audio.quality, &seg,
                                         NULL, &r->error) != GK_OK) {
      if (srcs[k].name) gk_error_prefix(&r->error, srcs[k].name);
      continue;
    }
    if (finish_one(ex, seg, srcs[k].name, o, r) == GK_EINTR) stopped = 1;
  }
  gk_signal_release(&rec, NULL);
  return stopped;
}

/* paths[i] or srcs[i] (whichever is given) in parallel, results in order. Consecutive
 * segments of one recording are one task (the loop's iteration at the first of them), so
 * that a recording cut into many segments is read once, not once per segment. */
static gk_status extract_many(const gk_mfcc *ex, const char *const *paths, const gk_audio_source *srcs, size_t n,
                              const gk_extract_opts *o, gk_extract_result *results, gk_error *err) {
  int stopped = 0;
  long long i;
  for (size_t k = 0; k < n; k++) result_clear(&results[k]);
#pragma omp parallel for num_threads(gk_threads()) schedule(dynamic, 1) reduction(| : stopped)
  for (i = 0; i < (long long)n; i++) {
    if (srcs && i > 0 && same_recording(&srcs[i - 1], &srcs[i])) continue;  /* done with its group */
    size_t m = 1;
    while (srcs && (size_t)i + m < n && same_recording(&srcs[i], &srcs[i + (long long)m])) m++;
    if (gk_interrupted()) {
      for (size_t k = 0; k < m; k++) gk_fail(&results[(size_t)i + k].error, GK_EINTR, "interrupted");
      stopped = 1;
      continue;
    }
    gk_status st = GK_OK;
    if (m > 1) stopped |= extract_group(ex, srcs + i, m, o, results + i);
    else if (srcs) st = gk_features_extract_source(ex, &srcs[i], o, &results[i]);
    else st = gk_features_extract_file(ex, paths[i], o, &results[i]);
    if (st == GK_EINTR) stopped = 1;
  }
  if (stopped) return gk_fail(err, GK_EINTR, "feature extraction interrupted");
  return GK_OK;
}

gk_status gk_features_extract(const gk_mfcc *ex, const char *const *paths, size_t n,
                              const gk_extract_opts *o, gk_extract_result *results,
                              gk_error *err) {
  return extract_many(ex, paths, NULL, n, o, results, err);
}

gk_status gk_features_extract_sources(const gk_mfcc *ex, const gk_audio_source *srcs, size_t n,
                                      const gk_extract_opts *o, gk_extract_result *results, gk_error *err) {
  return extract_many(ex, NULL, srcs, n, o, results, err);
}

gk_status gk_features_common_rate(const char *const *paths, size_t n, int *rate, gk_error *err) {
  *rate = 0;
  if (n == 0) return GK_OK;
  int *rates = malloc(n * sizeof(int));
  if (!rates) return gk_fail_nomem(err);
  int stopped = 0;
  long long i;
#pragma omp parallel for num_threads(gk_threads()) schedule(dynamic, 16) reduction(| : stopped)
  for (i = 0; i < (long long)n; i++) {
    rates[i] = 0;
    if (gk_interrupted()) {
      stopped = 1;
      continue;
    }
    gk_audio_info info;
    gk_error e;
    gk_error_clear(&e);
    if (gk_audio_info_file(paths[i], &info, &e) == GK_OK) rates[i] = info.rate;
  }
  if (stopped) {
    free(rates);
    return gk_fail(err, GK_EINTR, "feature extraction interrupted");
  }
  /* Count each distinct rate at its first occurrence: few distinct rates in practice, so
   * a short list of (rate, count) pairs beats sorting the whole array. */
  enum { MAXR = 64 };
  int rs[MAXR], cs[MAXR], nr = 0, best = -1;
  for (size_t k = 0; k < n; k++) {
    if (rates[k] <= 0) continue;
    int j = 0;
    while (j < nr && rs[j] != rates[k]) j++;
    if (j == nr) {
      if (nr == MAXR) continue;  /* more than 64 distinct rates: the later ones are not candidates */
      rs[nr] = rates[k];
      cs[nr++] = 0;
    }
    cs[j]++;
  }
  free(rates);
  for (int j = 0; j < nr; j++)  /* rs is in order of first occurrence: ties go to the first */
    if (best < 0 || cs[j] > cs[best]) best = j;
  if (best >= 0) *rate = rs[best];
  return GK_OK;
}
