// Fused recurrent cell steps (PyTorch's equations and gate orders) and the time-loop steps that
// apply them while a tile of the recurrent product is still in L1. Each cell has one forward and
// one backward function over a tile of rows × hidden units described by a parameter struct; an
// AVX2/FMA build of every function is chosen at run time, with a portable build beside it.
// B = batch rows of the tile, H = hidden size, G = gates (LSTM 4: i f g o; GRU 3: r z n; RNN 1),
// K = width of h_{t-1} (P with an LSTM projection, else H).
#pragma once
#include <stddef.h>

/// RNN activation of `rk_cell_forward.activation`.
#define RK_TANH 0
#define RK_RELU 1

/// Cell kinds of the fused steps.
#define RK_CELL_LSTM 0
#define RK_CELL_GRU 1
#define RK_CELL_RNN 2

/// One forward cell step over `rows` × `columns` hidden units. Every pointer points at row 0,
/// unit j0 of the tile; gate k of a row lies k·hidden floats further on.
typedef struct rk_cell_forward {
    int rows, columns;
    /// H: distance between gates in `gates` and the biases.
    int hidden;
    /// Row stride of `gates` (G·H).
    int gate_row;
    /// Row stride of `previous`, `state` and `hidden_out` (H).
    int state_row;
    /// RNN only: RK_TANH or RK_RELU.
    int activation;
    /// 1: forward only (no backward follows): `gates` is only read and GRU's `state` not written.
    int inference;
    /// (B, G·H) in: x W_ihᵀ; out (unless `inference`): the gates after their nonlinearities (RNN: h_t).
    float *gates;
    /// h_{t-1} W_hhᵀ, gate k of row r at product[r·product_row + k·product_gate]; NULL: zero.
    const float *product;
    int product_gate, product_row;
    /// (G·H) b_ih and b_hh.
    const float *bias_ih, *bias_hh;
    /// (B, H) c_{t-1} (LSTM) or h_{t-1} (GRU); NULL: zero. Unused by RNN.
    const float *previous;
    /// (B, H) written: c_t (LSTM) or W_hn h_{t-1} + b_hn (GRU, unless `inference`). Unused by RNN.
    float *state;
    /// (B, H) written: h_t (m_t = o ⊙ tanh c_t for an LSTM with a projection).
    float *hidden_out;
} rk_cell_forward;

/// One backward cell step over `rows` × `columns` hidden units, pointers and strides as in
/// `rk_cell_forward`.
typedef struct rk_cell_backward {
    int rows, columns, hidden, gate_row, state_row, activation;
    /// (B, G·H) post-activation gates of the step (RNN: h_t).
    const float *gates;
    /// (B, H) c_t (LSTM) or W_hn h_{t-1} + b_hn (GRU). Unused by RNN.
    const float *state;
    /// (B, H) c_{t-1} (LSTM) or h_{t-1} (GRU); NULL: zero.
    const float *previous;
    /// (B, H) dy_t; NULL: zero.
    const float *grad_output;
    /// (B, H) dh_t from step t+1. GRU overwrites it with z ⊙ dh (the direct part of dh_{t-1}).
    float *grad_hidden;
    /// (B, H) LSTM: dc_t from step t+1 in, dc_{t-1} out.
    float *grad_cell;
    /// (B, G·H) written: pre-activation gate gradients (the input side's for GRU).
    float *grad_gates;
    /// (B, G·H) GRU: written in the same pass, the hidden side's (dr, dz, dn ⊙ r); else NULL.
    float *grad_gates_hidden;
} rk_cell_backward;

void rk_lstm_forward(const rk_cell_forward *s);
void rk_gru_forward(const rk_cell_forward *s);
void rk_rnn_forward(const rk_cell_forward *s);
void rk_lstm_backward(const rk_cell_backward *s);
void rk_gru_backward(const rk_cell_backward *s);
void rk_rnn_backward(const rk_cell_backward *s);

/// Floats that `rk_pack_gates` writes: G gates of ceil(H/16) panels of K × 16.
size_t rk_gate_packed_size(int k, int gates, int hidden);

/// Packs W_hh (G·H, K), row-major, as op(B) = W_hhᵀ gate by gate, each gate's H columns in
/// zero-padded 16-wide panels, so that a product tile holds the same units of every gate.
void rk_pack_gates(float *packed, const float *weight_hh, int k, int gates, int hidden);

/// One forward step of a row block (needs rk_packed_gemm_available()): for each 32-unit (AVX2: 16)
/// column tile and each tile of up to 8 (6) rows, the G tiles of h_{t-1} W_hhᵀ (previous_hidden
/// (B, K), NULL: zero, packed by rk_pack_gates) go to an L1 scratch block and the cell step runs on
/// them at once. With packed_ih (W_ih packed by rk_pack_gates with K = input_k) the step first
/// writes x_t W_ihᵀ (input (B, input_k)) into the tile's rows of `step->gates`, which then need not
/// hold it on entry; NULL: they do. `step` describes the whole block (columns = H); its product
/// fields are ignored. With a recurrent dropout `mask` (B, K; NULL: none) the products read
/// h_{t-1} ⊙ mask, written first to `masked` (B, K).
void rk_forward_step(int cell, const rk_cell_forward *step, const float *previous_hidden, int k,
                     const float *packed_hh, const float *input, int input_k, const float *packed_ih,
                     const float *mask, float *masked);

/// `rk_forward_step` for the hidden units first_unit ..< end_unit only (first_unit a multiple of
/// RK_STEP_UNIT_GRAIN, end_unit one too or H): the products, gates and cell step of those units of
/// every row, so that threads may split one step of the whole batch by units. `mask` must be NULL
/// when threads split a step (each would write all of `masked`).
void rk_forward_step_units(int cell, const rk_cell_forward *step, const float *previous_hidden, int k,
                           const float *packed_hh, const float *input, int input_k, const float *packed_ih,
                           const float *mask, float *masked, int first_unit, int end_unit);

/// The units a split of `rk_forward_step_units` starts on a multiple of (the widest build's column tile).
#define RK_STEP_UNIT_GRAIN 32

/// One backward step of a row block (needs rk_packed_gemm_available()): per chunk of rows (as many
/// as 512 KB of gate gradients hold), the cell's gate gradients tile by tile, then, while they are
/// in L1 or L2, dh_{t-1} (B, K) = dG W_hh for those rows into grad_previous (added for GRU, whose
/// cell step wrote z ⊙ dh there), where dG is the hidden side's gradients and packed_hh is W_hh as
/// stored (G·H × K) packed by rk_pack_b. A NULL packed_hh skips the product. With a recurrent
/// dropout `mask` (B, K; NULL: none) the product's part is mask ⊙ (dG W_hh), each chunk of it made
/// in `masked_product` (B, K) and applied while in cache.
void rk_backward_step(int cell, const rk_cell_backward *step, const float *packed_hh, int k, float *grad_previous,
                      const float *mask, float *masked_product);
