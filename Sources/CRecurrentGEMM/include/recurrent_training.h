// The per-element training ops of the CPU backend's step outside the recurrent layers: the Adam
// update and the mean squared error with its gradient, vectorised, in the widest build this CPU
// runs (rk_cpu_isa). N = elements.
#pragma once

/// Adam's constants for one update (PyTorch's torch.optim.Adam, and AdamW when `decoupled`).
typedef struct rk_adam {
    /// lr / (1 − β1^t), and √(1 − β2^t).
    float step_size, bias_correction2_sqrt;
    float beta1, beta2, epsilon;
    /// Coupled weight decay (g += wd·p) when `decoupled` is 0; else p is first scaled by `decay`
    /// (1 − lr·wd).
    float weight_decay, decay;
    int decoupled;
} rk_adam;

/// Per element, in place, in this order: the weight decay; m += (g − m)(1 − β1);
/// v = v·β2 + (1 − β2)·g·g; p −= step_size · m / (√v / √(1 − β2^t) + ε). No operations are fused,
/// so every build gives the bits of the same scalar expressions.
void rk_adam_update(float *param, const float *grad, float *m, float *v, long n, const rk_adam *h);

/// grad = 2·scale·(prediction − target); returns Σ (prediction − target)², summed in double.
double rk_squared_error(float *grad, const float *prediction, const float *target, long n, float scale);

/// Both in one build (RK_ISA_PORTABLE, RK_ISA_AVX2, RK_ISA_AVX512), capped at what this CPU runs: for
/// tests comparing the builds in one process.
void rk_adam_update_build(int isa, float *param, const float *grad, float *m, float *v, long n, const rk_adam *h);
double rk_squared_error_build(int isa, float *grad, const float *prediction, const float *target, long n, float scale);
