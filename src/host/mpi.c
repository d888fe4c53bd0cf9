/*
 * mpi.c: MPI in the host. When a launcher started the process (`mpirun -np N gmmkit
 * script.lua`, srun, mpiexec), main() initialises MPI before the Lua state exists, with
 * MPI_THREAD_FUNNELED (only the main thread calls MPI; gmmkit's OpenMP workers never
 * do), and finalises it at exit. A rank that fails ends the whole job: its message is
 * printed as "gmmkit: rank R: <error>" and MPI_Abort stops the other ranks, which may be
 * waiting for it in a collective operation. Why the loadable module does not do this
 * itself: see src/lua/l_mpi.c.
 *
 * A launcher is recognised by the variables it sets for its processes (Open MPI's
 * OMPI_COMM_WORLD_SIZE, PMIx's PMIX_RANK, the PMI_RANK of MPICH, Intel MPI and Slurm's
 * PMI-2). GMMKIT_MPI=1 initialises MPI without one (a singleton), GMMKIT_MPI=0 never.
 * A host built without MPI (CMake option GMMKIT_MPI off) compiles the stubs at the end.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "mpi_host.h"

#ifdef GK_HAVE_MPI
#include <mpi.h>

static int launched(void) {
  static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", NULL};
  for (int i = 0; vars[i]; i++) {
    const char *v = getenv(vars[i]);
    if (v && *v) return 1;
  }
  return 0;
}

static int running(void) {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  if (init) MPI_Finalized(&fin);
  return init && !fin;
}

void gkh_mpi_init(int *argc, char ***argv) {
  const char *force = getenv("GMMKIT_MPI");
  int want = launched();
  if (force && *force) want = strcmp(force, "0") != 0;
  if (!want) return;
  int provided = MPI_THREAD_SINGLE;
  if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    fprintf(stderr, "%s: cannot initialise MPI\n", GKH_PROGNAME);
    exit(EXIT_FAILURE);
  }
  /* Communication errors end the job (MPI's default, stated): the other ranks would
   * otherwise wait forever in the next collective operation. */
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
  if (provided < MPI_THREAD_FUNNELED) {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0)
      fprintf(stderr, "%s: warning: the MPI library grants no thread support (MPI_THREAD_FUNNELED asked); "
              "set GMMKIT_THREADS=1\n", GKH_PROGNAME);
  }
}

int gkh_mpi_rank(void) {
  int rank = 0;
  if (!running()) return -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

void gkh_mpi_exit(int ok, int status) {
  int size = 1;
  if (!running()) return;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  fflush(stdout);
  fflush(stderr);
  if (!ok && size > 1) MPI_Abort(MPI_COMM_WORLD, status ? status : 1);
  MPI_Finalize();
}
#else
void gkh_mpi_init(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
}

int gkh_mpi_rank(void) { return -1; }

void gkh_mpi_exit(int ok, int status) {
  (void)ok;
  (void)status;
}
#endif
