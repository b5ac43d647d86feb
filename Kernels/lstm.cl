// Fused LSTM cell steps, gate order i, f, g, o (CPUBackend/LSTM.swift). One work-item per
// (row, hidden unit) owns all four gates of that unit. B = batch, H = hidden size; gates are
// rows of 4H: [i | f | g | o].

// Forward: on entry gates (B, 4H) holds x_t W_ihᵀ; adds h_{t-1} W_hhᵀ (hidden_projection) and
// both biases, applies the nonlinearities, writes i, f, g, o back (the reserve), c_t and h_t (B, H).
kernel ONE_DIMENSIONAL void lstm_forward_step(global float* hidden, ulong hidden_offset, global float* cell, ulong cell_offset,
                                              global float* gates, ulong gates_offset,
                                              global const float* hidden_projection, ulong projection_offset,
                                              global const float* bias_ih, ulong bias_ih_offset,
                                              global const float* bias_hh, ulong bias_hh_offset,
                                              global const float* previous_cell, ulong previous_cell_offset, int has_previous_cell,
                                              uint b, uint h) {
    ulong e = get_global_id(0);
    if (e >= (ulong)b * h) return;
    ulong r = e / h, j = e % h;
    global float* g = gates + gates_offset + r * 4 * h;
    global const float* p = hidden_projection + projection_offset + r * 4 * h;
    global const float* bi = bias_ih + bias_ih_offset;
    global const float* bh = bias_hh + bias_hh_offset;
    #define PRE(k) ((g[(k) * h + j] + bi[(k) * h + j]) + (p[(k) * h + j] + bh[(k) * h + j]))
    float i = sigmoid_f(PRE(0)), f = sigmoid_f(PRE(1)), gg = tanh(PRE(2)), o = sigmoid_f(PRE(3));
    #undef PRE
    float c_previous = has_previous_cell ? previous_cell[previous_cell_offset + e] : 0.0f;
    float c = f * c_previous + i * gg;
    g[j] = i; g[h + j] = f; g[2 * h + j] = gg; g[3 * h + j] = o;
    cell[cell_offset + e] = c;
    hidden[hidden_offset + e] = o * tanh(c);
}

// Backward: dh = grad_output + grad_hidden, dc = grad_cell + dh·o·(1 − tanh²c) to the
// pre-activation gate gradients (B, 4H); grad_cell is overwritten with dc_{t-1} = dc ⊙ f.
kernel ONE_DIMENSIONAL void lstm_backward_step(global float* grad_gates, ulong grad_gates_offset,
                                               global float* grad_cell, ulong grad_cell_offset,
                                               global const float* grad_hidden, ulong grad_hidden_offset,
                                               global const float* grad_output, ulong grad_output_offset, int has_grad_output,
                                               global const float* gates, ulong gates_offset,
                                               global const float* cell, ulong cell_offset,
                                               global const float* previous_cell, ulong previous_cell_offset, int has_previous_cell,
                                               uint b, uint h) {
    ulong e = get_global_id(0);
    if (e >= (ulong)b * h) return;
    ulong r = e / h, j = e % h;
    global const float* g = gates + gates_offset + r * 4 * h;
    global float* dg = grad_gates + grad_gates_offset + r * 4 * h;
    float i = g[j], f = g[h + j], gg = g[2 * h + j], o = g[3 * h + j];
    float dh = (has_grad_output ? grad_output[grad_output_offset + e] : 0.0f) + grad_hidden[grad_hidden_offset + e];
    float tc = tanh(cell[cell_offset + e]);
    float dc = grad_cell[grad_cell_offset + e] + dh * o * (1.0f - tc * tc);
    float c_previous = has_previous_cell ? previous_cell[previous_cell_offset + e] : 0.0f;
    dg[j] = dc * gg * i * (1.0f - i);
    dg[h + j] = dc * c_previous * f * (1.0f - f);
    dg[2 * h + j] = dc * i * (1.0f - gg * gg);
    dg[3 * h + j] = dh * tc * o * (1.0f - o);
    grad_cell[grad_cell_offset + e] = dc * f;
}
