/*
 * repl.h: the read-eval-print loop (src/host/repl.c), used by gmmkit.c.
 */
#ifndef GMMKIT_HOST_REPL_H
#define GMMKIT_HOST_REPL_H

#include <lua.h>

/* Runs the read-eval-print loop until end of input. Line editing, history, completion
 * and (when `banner` is non-zero) the banner when stdin is a terminal; otherwise lines
 * are read plainly, without prompt or banner, so that a session can be piped in.
 * Returns the number of inputs that failed (to compile, to run, or to print). */
int gkh_repl(lua_State *L, int banner);

#endif
