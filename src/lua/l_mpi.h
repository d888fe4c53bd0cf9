/*
 * l_mpi.h: what the MPI binding shares with the other bindings: the communicator of the
 * running job. Only src/lua/ and src/host/ include it.
 */
#ifndef GMMKIT_L_MPI_H
#define GMMKIT_L_MPI_H

#include "gkl.h"
#include "gmmkit/comm.h"

/* The communicator over all ranks of the job (MPI_COMM_WORLD) when this executable was
 * built with MPI, MPI is initialised and running with more than one rank; NULL (one
 * process) otherwise. Immutable; valid until MPI is finalised. */
const gk_comm *gkL_comm(lua_State *L);

#endif
