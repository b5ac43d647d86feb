// The reset-before GRU's fused time-loop steps (recurrent_reset_before.h) in three builds
// (AVX-512, AVX2/FMA and baseline, from gru_reset_before_kernels.h) and the run-time choice
// between them (rk_cpu_isa). The products are the packed ones of recurrent_gemm.c; the baseline
// build has a plain loop over the same packed panels.
// B = rows, H = hidden size.
#include "recurrent_reset_before.h"
#include "recurrent_gemm.h"
#include "isa_builds.h"
#include <string.h>

/// C (m × n) (+)= A (m × k) · packed op(B) (rk_pack_b's panels), one multiply-add at a time.
static void rk_rb_gemm_portable(int m, int n, int k, const float *a, int lda, const float *packed, float *c, int ldc,
                                int accumulate) {
    for (int col = 0; col < n; col += RK_PANEL) {
        const float *panel = packed + (size_t)col * k;
        int width = n - col < RK_PANEL ? n - col : RK_PANEL;
        for (int row = 0; row < m; row++) {
            float acc[RK_PANEL] = {0};
            for (int kk = 0; kk < k; kk++) {
                float x = a[(size_t)row * lda + kk];
                for (int j = 0; j < RK_PANEL; j++) acc[j] += x * panel[(size_t)kk * RK_PANEL + j];
            }
            float *o = c + (size_t)row * ldc + col;
            for (int j = 0; j < width; j++) o[j] = accumulate ? o[j] + acc[j] : acc[j];
        }
    }
}

#define RK(name) name##_portable
#define VF rk_f4
#define VI rk_i4
#define LANES 4
#define RK_RB_GEMM rk_rb_gemm_portable
#include "gru_reset_before_kernels.h"
#undef RK
#undef VF
#undef VI
#undef LANES
#undef RK_RB_GEMM

#if defined(__x86_64__) || defined(__i386__)
#include "gemm_block.h"

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define RK(name) name##_avx2
#define VF rk_f8
#define VI rk_i8
#define LANES 8
#define RK_RB_GEMM rk_gemm_packed_avx2
#include "gru_reset_before_kernels.h"
#undef RK
#undef VF
#undef VI
#undef LANES
#undef RK_RB_GEMM
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma"))), apply_to = function)
#define RK(name) name##_avx512
#define VF rk_f16
#define VI rk_i16
#define LANES 16
#define RK_RB_GEMM rk_gemm_packed_avx512
#include "gru_reset_before_kernels.h"
#undef RK
#undef VF
#undef VI
#undef LANES
#undef RK_RB_GEMM
#pragma clang attribute pop

#endif

RK_DISPATCH(rk_reset_before_forward_step, rk_reset_before_forward)
RK_DISPATCH(rk_reset_before_backward_step, rk_reset_before_backward)
