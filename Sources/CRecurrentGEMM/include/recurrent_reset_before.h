// The fused time-loop steps of a GRU with the reset gate before the recurrent product (Cho et al.
// 2014; Keras's `reset_after=False`), PyTorch's gate order r, z, n and weights:
//   r = σ(x W_irᵀ + b_ir + h̄ W_hrᵀ + b_hr),  z = σ(x W_izᵀ + b_iz + h̄ W_hzᵀ + b_hz),
//   n = tanh(x W_inᵀ + b_in + (r ⊙ h̄) W_hnᵀ + b_hn),  h̃ = n + z ⊙ (h_{t-1} − n),
//   h_t = h̃ + d ⊙ (h_{t-1} − h̃) with zoneout,
// where h̄ = h_{t-1} (⊙ the recurrent dropout mask). One call is one step of a row block: the
// [r | z] product, the reset gate, r ⊙ h̄, the n product and the n cell, or backward the mirror of
// it, in an AVX-512, AVX2/FMA or portable build chosen by rk_cpu_isa().
// B = rows of the block, H = hidden size (the width of h).
#pragma once
#include <stddef.h>

/// One forward step of `rows` rows.
typedef struct rk_reset_before_forward {
    int rows, hidden;
    /// (B, 3H) in: x W_ihᵀ (no bias); out: r, z, n.
    float *gates;
    /// (3H) b_ih and b_hh.
    const float *bias_ih, *bias_hh;
    /// (B, H) h_{t-1}; NULL: zero.
    const float *previous;
    /// (B, H) the recurrent dropout mask on the products' input; NULL: none.
    const float *mask;
    /// (B, H) zoneout factors of h; NULL: no zoneout.
    const float *zoneout;
    /// (B, H) written: r ⊙ h̄, the n product's input.
    float *reset_hidden;
    /// (B, H) written: h_t.
    float *hidden_out;
    /// (B, 3H) floats of scratch.
    float *scratch;
    /// W_{hr,hz}ᵀ (H × 2H) and W_hnᵀ (H × H), packed by rk_pack_b.
    const float *packed_rz, *packed_n;
} rk_reset_before_forward;

/// One backward step of `rows` rows.
typedef struct rk_reset_before_backward {
    int rows, hidden;
    /// (B, 3H) the step's r, z, n.
    const float *gates;
    /// (B, H) h_{t-1}; NULL: zero.
    const float *previous;
    /// (B, H) recurrent dropout mask and zoneout factors; NULL: none.
    const float *mask, *zoneout;
    /// (B, H) dy_t; NULL: zero.
    const float *grad_output;
    /// (B, H) in: dh_t from step t+1; out: dh_{t-1} (when `packed_rz` is given, else scratch).
    float *grad_hidden;
    /// (B, 3H) written: dr, dz, dn (the pre-activation gradients, the same on both sides).
    float *grad_gates;
    /// (B, 2H) floats of scratch.
    float *scratch;
    /// W_hn (H × H) as stored, packed by rk_pack_b.
    const float *packed_n;
    /// W_{hr,hz} (2H × H) as stored, packed by rk_pack_b; NULL: dh_{t-1} is not needed.
    const float *packed_rz;
} rk_reset_before_backward;

void rk_reset_before_forward_step(const rk_reset_before_forward *s);
void rk_reset_before_backward_step(const rk_reset_before_backward *s);
