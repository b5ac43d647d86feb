// Full reductions in a fixed order (CPUBackend/Math.swift sums the same blocks serially): one
// work-group per block of REDUCTION_BLOCK consecutive terms, work-item l summing terms l,
// l + WORK_GROUP_SIZE, … of its block in order, then the group's sums added pairwise in a fixed
// tree; a second kernel reduces the block sums the same way in one group. No atomics: the
// same inputs give the same bits on every run. WORK_GROUP_SIZE is a power of two.

#define REDUCE_SUM 0
#define REDUCE_SUM_OF_SQUARES 1
#define REDUCE_SUM_OF_ABSOLUTE 2

// The sum of every work-item's `value` in this group, by a fixed pairwise tree over local memory.
inline float group_tree_sum(local float* scratch, float value) {
    uint l = get_local_id(0);
    scratch[l] = value;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint span = WORK_GROUP_SIZE / 2; span > 0; span >>= 1) {
        if (l < span) scratch[l] = scratch[l] + scratch[l + span];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float total = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return total;
}

// partials (ceil(N / REDUCTION_BLOCK)) from x (N): one group per block.
kernel ONE_DIMENSIONAL void reduce_blocks(global float* partials, global const float* x, ulong x_offset, ulong n, int kind) {
    local float scratch[WORK_GROUP_SIZE];
    ulong start = (ulong)get_group_id(0) * REDUCTION_BLOCK;
    ulong end = min(start + REDUCTION_BLOCK, n);
    float s = 0.0f;
    for (ulong i = start + get_local_id(0); i < end; i += WORK_GROUP_SIZE) {
        float v = x[x_offset + i];
        s += kind == REDUCE_SUM ? v : (kind == REDUCE_SUM_OF_SQUARES ? v * v : fabs(v));
    }
    float total = group_tree_sum(scratch, s);
    if (get_local_id(0) == 0) partials[get_group_id(0)] = total;
}

// out[0] = (accumulate ? out[0] : 0) + scale · Σ partials, one group.
kernel ONE_DIMENSIONAL void reduce_finish(global float* out, ulong out_offset, global const float* partials, ulong blocks,
                                          float scale, int accumulate) {
    local float scratch[WORK_GROUP_SIZE];
    float s = 0.0f;
    for (ulong b = get_local_id(0); b < blocks; b += WORK_GROUP_SIZE) s += partials[b];
    float total = group_tree_sum(scratch, s);
    if (get_local_id(0) == 0) out[out_offset] = (accumulate ? out[out_offset] : 0.0f) + scale * total;
}

// out (C) (+)= Σ_r x (R, C)[r, :]: a group owns SUM_COLUMNS_TILE columns; its work-items form
// lanes of that many, lane l summing rows l, l + lanes, … in order; the lanes' sums are then added
// pairwise in a fixed tree.
#define SUM_COLUMNS_TILE (WORK_GROUP_SIZE < 32 ? WORK_GROUP_SIZE : 32)
kernel ONE_DIMENSIONAL void sum_columns(global float* out, ulong out_offset, global const float* x, ulong x_offset,
                                        ulong rows, uint c, int accumulate) {
    local float partial[WORK_GROUP_SIZE];
    uint l = get_local_id(0), lanes = WORK_GROUP_SIZE / SUM_COLUMNS_TILE;
    uint column = get_group_id(0) * SUM_COLUMNS_TILE + l % SUM_COLUMNS_TILE, lane = l / SUM_COLUMNS_TILE;
    float s = 0.0f;
    if (column < c) {
        for (ulong r = lane; r < rows; r += lanes) s += x[x_offset + r * c + column];
    }
    partial[l] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint span = lanes / 2; span > 0; span >>= 1) {
        if (lane < span) partial[l] = partial[l] + partial[l + span * SUM_COLUMNS_TILE];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lane == 0 && column < c) out[out_offset + column] = (accumulate ? out[out_offset + column] : 0.0f) + partial[l];
}
