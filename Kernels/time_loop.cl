// Fused recurrent time steps (OpenCLBackend/TimeLoop.swift): one launch per time step, each
// work-group owning a tile of hidden units with all G gates of those units (cuDNN's and
// Haste's arrangement). A group computes its tile's part of h_{t-1} W_hhᵀ from K-chunks staged
// in local memory and applies the cell in the same kernel; backward computes its part of
// dh_t = dG_{t+1} W_hh and then the gate gradients. The cells' arithmetic is that of lstm.cl,
// gru.cl and rnn.cl (shared inline functions).
// Tuning (-D, OpenCLTuning.swift): STEP_UNITS hidden units × STEP_ROWS batch rows per group,
// STEP_K columns per staged chunk. B = rows at this step, H = hidden size, R = width of h,
// G = gates, K = length of the dot products.

#ifndef STEP_UNITS
#error "STEP_UNITS, STEP_ROWS and STEP_K must be defined by the host"
#endif

#define CELL_LSTM 0
#define CELL_GRU 1
#define CELL_RNN_TANH 2
#define CELL_RNN_RELU 3
#define GATES_MAX 4
#define STEP_GROUP (STEP_UNITS * STEP_ROWS)

// The opening of a step kernel: the local tiles tile_product stages into, the group's first row and
// unit (row0, col0) and the (row, unit) this work-item owns.
#define STEP_TILE(unit)                                                                            \
    local float a_tile[STEP_ROWS * STEP_K];                                                        \
    local float w_tile[GATES_MAX * STEP_UNITS * (STEP_K + 1)];                                     \
    uint row0 = get_group_id(1) * STEP_ROWS, col0 = get_group_id(0) * STEP_UNITS;                  \
    uint row = row0 + get_local_id(1), unit = col0 + get_local_id(0);

inline int cell_gates(int cell) { return cell == CELL_LSTM ? 4 : (cell == CELL_GRU ? 3 : 1); }

// acc[g] = Σ_k a[row, k] · w(g, column, k) for this work-item's (row, column) of the group's
// tile (rows row0.., columns col0..), k ascending, staging STEP_K columns of a and of w at a
// time in local memory. a is (a_rows, kdim) with rows lda apart (lda ≥ kdim: a block of columns of
// a wider tensor), rows past a_rows count as zeros; with `has_a_scale`
// each element of a is multiplied by the same element of a_scale (a recurrent dropout mask) as it
// is staged. With
// `w_rows_are_outputs` (forward), w(g, c, k) = w[(g·gate_stride + c)·ld + k] (W_hh as stored,
// (G·H, R)); otherwise (backward, one gate) w(0, c, k) = w[k·ld + c].
inline void tile_product(float* acc, int gates, local float* a_tile, local float* w_tile,
                         global const float* a, global const float* a_scale, int has_a_scale, uint a_rows, uint kdim,
                         uint lda, global const float* w, uint ld,
                         uint gate_stride, uint columns, int w_rows_are_outputs, uint row0, uint col0) {
    uint u = get_local_id(0), rb = get_local_id(1);
    uint lid = rb * STEP_UNITS + u;
    for (int g = 0; g < GATES_MAX; g++) acc[g] = 0.0f;
    for (uint k0 = 0; k0 < kdim; k0 += STEP_K) {
        for (uint i = lid; i < STEP_ROWS * STEP_K; i += STEP_GROUP) {
            uint row = row0 + i / STEP_K, k = k0 + i % STEP_K;
            ulong index = (ulong)row * lda + k;
            a_tile[i] = (row < a_rows && k < kdim) ? a[index] * (has_a_scale ? a_scale[index] : 1.0f) : 0.0f;
        }
        uint w_count = (uint)gates * STEP_UNITS * STEP_K;
        for (uint i = lid; i < w_count; i += STEP_GROUP) {
            uint gu, kk;
            if (w_rows_are_outputs) { gu = i / STEP_K; kk = i % STEP_K; } else { kk = i / STEP_UNITS; gu = i % STEP_UNITS; }
            uint column = col0 + gu % STEP_UNITS, k = k0 + kk;
            float value = 0.0f;
            if (column < columns && k < kdim) {
                value = w_rows_are_outputs ? w[((ulong)(gu / STEP_UNITS) * gate_stride + column) * ld + k]
                                           : w[(ulong)k * ld + column];
            }
            w_tile[gu * (STEP_K + 1) + kk] = value;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        uint k_end = min((uint)STEP_K, kdim - k0);
        for (uint kk = 0; kk < k_end; kk++) {
            float av = a_tile[rb * STEP_K + kk];
            for (int g = 0; g < gates; g++) acc[g] += av * w_tile[(g * STEP_UNITS + u) * (STEP_K + 1) + kk];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}

// The cell forward for (row, unit j) from x W_ihᵀ (x_gates, stride h between gates), the
// recurrent products acc[0..G) and the biases; writes the post-activation gates, the extra
// state (LSTM c_t, GRU W_hn h + b_hn) and returns h_t (m_t for LSTM).
inline float cell_forward(int cell, global float* x_gates, float* acc, global const float* bi, global const float* bh,
                          uint h, uint j, float h_previous, float c_previous, float* extra) {
    #define PRE(k) ((x_gates[(k) * h + j] + bi[(k) * h + j]) + (acc[k] + bh[(k) * h + j]))
    float activated[GATES_MAX], result;
    if (cell == CELL_LSTM) {
        lstm_cell_forward(PRE(0), PRE(1), PRE(2), PRE(3), c_previous, activated, extra, &result);
    } else if (cell == CELL_GRU) {
        *extra = acc[2] + bh[2 * h + j];
        result = gru_cell_forward(PRE(0), PRE(1), x_gates[2 * h + j] + bi[2 * h + j], *extra, h_previous, activated);
    } else {
        result = activate(PRE(0), cell == CELL_RNN_TANH ? ACTIVATION_TANH : ACTIVATION_RELU);
        activated[0] = result;
    }
    #undef PRE
    for (int k = 0; k < cell_gates(cell); k++) x_gates[k * h + j] = activated[k];
    return result;
}

// The cell backward for (row, unit j) from dh: writes the input-side gate gradients (dgx) and the
// hidden-side ones (dgh, GRU only: n's gradient times r), updates the carried dc (LSTM) or the
// direct part dh ⊙ z of dh_{t-1} (GRU) in *carry.
inline void cell_backward(int cell, global const float* g, global float* dgx, global float* dgh, uint h, uint j, float dh,
                          float extra, float h_previous, float c_previous, float* carry) {
    float d[GATES_MAX];
    if (cell == CELL_LSTM) {
        *carry = lstm_cell_backward(g[j], g[h + j], g[2 * h + j], g[3 * h + j], extra, c_previous, dh, *carry, d);
    } else if (cell == CELL_GRU) {
        gru_cell_backward(g[j], g[h + j], g[2 * h + j], extra, h_previous, dh, d);
        dgh[j] = d[0]; dgh[h + j] = d[1]; dgh[2 * h + j] = d[2] * g[j];
        *carry = dh * g[h + j];
    } else {
        d[0] = dh * activation_derivative(g[j], cell == CELL_RNN_TANH ? ACTIVATION_TANH : ACTIVATION_RELU);
    }
    for (int k = 0; k < cell_gates(cell); k++) dgx[k * h + j] = d[k];
}

// One forward step over rows 0..<b: gates (B, GH) holds x_t W_ihᵀ on entry and the activated
// gates on return; writes out (B, H) = h_t (m_t for an LSTM with projection) and extra (B, H).
// Zoneout (Krueger et al. 2017) blends in the same launch: with zone_cell factors d_c (B, H) the
// cell writes c̃_t to candidate (B, H) and c_t = c̃_t + d_c ⊙ (c_{t-1} − c̃_t) to extra; with
// zone_hidden factors d (B, H; not with a projection, whose h_t comes after this launch)
// h_t = h̃_t + d ⊙ (h_{t-1} − h̃_t). An absent state counts as zero.
// Global size (⌈H/STEP_UNITS⌉·STEP_UNITS, ⌈B/STEP_ROWS⌉·STEP_ROWS), groups (STEP_UNITS, STEP_ROWS).
kernel __attribute__((reqd_work_group_size(STEP_UNITS, STEP_ROWS, 1)))
void step_forward(global float* out, ulong out_offset, global float* gates, ulong gates_offset,
                  global float* extra, ulong extra_offset, int has_extra,
                  global const float* previous_hidden, ulong previous_hidden_offset, int has_previous_hidden,
                  global const float* hidden_mask, ulong hidden_mask_offset, int has_hidden_mask,
                  global const float* previous_cell, ulong previous_cell_offset, int has_previous_cell,
                  global const float* zone_hidden, ulong zone_hidden_offset, int has_zone_hidden,
                  global const float* zone_cell, ulong zone_cell_offset, int has_zone_cell,
                  global float* candidate, ulong candidate_offset, int has_candidate,
                  global const float* w_hh, ulong w_hh_offset, global const float* bias_ih, ulong bias_ih_offset,
                  global const float* bias_hh, ulong bias_hh_offset, uint b, uint h, uint r, int cell) {
    STEP_TILE(j)
    float acc[GATES_MAX] = {0.0f, 0.0f, 0.0f, 0.0f};
    // h_0 = 0 has no product; every group takes the same branch. With recurrent dropout the
    // product reads h_{t-1} ⊙ mask (B, R); the GRU's z ⊙ h_{t-1} below reads h_{t-1} itself.
    if (has_previous_hidden) {
        tile_product(acc, cell_gates(cell), a_tile, w_tile, previous_hidden + previous_hidden_offset,
                     hidden_mask + hidden_mask_offset, has_hidden_mask, b, r, r, w_hh + w_hh_offset, r, h, h, 1, row0, col0);
    }
    if (row >= b || j >= h) return;
    ulong e = (ulong)row * h + j;
    float h_previous = has_previous_hidden && (cell == CELL_GRU || has_zone_hidden)
                     ? previous_hidden[previous_hidden_offset + (ulong)row * r + j] : 0.0f;
    float c_previous = has_previous_cell ? previous_cell[previous_cell_offset + e] : 0.0f;
    float extra_value = 0.0f;
    float result = cell_forward(cell, gates + gates_offset + (ulong)row * cell_gates(cell) * h, acc,
                                bias_ih + bias_ih_offset, bias_hh + bias_hh_offset, h, j, h_previous, c_previous,
                                &extra_value);
    if (has_zone_cell) {
        if (has_candidate) candidate[candidate_offset + e] = extra_value;
        extra_value = extra_value + zone_cell[zone_cell_offset + e] * (c_previous - extra_value);
    }
    if (has_zone_hidden) result = result + zone_hidden[zone_hidden_offset + e] * (h_previous - result);
    out[out_offset + e] = result;
    if (has_extra) extra[extra_offset + e] = extra_value;
}

// Zoneout of a projected LSTM's h_t after its product: x (n) ← x + d ⊙ (previous − x), previous
// absent: zero. One work-item per element.
kernel ONE_DIMENSIONAL void zoneout_blend(global float* x, ulong x_offset, global const float* previous, ulong previous_offset,
                                          int has_previous, global const float* d, ulong d_offset, ulong n) {
    ulong e = get_global_id(0);
    if (e >= n) return;
    float value = x[x_offset + e];
    float p = has_previous ? previous[previous_offset + e] : 0.0f;
    x[x_offset + e] = value + d[d_offset + e] * (p - value);
}

// Zoneout's backward split (the shared per-step loops' zoneoutSplit): with g = gradient (+ extra when
// given), direct = d ⊙ g, what goes to the previous step's state, and gradient ← g − d ⊙ g. One
// work-item per element.
kernel ONE_DIMENSIONAL void zoneout_split(global float* gradient, ulong gradient_offset, global const float* extra,
                                          ulong extra_offset, int has_extra, global const float* d, ulong d_offset,
                                          global float* direct, ulong direct_offset, ulong n) {
    ulong e = get_global_id(0);
    if (e >= n) return;
    float g = gradient[gradient_offset + e] + (has_extra ? extra[extra_offset + e] : 0.0f);
    float part = d[d_offset + e] * g;
    direct[direct_offset + e] = part;
    gradient[gradient_offset + e] = g - part;
}

// dh_t for rows 0..<b and columns 0..<width of h: rows < continuing get
// Σ_k dG[row, k] W[k, c] (dG (continuing, K), W (K, width)) plus carry (GRU's dh ⊙ z of the
// later step), the others the final-state gradient (or 0); grad_output adds dy_t. With a recurrent
// dropout mask (b, width) the product's part is multiplied by it (the carry is not). zone_carry
// (b, width), zoneout's d ⊙ dh of the later step, adds to the continuing rows like the carry; with
// zone_hidden factors d (b, width) of this step, dh_t splits: d ⊙ dh_t into zone_carry for the
// earlier step, dh_t − d ⊙ dh_t into out. Writes out (b, width) (may be the carry buffer itself:
// each element has one owner).
kernel __attribute__((reqd_work_group_size(STEP_UNITS, STEP_ROWS, 1)))
void hidden_gradient(global float* out, ulong out_offset,
                     global const float* grad_gates, ulong grad_gates_offset, uint continuing, uint kdim,
                     global const float* w, ulong w_offset,
                     global const float* carry, ulong carry_offset, int has_carry,
                     global float* zone_carry, ulong zone_carry_offset, int has_zone_carry,
                     global const float* zone_hidden, ulong zone_hidden_offset, int has_zone_hidden,
                     global const float* mask, ulong mask_offset, int has_mask,
                     global const float* grad_final, ulong grad_final_offset, int has_grad_final,
                     global const float* grad_output, ulong grad_output_offset, int has_grad_output,
                     uint b, uint width) {
    STEP_TILE(c)
    float acc[GATES_MAX];
    tile_product(acc, 1, a_tile, w_tile, grad_gates + grad_gates_offset, grad_gates, 0, continuing, kdim, kdim, w + w_offset,
                 width, 0, width, 0, row0, col0);
    if (row >= b || c >= width) return;
    ulong e = (ulong)row * width + c;
    float product = acc[0] * (has_mask ? mask[mask_offset + e] : 1.0f);
    float later = row < continuing
        ? product + (has_carry ? carry[carry_offset + e] : 0.0f) + (has_zone_carry ? zone_carry[zone_carry_offset + e] : 0.0f)
        : (has_grad_final ? grad_final[grad_final_offset + e] : 0.0f);
    float dh = (has_grad_output ? grad_output[grad_output_offset + e] : 0.0f) + later;
    if (has_zone_hidden) {
        float zoned = zone_hidden[zone_hidden_offset + e] * dh;
        zone_carry[zone_carry_offset + e] = zoned;
        dh = dh - zoned;
    }
    out[out_offset + e] = dh;
}

// One backward step over rows 0..<b, unit tiles as step_forward. dh_t comes either from the
// later step (rows < continuing: Σ_k dGh_{t+1}[row, k] W_hh[k, j] + the GRU carry; other rows:
// the final-state gradient) plus dy_t, or, with `given_projected`, as Σ_p dh_t[row, p] W_hr[p, j]
// (an LSTM with projection: a = dh_t (b, P), w = W_hr (P, H)). With a recurrent dropout mask
// (b, H) the product from the later step is multiplied by it. Writes the gate gradients of
// both sides (B, GH) and updates carry (B, H): LSTM dc ⊙ f, GRU dh ⊙ z, for the earlier step.
// Zoneout: zone_carry (B, H), d ⊙ dh of the later step, adds to dh_t of the continuing rows; with
// zone_hidden factors d (B, H) (not with `given_projected`: hidden_gradient split that dh_t) the
// cell gets dh_t − d ⊙ dh_t and zone_carry d ⊙ dh_t; with zone_cell factors d_c (B, H) the cell
// gets dc_t − d_c ⊙ dc_t and the carry for c_{t-1} adds d_c ⊙ dc_t. extra is then c̃_t.
kernel __attribute__((reqd_work_group_size(STEP_UNITS, STEP_ROWS, 1)))
void step_backward(global float* grad_gates_input, ulong grad_gates_input_offset,
                   global float* grad_gates_hidden, ulong grad_gates_hidden_offset,
                   global float* carry, ulong carry_offset,
                   global const float* a, ulong a_offset, uint a_rows, uint kdim,
                   global const float* w, ulong w_offset, int given_projected, uint continuing,
                   global const float* mask, ulong mask_offset, int has_mask,
                   global float* zone_carry, ulong zone_carry_offset, int has_zone_carry,
                   global const float* zone_hidden, ulong zone_hidden_offset, int has_zone_hidden,
                   global const float* zone_cell, ulong zone_cell_offset, int has_zone_cell,
                   global const float* grad_output, ulong grad_output_offset, int has_grad_output,
                   global const float* grad_final_hidden, ulong grad_final_hidden_offset, int has_grad_final_hidden,
                   global const float* grad_final_cell, ulong grad_final_cell_offset, int has_grad_final_cell,
                   global const float* gates, ulong gates_offset, global const float* extra, ulong extra_offset, int has_extra,
                   global const float* previous_hidden, ulong previous_hidden_offset, int has_previous_hidden,
                   global const float* previous_cell, ulong previous_cell_offset, int has_previous_cell,
                   uint b, uint h, uint r, int cell) {
    STEP_TILE(j)
    float acc[GATES_MAX] = {0.0f, 0.0f, 0.0f, 0.0f};
    // The last step has no later one: every group skips the product alike.
    if (a_rows > 0) {
        tile_product(acc, 1, a_tile, w_tile, a + a_offset, a, 0, a_rows, kdim, kdim, w + w_offset, h, 0, h, 0, row0, col0);
    }
    if (row >= b || j >= h) return;
    ulong e = (ulong)row * h + j;
    bool later = row < continuing;
    float dh;
    if (given_projected) {
        dh = acc[0];
    } else {
        float product = acc[0] * (has_mask ? mask[mask_offset + e] : 1.0f);
        float from_later = later
            ? product + (cell == CELL_GRU ? carry[carry_offset + e] : 0.0f) + (has_zone_carry ? zone_carry[zone_carry_offset + e] : 0.0f)
            : (has_grad_final_hidden ? grad_final_hidden[grad_final_hidden_offset + e] : 0.0f);
        dh = (has_grad_output ? grad_output[grad_output_offset + e] : 0.0f) + from_later;
        if (has_zone_hidden) {
            float zoned = zone_hidden[zone_hidden_offset + e] * dh;
            zone_carry[zone_carry_offset + e] = zoned;
            dh = dh - zoned;
        }
    }
    float carried = 0.0f, zoned_cell = 0.0f;
    if (cell == CELL_LSTM) {
        carried = later ? carry[carry_offset + e] : (has_grad_final_cell ? grad_final_cell[grad_final_cell_offset + e] : 0.0f);
        if (has_zone_cell) {
            zoned_cell = zone_cell[zone_cell_offset + e] * carried;
            carried = carried - zoned_cell;
        }
    }
    int g = cell_gates(cell);
    float h_previous = has_previous_hidden && cell == CELL_GRU ? previous_hidden[previous_hidden_offset + (ulong)row * r + j] : 0.0f;
    float c_previous = has_previous_cell ? previous_cell[previous_cell_offset + e] : 0.0f;
    cell_backward(cell, gates + gates_offset + (ulong)row * g * h, grad_gates_input + grad_gates_input_offset + (ulong)row * g * h,
                  grad_gates_hidden + grad_gates_hidden_offset + (ulong)row * g * h, h, j, dh,
                  has_extra ? extra[extra_offset + e] : 0.0f, h_previous, c_previous, &carried);
    if (has_zone_cell) carried = carried + zoned_cell;
    if (cell == CELL_LSTM || cell == CELL_GRU) carry[carry_offset + e] = carried;
}
