// Attention over time (CPUBackend/Attention.swift). T = time steps, B = batch, D = feature size;
// scores and weights (T, B), values (T, B, D), context (B, D), lengths (B) holding counts as floats.
// Every sum runs in ascending t (or d) from 0, as the CPU backend's loops do.

// Whether a length stored as a float is an integer in 1...steps.
inline bool is_length(float value, uint steps) {
    return value >= 1.0f && value <= (float)steps && value == trunc(value);
}

// Masked, max-shifted softmax down column b of scores, one work-item per column: weights = exp(s − m) / Σ exp
// over t < lengths[b] (all T without lengths), 0 past the length, NaN for the whole column if the
// length is not an integer in 1...T.
kernel ONE_DIMENSIONAL void sequence_softmax(global float* weights, ulong weights_offset,
                                             global const float* scores, ulong scores_offset,
                                             global const float* lengths, ulong lengths_offset, int has_lengths,
                                             uint t_count, uint b_count) {
    uint b = get_global_id(0);
    if (b >= b_count) return;
    global float* w = weights + weights_offset + b;
    global const float* s = scores + scores_offset + b;
    uint valid = t_count;
    if (has_lengths) {
        float length = lengths[lengths_offset + b];
        if (!is_length(length, t_count)) {
            for (uint t = 0; t < t_count; t++) w[(ulong)t * b_count] = NAN;
            return;
        }
        valid = (uint)length;
    }
    if (valid == 0) return;
    float m = s[0];
    for (uint t = 1; t < valid; t++) m = swift_max(m, s[(ulong)t * b_count]);
    float sum = 0.0f;
    for (uint t = 0; t < valid; t++) {
        float e = exp(s[(ulong)t * b_count] - m);
        w[(ulong)t * b_count] = e;
        sum += e;
    }
    for (uint t = 0; t < valid; t++) w[(ulong)t * b_count] = w[(ulong)t * b_count] / sum;
    for (uint t = valid; t < t_count; t++) w[(ulong)t * b_count] = 0.0f;
}

// grad_scores (T, B) = w ⊙ (grad_weights − Σ_t w·grad_weights), one work-item per column b.
kernel ONE_DIMENSIONAL void sequence_softmax_backward(global float* grad_scores, ulong grad_scores_offset,
                                                      global const float* grad_weights, ulong grad_weights_offset,
                                                      global const float* weights, ulong weights_offset,
                                                      uint t_count, uint b_count) {
    uint b = get_global_id(0);
    if (b >= b_count) return;
    global float* gs = grad_scores + grad_scores_offset + b;
    global const float* gw = grad_weights + grad_weights_offset + b;
    global const float* w = weights + weights_offset + b;
    float dot = 0.0f;
    for (uint t = 0; t < t_count; t++) dot += w[(ulong)t * b_count] * gw[(ulong)t * b_count];
    for (uint t = 0; t < t_count; t++) {
        ulong e = (ulong)t * b_count;
        gs[e] = w[e] * (gw[e] - dot);
    }
}

// context (B, D)[b, d] = Σ_t weights[t, b]·values[t, b, d], one work-item per (b, d).
kernel ONE_DIMENSIONAL void weighted_sum(global float* context, ulong context_offset,
                                         global const float* values, ulong values_offset,
                                         global const float* weights, ulong weights_offset,
                                         uint t_count, uint b_count, uint d_count) {
    ulong e = get_global_id(0);
    if (e >= (ulong)b_count * d_count) return;
    ulong b = e / d_count, j = e % d_count;
    float sum = 0.0f;
    for (uint t = 0; t < t_count; t++) {
        ulong row = (ulong)t * b_count + b;
        sum += weights[weights_offset + row] * values[values_offset + row * d_count + j];
    }
    context[context_offset + e] = sum;
}

// out (T, B, D)[t, b, d] = scale[t, b]·vector[b, d], one work-item per (t, b, d): the keys' gradient of
// batched_dot (scale = grad_scores, vector = query) and the values' gradient of weighted_sum
// (scale = weights, vector = grad_context).
kernel ONE_DIMENSIONAL void batched_dot_backward_keys(global float* out, ulong out_offset,
                                                      global const float* scale, ulong scale_offset,
                                                      global const float* vector, ulong vector_offset,
                                                      ulong n, uint b_count, uint d_count) {
    ulong e = get_global_id(0);
    if (e >= n) return;
    ulong row = e / d_count, j = e % d_count, b = row % b_count;
    out[out_offset + e] = scale[scale_offset + row] * vector[vector_offset + b * d_count + j];
}

// scores (T, B)[t, b] = Σ_d keys[t, b, d]·query[b, d] in ascending d, one work-item per (t, b): Luong's
// dot score, and the weights' gradient of weighted_sum (keys = values, query = grad_context).
kernel ONE_DIMENSIONAL void batched_dot(global float* scores, ulong scores_offset,
                                        global const float* keys, ulong keys_offset,
                                        global const float* query, ulong query_offset,
                                        ulong rows, uint b_count, uint d_count) {
    ulong row = get_global_id(0);
    if (row >= rows) return;
    ulong b = row % b_count;
    global const float* q = query + query_offset + b * d_count;
    global const float* k = keys + keys_offset + row * d_count;
    float dot = 0.0f;
    for (uint j = 0; j < d_count; j++) dot += k[j] * q[j];
    scores[scores_offset + row] = dot;
}
