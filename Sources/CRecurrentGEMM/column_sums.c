// Column sums of a row-major matrix (the bias gradients: Σ over rows of dG), a block of columns at a
// time with the partial sums in registers, so that each element is loaded once: an AVX-512 build
// (64 columns per block), an AVX2 build (32) and a portable loop, chosen by rk_cpu_isa().
// R × C = rows × columns.
#include "recurrent_gemm.h"

static void rk_sum_columns_portable(float *out, const float *x, long rows, int ldx, int columns) {
    for (int j = 0; j < columns; j++) {
        float sum = 0.0f;
        for (long r = 0; r < rows; r++) sum += x[r * ldx + j];
        out[j] += sum;
    }
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

__attribute__((target("avx2,fma"))) static void rk_sum_columns_avx2(float *out, const float *x, long rows, int ldx,
                                                                  int columns) {
    int j = 0;
    for (; j + 32 <= columns; j += 32) {
        __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
        for (long r = 0; r < rows; r++) {
            const float *row = x + r * ldx + j;
            s0 = _mm256_add_ps(s0, _mm256_loadu_ps(row));
            s1 = _mm256_add_ps(s1, _mm256_loadu_ps(row + 8));
            s2 = _mm256_add_ps(s2, _mm256_loadu_ps(row + 16));
            s3 = _mm256_add_ps(s3, _mm256_loadu_ps(row + 24));
        }
        _mm256_storeu_ps(out + j, _mm256_add_ps(_mm256_loadu_ps(out + j), s0));
        _mm256_storeu_ps(out + j + 8, _mm256_add_ps(_mm256_loadu_ps(out + j + 8), s1));
        _mm256_storeu_ps(out + j + 16, _mm256_add_ps(_mm256_loadu_ps(out + j + 16), s2));
        _mm256_storeu_ps(out + j + 24, _mm256_add_ps(_mm256_loadu_ps(out + j + 24), s3));
    }
    rk_sum_columns_portable(out + j, x + j, rows, ldx, columns - j);
}

__attribute__((target("avx512f,avx2,fma"))) static void rk_sum_columns_avx512(float *out, const float *x, long rows, int ldx,
                                                                            int columns) {
    int j = 0;
    for (; j + 64 <= columns; j += 64) {
        __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
        for (long r = 0; r < rows; r++) {
            const float *row = x + r * ldx + j;
            s0 = _mm512_add_ps(s0, _mm512_loadu_ps(row));
            s1 = _mm512_add_ps(s1, _mm512_loadu_ps(row + 16));
            s2 = _mm512_add_ps(s2, _mm512_loadu_ps(row + 32));
            s3 = _mm512_add_ps(s3, _mm512_loadu_ps(row + 48));
        }
        _mm512_storeu_ps(out + j, _mm512_add_ps(_mm512_loadu_ps(out + j), s0));
        _mm512_storeu_ps(out + j + 16, _mm512_add_ps(_mm512_loadu_ps(out + j + 16), s1));
        _mm512_storeu_ps(out + j + 32, _mm512_add_ps(_mm512_loadu_ps(out + j + 32), s2));
        _mm512_storeu_ps(out + j + 48, _mm512_add_ps(_mm512_loadu_ps(out + j + 48), s3));
    }
    rk_sum_columns_avx2(out + j, x + j, rows, ldx, columns - j);
}
#endif

void rk_sum_columns(float *out, const float *x, long rows, int ldx, int columns) {
#if defined(__x86_64__) || defined(__i386__)
    int isa = rk_cpu_isa();
    if (isa >= RK_ISA_AVX512) return rk_sum_columns_avx512(out, x, rows, ldx, columns);
    if (isa >= RK_ISA_AVX2) return rk_sum_columns_avx2(out, x, rows, ldx, columns);
#endif
    rk_sum_columns_portable(out, x, rows, ldx, columns);
}
