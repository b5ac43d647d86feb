// The bodies of recurrent_layer_norm.h's functions, compiled three times by layer_norm.c: for
// AVX-512, AVX2 and the baseline ISA. RK(name) gives each build its own names; VD is the build's
// double vector of DL lanes and VH the float vector of as many lanes. The sums run in DL·4
// independent double lanes, added together at the end, then the scalar tail.
// Deliberately no include guard: included once per build.

static inline __attribute__((always_inline)) VD RK(ln_load)(const float *p) {
    VH h;
    memcpy(&h, p, sizeof h);
    return __builtin_convertvector(h, VD);
}

static inline __attribute__((always_inline)) double RK(ln_total)(VD a, VD b, VD c, VD d) {
    VD v = (a + b) + (c + d);
    double s = 0;
    for (int l = 0; l < DL; l++) s += v[l];
    return s;
}

/// Σ x over w values.
static inline __attribute__((always_inline)) double RK(ln_sum)(const float *x, int w) {
    VD a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    int k = 0;
    for (; k + 4 * DL <= w; k += 4 * DL) {
        a0 += RK(ln_load)(x + k);
        a1 += RK(ln_load)(x + k + DL);
        a2 += RK(ln_load)(x + k + 2 * DL);
        a3 += RK(ln_load)(x + k + 3 * DL);
    }
    for (; k + DL <= w; k += DL) a0 += RK(ln_load)(x + k);
    double s = RK(ln_total)(a0, a1, a2, a3);
    for (; k < w; k++) s += (double)x[k];
    return s;
}

/// Σ (x − mean)² over w values.
static inline __attribute__((always_inline)) double RK(ln_squares)(const float *x, double mean, int w) {
    VD a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    int k = 0;
    for (; k + 4 * DL <= w; k += 4 * DL) {
        VD d0 = RK(ln_load)(x + k) - mean, d1 = RK(ln_load)(x + k + DL) - mean;
        VD d2 = RK(ln_load)(x + k + 2 * DL) - mean, d3 = RK(ln_load)(x + k + 3 * DL) - mean;
        a0 += d0 * d0;
        a1 += d1 * d1;
        a2 += d2 * d2;
        a3 += d3 * d3;
    }
    for (; k + DL <= w; k += DL) {
        VD d = RK(ln_load)(x + k) - mean;
        a0 += d * d;
    }
    double s = RK(ln_total)(a0, a1, a2, a3);
    for (; k < w; k++) s += ((double)x[k] - mean) * ((double)x[k] - mean);
    return s;
}

static void RK(rk_layer_norm_rows)(float *normalized, float *inverse, float *y, const float *x, const float *gain,
                                   const float *bias, long rows, int w) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * w;
        float *nr = normalized + r * w;
        double mean = RK(ln_sum)(xr, w) / w;
        double inv = 1.0 / sqrt(RK(ln_squares)(xr, mean, w) / w + 1e-5);
        inverse[r] = (float)inv;
        // x̂ in float lanes (twice the double ones), the mean and 1/σ as float pairs hi + lo: the
        // deviation (x − hi) − lo keeps to a rounding or two under a large common offset, and
        // dev·(ih + il) rounds once more.
        float hi = (float)mean, lo = (float)(mean - (double)hi), ih = (float)inv, il = (float)(inv - (double)ih);
        if (y) {
            float *yr = y + r * w;
            for (int k = 0; k < w; k++) {
                float deviation = (xr[k] - hi) - lo;
                float n = __builtin_fmaf(deviation, ih, deviation * il);
                nr[k] = n;
                yr[k] = n * gain[k] + (bias ? bias[k] : 0.0f);
            }
        } else {
            for (int k = 0; k < w; k++) {
                float deviation = (xr[k] - hi) - lo;
                nr[k] = __builtin_fmaf(deviation, ih, deviation * il);
            }
        }
    }
}

static void RK(rk_layer_norm_rows_backward)(float *dx, const float *dy, const float *normalized, const float *gain,
                                            const float *inverse, long rows, int w) {
    for (long r = 0; r < rows; r++) {
        const float *dyr = dy + r * w, *nr = normalized + r * w;
        float *dxr = dx + r * w;
        // Σ dx̂ and Σ dx̂ ⊙ x̂, dx̂ = dy ⊙ gain rounded to float as the forward's values are.
        VD s0 = {0}, s1 = {0}, p0 = {0}, p1 = {0};
        int k = 0;
        for (; k + 2 * DL <= w; k += 2 * DL) {
            VH g0, g1, e0, e1;
            memcpy(&e0, dyr + k, sizeof e0);
            memcpy(&e1, dyr + k + DL, sizeof e1);
            memcpy(&g0, gain + k, sizeof g0);
            memcpy(&g1, gain + k + DL, sizeof g1);
            VD d0 = __builtin_convertvector(e0 * g0, VD), d1 = __builtin_convertvector(e1 * g1, VD);
            s0 += d0;
            s1 += d1;
            p0 += d0 * RK(ln_load)(nr + k);
            p1 += d1 * RK(ln_load)(nr + k + DL);
        }
        VD zero = {0};
        double sum = RK(ln_total)(s0, s1, zero, zero), dot = RK(ln_total)(p0, p1, zero, zero);
        for (; k < w; k++) {
            double d = (double)(dyr[k] * gain[k]);
            sum += d;
            dot += d * (double)nr[k];
        }
        double meanD = sum / w, meanDX = dot / w;
        // dx in float lanes (twice the double ones), the two means as float pairs hi + lo: each dx
        // is within a few roundings of the row's terms (|dx̂|, mean dx̂, |x̂ · mean dx̂ x̂|) times 1/σ,
        // as a float layer norm's backward is; where the terms cancel, that is all that is left.
        float dh = (float)meanD, dl = (float)(meanD - (double)dh), xh = (float)meanDX, xl = (float)(meanDX - (double)xh);
        float inv = inverse[r];
        for (k = 0; k < w; k++) {
            float d = dyr[k] * gain[k];   // rounded to float (a statement of its own: not contracted into an FMA)
            float t = (d - dh) - dl;
            dxr[k] = inv * __builtin_fmaf(-nr[k], xl, __builtin_fmaf(-nr[k], xh, t));
        }
    }
}
