/*
 * faults.c: allocation-failure injection for the host (see faults.h and gmmkit/alloc.h).
 */
#define GMMKIT_FAULT_NO_MACROS /* this file calls the real realloc and free */
#include "faults.h"

#include <stdio.h>
#include <stdlib.h>
#include <lauxlib.h>
#include "gmmkit/alloc.h"

#ifdef GMMKIT_FAULT_INJECTION

/* lua_Alloc of luaL_newstate with the fault counter in front of every request that needs
 * new memory. Shrinking never fails: Lua may assume it does not (lua_Alloc contract). */
static void *fault_lalloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  if ((ptr == NULL || nsize > osize) && gk_fault_hit()) return NULL;
  return realloc(ptr, nsize);
}

/* faults.try(n, f, ...): see faults.h. The counter is disarmed in C before anything else
 * runs, so that the caller's own next allocation succeeds. */
static int f_try(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  luaL_argcheck(L, n >= 1, 1, "allocation number must be >= 1");
  luaL_checktype(L, 2, LUA_TFUNCTION);
  int nargs = lua_gettop(L) - 2;
  luaL_checkstack(L, 8, NULL);
  gk_fault_arm((long)n);
  int status = lua_pcall(L, nargs, 1, 0);
  long count = gk_fault_count();
  gk_fault_arm(0);
  lua_pushboolean(L, status == LUA_OK);
  lua_insert(L, -2);
  lua_pushinteger(L, count);
  lua_pushboolean(L, count >= n);
  return 4;
}

static int f_open(lua_State *L) {
  static const luaL_Reg fns[] = {{"try", f_try}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}

void gkh_faults_install(lua_State *L) {
  lua_setallocf(L, fault_lalloc, NULL);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, f_open);
  lua_setfield(L, -2, "gmmkit.faults");
  lua_pop(L, 1);
  const char *e = getenv("GMMKIT_FAIL_ALLOC");
  if (e && *e) gk_fault_arm(atol(e));
}

#else

void gkh_faults_install(lua_State *L) {
  (void)L;
  const char *e = getenv("GMMKIT_FAIL_ALLOC");
  if (e && *e)
    fprintf(stderr, "gmmkit: GMMKIT_FAIL_ALLOC is ignored: this build lacks -DGMMKIT_FAULT_INJECTION\n");
}

#endif
