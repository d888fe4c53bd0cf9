/*
 * repl.c: the read-eval-print loop of `gmmkit` (lua.c's doREPL, with gmmkit's additions).
 *
 * Each input is first compiled as "return <line>;" so that an expression prints its
 * values; otherwise as a statement, reading continuation lines (prompt ">> ") while the
 * compiler's error ends in "<eof>", i.e. the statement is unfinished. Values are printed
 * with the global print (so objects through their __tostring). Errors print with a
 * traceback and the loop goes on; one input is read, run and printed inside its own
 * protected call, so that nothing an input does (not even running out of memory) ends
 * the session.
 *
 * On a terminal, lines are read with libedit: history (GMMKIT_HISTORY, default
 * ~/.gmmkit_history, one entry per line with "\n" and "\\" escaped, the last
 * GKH_HISTORY_MAX kept), tab completion of globals, table fields and methods
 * (`gk.matrix.` Tab Tab, `m:` Tab Tab), Ctrl-C at the prompt cancels the line, Ctrl-D
 * exits. Otherwise lines are read plainly from stdin, without prompt, banner or history.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>

#include <lua.h>
#include <lauxlib.h>

#include "repl.h"
#include "run.h"

#define GKH_PROMPT "> "
#define GKH_PROMPT2 ">> "
#define GKH_HISTORY_NAME ".gmmkit_history"
#define GKH_HISTORY_MAX 1000     /* entries kept in the history file and in memory */
#define GKH_INDEX_DEPTH 8        /* __index tables followed for completion */
#define GKH_COMPLETE_MAX 10000   /* candidates offered at once */
#define GKH_OUTER_FAILURES 10    /* consecutive internal failures that end the loop */

typedef struct repl {
  int tty;          /* reading through libedit */
  char *line;       /* the last line read: readline's or getline's buffer, owned here */
  size_t cap;       /* getline's capacity of `line` */
  char *last;       /* the last history entry (not added twice in a row) */
  char *histfile;   /* history file, or NULL for none */
  int histwarned;   /* a failure to write it was reported */
  int eof;          /* end of input */
  int failures;     /* inputs that failed */
  lua_State *L;
  char **cand;      /* completion candidates, for the generator */
  size_t ncand, nextcand;
} repl;

/* The session that readline's callbacks work for: readline's completion callbacks take
 * no context argument, and a signal handler none either. */
static repl *active = NULL;
static volatile sig_atomic_t prompt_interrupted = 0;

static const char *const keywords[] = {
    "and",  "break", "do",     "else", "elseif", "end",   "false", "for",   "function",
    "goto", "if",    "in",     "local", "nil",   "not",   "or",    "repeat", "return",
    "then", "true",  "until",  "while", NULL};

/* ---- history ------------------------------------------------------------------------ */

static char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

static void history_warn(repl *r, const char *what) {
  if (r->histwarned) return;
  r->histwarned = 1;
  fprintf(stderr, "%s: cannot %s history file '%s': %s (history not saved)\n", GKH_PROGNAME,
          what, r->histfile, strerror(errno));
}

/* Writes one entry as a line: '\\' and '\n' escaped, so that multi-line inputs survive. */
static int history_put(FILE *f, const char *entry) {
  const char *p;
  for (p = entry; *p; p++) {
    if (*p == '\\') fputs("\\\\", f);
    else if (*p == '\n') fputs("\\n", f);
    else fputc(*p, f);
  }
  fputc('\n', f);
  return ferror(f) ? -1 : 0;
}

static void history_unescape(char *s) {
  char *w = s;
  for (; *s; s++) {
    if (s[0] == '\\' && s[1] == 'n') {
      *w++ = '\n';
      s++;
    } else if (s[0] == '\\' && s[1] == '\\') {
      *w++ = '\\';
      s++;
    } else {
      *w++ = *s;
    }
  }
  *w = '\0';
}

/* Opens the history file for writing (mode "a" or "w"), private to its owner. */
static FILE *history_open(const char *path, int append) {
  int fd = open(path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0600);
  FILE *f;
  if (fd < 0) return NULL;
  f = fdopen(fd, append ? "a" : "w");
  if (f == NULL) close(fd);
  return f;
}

/* Rewrites the file with only the `n` entries kept, through a temporary file and a
 * rename, so that a failure leaves the old file whole. */
static void history_trim(repl *r, char **ring, size_t n, size_t first) {
  size_t len = strlen(r->histfile) + 32, i;
  char *tmp = malloc(len);
  FILE *f;
  int ok = 1;
  if (tmp == NULL) return;
  snprintf(tmp, len, "%s.%ld.tmp", r->histfile, (long)getpid());
  f = history_open(tmp, 0);
  if (f == NULL) {
    history_warn(r, "rewrite");
    free(tmp);
    return;
  }
  for (i = 0; i < n && ok; i++) ok = history_put(f, ring[(first + i) % GKH_HISTORY_MAX]) == 0;
  if (fclose(f) != 0) ok = 0;
  if (!ok || rename(tmp, r->histfile) != 0) {
    history_warn(r, "rewrite");
    remove(tmp);
  }
  free(tmp);
}

/* Loads the history file into libedit's history, keeping the last GKH_HISTORY_MAX
 * entries, and trims the file when it holds more. */
static void history_load(repl *r) {
  char **ring = NULL, *buf = NULL;
  size_t cap = 0, total = 0, n, first, i;
  ssize_t len;
  FILE *f;
  if (r->histfile == NULL || (f = fopen(r->histfile, "r")) == NULL) return;
  ring = calloc(GKH_HISTORY_MAX, sizeof *ring);
  if (ring == NULL) {
    fclose(f);
    return;
  }
  while ((len = getline(&buf, &cap, f)) >= 0) {
    char **slot;
    if (len > 0 && buf[len - 1] == '\n') buf[len - 1] = '\0';
    if (buf[0] == '\0') continue;
    history_unescape(buf);
    slot = &ring[total % GKH_HISTORY_MAX];
    free(*slot);
    *slot = xstrdup(buf);
    if (*slot == NULL) break;
    total++;
  }
  free(buf);
  fclose(f);
  n = total < GKH_HISTORY_MAX ? total : GKH_HISTORY_MAX;
  first = total < GKH_HISTORY_MAX ? 0 : total % GKH_HISTORY_MAX;
  for (i = 0; i < n; i++) add_history(ring[(first + i) % GKH_HISTORY_MAX]);
  if (n > 0) r->last = xstrdup(ring[(first + n - 1) % GKH_HISTORY_MAX]);
  if (total > GKH_HISTORY_MAX) history_trim(r, ring, n, first);
  for (i = 0; i < GKH_HISTORY_MAX; i++) free(ring[i]);
  free(ring);
}

/* Records a complete input in the history and appends it to the file at once (a session
 * that is killed keeps what was typed). */
static void saveline(repl *r, const char *line) {
  FILE *f;
  if (!r->tty || line[0] == '\0') return;
  if (r->last && strcmp(r->last, line) == 0) return;
  add_history(line);
  free(r->last);
  r->last = xstrdup(line);
  if (r->histfile == NULL) return;
  f = history_open(r->histfile, 1);
  if (f == NULL) {
    history_warn(r, "open");
    return;
  }
  if (history_put(f, line) != 0) history_warn(r, "write");
  if (fclose(f) != 0) history_warn(r, "write");
}

/* GMMKIT_HISTORY, or ~/.gmmkit_history; NULL (no history file) when it is empty. */
static char *history_path(void) {
  const char *env = getenv("GMMKIT_HISTORY"), *home;
  char *path;
  size_t len;
  if (env != NULL) return env[0] ? xstrdup(env) : NULL;
  home = getenv("HOME");
  if (home == NULL || home[0] == '\0') return NULL;
  len = strlen(home) + sizeof("/" GKH_HISTORY_NAME);
  path = malloc(len);
  if (path) snprintf(path, len, "%s/%s", home, GKH_HISTORY_NAME);
  return path;
}

/* ---- completion ------------------------------------------------------------------------ */

static int is_keyword(const char *s) {
  int i;
  for (i = 0; keywords[i]; i++)
    if (strcmp(s, keywords[i]) == 0) return 1;
  return 0;
}

static int is_name(const char *s, size_t n) {
  size_t i;
  if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_')) return 0;
  for (i = 1; i < n; i++)
    if (!(isalnum((unsigned char)s[i]) || s[i] == '_')) return 0;
  return 1;
}

/* Adds to the set at `set` the names (identifier keys starting with `prefix`) of the table
 * at `t`; with `methods`, only those whose value is a function. The set maps each name
 * to its value's type. */
static void add_names(lua_State *L, int set, int t, const char *prefix, int methods) {
  size_t plen = strlen(prefix);
  lua_pushnil(L);
  while (lua_next(L, t) != 0) {
    if (lua_type(L, -2) == LUA_TSTRING) {
      size_t klen;
      const char *k = lua_tolstring(L, -2, &klen);
      if (klen >= plen && memcmp(k, prefix, plen) == 0 && is_name(k, klen) && !is_keyword(k) &&
          (!methods || lua_type(L, -1) == LUA_TFUNCTION)) {
        lua_pushvalue(L, -2);
        lua_pushstring(L, luaL_typename(L, -2));
        lua_rawset(L, set);
      }
    }
    lua_pop(L, 1);
  }
}

/* Adds the names of the __index tables of the value at `v` and of theirs in turn (the
 * methods of a userdata, a string or a class-like table). A function __index cannot be
 * listed: gmmkit's classes keep their methods table as __methods beside it. */
static void add_index_names(lua_State *L, int set, int v, const char *prefix, int methods) {
  int top = lua_gettop(L), depth;
  lua_pushvalue(L, v);
  for (depth = 0; depth < GKH_INDEX_DEPTH; depth++) {
    if (!lua_getmetatable(L, -1)) break;
    lua_pushliteral(L, "__index");
    if (lua_rawget(L, -2) != LUA_TTABLE) {
      lua_pop(L, 1);
      lua_pushliteral(L, "__methods");
      if (lua_rawget(L, -2) == LUA_TTABLE) add_names(L, set, lua_gettop(L), prefix, methods);
      break;
    }
    add_names(L, set, lua_gettop(L), prefix, methods);
    lua_replace(L, -3); /* follow the chain from the __index table */
    lua_pop(L, 1);
  }
  lua_settop(L, top);
}

/* What to complete: the fields (sep '.') or methods (sep ':') of the value named by the
 * dotted `path` whose names start with `prefix`; the globals when sep is 0. */
typedef struct query {
  const char *path;
  size_t pathlen;
  char sep;
  const char *prefix;
} query;

/* collect(query) -> {name = type name}: runs protected, because evaluating the path may
 * call __index functions and every push may run out of memory. */
static int collect(lua_State *L) {
  const query *q = (const query *)lua_touserdata(L, 1);
  const char *path = q->path, *end = q->path + q->pathlen;
  int set;
  lua_settop(L, 0);
  lua_newtable(L);
  set = lua_gettop(L);
  lua_pushglobaltable(L);
  if (q->sep == 0) {
    int i;
    size_t plen = strlen(q->prefix);
    add_names(L, set, set + 1, q->prefix, 0);
    add_index_names(L, set, set + 1, q->prefix, 0);
    for (i = 0; keywords[i]; i++) {
      if (strncmp(keywords[i], q->prefix, plen) != 0) continue;
      lua_pushstring(L, keywords[i]);
      lua_pushliteral(L, "keyword");
      lua_rawset(L, set);
    }
    lua_settop(L, set);
    return 1;
  }
  while (path < end) { /* walk the path from the globals */
    const char *dot = memchr(path, '.', (size_t)(end - path));
    size_t n = dot ? (size_t)(dot - path) : (size_t)(end - path);
    int t = lua_type(L, -1);
    if (t != LUA_TTABLE && t != LUA_TUSERDATA) {
      lua_settop(L, set);
      return 1;
    }
    lua_pushlstring(L, path, n);
    lua_gettable(L, -2);
    lua_remove(L, -2);
    path += n + (dot != NULL);
  }
  if (lua_type(L, -1) == LUA_TTABLE) add_names(L, set, set + 1, q->prefix, q->sep == ':');
  add_index_names(L, set, set + 1, q->prefix, q->sep == ':');
  lua_settop(L, set);
  return 1;
}

/* Splits `word` ("a.b.c:pre", "a.pre" or "pre") into a query; 0 when the part before the
 * last '.' or ':' is not a dotted chain of names. */
static int parse_word(const char *word, query *q) {
  const char *last = NULL, *p, *c;
  for (p = word; *p; p++)
    if (*p == '.' || *p == ':') last = p;
  q->path = word;
  q->pathlen = 0;
  q->sep = 0;
  q->prefix = word;
  if (last == NULL) return 1;
  q->pathlen = (size_t)(last - word);
  q->sep = *last;
  q->prefix = last + 1;
  for (c = word; c <= last; c = p + 1) { /* each component a name, ':' only last */
    for (p = c; *p != '.' && *p != ':'; p++) continue;
    if (!is_name(c, (size_t)(p - c)) || (*p == ':' && p != last)) return 0;
  }
  return 1;
}

static void free_candidates(repl *r) {
  size_t i;
  for (i = 0; i < r->ncand; i++) free(r->cand[i]);
  free(r->cand);
  r->cand = NULL;
  r->ncand = r->nextcand = 0;
}

static int compare_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Fills r->cand, sorted, with the completions of `word` as whole words
 * ("<path><sep><name>"); returns 1 when there is a single one and it names a table. */
static int gather(repl *r, const char *word) {
  lua_State *L = r->L;
  int top = lua_gettop(L), table = 0;
  size_t n = 0;
  query q;
  if (!parse_word(word, &q)) return 0;
  /* no allocation outside the protected call: these two pushes need none */
  lua_pushcfunction(L, collect);
  lua_pushlightuserdata(L, &q);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_istable(L, -1)) {
    lua_settop(L, top);
    return 0;
  }
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    n++;
    lua_pop(L, 1);
  }
  if (n > GKH_COMPLETE_MAX) n = GKH_COMPLETE_MAX;
  r->cand = n ? calloc(n, sizeof *r->cand) : NULL;
  if (r->cand) {
    lua_pushnil(L);
    while (r->ncand < n && lua_next(L, -2) != 0) {
      const char *name = lua_tostring(L, -2), *tname = lua_tostring(L, -1);
      size_t len = q.pathlen + 1 + strlen(name) + 1;
      char *c = malloc(len);
      if (c == NULL) {
        lua_pop(L, 2);
        break;
      }
      if (q.sep) snprintf(c, len, "%.*s%c%s", (int)q.pathlen, q.path, q.sep, name);
      else snprintf(c, len, "%s", name);
      r->cand[r->ncand++] = c;
      table = strcmp(tname, "table") == 0;
      lua_pop(L, 1);
    }
    qsort(r->cand, r->ncand, sizeof *r->cand, compare_names);
  }
  lua_settop(L, top);
  return r->ncand == 1 && table;
}

/* rl_completion_matches' generator: the candidates one by one, as fresh copies. */
static char *candidate(const char *text, int state) {
  repl *r = active;
  (void)text; /* the candidates already start with it */
  if (r == NULL) return NULL;
  if (state == 0) r->nextcand = 0;
  while (r->nextcand < r->ncand) {
    char *c = xstrdup(r->cand[r->nextcand++]);
    if (c) return c;
  }
  return NULL;
}

/* Completes the word before the cursor. '.' and ':' are not word breaks, so `text` is the
 * whole "a.b.c:pre" and the matches are whole paths. */
static char **complete(const char *text, int start, int end) {
  repl *r = active;
  (void)start;
  (void)end;
  rl_attempted_completion_over = 1; /* never fall back to file names */
  rl_completion_append_character = '\0';
  if (r == NULL) return NULL;
  free_candidates(r);
  if (gather(r, text)) rl_completion_append_character = '.';
  if (r->ncand == 0) return NULL;
  return rl_completion_matches(text, candidate);
}

/* Word breaks for completion: Lua's operators and brackets, but not '.' and ':'. */
static char word_breaks[] = " \t\n\"'`<>=;+-*/%^~#&|,()[]{}";

/* ---- reading input ------------------------------------------------------------------ */

static void prompt_sigint(int sig) {
  (void)sig;
  prompt_interrupted = 1;
}

/* The prompt (from _PROMPT / _PROMPT2 when set, as in lua.c), left on the stack to keep
 * it alive. */
static const char *get_prompt(lua_State *L, int firstline) {
  if (lua_getglobal(L, firstline ? "_PROMPT" : "_PROMPT2") == LUA_TNIL)
    return firstline ? GKH_PROMPT : GKH_PROMPT2;
  {
    const char *p = luaL_tolstring(L, -1, NULL);
    lua_remove(L, -2);
    return p;
  }
}

/* Reads a line and pushes it without its newline: 1, or 0 at end of input, or -2 when
 * Ctrl-C cancelled it (nothing pushed then). */
static int pushline(lua_State *L, repl *r, int firstline) {
  size_t len;
  if (r->tty) {
    struct sigaction sa, old;
    const char *prompt = get_prompt(L, firstline);
    free(r->line);
    r->line = NULL;
    /* SIGINT interrupts libedit's read() (no SA_RESTART): readline returns NULL and
     * the flag tells that from Ctrl-D. */
    prompt_interrupted = 0;
    sa.sa_handler = prompt_sigint;
    sa.sa_flags = 0;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
    r->line = readline(prompt);
    sigaction(SIGINT, &old, NULL);
    lua_pop(L, 1); /* the prompt */
    if (r->line == NULL) {
      if (!prompt_interrupted) return 0;
      fputs("\n", stdout);
      fflush(stdout);
      return -2;
    }
    len = strlen(r->line);
  } else {
    ssize_t n = getline(&r->line, &r->cap, stdin);
    if (n < 0) return 0;
    len = (size_t)n;
  }
  if (len > 0 && r->line[len - 1] == '\n') r->line[--len] = '\0';
  if (firstline && r->line[0] == '=') /* "=expr", as in Lua 5.2 */
    lua_pushfstring(L, "return %s", r->line + 1);
  else
    lua_pushlstring(L, r->line, len);
  return 1;
}

/* Whether `status` is a syntax error at the end of the input (an unfinished statement). */
static int incomplete(lua_State *L, int status) {
  static const char mark[] = "<eof>";
  size_t lmsg, lmark = sizeof mark - 1;
  const char *msg;
  if (status != LUA_ERRSYNTAX) return 0;
  msg = lua_tolstring(L, -1, &lmsg);
  return msg && lmsg >= lmark && strcmp(msg + lmsg - lmark, mark) == 0;
}

/* Compiles the line on the stack as "return <line>;": on success replaces the line by
 * the function, otherwise leaves the line alone. */
static int addreturn(lua_State *L, repl *r) {
  const char *line = lua_tostring(L, -1);
  const char *retline = lua_pushfstring(L, "return %s;", line);
  int status = luaL_loadbuffer(L, retline, strlen(retline), "=stdin");
  if (status == LUA_OK) {
    lua_remove(L, -2); /* the modified line; the caller removes the line itself */
    saveline(r, line);
  } else {
    lua_pop(L, 2);
  }
  return status;
}

/* Compiles the statement at index 1, reading continuation lines while it is unfinished.
 * Leaves the function or the error message on top; -2 when Ctrl-C cancelled it. */
static int multiline(lua_State *L, repl *r) {
  for (;;) {
    size_t len;
    const char *line = lua_tolstring(L, 1, &len);
    int status = luaL_loadbuffer(L, line, len, "=stdin"), more;
    if (!incomplete(L, status)) {
      saveline(r, line);
      return status;
    }
    more = pushline(L, r, 0);
    if (more == -2) return -2;
    if (more == 0) { /* end of input inside a statement: report it as unfinished */
      saveline(r, line);
      return status;
    }
    lua_remove(L, -2); /* the "<eof>" message */
    lua_pushliteral(L, "\n");
    lua_insert(L, -2);
    lua_concat(L, 3);
  }
}

/* Reads one complete input: LUA_OK with the compiled function alone on the stack, an
 * error status with its message, -1 at end of input, -2 when cancelled. */
static int loadline(lua_State *L, repl *r) {
  int status;
  lua_settop(L, 0);
  status = pushline(L, r, 1);
  if (status <= 0) return status == 0 ? -1 : -2;
  if ((status = addreturn(L, r)) != LUA_OK) status = multiline(L, r);
  if (status == -2) return -2;
  lua_remove(L, 1); /* the line */
  return status;
}

/* Prints the values on the stack with the global print. */
static int l_print(lua_State *L) {
  int n = lua_gettop(L), status;
  if (n == 0) return LUA_OK;
  luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
  lua_getglobal(L, "print");
  lua_insert(L, 1);
  status = gkh_docall(L, n, 0);
  if (status != LUA_OK) {
    lua_pushfstring(L, "error calling 'print' (%s)", lua_tostring(L, -1));
    lua_remove(L, -2);
  }
  return status;
}

/* One input, read, run and printed (in protected mode; the session is argument 1). */
static int step(lua_State *L) {
  repl *r = (repl *)lua_touserdata(L, 1);
  int status = loadline(L, r);
  if (status == -1) {
    r->eof = 1;
    return 0;
  }
  if (status == -2) return 0;
  if (status == LUA_OK) status = gkh_docall(L, 0, LUA_MULTRET);
  if (status == LUA_OK) status = l_print(L);
  if (status != LUA_OK) {
    r->failures++;
    gkh_report(L, status, 0);
  }
  fflush(stdout);
  return 0;
}

static void readline_open(repl *r) {
  setlocale(LC_CTYPE, ""); /* libedit decodes UTF-8 input by the locale */
  rl_readline_name = GKH_PROGNAME;
  rl_catch_signals = 0; /* SIGINT is ours: it cancels the line (see pushline) */
  rl_attempted_completion_function = complete;
  rl_basic_word_break_characters = word_breaks;
  rl_completer_word_break_characters = word_breaks;
  rl_initialize();
  using_history();
  stifle_history(GKH_HISTORY_MAX);
  r->histfile = history_path();
  history_load(r);
}

int gkh_repl(lua_State *L, int banner) {
  repl r;
  int outer = 0;
  memset(&r, 0, sizeof r);
  r.L = L;
  r.tty = isatty(STDIN_FILENO);
  active = &r;
  if (r.tty) {
    readline_open(&r);
    if (banner) gkh_print_version(L, 1);
  }
  while (!r.eof) {
    int status;
    lua_pushcfunction(L, step);
    lua_pushlightuserdata(L, &r);
    status = lua_pcall(L, 1, 0, 0);
    if (status == LUA_OK) {
      outer = 0;
      continue;
    }
    r.failures++; /* an error outside the input's own call: memory, most likely */
    gkh_report(L, status, 1);
    if (++outer >= GKH_OUTER_FAILURES) {
      fprintf(stderr, "%s: the session cannot go on\n", GKH_PROGNAME);
      break;
    }
  }
  if (r.tty) {
    fputs("\n", stdout);
    fflush(stdout);
  }
  free_candidates(&r);
  free(r.line);
  free(r.last);
  free(r.histfile);
  active = NULL;
  return r.failures;
}
