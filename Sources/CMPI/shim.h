// MPI for Swift (Debian: libopenmpi-dev). Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, …) are
// macros over global structs that Swift cannot import, so the calls RecurrentDistributed needs
// are wrapped here. Every function returns the MPI error code (MPI_SUCCESS = 0).
#pragma once
#include <mpi.h>

static inline int rk_mpi_init(void) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized) return MPI_SUCCESS;
    int status = MPI_Init(NULL, NULL);
    // Errors come back as codes (and become Swift errors) instead of aborting inside MPI.
    if (status == MPI_SUCCESS) MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    return status;
}
static inline int rk_mpi_finalize(void) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    return finalized ? MPI_SUCCESS : MPI_Finalize();
}
static inline int rk_mpi_rank(int *rank) { return MPI_Comm_rank(MPI_COMM_WORLD, rank); }
static inline int rk_mpi_size(int *size) { return MPI_Comm_size(MPI_COMM_WORLD, size); }
static inline int rk_mpi_allreduce_sum_float(float *values, int count) {
    return MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}
static inline int rk_mpi_allreduce_sum_double(double *values, int count) {
    return MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}
static inline int rk_mpi_broadcast_float(float *values, int count, int root) {
    return MPI_Bcast(values, count, MPI_FLOAT, root, MPI_COMM_WORLD);
}
static inline int rk_mpi_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }
static inline void rk_mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }
static inline void rk_mpi_error_string(int code, char *text, int *length) { MPI_Error_string(code, text, length); }
