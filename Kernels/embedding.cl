// Embedding gather and scatter-add (CPUBackend/Embedding.swift). N = indices, V = rows, D = width.

// out (N, D) = table (V, D)[indices (N)]; an index that is not an integer in 0..<V gives NaN.
kernel ONE_DIMENSIONAL void embedding_forward(global float* out, ulong out_offset, global const float* indices, ulong indices_offset,
                                              global const float* table, ulong table_offset, uint n, uint v, uint d) {
    ulong e = get_global_id(0);
    if (e >= (ulong)n * d) return;
    ulong r = e / d, j = e % d;
    float index = indices[indices_offset + r];
    out[out_offset + e] = is_index(index, v) ? table[table_offset + (ulong)index * d + j] : NAN;
}

// grad_table (V, D)[indices[n]] += grad_out (N, D)[n] in order of n: one work-item per column,
// so no two work-items touch the same element (no atomics, reproducible sums).
kernel ONE_DIMENSIONAL void embedding_backward(global float* grad_table, ulong table_offset, global const float* indices,
                                               ulong indices_offset, global const float* grad_out, ulong grad_offset,
                                               uint n, uint v, uint d) {
    uint j = get_global_id(0);
    if (j >= d) return;
    for (uint r = 0; r < n; r++) {
        float index = indices[indices_offset + r];
        if (!is_index(index, v)) continue;
        grad_table[table_offset + (ulong)index * d + j] += grad_out[grad_offset + (ulong)r * d + j];
    }
}
