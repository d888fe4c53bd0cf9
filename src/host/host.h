/*
 * host.h: what the two halves of the `gmmkit` executable share.
 *
 * gmmkit.c is the command line (options, `arg`, scripts, -e) and owns the running of
 * chunks: gkh_docall runs a function under a message handler that appends a traceback,
 * with Ctrl-C turned into a Lua error (a hook, as in lua.c) and into gmmkit's interrupt
 * flag (gk_interrupt_request, polled by long C loops). repl.c is the read-eval-print
 * loop (libedit on a terminal, plain line reads otherwise), its history file and its tab
 * completion. Nothing here is visible outside the executable.
 */
#ifndef GMMKIT_HOST_H
#define GMMKIT_HOST_H

#include <lua.h>

#define GKH_PROGNAME "gmmkit"

/* Calls the function below its `narg` arguments on the stack in protected mode, with a
 * traceback appended to any error message and SIGINT interrupting it; the interrupt flag
 * is cleared first. Leaves `nres` results (or the error message) like lua_pcall. */
int gkh_docall(lua_State *L, int narg, int nres);

/* When `status` is not LUA_OK, prints the message on top of the stack to stderr (with
 * "gmmkit: " in front when `prefix` is non-zero) and pops it. Returns `status`. */
int gkh_report(lua_State *L, int status, int prefix);

/* Prints "gmmkit <gk.version> (Lua 5.4.x)", followed in the interactive banner by a
 * pointer to help(). */
void gkh_print_version(lua_State *L, int banner);

/* Runs the read-eval-print loop until end of input. Line editing, history, completion
 * and (when `banner` is non-zero) the banner when stdin is a terminal; otherwise lines
 * are read plainly, without prompt or banner, so that a session can be piped in.
 * Returns the number of inputs that failed (to compile, to run, or to print). */
int gkh_repl(lua_State *L, int banner);

/* MPI (src/host/mpi.c; no-ops in a host built without MPI). gkh_mpi_init initialises MPI
 * when a launcher started the process (or GMMKIT_MPI=1). gkh_mpi_rank is this rank, or -1
 * when MPI is not running. gkh_mpi_exit ends MPI before the process exits: with `ok` zero
 * and more than one rank, MPI_Abort ends the whole job with exit status `status`;
 * otherwise MPI_Finalize. */
void gkh_mpi_init(int *argc, char ***argv);
int gkh_mpi_rank(void);
void gkh_mpi_exit(int ok, int status);

#endif
