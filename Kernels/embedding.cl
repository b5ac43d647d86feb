// Embedding gather and scatter-add, and row gathers/scatters with integer row maps
// (CPUBackend/Embedding.swift). N = indices or entries, V = table rows, D = width,
// U = distinct rows of a row map. No kernel here uses atomics: every output element has one
// owner that adds its terms in ascending n, so a run repeats bit for bit.

// out (N, D) = table (V, D)[indices (N)]; an index that is not an integer in 0..<V gives NaN.
kernel ONE_DIMENSIONAL void embedding_forward(global float* out, ulong out_offset, global const float* indices, ulong indices_offset,
                                              global const float* table, ulong table_offset, uint n, uint v, uint d) {
    ulong e = get_global_id(0);
    if (e >= (ulong)n * d) return;
    ulong r = e / d, j = e % d;
    float index = indices[indices_offset + r];
    out[out_offset + e] = is_index(index, v) ? table[table_offset + (ulong)index * d + j] : NAN;
}

// grad_table (V, D)[indices[n]] += grad_out (N, D)[n] in order of n. Work-item (block, j) owns
// column j of the table rows block·rows_per_block ..< (block + 1)·rows_per_block and walks all
// indices in order, adding those that fall in its rows: parallel over columns and row blocks,
// no atomics, the CPU's order of terms for every element.
kernel ONE_DIMENSIONAL void embedding_backward(global float* grad_table, ulong table_offset, global const float* indices,
                                               ulong indices_offset, global const float* grad_out, ulong grad_offset,
                                               uint n, uint v, uint d, uint rows_per_block, uint blocks) {
    ulong e = get_global_id(0);
    if (e >= (ulong)blocks * d) return;
    uint block = e / d, j = e % d;
    float low = (float)block * (float)rows_per_block;
    float high = fmin(low + (float)rows_per_block, (float)v);
    for (uint r = 0; r < n; r++) {
        float index = indices[indices_offset + r];
        // Row numbers below 2^24 are exact floats, so the comparisons are exact.
        if (!(index >= low && index < high) || index != trunc(index)) continue;
        grad_table[table_offset + (ulong)index * d + j] += grad_out[grad_offset + (ulong)r * d + j];
    }
}

// out (N, D) = table (V, D)[rows (N)], rows already checked on the host.
kernel ONE_DIMENSIONAL void gather_rows(global float* out, ulong out_offset, global const float* table, ulong table_offset,
                                        global const int* map, ulong rows_at, uint n, uint d) {
    ulong e = get_global_id(0);
    if (e >= (ulong)n * d) return;
    ulong r = e / d, j = e % d;
    out[out_offset + e] = table[table_offset + (ulong)map[rows_at + r] * d + j];
}

// out (V, D)[targets[u]] += Σ x (N, D)[sources[k]] over k in segment u, ascending: work-item
// (u, j) owns element (targets[u], j) of the output.
kernel ONE_DIMENSIONAL void scatter_add_rows(global float* out, ulong out_offset, global const float* x, ulong x_offset,
                                             global const int* map, ulong targets_at, ulong starts_at, ulong sources_at,
                                             uint u, uint d) {
    ulong e = get_global_id(0);
    if (e >= (ulong)u * d) return;
    ulong segment = e / d, j = e % d;
    global float* target = out + out_offset + (ulong)map[targets_at + segment] * d + j;
    float sum = *target;
    for (int k = map[starts_at + segment]; k < map[starts_at + segment + 1]; k++) {
        sum += x[x_offset + (ulong)map[sources_at + k] * d + j];
    }
    *target = sum;
}
