// Inverted dropout with Philox masks (CPUBackend/Dropout.swift).
// Element e is kept when philox_word(seed, stream, offset + e) >> 8 >= threshold.

// y, mask (N); x (N).
kernel ONE_DIMENSIONAL void dropout_forward(global float* y, ulong y_offset, global float* mask, ulong mask_offset,
                                            global const float* x, ulong x_offset, ulong n,
                                            ulong seed, ulong stream, ulong offset, uint threshold, float keep_scale) {
    ulong e = get_global_id(0);
    if (e >= n) return;
    float m = (philox_word(seed, stream, offset + e) >> 8) >= threshold ? keep_scale : 0.0f;
    mask[mask_offset + e] = m;
    y[y_offset + e] = x[x_offset + e] * m;
}
