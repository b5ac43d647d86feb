// Cache-blocked SGEMM in the GotoBLAS/BLIS order, over the register blocks of the packed
// products: a kc × nc block of op(B) is packed into 16-column panels (rk_pack_b's layout) and
// kept in L2; an mc × kc block of op(A) is packed into micro-panels of MR rows (kk-major, MR
// floats per kk) so that one micro-panel stays in L1 while it meets every panel of the B block.
// AVX-512: 14 rows × 32 columns per register block; AVX2/FMA: 6 × 16. One thread per call: the
// caller splits C among threads (each element's sum is the same whichever way C is split).
// Summation order: each element of C adds its products in k order within a block of kc, and the
// blocks in k order, so results are the same run to run.
// m × k = op(A), k × n = op(B), m × n = C; lda/ldb/ldc = row strides as stored.
#include "recurrent_gemm.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include "gemm_block.h"

/// Depth of a block (kc): rows of op(B) packed at a time.
#define RK_KC 256
/// Columns of a packed block of op(B) (nc): kc × nc floats = 1 MiB, half of a 2 MiB L2.
#define RK_NC 1024
/// Rows of a packed block of op(A) at most (mc; 8 AVX-512 micro-panels of 14): mc × kc floats = 112 KiB, in L2 beside B.
#define RK_MC 112

/// C (rows × cols) = beta · C, beta 0 writing zeros (C's old values, even NaN, are not read).
static void rk_scale_c(float *c, int ldc, int rows, int cols, float beta) {
    for (int i = 0; i < rows; i++) {
        float *o = c + (size_t)i * ldc;
        if (beta == 0.0f) memset(o, 0, (size_t)cols * sizeof(float));
        else if (beta != 1.0f) for (int j = 0; j < cols; j++) o[j] *= beta;
    }
}

/// Packs op(A)[0..<rows][0..<depth] (a at its element [0][0]) into micro-panels of mr rows:
/// dst[(r / mr)·depth·mr + kk·mr + i] = op(A)[r + i][kk], rows beyond `rows` zero.
static void rk_pack_a(float *dst, const float *a, int lda, int transa, int rows, int depth, int mr) {
    for (int r = 0; r < rows; r += mr) {
        int h = rows - r < mr ? rows - r : mr;
        float *d = dst + (size_t)r * depth;
        if (transa) {
            // op(A)[r + i][kk] = a[kk·lda + r + i]: mr consecutive floats per kk.
            for (int kk = 0; kk < depth; kk++) {
                const float *s = a + (size_t)kk * lda + r;
                float *o = d + (size_t)kk * mr;
                for (int i = 0; i < h; i++) o[i] = s[i];
                for (int i = h; i < mr; i++) o[i] = 0.0f;
            }
        } else {
            for (int i = 0; i < h; i++) {
                const float *s = a + (size_t)(r + i) * lda;
                for (int kk = 0; kk < depth; kk++) d[(size_t)kk * mr + i] = s[kk];
            }
            for (int i = h; i < mr; i++) for (int kk = 0; kk < depth; kk++) d[(size_t)kk * mr + i] = 0.0f;
        }
    }
}

/// Adds a rows × cols tile (row stride ldt) into C: C = alpha · tile + beta · C (beta 0: C not read),
/// rounded as the register blocks' full tiles are (alpha · tile first, then one fused multiply-add).
/// Inlined into each build, whose instructions it then uses.
static inline __attribute__((always_inline)) void rk_store_tile(float *c, int ldc, const float *tile, int ldt, int rows,
                                                                int cols, float alpha, float beta) {
    for (int i = 0; i < rows; i++) {
        float *o = c + (size_t)i * ldc;
        const float *t = tile + (size_t)i * ldt;
        if (beta == 0.0f) for (int j = 0; j < cols; j++) o[j] = alpha * t[j];
        else for (int j = 0; j < cols; j++) o[j] = __builtin_fmaf(beta, o[j], alpha * t[j]);
    }
}

/// Rows of an AVX-512 micro-panel of packed A.
#define RK_MR512 14
/// Rows of an AVX2 micro-panel of packed A.
#define RK_MR2 6

// RK_MR512 × (16 or 32) over packed A and one or two panels of packed B, then
// C = alpha · acc + beta · C for the `rows` × `cols` part of the tile that lies inside C.
#define RK_FMA512(i)                                                                               \
    {                                                                                              \
        __m512 v = _mm512_set1_ps(ap[(size_t)kk * RK_MR512 + i]);                                  \
        acc[2 * i] = _mm512_fmadd_ps(v, bl, acc[2 * i]);                                           \
        if (wide) acc[2 * i + 1] = _mm512_fmadd_ps(v, bh, acc[2 * i + 1]);                         \
    }
static inline __attribute__((always_inline)) RK_TARGET512 void
rk_tile512(int wide, int k, const float *ap, const float *b0, const float *b1, float *c, int ldc, int rows, int cols,
           float alpha, float beta) {
    __m512 acc[2 * RK_MR512];
    for (int i = 0; i < 2 * RK_MR512; i++) acc[i] = _mm512_setzero_ps();
    // The tile of C is read (or written) after the loop: start bringing its rows in now.
    for (int i = 0; i < rows; i++) {
        _mm_prefetch((const char *)(c + (size_t)i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + (size_t)i * ldc + cols - 1), _MM_HINT_T0);
    }
    for (int kk = 0; kk < k; kk++) {
        __m512 bl = _mm512_loadu_ps(b0 + (size_t)kk * RK_PANEL), bh = wide ? _mm512_loadu_ps(b1 + (size_t)kk * RK_PANEL) : bl;
        RK_FMA512(0) RK_FMA512(1) RK_FMA512(2) RK_FMA512(3) RK_FMA512(4) RK_FMA512(5) RK_FMA512(6) RK_FMA512(7)
        RK_FMA512(8) RK_FMA512(9) RK_FMA512(10) RK_FMA512(11) RK_FMA512(12) RK_FMA512(13)
    }
    int span = (wide ? 2 : 1) * RK_PANEL;
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    if (rows == RK_MR512 && cols == span) {
        for (int i = 0; i < RK_MR512; i++) {
            float *o = c + (size_t)i * ldc;
            for (int half = 0; half <= wide; half++) {
                __m512 x = _mm512_mul_ps(va, acc[2 * i + half]);
                if (beta != 0.0f) x = _mm512_fmadd_ps(vb, _mm512_loadu_ps(o + half * RK_PANEL), x);
                _mm512_storeu_ps(o + half * RK_PANEL, x);
            }
        }
    } else {
        float tile[RK_MR512 * 2 * RK_PANEL];
        for (int i = 0; i < RK_MR512; i++) {
            _mm512_storeu_ps(tile + i * 2 * RK_PANEL, acc[2 * i]);
            if (wide) _mm512_storeu_ps(tile + i * 2 * RK_PANEL + RK_PANEL, acc[2 * i + 1]);
        }
        rk_store_tile(c, ldc, tile, 2 * RK_PANEL, rows, cols, alpha, beta);
    }
}
#undef RK_FMA512

/// Transposes 16 rows of 16 floats in registers: x[j] becomes column j, (x[0][j], ..., x[15][j]).
static inline __attribute__((always_inline)) RK_TARGET512 void rk_transpose16(__m512 x[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(x[2 * i], x[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(x[2 * i], x[2 * i + 1]);
    }
    // u[4i + j], lane L: column 4L + j of rows 4i…4i+3.
    for (int i = 0; i < 4; i++) {
        u[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        u[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        u[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        u[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int j = 0; j < 4; j++) {
        __m512 v0 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88), v1 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xDD);
        __m512 w0 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88), w1 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xDD);
        x[j] = _mm512_shuffle_f32x4(v0, w0, 0x88);
        x[4 + j] = _mm512_shuffle_f32x4(v1, w1, 0x88);
        x[8 + j] = _mm512_shuffle_f32x4(v0, w0, 0xDD);
        x[12 + j] = _mm512_shuffle_f32x4(v1, w1, 0xDD);
    }
}

/// rk_pack_a into AVX-512 micro-panels (RK_MR512 rows): A stored as is is read 16 × 16 at a time and
/// transposed in registers; stored transposed, each kk's RK_MR512 floats are consecutive already.
static RK_TARGET512 void rk_pack_a512(float *dst, const float *a, int lda, int transa, int rows, int depth) {
    const __mmask16 lanes = (__mmask16)((1u << RK_MR512) - 1);
    for (int r = 0; r < rows; r += RK_MR512) {
        int h = rows - r < RK_MR512 ? rows - r : RK_MR512;
        float *d = dst + (size_t)r * depth;
        if (transa) {
            __mmask16 valid = (__mmask16)((1u << h) - 1);
            for (int kk = 0; kk < depth; kk++)
                _mm512_mask_storeu_ps(d + (size_t)kk * RK_MR512, lanes, _mm512_maskz_loadu_ps(valid, a + (size_t)kk * lda + r));
            continue;
        }
        for (int k0 = 0; k0 < depth; k0 += 16) {
            int w = depth - k0 < 16 ? depth - k0 : 16;
            __mmask16 cols = (__mmask16)((1u << w) - 1);
            __m512 x[16];
            for (int i = 0; i < 16; i++)
                x[i] = i < h ? _mm512_maskz_loadu_ps(cols, a + (size_t)(r + i) * lda + k0) : _mm512_setzero_ps();
            rk_transpose16(x);
            for (int j = 0; j < w; j++) _mm512_mask_storeu_ps(d + (size_t)(k0 + j) * RK_MR512, lanes, x[j]);
        }
    }
}

/// One packed A block (mc × kc) times one packed B block (kc × nc) into C (AVX-512).
static RK_TARGET512 void rk_macro512(int mc, int nc, int kc, const float *ap, const float *bp, float *c, int ldc,
                                     float alpha, float beta) {
    for (int r = 0; r < mc; r += RK_MR512) {
        const float *a = ap + (size_t)r * kc;
        int rows = mc - r < RK_MR512 ? mc - r : RK_MR512;
        for (int j = 0; j < nc; j += 2 * RK_PANEL) {
            const float *b0 = bp + (size_t)j * kc;
            float *o = c + (size_t)r * ldc + j;
            int cols = nc - j;
            if (cols > RK_PANEL) rk_tile512(1, kc, a, b0, b0 + (size_t)kc * RK_PANEL, o, ldc, rows, cols < 32 ? cols : 32, alpha, beta);
            else rk_tile512(0, kc, a, b0, NULL, o, ldc, rows, cols, alpha, beta);
        }
    }
}

// RK_MR2 × 16 over packed A and one panel of packed B (AVX2/FMA), stored like rk_tile512.
static inline __attribute__((always_inline)) RK_TARGET void
rk_tile2(int k, const float *ap, const float *b0, float *c, int ldc, int rows, int cols, float alpha, float beta) {
    __m256 acc[2 * RK_MR2];
    for (int i = 0; i < 2 * RK_MR2; i++) acc[i] = _mm256_setzero_ps();
    for (int kk = 0; kk < k; kk++) {
        __m256 bl = _mm256_loadu_ps(b0 + (size_t)kk * RK_PANEL), bh = _mm256_loadu_ps(b0 + (size_t)kk * RK_PANEL + 8);
        for (int i = 0; i < RK_MR2; i++) {
            __m256 v = _mm256_broadcast_ss(ap + (size_t)kk * RK_MR2 + i);
            acc[2 * i] = _mm256_fmadd_ps(v, bl, acc[2 * i]);
            acc[2 * i + 1] = _mm256_fmadd_ps(v, bh, acc[2 * i + 1]);
        }
    }
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    if (rows == RK_MR2 && cols == RK_PANEL) {
        for (int i = 0; i < RK_MR2; i++) {
            float *o = c + (size_t)i * ldc;
            for (int half = 0; half < 2; half++) {
                __m256 x = _mm256_mul_ps(va, acc[2 * i + half]);
                if (beta != 0.0f) x = _mm256_fmadd_ps(vb, _mm256_loadu_ps(o + half * 8), x);
                _mm256_storeu_ps(o + half * 8, x);
            }
        }
    } else {
        float tile[RK_MR2 * RK_PANEL];
        for (int i = 0; i < 2 * RK_MR2; i++) _mm256_storeu_ps(tile + i * 8, acc[i]);
        rk_store_tile(c, ldc, tile, RK_PANEL, rows, cols, alpha, beta);
    }
}

/// One packed A block times one packed B block into C (AVX2/FMA).
static RK_TARGET void rk_macro2(int mc, int nc, int kc, const float *ap, const float *bp, float *c, int ldc, float alpha,
                                float beta) {
    for (int r = 0; r < mc; r += RK_MR2) {
        const float *a = ap + (size_t)r * kc;
        int rows = mc - r < RK_MR2 ? mc - r : RK_MR2;
        for (int j = 0; j < nc; j += RK_PANEL) {
            int cols = nc - j < RK_PANEL ? nc - j : RK_PANEL;
            rk_tile2(kc, a, bp + (size_t)j * kc, c + (size_t)r * ldc + j, ldc, rows, cols, alpha, beta);
        }
    }
}

int rk_sgemm(int transa, int transb, int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
             float beta, float *c, int ldc) {
    int isa = rk_cpu_isa();
    if (isa < RK_ISA_AVX2) return -1;
    if (m <= 0 || n <= 0) return 0;
    if (k <= 0 || alpha == 0.0f) {
        rk_scale_c(c, ldc, m, n, beta);
        return 0;
    }
    // Row blocks of whole micro-panels: 112 rows with AVX-512, 108 with AVX2.
    int mr = isa >= RK_ISA_AVX512 ? RK_MR512 : RK_MR2, mcStep = RK_MC / mr * mr;
    int kcMax = k < RK_KC ? k : RK_KC, ncMax = n < RK_NC ? n : RK_NC, mcMax = m < mcStep ? m : mcStep;
    size_t bFloats = rk_packed_size(kcMax, ncMax);
    size_t aFloats = (size_t)((mcMax + mr - 1) / mr) * mr * kcMax;
    float *bp = aligned_alloc(64, ((bFloats + aFloats) * sizeof(float) + 63) / 64 * 64);
    if (!bp) return -1;
    float *ap = bp + bFloats;
    for (int j0 = 0; j0 < n; j0 += RK_NC) {
        int nc = n - j0 < RK_NC ? n - j0 : RK_NC;
        for (int p0 = 0; p0 < k; p0 += RK_KC) {
            int kc = k - p0 < RK_KC ? k - p0 : RK_KC;
            // op(B)[p0][j0] is b[p0·ldb + j0], or b[j0·ldb + p0] when B is stored transposed.
            rk_pack_b(bp, b + (transb ? (size_t)j0 * ldb + p0 : (size_t)p0 * ldb + j0), kc, nc, ldb, transb);
            // The first block of k applies beta; later ones add to what it wrote.
            float blockBeta = p0 == 0 ? beta : 1.0f;
            for (int i0 = 0; i0 < m; i0 += mcStep) {
                int mc = m - i0 < mcStep ? m - i0 : mcStep;
                // op(A)[i0][p0] is a[i0·lda + p0], or a[p0·lda + i0] when A is stored transposed.
                const float *ab = a + (transa ? (size_t)p0 * lda + i0 : (size_t)i0 * lda + p0);
                float *cb = c + (size_t)i0 * ldc + j0;
                if (isa >= RK_ISA_AVX512) {
                    rk_pack_a512(ap, ab, lda, transa, mc, kc);
                    rk_macro512(mc, nc, kc, ap, bp, cb, ldc, alpha, blockBeta);
                } else {
                    rk_pack_a(ap, ab, lda, transa, mc, kc, mr);
                    rk_macro2(mc, nc, kc, ap, bp, cb, ldc, alpha, blockBeta);
                }
            }
        }
    }
    free(bp);
    return 0;
}
#else
int rk_sgemm(int transa, int transb, int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
             float beta, float *c, int ldc) {
    (void)transa; (void)transb; (void)m; (void)n; (void)k; (void)alpha; (void)a; (void)lda; (void)b; (void)ldb;
    (void)beta; (void)c; (void)ldc;
    return -1;
}
#endif
