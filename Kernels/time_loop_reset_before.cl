// Fused time steps of a GRU with the reset gate before the recurrent product (Cho et al. 2014;
// Keras's reset_after=False; OpenCLBackend/TimeLoopResetBefore.swift), the equations of
// gru_reset_before.cl: r, z = σ(x W_{ir,iz}ᵀ + b_i + h̄ W_{hr,hz}ᵀ + b_h),
// n = tanh(x W_inᵀ + b_in + (r ⊙ h̄) W_hnᵀ + b_hn), h_t = n + z ⊙ (h_{t-1} − n), h̄ = h_{t-1} ⊙ mask
// (recurrent dropout) or h_{t-1}. The n gate's product needs r ⊙ h̄ of every unit of a row, so a
// step is two launches each way, with time_loop.cl's tiles (a group owns STEP_UNITS units of
// STEP_ROWS rows, the products staged in local memory):
//   forward   reset_before_gates     h̄ W_{hr,hz}ᵀ, r and z, r ⊙ h̄ into the reserve;
//             reset_before_forward   (r ⊙ h̄) W_hnᵀ, n, h_t, zoneout's blend;
//   backward  reset_before_backward  dh_t from the later step, zoneout's split, dz and dn;
//             reset_before_reset_gradient  d(r ⊙ h̄) = dn W_hn, dr;
//   reset_before_initial_gradient   dh_0 after the last backward step.
// The backward launches of step t carry two (B, H) buffers to step t−1: the direct part of dh_{t-1}
// (z ⊙ dh_t and zoneout's d ⊙ dh_t) and r ⊙ d(r ⊙ h̄), which joins d(r, z) W_{hr,hz} as dh̄.
// B = rows at this step, H = hidden size (= R); gates are rows of 3H: [r | z | n].

// One forward step's first half over rows 0..<b: gates (B, 3H) holds x_t W_ihᵀ on entry; writes r
// and z over their blocks (the n block keeps x_t W_inᵀ) and reset_hidden (B, H) = r ⊙ h̄.
kernel __attribute__((reqd_work_group_size(STEP_UNITS, STEP_ROWS, 1)))
void reset_before_gates(global float* gates, ulong gates_offset, global float* reset_hidden, ulong reset_hidden_offset,
                        global const float* previous_hidden, ulong previous_hidden_offset, int has_previous_hidden,
                        global const float* hidden_mask, ulong hidden_mask_offset, int has_hidden_mask,
                        global const float* w_hh, ulong w_hh_offset, global const float* bias_ih, ulong bias_ih_offset,
                        global const float* bias_hh, ulong bias_hh_offset, uint b, uint h) {
    STEP_TILE(j)
    global const float* hp = previous_hidden + previous_hidden_offset;
    global const float* mask = hidden_mask + hidden_mask_offset;
    float acc[GATES_MAX] = {0.0f, 0.0f, 0.0f, 0.0f};
    // h_0 = 0 has no product; every group takes the same branch. The first 2H rows of W_hh: r, z.
    if (has_previous_hidden) {
        tile_product(acc, 2, a_tile, w_tile, hp, mask, has_hidden_mask, b, h, h, w_hh + w_hh_offset, h, h, h, 1, row0, col0);
    }
    if (row >= b || j >= h) return;
    ulong e = (ulong)row * h + j;
    global float* g = gates + gates_offset + (ulong)row * 3 * h;
    global const float* bi = bias_ih + bias_ih_offset;
    global const float* bh = bias_hh + bias_hh_offset;
    float r = sigmoid_f((g[j] + bi[j]) + (acc[0] + bh[j]));
    float z = sigmoid_f((g[h + j] + bi[h + j]) + (acc[1] + bh[h + j]));
    float h_bar = has_previous_hidden ? hp[e] * (has_hidden_mask ? mask[e] : 1.0f) : 0.0f;
    g[j] = r;
    g[h + j] = z;
    reset_hidden[reset_hidden_offset + e] = r * h_bar;
}

// The second half: n = tanh(x_n + b_in + (r ⊙ h̄) W_hnᵀ + b_hn) into the n block, h_t = n + z ⊙ (h_{t-1} − n)
// into out (B, H), and with zone_hidden factors d (B, H) h_t + d ⊙ (h_{t-1} − h_t). An absent h_{t-1} is zero.
kernel __attribute__((reqd_work_group_size(STEP_UNITS, STEP_ROWS, 1)))
void reset_before_forward(global float* out, ulong out_offset, global float* gates, ulong gates_offset,
                          global const float* reset_hidden, ulong reset_hidden_offset,
                          global const float* previous_hidden, ulong previous_hidden_offset, int has_previous_hidden,
                          global const float* zone_hidden, ulong zone_hidden_offset, int has_zone_hidden,
                          global const float* w_hh, ulong w_hh_offset, global const float* bias_ih, ulong bias_ih_offset,
                          global const float* bias_hh, ulong bias_hh_offset, uint b, uint h) {
    STEP_TILE(j)
    float acc[GATES_MAX] = {0.0f, 0.0f, 0.0f, 0.0f};
    // Without h_{t-1}, r ⊙ h̄ is zero: no product. W_hn is the last H rows of W_hh.
    if (has_previous_hidden) {
        tile_product(acc, 1, a_tile, w_tile, reset_hidden + reset_hidden_offset, reset_hidden, 0, b, h, h,
                     w_hh + w_hh_offset + (ulong)2 * h * h, h, h, h, 1, row0, col0);
    }
    if (row >= b || j >= h) return;
    ulong e = (ulong)row * h + j;
    global float* g = gates + gates_offset + (ulong)row * 3 * h;
    float n = tanh((g[2 * h + j] + bias_ih[bias_ih_offset + 2 * h + j]) + (acc[0] + bias_hh[bias_hh_offset + 2 * h + j]));
    float h_previous = has_previous_hidden ? previous_hidden[previous_hidden_offset + e] : 0.0f;
    g[2 * h + j] = n;
    float result = n + g[h + j] * (h_previous - n);
    if (has_zone_hidden) result = result + zone_hidden[zone_hidden_offset + e] * (h_previous - result);
    out[out_offset + e] = result;
}

// The part of dh_{t-1} (row, j) that comes from step t for a continuing row: the direct carry plus
// (r ⊙ d(r ⊙ h̄) + Σ_{k<2H} d(r, z)[row, k] W_hh[k, j]) ⊙ mask, the product already in `product`.
inline float reset_before_earlier_gradient(float product, global const float* reset_grad, global const float* carry,
                                           global const float* mask, int has_mask, ulong e) {
    return carry[e] + (reset_grad[e] + product) * (has_mask ? mask[e] : 1.0f);
}

// One backward step's first half over rows 0..<b: dh_t = dy_t + (rows < continuing: the later step's
// part, from later_grad_gates (continuing, 3H), reset_grad and carry; other rows: the final-state
// gradient or 0); with zone_hidden factors d, d ⊙ dh_t goes to the carry and dh_t − d ⊙ dh_t on;
// writes dz and dn into grad_gates (B, 3H) and carry (B, H) = z ⊙ dh_t (+ d ⊙ dh_t) for step t−1.
kernel __attribute__((reqd_work_group_size(STEP_UNITS, STEP_ROWS, 1)))
void reset_before_backward(global float* grad_gates, ulong grad_gates_offset,
                           global const float* later_grad_gates, ulong later_grad_gates_offset, uint continuing,
                           global const float* reset_grad, ulong reset_grad_offset, global float* carry, ulong carry_offset,
                           global const float* mask, ulong mask_offset, int has_mask,
                           global const float* zone_hidden, ulong zone_hidden_offset, int has_zone_hidden,
                           global const float* grad_output, ulong grad_output_offset, int has_grad_output,
                           global const float* grad_final_hidden, ulong grad_final_hidden_offset, int has_grad_final_hidden,
                           global const float* gates, ulong gates_offset,
                           global const float* previous_hidden, ulong previous_hidden_offset, int has_previous_hidden,
                           global const float* w_hh, ulong w_hh_offset, uint b, uint h) {
    STEP_TILE(j)
    float acc[GATES_MAX] = {0.0f, 0.0f, 0.0f, 0.0f};
    // The last step has no later one: every group skips the product alike. d(r, z) is the first 2H
    // columns of each gate-gradient row.
    if (continuing > 0) {
        tile_product(acc, 1, a_tile, w_tile, later_grad_gates + later_grad_gates_offset, later_grad_gates, 0, continuing,
                     2 * h, 3 * h, w_hh + w_hh_offset, h, 0, h, 0, row0, col0);
    }
    if (row >= b || j >= h) return;
    ulong e = (ulong)row * h + j;
    float from_later = row < continuing
        ? reset_before_earlier_gradient(acc[0], reset_grad + reset_grad_offset, carry + carry_offset, mask + mask_offset,
                                        has_mask, e)
        : (has_grad_final_hidden ? grad_final_hidden[grad_final_hidden_offset + e] : 0.0f);
    float dh = (has_grad_output ? grad_output[grad_output_offset + e] : 0.0f) + from_later;
    float zoned = 0.0f;
    if (has_zone_hidden) {
        zoned = zone_hidden[zone_hidden_offset + e] * dh;
        dh = dh - zoned;
    }
    global const float* g = gates + gates_offset + (ulong)row * 3 * h;
    global float* dg = grad_gates + grad_gates_offset + (ulong)row * 3 * h;
    float z = g[h + j], n = g[2 * h + j];
    float h_previous = has_previous_hidden ? previous_hidden[previous_hidden_offset + e] : 0.0f;
    dg[h + j] = dh * (h_previous - n) * z * (1.0f - z);
    dg[2 * h + j] = dh * (1.0f - z) * (1.0f - n * n);
    carry[carry_offset + e] = z * dh + zoned;
}

// The second half: d(r ⊙ h̄) = Σ_k dn[row, k] W_hn[k, c] from the n block of grad_gates, then
// dr = d(r ⊙ h̄) ⊙ h̄ ⊙ r(1 − r) into the r block and reset_grad (B, H) = r ⊙ d(r ⊙ h̄).
kernel __attribute__((reqd_work_group_size(STEP_UNITS, STEP_ROWS, 1)))
void reset_before_reset_gradient(global float* grad_gates, ulong grad_gates_offset, global float* reset_grad, ulong reset_grad_offset,
                                 global const float* gates, ulong gates_offset,
                                 global const float* previous_hidden, ulong previous_hidden_offset, int has_previous_hidden,
                                 global const float* mask, ulong mask_offset, int has_mask,
                                 global const float* w_hh, ulong w_hh_offset, uint b, uint h) {
    STEP_TILE(c)
    float acc[GATES_MAX];
    // Reads the n block (columns 2H..3H) of the rows, writes only the r block: no overlap.
    tile_product(acc, 1, a_tile, w_tile, grad_gates + grad_gates_offset + 2 * h, grad_gates, 0, b, h, 3 * h,
                 w_hh + w_hh_offset + (ulong)2 * h * h, h, 0, h, 0, row0, col0);
    if (row >= b || c >= h) return;
    ulong e = (ulong)row * h + c;
    float r = gates[gates_offset + (ulong)row * 3 * h + c];
    float h_bar = has_previous_hidden ? previous_hidden[previous_hidden_offset + e] * (has_mask ? mask[mask_offset + e] : 1.0f)
                                      : 0.0f;
    grad_gates[grad_gates_offset + (ulong)row * 3 * h + c] = acc[0] * h_bar * r * (1.0f - r);
    reset_grad[reset_grad_offset + e] = r * acc[0];
}

// dh_0 (B, H) of every row from step 0's gate gradients (B, 3H), reset_grad and carry.
kernel __attribute__((reqd_work_group_size(STEP_UNITS, STEP_ROWS, 1)))
void reset_before_initial_gradient(global float* out, ulong out_offset, global const float* grad_gates, ulong grad_gates_offset,
                                   global const float* reset_grad, ulong reset_grad_offset,
                                   global const float* carry, ulong carry_offset,
                                   global const float* mask, ulong mask_offset, int has_mask,
                                   global const float* w_hh, ulong w_hh_offset, uint b, uint h) {
    STEP_TILE(j)
    float acc[GATES_MAX];
    tile_product(acc, 1, a_tile, w_tile, grad_gates + grad_gates_offset, grad_gates, 0, b, 2 * h, 3 * h, w_hh + w_hh_offset, h,
                 0, h, 0, row0, col0);
    if (row >= b || j >= h) return;
    ulong e = (ulong)row * h + j;
    out[out_offset + e] = reset_before_earlier_gradient(acc[0], reset_grad + reset_grad_offset, carry + carry_offset,
                                                        mask + mask_offset, has_mask, e);
}
