// Layer normalisation of rows (Ba et al. 2016; nn.LayerNorm's biased variance and ε = 1e-5), forward
// and backward, with each row's sums in double, vectorised, in the widest build this CPU runs
// (rk_cpu_isa). R = rows, W = width of a row (rows are contiguous, stride W).
#pragma once

/// Per row: x̂ = (x − μ)/σ, σ = √(var + 1e-5), into `normalized`; 1/σ into inverse[r]; with `y`
/// (else NULL) y = x̂ ⊙ gain + bias (bias NULL: 0). `normalized` and `y` may be `x`.
void rk_layer_norm_rows(float *normalized, float *inverse, float *y, const float *x, const float *gain,
                        const float *bias, long rows, int w);

/// Per row, with dx̂ = dy ⊙ gain: dx = (1/σ)(dx̂ − mean(dx̂) − x̂ ⊙ mean(dx̂ ⊙ x̂)). `dx` may be `dy`.
void rk_layer_norm_rows_backward(float *dx, const float *dy, const float *normalized, const float *gain,
                                 const float *inverse, long rows, int w);

/// Both in one build (RK_ISA_PORTABLE, RK_ISA_AVX2, RK_ISA_AVX512), capped at what this CPU runs: for
/// tests comparing the builds in one process.
void rk_layer_norm_rows_build(int isa, float *normalized, float *inverse, float *y, const float *x, const float *gain,
                              const float *bias, long rows, int w);
void rk_layer_norm_rows_backward_build(int isa, float *dx, const float *dy, const float *normalized, const float *gain,
                                       const float *inverse, long rows, int w);
