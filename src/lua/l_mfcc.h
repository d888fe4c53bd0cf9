/*
 * l_mfcc.h: what the MFCC binding (l_mfcc.c) shares with the features binding: the
 * gmmkit.Mfcc metatable name and the MFCC option table reader. Only src/lua/ includes it.
 */
#ifndef GMMKIT_L_MFCC_H
#define GMMKIT_L_MFCC_H

#include "gkl.h"
#include "gmmkit/mfcc.h"

#define GKL_MFCC "gmmkit.Mfcc"

/* The option names gkL_mfcc_options reads (NULL-terminated). */
extern const char *const gkL_mfcc_keys[];
/* Fills `o` from the option table at `arg` (which the caller has checked for unknown
 * keys): `preset` first, then each Kaldi-named option. When sample_frequency is neither
 * given nor fixed by the preset and `rate` > 0, it is `rate`. */
void gkL_mfcc_options(lua_State *L, int arg, gk_mfcc_opts *o, double rate);

#endif
