/*
 * gmmkit/gmmkit.h: the public C API of gmmkit, in one include.
 *
 * Layers: this header and the ones it includes are the engine (no Lua in them; link
 * -lgmmkit, see `pkg-config --cflags --libs gmmkit`). Conventions shared by all modules:
 * - names are gk_<module>_<verb>(object, ...), objects are opaque or plain descriptors;
 * - fallible functions return gk_status and fill an optional gk_error (gmmkit/error.h);
 * - arrays are row-major, 0-based; features float32 N x D, parameters float64;
 * - memory of long-lived objects comes from a gk_allocator (gmmkit/alloc.h);
 * - every random choice takes an explicit seed; threads and interruption: gmmkit/parallel.h.
 */
#ifndef GMMKIT_GMMKIT_H
#define GMMKIT_GMMKIT_H

#include "gmmkit/error.h"
#include "gmmkit/alloc.h"
#include "gmmkit/limits.h"
#include "gmmkit/matrix.h"
#include "gmmkit/npy.h"
#include "gmmkit/fileio.h"
#include "gmmkit/parallel.h"
#include "gmmkit/gmm.h"
#include "gmmkit/random.h"
#include "gmmkit/audio.h"
#include "gmmkit/mfcc.h"
#include "gmmkit/features.h"
#include "gmmkit/htk.h"
#include "gmmkit/kaldi.h"
#include "gmmkit/simplify.h"
#include "gmmkit/gselect.h"
#include "gmmkit/eval.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version, "MAJOR.MINOR.PATCH". */
const char *gk_version(void);

#ifdef __cplusplus
}
#endif
#endif
