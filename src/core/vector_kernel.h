/*
 * vector_kernel.h (internal to src/core): GK_VECTOR_KERNEL marks a hot loop's function for
 * a per-CPU clone, AVX2 where the CPU has it, chosen at load time (GCC ifunc). The clones
 * give the same results: ISO C allows no contraction into FMA, and the loops that reduce
 * (`omp simd reduction`) fix their lanes' order at compile time, the same in every run.
 */
#ifndef GMMKIT_VECTOR_KERNEL_H
#define GMMKIT_VECTOR_KERNEL_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define GK_VECTOR_KERNEL __attribute__((target_clones("avx2", "default")))
#else
#define GK_VECTOR_KERNEL
#endif

/* GK_KERNEL_PART marks a helper that GK_VECTOR_KERNEL functions share: always inlined, so
 * that each clone compiles it for its own CPU (a call would run the default build). */
#if defined(__GNUC__)
#define GK_KERNEL_PART static inline __attribute__((always_inline))
#else
#define GK_KERNEL_PART static inline
#endif

#endif
