// Cell steps of a GRU with the reset gate before the recurrent product (Cho et al. 2014; Keras's
// reset_after=False; OpenCLBackend/GRUResetBefore.swift), PyTorch's gate order r, z, n and weights:
// n = tanh(W_in x + b_in + W_hn (r ⊙ h̄) + b_hn), h' = n + z ⊙ (h − n), h̄ what the products read.
// The host runs them around the n gate's own product. One work-item per (row, hidden unit).
// B = batch, H = hidden size; gates are rows of 3H: [r | z | n].

// r and z (with both biases) into gates, reset_hidden = r ⊙ h̄. hidden_projection (B, 2H) = h̄ W_{hr,hz}ᵀ.
kernel ONE_DIMENSIONAL void gru_reset_gate_step(global float* reset_hidden, ulong reset_hidden_offset,
                                                global float* gates, ulong gates_offset,
                                                global const float* hidden_projection, ulong projection_offset,
                                                global const float* bias_ih, ulong bias_ih_offset,
                                                global const float* bias_hh, ulong bias_hh_offset,
                                                global const float* product_hidden, ulong product_hidden_offset, int has_product_hidden,
                                                uint b, uint h) {
    ulong e = get_global_id(0);
    if (e >= (ulong)b * h) return;
    ulong row = e / h, j = e % h;
    global float* g = gates + gates_offset + row * 3 * h;
    global const float* p = hidden_projection + projection_offset + row * 2 * h;
    global const float* bi = bias_ih + bias_ih_offset;
    global const float* bh = bias_hh + bias_hh_offset;
    float r = sigmoid_f((g[j] + bi[j]) + (p[j] + bh[j]));
    float z = sigmoid_f((g[h + j] + bi[h + j]) + (p[h + j] + bh[h + j]));
    float h_bar = has_product_hidden ? product_hidden[product_hidden_offset + e] : 0.0f;
    g[j] = r;
    g[h + j] = z;
    reset_hidden[reset_hidden_offset + e] = r * h_bar;
}

// n = tanh(x_n + b_in + new_gate_projection + b_hn) into gates, h_t = n + z ⊙ (h_{t-1} − n).
kernel ONE_DIMENSIONAL void gru_reset_before_step(global float* hidden, ulong hidden_offset,
                                                  global float* gates, ulong gates_offset,
                                                  global const float* new_gate_projection, ulong projection_offset,
                                                  global const float* bias_ih, ulong bias_ih_offset,
                                                  global const float* bias_hh, ulong bias_hh_offset,
                                                  global const float* previous_hidden, ulong previous_hidden_offset, int has_previous_hidden,
                                                  uint b, uint h) {
    ulong e = get_global_id(0);
    if (e >= (ulong)b * h) return;
    ulong row = e / h, j = e % h;
    global float* g = gates + gates_offset + row * 3 * h;
    global const float* bi = bias_ih + bias_ih_offset;
    global const float* bh = bias_hh + bias_hh_offset;
    float n = tanh((g[2 * h + j] + bi[2 * h + j]) + (new_gate_projection[projection_offset + e] + bh[2 * h + j]));
    float h_previous = has_previous_hidden ? previous_hidden[previous_hidden_offset + e] : 0.0f;
    g[2 * h + j] = n;
    hidden[hidden_offset + e] = n + g[h + j] * (h_previous - n);
}

// dz and dn into grad_gates from dh = dy + grad_hidden; grad_hidden is overwritten with z ⊙ dh.
kernel ONE_DIMENSIONAL void gru_reset_before_backward_step(global float* grad_gates, ulong grad_gates_offset,
                                                           global float* grad_hidden, ulong grad_hidden_offset,
                                                           global const float* grad_output, ulong grad_output_offset, int has_grad_output,
                                                           global const float* gates, ulong gates_offset,
                                                           global const float* previous_hidden, ulong previous_hidden_offset, int has_previous_hidden,
                                                           uint b, uint h) {
    ulong e = get_global_id(0);
    if (e >= (ulong)b * h) return;
    ulong row = e / h, j = e % h;
    global const float* g = gates + gates_offset + row * 3 * h;
    global float* dg = grad_gates + grad_gates_offset + row * 3 * h;
    float z = g[h + j], n = g[2 * h + j];
    float dh = (has_grad_output ? grad_output[grad_output_offset + e] : 0.0f) + grad_hidden[grad_hidden_offset + e];
    float h_previous = has_previous_hidden ? previous_hidden[previous_hidden_offset + e] : 0.0f;
    dg[h + j] = dh * (h_previous - n) * z * (1.0f - z);
    dg[2 * h + j] = dh * (1.0f - z) * (1.0f - n * n);
    grad_hidden[grad_hidden_offset + e] = z * dh;
}

// dr = d(r ⊙ h̄) ⊙ h̄ ⊙ r(1−r) into grad_gates; grad_reset_hidden (d(r ⊙ h̄) on entry) becomes r ⊙ d(r ⊙ h̄).
kernel ONE_DIMENSIONAL void gru_reset_gate_backward_step(global float* grad_gates, ulong grad_gates_offset,
                                                         global float* grad_reset_hidden, ulong grad_reset_hidden_offset,
                                                         global const float* gates, ulong gates_offset,
                                                         global const float* product_hidden, ulong product_hidden_offset, int has_product_hidden,
                                                         uint b, uint h) {
    ulong e = get_global_id(0);
    if (e >= (ulong)b * h) return;
    ulong row = e / h, j = e % h;
    float r = gates[gates_offset + row * 3 * h + j];
    float d = grad_reset_hidden[grad_reset_hidden_offset + e];
    float h_bar = has_product_hidden ? product_hidden[product_hidden_offset + e] : 0.0f;
    grad_gates[grad_gates_offset + row * 3 * h + j] = d * h_bar * r * (1.0f - r);
    grad_reset_hidden[grad_reset_hidden_offset + e] = r * d;
}
