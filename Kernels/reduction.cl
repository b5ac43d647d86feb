// Full reductions in the fixed order of the CPU backend (CPUBackend/Math.swift): sums of
// REDUCTION_BLOCK consecutive terms, then the block sums in order. Two kernels: one work-item
// per block, then one work-item over the block sums.

#define REDUCE_SUM 0
#define REDUCE_SUM_OF_SQUARES 1
#define REDUCE_SUM_OF_ABSOLUTE 2

// partials (ceil(N / REDUCTION_BLOCK)) from x (N).
kernel ONE_DIMENSIONAL void reduce_blocks(global float* partials, global const float* x, ulong x_offset, ulong n, int kind) {
    ulong block = get_global_id(0);
    ulong start = block * REDUCTION_BLOCK;
    if (start >= n) return;
    ulong end = min(start + REDUCTION_BLOCK, n);
    float s = 0.0f;
    for (ulong i = start; i < end; i++) {
        float v = x[x_offset + i];
        s += kind == REDUCE_SUM ? v : (kind == REDUCE_SUM_OF_SQUARES ? v * v : fabs(v));
    }
    partials[block] = s;
}

// out[0] = (accumulate ? out[0] : 0) + scale · Σ partials, one work-item.
kernel void reduce_finish(global float* out, ulong out_offset, global const float* partials, ulong blocks,
                          float scale, int accumulate) {
    if (get_global_id(0) != 0) return;
    float total = 0.0f;
    for (ulong b = 0; b < blocks; b++) total += partials[b];
    out[out_offset] = (accumulate ? out[out_offset] : 0.0f) + scale * total;
}
