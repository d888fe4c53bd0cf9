/*
 * gmmkit.c: the `gmmkit` executable, a Lua 5.4 host with gmmkit preloaded.
 *
 *   gmmkit [options] [script [args]]
 *
 * Modelled on Lua's own lua.c: the same options (-e, -i, -l, -v, -E, -W, --, -), the same
 * `arg` table (arg[0] the script, its arguments at 1..n, the interpreter and the options
 * at negative indices), chunks run under a message handler that appends a traceback, and
 * Ctrl-C handled by a hook set from the signal handler (never by doing work inside it;
 * run.c). What differs: gmmkit is loaded before anything runs (globals `gk` and `help`),
 * Ctrl-C also raises gmmkit's interrupt flag so that long C loops stop with GK_EINTR, the
 * version line names gmmkit, and without a script the read-eval-print loop (repl.c) runs
 * whether or not stdin is a terminal, so that a session can be piped in.
 *
 * Exit status: 0 on success; 1 when an option is bad, gmmkit cannot be loaded, a chunk
 * (-e, -l, the script) raises an error, or, for a session piped into the REPL, when any of
 * its inputs failed.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "gkl.h"
#include "host.h"
#include "faults.h"
#include "mpi_host.h"
#include "repl.h"
#include "run.h"

static void print_usage(FILE *f) {
  fprintf(f,
          "usage: %s [options] [script [args]]\n"
          "Runs a Lua 5.4 script with gmmkit loaded (globals 'gk' and 'help'); without a\n"
          "script, an interactive session (or, with stdin not a terminal, the lines of stdin\n"
          "as typed in one, the exit status non-zero when any of them failed).\n"
          "Available options are:\n"
          "  -e stat   execute string 'stat'\n"
          "  -i        enter interactive mode after executing 'script'\n"
          "  -l mod    require library 'mod' into global 'mod'\n"
          "  -l g=mod  require library 'mod' into global 'g'\n"
          "  -v        show version information\n"
          "  -E        ignore environment variables LUA_PATH and LUA_CPATH\n"
          "  -W        turn warnings on\n"
          "  --help    show this help\n"
          "  --        stop handling options\n"
          "  -         stop handling options and execute stdin\n"
          "Environment: GMMKIT_HISTORY (history file of interactive sessions, default\n"
          "~/.gmmkit_history, empty for none), GMMKIT_THREADS (threads, default all cores),\n"
          "GMMKIT_MPI (1: initialise MPI without a launcher, 0: never; by default under\n"
          "mpirun/mpiexec/srun when built with MPI).\n"
          "In a session, Ctrl-C stops a running command, Ctrl-D exits.\n",
          GKH_PROGNAME);
}

static void print_badoption(const char *badoption) {
  fprintf(stderr, "%s: ", GKH_PROGNAME);
  if (badoption[1] == 'e' || badoption[1] == 'l')
    fprintf(stderr, "'%s' needs argument\n", badoption);
  else
    fprintf(stderr, "unrecognized option '%s'\n", badoption);
  print_usage(stderr);
}

/* arg[0] is the script (or the interpreter when there is none), the script's arguments
 * follow at 1..n, everything before it at negative indices (lua.c's createargtable). */
static void createargtable(lua_State *L, char **argv, int argc, int script) {
  int i, narg = argc - (script + 1);
  lua_createtable(L, narg > 0 ? narg : 0, script + 1);
  for (i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

static int dochunk(lua_State *L, int status) {
  if (status == LUA_OK) status = gkh_docall(L, 0, 0);
  return gkh_report(L, status, 1);
}

static int dostring(lua_State *L, const char *s, const char *name) {
  return dochunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}

/* 'globname[=modname]': globname = require(modname). */
static int dolibrary(lua_State *L, char *globname) {
  int status;
  char *modname = strchr(globname, '=');
  if (modname == NULL) {
    modname = globname;
  } else {
    *modname = '\0';
    modname++;
  }
  lua_getglobal(L, "require");
  lua_pushstring(L, modname);
  status = gkh_docall(L, 1, 1);
  if (status == LUA_OK) lua_setglobal(L, globname);
  return gkh_report(L, status, 1);
}

/* Pushes arg[1..#arg], the script's arguments. */
static int pushargs(lua_State *L) {
  int i, n;
  if (lua_getglobal(L, "arg") != LUA_TTABLE) luaL_error(L, "'arg' is not a table");
  n = (int)luaL_len(L, -1);
  luaL_checkstack(L, n + 3, "too many arguments to script");
  for (i = 1; i <= n; i++) lua_rawgeti(L, -i, i);
  lua_remove(L, -i);
  return n;
}

static int handle_script(lua_State *L, char **argv) {
  int status;
  const char *fname = argv[0];
  if (strcmp(fname, "-") == 0 && strcmp(argv[-1], "--") != 0) fname = NULL; /* stdin */
  status = luaL_loadfile(L, fname);
  if (status == LUA_OK) {
    int n = pushargs(L);
    status = gkh_docall(L, n, LUA_MULTRET);
  }
  return gkh_report(L, status, 1);
}

/* Bits of the options found by collectargs. */
enum {
  HAS_ERROR = 1, /* a bad option */
  HAS_I = 2,     /* -i */
  HAS_V = 4,     /* -v */
  HAS_E = 8,     /* -e */
  HAS_NOENV = 16, /* -E */
  HAS_HELP = 32  /* --help */
};

/* Scans the options (lua.c's collectargs). On a bad option returns HAS_ERROR with *first
 * its index; otherwise *first is the index of the script, or 0 when there is none. */
static int collectargs(char **argv, int *first) {
  int args = 0, i;
  *first = 0;
  if (argv[0] == NULL) return 0;
  for (i = 1; argv[i] != NULL; i++) {
    *first = i;
    if (argv[i][0] != '-') return args; /* the script */
    switch (argv[i][1]) {
      case '-': /* '--' or '--help' */
        if (strcmp(argv[i], "--help") == 0) {
          *first = 0;
          return args | HAS_HELP;
        }
        if (argv[i][2] != '\0') return HAS_ERROR;
        *first = argv[i + 1] != NULL ? i + 1 : 0;
        return args;
      case '\0': /* '-': the script is stdin */
        return args;
      case 'E':
        if (argv[i][2] != '\0') return HAS_ERROR;
        args |= HAS_NOENV;
        break;
      case 'W':
        if (argv[i][2] != '\0') return HAS_ERROR;
        break;
      case 'i':
        if (argv[i][2] != '\0') return HAS_ERROR;
        args |= HAS_I;
        break;
      case 'v':
        if (argv[i][2] != '\0') return HAS_ERROR;
        args |= HAS_V;
        break;
      case 'e':
      case 'l': /* both take an argument, joined ("-eprint(1)") or the next one */
        if (argv[i][1] == 'e') args |= HAS_E;
        if (argv[i][2] == '\0') {
          i++;
          if (argv[i] == NULL || argv[i][0] == '-') return HAS_ERROR;
        }
        break;
      default:
        return HAS_ERROR;
    }
  }
  *first = 0;
  return args;
}

/* Runs -e and -l in command-line order, and applies -W. 0 when one of them failed. */
static int runargs(lua_State *L, char **argv, int n) {
  int i;
  for (i = 1; i < n; i++) {
    int option = argv[i][1];
    switch (option) {
      case 'e':
      case 'l': {
        int status;
        char *extra = argv[i] + 2;
        if (*extra == '\0') extra = argv[++i];
        status = option == 'e' ? dostring(L, extra, "=(command line)") : dolibrary(L, extra);
        if (status != LUA_OK) return 0;
        break;
      }
      case 'W':
        lua_warning(L, "@on", 0);
        break;
      default:
        break;
    }
  }
  return 1;
}

/* os.exit under MPI: MPI ends first (MPI_Finalize; or, for a failure status with other
 * ranks running, MPI_Abort with a message naming the rank, as the other ranks may be
 * waiting for this one); then as Lua's os.exit. */
static int host_exit(lua_State *L) {
  int status;
  if (lua_isboolean(L, 1)) status = lua_toboolean(L, 1) ? EXIT_SUCCESS : EXIT_FAILURE;
  else status = (int)luaL_optinteger(L, 1, EXIT_SUCCESS);
  if (status != EXIT_SUCCESS) {
    fflush(stdout);
    fprintf(stderr, "%s: rank %d: os.exit(%d)\n", GKH_PROGNAME, gkh_mpi_rank(), status);
  }
  if (lua_toboolean(L, 2)) lua_close(L);
  gkh_mpi_exit(status == EXIT_SUCCESS, status);
  exit(status);
  return 0;
}

/* require "gmmkit" (from package.preload, set by gkL_preload) into the globals `gk` and
 * `help`. */
static int load_gmmkit(lua_State *L) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "gmmkit");
  if (gkh_report(L, gkh_docall(L, 1, 1), 1) != LUA_OK) return 0;
  lua_pushvalue(L, -1);
  lua_setglobal(L, "gk");
  lua_getfield(L, -1, "help");
  lua_setglobal(L, "help");
  lua_pop(L, 1);
  return 1;
}

/* The exit status of a chunk that failed: 128 + SIGINT when Ctrl-C ended it (as a shell
 * reports a command killed by SIGINT, which job runners and `make` rely on), else 1.
 * gkh_docall clears the flag before every chunk, so it was this chunk's Ctrl-C. */
static int failed(lua_State *L) {
  lua_pushinteger(L, gk_interrupted() ? 128 + SIGINT : EXIT_FAILURE);
  return 1;
}

/* The body of the host, in protected mode (lua.c's pmain). Returns true on success, or
 * the exit status (an integer). */
static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  int script, failures = 0;
  int args = collectargs(argv, &script);
  int optlim = script > 0 ? script : argc; /* first argv that is not an option */
  luaL_checkversion(L);
  if (args == HAS_ERROR) {
    print_badoption(argv[script]);
    return 0;
  }
  if (args & HAS_HELP) {
    print_usage(stdout);
    lua_pushboolean(L, 1);
    return 1;
  }
  if (args & HAS_NOENV) { /* the libraries then ignore LUA_PATH and friends */
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
  }
  luaL_openlibs(L);
  if (gkh_mpi_rank() >= 0) {
    lua_getglobal(L, "os");
    lua_pushcfunction(L, host_exit);
    lua_setfield(L, -2, "exit");
    lua_pop(L, 1);
  }
  gkL_preload(L);
  createargtable(L, argv, argc, script);
  lua_gc(L, LUA_GCRESTART);
  lua_gc(L, LUA_GCGEN, 0, 0); /* like lua.c: most values in a session die young */
  if (!load_gmmkit(L)) return 0;
  if (args & HAS_V) gkh_print_version(L, 0);
  if (!runargs(L, argv, optlim)) return failed(L);
  if (script > 0 && handle_script(L, argv + script) != LUA_OK) return failed(L);
  if ((args & HAS_I) || (script < 1 && !(args & (HAS_E | HAS_V))))
    failures = gkh_repl(L, !(args & HAS_V));
  /* A piped session reports failed inputs through the exit status; a person at a
   * terminal has seen them. */
  lua_pushboolean(L, failures == 0 || isatty(STDIN_FILENO));
  return 1;
}

/* Freed memory stays in the process for the next call to reuse. Scoring, selection and
 * every E-step allocate scratch of up to a few MB per call; glibc gives blocks over its
 * mmap threshold back to the system at once and trims the heap above its trim threshold,
 * so that the next call touches fresh pages, and a first touch is a page fault (12 us a
 * 4 KB page on the virtual machines measured: about 800 faults, 5-9 ms, of a 6-model
 * trial matrix of 22,060 frames). Blocks under 64 MB come from the heap and up to 128 MB
 * of free heap is kept. Set here, not in the library: the policy is the program's. */
static void keep_freed_memory(void) {
#ifdef __GLIBC__
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
#endif
}

int main(int argc, char **argv) {
  int status, result;
  keep_freed_memory();
  gkh_mpi_init(&argc, &argv); /* first: before any thread exists */
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    fprintf(stderr, "%s: cannot create state: not enough memory\n", GKH_PROGNAME);
    gkh_mpi_exit(0, EXIT_FAILURE);
    return EXIT_FAILURE;
  }
  gkh_faults_install(L); /* allocation-failure tests; a no-op in normal builds */
  lua_gc(L, LUA_GCSTOP); /* no collection while the state is built */
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  status = lua_pcall(L, 2, 1, 0);
  if (status == LUA_OK && lua_isinteger(L, -1)) result = (int)lua_tointeger(L, -1);
  else result = (status == LUA_OK && lua_toboolean(L, -1)) ? EXIT_SUCCESS : EXIT_FAILURE;
  gkh_report(L, status, 1);
  lua_close(L);
  gkh_mpi_exit(result == EXIT_SUCCESS, result);
  return result;
}
