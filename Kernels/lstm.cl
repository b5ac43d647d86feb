// Fused LSTM cell steps, gate order i, f, g, o (CPUBackend/LSTM.swift). One work-item per
// (row, hidden unit) owns all four gates of that unit. B = batch, H = hidden size; gates are
// rows of 4H: [i | f | g | o]. The cell's arithmetic is in inline functions that the step
// kernels of time_loop.cl share.

// From the four pre-activations to i, f, g, o (written to gates[0..3]), c_t and m_t = o ⊙ tanh(c_t).
inline void lstm_cell_forward(float pre_i, float pre_f, float pre_g, float pre_o, float c_previous,
                              float* gates, float* c, float* m) {
    float i = sigmoid_f(pre_i), f = sigmoid_f(pre_f), gg = tanh(pre_g), o = sigmoid_f(pre_o);
    float cell = f * c_previous + i * gg;
    gates[0] = i; gates[1] = f; gates[2] = gg; gates[3] = o;
    *c = cell;
    *m = o * tanh(cell);
}

// From dh and the incoming dc to the pre-activation gate gradients (dgates[0..3]); returns dc_{t-1} = dc ⊙ f.
inline float lstm_cell_backward(float i, float f, float gg, float o, float c, float c_previous, float dh, float dc_next,
                                float* dgates) {
    float tc = tanh(c);
    float dc = dc_next + dh * o * (1.0f - tc * tc);
    dgates[0] = dc * gg * i * (1.0f - i);
    dgates[1] = dc * c_previous * f * (1.0f - f);
    dgates[2] = dc * i * (1.0f - gg * gg);
    dgates[3] = dh * tc * o * (1.0f - o);
    return dc * f;
}

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
    float activated[4], c, m;
    lstm_cell_forward(PRE(0), PRE(1), PRE(2), PRE(3), has_previous_cell ? previous_cell[previous_cell_offset + e] : 0.0f,
                      activated, &c, &m);
    #undef PRE
    for (int k = 0; k < 4; k++) g[k * h + j] = activated[k];
    cell[cell_offset + e] = c;
    hidden[hidden_offset + e] = m;
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
    float dh = (has_grad_output ? grad_output[grad_output_offset + e] : 0.0f) + grad_hidden[grad_hidden_offset + e];
    float c_previous = has_previous_cell ? previous_cell[previous_cell_offset + e] : 0.0f;
    float d[4];
    grad_cell[grad_cell_offset + e] = lstm_cell_backward(g[j], g[h + j], g[2 * h + j], g[3 * h + j], cell[cell_offset + e],
                                                         c_previous, dh, grad_cell[grad_cell_offset + e], d);
    for (int k = 0; k < 4; k++) dg[k * h + j] = d[k];
}
