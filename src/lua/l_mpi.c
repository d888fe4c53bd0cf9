/*
 * l_mpi.c: the Lua binding gk.mpi (ranks, barrier, reductions in rank order, dealing a
 * file list, gathering matrices) and, in the MPI build of the host, the communicator
 * over MPI_COMM_WORLD that distributed EM uses (gmmkit/comm.h).
 *
 * Who initialises MPI. This file is compiled twice: with GK_HAVE_MPI into the `gmmkit`
 * host (CMake option GMMKIT_MPI), and without it into the loadable module
 * build/lib/gmmkit/core.so. Only the host initialises MPI, in main() before anything
 * else (MPI_Init_thread with MPI_THREAD_FUNNELED: only the main thread calls MPI, OpenMP
 * workers never do), and finalises it at exit (src/host/mpi.c). A module loaded by a
 * stock lua5.4 cannot own MPI's lifetime reliably: it is loaded after the interpreter
 * and the BLAS and OpenMP thread pools already run; Lua dlopens C modules with
 * RTLD_LOCAL, so Open MPI's own plugins, which it dlopens in turn, cannot resolve the
 * libmpi symbols they need; and lua_close and dlclose order gives no point that is
 * surely after the last MPI call and before exit for MPI_Finalize. So in the module (and
 * in a host built without MPI, or run without a launcher) gk.mpi is one process: rank()
 * is 0, size() is 1, every reduction returns its argument, and scripts run unchanged.
 *
 * Under a launcher (`mpirun -np N gmmkit script.lua`) every rank runs the whole script;
 * gk.mpi.deal gives each its files, gk.gmm.train reduces its statistics over the ranks.
 */
#include <limits.h>
#include <string.h>

#include "gkl.h"
#include "l_mpi.h"

#ifdef GK_HAVE_MPI
#include <mpi.h>

/* MPI between MPI_Init and MPI_Finalize. */
static int mpi_running(void) {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  if (init) MPI_Finalized(&fin);
  return init && !fin;
}

static int w_rank(void *ctx) {
  int r = 0;
  (void)ctx;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

static int w_size(void *ctx) {
  int s = 1;
  (void)ctx;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

/* Messages go in pieces of at most 1 GiB: MPI counts are ints. */
#define PIECE ((size_t)1 << 30)

static int w_send(void *ctx, const void *buf, size_t bytes, int dest) {
  (void)ctx;
  const char *p = buf;
  for (size_t off = 0; off < bytes; off += PIECE) {
    size_t n = bytes - off < PIECE ? bytes - off : PIECE;
    if (MPI_Send(p + off, (int)n, MPI_BYTE, dest, 0, MPI_COMM_WORLD) != MPI_SUCCESS) return -1;
  }
  return 0;
}

static int w_recv(void *ctx, void *buf, size_t bytes, int src) {
  (void)ctx;
  char *p = buf;
  for (size_t off = 0; off < bytes; off += PIECE) {
    size_t n = bytes - off < PIECE ? bytes - off : PIECE;
    if (MPI_Recv(p + off, (int)n, MPI_BYTE, src, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE) != MPI_SUCCESS) return -1;
  }
  return 0;
}

static int w_bcast(void *ctx, void *buf, size_t bytes, int root) {
  (void)ctx;
  char *p = buf;
  for (size_t off = 0; off < bytes; off += PIECE) {
    size_t n = bytes - off < PIECE ? bytes - off : PIECE;
    if (MPI_Bcast(p + off, (int)n, MPI_BYTE, root, MPI_COMM_WORLD) != MPI_SUCCESS) return -1;
  }
  return 0;
}

static int w_barrier(void *ctx) {
  (void)ctx;
  return MPI_Barrier(MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : -1;
}

/* An immutable table of functions: the whole state is MPI's own. */
static const gk_comm world = {NULL, w_rank, w_size, w_send, w_recv, w_bcast, w_barrier};

const gk_comm *gkL_comm(lua_State *L) {
  (void)L;
  if (!mpi_running()) return NULL;
  return w_size(NULL) > 1 ? &world : NULL;
}
#else
const gk_comm *gkL_comm(lua_State *L) {
  (void)L;
  return NULL;
}
#endif

static gk_error *clear_err(gk_error *e) {
  gk_error_clear(e);
  return e;
}

static int m_rank(lua_State *L) {
  lua_pushinteger(L, gk_comm_rank(gkL_comm(L)));
  return 1;
}

static int m_size(lua_State *L) {
  lua_pushinteger(L, gk_comm_size(gkL_comm(L)));
  return 1;
}

static int m_barrier(lua_State *L) {
  const gk_comm *c = gkL_comm(L);
  if (c && c->barrier(c->ctx) != 0) return luaL_error(L, "gk.mpi.barrier: communication failed");
  return 0;
}

static int m_info(lua_State *L) {
  const gk_comm *c = gkL_comm(L);
  lua_createtable(L, 0, 6);
#ifdef GK_HAVE_MPI
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, "built");
  int running = mpi_running();
  lua_pushboolean(L, running);
  lua_setfield(L, -2, "running");
  if (running) {
    int level = 0;
    MPI_Query_thread(&level);
    lua_pushstring(L, level == MPI_THREAD_SINGLE ? "single" : level == MPI_THREAD_FUNNELED ? "funneled"
                      : level == MPI_THREAD_SERIALIZED ? "serialized" : "multiple");
    lua_setfield(L, -2, "thread_level");
    char name[MPI_MAX_PROCESSOR_NAME];
    int len = 0;
    if (MPI_Get_processor_name(name, &len) == MPI_SUCCESS) {
      lua_pushlstring(L, name, (size_t)len);
      lua_setfield(L, -2, "host");
    }
  }
  char lib[MPI_MAX_LIBRARY_VERSION_STRING];
  int llen = 0;
  if (MPI_Get_library_version(lib, &llen) == MPI_SUCCESS) {
    while (llen > 0 && (lib[llen - 1] == '\n' || lib[llen - 1] == '\0')) llen--;
    const char *nl = memchr(lib, ',', (size_t)llen);  /* the first clause is enough */
    lua_pushlstring(L, lib, nl ? (size_t)(nl - lib) : (size_t)llen);
    lua_setfield(L, -2, "library");
  }
#else
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "built");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "running");
#endif
  lua_pushinteger(L, gk_comm_rank(c));
  lua_setfield(L, -2, "rank");
  lua_pushinteger(L, gk_comm_size(c));
  lua_setfield(L, -2, "size");
  return 1;
}

/* Raises the same message on every rank when the ranks' shapes differ: `mine` are this
 * rank's n values; `what` names the argument. */
static void agree(lua_State *L, const gk_comm *c, const uint64_t *mine, size_t n, const char *what) {
  int p = gk_comm_size(c);
  if (p <= 1) return;
  uint64_t *all = lua_newuserdatauv(L, (size_t)p * n * sizeof(uint64_t), 0);
  gk_error e;
  if (gk_comm_allgather_u64(c, mine, n, all, clear_err(&e)) != GK_OK) gkL_raise(L, &e);
  for (int r = 1; r < p; r++)
    if (memcmp(all, all + (size_t)r * n, n * sizeof(uint64_t)) != 0)
      luaL_error(L, "gk.mpi.allreduce: rank %d's %s differs from rank 0's (%d x %d, %d; rank 0: %d x %d, %d)", r,
                 what, (int)all[(size_t)r * n], (int)all[(size_t)r * n + 1], (int)all[(size_t)r * n + 2],
                 (int)all[0], (int)all[1], (int)all[2]);
  lua_pop(L, 1);
}

static int m_allreduce(lua_State *L) {
  const gk_comm *c = gkL_comm(L);
  gk_error e;
  if (lua_type(L, 1) == LUA_TNUMBER) {
    double v = lua_tonumber(L, 1);
    uint64_t shape[3] = {1, 1, 0};
    agree(L, c, shape, 3, "value");
    if (gk_comm_sum_doubles(c, &v, 1, clear_err(&e)) != GK_OK) gkL_raise(L, &e);
    lua_pushnumber(L, v);
    return 1;
  }
  gk_gmm_stats **sb = luaL_testudata(L, 1, "gmmkit.Stats");
  if (sb) {
    if (!*sb) return luaL_argerror(L, 1, "attempt to use a closed gmmkit.Stats");
    uint64_t shape[3] = {(*sb)->k, (*sb)->d, (uint64_t)(*sb)->cov};
    agree(L, c, shape, 3, "statistics (components x dimension, covariance type)");
    lua_getfield(L, 1, "copy");  /* a new Stats userdata, then the sum into it */
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    gk_gmm_stats **out = luaL_checkudata(L, -1, "gmmkit.Stats");
    gk_allocator a = gkL_allocator(L);
    if (gk_gmm_stats_reduce(out, (*sb)->k, (*sb)->d, (*sb)->cov, c, &a, clear_err(&e)) != GK_OK) gkL_raise(L, &e);
    return 1;
  }
  gk_matrix *m = gkL_testmatrix(L, 1);
  if (!m) return luaL_typeerror(L, 1, "number, gmmkit.Stats or float64 gmmkit.Matrix");
  if (m->dtype != GK_FLOAT64)
    return luaL_argerror(L, 1, "the matrix must be float64 (sums are taken in float64; use m:astype('float64'))");
  uint64_t shape[3] = {m->rows, m->cols, (uint64_t)m->dtype};
  agree(L, c, shape, 3, "matrix shape (rows x cols, type)");
  gk_matrix *o = gkL_newmatrix(L, m->rows, m->cols, GK_FLOAT64);
  size_t n = m->rows * m->cols;
  if (n) memcpy(o->data, m->data, n * sizeof(double));
  if (gk_comm_sum_doubles(c, o->data, n, clear_err(&e)) != GK_OK) gkL_raise(L, &e);
  return 1;
}

/* The contiguous run of n items rank r of p gets: [n r / p, n (r + 1) / p). */
static void deal_range(lua_Integer n, lua_Integer r, lua_Integer p, lua_Integer *lo, lua_Integer *hi) {
  *lo = (lua_Integer)(((lua_Unsigned)n * (lua_Unsigned)r) / (lua_Unsigned)p);
  *hi = (lua_Integer)(((lua_Unsigned)n * (lua_Unsigned)(r + 1)) / (lua_Unsigned)p);
}

static int m_deal(lua_State *L) {
  static const char *const keys[] = {"rank", "size", NULL};
  luaL_checktype(L, 1, LUA_TTABLE);
  gkL_checkoptions(L, 2, keys);
  const gk_comm *c = gkL_comm(L);
  lua_Integer p = gkL_optinteger(L, 2, "size", gk_comm_size(c), 1, INT_MAX);
  lua_Integer r = gkL_optinteger(L, 2, "rank", gk_comm_rank(c), 0, INT_MAX);
  if (r >= p) gkL_opterror(L, 2, "rank", "(%d) must be below the size (%d)", (int)r, (int)p);
  lua_Integer n = (lua_Integer)gkL_checklen(L, 1, 1, GK_MAX_LIST, "the list"), lo, hi;
  deal_range(n, r, p, &lo, &hi);
  lua_createtable(L, (int)(hi - lo), 0);
  for (lua_Integer i = lo; i < hi; i++) {
    lua_geti(L, 1, i + 1);
    lua_rawseti(L, -2, i - lo + 1);
  }
  lua_pushinteger(L, lo + 1);
  return 2;
}

/* gather: rank r sends a count, then rows, cols, dtype of each matrix, then the data. */
static int m_gather(lua_State *L) {
  const gk_comm *c = gkL_comm(L);
  int p = gk_comm_size(c), me = gk_comm_rank(c);
  int single = gkL_testmatrix(L, 1) != NULL;
  if (!single) luaL_checktype(L, 1, LUA_TTABLE);
  lua_Integer n = single ? 1 : (lua_Integer)gkL_checklen(L, 1, 1, GK_MAX_LIST, "the list");
  gk_matrix **ms = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof(gk_matrix *), 0);
  for (lua_Integer i = 0; i < n; i++) {
    if (single) {
      ms[0] = gkL_testmatrix(L, 1);
      break;
    }
    lua_geti(L, 1, i + 1);
    ms[i] = gkL_testmatrix(L, -1);
    if (!ms[i])
      return luaL_argerror(L, 1, lua_pushfstring(L, "item %I is a %s, not a gmmkit.Matrix", i + 1, luaL_typename(L, -1)));
    lua_pop(L, 1);  /* the list keeps it alive */
  }
  uint64_t *head = lua_newuserdatauv(L, (size_t)(3 * n + 1) * sizeof(uint64_t), 0);
  head[0] = (uint64_t)n;
  for (lua_Integer i = 0; i < n; i++) {
    head[1 + 3 * i] = ms[i]->rows;
    head[2 + 3 * i] = ms[i]->cols;
    head[3 + 3 * i] = (uint64_t)ms[i]->dtype;
  }
  if (me != 0) {
    int bad = c->send(c->ctx, head, sizeof(uint64_t), 0) != 0 ||
              c->send(c->ctx, head + 1, (size_t)(3 * n) * sizeof(uint64_t), 0) != 0;
    for (lua_Integer i = 0; !bad && i < n; i++) {
      size_t bytes = ms[i]->rows * ms[i]->cols * gk_dtype_size(ms[i]->dtype);
      if (bytes) bad = c->send(c->ctx, ms[i]->data, bytes, 0) != 0;
    }
    if (bad) return luaL_error(L, "gk.mpi.gather: communication failed (send to rank 0)");
    lua_pushnil(L);
    return 1;
  }
  /* Rank 0: its own matrices (the same objects), then the others' in rank order. */
  lua_newtable(L);
  int out = lua_gettop(L);
  lua_Integer k = 0;
  for (lua_Integer i = 0; i < n; i++) {
    if (single) lua_pushvalue(L, 1);
    else lua_geti(L, 1, i + 1);
    lua_rawseti(L, out, ++k);
  }
  for (int r = 1; r < p; r++) {
    uint64_t cnt = 0;
    if (c->recv(c->ctx, &cnt, sizeof cnt, r) != 0) return luaL_error(L, "gk.mpi.gather: communication failed (rank %d)", r);
    if (cnt > (uint64_t)INT_MAX) return luaL_error(L, "gk.mpi.gather: rank %d announced %d matrices", r, (int)cnt);
    uint64_t *h = lua_newuserdatauv(L, (size_t)(cnt ? 3 * cnt : 1) * sizeof(uint64_t), 0);
    if (cnt && c->recv(c->ctx, h, (size_t)(3 * cnt) * sizeof(uint64_t), r) != 0)
      return luaL_error(L, "gk.mpi.gather: communication failed (rank %d)", r);
    for (uint64_t i = 0; i < cnt; i++) {
      gk_matrix *m = gkL_newmatrix(L, (size_t)h[3 * i], (size_t)h[3 * i + 1], (gk_dtype)h[3 * i + 2]);
      size_t bytes = m->rows * m->cols * gk_dtype_size(m->dtype);
      if (bytes && c->recv(c->ctx, m->data, bytes, r) != 0)
        return luaL_error(L, "gk.mpi.gather: communication failed (rank %d)", r);
      lua_rawseti(L, out, ++k);
    }
    lua_pop(L, 1);
  }
  lua_settop(L, out);
  return 1;
}

static const gkL_Reg funcs[] = {
  {"rank", m_rank,
   "gk.mpi.rank() -> integer\n"
   "This process's rank, 0 .. size() - 1 (0 without MPI)."},
  {"size", m_size,
   "gk.mpi.size() -> integer\n"
   "The number of processes of the job: N under `mpirun -np N gmmkit script.lua` with a host built "
   "with MPI, 1 otherwise (a stock lua5.4 with the module, a host without MPI or without a launcher)."},
  {"barrier", m_barrier,
   "gk.mpi.barrier()\n"
   "Waits until every rank has called it (nothing to wait for with one process)."},
  {"info", m_info,
   "gk.mpi.info() -> {built=, running=, rank=, size=, thread_level=, host=, library=}\n"
   "Whether this executable was built with MPI and MPI is running, the rank and size, the thread "
   "level granted, this rank's host name and the MPI library."},
  {"allreduce", m_allreduce,
   "gk.mpi.allreduce(x) -> same type as x\n"
   "The sum over the ranks of x, a number, a gmmkit.Stats (sufficient statistics, merged) or a float64 "
   "gmmkit.Matrix, as a new value, the same bits on every rank: rank 0 adds the ranks' values in rank "
   "order (0, 1, 2, ...) and broadcasts the sum, so a run repeated with the same ranks repeats it. Every "
   "rank must call it with the same shape (a clear error on all ranks otherwise). With one process: a copy."},
  {"deal", m_deal,
   "gk.mpi.deal(list[, {rank=gk.mpi.rank(), size=gk.mpi.size()}]) -> sublist, first\n"
   "This rank's share of a list (of file names, say): the contiguous run of items n*rank/size+1 .. "
   "n*(rank+1)/size (integer division), and the list index of its first item. Concatenated in rank "
   "order the shares are the list itself, so training on the shares gives the model of one process "
   "on the whole list. Sort the list first (gk.audio.list does) so that every rank deals the same one."},
  {"gather", m_gather,
   "gk.mpi.gather(matrices) -> list | nil\n"
   "Rank 0 receives every rank's matrices (a Matrix or a list of them) concatenated in rank order, "
   "its own first; the other ranks get nil. Nothing is gathered unless asked for: features extracted "
   "on each rank stay there for training."},
  {NULL, NULL, NULL}
};

int gkL_open_mpi(lua_State *L) {
  lua_newtable(L);
  gkL_setfuncs(L, funcs);
  return 1;
}
