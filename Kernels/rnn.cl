// Fused Elman RNN cell steps (CPUBackend/RNN.swift): h' = f(W_ih x + b_ih + W_hh h + b_hh),
// f = tanh or relu. One work-item per (row, hidden unit). B = batch, H = hidden size.

// Forward: on entry gates (B, H) holds x_t W_ihᵀ; writes h_t to gates (the reserve) and hidden.
kernel ONE_DIMENSIONAL void rnn_forward_step(global float* hidden, ulong hidden_offset, global float* gates, ulong gates_offset,
                                             global const float* hidden_projection, ulong projection_offset,
                                             global const float* bias_ih, ulong bias_ih_offset,
                                             global const float* bias_hh, ulong bias_hh_offset,
                                             uint b, uint h, int activation) {
    ulong e = get_global_id(0);
    if (e >= (ulong)b * h) return;
    ulong j = e % h;
    float y = activate((gates[gates_offset + e] + bias_ih[bias_ih_offset + j])
                       + (hidden_projection[projection_offset + e] + bias_hh[bias_hh_offset + j]), activation);
    gates[gates_offset + e] = y;
    hidden[hidden_offset + e] = y;
}

// Backward: grad_gates = (grad_output + grad_hidden) ⊙ f'(h_t), with h_t in gates.
kernel ONE_DIMENSIONAL void rnn_backward_step(global float* grad_gates, ulong grad_gates_offset,
                                              global const float* grad_hidden, ulong grad_hidden_offset,
                                              global const float* grad_output, ulong grad_output_offset, int has_grad_output,
                                              global const float* gates, ulong gates_offset, ulong n, int activation) {
    ulong e = get_global_id(0);
    if (e >= n) return;
    float dh = (has_grad_output ? grad_output[grad_output_offset + e] : 0.0f) + grad_hidden[grad_hidden_offset + e];
    grad_gates[grad_gates_offset + e] = dh * activation_derivative(gates[gates_offset + e], activation);
}
