// Persistent recurrent kernels (Diamos et al. 2016, "Persistent RNNs"; cuDNN's PERSIST
// algorithms), OpenCLBackend/TimeLoop.swift: one launch per layer and direction for the whole
// sequence. Work-group g owns hidden units g·units ..< (g+1)·units with all their gates, keeps
// its slice of W_hh in local memory for every step (up to PERSIST_LOCAL_FLOATS floats; the rest,
// if any, is read from global memory), and the groups meet at a device-wide barrier between
// steps. That barrier is only safe when every group is resident at once: the host launches no
// more groups than the device can hold and refuses the mode where forward progress across
// groups is not guaranteed (one group then runs it with no cross-group barrier at all).
// Uniform batches (every sequence T steps), no projection. Tuning: PERSIST_GROUP work-items
// per group, PERSIST_LOCAL_FLOATS cached weights per group; RECURRENT_PTX_FENCES (NVIDIA only)
// adds `membar.gl` to the barrier's fences. T = steps, B = batch, H = hidden size, G = gates.

#ifndef PERSIST_GROUP
#error "PERSIST_GROUP and PERSIST_LOCAL_FLOATS must be defined by the host"
#endif

#ifdef RECURRENT_PTX_FENCES
#define DEVICE_FENCE() do { mem_fence(CLK_GLOBAL_MEM_FENCE); __asm__ volatile("membar.gl;" ::: "memory"); } while (0)
#else
#define DEVICE_FENCE() mem_fence(CLK_GLOBAL_MEM_FENCE)
#endif

// Every group of the launch waits here until all `groups` have arrived for the `generation`-th
// time. counter starts at 0 and only grows (legacy 32-bit atomics, OpenCL 1.1): arrival
// `generation` is complete when it reaches generation · groups.
inline void grid_barrier(volatile global uint* counter, uint groups, uint generation) {
    barrier(CLK_GLOBAL_MEM_FENCE | CLK_LOCAL_MEM_FENCE);
    if (groups > 1) {
        if (get_local_id(0) == 0) {
            DEVICE_FENCE();
            atomic_inc(counter);
            while (atomic_add(counter, 0u) < generation * groups) {}
            DEVICE_FENCE();
        }
        barrier(CLK_GLOBAL_MEM_FENCE | CLK_LOCAL_MEM_FENCE);
    }
}

// Loads floats first ..< first + count of the group's slice into the cache, slice element s
// being source[index(s)]; returns how many are cached.
#define LOAD_SLICE(cache, count, source_of) \
    uint cached = (uint)min((ulong)(count), (ulong)PERSIST_LOCAL_FLOATS); \
    for (uint s = get_local_id(0); s < cached; s += PERSIST_GROUP) cache[s] = source_of(s); \
    barrier(CLK_LOCAL_MEM_FENCE);

// Forward over all T steps: gates (T·B, GH) holds x W_ihᵀ on entry and the activated gates on
// return; writes output (T·B, H) and extra (T·B, H). Slice element (g, u, c) = W_hh[g·H + j0 + u, c].
kernel __attribute__((reqd_work_group_size(PERSIST_GROUP, 1, 1)))
void persistent_forward(global float* output, ulong output_offset, global float* gates, ulong gates_offset,
                        global float* extra, ulong extra_offset, int has_extra,
                        global const float* initial_hidden, ulong initial_hidden_offset, int has_initial_hidden,
                        global const float* initial_cell, ulong initial_cell_offset, int has_initial_cell,
                        global const float* w_hh, ulong w_hh_offset, global const float* bias_ih, ulong bias_ih_offset,
                        global const float* bias_hh, ulong bias_hh_offset, volatile global uint* counter,
                        uint steps, uint b, uint h, uint units, int cell) {
    local float w_cache[PERSIST_LOCAL_FLOATS];
    uint j0 = get_group_id(0) * units, j1 = min(j0 + units, h), mine = j1 > j0 ? j1 - j0 : 0;
    int g_count = cell_gates(cell);
    global const float* w = w_hh + w_hh_offset;
    #define FORWARD_WEIGHT(s) w[((ulong)((s) / h / mine) * h + j0 + ((s) / h) % mine) * h + (s) % h]
    LOAD_SLICE(w_cache, (ulong)g_count * mine * h, FORWARD_WEIGHT)
    volatile global float* out = output + output_offset;
    for (uint t = 0; t < steps; t++) {
        for (uint item = get_local_id(0); item < b * mine; item += PERSIST_GROUP) {
            uint row = item / mine, u = item % mine, j = j0 + u;
            ulong e = ((ulong)t * b + row) * h + j;
            float acc[GATES_MAX] = {0.0f, 0.0f, 0.0f, 0.0f};
            float h_previous = 0.0f;
            if (t > 0 || has_initial_hidden) {
                volatile global const float* previous = t > 0 ? out + (ulong)(t - 1) * b * h
                                                              : (volatile global const float*)(initial_hidden + initial_hidden_offset);
                for (uint c = 0; c < h; c++) {
                    float hv = previous[(ulong)row * h + c];
                    for (int g = 0; g < g_count; g++) {
                        uint s = ((uint)g * mine + u) * h + c;
                        acc[g] += hv * (s < cached ? w_cache[s] : w[((ulong)g * h + j) * h + c]);
                    }
                }
                h_previous = previous[(ulong)row * h + j];
            }
            float c_previous = t > 0 ? (has_extra ? extra[extra_offset + e - (ulong)b * h] : 0.0f)
                                     : (has_initial_cell ? initial_cell[initial_cell_offset + (ulong)row * h + j] : 0.0f);
            float extra_value = 0.0f;
            out[e] = cell_forward(cell, gates + gates_offset + ((ulong)t * b + row) * g_count * h, acc,
                                  bias_ih + bias_ih_offset, bias_hh + bias_hh_offset, h, j, h_previous, c_previous,
                                  &extra_value);
            if (has_extra) extra[extra_offset + e] = extra_value;
        }
        grid_barrier(counter, get_num_groups(0), t + 1);
    }
    #undef FORWARD_WEIGHT
}

// Backward over all T steps (descending): writes the gate gradients (T·B, GH) of both sides and,
// when asked, the initial states' gradients (B, H); carry (B, H) is scratch (LSTM dc ⊙ f, GRU
// dh ⊙ z). Slice element (u, k) = W_hh[k, j0 + u] for k < GH.
kernel __attribute__((reqd_work_group_size(PERSIST_GROUP, 1, 1)))
void persistent_backward(global float* grad_gates_input, ulong grad_gates_input_offset,
                         global float* grad_gates_hidden, ulong grad_gates_hidden_offset,
                         global float* carry, ulong carry_offset,
                         global float* grad_initial_hidden, ulong grad_initial_hidden_offset, int has_grad_initial_hidden,
                         global float* grad_initial_cell, ulong grad_initial_cell_offset, int has_grad_initial_cell,
                         global const float* grad_output, ulong grad_output_offset, int has_grad_output,
                         global const float* grad_final_hidden, ulong grad_final_hidden_offset, int has_grad_final_hidden,
                         global const float* grad_final_cell, ulong grad_final_cell_offset, int has_grad_final_cell,
                         global const float* gates, ulong gates_offset, global const float* extra, ulong extra_offset, int has_extra,
                         global const float* output, ulong output_offset,
                         global const float* initial_hidden, ulong initial_hidden_offset, int has_initial_hidden,
                         global const float* initial_cell, ulong initial_cell_offset, int has_initial_cell,
                         global const float* w_hh, ulong w_hh_offset, volatile global uint* counter,
                         uint steps, uint b, uint h, uint units, int cell) {
    local float w_cache[PERSIST_LOCAL_FLOATS];
    uint j0 = get_group_id(0) * units, j1 = min(j0 + units, h), mine = j1 > j0 ? j1 - j0 : 0;
    int g_count = cell_gates(cell);
    uint gh = (uint)g_count * h;
    global const float* w = w_hh + w_hh_offset;
    #define BACKWARD_WEIGHT(s) w[(ulong)((s) % gh) * h + j0 + (s) / gh]
    LOAD_SLICE(w_cache, (ulong)mine * gh, BACKWARD_WEIGHT)
    volatile global const float* dgh_all = grad_gates_hidden + grad_gates_hidden_offset;
    // Σ_k dGh[row, k] W_hh[k, j0 + u] of the later step's rows (written by every group).
    #define RECURRENT_GRADIENT(later_rows, row, u, j, result) { \
        result = 0.0f; \
        for (uint k = 0; k < gh; k++) { \
            uint s = (u) * gh + k; \
            result += (later_rows)[(ulong)(row) * gh + k] * (s < cached ? w_cache[s] : w[(ulong)k * h + (j)]); \
        } }
    for (uint step = steps; step > 0; step--) {
        uint t = step - 1;
        for (uint item = get_local_id(0); item < b * mine; item += PERSIST_GROUP) {
            uint row = item / mine, u = item % mine, j = j0 + u;
            ulong e = (ulong)row * h + j, te = ((ulong)t * b + row) * h + j;
            float dh = has_grad_output ? grad_output[grad_output_offset + te] : 0.0f, carried;
            if (t + 1 < steps) {
                float product;
                RECURRENT_GRADIENT(dgh_all + (ulong)(t + 1) * b * gh, row, u, j, product)
                dh += product + (cell == CELL_GRU ? carry[carry_offset + e] : 0.0f);
                carried = carry[carry_offset + e];
            } else {
                dh += has_grad_final_hidden ? grad_final_hidden[grad_final_hidden_offset + e] : 0.0f;
                carried = has_grad_final_cell ? grad_final_cell[grad_final_cell_offset + e] : 0.0f;
            }
            float h_previous = 0.0f, c_previous = 0.0f;
            if (cell == CELL_GRU) {
                h_previous = t > 0 ? output[output_offset + te - (ulong)b * h]
                                   : (has_initial_hidden ? initial_hidden[initial_hidden_offset + e] : 0.0f);
            }
            if (cell == CELL_LSTM) {
                c_previous = t > 0 ? extra[extra_offset + te - (ulong)b * h]
                                   : (has_initial_cell ? initial_cell[initial_cell_offset + e] : 0.0f);
            }
            ulong gate_row = ((ulong)t * b + row) * gh;
            cell_backward(cell, gates + gates_offset + gate_row, grad_gates_input + grad_gates_input_offset + gate_row,
                          grad_gates_hidden + grad_gates_hidden_offset + gate_row, h, j, dh,
                          has_extra ? extra[extra_offset + te] : 0.0f, h_previous, c_previous, &carried);
            if (cell == CELL_LSTM || cell == CELL_GRU) carry[carry_offset + e] = carried;
        }
        grid_barrier(counter, get_num_groups(0), steps - t);
    }
    for (uint item = get_local_id(0); item < b * mine; item += PERSIST_GROUP) {
        uint row = item / mine, u = item % mine, j = j0 + u;
        ulong e = (ulong)row * h + j;
        if (has_grad_initial_hidden) {
            float product;
            RECURRENT_GRADIENT(dgh_all, row, u, j, product)
            grad_initial_hidden[grad_initial_hidden_offset + e] = product + (cell == CELL_GRU ? carry[carry_offset + e] : 0.0f);
        }
        if (has_grad_initial_cell && cell == CELL_LSTM) grad_initial_cell[grad_initial_cell_offset + e] = carry[carry_offset + e];
    }
    #undef RECURRENT_GRADIENT
    #undef BACKWARD_WEIGHT
}
