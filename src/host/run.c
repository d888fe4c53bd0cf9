/*
 * run.c: the running of chunks, shared by the command line (gmmkit.c) and the REPL
 * (repl.c), below both of them: a message handler that appends a traceback, Ctrl-C
 * turned into a Lua error by a hook set from the signal handler (as in lua.c, never by
 * doing work inside it) and into gmmkit's interrupt flag, the report of an error, and the
 * version line.
 *
 * Ctrl-C stops Lua code at its next instruction, call or return; C functions run on
 * until they return, or until they poll gk_interrupted() and fail with GK_EINTR (gmmkit's
 * long loops do). A pcall around such a C function therefore does not swallow the
 * Ctrl-C: the hook, still armed, stops the Lua code after it.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "gkl.h"
#include "mpi_host.h"
#include "run.h"

/* The state a SIGINT interrupts. A signal handler has no other way to reach it; this is
 * the host's only mutable global state, as signals themselves are process-wide. */
static lua_State *volatile signal_L = NULL;

static void setsignal(int sig, void (*handler)(int), struct sigaction *old) {
  struct sigaction sa;
  sa.sa_handler = handler;
  sa.sa_flags = 0;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, old);
}

/* The hook a SIGINT installs: raises the error at the next call, return or instruction
 * of Lua code, a safe point of the interpreter. Calls and returns of C functions are let
 * through (the hook stays armed): a C function finishes, or stops itself by polling
 * gk_interrupted(), and the __close and __gc handlers that release its resources while
 * the error unwinds still run. */
static void lstop(lua_State *L, lua_Debug *ar) {
  if (ar->event != LUA_HOOKCOUNT && lua_getinfo(L, "S", ar) && ar->what[0] == 'C') return;
  lua_sethook(L, NULL, 0, 0);
  /* no position: the hook lands on whatever line runs, often one of gmmkit's own Lua
   * layer; the traceback names the script's line */
  lua_pushliteral(L, "interrupted!");
  lua_error(L);
}

/* SIGINT while a chunk runs: only async-signal-safe work here (lua_sethook is meant to be
 * called from a signal handler). Lua code stops at the hook; C loops of gmmkit stop when
 * they next poll gk_interrupted(). A second Ctrl-C gets the default action and ends the
 * process, the way out of C code that never polls. */
static void laction(int sig) {
  int flag = LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT;
  setsignal(sig, SIG_DFL, NULL);
  /* the hook first: a C loop that sees the flag must find the hook armed */
  lua_sethook(signal_L, lstop, flag, 1);
  gk_interrupt_request();
}

/* Message handler of every chunk: the error as text (a non-string error object through
 * its __tostring, or its type) followed by a traceback with file:line of each level. */
static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_getmetafield(L, 1, "__tostring") != LUA_TNIL) {
      lua_pushvalue(L, 1);
      /* protected: a failing __tostring must not become "error in error handling" */
      if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_type(L, -1) == LUA_TSTRING)
        msg = lua_tostring(L, -1);
    }
    if (msg == NULL) {
      const char *type = luaL_typename(L, 1);
      if (luaL_getmetafield(L, 1, "__name") == LUA_TSTRING) type = lua_tostring(L, -1);
      msg = lua_pushfstring(L, "(error object is a %s value)", type);
    }
  }
  luaL_traceback(L, L, msg, 1);
  { /* the outermost levels are the host's own C frames (pmain, the REPL's step): drop
     * them, they only read "[C]: in ?" */
    static const char host_level[] = "\n\t[C]: in ?";
    size_t len, hl = sizeof host_level - 1;
    const char *tb = lua_tolstring(L, -1, &len);
    size_t keep = len;
    while (keep >= hl && memcmp(tb + keep - hl, host_level, hl) == 0) keep -= hl;
    if (keep < len) lua_pushlstring(L, tb, keep);
  }
  return 1;
}

int gkh_docall(lua_State *L, int narg, int nres) {
  int status;
  int base = lua_gettop(L) - narg; /* function index */
  struct sigaction old;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  signal_L = L;
  /* A hook still armed from an earlier Ctrl-C (its chunk ended in C code before the hook
   * fired, or the signal reached another thread late) must not stop this chunk. */
  if (lua_gethook(L) == lstop) lua_sethook(L, NULL, 0, 0);
  gk_interrupt_clear();
  setsignal(SIGINT, laction, &old);
  status = lua_pcall(L, narg, nres, base);
  sigaction(SIGINT, &old, NULL);
  if (lua_gethook(L) == lstop) lua_sethook(L, NULL, 0, 0);
  lua_remove(L, base);
  return status;
}

int gkh_report(lua_State *L, int status, int prefix) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    if (msg == NULL) msg = "(error object is not a string)";
    int rank = prefix ? gkh_mpi_rank() : -1;
    fflush(stdout); /* keep the order of results and errors in a shared output */
    if (rank >= 0) /* under MPI: which of the job's processes failed */
      fprintf(stderr, "%s: rank %d: %s\n", GKH_PROGNAME, rank, msg);
    else
      fprintf(stderr, "%s%s\n", prefix ? GKH_PROGNAME ": " : "", msg);
    fflush(stderr);
    lua_pop(L, 1);
  }
  return status;
}

/* Pushes package.loaded.gmmkit (not the global `gk`, which a script may reassign). */
static int push_module(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_getfield(L, -1, "gmmkit");
  lua_remove(L, -2);
  return lua_type(L, -1);
}

void gkh_print_version(lua_State *L, int banner) {
  const char *version = NULL;
  int top = lua_gettop(L);
  if (push_module(L) == LUA_TTABLE) {
    lua_getfield(L, -1, "version");
    version = lua_tostring(L, -1);
  }
  if (version == NULL) version = gk_version();
  printf("%s %s (%s)%s\n", GKH_PROGNAME, version, LUA_RELEASE,
         banner ? "  help() for help, Ctrl-D to exit" : "");
  fflush(stdout);
  lua_settop(L, top);
}
