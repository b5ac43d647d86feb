// Layer normalisation of rows (recurrent_layer_norm.h) in three builds (AVX-512, AVX2 and baseline,
// from layer_norm_kernels.h) and the run-time choice between them (rk_cpu_isa).
// R = rows, W = width.
#include "recurrent_layer_norm.h"
#include "recurrent_gemm.h"
#include <math.h>
#include <string.h>

typedef float rk_h2 __attribute__((vector_size(8)));
typedef double rk_d2 __attribute__((vector_size(16)));
typedef float rk_h4 __attribute__((vector_size(16)));
typedef double rk_d4 __attribute__((vector_size(32)));
typedef float rk_h8 __attribute__((vector_size(32)));
typedef double rk_d8 __attribute__((vector_size(64)));

#define RK(name) name##_portable
#define VD rk_d2
#define VH rk_h2
#define DL 2
#include "layer_norm_kernels.h"
#undef RK
#undef VD
#undef VH
#undef DL

#if defined(__x86_64__) || defined(__i386__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define RK(name) name##_avx2
#define VD rk_d4
#define VH rk_h4
#define DL 4
#include "layer_norm_kernels.h"
#undef RK
#undef VD
#undef VH
#undef DL
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma"))), apply_to = function)
#define RK(name) name##_avx512
#define VD rk_d8
#define VH rk_h8
#define DL 8
#include "layer_norm_kernels.h"
#undef RK
#undef VD
#undef VH
#undef DL
#pragma clang attribute pop
#endif

void rk_layer_norm_rows_build(int isa, float *normalized, float *inverse, float *y, const float *x, const float *gain,
                              const float *bias, long rows, int w) {
    if (isa > rk_cpu_isa()) isa = rk_cpu_isa();
#if defined(__x86_64__) || defined(__i386__)
    if (isa >= RK_ISA_AVX512) { rk_layer_norm_rows_avx512(normalized, inverse, y, x, gain, bias, rows, w); return; }
    if (isa >= RK_ISA_AVX2) { rk_layer_norm_rows_avx2(normalized, inverse, y, x, gain, bias, rows, w); return; }
#endif
    rk_layer_norm_rows_portable(normalized, inverse, y, x, gain, bias, rows, w);
}

void rk_layer_norm_rows_backward_build(int isa, float *dx, const float *dy, const float *normalized, const float *gain,
                                       const float *inverse, long rows, int w) {
    if (isa > rk_cpu_isa()) isa = rk_cpu_isa();
#if defined(__x86_64__) || defined(__i386__)
    if (isa >= RK_ISA_AVX512) { rk_layer_norm_rows_backward_avx512(dx, dy, normalized, gain, inverse, rows, w); return; }
    if (isa >= RK_ISA_AVX2) { rk_layer_norm_rows_backward_avx2(dx, dy, normalized, gain, inverse, rows, w); return; }
#endif
    rk_layer_norm_rows_backward_portable(dx, dy, normalized, gain, inverse, rows, w);
}

void rk_layer_norm_rows(float *normalized, float *inverse, float *y, const float *x, const float *gain, const float *bias,
                        long rows, int w) {
    rk_layer_norm_rows_build(rk_cpu_isa(), normalized, inverse, y, x, gain, bias, rows, w);
}

void rk_layer_norm_rows_backward(float *dx, const float *dy, const float *normalized, const float *gain,
                                 const float *inverse, long rows, int w) {
    rk_layer_norm_rows_backward_build(rk_cpu_isa(), dx, dy, normalized, gain, inverse, rows, w);
}
