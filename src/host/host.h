/*
 * host.h: the `gmmkit` executable's files, each with its own header, and what they all
 * share. Calls go one way, down this list:
 *
 *   gmmkit.c  the command line (options, `arg`, scripts, -e, -l) and main()
 *   repl.c    the read-eval-print loop (libedit on a terminal, plain line reads
 *             otherwise), its history file and its tab completion          (repl.h)
 *   run.c     the running of chunks: gkh_docall runs a function under a message
 *             handler that appends a traceback, with Ctrl-C turned into a Lua error (a
 *             hook, as in lua.c) and into gmmkit's interrupt flag (gk_interrupt_request,
 *             polled by long C loops); the error report; the version line     (run.h)
 *   mpi.c     MPI start and end                                      (mpi_host.h)
 *   faults.c  allocation-failure injection in test builds              (faults.h)
 *
 * Nothing here is visible outside the executable.
 */
#ifndef GMMKIT_HOST_H
#define GMMKIT_HOST_H

#define GKH_PROGNAME "gmmkit"

#endif
