// Products with a weight matrix packed once and used for every step of a sequence (the recurrent
// GEMM h_{t-1} W_hhᵀ and its backward dG W_hh), as oneDNN and cuDNN do: OpenBLAS packs its B
// operand again on every call, a fixed cost that dominates when the active batch is small.
#pragma once
#include <stddef.h>
// The cell kernels and fused time-loop steps built on these products.
#include "recurrent_cells.h"
// The streaming steps and the team of threads that runs them.
#include "recurrent_stream.h"
// Philox words and dropout masks, and layer-norm rows and cells, vectorised like the kernels.
#include "recurrent_random.h"
#include "recurrent_layer_norm.h"
#include "recurrent_layer_norm_cells.h"
// The reset-before GRU's fused steps.
#include "recurrent_reset_before.h"
// The Adam update and the squared error.
#include "recurrent_training.h"

/// Width of a packed column panel.
#define RK_PANEL 16

/// Instruction sets of the kernels' builds, in order.
#define RK_ISA_PORTABLE 0
#define RK_ISA_AVX2 1
#define RK_ISA_AVX512 2

/// The build the kernels run: the widest this CPU supports (AVX-512 F/DQ/BW/VL, else AVX2 + FMA,
/// else portable), capped by the environment variable RECURRENT_CPU_ISA (avx512, avx2, portable)
/// when it is set. Decided once per process.
int rk_cpu_isa(void);

/// Makes a DYNAMIC_ARCH OpenBLAS use kernels for this CPU's vector width (SkylakeX with AVX-512,
/// Haswell with AVX2) when it picked an older set and OPENBLAS_CORETYPE is not set; returns the
/// name of the set in use. Call it once, before the first BLAS call.
const char *rk_openblas_select_core(void);

/// 1 when this CPU runs the packed kernels (rk_cpu_isa() at least RK_ISA_AVX2), else 0.
int rk_packed_gemm_available(void);

/// Floats a packed (k × n) matrix needs: ceil(n / 16) panels of k × 16.
size_t rk_packed_size(int k, int n);

/// Packs op(B) (k × n) into 16-column panels, zero-padded: packed[p·k·16 + kk·16 + j] = op(B)[kk][p·16 + j].
/// B is row-major with leading dimension ldb; transposed != 0 means op(B) = Bᵀ (B stored n × k).
void rk_pack_b(float *packed, const float *b, int k, int n, int ldb, int transposed);

/// C (m × n, row stride ldc) = A (m × k, row stride lda) · packed op(B), or C += when accumulate != 0.
/// Requires rk_packed_gemm_available().
void rk_gemm_packed(int m, int n, int k, const float *a, int lda, const float *packed, float *c, int ldc, int accumulate);

/// C (m × n, row stride ldc) = alpha · op(A) · op(B) + beta · C, cache-blocked over packed
/// blocks of both operands, on the calling thread. op(A) is m × k (A row-major with row stride
/// lda, stored k × m when transa != 0), op(B) is k × n (stored n × k when transb != 0). beta 0
/// overwrites C without reading it. Each element's sum runs in a fixed order (k in blocks of 256,
/// in order), whatever rows of C a call covers, so splitting C among threads changes no result.
/// Returns 0, or -1 without touching C when this CPU has no kernel for it (rk_cpu_isa() below
/// RK_ISA_AVX2) or its packing buffers cannot be allocated.
int rk_sgemm(int transa, int transb, int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
             float beta, float *c, int ldc);

/// out[j] += Σ_r x[r·ldx + j] for j < columns (R × C, row stride ldx): each column's sum in one
/// pass over the rows, in the widest build this CPU runs.
void rk_sum_columns(float *out, const float *x, long rows, int ldx, int columns);
