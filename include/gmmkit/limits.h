/*
 * gmmkit/limits.h: the sizes gmmkit accepts, checked before any allocation so that a
 * hostile or corrupted header cannot ask for terabytes. A value beyond a limit is
 * GK_ELIMIT with a message that names the limit.
 */
#ifndef GMMKIT_LIMITS_H
#define GMMKIT_LIMITS_H

#define GK_MAX_DIM         4096u          /* feature dimension of a model or matrix column count in a model file */
#define GK_MAX_COMPONENTS  65536u         /* mixture components */
#define GK_MAX_ELEMENTS    (1ull << 34)   /* elements of one matrix (128 GiB of float64) */
#define GK_MAX_NPY_HEADER  65536u         /* bytes of a .npy header dictionary */
#define GK_MAX_HTK_FRAMES  (1u << 30)     /* frames of an HTK parameter file */
#define GK_MAX_TEXT_BYTES  (1ull << 31)   /* bytes of a Kaldi text GMM (read whole) */
#define GK_MAX_LIST        (1u << 24)     /* entries of a list a caller passes (files, matrices, names) */
#define GK_MAX_TABLE       (1u << 26)     /* numbers of a Lua table read as a vector or matrix (1 GiB
                                             of Lua table; larger data comes as a Matrix) */
#define GK_MAX_THREADS     4096           /* threads of one parallel loop */

/* Also: audio headers (gmmkit/audio.h): at most GK_AUDIO_MAX_CHANNELS channels and
 * GK_AUDIO_MAX_RATE Hz, and frames up to GK_MAX_ELEMENTS, with the decoding buffer
 * growing with the data actually decoded, never sized by the header alone. Readers
 * compare what a header promises with the file's size before allocating for it. */

#endif
