/*
 * mpi_host.h: MPI in the host (src/host/mpi.c; no-ops in a host built without MPI).
 */
#ifndef GMMKIT_HOST_MPI_HOST_H
#define GMMKIT_HOST_MPI_HOST_H

/* gkh_mpi_init initialises MPI when a launcher started the process (or GMMKIT_MPI=1).
 * gkh_mpi_rank is this rank, or -1 when MPI is not running. gkh_mpi_exit ends MPI before
 * the process exits: with `ok` zero and more than one rank, MPI_Abort ends the whole job
 * with exit status `status`; otherwise MPI_Finalize. */
void gkh_mpi_init(int *argc, char ***argv);
int gkh_mpi_rank(void);
void gkh_mpi_exit(int ok, int status);

#endif
