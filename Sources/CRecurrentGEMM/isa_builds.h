// What the C files that compile a kernel header once per build share: the builds' vector types
// (GCC/Clang vector extensions: 4 floats for the baseline ISA, 8 for AVX2/FMA, 16 for AVX-512)
// and RK_DISPATCH(name, type), the function `void name(const type *)` that calls name_avx512,
// name_avx2 or name_portable as rk_cpu_isa() says (only the portable build off x86).
#pragma once
#include "recurrent_gemm.h"

typedef float rk_f4 __attribute__((vector_size(16)));
typedef int rk_i4 __attribute__((vector_size(16)));
typedef float rk_f8 __attribute__((vector_size(32)));
typedef int rk_i8 __attribute__((vector_size(32)));
typedef float rk_f16 __attribute__((vector_size(64)));
typedef int rk_i16 __attribute__((vector_size(64)));

#if defined(__x86_64__) || defined(__i386__)
#define RK_DISPATCH(name, type)                                                                    \
    void name(const type *s) {                                                                     \
        int isa = rk_cpu_isa();                                                                    \
        if (isa >= RK_ISA_AVX512) name##_avx512(s);                                                \
        else if (isa >= RK_ISA_AVX2) name##_avx2(s);                                               \
        else name##_portable(s);                                                                   \
    }
#else
#define RK_DISPATCH(name, type) \
    void name(const type *s) { name##_portable(s); }
#endif
