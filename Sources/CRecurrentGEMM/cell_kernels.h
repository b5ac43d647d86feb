// The cell kernels' bodies (and the bias gradients' column sums), compiled three times by
// recurrent_cells.c: for AVX-512 (VF = 16 floats), AVX2/FMA (8) and the baseline ISA (4). RK(name)
// gives each build its own names; VF, VI and LANES are the build's float vector, int vector
// (GCC/Clang vector extensions) and their length. The vector arithmetic is vector_kernels.h's.
// Deliberately no include guard: included once per build.

#include "vector_kernels.h"

// MARK: Forward

/// Pre-activation of gate k at unit j of one row: (x W_ih + b_ih) + (h W_hh + b_hh).
#define RK_PRE(k) ((RK(load)(g + (k) * h + j, lanes) + RK(load)(s->bias_ih + (k) * h + j, lanes)) \
                 + (RK(load_or_zero)(p ? p + (k) * s->product_gate + j : NULL, lanes) + RK(load)(s->bias_hh + (k) * h + j, lanes)))

static inline __attribute__((always_inline)) void RK(lstm_forward_at)(const rk_cell_forward *s, float *g, const float *p,
                                                                     const float *previous, float *c_out, float *h_out,
                                                                     int j, int lanes) {
    int h = s->hidden;
    VF i = RK(sigmoid)(RK_PRE(0)), f = RK(sigmoid)(RK_PRE(1)), gg = RK(tanh)(RK_PRE(2)), o = RK(sigmoid)(RK_PRE(3));
    VF c = f * RK(load_or_zero)(previous ? previous + j : NULL, lanes) + i * gg;
    if (!s->inference) {
        RK(store)(g + j, i, lanes);
        RK(store)(g + h + j, f, lanes);
        RK(store)(g + 2 * h + j, gg, lanes);
        RK(store)(g + 3 * h + j, o, lanes);
    }
    RK(store)(c_out + j, c, lanes);
    RK(store)(h_out + j, o * RK(tanh)(c), lanes);
}

void RK(rk_lstm_forward)(const rk_cell_forward *s) {
    for (int r = 0; r < s->rows; r++) {
        float *g = s->gates + (size_t)r * s->gate_row;
        const float *p = s->product ? s->product + (size_t)r * s->product_row : NULL;
        const float *previous = s->previous ? s->previous + (size_t)r * s->state_row : NULL;
        float *c_out = s->state + (size_t)r * s->state_row, *h_out = s->hidden_out + (size_t)r * s->state_row;
#define RK_AT(j, lanes) RK(lstm_forward_at)(s, g, p, previous, c_out, h_out, j, lanes)
        RK_COLUMNS(s->columns, RK_AT);
#undef RK_AT
    }
}

static inline __attribute__((always_inline)) void RK(gru_forward_at)(const rk_cell_forward *s, float *g, const float *p,
                                                                    const float *previous, float *hn_out, float *h_out,
                                                                    int j, int lanes) {
    int h = s->hidden;
    VF r = RK(sigmoid)(RK_PRE(0)), z = RK(sigmoid)(RK_PRE(1));
    VF hn = RK(load_or_zero)(p ? p + 2 * s->product_gate + j : NULL, lanes) + RK(load)(s->bias_hh + 2 * h + j, lanes);
    VF n = RK(tanh)((RK(load)(g + 2 * h + j, lanes) + RK(load)(s->bias_ih + 2 * h + j, lanes)) + r * hn);
    VF h_prev = RK(load_or_zero)(previous ? previous + j : NULL, lanes);
    if (!s->inference) {
        RK(store)(g + j, r, lanes);
        RK(store)(g + h + j, z, lanes);
        RK(store)(g + 2 * h + j, n, lanes);
        RK(store)(hn_out + j, hn, lanes);
    }
    RK(store)(h_out + j, n + z * (h_prev - n), lanes);
}

void RK(rk_gru_forward)(const rk_cell_forward *s) {
    for (int row = 0; row < s->rows; row++) {
        float *g = s->gates + (size_t)row * s->gate_row;
        const float *p = s->product ? s->product + (size_t)row * s->product_row : NULL;
        const float *previous = s->previous ? s->previous + (size_t)row * s->state_row : NULL;
        float *hn_out = s->state + (size_t)row * s->state_row, *h_out = s->hidden_out + (size_t)row * s->state_row;
#define RK_AT(j, lanes) RK(gru_forward_at)(s, g, p, previous, hn_out, h_out, j, lanes)
        RK_COLUMNS(s->columns, RK_AT);
#undef RK_AT
    }
}

static inline __attribute__((always_inline)) void RK(rnn_forward_at)(const rk_cell_forward *s, float *g, const float *p,
                                                                    float *h_out, int j, int lanes) {
    int h = s->hidden;
    VF pre = RK_PRE(0);
    VF y = s->activation == RK_TANH ? RK(tanh)(pre) : RK(select)(pre < 0.0f, RK(splat)(0.0f), pre);
    if (!s->inference) RK(store)(g + j, y, lanes);
    RK(store)(h_out + j, y, lanes);
}

void RK(rk_rnn_forward)(const rk_cell_forward *s) {
    for (int r = 0; r < s->rows; r++) {
        float *g = s->gates + (size_t)r * s->gate_row;
        const float *p = s->product ? s->product + (size_t)r * s->product_row : NULL;
        float *h_out = s->hidden_out + (size_t)r * s->state_row;
#define RK_AT(j, lanes) RK(rnn_forward_at)(s, g, p, h_out, j, lanes)
        RK_COLUMNS(s->columns, RK_AT);
#undef RK_AT
    }
}
#undef RK_PRE

// MARK: Backward

static inline __attribute__((always_inline)) void RK(lstm_backward_at)(const rk_cell_backward *s, const float *g, float *dg,
                                                                      size_t k, int j, int lanes) {
    int h = s->hidden;
    // Each gate is read once.
    VF i = RK(load)(g + j, lanes), f = RK(load)(g + h + j, lanes);
    VF gg = RK(load)(g + 2 * h + j, lanes), o = RK(load)(g + 3 * h + j, lanes);
    VF dh = RK(load_or_zero)(s->grad_output ? s->grad_output + k + j : NULL, lanes) + RK(load)(s->grad_hidden + k + j, lanes);
    VF tc = RK(tanh)(RK(load)(s->state + k + j, lanes));
    VF dc = RK(load)(s->grad_cell + k + j, lanes) + dh * o * (1.0f - tc * tc);
    VF c_prev = RK(load_or_zero)(s->previous ? s->previous + k + j : NULL, lanes);
    RK(store)(dg + j, dc * gg * i * (1.0f - i), lanes);
    RK(store)(dg + h + j, dc * c_prev * f * (1.0f - f), lanes);
    RK(store)(dg + 2 * h + j, dc * i * (1.0f - gg * gg), lanes);
    RK(store)(dg + 3 * h + j, dh * tc * o * (1.0f - o), lanes);
    RK(store)(s->grad_cell + k + j, dc * f, lanes);
}

void RK(rk_lstm_backward)(const rk_cell_backward *s) {
    for (int r = 0; r < s->rows; r++) {
        const float *g = s->gates + (size_t)r * s->gate_row;
        float *dg = s->grad_gates + (size_t)r * s->gate_row;
        size_t k = (size_t)r * s->state_row;
#define RK_AT(j, lanes) RK(lstm_backward_at)(s, g, dg, k, j, lanes)
        RK_COLUMNS(s->columns, RK_AT);
#undef RK_AT
    }
}

static inline __attribute__((always_inline)) void RK(gru_backward_at)(const rk_cell_backward *s, const float *g, float *dx,
                                                                     float *dhg, size_t k, int j, int lanes) {
    RK(gru_gate_gradients_at)(g, dx, dhg, s->grad_output, s->grad_hidden, s->previous, s->state, s->hidden, k, j, lanes);
}

void RK(rk_gru_backward)(const rk_cell_backward *s) {
    for (int row = 0; row < s->rows; row++) {
        const float *g = s->gates + (size_t)row * s->gate_row;
        float *dx = s->grad_gates + (size_t)row * s->gate_row, *dhg = s->grad_gates_hidden + (size_t)row * s->gate_row;
        size_t k = (size_t)row * s->state_row;
#define RK_AT(j, lanes) RK(gru_backward_at)(s, g, dx, dhg, k, j, lanes)
        RK_COLUMNS(s->columns, RK_AT);
#undef RK_AT
    }
}

static inline __attribute__((always_inline)) void RK(rnn_backward_at)(const rk_cell_backward *s, const float *y_row, float *dg,
                                                                     size_t k, int j, int lanes) {
    VF y = RK(load)(y_row + j, lanes);
    VF dh = RK(load_or_zero)(s->grad_output ? s->grad_output + k + j : NULL, lanes) + RK(load)(s->grad_hidden + k + j, lanes);
    VF derivative = s->activation == RK_TANH ? 1.0f - y * y : RK(select)(y > 0.0f, RK(splat)(1.0f), RK(splat)(0.0f));
    RK(store)(dg + j, dh * derivative, lanes);
}

void RK(rk_rnn_backward)(const rk_cell_backward *s) {
    for (int r = 0; r < s->rows; r++) {
        const float *y_row = s->gates + (size_t)r * s->gate_row;
        float *dg = s->grad_gates + (size_t)r * s->gate_row;
        size_t k = (size_t)r * s->state_row;
#define RK_AT(j, lanes) RK(rnn_backward_at)(s, y_row, dg, k, j, lanes)
        RK_COLUMNS(s->columns, RK_AT);
#undef RK_AT
    }
}
#undef RK_COLUMNS

/// out[j] += Σ_r x[r·ldx + j] for j < columns (the bias gradients' column sums): four vectors of
/// columns at a time with their partial sums in registers, so each element is loaded once. Each
/// lane adds its column's rows in order from zero, as a scalar loop would, so every build gives
/// the same bits.
static void RK(rk_sum_columns)(float *out, const float *x, long rows, int ldx, int columns) {
    int j = 0;
    for (; j + 4 * LANES <= columns; j += 4 * LANES) {
        VF s0 = RK(splat)(0.0f), s1 = s0, s2 = s0, s3 = s0;
        for (long r = 0; r < rows; r++) {
            const float *row = x + r * ldx + j;
            s0 += RK(load)(row, LANES);
            s1 += RK(load)(row + LANES, LANES);
            s2 += RK(load)(row + 2 * LANES, LANES);
            s3 += RK(load)(row + 3 * LANES, LANES);
        }
        RK(store)(out + j, RK(load)(out + j, LANES) + s0, LANES);
        RK(store)(out + j + LANES, RK(load)(out + j + LANES, LANES) + s1, LANES);
        RK(store)(out + j + 2 * LANES, RK(load)(out + j + 2 * LANES, LANES) + s2, LANES);
        RK(store)(out + j + 3 * LANES, RK(load)(out + j + 3 * LANES, LANES) + s3, LANES);
    }
    for (; j < columns; j += LANES) {   // the last columns, a vector (or part of one) at a time
        int lanes = columns - j < LANES ? columns - j : LANES;
        VF s = RK(splat)(0.0f);
        for (long r = 0; r < rows; r++) s += RK(load)(x + r * ldx + j, lanes);
        RK(store)(out + j, RK(load)(out + j, lanes) + s, lanes);
    }
}
