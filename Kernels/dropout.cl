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

// Zoneout's factors (OpenCLBackend/Dropout.swift): d (N) = 1 where dropout_forward with the same
// draw drops element e (philox_word(seed, stream, offset + e) >> 8 < threshold), else 0.
kernel ONE_DIMENSIONAL void drop_indicator(global float* d, ulong d_offset, ulong n, ulong seed, ulong stream, ulong offset,
                                           uint threshold) {
    ulong e = get_global_id(0);
    if (e >= n) return;
    d[d_offset + e] = (philox_word(seed, stream, offset + e) >> 8) < threshold ? 1.0f : 0.0f;
}
