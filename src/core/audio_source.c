/*
 * audio_source.c: the audio of one Kaldi utterance (see gk_audio_source in gmmkit/audio.h):
 * a file or a wav.scp command's output, cut to its segment as extract-segments cuts.
 */
#define _POSIX_C_SOURCE 200809L
#include "gmmkit/audio.h"
#include "gmmkit/limits.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* A command's output larger than this is refused (a RIFF WAV cannot exceed 4 GiB). */
#define GK_COMMAND_MAX_BYTES ((size_t)1 << 32)

/* Kaldi extract-segments' defaults: --max-overshoot 0.5, --min-segment-length 0.1 (s). */
#define GK_SEGMENT_MAX_OVERSHOOT 0.5
#define GK_SEGMENT_MIN_LENGTH 0.1

/* Says how the command ended when that was not exit status 0. */
static gk_status command_status(int status, const char *cmd, gk_error *err) {
  if (status == -1) return gk_fail(err, GK_EIO, "the command '%s' could not be waited for: %s", cmd, strerror(errno));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return GK_OK;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
    return gk_fail(err, GK_EIO, "the command '%s' failed with exit status 127 (command not found?)", cmd);
  if (WIFEXITED(status))
    return gk_fail(err, GK_EIO, "the command '%s' failed with exit status %d (run it in a shell to see why)", cmd,
                   WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return gk_fail(err, GK_EIO, "the command '%s' was killed by signal %d", cmd, WTERMSIG(status));
  return gk_fail(err, GK_EIO, "the command '%s' ended abnormally (wait status %d)", cmd, status);
}

/* Runs `cmd` by /bin/sh and reads all of its standard output into *buf (malloc'ed, *n
 * bytes); its exit status must be 0. */
static gk_status run_command(const char *cmd, unsigned char **buf, size_t *n, gk_error *err) {
  *buf = NULL;
  *n = 0;
  fflush(NULL); /* what this process printed comes before the command's messages */
  FILE *p = popen(cmd, "r");
  if (!p) return gk_fail(err, GK_EIO, "the command '%s' could not be started: %s", cmd, strerror(errno));
  size_t cap = 0, len = 0, got;
  unsigned char *b = NULL;
  gk_status st = GK_OK;
  do {
    if (len == cap) {
      size_t ncap = cap ? cap * 2 : 1 << 16;
      unsigned char *nb = ncap <= GK_COMMAND_MAX_BYTES ? realloc(b, ncap) : NULL;
      if (!nb) {
        st = ncap > GK_COMMAND_MAX_BYTES ? gk_fail(err, GK_ELIMIT, "the command '%s' wrote more than %zu bytes",
                                                   cmd, GK_COMMAND_MAX_BYTES)
                                         : gk_fail_nomem(err);
        break;
      }
      b = nb;
      cap = ncap;
    }
    got = fread(b + len, 1, cap - len, p);
    len += got;
  } while (got > 0);
  /* pclose waits for the child also after an early stop (it then gets SIGPIPE). */
  int status = pclose(p);
  if (st == GK_OK) st = command_status(status, cmd, err);
  if (st != GK_OK) {
    free(b);
    return st;
  }
  *buf = b;
  *n = len;
  return GK_OK;
}

/* The recording of `s` at its own rate (no resampling: a segment is cut first). */
static gk_status load_native(const gk_audio_source *s, const gk_audio_opts *o, gk_signal *out,
                             const gk_allocator *a, gk_error *err) {
  gk_audio_opts native = *o;
  native.rate = 0;
  if (!s->command) return gk_audio_load(s->path, &native, out, a, err);
  unsigned char *buf;
  size_t n;
  gk_status st = run_command(s->command, &buf, &n, err);
  if (st != GK_OK) return st;
  char label[GK_ERROR_MAX / 2];
  snprintf(label, sizeof label, "the output of '%s'", s->command);
  st = gk_audio_load_memory(buf, n, label, &native, out, a, err);
  free(buf);
  return st;
}

/* Resamples `sig` in place to `rate` Hz (nothing when 0 or already at it). */
static gk_status resample_to(gk_signal *sig, int rate, gk_resample_quality q, const gk_allocator *a,
                             gk_error *err) {
  if (rate <= 0 || rate == sig->rate) return GK_OK;
  gk_signal r;
  gk_status st = gk_audio_resample(sig, rate, q, &r, a, err);
  if (st != GK_OK) return st;
  gk_signal_release(sig, a);
  *sig = r;
  return GK_OK;
}

gk_status gk_audio_segment(const gk_signal *rec, double start, double stop, int rate, gk_resample_quality q,
                           gk_signal *out, const gk_allocator *a, gk_error *err) {
  out->samples = NULL;
  out->n = 0;
  out->rate = rec->rate;
  double r = rec->rate;
  long long n = (long long)rec->n, s0 = (long long)(start * r);
  long long s1 = stop < 0 ? n : (long long)(stop * r);
  if (!(start >= 0) || !(r > 0)) return gk_fail(err, GK_EINVAL, "a segment starts at a time >= 0 of a signal with a rate");
  if (s0 >= n)
    return gk_fail(err, GK_EINVAL, "the segment starts at %.3f s, not before the end of the recording (%.3f s)",
                   start, (double)n / r);
  if (s1 > n) {
    if (s1 >= n + (long long)(GK_SEGMENT_MAX_OVERSHOOT * r))
      return gk_fail(err, GK_EINVAL, "the segment ends at %.3f s, %.1f s or more after the end of the recording "
                     "(%.3f s): fix its stop time in segments", stop, GK_SEGMENT_MAX_OVERSHOOT, (double)n / r);
    s1 = n; /* a small overshoot is truncated, as Kaldi does */
  }
  if (s1 <= s0 + (long long)(GK_SEGMENT_MIN_LENGTH * r))
    return gk_fail(err, GK_EINVAL, "the segment [%.3f, %.3f] s is %.1f s or shorter (Kaldi skips it too)", start,
                   stop, GK_SEGMENT_MIN_LENGTH);
  size_t m = (size_t)(s1 - s0);
  out->samples = gk_alloc(a, m * sizeof(float));
  if (!out->samples) return gk_fail_nomem(err);
  memcpy(out->samples, rec->samples + s0, m * sizeof(float));
  out->n = m;
  gk_status st = resample_to(out, rate, q, a, err);
  if (st != GK_OK) gk_signal_release(out, a);
  return st;
}

gk_status gk_audio_load_source(const gk_audio_source *s, const gk_audio_opts *o, gk_signal *out,
                               int *source_rate, const gk_allocator *a, gk_error *err) {
  gk_audio_opts def;
  out->samples = NULL;
  out->n = 0;
  out->rate = 0;
  if (source_rate) *source_rate = 0;
  if (!o) {
    gk_audio_opts_default(&def);
    o = &def;
  }
  gk_status st;
  if (!s || (!s->path) == (!s->command)) {
    st = gk_fail(err, GK_EINVAL, "an audio source is one path or one command");
  } else if (!s->command && !s->cut) {
    /* A whole file: resampled while it is decoded, exactly as gk_audio_load does. */
    gk_audio_info info;
    if (source_rate && gk_audio_info_file(s->path, &info, err) == GK_OK) *source_rate = info.rate;
    gk_error_clear(err);
    st = gk_audio_load(s->path, o, out, a, err);
  } else if ((st = load_native(s, o, out, a, err)) == GK_OK) {
    if (source_rate) *source_rate = out->rate;
    if (s->cut) {
      gk_signal whole = *out;
      st = gk_audio_segment(&whole, s->start, s->stop, o->rate, o->quality, out, a, err);
      gk_signal_release(&whole, a);
    } else {
      st = resample_to(out, o->rate, o->quality, a, err);
      if (st != GK_OK) gk_signal_release(out, a);
    }
  }
  if (st != GK_OK && s && s->name) gk_error_prefix(err, s->name);
  return st;
}
