// The bodies of recurrent_training.h's ops, compiled three times by training_ops.c (AVX-512, AVX2
// and baseline); RK(name) gives each build its names. Plain loops the compiler vectorises for the
// build's target; no floating-point contraction (see training_ops.c), so the builds agree bit for bit
// on every output but the squared error's sum, whose block partials are summed in the build's lanes.
// Deliberately no include guard: included once per build.

static void RK(rk_adam_update)(float *restrict p, const float *restrict g, float *restrict m, float *restrict v, long n,
                               const rk_adam *h) {
    const float step = h->step_size, b1 = 1.0f - h->beta1, beta2 = h->beta2, b2 = 1.0f - h->beta2;
    const float correction = h->bias_correction2_sqrt, eps = h->epsilon, wd = h->weight_decay, decay = h->decay;
    if (h->decoupled) {
        for (long i = 0; i < n; i++) {
            float gi = g[i];
            float pi = p[i] * decay;
            float mi = m[i] + (gi - m[i]) * b1;
            float vi = v[i] * beta2 + b2 * gi * gi;
            m[i] = mi;
            v[i] = vi;
            p[i] = pi - step * (mi / (__builtin_elementwise_sqrt(vi) / correction + eps));
        }
    } else {
        for (long i = 0; i < n; i++) {
            float pi = p[i];
            float gi = wd != 0.0f ? g[i] + wd * pi : g[i];
            float mi = m[i] + (gi - m[i]) * b1;
            float vi = v[i] * beta2 + b2 * gi * gi;
            m[i] = mi;
            v[i] = vi;
            p[i] = pi - step * (mi / (__builtin_elementwise_sqrt(vi) / correction + eps));
        }
    }
}

static double RK(rk_squared_error)(float *restrict grad, const float *restrict x, const float *restrict t, long n, float scale) {
    const float twice = 2.0f * scale;
    double sum = 0;
    // Blocks of 256: float partial sums the compiler keeps in vector lanes, each block's total added in double.
    for (long start = 0; start < n; start += 256) {
        long end = n - start < 256 ? n : start + 256;
        float partial = 0;
#pragma clang loop vectorize(enable)
        for (long i = start; i < end; i++) {
            float d = x[i] - t[i];
            partial += d * d;
            grad[i] = twice * d;
        }
        sum += partial;
    }
    return sum;
}
