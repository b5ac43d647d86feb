// The Adam update and the squared error (recurrent_training.h) in three builds (AVX-512, AVX2 and
// baseline, from training_kernels.h) and the run-time choice between them (rk_cpu_isa).
// Floating-point contraction is off: the builds, and the scalar expressions they come from, give
// the same bits (but for the order of the squared error's sum). N = elements.
#include "recurrent_training.h"
#include "recurrent_gemm.h"

#pragma clang fp contract(off)
#define RK(name) name##_portable
#include "training_kernels.h"
#undef RK

#if defined(__x86_64__) || defined(__i386__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define RK(name) name##_avx2
#include "training_kernels.h"
#undef RK
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma"))), apply_to = function)
#define RK(name) name##_avx512
#include "training_kernels.h"
#undef RK
#pragma clang attribute pop
#endif

void rk_adam_update_build(int isa, float *param, const float *grad, float *m, float *v, long n, const rk_adam *h) {
    if (isa > rk_cpu_isa()) isa = rk_cpu_isa();
#if defined(__x86_64__) || defined(__i386__)
    if (isa >= RK_ISA_AVX512) { rk_adam_update_avx512(param, grad, m, v, n, h); return; }
    if (isa >= RK_ISA_AVX2) { rk_adam_update_avx2(param, grad, m, v, n, h); return; }
#endif
    rk_adam_update_portable(param, grad, m, v, n, h);
}

double rk_squared_error_build(int isa, float *grad, const float *prediction, const float *target, long n, float scale) {
    if (isa > rk_cpu_isa()) isa = rk_cpu_isa();
#if defined(__x86_64__) || defined(__i386__)
    if (isa >= RK_ISA_AVX512) return rk_squared_error_avx512(grad, prediction, target, n, scale);
    if (isa >= RK_ISA_AVX2) return rk_squared_error_avx2(grad, prediction, target, n, scale);
#endif
    return rk_squared_error_portable(grad, prediction, target, n, scale);
}

void rk_adam_update(float *param, const float *grad, float *m, float *v, long n, const rk_adam *h) {
    rk_adam_update_build(rk_cpu_isa(), param, grad, m, v, n, h);
}

double rk_squared_error(float *grad, const float *prediction, const float *target, long n, float scale) {
    return rk_squared_error_build(rk_cpu_isa(), grad, prediction, target, n, scale);
}
