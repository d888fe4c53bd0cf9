/*
 * l_extract_output.h: option `output` of gk.features.extract: each utterance's features
 * written to a Kaldi wspecifier as they are made (gmmkit/kaldi.h), resumable.
 *
 * Resume: when the wspecifier has a script file ("ark,scp:A,S") and S exists, the keys it
 * lists are skipped; the rest go to a new archive beside A (A's name with .2, .3, ...
 * before .ark, the first that does not exist) with its script file at S.part, and at the
 * end S is rewritten (atomically) with its own lines and the new ones, sorted by key (C
 * byte order). Without S (or without a script file) the wspecifier is written as given.
 * Only l_features.c uses this.
 */
#ifndef GMMKIT_L_EXTRACT_OUTPUT_H
#define GMMKIT_L_EXTRACT_OUTPUT_H

#include "gkl.h"

typedef struct gkL_output {
  gk_kaldi_writer *w;   /* open writer, or NULL (not yet opened, or committed / aborted) */
  char *scp;            /* the wspecifier's script file, or NULL */
  char *part_scp;       /* this run's script file before the merge (resuming), or NULL */
  char *archive;        /* the archive this run writes */
  char *wspec;          /* the wspecifier this run's writer opens */
  size_t written;       /* utterances written by this run */
} gkL_output;

/* Reads option `output` (a wspecifier string) of the options at `opts`. Absent: pushes
 * nil twice, returns NULL. Else pushes the output userdata (a to-be-closed slot: a raise,
 * or a return before gkL_output_commit, aborts an open writer) and the set of keys to skip (a table key -> true: those of the
 * existing script file), and returns the output. Raises on a bad value or script file. */
gkL_output *gkL_output_plan(lua_State *L, int opts);

/* Opens the writer (compress: 0 plain FM, 1 Kaldi's default compression). */
void gkL_output_open(lua_State *L, gkL_output *o, int compress);
/* Writes one utterance; a failure aborts the writer and raises. */
void gkL_output_write(lua_State *L, gkL_output *o, const char *key, const gk_matrix *m);
/* Commits the archive and script file (and merges the script files when resuming). */
void gkL_output_commit(lua_State *L, gkL_output *o);

#endif
