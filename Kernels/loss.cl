// Losses with their gradients (CPUBackend/Loss.swift). N = rows or elements, C = classes.
// Each writes per-block or per-row terms; reduce_finish / reduce_blocks sum them in a fixed order.

// Mean squared error: grad (N) = 2·scale·(p − t); partials = block sums of (p − t)², one group
// per block in reduce_blocks' order.
kernel ONE_DIMENSIONAL void mse_blocks(global float* partials, global float* grad, ulong grad_offset,
                                       global const float* prediction, ulong prediction_offset,
                                       global const float* target, ulong target_offset, ulong n, float scale) {
    local float scratch[WORK_GROUP_SIZE];
    ulong start = (ulong)get_group_id(0) * REDUCTION_BLOCK;
    ulong end = min(start + REDUCTION_BLOCK, n);
    float s = 0.0f;
    for (ulong i = start + get_local_id(0); i < end; i += WORK_GROUP_SIZE) {
        float d = prediction[prediction_offset + i] - target[target_offset + i];
        s += d * d;
        grad[grad_offset + i] = 2.0f * scale * d;
    }
    float total = group_tree_sum(scratch, s);
    if (get_local_id(0) == 0) partials[get_group_id(0)] = total;
}

// Max-shifted softmax cross-entropy, one work-item per row: row_loss (N) = logsumexp(x) − x[t],
// grad (N, C) = scale · (softmax(x) − onehot(t)). A target of −100 (ignored) gives 0 and a zero
// row; any other target that is not an index gives NaN.
kernel ONE_DIMENSIONAL void softmax_cross_entropy_rows(global float* row_loss, global float* grad, ulong grad_offset,
                                                       global const float* logits, ulong logits_offset,
                                                       global const float* targets, ulong targets_offset,
                                                       uint n, uint c, float scale) {
    uint r = get_global_id(0);
    if (r >= n) return;
    global const float* x = logits + logits_offset + (ulong)r * c;
    global float* g = grad + grad_offset + (ulong)r * c;
    float label = targets[targets_offset + r];
    if (label == -100.0f) {
        for (uint j = 0; j < c; j++) g[j] = 0.0f;
        row_loss[r] = 0.0f;
        return;
    }
    if (!is_index(label, c)) {
        for (uint j = 0; j < c; j++) g[j] = NAN;
        row_loss[r] = NAN;
        return;
    }
    uint target = (uint)label;
    float m = x[0];
    for (uint j = 1; j < c; j++) m = swift_max(m, x[j]);
    float s = 0.0f;
    for (uint j = 0; j < c; j++) s += exp(x[j] - m);
    for (uint j = 0; j < c; j++) g[j] = scale * (exp(x[j] - m) / s - (j == target ? 1.0f : 0.0f));
    row_loss[r] = (m + log(s)) - x[target];
}
