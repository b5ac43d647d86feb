// Packed-weight SGEMM for the recurrent time loop: B packed once into 16-column panels, then a
// 6 × 16 register-blocked AVX2/FMA kernel per panel. Compiled for AVX2/FMA by function target
// attributes and used only when the CPU reports both (no global compiler flags needed).
#include "recurrent_gemm.h"
#include <string.h>

int rk_packed_gemm_available(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

size_t rk_packed_size(int k, int n) {
    return (size_t)((n + RK_PANEL - 1) / RK_PANEL) * (size_t)k * RK_PANEL;
}

void rk_pack_b(float *packed, const float *b, int k, int n, int ldb, int transposed) {
    int panels = (n + RK_PANEL - 1) / RK_PANEL;
    for (int p = 0; p < panels; p++) {
        float *dst = packed + (size_t)p * k * RK_PANEL;
        for (int kk = 0; kk < k; kk++) {
            for (int j = 0; j < RK_PANEL; j++) {
                int col = p * RK_PANEL + j;
                float v = 0.0f;
                if (col < n) v = transposed ? b[(size_t)col * ldb + kk] : b[(size_t)kk * ldb + col];
                dst[kk * RK_PANEL + j] = v;
            }
        }
    }
}

#if defined(__x86_64__) || defined(__i386__)
#include "gemm_block.h"

RK_TARGET void rk_gemm_packed(int m, int n, int k, const float *a, int lda, const float *packed, float *c, int ldc,
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
#else
void rk_gemm_packed(int m, int n, int k, const float *a, int lda, const float *packed, float *c, int ldc, int accumulate) {
    (void)m; (void)n; (void)k; (void)a; (void)lda; (void)packed; (void)c; (void)ldc; (void)accumulate;
}
#endif
