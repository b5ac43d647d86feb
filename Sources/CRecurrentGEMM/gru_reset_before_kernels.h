// The reset-before GRU's fused steps (recurrent_reset_before.h), compiled three times by
// gru_reset_before.c: for AVX-512, AVX2/FMA and the baseline ISA. RK(name), VF, VI and LANES as in
// cell_kernels.h; RK_RB_GEMM(m, n, k, a, lda, packed, c, ldc, accumulate) is the build's packed product.
// B = rows, H = hidden size; gates are rows of 3H: [r | z | n].
// Deliberately no include guard: included once per build.

#include "vector_kernels.h"

/// r and z from x W_ihᵀ (g), h̄ W_{hr,hz}ᵀ (p, NULL: zero) and the biases; r ⊙ h̄ to `rh`.
static inline __attribute__((always_inline)) void RK(rb_reset_at)(const rk_reset_before_forward *s, float *g, const float *p,
                                                                 const float *hbar, float *rh, int j, int lanes) {
    int h = s->hidden;
    VF pr = RK(load_or_zero)(p ? p + j : NULL, lanes), pz = RK(load_or_zero)(p ? p + h + j : NULL, lanes);
    VF r = RK(sigmoid)((RK(load)(g + j, lanes) + RK(load)(s->bias_ih + j, lanes)) + (pr + RK(load)(s->bias_hh + j, lanes)));
    VF z = RK(sigmoid)((RK(load)(g + h + j, lanes) + RK(load)(s->bias_ih + h + j, lanes))
                       + (pz + RK(load)(s->bias_hh + h + j, lanes)));
    RK(store)(g + j, r, lanes);
    RK(store)(g + h + j, z, lanes);
    RK(store)(rh + j, r * RK(load_or_zero)(hbar ? hbar + j : NULL, lanes), lanes);
}

/// n from x W_inᵀ and (r ⊙ h̄) W_hnᵀ (q, NULL: zero), then h_t, with zoneout's blend (d, NULL: none).
static inline __attribute__((always_inline)) void RK(rb_new_at)(const rk_reset_before_forward *s, float *g, const float *q,
                                                               const float *previous, const float *d, float *out, int j,
                                                               int lanes) {
    int h = s->hidden;
    VF n = RK(tanh)((RK(load)(g + 2 * h + j, lanes) + RK(load)(s->bias_ih + 2 * h + j, lanes))
                    + (RK(load_or_zero)(q ? q + j : NULL, lanes) + RK(load)(s->bias_hh + 2 * h + j, lanes)));
    VF h_prev = RK(load_or_zero)(previous ? previous + j : NULL, lanes);
    VF y = n + RK(load)(g + h + j, lanes) * (h_prev - n);
    if (d) y = y + RK(load)(d + j, lanes) * (h_prev - y);
    RK(store)(g + 2 * h + j, n, lanes);
    RK(store)(out + j, y, lanes);
}

static void RK(rk_reset_before_forward_step)(const rk_reset_before_forward *s) {
    int b = s->rows, h = s->hidden;
    float *projection = s->scratch;                                     // (B, 2H), then (B, H)
    const float *hbar = s->previous;                                    // (B, H) h̄
    if (hbar && s->mask) {
        float *masked = s->scratch + (size_t)b * 2 * h;
        for (int row = 0; row < b; row++) {
            const float *x = s->previous + (size_t)row * h, *m = s->mask + (size_t)row * h;
            float *o = masked + (size_t)row * h;
#define RK_AT(j, lanes) RK(store)(o + j, RK(load)(x + j, lanes) * RK(load)(m + j, lanes), lanes)
            RK_COLUMNS(h, RK_AT);
#undef RK_AT
        }
        hbar = masked;
    }
    // h̄ W_{hr,hz}ᵀ: (B, H) × (H, 2H).
    if (hbar) RK_RB_GEMM(b, 2 * h, h, hbar, h, s->packed_rz, projection, 2 * h, 0);
    for (int row = 0; row < b; row++) {
        float *g = s->gates + (size_t)row * 3 * h, *rh = s->reset_hidden + (size_t)row * h;
        const float *p = hbar ? projection + (size_t)row * 2 * h : NULL, *hb = hbar ? hbar + (size_t)row * h : NULL;
#define RK_AT(j, lanes) RK(rb_reset_at)(s, g, p, hb, rh, j, lanes)
        RK_COLUMNS(h, RK_AT);
#undef RK_AT
    }
    // (r ⊙ h̄) W_hnᵀ: (B, H) × (H, H), over the consumed [r | z] product.
    if (hbar) RK_RB_GEMM(b, h, h, s->reset_hidden, h, s->packed_n, projection, h, 0);
    for (int row = 0; row < b; row++) {
        float *g = s->gates + (size_t)row * 3 * h, *out = s->hidden_out + (size_t)row * h;
        const float *q = hbar ? projection + (size_t)row * h : NULL;
        const float *previous = s->previous ? s->previous + (size_t)row * h : NULL;
        const float *d = s->zoneout ? s->zoneout + (size_t)row * h : NULL;
#define RK_AT(j, lanes) RK(rb_new_at)(s, g, q, previous, d, out, j, lanes)
        RK_COLUMNS(h, RK_AT);
#undef RK_AT
    }
}

/// dz and dn from dh_t (+ dy_t); leaves z ⊙ dh in grad_hidden and zoneout's d ⊙ dh_t in `zoned`.
static inline __attribute__((always_inline)) void RK(rb_new_back_at)(const rk_reset_before_backward *s, const float *g, float *dg,
                                                                    float *dh_row, const float *dy, const float *previous,
                                                                    const float *d, float *zoned, int j, int lanes) {
    int h = s->hidden;
    VF dh = RK(load)(dh_row + j, lanes) + RK(load_or_zero)(dy ? dy + j : NULL, lanes);
    if (d) {
        VF part = RK(load)(d + j, lanes) * dh;
        RK(store)(zoned + j, part, lanes);
        dh = dh - part;
    }
    VF z = RK(load)(g + h + j, lanes), n = RK(load)(g + 2 * h + j, lanes);
    VF h_prev = RK(load_or_zero)(previous ? previous + j : NULL, lanes);
    RK(store)(dg + h + j, dh * (h_prev - n) * z * (1.0f - z), lanes);
    RK(store)(dg + 2 * h + j, dh * (1.0f - z) * (1.0f - n * n), lanes);
    RK(store)(dh_row + j, z * dh, lanes);
}

/// dr from d(r ⊙ h̄) (drh), and r ⊙ d(r ⊙ h̄) back into drh.
static inline __attribute__((always_inline)) void RK(rb_reset_back_at)(const float *g, float *dg, float *drh, const float *previous,
                                                                      const float *m, int j, int lanes) {
    VF r = RK(load)(g + j, lanes), d = RK(load)(drh + j, lanes);
    VF hbar = RK(load_or_zero)(previous ? previous + j : NULL, lanes);
    if (m) hbar = hbar * RK(load)(m + j, lanes);
    RK(store)(dg + j, d * hbar * r * (1.0f - r), lanes);
    RK(store)(drh + j, r * d, lanes);
}

/// dh_{t-1} = z ⊙ dh (in grad_hidden) + zoneout's d ⊙ dh_t + dh̄ (⊙ mask).
static inline __attribute__((always_inline)) void RK(rb_gather_at)(float *dh_row, const float *dbar, const float *m,
                                                                  const float *zoned, int j, int lanes) {
    VF direct = RK(load)(dh_row + j, lanes);
    if (zoned) direct = direct + RK(load)(zoned + j, lanes);
    VF product = RK(load)(dbar + j, lanes);
    if (m) product = product * RK(load)(m + j, lanes);
    RK(store)(dh_row + j, direct + product, lanes);
}

static void RK(rk_reset_before_backward_step)(const rk_reset_before_backward *s) {
    int b = s->rows, h = s->hidden;
    float *drh = s->scratch, *zoned = s->zoneout ? s->scratch + (size_t)b * h : NULL;   // (B, H) each
    for (int row = 0; row < b; row++) {
        const float *g = s->gates + (size_t)row * 3 * h;
        float *dg = s->grad_gates + (size_t)row * 3 * h, *dh_row = s->grad_hidden + (size_t)row * h;
        const float *dy = s->grad_output ? s->grad_output + (size_t)row * h : NULL;
        const float *previous = s->previous ? s->previous + (size_t)row * h : NULL;
        const float *d = s->zoneout ? s->zoneout + (size_t)row * h : NULL;
        float *zr = zoned ? zoned + (size_t)row * h : NULL;
#define RK_AT(j, lanes) RK(rb_new_back_at)(s, g, dg, dh_row, dy, previous, d, zr, j, lanes)
        RK_COLUMNS(h, RK_AT);
#undef RK_AT
    }
    // d(r ⊙ h̄) = dn W_hn: (B, H) × (H, H), dn the n block of each gate row.
    RK_RB_GEMM(b, h, h, s->grad_gates + 2 * h, 3 * h, s->packed_n, drh, h, 0);
    for (int row = 0; row < b; row++) {
        const float *g = s->gates + (size_t)row * 3 * h;
        float *dg = s->grad_gates + (size_t)row * 3 * h, *d = drh + (size_t)row * h;
        const float *previous = s->previous ? s->previous + (size_t)row * h : NULL;
        const float *m = s->mask ? s->mask + (size_t)row * h : NULL;
#define RK_AT(j, lanes) RK(rb_reset_back_at)(g, dg, d, previous, m, j, lanes)
        RK_COLUMNS(h, RK_AT);
#undef RK_AT
    }
    if (!s->packed_rz) return;
    // dh̄ = r ⊙ d(r ⊙ h̄) + d(r, z) W_{hr,hz}: (B, 2H) × (2H, H).
    RK_RB_GEMM(b, h, 2 * h, s->grad_gates, 3 * h, s->packed_rz, drh, h, 1);
    for (int row = 0; row < b; row++) {
        float *dh_row = s->grad_hidden + (size_t)row * h;
        const float *m = s->mask ? s->mask + (size_t)row * h : NULL, *zr = zoned ? zoned + (size_t)row * h : NULL;
        const float *dbar = drh + (size_t)row * h;
#define RK_AT(j, lanes) RK(rb_gather_at)(dh_row, dbar, m, zr, j, lanes)
        RK_COLUMNS(h, RK_AT);
#undef RK_AT
    }
}

#undef RK_COLUMNS
