/*
 * audio.c: loading, resampling and saving audio (see gmmkit/audio.h).
 *
 * Loading reads blocks of interleaved floats from libsndfile, folds each block to mono
 * and, when resampling, streams it through one libsamplerate converter, so that memory
 * is the output signal plus two small blocks. libsndfile's own checks catch most bad
 * headers; the ones it lets through (a WAV data chunk longer than the file, absurd rates
 * or channel counts, more frames than gmmkit's limits) are caught here before the output
 * is allocated.
 */
#define _POSIX_C_SOURCE 200809L
#include "gmmkit/audio.h"
#include "gmmkit/fileio.h"
#include "gmmkit/limits.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <samplerate.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *const gk_resample_quality_names[] = {"best", "medium", "fast", NULL};

/* Frames per block read from the file. */
#define GK_AUDIO_BLOCK 8192

void gk_audio_opts_default(gk_audio_opts *o) {
  o->rate = 0;
  o->channel = -1;
  o->quality = GK_RESAMPLE_MEDIUM;
}

void gk_signal_release(gk_signal *s, const gk_allocator *a) {
  if (!s) return;
  gk_free(a, s->samples, s->n * sizeof(float));
  s->samples = NULL;
  s->n = 0;
}

static int src_type(gk_resample_quality q) {
  switch (q) {
    case GK_RESAMPLE_BEST: return SRC_SINC_BEST_QUALITY;
    case GK_RESAMPLE_FAST: return SRC_SINC_FASTEST;
    default: return SRC_SINC_MEDIUM_QUALITY;
  }
}

/* Resizes a buffer of `from` floats to `to` (in place where the allocator can): shrinks a
 * resampled signal so that it holds no slack, and grows a decoding buffer; NULL when `to`
 * is 0 (the buffer is freed) or on failure (the buffer is then left as it was). */
static float *resize(const gk_allocator *a, float *p, size_t from, size_t to) {
  if (to == 0) {
    gk_free(a, p, from * sizeof(float));
    return NULL;
  }
  if (a && a->fn) return a->fn(a->ud, p, from * sizeof(float), to * sizeof(float));
  return realloc(p, to * sizeof(float));
}

/* ---- in-memory virtual file for sf_open_virtual ------------------------------------- */

typedef struct memfile {
  const unsigned char *data;
  sf_count_t size, pos;
} memfile;

static sf_count_t mem_len(void *ud) { return ((memfile *)ud)->size; }
static sf_count_t mem_seek(sf_count_t off, int whence, void *ud) {
  memfile *m = ud;
  sf_count_t p = whence == SEEK_SET ? off : whence == SEEK_CUR ? m->pos + off : m->size + off;
  if (p < 0) p = 0;
  if (p > m->size) p = m->size;
  m->pos = p;
  return p;
}
static sf_count_t mem_read(void *ptr, sf_count_t count, void *ud) {
  memfile *m = ud;
  if (count < 0) return 0;
  sf_count_t left = m->size - m->pos;
  if (count > left) count = left;
  if (count > 0) memcpy(ptr, m->data + m->pos, (size_t)count);
  m->pos += count;
  return count;
}
static sf_count_t mem_write(const void *ptr, sf_count_t count, void *ud) {
  (void)ptr; (void)count; (void)ud;
  return 0;
}
static sf_count_t mem_tell(void *ud) { return ((memfile *)ud)->pos; }

/* ---- the decoder ------------------------------------------------------------------------ */

/* libsndfile accepts a WAV (or AIFF, ...) whose data chunk claims more bytes than the file
 * holds, and silently reads what is there; its log ("data : 12800 (should be 11799)") is
 * the only trace. A truncated file must be an error, not a shorter signal. Streaming
 * writers' placeholder sizes (0xFFFFFFFF and the like) are not truncation. */
static int log_says_truncated(SNDFILE *sf) {
  char log[8192];
  log[0] = 0;
  sf_command(sf, SFC_GET_LOG_INFO, log, sizeof log);
  log[sizeof log - 1] = 0;
  for (const char *p = log; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
    while (*p == ' ') p++;
    long long claimed = 0, actual = 0;
    if ((strncmp(p, "data", 4) == 0 || strncmp(p, "SSND", 4) == 0) &&
        sscanf(p + 4, " : %lld (should be %lld)", &claimed, &actual) == 2 &&
        claimed > actual && claimed < 0xFFFFFF00LL)
      return 1;
  }
  return 0;
}

static void format_name(const SF_INFO *info, char *buf, size_t size) {
  SF_FORMAT_INFO maj = {0}, sub = {0};
  maj.format = info->format & SF_FORMAT_TYPEMASK;
  sub.format = info->format & SF_FORMAT_SUBMASK;
  const char *a = sf_command(NULL, SFC_GET_FORMAT_INFO, &maj, sizeof maj) == 0 && maj.name ? maj.name : "?";
  const char *b = sf_command(NULL, SFC_GET_FORMAT_INFO, &sub, sizeof sub) == 0 && sub.name ? sub.name : "?";
  snprintf(buf, size, "%s, %s", a, b);
}

static gk_status check_header(const SF_INFO *info, const char *name, gk_error *err) {
  if (info->channels < 1 || info->channels > GK_AUDIO_MAX_CHANNELS)
    return gk_fail(err, GK_EFORMAT, "%s: absurd header: %d channels (limit %d)", name,
                   info->channels, GK_AUDIO_MAX_CHANNELS);
  if (info->samplerate < 1 || info->samplerate > GK_AUDIO_MAX_RATE)
    return gk_fail(err, GK_EFORMAT, "%s: absurd header: sample rate %d Hz (limit %d)", name,
                   info->samplerate, GK_AUDIO_MAX_RATE);
  if (info->frames < 0 || (unsigned long long)info->frames > GK_MAX_ELEMENTS)
    return gk_fail(err, GK_ELIMIT, "%s: absurd header: %lld frames (limit %llu samples)", name,
                   (long long)info->frames, (unsigned long long)GK_MAX_ELEMENTS);
  return GK_OK;
}

/* Checks the header, and the options against it, before anything is allocated. */
static gk_status check_decode(SNDFILE *sf, const SF_INFO *info, const char *name,
                              const gk_audio_opts *o, gk_error *err) {
  gk_status st = check_header(info, name, err);
  if (st != GK_OK) return st;
  if (o->channel >= info->channels)
    return gk_fail(err, GK_EINVAL, "%s: option 'channel' %d is beyond the file's %d channel%s",
                   name, o->channel + 1, info->channels, info->channels == 1 ? "" : "s");
  if (o->rate < 0 || o->rate > GK_AUDIO_MAX_RATE)
    return gk_fail(err, GK_EINVAL, "option 'rate' %d Hz is out of (0, %d]", o->rate, GK_AUDIO_MAX_RATE);
  if (log_says_truncated(sf))
    return gk_fail(err, GK_EFORMAT,
                   "%s: truncated: the header promises more audio data than the file holds", name);
  return GK_OK;
}

/* One decoding: the file, its block buffers, the converter when resampling, and the output,
 * which grows toward `cap` floats as decoded data arrives. */
typedef struct decoder {
  SNDFILE *sf;
  size_t ch;               /* the file's channels */
  int channel;             /* option 'channel' (0-based), or -1: the mean of the channels */
  int pcm16;               /* 16-bit PCM, read as integers */
  double ratio;            /* output rate / file rate */
  float *buf;              /* GK_AUDIO_BLOCK x ch interleaved samples */
  short *sbuf;             /* pcm16: GK_AUDIO_BLOCK x ch */
  float *mono;             /* resampling: GK_AUDIO_BLOCK mono samples */
  SRC_STATE *src;          /* resampling: the converter */
  const gk_allocator *a;   /* the output's allocator */
  float *dst;              /* the output, `have` floats */
  size_t have, cap;
} decoder;

/* Frees what the decoder holds; the output too unless keep_output. */
static void decoder_close(decoder *d, int keep_output) {
  if (d->src) src_delete(d->src);
  free(d->buf);
  free(d->sbuf);
  free(d->mono);
  if (!keep_output) gk_free(d->a, d->dst, d->have * sizeof(float));
}

/* Allocates the block buffers, the first output buffer and the converter (d's file,
 * channels, options and cap set). The header's frame count does not size the output: a
 * corrupted (or hostile) header may promise billions of frames in a few bytes. Start from
 * what the input can hold (uncompressed encodings take at least one byte per sample) and
 * grow by doubling as decoded data arrives, so memory follows the data, never the header. */
static gk_status decoder_open(decoder *d, size_t frames, size_t bytes, gk_resample_quality q,
                              const char *name, gk_error *err) {
  d->buf = malloc(sizeof(float) * GK_AUDIO_BLOCK * d->ch);
  d->sbuf = d->pcm16 ? malloc(sizeof(short) * GK_AUDIO_BLOCK * d->ch) : NULL;
  d->mono = d->ratio != 1.0 ? malloc(sizeof(float) * GK_AUDIO_BLOCK) : NULL;
  size_t plaus = bytes < frames ? bytes : frames;
  size_t have = d->ratio == 1.0 ? plaus : (size_t)ceil((double)plaus * d->ratio) + 16;
  if (have < 8 * GK_AUDIO_BLOCK) have = 8 * GK_AUDIO_BLOCK;
  if (have > d->cap) have = d->cap;
  d->dst = gk_alloc(d->a, have * sizeof(float));
  d->have = have;
  if (!d->buf || (d->pcm16 && !d->sbuf) || (d->ratio != 1.0 && !d->mono) || !d->dst)
    return gk_fail_nomem(err);
  if (d->ratio != 1.0) {
    int e = 0;
    d->src = src_new(src_type(q), 1, &e);
    if (!d->src) return gk_fail(err, GK_ENOMEM, "%s: libsamplerate: %s", name, src_strerror(e));
  }
  return GK_OK;
}

/* Grows the output to at least `need` floats: doubling, never past cap. 0 when out of memory
 * (the output is then left as it was). */
static int grow(decoder *d, size_t need) {
  size_t to = d->have * 2 < need ? need : d->have * 2;
  if (to > d->cap) to = d->cap;
  float *g = resize(d->a, d->dst, d->have, to);
  if (!g) return 0;
  d->dst = g;
  d->have = to;
  return 1;
}

/* Reads up to `want` frames of interleaved samples into `into`; the frames read, <= 0 at
 * the end or on error. */
static sf_count_t read_block(decoder *d, float *into, sf_count_t want) {
  if (!d->pcm16) return sf_readf_float(d->sf, into, want);
  /* 16-bit PCM, by far the commonest speech encoding: read the integers and scale them
   * here (libsndfile's own float path is several times slower); the values are those
   * libsndfile gives, sample / 32768 exactly. */
  sf_count_t r = sf_readf_short(d->sf, d->sbuf, want);
  size_t cnt = r > 0 ? (size_t)r * d->ch : 0;
  const short *sb = d->sbuf;
#pragma omp simd
  for (size_t i = 0; i < cnt; i++) into[i] = (float)sb[i] * (1.0f / 32768.0f);
  return r;
}

/* Folds r interleaved frames of d->buf to mono into m: the chosen channel, or the mean. */
static void fold_to_mono(const decoder *d, sf_count_t r, float *m) {
  const float *buf = d->buf;
  size_t ch = d->ch;
  if (d->channel >= 0) {
    for (sf_count_t i = 0; i < r; i++) m[i] = buf[(size_t)i * ch + (size_t)d->channel];
  } else if (ch == 1) {
    memcpy(m, buf, sizeof(float) * (size_t)r);
  } else {
    float inv = 1.0f / (float)ch;
    for (sf_count_t i = 0; i < r; i++) {
      float s = 0;
      for (size_t c = 0; c < ch; c++) s += buf[(size_t)i * ch + c];
      m[i] = s * inv;
    }
  }
}

/* Streams the r mono samples of d->mono through the converter into the output from
 * *written on (growing it as needed); `end` marks the last block of the stream. */
static gk_status resample_block(decoder *d, long r, int end, size_t *written, const char *name,
                                gk_error *err) {
  SRC_DATA sd = {0};
  sd.src_ratio = d->ratio;
  sd.end_of_input = end;
  long used = 0;
  while (used < r || sd.end_of_input) {
    sd.data_in = d->mono + used;
    sd.input_frames = r - used;
    if (*written == d->have && d->have < d->cap && !grow(d, d->have + 1)) return gk_fail_nomem(err);
    sd.data_out = d->dst + *written;
    sd.output_frames = (long)(d->have - *written);
    int e = src_process(d->src, &sd);
    if (e) return gk_fail(err, GK_EINVAL, "%s: libsamplerate: %s", name, src_strerror(e));
    used += sd.input_frames_used;
    *written += (size_t)sd.output_frames_gen;
    if (sd.end_of_input && sd.output_frames_gen == 0) break;
    if (*written >= d->cap) break;  /* have == cap here */
    if (!sd.end_of_input && sd.input_frames_used == 0 && sd.output_frames_gen == 0) break;
  }
  return GK_OK;
}

/* Reads every frame, folds each block to mono and resamples it, into d's output; *n
 * receives the output's length. */
static gk_status decode_blocks(decoder *d, size_t frames, const char *name, size_t *n,
                               gk_error *err) {
  size_t got = 0, written = 0;
  gk_status st;
  while (got < frames) {
    size_t want = frames - got < GK_AUDIO_BLOCK ? frames - got : GK_AUDIO_BLOCK;
    int direct = d->ch == 1 && !d->src;  /* mono, no resampling: decode straight into the output */
    if (!d->src && got + want > d->have && !grow(d, got + want)) return gk_fail_nomem(err);
    sf_count_t r = read_block(d, direct ? d->dst + got : d->buf, (sf_count_t)want);
    if (r <= 0) break;
    if (!direct) fold_to_mono(d, r, d->src ? d->mono : d->dst + got);
    got += (size_t)r;
    if (d->src && (st = resample_block(d, (long)r, got >= frames, &written, name, err)) != GK_OK)
      return st;
  }
  if (got < frames)
    return gk_fail(err, GK_EFORMAT, "%s: truncated: read %zu of the %zu frames the header promises (%s)",
                   name, got, frames, sf_strerror(d->sf));
  *n = d->src ? written : got;
  return GK_OK;
}

/* Decodes the open `sf` into `out`. `name` labels errors. */
static gk_status decode(SNDFILE *sf, const SF_INFO *info, const char *name, size_t bytes,
                        const gk_audio_opts *o, gk_signal *out, const gk_allocator *a,
                        gk_error *err) {
  gk_audio_opts def;
  if (!o) {
    gk_audio_opts_default(&def);
    o = &def;
  }
  gk_status st = check_decode(sf, info, name, o, err);
  if (st != GK_OK) return st;
  size_t frames = (size_t)info->frames;
  int target = o->rate > 0 ? o->rate : info->samplerate;
  decoder d = {0};
  d.sf = sf;
  d.ch = (size_t)info->channels;
  d.channel = o->channel;
  d.pcm16 = (info->format & SF_FORMAT_SUBMASK) == SF_FORMAT_PCM_16;
  d.ratio = (double)target / info->samplerate;
  d.a = a;
  /* libsamplerate's output for a whole stream is within a few samples of n * ratio. */
  d.cap = d.ratio == 1.0 ? frames : (size_t)ceil((double)frames * d.ratio) + 16;
  if ((unsigned long long)d.cap > GK_MAX_ELEMENTS)
    return gk_fail(err, GK_ELIMIT, "%s: %zu samples after resampling exceed the limit", name, d.cap);
  size_t n = 0;
  if (frames > 0 && ((st = decoder_open(&d, frames, bytes, o->quality, name, err)) != GK_OK ||
                     (st = decode_blocks(&d, frames, name, &n, err)) != GK_OK)) {
    decoder_close(&d, 0);
    return st;
  }
  decoder_close(&d, 1);
  float *dst = d.dst;
  if (n < d.have) {
    dst = resize(a, d.dst, d.have, n);
    if (n && !dst) {
      gk_free(a, d.dst, d.have * sizeof(float));
      return gk_fail_nomem(err);
    }
  }
  out->samples = dst;
  out->n = n;
  out->rate = target;
  return GK_OK;
}

/* libsndfile reports a failed open through one process-wide error slot (sf_strerror(NULL)),
 * which another thread's open overwrites: opens and the reading of that slot are one
 * critical section, so that the message belongs to this file. Decoding runs outside it. */
static SNDFILE *open_sf(const char *path, const SF_VIRTUAL_IO *io, void *ud, SF_INFO *si,
                        char *why, size_t why_size) {
  SNDFILE *sf;
#pragma omp critical(gk_sndfile_open)
  {
    sf = io ? sf_open_virtual((SF_VIRTUAL_IO *)io, SFM_READ, si, ud) : sf_open(path, SFM_READ, si);
    if (!sf) snprintf(why, why_size, "%s", sf_strerror(NULL));
  }
  return sf;
}

static gk_status open_error(const char *name, const char *why, gk_error *err) {
  if (strstr(why, "unknown format") || strstr(why, "not recognised") || strstr(why, "not recognized"))
    return gk_fail(err, GK_EFORMAT, "%s: not an audio file libsndfile can read (%s)", name, why);
  return gk_fail(err, GK_EFORMAT, "%s: cannot read as audio: %s", name, why);
}

/* Opens the audio file at `path` (*sf, its header in *si, its size in *bytes), or says why
 * not: no path, missing, a folder, empty, or not audio libsndfile reads. */
static gk_status open_file(const char *path, SNDFILE **sf, SF_INFO *si, size_t *bytes, gk_error *err) {
  struct stat stt;
  *sf = NULL;
  if (!path) return gk_fail(err, GK_EINVAL, "no path given");
  if (stat(path, &stt) != 0)
    return gk_fail(err, GK_EIO, "%s: cannot open: %s", path, strerror(errno));
  if (S_ISDIR(stt.st_mode)) return gk_fail(err, GK_EIO, "%s: is a directory, not an audio file", path);
  if (!S_ISREG(stt.st_mode)) return gk_check_regular(path, NULL, err); /* says what it is */
  if (stt.st_size == 0) return gk_fail(err, GK_EFORMAT, "%s: empty file (0 bytes)", path);
  memset(si, 0, sizeof *si);
  char why[256];
  *sf = open_sf(path, NULL, NULL, si, why, sizeof why);
  if (!*sf) return open_error(path, why, err);
  *bytes = (size_t)stt.st_size;
  return GK_OK;
}

gk_status gk_audio_info_file(const char *path, gk_audio_info *info, gk_error *err) {
  SNDFILE *sf;
  SF_INFO si;
  size_t bytes = 0;
  gk_status st = open_file(path, &sf, &si, &bytes, err);
  if (st != GK_OK) return st;
  st = check_header(&si, path, err);
  if (st == GK_OK) {
    info->frames = (long long)si.frames;
    info->channels = si.channels;
    info->rate = si.samplerate;
    format_name(&si, info->format, sizeof info->format);
  }
  sf_close(sf);
  return st;
}

gk_status gk_audio_load(const char *path, const gk_audio_opts *o, gk_signal *out,
                        const gk_allocator *a, gk_error *err) {
  out->samples = NULL;
  out->n = 0;
  out->rate = 0;
  SNDFILE *sf;
  SF_INFO si;
  size_t bytes = 0;
  gk_status st = open_file(path, &sf, &si, &bytes, err);
  if (st != GK_OK) return st;
  st = decode(sf, &si, path, bytes, o, out, a, err);
  sf_close(sf);
  return st;
}

gk_status gk_audio_load_memory(const void *data, size_t size, const char *name,
                               const gk_audio_opts *o, gk_signal *out,
                               const gk_allocator *a, gk_error *err) {
  out->samples = NULL;
  out->n = 0;
  out->rate = 0;
  if (!name) name = "<memory>";
  if (size == 0 || !data) return gk_fail(err, GK_EFORMAT, "%s: empty (0 bytes)", name);
  memfile m = {data, (sf_count_t)size, 0};
  SF_VIRTUAL_IO io = {mem_len, mem_seek, mem_read, mem_write, mem_tell};
  SF_INFO si;
  memset(&si, 0, sizeof si);
  char why[256];
  SNDFILE *sf = open_sf(NULL, &io, &m, &si, why, sizeof why);
  if (!sf) return open_error(name, why, err);
  gk_status st = decode(sf, &si, name, size, o, out, a, err);
  sf_close(sf);
  return st;
}

gk_status gk_audio_resample(const gk_signal *in, int rate, gk_resample_quality q,
                            gk_signal *out, const gk_allocator *a, gk_error *err) {
  out->samples = NULL;
  out->n = 0;
  out->rate = 0;
  if (rate < 1 || rate > GK_AUDIO_MAX_RATE)
    return gk_fail(err, GK_EINVAL, "option 'rate' %d Hz is out of (0, %d]", rate, GK_AUDIO_MAX_RATE);
  if (in->rate < 1) return gk_fail(err, GK_EINVAL, "resample: the signal's rate %d is invalid", in->rate);
  if ((int)q < 0 || (int)q > GK_RESAMPLE_FAST)
    return gk_fail(err, GK_EINVAL, "option 'quality' %d is invalid", (int)q);
  double ratio = (double)rate / in->rate;
  size_t cap = (size_t)ceil((double)in->n * ratio) + 16;
  if ((unsigned long long)cap > GK_MAX_ELEMENTS)
    return gk_fail(err, GK_ELIMIT, "resample: %zu output samples exceed the limit", cap);
  if (in->n == 0) {
    out->rate = rate;
    return GK_OK;
  }
  float *dst = gk_alloc(a, cap * sizeof(float));
  if (!dst) return gk_fail_nomem(err);
  SRC_DATA d = {0};
  d.data_in = in->samples;
  d.input_frames = (long)in->n;
  d.data_out = dst;
  d.output_frames = (long)cap;
  d.src_ratio = ratio;
  int e = src_simple(&d, src_type(q), 1);
  if (e) {
    gk_free(a, dst, cap * sizeof(float));
    return gk_fail(err, GK_EINVAL, "resample: libsamplerate: %s", src_strerror(e));
  }
  size_t n = (size_t)d.output_frames_gen;
  float *exact = resize(a, dst, cap, n);
  if (n && !exact) {
    gk_free(a, dst, cap * sizeof(float));
    return gk_fail_nomem(err);
  }
  out->samples = exact;
  out->n = n;
  out->rate = rate;
  return GK_OK;
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  if (m > n) return 0;
  for (size_t i = 0; i < m; i++)
    if (tolower((unsigned char)s[n - m + i]) != suffix[i]) return 0;
  return 1;
}

gk_status gk_audio_save(const char *path, const gk_signal *s, gk_audio_format f,
                        gk_audio_encoding e, gk_error *err) {
  if (!path) return gk_fail(err, GK_EINVAL, "no path given");
  if (s->rate < 1 || s->rate > GK_AUDIO_MAX_RATE)
    return gk_fail(err, GK_EINVAL, "%s: the signal's rate %d Hz is invalid", path, s->rate);
  if (f == GK_AUDIO_AUTO) {
    if (ends_with(path, ".wav")) f = GK_AUDIO_WAV;
    else if (ends_with(path, ".flac")) f = GK_AUDIO_FLAC;
    else
      return gk_fail(err, GK_EINVAL,
                     "%s: cannot tell the format from the extension (use .wav or .flac, or "
                     "option 'format')", path);
  }
  SF_INFO si;
  memset(&si, 0, sizeof si);
  si.samplerate = s->rate;
  si.channels = 1;
  int sub = e == GK_ENC_PCM24 ? SF_FORMAT_PCM_24 : e == GK_ENC_FLOAT ? SF_FORMAT_FLOAT : SF_FORMAT_PCM_16;
  if (f == GK_AUDIO_FLAC && e == GK_ENC_FLOAT)
    return gk_fail(err, GK_EINVAL, "%s: FLAC holds integer samples only (option 'encoding')", path);
  si.format = (f == GK_AUDIO_FLAC ? SF_FORMAT_FLAC : SF_FORMAT_WAV) | sub;
  if (!sf_format_check(&si))
    return gk_fail(err, GK_EINVAL, "%s: libsndfile cannot write this format/encoding", path);
  gk_atomic_file af;
  gk_status st = gk_atomic_open(&af, path, err);
  if (st != GK_OK) return st;
  fflush(af.fp);
  SNDFILE *sf = sf_open_fd(fileno(af.fp), SFM_WRITE, &si, 0);
  if (!sf) {
    gk_atomic_abort(&af);
    return gk_fail(err, GK_EIO, "%s: cannot write: %s", path, sf_strerror(NULL));
  }
  /* Out-of-range samples saturate instead of wrapping around in integer encodings. */
  sf_command(sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
  sf_count_t wrote = s->n ? sf_writef_float(sf, s->samples, (sf_count_t)s->n) : 0;
  int close_err = sf_close(sf);
  if (wrote != (sf_count_t)s->n || close_err) {
    gk_atomic_abort(&af);
    return gk_fail(err, GK_EIO, "%s: write failed (%zu of %zu samples)", path, (size_t)wrote, s->n);
  }
  return gk_atomic_commit(&af, err);
}

gk_status gk_samples_check(const float *x, size_t n, gk_error *err) {
  for (size_t i = 0; i < n; i++) {
    if (fabsf(x[i]) <= (float)GK_AUDIO_MAX_SAMPLE) continue;
    char v[32];
    if (isnan(x[i])) strcpy(v, "NaN");
    else if (isinf(x[i])) strcpy(v, x[i] > 0 ? "Inf" : "-Inf");
    else snprintf(v, sizeof v, "%g", (double)x[i]);
    return gk_fail(err, GK_ENUMERIC,
                   "sample %zu is %s (samples must be finite and at most %g in magnitude; full scale is 1)",
                   i + 1, v, GK_AUDIO_MAX_SAMPLE);
  }
  return GK_OK;
}

/* ---- folder listing ------------------------------------------------------------------ */

static const char *const audio_exts[] = {".wav", ".flac", ".ogg", ".oga", ".opus", ".aiff",
                                         ".aif", ".aifc", ".au", ".snd", ".w64", ".caf",
                                         ".sph", ".nist", ".mp3", ".rf64", ".voc", NULL};

static int is_audio_name(const char *name) {
  for (int i = 0; audio_exts[i]; i++)
    if (ends_with(name, audio_exts[i])) return 1;
  return 0;
}

typedef struct strlist {
  char **v;
  size_t n, cap;
} strlist;

static int strlist_push(strlist *l, const char *s) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 64;
    char **v = realloc(l->v, cap * sizeof(char *));
    if (!v) return 0;
    l->v = v;
    l->cap = cap;
  }
  char *c = malloc(strlen(s) + 1);
  if (!c) return 0;
  strcpy(c, s);
  l->v[l->n++] = c;
  return 1;
}

/* The folders already listed, by device and inode, so that a folder reached again
 * through a symbolic link (a loop, or a second link to it) is listed once. */
typedef struct seenset {
  struct { dev_t dev; ino_t ino; } *v;
  size_t n, cap; /* cap: a power of two, or 0 */
} seenset;

static size_t seen_slot(const seenset *s, dev_t dev, ino_t ino) {
  size_t h = ((size_t)ino * 0x9E3779B97F4A7C15ull) ^ (size_t)dev, m = s->cap - 1;
  for (h &= m; s->v[h].ino != 0 || s->v[h].dev != 0; h = (h + 1) & m)
    if (s->v[h].dev == dev && s->v[h].ino == ino) break;
  return h;
}

/* Adds (dev, ino): 1 when new, 0 when seen before, -1 when out of memory. */
static int seen_add(seenset *s, dev_t dev, ino_t ino) {
  if (2 * (s->n + 1) > s->cap) {
    seenset t = {NULL, 0, s->cap ? 2 * s->cap : 256};
    t.v = calloc(t.cap, sizeof *t.v);
    if (!t.v) return -1;
    for (size_t i = 0; i < s->cap; i++)
      if (s->v[i].ino != 0 || s->v[i].dev != 0) t.v[seen_slot(&t, s->v[i].dev, s->v[i].ino)] = s->v[i];
    t.n = s->n;
    free(s->v);
    *s = t;
  }
  size_t h = seen_slot(s, dev, ino);
  if (s->v[h].dev == dev && s->v[h].ino == ino && (ino != 0 || dev != 0)) return 0;
  s->v[h].dev = dev;
  s->v[h].ino = ino;
  s->n++;
  return 1;
}

typedef struct lister {
  int recursive;
  strlist out;
  seenset seen;
} lister;

static gk_status list_dir(lister *ls, const char *dir, int depth, gk_error *err);

/* One entry `p` (named `name`) of a folder being listed. */
static gk_status list_entry(lister *ls, const char *p, const char *name, int depth, gk_error *err) {
  struct stat s;
  if (stat(p, &s) != 0) return GK_OK;
  if (S_ISDIR(s.st_mode)) {
    if (!ls->recursive) return GK_OK;
    int fresh = seen_add(&ls->seen, s.st_dev, s.st_ino);
    if (fresh < 0) return gk_fail_nomem(err);
    return fresh ? list_dir(ls, p, depth + 1, err) : GK_OK;
  }
  if (S_ISREG(s.st_mode) && is_audio_name(name) && !strlist_push(&ls->out, p)) return gk_fail_nomem(err);
  return GK_OK;
}

static gk_status list_dir(lister *ls, const char *dir, int depth, gk_error *err) {
  if (depth > 64) return gk_fail(err, GK_ELIMIT, "%s: folders nested too deep", dir);
  DIR *d = opendir(dir);
  if (!d) return gk_fail(err, GK_EIO, "%s: cannot open folder: %s", dir, strerror(errno));
  struct dirent *e;
  gk_status st = GK_OK;
  size_t dl = strlen(dir);
  while (st == GK_OK && (e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    size_t need = dl + strlen(e->d_name) + 2;
    char *p = malloc(need);
    if (!p) { st = gk_fail_nomem(err); break; }
    snprintf(p, need, "%s%s%s", dir, (dl && dir[dl - 1] == '/') ? "" : "/", e->d_name);
    st = list_entry(ls, p, e->d_name, depth, err);
    free(p);
  }
  closedir(d);
  return st;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

gk_status gk_audio_list(const char *dir, int recursive, char ***paths, size_t *n,
                        gk_error *err) {
  *paths = NULL;
  *n = 0;
  lister ls = {recursive, {0}, {0}};
  struct stat top;
  gk_status st = GK_OK;
  if (stat(dir, &top) == 0 && seen_add(&ls.seen, top.st_dev, top.st_ino) < 0) st = gk_fail_nomem(err);
  if (st == GK_OK) st = list_dir(&ls, dir, 0, err);
  free(ls.seen.v);
  if (st != GK_OK) {
    gk_audio_list_free(ls.out.v, ls.out.n);
    return st;
  }
  if (ls.out.n) qsort(ls.out.v, ls.out.n, sizeof(char *), cmp_str);
  *paths = ls.out.v;
  *n = ls.out.n;
  return GK_OK;
}

void gk_audio_list_free(char **paths, size_t n) {
  if (!paths) return;
  for (size_t i = 0; i < n; i++) free(paths[i]);
  free(paths);
}
