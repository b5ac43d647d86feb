// The register blocks of the packed product, 6 × 16 (AVX2/FMA) and 8 × 32 (AVX-512), shared by
// rk_gemm_packed and the fused time-loop steps of recurrent_cells.c. x86 only: include it inside
// an x86 #if.
#pragma once
#include "recurrent_gemm.h"
#include <immintrin.h>

#define RK_TARGET __attribute__((target("avx2,fma")))
#define RK_TARGET512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))

/// Rows of an AVX-512 block.
#define RK_ROWS512 8

/// rk_gemm_packed in one build each, for callers that have chosen the build already.
RK_TARGET void rk_gemm_packed_avx2(int m, int n, int k, const float *a, int lda, const float *packed, float *c, int ldc,
                                   int accumulate);
RK_TARGET512 void rk_gemm_packed_avx512(int m, int n, int k, const float *a, int lda, const float *packed, float *c, int ldc,
                                        int accumulate);

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

// rows (1…8) × 32 block over two adjacent 16-column panels (`next` NULL: 16 wide, one panel):
// acc = A rows · [panel | next] over k, stored (or added) into out (row stride ldo).
#define RK_ROW512(i)                                                                               \
    if (rows > i) {                                                                                \
        __m512 v = _mm512_set1_ps(a[(size_t)(i) * lda + kk]);                                      \
        c##i##l = _mm512_fmadd_ps(v, bl, c##i##l);                                                 \
        if (wide) c##i##h = _mm512_fmadd_ps(v, bh, c##i##h);                                       \
    }
static inline __attribute__((always_inline)) RK_TARGET512 void rk_block512(int rows, int wide, int k, const float *a, int lda,
                                                                          const float *panel, const float *next, float *out,
                                                                          int ldo, int accumulate) {
    __m512 c0l = _mm512_setzero_ps(), c0h = _mm512_setzero_ps(), c1l = _mm512_setzero_ps(), c1h = _mm512_setzero_ps();
    __m512 c2l = _mm512_setzero_ps(), c2h = _mm512_setzero_ps(), c3l = _mm512_setzero_ps(), c3h = _mm512_setzero_ps();
    __m512 c4l = _mm512_setzero_ps(), c4h = _mm512_setzero_ps(), c5l = _mm512_setzero_ps(), c5h = _mm512_setzero_ps();
    __m512 c6l = _mm512_setzero_ps(), c6h = _mm512_setzero_ps(), c7l = _mm512_setzero_ps(), c7h = _mm512_setzero_ps();
    for (int kk = 0; kk < k; kk++) {
        __m512 bl = _mm512_loadu_ps(panel + kk * RK_PANEL), bh = wide ? _mm512_loadu_ps(next + kk * RK_PANEL) : bl;
        RK_ROW512(0) RK_ROW512(1) RK_ROW512(2) RK_ROW512(3) RK_ROW512(4) RK_ROW512(5) RK_ROW512(6) RK_ROW512(7)
    }
    __m512 acc[16] = {c0l, c0h, c1l, c1h, c2l, c2h, c3l, c3h, c4l, c4h, c5l, c5h, c6l, c6h, c7l, c7h};
    for (int r = 0; r < rows; r++) {
        float *o = out + (size_t)r * ldo;
        for (int half = 0; half <= wide; half++) {
            __m512 x = acc[2 * r + half];
            if (accumulate) x = _mm512_add_ps(_mm512_loadu_ps(o + half * RK_PANEL), x);
            _mm512_storeu_ps(o + half * RK_PANEL, x);
        }
    }
}
#undef RK_ROW512

// rk_block512 with the row count and width as constants.
static inline RK_TARGET512 void rk_block512_rows(int rows, int k, const float *a, int lda, const float *panel,
                                                 const float *next, float *out, int ldo, int accumulate) {
#define RK_CASE512(n)                                                                              \
    case n:                                                                                        \
        if (next) rk_block512(n, 1, k, a, lda, panel, next, out, ldo, accumulate);                \
        else rk_block512(n, 0, k, a, lda, panel, NULL, out, ldo, accumulate);                     \
        break;
    switch (rows) {
    RK_CASE512(8) RK_CASE512(7) RK_CASE512(6) RK_CASE512(5) RK_CASE512(4) RK_CASE512(3) RK_CASE512(2)
    default: RK_CASE512(1)
    }
#undef RK_CASE512
}
