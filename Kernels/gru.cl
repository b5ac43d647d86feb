// Fused GRU cell steps, gate order r, z, n, reset applied after the recurrent product
// (CPUBackend/GRU.swift): n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = n + z ⊙ (h − n).
// One work-item per (row, hidden unit). B = batch, H = hidden size; gates are rows of 3H. The
// cell's arithmetic is in inline functions that the step kernels of time_loop.cl share.

// From the pre-activations of r and z, x_n = W_in x + b_in and hn = W_hn h + b_hn to r, z, n
// (gates[0..2]); returns h_t.
inline float gru_cell_forward(float pre_r, float pre_z, float x_n, float hn, float h_previous, float* gates) {
    float r = sigmoid_f(pre_r), z = sigmoid_f(pre_z);
    float n = tanh(x_n + r * hn);
    gates[0] = r; gates[1] = z; gates[2] = n;
    return n + z * (h_previous - n);
}

// From dh to the pre-activation gradients of r, z and n (d[0..2]); the hidden side's n gradient
// is d[2] ⊙ r, and the direct part of dh_{t-1} is dh ⊙ z.
inline void gru_cell_backward(float r, float z, float n, float hn, float h_previous, float dh, float* d) {
    float dn = dh * (1.0f - z) * (1.0f - n * n);
    d[1] = dh * (h_previous - n) * z * (1.0f - z);
    d[0] = dn * hn * r * (1.0f - r);
    d[2] = dn;
}

// Forward: on entry gates (B, 3H) holds x_t W_ihᵀ; writes r, z, n back (the reserve),
// new_gate_hidden = W_hn h_{t-1} + b_hn and h_t (B, H).
kernel ONE_DIMENSIONAL void gru_forward_step(global float* hidden, ulong hidden_offset,
                                             global float* new_gate_hidden, ulong new_gate_hidden_offset,
                                             global float* gates, ulong gates_offset,
                                             global const float* hidden_projection, ulong projection_offset,
                                             global const float* bias_ih, ulong bias_ih_offset,
                                             global const float* bias_hh, ulong bias_hh_offset,
                                             global const float* previous_hidden, ulong previous_hidden_offset, int has_previous_hidden,
                                             uint b, uint h) {
    ulong e = get_global_id(0);
    if (e >= (ulong)b * h) return;
    ulong row = e / h, j = e % h;
    global float* g = gates + gates_offset + row * 3 * h;
    global const float* p = hidden_projection + projection_offset + row * 3 * h;
    global const float* bi = bias_ih + bias_ih_offset;
    global const float* bh = bias_hh + bias_hh_offset;
    #define PRE(k) ((g[(k) * h + j] + bi[(k) * h + j]) + (p[(k) * h + j] + bh[(k) * h + j]))
    float hn = p[2 * h + j] + bh[2 * h + j], activated[3];
    float h_previous = has_previous_hidden ? previous_hidden[previous_hidden_offset + e] : 0.0f;
    float next = gru_cell_forward(PRE(0), PRE(1), g[2 * h + j] + bi[2 * h + j], hn, h_previous, activated);
    #undef PRE
    for (int k = 0; k < 3; k++) g[k * h + j] = activated[k];
    new_gate_hidden[new_gate_hidden_offset + e] = hn;
    hidden[hidden_offset + e] = next;
}

// Unit j's backward in rows of 3H (gates g, the gradients dx and dhg): the input side's (dr, dz, dn)
// into dx and the hidden side's (dr, dz, dn ⊙ r) into dhg; returns the direct part of dh_{t-1}, z ⊙ dh.
inline float gru_unit_backward(global float* dx, global float* dhg, global const float* g, float hn, float h_previous, float dh,
                               uint h, uint j) {
    float r = g[j], z = g[h + j], d[3];
    gru_cell_backward(r, z, g[2 * h + j], hn, h_previous, dh, d);
    dx[j] = d[0]; dx[h + j] = d[1]; dx[2 * h + j] = d[2];
    dhg[j] = d[0]; dhg[h + j] = d[1]; dhg[2 * h + j] = d[2] * r;
    return dh * z;
}

// Backward: gate gradients for the input side (dr, dz, dn) and the hidden side (dr, dz, dn ⊙ r),
// both (B, 3H); grad_hidden is overwritten with z ⊙ dh (the caller adds dGh W_hh).
kernel ONE_DIMENSIONAL void gru_backward_step(global float* grad_gates_input, ulong grad_gates_input_offset,
                                              global float* grad_gates_hidden, ulong grad_gates_hidden_offset,
                                              global float* grad_hidden, ulong grad_hidden_offset,
                                              global const float* grad_output, ulong grad_output_offset, int has_grad_output,
                                              global const float* gates, ulong gates_offset,
                                              global const float* new_gate_hidden, ulong new_gate_hidden_offset,
                                              global const float* previous_hidden, ulong previous_hidden_offset, int has_previous_hidden,
                                              uint b, uint h) {
    ulong e = get_global_id(0);
    if (e >= (ulong)b * h) return;
    ulong row = e / h, j = e % h;
    global const float* g = gates + gates_offset + row * 3 * h;
    global float* dx = grad_gates_input + grad_gates_input_offset + row * 3 * h;
    global float* dhg = grad_gates_hidden + grad_gates_hidden_offset + row * 3 * h;
    float dh = (has_grad_output ? grad_output[grad_output_offset + e] : 0.0f) + grad_hidden[grad_hidden_offset + e];
    float h_previous = has_previous_hidden ? previous_hidden[previous_hidden_offset + e] : 0.0f;
    grad_hidden[grad_hidden_offset + e] = gru_unit_backward(dx, dhg, g, new_gate_hidden[new_gate_hidden_offset + e], h_previous, dh,
                                                            h, j);
}
