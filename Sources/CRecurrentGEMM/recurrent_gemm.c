// Packed-weight SGEMM for the recurrent time loop: B packed once into 16-column panels, then a
// register-blocked kernel: 8 rows × 32 columns (two panels) with AVX-512, 6 × 16 with AVX2/FMA.
// Each build is compiled by function target attributes and used only when the CPU reports its
// instructions (no global compiler flags needed).
#include "recurrent_gemm.h"
#include <stdlib.h>
#include <string.h>

static int rk_detect_isa(void) {
    int isa = RK_ISA_PORTABLE;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        isa = RK_ISA_AVX2;
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512vl")) isa = RK_ISA_AVX512;
    }
#endif
    const char *cap = getenv("RECURRENT_CPU_ISA");
    if (cap && strcmp(cap, "avx2") == 0 && isa > RK_ISA_AVX2) isa = RK_ISA_AVX2;
    if (cap && strcmp(cap, "portable") == 0) isa = RK_ISA_PORTABLE;
    return isa;
}

int rk_cpu_isa(void) {
    // Every thread that races here computes the same value.
    static int isa = -1;
    int known = __atomic_load_n(&isa, __ATOMIC_RELAXED);
    if (known < 0) {
        known = rk_detect_isa();
        __atomic_store_n(&isa, known, __ATOMIC_RELAXED);
    }
    return known;
}

int rk_packed_gemm_available(void) { return rk_cpu_isa() >= RK_ISA_AVX2; }

size_t rk_packed_size(int k, int n) {
    return (size_t)((n + RK_PANEL - 1) / RK_PANEL) * (size_t)k * RK_PANEL;
}

void rk_pack_b(float *packed, const float *b, int k, int n, int ldb, int transposed) {
    for (int col = 0; col < n; col += RK_PANEL) {
        float *dst = packed + (size_t)col * k;
        int width = n - col < RK_PANEL ? n - col : RK_PANEL;
        if (transposed) {
            // Column col + j of op(B) is row col + j of B: read along it, write every 16th float.
            for (int j = 0; j < width; j++) {
                const float *src = b + (size_t)(col + j) * ldb;
                for (int kk = 0; kk < k; kk++) dst[(size_t)kk * RK_PANEL + j] = src[kk];
            }
            for (int j = width; j < RK_PANEL; j++) for (int kk = 0; kk < k; kk++) dst[(size_t)kk * RK_PANEL + j] = 0.0f;
        } else {
            for (int kk = 0; kk < k; kk++) {
                const float *src = b + (size_t)kk * ldb + col;
                float *o = dst + (size_t)kk * RK_PANEL;
                for (int j = 0; j < width; j++) o[j] = src[j];
                for (int j = width; j < RK_PANEL; j++) o[j] = 0.0f;
            }
        }
    }
}

#if defined(__x86_64__) || defined(__i386__)
#include "gemm_block.h"

RK_TARGET void rk_gemm_packed_avx2(int m, int n, int k, const float *a, int lda, const float *packed, float *c, int ldc,
                                   int accumulate) {
    int panels = (n + RK_PANEL - 1) / RK_PANEL;
    float edge[6 * RK_PANEL];
    for (int p = 0; p < panels; p++) {
        const float *panel = packed + (size_t)p * k * RK_PANEL;
        int col = p * RK_PANEL, width = n - col < RK_PANEL ? n - col : RK_PANEL;
        for (int r = 0; r < m; r += 6) {
            int rows = m - r < 6 ? m - r : 6;
            const float *ar = a + (size_t)r * lda;
            if (width == RK_PANEL) {
                rk_block_rows(rows, k, ar, lda, panel, c + (size_t)r * ldc + col, ldc, accumulate);
            } else {
                // The last, partial panel: compute 16 wide into a scratch block, copy the valid columns.
                rk_block_rows(rows, k, ar, lda, panel, edge, RK_PANEL, 0);
                for (int i = 0; i < rows; i++) {
                    float *o = c + (size_t)(r + i) * ldc + col;
                    for (int j = 0; j < width; j++) o[j] = accumulate ? o[j] + edge[i * RK_PANEL + j] : edge[i * RK_PANEL + j];
                }
            }
        }
    }
}

RK_TARGET512 void rk_gemm_packed_avx512(int m, int n, int k, const float *a, int lda, const float *packed, float *c, int ldc,
                                        int accumulate) {
    int panels = (n + RK_PANEL - 1) / RK_PANEL;
    float edge[RK_ROWS512 * 2 * RK_PANEL];
    for (int p = 0; p < panels; p += 2) {
        int wide = p + 1 < panels;
        const float *panel = packed + (size_t)p * k * RK_PANEL, *next = wide ? panel + (size_t)k * RK_PANEL : NULL;
        int col = p * RK_PANEL, span = (wide ? 2 : 1) * RK_PANEL, width = n - col < span ? n - col : span;
        for (int r = 0; r < m; r += RK_ROWS512) {
            int rows = m - r < RK_ROWS512 ? m - r : RK_ROWS512;
            const float *ar = a + (size_t)r * lda;
            if (width == span) {
                rk_block512_rows(rows, k, ar, lda, panel, next, c + (size_t)r * ldc + col, ldc, accumulate);
            } else {
                rk_block512_rows(rows, k, ar, lda, panel, next, edge, 2 * RK_PANEL, 0);
                for (int i = 0; i < rows; i++) {
                    float *o = c + (size_t)(r + i) * ldc + col;
                    const float *e = edge + i * 2 * RK_PANEL;
                    for (int j = 0; j < width; j++) o[j] = accumulate ? o[j] + e[j] : e[j];
                }
            }
        }
    }
}

void rk_gemm_packed(int m, int n, int k, const float *a, int lda, const float *packed, float *c, int ldc, int accumulate) {
    if (rk_cpu_isa() >= RK_ISA_AVX512) rk_gemm_packed_avx512(m, n, k, a, lda, packed, c, ldc, accumulate);
    else rk_gemm_packed_avx2(m, n, k, a, lda, packed, c, ldc, accumulate);
}
#else
void rk_gemm_packed(int m, int n, int k, const float *a, int lda, const float *packed, float *c, int ldc, int accumulate) {
    (void)m; (void)n; (void)k; (void)a; (void)lda; (void)packed; (void)c; (void)ldc; (void)accumulate;
}
#endif
