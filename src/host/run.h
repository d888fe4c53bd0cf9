/*
 * run.h: the running of chunks (src/host/run.c), used by gmmkit.c and repl.c.
 */
#ifndef GMMKIT_HOST_RUN_H
#define GMMKIT_HOST_RUN_H

#include <lua.h>

#include "host.h"

/* Calls the function below its `narg` arguments on the stack in protected mode, with a
 * traceback appended to any error message and SIGINT interrupting it; the interrupt flag
 * is cleared first. Leaves `nres` results (or the error message) like lua_pcall. */
int gkh_docall(lua_State *L, int narg, int nres);

/* When `status` is not LUA_OK, prints the message on top of the stack to stderr (with
 * "gmmkit: " in front when `prefix` is non-zero, "gmmkit: rank R: " under MPI) and pops
 * it. Returns `status`. */
int gkh_report(lua_State *L, int status, int prefix);

/* Prints "gmmkit <gk.version> (Lua 5.4.x)", followed in the interactive banner by a
 * pointer to help(). */
void gkh_print_version(lua_State *L, int banner);

#endif
