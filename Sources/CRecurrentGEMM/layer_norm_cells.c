// Layer-normalised LSTM and GRU cell steps (recurrent_layer_norm_cells.h) in three builds (AVX-512,
// AVX2/FMA and baseline, from layer_norm_cell_kernels.h) and the run-time choice between them
// (rk_cpu_isa). B = rows, H = hidden size.
#include "recurrent_layer_norm_cells.h"
#include "recurrent_cells.h"
#include "isa_builds.h"
#include <math.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

// The builds' half-width float and double vectors, beside isa_builds.h's (the norms' sums in double).
typedef float rk_h2 __attribute__((vector_size(8)));
typedef double rk_d2 __attribute__((vector_size(16)));
typedef float rk_h4 __attribute__((vector_size(16)));
typedef double rk_d4 __attribute__((vector_size(32)));
typedef float rk_h8 __attribute__((vector_size(32)));
typedef double rk_d8 __attribute__((vector_size(64)));

#define RK(name) name##_portable
#define VF rk_f4
#define VI rk_i4
#define LANES 4
#define VD rk_d2
#define VH rk_h2
#define DL 2
#include "layer_norm_cell_kernels.h"
#undef RK
#undef VF
#undef VI
#undef LANES
#undef VD
#undef VH
#undef DL

#if defined(__x86_64__) || defined(__i386__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define RK(name) name##_avx2
#define VF rk_f8
#define VI rk_i8
#define LANES 8
#define VD rk_d4
#define VH rk_h4
#define DL 4
#include "layer_norm_cell_kernels.h"
#undef RK
#undef VF
#undef VI
#undef LANES
#undef VD
#undef VH
#undef DL
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma"))), apply_to = function)
#define RK(name) name##_avx512
#define VF rk_f16
#define VI rk_i16
#define LANES 16
#define VD rk_d8
#define VH rk_h8
#define DL 8
#include "layer_norm_cell_kernels.h"
#undef RK
#undef VF
#undef VI
#undef LANES
#undef VD
#undef VH
#undef DL
#pragma clang attribute pop
#endif

void rk_layer_norm_cell_forward_build(int isa, int cell, const rk_layer_norm_forward *s) {
    if (isa > rk_cpu_isa()) isa = rk_cpu_isa();
#if defined(__x86_64__) || defined(__i386__)
    if (isa >= RK_ISA_AVX512) { rk_layer_norm_cell_forward_avx512(cell, s); return; }
    if (isa >= RK_ISA_AVX2) { rk_layer_norm_cell_forward_avx2(cell, s); return; }
#endif
    rk_layer_norm_cell_forward_portable(cell, s);
}

void rk_layer_norm_cell_backward_build(int isa, int cell, const rk_layer_norm_backward *s) {
    if (isa > rk_cpu_isa()) isa = rk_cpu_isa();
#if defined(__x86_64__) || defined(__i386__)
    if (isa >= RK_ISA_AVX512) { rk_layer_norm_cell_backward_avx512(cell, s); return; }
    if (isa >= RK_ISA_AVX2) { rk_layer_norm_cell_backward_avx2(cell, s); return; }
#endif
    rk_layer_norm_cell_backward_portable(cell, s);
}

void rk_layer_norm_cell_forward(int cell, const rk_layer_norm_forward *s) {
    rk_layer_norm_cell_forward_build(rk_cpu_isa(), cell, s);
}

void rk_layer_norm_cell_backward(int cell, const rk_layer_norm_backward *s) {
    rk_layer_norm_cell_backward_build(rk_cpu_isa(), cell, s);
}
