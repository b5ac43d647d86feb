// The vector arithmetic the cell kernels share (splat, select, clamp, partial loads and stores,
// reciprocal, exp, σ, tanh), a GRU's gate gradients at one vector, and the RK_COLUMNS loop over a
// row's vectors, for one build: included by cell_kernels.h, gru_reset_before_kernels.h and
// layer_norm_cell_kernels.h with RK(name), VF, VI and LANES defined (the
// build's names, float vector, int vector and lanes). The includer #undefs RK_COLUMNS at its end.
// A tile's last vector may be partial and is loaded with zeros in the spare lanes, so every element
// goes through the same arithmetic whatever the width.
// exp and tanh: the minimax polynomials of Cephes' expf and tanhf (S. L. Moshier), about 1 ulp in
// fp32, as in the backend's other vector math. The reciprocals in σ and tanh are the hardware
// estimate refined by Newton steps (x·(2 − a·x)) in the AVX-512 (14-bit estimate, one step) and AVX2
// (12-bit, two steps) builds, within about 2 ulp of 1/a; the baseline build divides.
// Deliberately no include guard: included once per build.

static inline __attribute__((always_inline)) VF RK(splat)(float x) { return (VF){0} + x; }

static inline __attribute__((always_inline)) VF RK(select)(VI mask, VF yes, VF no) {
#if LANES == 16
    return (VF)_mm512_mask_blend_ps(_mm512_movepi32_mask((__m512i)mask), (__m512)no, (__m512)yes);
#elif LANES == 8
    return (VF)_mm256_blendv_ps((__m256)no, (__m256)yes, (__m256)mask);
#else
    return (VF)((mask & (VI)yes) | (~mask & (VI)no));
#endif
}

/// max(low, x) and min(high, x), NaN kept (the x86 instructions return their second operand when
/// either is NaN, as the portable compare-and-select does).
static inline __attribute__((always_inline)) VF RK(clamp)(VF x, float low, float high) {
#if LANES == 16
    return (VF)_mm512_min_ps(_mm512_set1_ps(high), _mm512_max_ps(_mm512_set1_ps(low), (__m512)x));
#elif LANES == 8
    return (VF)_mm256_min_ps(_mm256_set1_ps(high), _mm256_max_ps(_mm256_set1_ps(low), (__m256)x));
#else
    x = RK(select)(x < low, RK(splat)(low), x);
    return RK(select)(x > high, RK(splat)(high), x);
#endif
}

static inline __attribute__((always_inline)) VF RK(load)(const float *p, int lanes) {
    VF v = RK(splat)(0.0f);
    if (lanes == LANES) memcpy(&v, p, sizeof v);
    else for (int l = 0; l < lanes; l++) v[l] = p[l];
    return v;
}

static inline __attribute__((always_inline)) void RK(store)(float *p, VF v, int lanes) {
    if (lanes == LANES) memcpy(p, &v, sizeof v);
    else for (int l = 0; l < lanes; l++) p[l] = v[l];
}

/// 1/x for x ≥ 1 (the callers' denominators).
static inline __attribute__((always_inline)) VF RK(reciprocal)(VF x) {
#if LANES == 16
    VF e = (VF)_mm512_rcp14_ps((__m512)x);
    return e * (2.0f - x * e);
#elif LANES == 8
    VF e = (VF)_mm256_rcp_ps((__m256)x);
    e = e * (2.0f - x * e);
    return e * (2.0f - x * e);
#else
    return 1.0f / x;
#endif
}

static inline __attribute__((always_inline)) VF RK(exp)(VF x) {
    // exp(x) = 2^n · exp(r), n = round(x / ln 2), r = x − n·ln 2 (ln 2 in two parts).
    x = RK(clamp)(x, -87.33654f, 88.37626f);
    // Adding 1.5·2^23 rounds to the nearest integer and leaves it in the low mantissa bits.
    VF shifted = x * 1.44269504f + 12582912.0f;
    VF n = shifted - 12582912.0f;
    VF r = x - n * 0.693359375f + n * 2.12194440e-4f;
    VF r2 = r * r;
    VF p = RK(splat)(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    VF er = p * r2 + r + 1.0f;
    // 2^n from the exponent bits; n ∈ [−126, 127] after the clamp.
    VI bits = (((VI)shifted - 0x4B400000) + 127) << 23;
    return er * (VF)bits;
}

static inline __attribute__((always_inline)) VF RK(sigmoid)(VF x) { return RK(reciprocal)(1.0f + RK(exp)(-x)); }

static inline __attribute__((always_inline)) VF RK(tanh)(VF x) {
    // |x| < 0.625: odd polynomial; otherwise 1 − 2/(e^{2|x|} + 1) with the sign restored.
    VF z = x * x;
    VF p = RK(splat)(-5.70498872745e-3f);
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    VF small = p * z * x + x;
    VI negative = x < 0.0f;
    VF a = RK(select)(negative, -x, x);
    VF large = 1.0f - 2.0f * RK(reciprocal)(RK(exp)(a + a) + 1.0f);
    VF sign = RK(select)(negative, -large, large);
    return RK(select)(a < 0.625f, small, sign);
}

/// Loads an optional operand (NULL: zeros).
static inline __attribute__((always_inline)) VF RK(load_or_zero)(const float *p, int lanes) {
    return p ? RK(load)(p, lanes) : RK(splat)(0.0f);
}

/// A GRU's gate gradients at units j ..< j + lanes of one row (PyTorch's reset-after equations):
/// from dh = dy + dh_{t+1} and the post-activation gates g = [r | z | n], the input side's
/// (dr, dz, dn) into dx, the hidden side's (dr, dz, dn ⊙ r) into dhg, both in one pass, and
/// z ⊙ dh (the direct part of dh_{t-1}) over dh_{t+1}. `state` is W_hn h_{t-1} + b_hn; `k` is the
/// row's offset in the (B, H) operands; NULL dy and h_{t-1} are zeros.
static inline __attribute__((always_inline)) void RK(gru_gate_gradients_at)(const float *g, float *dx, float *dhg,
                                                                           const float *grad_output, float *grad_hidden,
                                                                           const float *previous, const float *state,
                                                                           int h, size_t k, int j, int lanes) {
    VF r = RK(load)(g + j, lanes), z = RK(load)(g + h + j, lanes), n = RK(load)(g + 2 * h + j, lanes);
    VF dh = RK(load_or_zero)(grad_output ? grad_output + k + j : NULL, lanes) + RK(load)(grad_hidden + k + j, lanes);
    VF h_prev = RK(load_or_zero)(previous ? previous + k + j : NULL, lanes);
    VF dn = dh * (1.0f - z) * (1.0f - n * n);
    VF dz = dh * (h_prev - n) * z * (1.0f - z);
    VF dr = dn * RK(load)(state + k + j, lanes) * r * (1.0f - r);
    RK(store)(dx + j, dr, lanes);
    RK(store)(dx + h + j, dz, lanes);
    RK(store)(dx + 2 * h + j, dn, lanes);
    RK(store)(dhg + j, dr, lanes);
    RK(store)(dhg + h + j, dz, lanes);
    RK(store)(dhg + 2 * h + j, dn * r, lanes);
    RK(store)(grad_hidden + k + j, dh * z, lanes);
}

// Each kernel's vector body is an always-inline function of (row pointers, j, lanes), called with
// lanes = LANES for the full vectors of a row and once more for a partial last one, so that the
// full vectors compile to plain vector loads and stores with no per-load lane test.
#define RK_COLUMNS(columns, call)                                                                  \
    do {                                                                                           \
        int j = 0;                                                                                 \
        for (; j + LANES <= (columns); j += LANES) call(j, LANES);                                 \
        if (j < (columns)) call(j, (columns) - j);                                                 \
    } while (0)
