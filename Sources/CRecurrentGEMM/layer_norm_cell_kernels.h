// The bodies of recurrent_layer_norm_cells.h's steps, compiled three times by layer_norm_cells.c:
// for AVX-512, AVX2/FMA and the baseline ISA. RK(name) gives each build its names; VF, VI and LANES
// are its float and int vectors and their length (vector_kernels.h), VD, VH and DL the double vector
// and the float vector of as many lanes of layer_norm_kernels.h, whose rows normalise here.
// Per row: the recurrent product's norm into x̂_hh, then one pass over the units for the gates
// (and c̃), then (LSTM) c̃'s norm and one more pass for h. Backward the mirror, ending with the
// recurrent norm's backward of the step's hidden-side gate gradients.
// Deliberately no include guard: included once per build.

#include "vector_kernels.h"
#include "layer_norm_kernels.h"

/// a_k at unit j: (gates_in + b_ih) + (x̂_hh ⊙ γ_hh + b_hh), gate k.
#define RK_LN_PRE(k) ((RK(load)(g + (k) * h + j, lanes) + RK(load)(s->bias_ih + (k) * h + j, lanes))           \
                    + (RK(load)(np + (k) * h + j, lanes) * RK(load)(s->gain_hh + (k) * h + j, lanes)          \
                       + RK(load)(s->bias_hh + (k) * h + j, lanes)))

static inline __attribute__((always_inline)) void RK(ln_lstm_gates_at)(const rk_layer_norm_forward *s, float *g,
                                                                      const float *np, const float *previous, float *c,
                                                                      int j, int lanes) {
    int h = s->hidden;
    VF i = RK(sigmoid)(RK_LN_PRE(0)), f = RK(sigmoid)(RK_LN_PRE(1)), gg = RK(tanh)(RK_LN_PRE(2)), o = RK(sigmoid)(RK_LN_PRE(3));
    RK(store)(g + j, i, lanes);
    RK(store)(g + h + j, f, lanes);
    RK(store)(g + 2 * h + j, gg, lanes);
    RK(store)(g + 3 * h + j, o, lanes);
    RK(store)(c + j, f * RK(load_or_zero)(previous ? previous + j : NULL, lanes) + i * gg, lanes);   // c̃
}

static inline __attribute__((always_inline)) void RK(ln_lstm_hidden_at)(const float *o, const float *c, float *out, int j,
                                                                       int lanes) {
    RK(store)(out + j, RK(load)(o + j, lanes) * RK(tanh)(RK(load)(c + j, lanes)), lanes);
}

static inline __attribute__((always_inline)) void RK(ln_gru_at)(const rk_layer_norm_forward *s, float *g, const float *np,
                                                               const float *previous, float *hn_out, float *out, int j,
                                                               int lanes) {
    int h = s->hidden;
    VF r = RK(sigmoid)(RK_LN_PRE(0)), z = RK(sigmoid)(RK_LN_PRE(1));
    VF hn = RK(load)(np + 2 * h + j, lanes) * RK(load)(s->gain_hh + 2 * h + j, lanes) + RK(load)(s->bias_hh + 2 * h + j, lanes);
    VF n = RK(tanh)((RK(load)(g + 2 * h + j, lanes) + RK(load)(s->bias_ih + 2 * h + j, lanes)) + r * hn);
    VF h_prev = RK(load_or_zero)(previous ? previous + j : NULL, lanes);
    RK(store)(g + j, r, lanes);
    RK(store)(g + h + j, z, lanes);
    RK(store)(g + 2 * h + j, n, lanes);
    RK(store)(hn_out + j, hn, lanes);
    RK(store)(out + j, n + z * (h_prev - n), lanes);
}
#undef RK_LN_PRE

static void RK(rk_layer_norm_cell_forward)(int cell, const rk_layer_norm_forward *s) {
    int h = s->hidden, gh = (cell == RK_CELL_LSTM ? 4 : 3) * h;
    for (int r = 0; r < s->rows; r++) {
        float *g = s->gates + (size_t)r * gh, *np = s->normalized_product + (size_t)r * gh;
        const float *previous = s->previous ? s->previous + (size_t)r * h : NULL;
        float *state = s->state + (size_t)r * h, *out = s->hidden_out + (size_t)r * h;
        if (s->normalized_input) {
            RK(rk_layer_norm_rows)(s->normalized_input + (size_t)r * gh, s->input_inverse + r, g, g, s->gain_ih, NULL, 1, gh);
        }
        RK(rk_layer_norm_rows)(np, s->product_inverse + r, NULL, s->product + (size_t)r * gh, NULL, NULL, 1, gh);
        if (cell == RK_CELL_LSTM) {
#define RK_AT(j, lanes) RK(ln_lstm_gates_at)(s, g, np, previous, state, j, lanes)
            RK_COLUMNS(h, RK_AT);
#undef RK_AT
            // c_t = x̂(c̃) ⊙ γ_c + β_c in place, then h_t = o ⊙ tanh(c_t).
            RK(rk_layer_norm_rows)(s->normalized_cell + (size_t)r * h, s->cell_inverse + r, state, state, s->gain_cell,
                                   s->bias_cell, 1, h);
#define RK_AT(j, lanes) RK(ln_lstm_hidden_at)(g + 3 * h, state, out, j, lanes)
            RK_COLUMNS(h, RK_AT);
#undef RK_AT
        } else {
#define RK_AT(j, lanes) RK(ln_gru_at)(s, g, np, previous, state, out, j, lanes)
            RK_COLUMNS(h, RK_AT);
#undef RK_AT
        }
    }
}

/// dc_t = dc + dh ⊙ o ⊙ (1 − tanh²c_t) into `dco`, do into dg.
static inline __attribute__((always_inline)) void RK(ln_lstm_output_at)(const rk_layer_norm_backward *s, const float *g,
                                                                       float *dg, float *dco, size_t k, int j, int lanes) {
    int h = s->hidden;
    VF o = RK(load)(g + 3 * h + j, lanes), tc = RK(tanh)(RK(load)(s->state + k + j, lanes));
    VF dh = RK(load_or_zero)(s->grad_output ? s->grad_output + k + j : NULL, lanes) + RK(load)(s->grad_hidden + k + j, lanes);
    RK(store)(dco + j, RK(load)(s->grad_cell + k + j, lanes) + dh * o * (1.0f - tc * tc), lanes);
    RK(store)(dg + 3 * h + j, dh * tc * o * (1.0f - o), lanes);
}

/// With dc̃ in grad_cell: di, df, dg into dg and dc_{t-1} = f ⊙ dc̃.
static inline __attribute__((always_inline)) void RK(ln_lstm_gates_back_at)(const rk_layer_norm_backward *s, const float *g,
                                                                           float *dg, size_t k, int j, int lanes) {
    int h = s->hidden;
    VF i = RK(load)(g + j, lanes), f = RK(load)(g + h + j, lanes), gg = RK(load)(g + 2 * h + j, lanes);
    VF d = RK(load)(s->grad_cell + k + j, lanes);
    VF c_prev = RK(load_or_zero)(s->previous ? s->previous + k + j : NULL, lanes);
    RK(store)(dg + j, d * gg * i * (1.0f - i), lanes);
    RK(store)(dg + h + j, d * c_prev * f * (1.0f - f), lanes);
    RK(store)(dg + 2 * h + j, d * i * (1.0f - gg * gg), lanes);
    RK(store)(s->grad_cell + k + j, d * f, lanes);
}

static inline __attribute__((always_inline)) void RK(ln_gru_back_at)(const rk_layer_norm_backward *s, const float *g, float *dx,
                                                                    float *dhg, size_t k, int j, int lanes) {
    RK(gru_gate_gradients_at)(g, dx, dhg, s->grad_output, s->grad_hidden, s->previous, s->state, s->hidden, k, j, lanes);
}

/// sum += v over `lanes` floats.
static inline __attribute__((always_inline)) void RK(ln_add)(float *sum, VF v, int lanes) {
    RK(store)(sum, RK(load)(sum, lanes) + v, lanes);
}

/// One row's part of the column sums of `rk_layer_norm_backward` over the G·H columns.
static inline __attribute__((always_inline)) void RK(ln_sums)(const rk_layer_norm_backward *s, const float *dg, const float *dhg,
                                                             int r, int gh) {
    const float *ni = s->normalized_input ? s->normalized_input + (size_t)r * gh : NULL;
    const float *nh = s->normalized_product + (size_t)r * gh;
#define RK_AT(j, lanes)                                                                            \
    do {                                                                                           \
        VF d = RK(load)(dg + j, lanes), e = RK(load)(dhg + j, lanes);                              \
        if (s->sum_bias_ih) RK(ln_add)(s->sum_bias_ih + j, d, lanes);                              \
        if (s->sum_bias_hh) RK(ln_add)(s->sum_bias_hh + j, e, lanes);                              \
        if (s->sum_gain_ih && ni) RK(ln_add)(s->sum_gain_ih + j, d * RK(load)(ni + j, lanes), lanes); \
        if (s->sum_gain_hh) RK(ln_add)(s->sum_gain_hh + j, e * RK(load)(nh + j, lanes), lanes);    \
    } while (0)
    RK_COLUMNS(gh, RK_AT);
#undef RK_AT
}

static void RK(rk_layer_norm_cell_backward)(int cell, const rk_layer_norm_backward *s) {
    int h = s->hidden, gh = (cell == RK_CELL_LSTM ? 4 : 3) * h;
    for (int r = 0; r < s->rows; r++) {
        const float *g = s->gates + (size_t)r * gh;
        float *dg = s->grad_gates + (size_t)r * gh, *dhg = dg;
        size_t k = (size_t)r * h;
        if (cell == RK_CELL_LSTM) {
            float *dco = s->grad_cell_output + k;
#define RK_AT(j, lanes) RK(ln_lstm_output_at)(s, g, dg, dco, k, j, lanes)
            RK_COLUMNS(h, RK_AT);
#undef RK_AT
            // dc̃ through c's norm, into grad_cell for now.
            RK(rk_layer_norm_rows_backward)(s->grad_cell + k, dco, s->normalized_cell + k, s->gain_cell, s->cell_inverse + r, 1, h);
#define RK_AT(j, lanes) RK(ln_lstm_gates_back_at)(s, g, dg, k, j, lanes)
            RK_COLUMNS(h, RK_AT);
#undef RK_AT
        } else {
            dhg = s->grad_gates_hidden + (size_t)r * gh;
#define RK_AT(j, lanes) RK(ln_gru_back_at)(s, g, dg, dhg, k, j, lanes)
            RK_COLUMNS(h, RK_AT);
#undef RK_AT
        }
        RK(ln_sums)(s, dg, dhg, r, gh);
        if (cell == RK_CELL_LSTM && s->sum_gain_cell) {
            const float *dco = s->grad_cell_output + k, *nc = s->normalized_cell + k;
#define RK_AT(j, lanes)                                                                            \
    do {                                                                                           \
        VF d = RK(load)(dco + j, lanes);                                                           \
        RK(ln_add)(s->sum_gain_cell + j, d * RK(load)(nc + j, lanes), lanes);                      \
        RK(ln_add)(s->sum_bias_cell + j, d, lanes);                                                \
    } while (0)
            RK_COLUMNS(h, RK_AT);
#undef RK_AT
        }
        // Back through the recurrent norm, then (an LSTM's dhg is dg) through the input norm in place.
        RK(rk_layer_norm_rows_backward)(s->grad_product + (size_t)r * gh, dhg, s->normalized_product + (size_t)r * gh,
                                        s->gain_hh, s->product_inverse + r, 1, gh);
        if (s->normalized_input) {
            RK(rk_layer_norm_rows_backward)(dg, dg, s->normalized_input + (size_t)r * gh, s->gain_ih, s->input_inverse + r, 1, gh);
        }
    }
}
#undef RK_COLUMNS
