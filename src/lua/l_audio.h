/*
 * l_audio.h: what the audio binding (l_audio.c) shares with the MFCC binding: the
 * gmmkit.Signal userdata. Only src/lua/ includes it.
 */
#ifndef GMMKIT_L_AUDIO_H
#define GMMKIT_L_AUDIO_H

#include "gkl.h"
#include "gmmkit/audio.h"

#define GKL_SIGNAL "gmmkit.Signal"

/* Pushes a Signal in its closed (empty) state and returns it; fill its samples from
 * gkL_allocator(L) (ownership passes to the userdata once stored). */
gk_signal *gkL_newsignal(lua_State *L);
/* The open Signal at `idx`, or a raised error. */
gk_signal *gkL_checksignal(lua_State *L, int idx);
/* The Signal at `idx`, or NULL when it is not one. */
gk_signal *gkL_testsignal(lua_State *L, int idx);

#endif
