// Cell kernels in three builds (AVX-512, AVX2/FMA and baseline, from cell_kernels.h), the run-time
// choice between them (rk_cpu_isa), and the fused time-loop steps: the cell step applied to each
// tile of the recurrent product while it is in L1, forward and backward, in an AVX-512 and an
// AVX2 build.
// B = rows, H = hidden size, G = gates, K = width of h_{t-1}.
#include "recurrent_cells.h"
#include "recurrent_gemm.h"
#include <string.h>

typedef float rk_f4 __attribute__((vector_size(16)));
typedef int rk_i4 __attribute__((vector_size(16)));
typedef float rk_f8 __attribute__((vector_size(32)));
typedef int rk_i8 __attribute__((vector_size(32)));
typedef float rk_f16 __attribute__((vector_size(64)));
typedef int rk_i16 __attribute__((vector_size(64)));

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

RK_DISPATCH(rk_lstm_forward, rk_cell_forward)
RK_DISPATCH(rk_gru_forward, rk_cell_forward)
RK_DISPATCH(rk_rnn_forward, rk_cell_forward)
RK_DISPATCH(rk_lstm_backward, rk_cell_backward)
RK_DISPATCH(rk_gru_backward, rk_cell_backward)
RK_DISPATCH(rk_rnn_backward, rk_cell_backward)

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
/// Rows of a product tile.
#define RK_TILE_ROWS 6

static RK_TARGET void rk_forward_step_avx2(int cell, const rk_cell_forward *step, const float *previous_hidden, int k,
                                           const float *packed_hh) {
    int h = step->hidden, gates = step->gate_row / h, per_gate = rk_panels(h);
    size_t gate_panels = rk_packed_size(k, h);
    // scratch[g][row][16]: the tile of h_{t-1} W_hhᵀ for gate g.
    float scratch[4 * RK_TILE_ROWS * RK_PANEL];
    for (int c = 0; c < per_gate; c++) {
        int col = c * RK_PANEL, width = h - col < RK_PANEL ? h - col : RK_PANEL;
        for (int r = 0; r < step->rows; r += RK_TILE_ROWS) {
            int rows = step->rows - r < RK_TILE_ROWS ? step->rows - r : RK_TILE_ROWS;
            if (previous_hidden) {
                for (int g = 0; g < gates; g++) {
                    rk_block_rows(rows, k, previous_hidden + (size_t)r * k, k, packed_hh + g * gate_panels + (size_t)c * k * RK_PANEL,
                                  scratch + g * RK_TILE_ROWS * RK_PANEL, RK_PANEL, 0);
                }
            }
            size_t state = (size_t)r * step->state_row + col;
            rk_cell_forward tile = *step;
            tile.rows = rows;
            tile.columns = width;
            tile.gates = step->gates + (size_t)r * step->gate_row + col;
            tile.product = previous_hidden ? scratch : NULL;
            tile.product_gate = RK_TILE_ROWS * RK_PANEL;
            tile.product_row = RK_PANEL;
            tile.bias_ih = step->bias_ih + col;
            tile.bias_hh = step->bias_hh + col;
            tile.previous = step->previous ? step->previous + state : NULL;
            tile.state = step->state ? step->state + state : NULL;
            tile.hidden_out = step->hidden_out + state;
            switch (cell) {
            case RK_CELL_LSTM: rk_lstm_forward_avx2(&tile); break;
            case RK_CELL_GRU: rk_gru_forward_avx2(&tile); break;
            default: rk_rnn_forward_avx2(&tile); break;
            }
        }
    }
}

static RK_TARGET void rk_backward_step_avx2(int cell, const rk_cell_backward *step, const float *packed_hh, int k,
                                            float *grad_previous) {
    int gh = step->gate_row;
    for (int r = 0; r < step->rows; r += RK_TILE_ROWS) {
        int rows = step->rows - r < RK_TILE_ROWS ? step->rows - r : RK_TILE_ROWS;
        size_t state = (size_t)r * step->state_row;
        rk_cell_backward tile = *step;
        tile.rows = rows;
        tile.gates = step->gates + (size_t)r * gh;
        tile.state = step->state ? step->state + state : NULL;
        tile.previous = step->previous ? step->previous + state : NULL;
        tile.grad_output = step->grad_output ? step->grad_output + state : NULL;
        tile.grad_hidden = step->grad_hidden + state;
        tile.grad_cell = step->grad_cell ? step->grad_cell + state : NULL;
        tile.grad_gates = step->grad_gates + (size_t)r * gh;
        tile.grad_gates_hidden = step->grad_gates_hidden ? step->grad_gates_hidden + (size_t)r * gh : NULL;
        switch (cell) {
        case RK_CELL_LSTM: rk_lstm_backward_avx2(&tile); break;
        case RK_CELL_GRU: rk_gru_backward_avx2(&tile); break;
        default: rk_rnn_backward_avx2(&tile); break;
        }
        if (packed_hh) {
            // dh_{t-1} (rows, K) (+)= dG (rows, G·H) · W_hh (G·H, K), dG still in L1.
            const float *dg = cell == RK_CELL_GRU ? tile.grad_gates_hidden : tile.grad_gates;
            rk_gemm_packed_avx2(rows, k, gh, dg, gh, packed_hh, grad_previous + (size_t)r * k, k, cell == RK_CELL_GRU);
        }
    }
}

// The AVX-512 steps: tiles of 8 rows × 32 units (two panels of every gate), 16-lane cell kernels.
static RK_TARGET512 void rk_forward_step_avx512(int cell, const rk_cell_forward *step, const float *previous_hidden, int k,
                                               const float *packed_hh) {
    int h = step->hidden, gates = step->gate_row / h, per_gate = rk_panels(h);
    size_t gate_panels = rk_packed_size(k, h);
    // scratch[g][row][32]: the tile of h_{t-1} W_hhᵀ for gate g.
    float scratch[4 * RK_ROWS512 * 2 * RK_PANEL];
    for (int c = 0; c < per_gate; c += 2) {
        int wide = c + 1 < per_gate;
        int col = c * RK_PANEL, span = (wide ? 2 : 1) * RK_PANEL, width = h - col < span ? h - col : span;
        for (int r = 0; r < step->rows; r += RK_ROWS512) {
            int rows = step->rows - r < RK_ROWS512 ? step->rows - r : RK_ROWS512;
            if (previous_hidden) {
                for (int g = 0; g < gates; g++) {
                    const float *panel = packed_hh + g * gate_panels + (size_t)c * k * RK_PANEL;
                    rk_block512_rows(rows, k, previous_hidden + (size_t)r * k, k, panel, wide ? panel + (size_t)k * RK_PANEL : NULL,
                                     scratch + g * RK_ROWS512 * 2 * RK_PANEL, 2 * RK_PANEL, 0);
                }
            }
            size_t state = (size_t)r * step->state_row + col;
            rk_cell_forward tile = *step;
            tile.rows = rows;
            tile.columns = width;
            tile.gates = step->gates + (size_t)r * step->gate_row + col;
            tile.product = previous_hidden ? scratch : NULL;
            tile.product_gate = RK_ROWS512 * 2 * RK_PANEL;
            tile.product_row = 2 * RK_PANEL;
            tile.bias_ih = step->bias_ih + col;
            tile.bias_hh = step->bias_hh + col;
            tile.previous = step->previous ? step->previous + state : NULL;
            tile.state = step->state ? step->state + state : NULL;
            tile.hidden_out = step->hidden_out + state;
            switch (cell) {
            case RK_CELL_LSTM: rk_lstm_forward_avx512(&tile); break;
            case RK_CELL_GRU: rk_gru_forward_avx512(&tile); break;
            default: rk_rnn_forward_avx512(&tile); break;
            }
        }
    }
}

static RK_TARGET512 void rk_backward_step_avx512(int cell, const rk_cell_backward *step, const float *packed_hh, int k,
                                                float *grad_previous) {
    int gh = step->gate_row;
    for (int r = 0; r < step->rows; r += RK_ROWS512) {
        int rows = step->rows - r < RK_ROWS512 ? step->rows - r : RK_ROWS512;
        size_t state = (size_t)r * step->state_row;
        rk_cell_backward tile = *step;
        tile.rows = rows;
        tile.gates = step->gates + (size_t)r * gh;
        tile.state = step->state ? step->state + state : NULL;
        tile.previous = step->previous ? step->previous + state : NULL;
        tile.grad_output = step->grad_output ? step->grad_output + state : NULL;
        tile.grad_hidden = step->grad_hidden + state;
        tile.grad_cell = step->grad_cell ? step->grad_cell + state : NULL;
        tile.grad_gates = step->grad_gates + (size_t)r * gh;
        tile.grad_gates_hidden = step->grad_gates_hidden ? step->grad_gates_hidden + (size_t)r * gh : NULL;
        switch (cell) {
        case RK_CELL_LSTM: rk_lstm_backward_avx512(&tile); break;
        case RK_CELL_GRU: rk_gru_backward_avx512(&tile); break;
        default: rk_rnn_backward_avx512(&tile); break;
        }
        if (packed_hh) {
            // dh_{t-1} (rows, K) (+)= dG (rows, G·H) · W_hh (G·H, K), dG still in L1.
            const float *dg = cell == RK_CELL_GRU ? tile.grad_gates_hidden : tile.grad_gates;
            rk_gemm_packed_avx512(rows, k, gh, dg, gh, packed_hh, grad_previous + (size_t)r * k, k, cell == RK_CELL_GRU);
        }
    }
}

void rk_forward_step(int cell, const rk_cell_forward *step, const float *previous_hidden, int k, const float *packed_hh) {
    if (rk_cpu_isa() >= RK_ISA_AVX512) rk_forward_step_avx512(cell, step, previous_hidden, k, packed_hh);
    else rk_forward_step_avx2(cell, step, previous_hidden, k, packed_hh);
}

void rk_backward_step(int cell, const rk_cell_backward *step, const float *packed_hh, int k, float *grad_previous) {
    if (rk_cpu_isa() >= RK_ISA_AVX512) rk_backward_step_avx512(cell, step, packed_hh, k, grad_previous);
    else rk_backward_step_avx2(cell, step, packed_hh, k, grad_previous);
}
#else
void rk_forward_step(int cell, const rk_cell_forward *step, const float *previous_hidden, int k, const float *packed_hh) {
    (void)cell; (void)step; (void)previous_hidden; (void)k; (void)packed_hh;
}
void rk_backward_step(int cell, const rk_cell_backward *step, const float *packed_hh, int k, float *grad_previous) {
    (void)cell; (void)step; (void)packed_hh; (void)k; (void)grad_previous;
}
#endif
