// Layer normalisation (Ba et al. 2016) and the layer-normalised LSTM and GRU cell steps
// (OpenCLBackend/LayerNorm.swift): x̂ = (x − μ)/σ over each row, σ = √(var + 1e-5) with the biased
// variance (nn.LayerNorm), the variance from the centred squares (a second pass).
//
// Mapping: a work-group of L × S work-items holds S rows (get_local_size(1)), L lanes
// (get_local_size(0), a power of two) a row. A row is U units of G values each: a plain norm has
// U = W units of 1, a cell's recurrent norm U = H units of G gates (value k·H + j of unit j), c's
// norm U = H units of 1. Lane l owns units l, l + L, l + 2L, …: it computes their gates and states
// and their terms of the row's sums. A sum has P partials (P = `lanes`: the smallest power of two
// ≥ U, at most NORM_MAX_LANES, a function of the width only); partial p adds the terms of units
// p, p + P, p + 2P, … in ascending order (a unit's G values in gate order), and the P partials
// are added in a fixed pairwise tree in local memory. The order depends on neither L nor S, so a
// row's sums have the same bits for every group size and device. L ≤ P, so every lane owns whole
// partials. Every work-item of a group meets every barrier; a slot past the last row has U = 0.
// R = rows, W = width, B = batch, H = hidden size; LSTM gates are rows of 4H [i | f | g | o],
// GRU's rows of 3H [r | z | n].

#define NORM_MAX_LANES 256

// Where a work-item is: its row, its lane, the row's lanes and whether the row exists.
typedef struct { ulong row; uint lane, width; bool live; } norm_place;

inline norm_place norm_where(uint rows) {
    norm_place p;
    p.row = (ulong)get_group_id(1) * get_local_size(1) + get_local_id(1);
    p.lane = get_local_id(0);
    p.width = get_local_size(0);
    p.live = p.row < rows;
    if (!p.live) p.row = 0;
    return p;
}

// The row's partials in local memory: `lanes` floats for each row slot of the group (`count` sums).
inline local float* norm_partials(local float* scratch, uint lanes, uint count) {
    return scratch + get_local_id(1) * lanes * count;
}

// Adds partials[0..lanes) in the fixed tree and returns the total to every lane; the caller has
// written its partials. All the group's work-items call it together.
inline float norm_tree(local float* partials, uint lanes, norm_place at) {
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint span = lanes / 2; span > 0; span >>= 1) {
        for (uint q = at.lane; q < span; q += at.width) partials[q] = partials[q] + partials[q + span];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float total = partials[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return total;
}

// The same for two sums side by side (partials and partials + lanes); returns both.
inline float2 norm_tree2(local float* partials, uint lanes, norm_place at) {
    local float* second = partials + lanes;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint span = lanes / 2; span > 0; span >>= 1) {
        for (uint q = at.lane; q < span; q += at.width) {
            partials[q] = partials[q] + partials[q + span];
            second[q] = second[q] + second[q + span];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float2 total = (float2)(partials[0], second[0]);
    barrier(CLK_LOCAL_MEM_FENCE);
    return total;
}

// Σ x, or Σ (x − mean)² with `centred`, over the row's u units of g values (value k·h + j of unit j).
inline float norm_sum(local float* partials, uint lanes, norm_place at, global const float* x, uint g, uint u, uint h,
                      float mean, int centred) {
    for (uint p = at.lane; p < lanes; p += at.width) {
        float s = 0.0f;
        for (uint j = p; j < u; j += lanes) {
            for (uint k = 0; k < g; k++) {
                float v = x[k * h + j];
                if (centred) { v = v - mean; s += v * v; } else { s += v; }
            }
        }
        partials[p] = s;
    }
    return norm_tree(partials, lanes, at);
}

// 1/σ of the row's u units of g values, and its mean into *mean.
inline float norm_statistics(local float* partials, uint lanes, norm_place at, global const float* x, uint g, uint u,
                             uint h, float* mean) {
    float count = (float)(g * h);
    float m = norm_sum(partials, lanes, at, x, g, u, h, 0.0f, 0) / count;
    *mean = m;
    return 1.0f / sqrt(norm_sum(partials, lanes, at, x, g, u, h, m, 1) / count + 1e-5f);
}

// mean(dx̂) and mean(dx̂ ⊙ x̂) of the row, dx̂ = dy ⊙ gain, over u units of g values.
inline float2 norm_backward_means(local float* partials, uint lanes, norm_place at, global const float* dy,
                                  global const float* gain, global const float* xhat, uint g, uint u, uint h) {
    for (uint p = at.lane; p < lanes; p += at.width) {
        float s = 0.0f, dot = 0.0f;
        for (uint j = p; j < u; j += lanes) {
            for (uint k = 0; k < g; k++) {
                float d = dy[k * h + j] * gain[k * h + j];
                s += d;
                dot += d * xhat[k * h + j];
            }
        }
        partials[p] = s;
        partials[lanes + p] = dot;
    }
    return norm_tree2(partials, lanes, at) / (float)(g * h);
}

// dx = (1/σ)(dx̂ − mean(dx̂) − x̂ ⊙ mean(dx̂ ⊙ x̂)) for the lane's units; dx may be dy.
inline void norm_backward_units(global float* dx, global const float* dy, global const float* gain, global const float* xhat,
                                float inverse, float2 means, uint g, uint u, uint h, norm_place at) {
    for (uint j = at.lane; j < u; j += at.width) {
        for (uint k = 0; k < g; k++) {
            uint e = k * h + j;
            dx[e] = inverse * (dy[e] * gain[e] - means.x - xhat[e] * means.y);
        }
    }
}

// output = x̂ ⊙ gain (+ bias), normalized = x̂, inverse_deviation = 1/σ, per row of w; output and
// normalized may be input.
kernel void layer_norm_forward(global float* output, ulong output_offset,
                               global float* normalized, ulong normalized_offset,
                               global float* inverse_deviation, ulong inverse_deviation_offset,
                               global const float* input, ulong input_offset,
                               global const float* gain, ulong gain_offset,
                               global const float* bias, ulong bias_offset, int has_bias,
                               local float* scratch, uint rows, uint w, uint lanes) {
    norm_place at = norm_where(rows);
    local float* partials = norm_partials(scratch, lanes, 1);
    uint u = at.live ? w : 0;
    global const float* x = input + input_offset + at.row * w;
    float mean, inverse = norm_statistics(partials, lanes, at, x, 1, u, w, &mean);
    global float* n = normalized + normalized_offset + at.row * w;
    global float* y = output + output_offset + at.row * w;
    for (uint k = at.lane; k < u; k += at.width) {
        float v = (x[k] - mean) * inverse;
        n[k] = v;
        y[k] = v * gain[gain_offset + k] + (has_bias ? bias[bias_offset + k] : 0.0f);
    }
    if (at.live && at.lane == 0) inverse_deviation[inverse_deviation_offset + at.row] = inverse;
}

// grad_input = the gradient through the norm of grad_output, per row of w; grad_input may be grad_output.
kernel void layer_norm_backward(global float* grad_input, ulong grad_input_offset,
                                global const float* grad_output, ulong grad_output_offset,
                                global const float* normalized, ulong normalized_offset,
                                global const float* inverse_deviation, ulong inverse_deviation_offset,
                                global const float* gain, ulong gain_offset,
                                local float* scratch, uint rows, uint w, uint lanes) {
    norm_place at = norm_where(rows);
    local float* partials = norm_partials(scratch, lanes, 2);
    uint u = at.live ? w : 0;
    global const float* dy = grad_output + grad_output_offset + at.row * w;
    global const float* xhat = normalized + normalized_offset + at.row * w;
    float2 means = norm_backward_means(partials, lanes, at, dy, gain + gain_offset, xhat, 1, u, w);
    norm_backward_units(grad_input + grad_input_offset + at.row * w, dy, gain + gain_offset, xhat,
                        inverse_deviation[inverse_deviation_offset + at.row], means, 1, u, w, at);
}

// The recurrent norm of h̄ W_hhᵀ (into normalized_projection), the gates from both normalised sides
// and biases, c̃ = f ⊙ c_{t-1} + i ⊙ g, c_t = x̂(c̃) ⊙ gain + bias, h_t = o ⊙ tanh(c_t). The lane
// computes c̃ of its units as it adds them into the cell norm's partials.
kernel void layer_norm_lstm_forward_step(global float* hidden, ulong hidden_offset,
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
                                         local float* scratch, uint b, uint h, uint lanes) {
    norm_place at = norm_where(b);
    local float* partials = norm_partials(scratch, lanes, 1);
    uint u = at.live ? h : 0;
    ulong row = at.row;
    global float* g = gates + gates_offset + row * 4 * h;
    global float* np = normalized_projection + normalized_projection_offset + row * 4 * h;
    global const float* x = hidden_projection + projection_offset + row * 4 * h;
    global const float* pg = projection_gain + projection_gain_offset;
    global const float* bi = bias_ih + bias_ih_offset;
    global const float* bh = bias_hh + bias_hh_offset;
    global float* c = cell + cell_offset + row * h;
    global float* n = normalized_cell + normalized_cell_offset + row * h;
    // The recurrent norm of h̄ W_hhᵀ first.
    float mean, inverse = norm_statistics(partials, lanes, at, x, 4, u, h, &mean);
    if (at.live && at.lane == 0) projection_inverse_deviation[projection_inverse_deviation_offset + row] = inverse;
    for (uint p = at.lane; p < lanes; p += at.width) {
        float s = 0.0f;
        for (uint j = p; j < u; j += lanes) {
            float a[4];
            for (uint k = 0; k < 4; k++) {
                uint e = k * h + j;
                float v = (x[e] - mean) * inverse;
                np[e] = v;
                a[k] = (g[e] + bi[e]) + (v * pg[e] + bh[e]);
            }
            float i = sigmoid_f(a[0]), f = sigmoid_f(a[1]), gg = tanh(a[2]), o = sigmoid_f(a[3]);
            g[j] = i; g[h + j] = f; g[2 * h + j] = gg; g[3 * h + j] = o;
            float previous = has_previous_cell ? previous_cell[previous_cell_offset + row * h + j] : 0.0f;
            float candidate = f * previous + i * gg;
            c[j] = candidate;
            s += candidate;
        }
        partials[p] = s;
    }
    float cell_mean = norm_tree(partials, lanes, at) / (float)h;
    // The lane's own c̃ values, read back.
    float cell_inverse = 1.0f / sqrt(norm_sum(partials, lanes, at, c, 1, u, h, cell_mean, 1) / (float)h + 1e-5f);
    if (at.live && at.lane == 0) cell_inverse_deviation[cell_inverse_deviation_offset + row] = cell_inverse;
    for (uint j = at.lane; j < u; j += at.width) {
        float normal = (c[j] - cell_mean) * cell_inverse;
        n[j] = normal;
        float value = normal * cell_gain[cell_gain_offset + j] + cell_bias[cell_bias_offset + j];
        c[j] = value;
        hidden[hidden_offset + row * h + j] = g[3 * h + j] * tanh(value);
    }
}

// dc_t = grad_cell + dh ⊙ o ⊙ (1 − tanh²(c_t)) into grad_cell_output, the gate gradients through
// dc̃ (the normalisation's backward), grad_cell ← f ⊙ dc̃, and the gates' gradient back through the
// recurrent norm into grad_projection.
kernel void layer_norm_lstm_backward_step(global float* grad_gates, ulong grad_gates_offset,
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
                                          local float* scratch, uint b, uint h, uint lanes) {
    norm_place at = norm_where(b);
    local float* partials = norm_partials(scratch, lanes, 2);
    uint u = at.live ? h : 0;
    ulong row = at.row;
    global const float* g = gates + gates_offset + row * 4 * h;
    global float* dg = grad_gates + grad_gates_offset + row * 4 * h;
    global float* dc = grad_cell + grad_cell_offset + row * h;
    global float* dco = grad_cell_output + grad_cell_output_offset + row * h;
    global const float* cg = cell_gain + cell_gain_offset;
    global const float* cn = normalized_cell + normalized_cell_offset + row * h;
    global const float* pg = projection_gain + projection_gain_offset;
    global const float* np = normalized_projection + normalized_projection_offset + row * 4 * h;
    // dc_t and do, adding dc_t ⊙ γ_c and that ⊙ ĉ into c's norm's partials.
    for (uint p = at.lane; p < lanes; p += at.width) {
        float s = 0.0f, dot = 0.0f;
        for (uint j = p; j < u; j += lanes) {
            ulong e = row * h + j;
            float o = g[3 * h + j], tc = tanh(cell[cell_offset + e]);
            float dh = (has_grad_output ? grad_output[grad_output_offset + e] : 0.0f) + grad_hidden[grad_hidden_offset + e];
            float total = dc[j] + dh * o * (1.0f - tc * tc);
            dco[j] = total;
            dg[3 * h + j] = dh * tc * o * (1.0f - o);
            float d = total * cg[j];
            s += d;
            dot += d * cn[j];
        }
        partials[p] = s;
        partials[lanes + p] = dot;
    }
    float2 cell_means = norm_tree2(partials, lanes, at) / (float)h;
    float cell_inverse = cell_inverse_deviation[cell_inverse_deviation_offset + row];
    // dc̃, the gates' gradients, dc_{t-1}; their terms of the recurrent norm's partials.
    for (uint p = at.lane; p < lanes; p += at.width) {
        float s = 0.0f, dot = 0.0f;
        for (uint j = p; j < u; j += lanes) {
            float d = cell_inverse * (dco[j] * cg[j] - cell_means.x - cn[j] * cell_means.y);
            float i = g[j], f = g[h + j], gg = g[2 * h + j];
            float previous = has_previous_cell ? previous_cell[previous_cell_offset + row * h + j] : 0.0f;
            dg[j] = d * gg * i * (1.0f - i);
            dg[h + j] = d * previous * f * (1.0f - f);
            dg[2 * h + j] = d * i * (1.0f - gg * gg);
            dc[j] = d * f;
            for (uint k = 0; k < 4; k++) {
                uint e = k * h + j;
                float v = dg[e] * pg[e];
                s += v;
                dot += v * np[e];
            }
        }
        partials[p] = s;
        partials[lanes + p] = dot;
    }
    float2 means = norm_tree2(partials, lanes, at) / (float)(4 * h);
    // Back through the recurrent norm.
    norm_backward_units(grad_projection + grad_projection_offset + row * 4 * h, dg, pg, np,
                        projection_inverse_deviation[projection_inverse_deviation_offset + row], means, 4, u, h, at);
}

// The layer-normalised GRU's forward step: the recurrent norm of h̄ W_hhᵀ (into
// normalized_projection), then the GRU step of gru.cl on LN_hh(h̄ W_hhᵀ) = x̂ ⊙ γ_hh: r, z, n into
// gates, new_gate_hidden = x̂_n ⊙ γ_hn + b_hn and h_t (B, H). On entry gates holds the input side's
// normalised pre-activations.
kernel void layer_norm_gru_forward_step(global float* hidden, ulong hidden_offset,
                                        global float* new_gate_hidden, ulong new_gate_hidden_offset,
                                        global float* normalized_projection, ulong normalized_projection_offset,
                                        global float* projection_inverse_deviation, ulong projection_inverse_deviation_offset,
                                        global float* gates, ulong gates_offset,
                                        global const float* hidden_projection, ulong projection_offset,
                                        global const float* bias_ih, ulong bias_ih_offset,
                                        global const float* bias_hh, ulong bias_hh_offset,
                                        global const float* projection_gain, ulong projection_gain_offset,
                                        global const float* previous_hidden, ulong previous_hidden_offset, int has_previous_hidden,
                                        local float* scratch, uint b, uint h, uint lanes) {
    norm_place at = norm_where(b);
    local float* partials = norm_partials(scratch, lanes, 1);
    uint u = at.live ? h : 0;
    ulong row = at.row;
    global float* g = gates + gates_offset + row * 3 * h;
    global float* np = normalized_projection + normalized_projection_offset + row * 3 * h;
    global const float* x = hidden_projection + projection_offset + row * 3 * h;
    global const float* pg = projection_gain + projection_gain_offset;
    global const float* bi = bias_ih + bias_ih_offset;
    global const float* bh = bias_hh + bias_hh_offset;
    float mean, inverse = norm_statistics(partials, lanes, at, x, 3, u, h, &mean);
    if (at.live && at.lane == 0) projection_inverse_deviation[projection_inverse_deviation_offset + row] = inverse;
    for (uint j = at.lane; j < u; j += at.width) {
        float side[3];   // x̂ ⊙ γ_hh of r, z, n
        for (uint k = 0; k < 3; k++) {
            uint e = k * h + j;
            float v = (x[e] - mean) * inverse;
            np[e] = v;
            side[k] = v * pg[e];
        }
        ulong e = row * h + j;
        float hn = side[2] + bh[2 * h + j], activated[3];
        float h_previous = has_previous_hidden ? previous_hidden[previous_hidden_offset + e] : 0.0f;
        float next = gru_cell_forward((g[j] + bi[j]) + (side[0] + bh[j]), (g[h + j] + bi[h + j]) + (side[1] + bh[h + j]),
                                      g[2 * h + j] + bi[2 * h + j], hn, h_previous, activated);
        for (uint k = 0; k < 3; k++) g[k * h + j] = activated[k];
        new_gate_hidden[new_gate_hidden_offset + e] = hn;
        hidden[hidden_offset + e] = next;
    }
}

// The layer-normalised GRU's backward step: gru.cl's gate gradients for the input side (dr, dz,
// dn) and the hidden side (dr, dz, dn ⊙ r), both (B, 3H), grad_hidden ← z ⊙ dh (the caller adds
// the product's part), and the hidden side's gradient back through the recurrent norm into
// grad_projection (B, 3H).
kernel void layer_norm_gru_backward_step(global float* grad_gates_input, ulong grad_gates_input_offset,
                                         global float* grad_gates_hidden, ulong grad_gates_hidden_offset,
                                         global float* grad_projection, ulong grad_projection_offset,
                                         global float* grad_hidden, ulong grad_hidden_offset,
                                         global const float* grad_output, ulong grad_output_offset, int has_grad_output,
                                         global const float* gates, ulong gates_offset,
                                         global const float* new_gate_hidden, ulong new_gate_hidden_offset,
                                         global const float* normalized_projection, ulong normalized_projection_offset,
                                         global const float* projection_inverse_deviation, ulong projection_inverse_deviation_offset,
                                         global const float* projection_gain, ulong projection_gain_offset,
                                         global const float* previous_hidden, ulong previous_hidden_offset, int has_previous_hidden,
                                         local float* scratch, uint b, uint h, uint lanes) {
    norm_place at = norm_where(b);
    local float* partials = norm_partials(scratch, lanes, 2);
    uint u = at.live ? h : 0;
    ulong row = at.row;
    global const float* g = gates + gates_offset + row * 3 * h;
    global float* dx = grad_gates_input + grad_gates_input_offset + row * 3 * h;
    global float* dhg = grad_gates_hidden + grad_gates_hidden_offset + row * 3 * h;
    global const float* pg = projection_gain + projection_gain_offset;
    global const float* np = normalized_projection + normalized_projection_offset + row * 3 * h;
    for (uint p = at.lane; p < lanes; p += at.width) {
        float s = 0.0f, dot = 0.0f;
        for (uint j = p; j < u; j += lanes) {
            ulong e = row * h + j;
            float r = g[j], z = g[h + j];
            float dh = (has_grad_output ? grad_output[grad_output_offset + e] : 0.0f) + grad_hidden[grad_hidden_offset + e];
            float h_previous = has_previous_hidden ? previous_hidden[previous_hidden_offset + e] : 0.0f;
            float d[3];
            gru_cell_backward(r, z, g[2 * h + j], new_gate_hidden[new_gate_hidden_offset + e], h_previous, dh, d);
            dx[j] = d[0]; dx[h + j] = d[1]; dx[2 * h + j] = d[2];
            float side[3] = {d[0], d[1], d[2] * r};
            for (uint k = 0; k < 3; k++) {
                uint f = k * h + j;
                dhg[f] = side[k];
                float v = side[k] * pg[f];
                s += v;
                dot += v * np[f];
            }
            grad_hidden[grad_hidden_offset + e] = dh * z;
        }
        partials[p] = s;
        partials[lanes + p] = dot;
    }
    float2 means = norm_tree2(partials, lanes, at) / (float)(3 * h);
    norm_backward_units(grad_projection + grad_projection_offset + row * 3 * h, dhg, pg, np,
                        projection_inverse_deviation[projection_inverse_deviation_offset + row], means, 3, u, h, at);
}
