/*
 * faults.h: allocation-failure injection in the host (test builds only).
 *
 * In a build with -DGMMKIT_FAULT_INJECTION (gmmkit/alloc.h), gkh_faults_install makes
 * the Lua state allocate through a counting allocator that fails from the n-th
 * allocation on, sharing the core's counter, and preloads the module `gmmkit.faults`:
 *   faults.try(n, f, ...) -> ok, result_or_error, allocations, failed
 *     arms the counter so that the n-th allocation from now (Lua's or the core's) and
 *     every later one fail, calls f(...) in protected mode, disarms, and returns what
 *     pcall returned (the first result only), the number of allocations counted and
 *     whether any of them was refused. A sweep calls it for n = 1, 2, ... until `failed`
 *     is false: every allocation point of f has then failed once.
 * The environment variable GMMKIT_FAIL_ALLOC=n arms the counter for the whole run.
 * In other builds gkh_faults_install does nothing but warn when GMMKIT_FAIL_ALLOC is set.
 */
#ifndef GMMKIT_HOST_FAULTS_H
#define GMMKIT_HOST_FAULTS_H

#include <lua.h>

/* Call right after the state is created, before anything is loaded into it. */
void gkh_faults_install(lua_State *L);

#endif
