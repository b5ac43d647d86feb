// Cell kernels in three builds (AVX-512, AVX2/FMA and baseline, from cell_kernels.h), the run-time
// choice between them (rk_cpu_isa), and the fused time-loop steps: the cell step applied to each
// tile of the recurrent product while it is in L1, forward and backward, in an AVX-512 and an
// AVX2 build (from step_kernels.h).
// B = rows, H = hidden size, G = gates, K = width of h_{t-1}.
#include "recurrent_cells.h"
#include "recurrent_gemm.h"
#include "isa_builds.h"
#include <string.h>

#define RK(name) name##_portable
#define VF rk_f4
#define VI rk_i4
#define LANES 4
#include "cell_kernels.h"
#undef RK
#undef VF
#undef VI
#undef LANES

#if defined(__x86_64__) || defined(__i386__)
#include "gemm_block.h"

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define RK(name) name##_avx2
#define VF rk_f8
#define VI rk_i8
#define LANES 8
#include "cell_kernels.h"
#undef RK
#undef VF
#undef VI
#undef LANES
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma"))), apply_to = function)
#define RK(name) name##_avx512
#define VF rk_f16
#define VI rk_i16
#define LANES 16
#include "cell_kernels.h"
#undef RK
#undef VF
#undef VI
#undef LANES
#pragma clang attribute pop

#endif

RK_DISPATCH(rk_lstm_forward, rk_cell_forward)
RK_DISPATCH(rk_gru_forward, rk_cell_forward)
RK_DISPATCH(rk_rnn_forward, rk_cell_forward)
RK_DISPATCH(rk_lstm_backward, rk_cell_backward)
RK_DISPATCH(rk_gru_backward, rk_cell_backward)
RK_DISPATCH(rk_rnn_backward, rk_cell_backward)

void rk_sum_columns(float *out, const float *x, long rows, int ldx, int columns) {
#if defined(__x86_64__) || defined(__i386__)
    int isa = rk_cpu_isa();
    if (isa >= RK_ISA_AVX512) rk_sum_columns_avx512(out, x, rows, ldx, columns);
    else if (isa >= RK_ISA_AVX2) rk_sum_columns_avx2(out, x, rows, ldx, columns);
    else rk_sum_columns_portable(out, x, rows, ldx, columns);
#else
    rk_sum_columns_portable(out, x, rows, ldx, columns);
#endif
}

static int rk_panels(int n) { return (n + RK_PANEL - 1) / RK_PANEL; }

size_t rk_gate_packed_size(int k, int gates, int hidden) {
    return (size_t)gates * rk_packed_size(k, hidden);
}

void rk_pack_gates(float *packed, const float *weight_hh, int k, int gates, int hidden) {
    // Gate g's rows of W_hh are op(B)'s columns g·H ..< (g+1)·H, transposed.
    for (int g = 0; g < gates; g++) {
        rk_pack_b(packed + (size_t)g * rk_packed_size(k, hidden), weight_hh + (size_t)g * hidden * k, k, hidden, k, 1);
    }
}

#if defined(__x86_64__) || defined(__i386__)
#define RK(name) name##_avx2
#define RK_STEP_TARGET RK_TARGET
#define RK_STEP_ROWS 6
#define RK_STEP_PANELS 1
#define RK_STEP_BLOCK(rows, k, a, lda, panel, next, out, ldo) rk_block_rows(rows, k, a, lda, panel, out, ldo, 0)
#define RK_STEP_GEMM rk_gemm_packed_avx2
#include "step_kernels.h"
#undef RK
#undef RK_STEP_TARGET
#undef RK_STEP_ROWS
#undef RK_STEP_PANELS
#undef RK_STEP_BLOCK
#undef RK_STEP_GEMM

#define RK(name) name##_avx512
#define RK_STEP_TARGET RK_TARGET512
#define RK_STEP_ROWS RK_ROWS512
#define RK_STEP_PANELS 2
#define RK_STEP_BLOCK(rows, k, a, lda, panel, next, out, ldo) rk_block512_rows(rows, k, a, lda, panel, next, out, ldo, 0)
#define RK_STEP_GEMM rk_gemm_packed_avx512
#include "step_kernels.h"
#undef RK
#undef RK_STEP_TARGET
#undef RK_STEP_ROWS
#undef RK_STEP_PANELS
#undef RK_STEP_BLOCK
#undef RK_STEP_GEMM

void rk_forward_step(int cell, const rk_cell_forward *step, const float *previous_hidden, int k, const float *packed_hh,
                     const float *input, int input_k, const float *packed_ih, const float *mask, float *masked) {
    rk_forward_step_units(cell, step, previous_hidden, k, packed_hh, input, input_k, packed_ih, mask, masked, 0, step->hidden);
}

void rk_forward_step_units(int cell, const rk_cell_forward *step, const float *previous_hidden, int k, const float *packed_hh,
                           const float *input, int input_k, const float *packed_ih, const float *mask, float *masked,
                           int first_unit, int end_unit) {
    if (first_unit >= end_unit) return;
    if (rk_cpu_isa() >= RK_ISA_AVX512)
        rk_forward_step_avx512(cell, step, previous_hidden, k, packed_hh, input, input_k, packed_ih, mask, masked,
                               first_unit, end_unit);
    else rk_forward_step_avx2(cell, step, previous_hidden, k, packed_hh, input, input_k, packed_ih, mask, masked,
                              first_unit, end_unit);
}

void rk_backward_step(int cell, const rk_cell_backward *step, const float *packed_hh, int k, float *grad_previous,
                      const float *mask, float *masked_product) {
    if (rk_cpu_isa() >= RK_ISA_AVX512) rk_backward_step_avx512(cell, step, packed_hh, k, grad_previous, mask, masked_product);
    else rk_backward_step_avx2(cell, step, packed_hh, k, grad_previous, mask, masked_product);
}
#else
void rk_forward_step(int cell, const rk_cell_forward *step, const float *previous_hidden, int k, const float *packed_hh,
                     const float *input, int input_k, const float *packed_ih, const float *mask, float *masked) {
    (void)cell; (void)step; (void)previous_hidden; (void)k; (void)packed_hh; (void)input; (void)input_k; (void)packed_ih;
    (void)mask; (void)masked;
}
void rk_forward_step_units(int cell, const rk_cell_forward *step, const float *previous_hidden, int k, const float *packed_hh,
                           const float *input, int input_k, const float *packed_ih, const float *mask, float *masked,
                           int first_unit, int end_unit) {
    (void)cell; (void)step; (void)previous_hidden; (void)k; (void)packed_hh; (void)input; (void)input_k; (void)packed_ih;
    (void)mask; (void)masked; (void)first_unit; (void)end_unit;
}
void rk_backward_step(int cell, const rk_cell_backward *step, const float *packed_hh, int k, float *grad_previous,
                      const float *mask, float *masked_product) {
    (void)cell; (void)step; (void)packed_hh; (void)k; (void)grad_previous; (void)mask; (void)masked_product;
}
#endif
