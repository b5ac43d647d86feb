// Layer normalisation (Ba et al. 2016) and the layer-normalised LSTM cell step
// (OpenCLBackend/LayerNorm.swift): x̂ = (x − μ)/σ over each row, σ = √(var + 1e-5) with the biased
// variance (nn.LayerNorm). One work-item per row, its sums in ascending order.
// R = rows, W = width, B = batch, H = hidden size; LSTM gates are rows of 4H: [i | f | g | o].

// x̂ of the w values at x into normalized (which may be x); returns 1/σ.
inline float layer_norm_row(global const float* x, global float* normalized, uint w) {
    float sum = 0.0f;
    for (uint k = 0; k < w; k++) sum += x[k];
    float mean = sum / (float)w, squares = 0.0f;
    for (uint k = 0; k < w; k++) squares += (x[k] - mean) * (x[k] - mean);
    float inverse = 1.0f / sqrt(squares / (float)w + 1e-5f);
    for (uint k = 0; k < w; k++) normalized[k] = (x[k] - mean) * inverse;
    return inverse;
}

// dx = (1/σ)(dx̂ − mean(dx̂) − x̂ ⊙ mean(dx̂ ⊙ x̂)), dx̂ = dy ⊙ gain; dx may be dy.
inline void layer_norm_row_backward(global float* dx, global const float* dy, global const float* xhat,
                                    global const float* gain, float inverse, uint w) {
    float sum = 0.0f, dot = 0.0f;
    for (uint k = 0; k < w; k++) {
        float d = dy[k] * gain[k];
        sum += d;
        dot += d * xhat[k];
    }
    float mean_d = sum / (float)w, mean_dx = dot / (float)w;
    for (uint k = 0; k < w; k++) dx[k] = inverse * (dy[k] * gain[k] - mean_d - xhat[k] * mean_dx);
}

// output = x̂ ⊙ gain (+ bias), normalized = x̂, inverse_deviation = 1/σ, per row of w.
kernel ONE_DIMENSIONAL void layer_norm_forward(global float* output, ulong output_offset,
                                               global float* normalized, ulong normalized_offset,
                                               global float* inverse_deviation, ulong inverse_deviation_offset,
                                               global const float* input, ulong input_offset,
                                               global const float* gain, ulong gain_offset,
                                               global const float* bias, ulong bias_offset, int has_bias,
                                               uint rows, uint w) {
    ulong row = get_global_id(0);
    if (row >= rows) return;
    global float* n = normalized + normalized_offset + row * w;
    global float* y = output + output_offset + row * w;
    inverse_deviation[inverse_deviation_offset + row] = layer_norm_row(input + input_offset + row * w, n, w);
    for (uint k = 0; k < w; k++) y[k] = n[k] * gain[gain_offset + k] + (has_bias ? bias[bias_offset + k] : 0.0f);
}

kernel ONE_DIMENSIONAL void layer_norm_backward(global float* grad_input, ulong grad_input_offset,
                                                global const float* grad_output, ulong grad_output_offset,
                                                global const float* normalized, ulong normalized_offset,
                                                global const float* inverse_deviation, ulong inverse_deviation_offset,
                                                global const float* gain, ulong gain_offset,
                                                uint rows, uint w) {
    ulong row = get_global_id(0);
    if (row >= rows) return;
    layer_norm_row_backward(grad_input + grad_input_offset + row * w, grad_output + grad_output_offset + row * w,
                            normalized + normalized_offset + row * w, gain + gain_offset,
                            inverse_deviation[inverse_deviation_offset + row], w);
}

// The recurrent norm of h̄ W_hhᵀ (into normalized_projection), the gates from both normalised sides
// and biases, c̃ = f ⊙ c_{t-1} + i ⊙ g, c_t = x̂(c̃) ⊙ gain + bias, h_t = o ⊙ tanh(c_t); one work-item
// per batch row.
kernel ONE_DIMENSIONAL void layer_norm_lstm_forward_step(global float* hidden, ulong hidden_offset,
                                                         global float* cell, ulong cell_offset,
                                                         global float* normalized_cell, ulong normalized_cell_offset,
                                                         global float* cell_inverse_deviation, ulong cell_inverse_deviation_offset,
                                                         global float* normalized_projection, ulong normalized_projection_offset,
                                                         global float* projection_inverse_deviation, ulong projection_inverse_deviation_offset,
                                                         global float* gates, ulong gates_offset,
                                                         global const float* hidden_projection, ulong projection_offset,
                                                         global const float* bias_ih, ulong bias_ih_offset,
                                                         global const float* bias_hh, ulong bias_hh_offset,
                                                         global const float* projection_gain, ulong projection_gain_offset,
                                                         global const float* cell_gain, ulong cell_gain_offset,
                                                         global const float* cell_bias, ulong cell_bias_offset,
                                                         global const float* previous_cell, ulong previous_cell_offset, int has_previous_cell,
                                                         uint b, uint h) {
    ulong row = get_global_id(0);
    if (row >= b) return;
    global float* g = gates + gates_offset + row * 4 * h;
    global float* np = normalized_projection + normalized_projection_offset + row * 4 * h;
    global const float* pg = projection_gain + projection_gain_offset;
    global const float* bi = bias_ih + bias_ih_offset;
    global const float* bh = bias_hh + bias_hh_offset;
    global float* c = cell + cell_offset + row * h;
    global float* n = normalized_cell + normalized_cell_offset + row * h;
    // The recurrent norm of h̄ W_hhᵀ first.
    projection_inverse_deviation[projection_inverse_deviation_offset + row] =
        layer_norm_row(hidden_projection + projection_offset + row * 4 * h, np, 4 * h);
    for (uint j = 0; j < h; j++) {
        #define PRE(k) ((g[(k) * h + j] + bi[(k) * h + j]) + (np[(k) * h + j] * pg[(k) * h + j] + bh[(k) * h + j]))
        float i = sigmoid_f(PRE(0)), f = sigmoid_f(PRE(1)), gg = tanh(PRE(2)), o = sigmoid_f(PRE(3));
        #undef PRE
        g[j] = i; g[h + j] = f; g[2 * h + j] = gg; g[3 * h + j] = o;
        float previous = has_previous_cell ? previous_cell[previous_cell_offset + row * h + j] : 0.0f;
        c[j] = f * previous + i * gg;
    }
    cell_inverse_deviation[cell_inverse_deviation_offset + row] = layer_norm_row(c, n, h);
    for (uint j = 0; j < h; j++) {
        float value = n[j] * cell_gain[cell_gain_offset + j] + cell_bias[cell_bias_offset + j];
        c[j] = value;
        hidden[hidden_offset + row * h + j] = g[3 * h + j] * tanh(value);
    }
}

// dc_t = grad_cell + dh ⊙ o ⊙ (1 − tanh²(c_t)) into grad_cell_output, the gate gradients through
// dc̃ (the normalisation's backward), grad_cell ← f ⊙ dc̃, and the gates' gradient back through the
// recurrent norm into grad_projection; one work-item per batch row.
kernel ONE_DIMENSIONAL void layer_norm_lstm_backward_step(global float* grad_gates, ulong grad_gates_offset,
                                                          global float* grad_projection, ulong grad_projection_offset,
                                                          global float* grad_cell, ulong grad_cell_offset,
                                                          global float* grad_cell_output, ulong grad_cell_output_offset,
                                                          global const float* grad_hidden, ulong grad_hidden_offset,
                                                          global const float* grad_output, ulong grad_output_offset, int has_grad_output,
                                                          global const float* gates, ulong gates_offset,
                                                          global const float* cell, ulong cell_offset,
                                                          global const float* normalized_cell, ulong normalized_cell_offset,
                                                          global const float* cell_inverse_deviation, ulong cell_inverse_deviation_offset,
                                                          global const float* normalized_projection, ulong normalized_projection_offset,
                                                          global const float* projection_inverse_deviation, ulong projection_inverse_deviation_offset,
                                                          global const float* projection_gain, ulong projection_gain_offset,
                                                          global const float* cell_gain, ulong cell_gain_offset,
                                                          global const float* previous_cell, ulong previous_cell_offset, int has_previous_cell,
                                                          uint b, uint h) {
    ulong row = get_global_id(0);
    if (row >= b) return;
    global const float* g = gates + gates_offset + row * 4 * h;
    global float* dg = grad_gates + grad_gates_offset + row * 4 * h;
    global float* dc = grad_cell + grad_cell_offset + row * h;
    global float* dco = grad_cell_output + grad_cell_output_offset + row * h;
    for (uint j = 0; j < h; j++) {
        ulong e = row * h + j;
        float o = g[3 * h + j], tc = tanh(cell[cell_offset + e]);
        float dh = (has_grad_output ? grad_output[grad_output_offset + e] : 0.0f) + grad_hidden[grad_hidden_offset + e];
        dco[j] = dc[j] + dh * o * (1.0f - tc * tc);
        dg[3 * h + j] = dh * tc * o * (1.0f - o);
    }
    layer_norm_row_backward(dc, dco, normalized_cell + normalized_cell_offset + row * h, cell_gain + cell_gain_offset,
                            cell_inverse_deviation[cell_inverse_deviation_offset + row], h);
    for (uint j = 0; j < h; j++) {
        float i = g[j], f = g[h + j], gg = g[2 * h + j], d = dc[j];
        float previous = has_previous_cell ? previous_cell[previous_cell_offset + row * h + j] : 0.0f;
        dg[j] = d * gg * i * (1.0f - i);
        dg[h + j] = d * previous * f * (1.0f - f);
        dg[2 * h + j] = d * i * (1.0f - gg * gg);
        dc[j] = d * f;
    }
    // Back through the recurrent norm.
    layer_norm_row_backward(grad_projection + grad_projection_offset + row * 4 * h, dg,
                            normalized_projection + normalized_projection_offset + row * 4 * h,
                            projection_gain + projection_gain_offset,
                            projection_inverse_deviation[projection_inverse_deviation_offset + row], 4 * h);
}
