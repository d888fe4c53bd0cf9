/*
 * l_audio.h: what the audio binding shares with the MFCC and features bindings: the
 * gmmkit.Signal userdata and the MFCC option table reader. Only src/lua/ includes it.
 */
#ifndef GMMKIT_L_AUDIO_H
#define GMMKIT_L_AUDIO_H

#include "gkl.h"
#include "gmmkit/audio.h"
#include "gmmkit/mfcc.h"

#define GKL_SIGNAL "gmmkit.Signal"
#define GKL_MFCC "gmmkit.Mfcc"

/* Pushes a Signal in its closed (empty) state and returns it; fill its samples from
 * gkL_allocator(L) (ownership passes to the userdata once stored). */
gk_signal *gkL_newsignal(lua_State *L);
/* The open Signal at `idx`, or a raised error. */
gk_signal *gkL_checksignal(lua_State *L, int idx);
/* The Signal at `idx`, or NULL when it is not one. */
gk_signal *gkL_testsignal(lua_State *L, int idx);

/* The option names gkL_mfcc_options reads (NULL-terminated). */
extern const char *const gkL_mfcc_keys[];
/* Fills `o` from the option table at `arg` (which the caller has checked for unknown
 * keys): `preset` first, then each Kaldi-named option. When sample_frequency is neither
 * given nor fixed by the preset and `rate` > 0, it is `rate`. */
void gkL_mfcc_options(lua_State *L, int arg, gk_mfcc_opts *o, double rate);

#endif
