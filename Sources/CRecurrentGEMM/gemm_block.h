// The 6 × 16 register block of the packed product (AVX2/FMA), shared by rk_gemm_packed and the
// fused time-loop steps of recurrent_cells.c. x86 only: include it inside an x86 #if.
#pragma once
#include "recurrent_gemm.h"
#include <immintrin.h>

#define RK_TARGET __attribute__((target("avx2,fma")))

// rows (1…6) × 16 block: acc = A rows · panel over k, then stored (or added) into out (row stride ldo).
static inline __attribute__((always_inline)) RK_TARGET void rk_block(int rows, int k, const float *a, int lda, const float *panel,
                                      float *out, int ldo, int accumulate) {
    __m256 c0l = _mm256_setzero_ps(), c0h = _mm256_setzero_ps(), c1l = _mm256_setzero_ps(), c1h = _mm256_setzero_ps();
    __m256 c2l = _mm256_setzero_ps(), c2h = _mm256_setzero_ps(), c3l = _mm256_setzero_ps(), c3h = _mm256_setzero_ps();
    __m256 c4l = _mm256_setzero_ps(), c4h = _mm256_setzero_ps(), c5l = _mm256_setzero_ps(), c5h = _mm256_setzero_ps();
    const float *a0 = a, *a1 = a + lda, *a2 = a + 2 * (size_t)lda, *a3 = a + 3 * (size_t)lda;
    const float *a4 = a + 4 * (size_t)lda, *a5 = a + 5 * (size_t)lda;
    for (int kk = 0; kk < k; kk++) {
        __m256 bl = _mm256_loadu_ps(panel + kk * RK_PANEL), bh = _mm256_loadu_ps(panel + kk * RK_PANEL + 8);
        __m256 v;
        v = _mm256_broadcast_ss(a0 + kk); c0l = _mm256_fmadd_ps(v, bl, c0l); c0h = _mm256_fmadd_ps(v, bh, c0h);
        if (rows > 1) { v = _mm256_broadcast_ss(a1 + kk); c1l = _mm256_fmadd_ps(v, bl, c1l); c1h = _mm256_fmadd_ps(v, bh, c1h); }
        if (rows > 2) { v = _mm256_broadcast_ss(a2 + kk); c2l = _mm256_fmadd_ps(v, bl, c2l); c2h = _mm256_fmadd_ps(v, bh, c2h); }
        if (rows > 3) { v = _mm256_broadcast_ss(a3 + kk); c3l = _mm256_fmadd_ps(v, bl, c3l); c3h = _mm256_fmadd_ps(v, bh, c3h); }
        if (rows > 4) { v = _mm256_broadcast_ss(a4 + kk); c4l = _mm256_fmadd_ps(v, bl, c4l); c4h = _mm256_fmadd_ps(v, bh, c4h); }
        if (rows > 5) { v = _mm256_broadcast_ss(a5 + kk); c5l = _mm256_fmadd_ps(v, bl, c5l); c5h = _mm256_fmadd_ps(v, bh, c5h); }
    }
    __m256 acc[12] = {c0l, c0h, c1l, c1h, c2l, c2h, c3l, c3h, c4l, c4h, c5l, c5h};
    for (int r = 0; r < rows; r++) {
        float *o = out + (size_t)r * ldo;
        if (accumulate) {
            _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), acc[2 * r]));
            _mm256_storeu_ps(o + 8, _mm256_add_ps(_mm256_loadu_ps(o + 8), acc[2 * r + 1]));
        } else {
            _mm256_storeu_ps(o, acc[2 * r]);
            _mm256_storeu_ps(o + 8, acc[2 * r + 1]);
        }
    }
}

// rk_block with the row count as a constant, so each case compiles without the row tests.
static inline RK_TARGET void rk_block_rows(int rows, int k, const float *a, int lda, const float *panel,
                                           float *out, int ldo, int accumulate) {
    switch (rows) {
    case 6: rk_block(6, k, a, lda, panel, out, ldo, accumulate); break;
    case 5: rk_block(5, k, a, lda, panel, out, ldo, accumulate); break;
    case 4: rk_block(4, k, a, lda, panel, out, ldo, accumulate); break;
    case 3: rk_block(3, k, a, lda, panel, out, ldo, accumulate); break;
    case 2: rk_block(2, k, a, lda, panel, out, ldo, accumulate); break;
    default: rk_block(1, k, a, lda, panel, out, ldo, accumulate); break;
    }
}
