// Layer-normalised LSTM and GRU cell steps over rows (Ba et al. 2016; the cell of PyTorch's
// benchmarks/fastrnns/custom_lstms.py LayerNormLSTMCell), forward and backward, each row's whole
// step in one call: the recurrent product's norm, the gates, (LSTM) c̃'s norm and the state, in the
// widest build this CPU runs (rk_cpu_isa), with each norm's sums in double as rk_layer_norm_rows.
// With LN(x) = x̂ ⊙ γ, x̂ = (x − μ)/σ, σ = √(var + 1e-5) over a row:
//   a = gates_in + b_ih + LN_hh(product) + b_hh   (gates_in: LN_ih(x W_ihᵀ), already normalised)
//   LSTM: i, f, g, o from a; c̃ = f ⊙ c_{t-1} + i ⊙ g; c_t = x̂(c̃) ⊙ γ_c + β_c; h_t = o ⊙ tanh(c_t)
//   GRU:  r, z from a; a_hn = LN_hh(product)_n + b_hn; n = tanh(gates_in_n + b_in + r ⊙ a_hn);
//         h_t = n + z ⊙ (h_{t-1} − n)
// B = rows (each tensor's rows contiguous), H = hidden size, G = gates (LSTM 4, GRU 3).
#pragma once

/// One forward step of `rows` rows of a layer-normalised cell (`cell`: RK_CELL_LSTM or RK_CELL_GRU).
typedef struct rk_layer_norm_forward {
    int rows, hidden;
    /// (B, G·H) in: LN_ih(x_t W_ihᵀ); out: the gates after their nonlinearities (i f g o; r z n).
    float *gates;
    /// (B, G·H) h̄_{t-1} W_hhᵀ (zeros for no h_{t-1}); read only.
    const float *product;
    /// (B, G·H) and (B) written: x̂ of `product` and its 1/σ.
    float *normalized_product, *product_inverse;
    /// (G·H) γ_hh, b_ih and b_hh.
    const float *gain_hh, *bias_ih, *bias_hh;
    /// (B, H) c_{t-1} (LSTM) or h_{t-1} (GRU); NULL: zeros.
    const float *previous;
    /// (B, H) written: c_t (LSTM) or a_hn (GRU).
    float *state;
    /// LSTM: (B, H) and (B) written, x̂ of c̃ and its 1/σ; (H) γ_c and β_c. Unused by GRU.
    float *normalized_cell, *cell_inverse;
    const float *gain_cell, *bias_cell;
    /// (B, H) written: h_t.
    float *hidden_out;
} rk_layer_norm_forward;

/// One backward step of `rows` rows, the mirror of `rk_layer_norm_forward` (same forward tensors).
typedef struct rk_layer_norm_backward {
    int rows, hidden;
    /// The step's forward tensors: gates, state (c_t or a_hn), previous (NULL: zeros), and the norms'
    /// x̂, 1/σ and gains (the cell's only for an LSTM).
    const float *gates, *state, *previous;
    const float *normalized_product, *product_inverse, *gain_hh;
    const float *normalized_cell, *cell_inverse, *gain_cell;
    /// (B, H) dy_t; NULL: zeros.
    const float *grad_output;
    /// (B, H) dh_t from step t+1 in; GRU overwrites it with z ⊙ dh (the direct part of dh_{t-1}).
    float *grad_hidden;
    /// (B, H) LSTM: dc_t from step t+1 in, dc_{t-1} out.
    float *grad_cell;
    /// (B, G·H) written: dL/da (the input side's, after its norm).
    float *grad_gates;
    /// (B, G·H) GRU: written, the recurrent side's after its norm (dr, dz, dn ⊙ r); LSTM: NULL.
    float *grad_gates_hidden;
    /// (B, H) LSTM: written, dc_t (for γ_c and β_c).
    float *grad_cell_output;
    /// (B, G·H) written: the gradient of `product`, through the recurrent norm.
    float *grad_product;
} rk_layer_norm_backward;

/// One forward / backward step in the widest build this CPU runs.
void rk_layer_norm_cell_forward(int cell, const rk_layer_norm_forward *s);
void rk_layer_norm_cell_backward(int cell, const rk_layer_norm_backward *s);

/// The same in one build (RK_ISA_PORTABLE, RK_ISA_AVX2, RK_ISA_AVX512), capped at what this CPU
/// runs: for tests comparing the builds in one process.
void rk_layer_norm_cell_forward_build(int isa, int cell, const rk_layer_norm_forward *s);
void rk_layer_norm_cell_backward_build(int isa, int cell, const rk_layer_norm_backward *s);
