// Products with a weight matrix packed once and used for every step of a sequence (the recurrent
// GEMM h_{t-1} W_hhᵀ and its backward dG W_hh), as oneDNN and cuDNN do: OpenBLAS packs its B
// operand again on every call, a fixed cost that dominates when the active batch is small.
#pragma once
#include <stddef.h>
// The cell kernels and fused time-loop steps built on these products.
#include "recurrent_cells.h"

/// Width of a packed column panel.
#define RK_PANEL 16

/// 1 when this CPU runs the packed kernels (AVX2 and FMA), else 0.
int rk_packed_gemm_available(void);

/// Floats a packed (k × n) matrix needs: ceil(n / 16) panels of k × 16.
size_t rk_packed_size(int k, int n);

/// Packs op(B) (k × n) into 16-column panels, zero-padded: packed[p·k·16 + kk·16 + j] = op(B)[kk][p·16 + j].
/// B is row-major with leading dimension ldb; transposed != 0 means op(B) = Bᵀ (B stored n × k).
void rk_pack_b(float *packed, const float *b, int k, int n, int ldb, int transposed);

/// C (m × n, row stride ldc) = A (m × k, row stride lda) · packed op(B), or C += when accumulate != 0.
/// Requires rk_packed_gemm_available().
void rk_gemm_packed(int m, int n, int k, const float *a, int lda, const float *packed, float *c, int ldc, int accumulate);
