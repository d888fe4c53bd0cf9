/* The Lua submodules of gmmkit.core: GKL_MODULE(x) -> gk.x, opened by gkL_open_x in l_x.c. */
GKL_MODULE(matrix)
GKL_MODULE(gmm)
GKL_MODULE(audio)
GKL_MODULE(mfcc)
GKL_MODULE(features)
GKL_MODULE(simplify)
GKL_MODULE(mpi)
GKL_MODULE(eval)
