// Elementwise ops (CPUBackend/Elementwise.swift). R × C = rows × columns, N = elements.

// x (R, C) += bias (C) on every row.
kernel ONE_DIMENSIONAL void add_bias(global float* x, ulong x_offset, global const float* bias, ulong bias_offset,
                                     ulong n, uint c) {
    ulong e = get_global_id(0);
    if (e >= n) return;
    x[x_offset + e] += bias[bias_offset + e % c];
}

kernel ONE_DIMENSIONAL void activation_forward(global float* y, ulong y_offset, global const float* x, ulong x_offset,
                                               ulong n, int kind) {
    ulong e = get_global_id(0);
    if (e >= n) return;
    y[y_offset + e] = activate(x[x_offset + e], kind);
}

// dx (+)= dy ⊙ f'(x), f' through y = f(x).
kernel ONE_DIMENSIONAL void activation_backward(global float* dx, ulong dx_offset, global const float* dy, ulong dy_offset,
                                                global const float* y, ulong y_offset, ulong n, int kind, int accumulate) {
    ulong e = get_global_id(0);
    if (e >= n) return;
    float g = dy[dy_offset + e] * activation_derivative(y[y_offset + e], kind);
    dx[dx_offset + e] = accumulate ? dx[dx_offset + e] + g : g;
}

// y += alpha · x
kernel ONE_DIMENSIONAL void axpy(global float* y, ulong y_offset, global const float* x, ulong x_offset, ulong n, float alpha) {
    ulong e = get_global_id(0);
    if (e >= n) return;
    y[y_offset + e] += alpha * x[x_offset + e];
}

// x *= alpha
kernel ONE_DIMENSIONAL void scale(global float* x, ulong x_offset, ulong n, float alpha) {
    ulong e = get_global_id(0);
    if (e >= n) return;
    x[x_offset + e] *= alpha;
}

// out = a ⊙ b
kernel ONE_DIMENSIONAL void multiply(global float* out, ulong out_offset, global const float* a, ulong a_offset,
                                     global const float* b, ulong b_offset, ulong n) {
    ulong e = get_global_id(0);
    if (e >= n) return;
    out[out_offset + e] = a[a_offset + e] * b[b_offset + e];
}

// x = min(max(x, low), high), NaN kept.
kernel ONE_DIMENSIONAL void clamp_values(global float* x, ulong x_offset, ulong n, float low, float high) {
    ulong e = get_global_id(0);
    if (e >= n) return;
    x[x_offset + e] = swift_min(swift_max(x[x_offset + e], low), high);
}

// grad += l1·sign(p) + 2·l2·p
kernel ONE_DIMENSIONAL void add_penalty_gradient(global float* grad, ulong grad_offset, global const float* param,
                                                 ulong param_offset, ulong n, float l1, float l2) {
    ulong e = get_global_id(0);
    if (e >= n) return;
    float p = param[param_offset + e];
    float sign = p > 0.0f ? 1.0f : (p < 0.0f ? -1.0f : 0.0f);
    grad[grad_offset + e] += l1 * sign + 2.0f * l2 * p;
}

// x *= min(1, max_norm / (sqrt(sum_of_squares) + 1e-6)), the total read on the device.
kernel ONE_DIMENSIONAL void scale_by_clip_coefficient(global float* x, ulong x_offset, ulong n,
                                                      global const float* sum_of_squares, ulong sum_offset, float max_norm) {
    ulong e = get_global_id(0);
    if (e >= n) return;
    float coefficient = swift_min(1.0f, max_norm / (sqrt(sum_of_squares[sum_offset]) + 1e-6f));
    x[x_offset + e] *= coefficient;
}

// C = beta · C over a batch of (m, n) matrices with row stride ldc (beta 0 writes zeros): a
// GEMM whose inner size k is 0.
kernel ONE_DIMENSIONAL void scale_matrices(global float* c, ulong c_offset, uint m, uint n, uint ldc, ulong stride,
                                           uint batch, float beta) {
    ulong e = get_global_id(0);
    if (e >= (ulong)m * n * batch) return;
    ulong p = e / ((ulong)m * n), rest = e % ((ulong)m * n);
    ulong at = c_offset + p * stride + (rest / n) * ldc + rest % n;
    c[at] = beta == 0.0f ? 0.0f : beta * c[at];
}

// out (C, R) = xᵀ for x (R, C): one work-item per element of out.
kernel ONE_DIMENSIONAL void transpose(global float* out, ulong out_offset, global const float* x, ulong x_offset, uint rows, uint cols) {
    ulong e = get_global_id(0);
    if (e >= (ulong)rows * cols) return;
    ulong c = e / rows, r = e % rows;
    out[out_offset + e] = x[x_offset + r * cols + c];
}

// Products with a matrix laid out once as (k, n) (the recurrent weights of a time loop):
// c (m × n) (+)= a (m × k) · b (k × n). One work-item per column j of PACKED_ROWS consecutive
// rows, so neighbouring work-items read neighbouring elements of b and share the rows of a, and
// b is read once per PACKED_ROWS rows.
#define PACKED_ROWS 8
kernel ONE_DIMENSIONAL void packed_product(global float* c, ulong c_offset, global const float* a, ulong a_offset,
                                           global const float* b, ulong b_offset, uint m, uint n, uint k, int accumulate) {
    ulong e = get_global_id(0);
    uint blocks = (m + PACKED_ROWS - 1) / PACKED_ROWS;
    if (e >= (ulong)blocks * n) return;
    uint j = e % n, r0 = (uint)(e / n) * PACKED_ROWS;
    // Rows past m repeat the last row (valid memory) and are not stored.
    global const float* rows[PACKED_ROWS];
    for (uint i = 0; i < PACKED_ROWS; i++) rows[i] = a + a_offset + (ulong)min(r0 + i, m - 1) * k;
    global const float* bj = b + b_offset + j;
    float s[PACKED_ROWS];
    for (uint i = 0; i < PACKED_ROWS; i++) s[i] = 0.0f;
    for (uint kk = 0; kk < k; kk++) {
        float bv = bj[(ulong)kk * n];
        for (uint i = 0; i < PACKED_ROWS; i++) s[i] += rows[i][kk] * bv;
    }
    for (uint i = 0; i < PACKED_ROWS && r0 + i < m; i++) {
        ulong at = c_offset + (ulong)(r0 + i) * n + j;
        c[at] = accumulate ? c[at] + s[i] : s[i];
    }
}
