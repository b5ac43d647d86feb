// Philox4x32-10 words and dropout masks on the host (recurrent_random.h) in three builds (AVX-512,
// AVX2 and baseline, from philox_kernels.h) and the run-time choice between them (rk_cpu_isa).
// N = elements.
#include "recurrent_random.h"
#include "recurrent_gemm.h"
#include <string.h>

#define RK_PHILOX_M0 0xD2511F53u
#define RK_PHILOX_M1 0xCD9E8D57u
#define RK_PHILOX_W0 0x9E3779B9u
#define RK_PHILOX_W1 0xBB67AE85u

typedef uint32_t rk_u4 __attribute__((vector_size(16)));
typedef uint64_t rk_u64x2 __attribute__((vector_size(16)));
typedef uint32_t rk_u8 __attribute__((vector_size(32)));
typedef uint64_t rk_u64x4 __attribute__((vector_size(32)));
typedef uint32_t rk_u16 __attribute__((vector_size(64)));
typedef uint64_t rk_u64x8 __attribute__((vector_size(64)));

#define RK(name) name##_portable
#define VU rk_u4
#define VU64 rk_u64x2
#define LANES 4
#include "philox_kernels.h"
#undef RK
#undef VU
#undef VU64
#undef LANES

#if defined(__x86_64__) || defined(__i386__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define RK(name) name##_avx2
#define VU rk_u8
#define VU64 rk_u64x4
#define LANES 8
#include "philox_kernels.h"
#undef RK
#undef VU
#undef VU64
#undef LANES
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma"))), apply_to = function)
#define RK(name) name##_avx512
#define VU rk_u16
#define VU64 rk_u64x8
#define LANES 16
#include "philox_kernels.h"
#undef RK
#undef VU
#undef VU64
#undef LANES
#pragma clang attribute pop
#endif

void rk_philox_words_build(int isa, uint32_t *words, size_t n, uint64_t seed, uint64_t stream, uint64_t offset) {
    if (isa > rk_cpu_isa()) isa = rk_cpu_isa();
#if defined(__x86_64__) || defined(__i386__)
    if (isa >= RK_ISA_AVX512) { rk_philox_words_avx512(words, n, seed, stream, offset); return; }
    if (isa >= RK_ISA_AVX2) { rk_philox_words_avx2(words, n, seed, stream, offset); return; }
#endif
    rk_philox_words_portable(words, n, seed, stream, offset);
}

void rk_dropout_forward_build(int isa, float *y, float *mask, const float *x, size_t n, uint64_t seed, uint64_t stream,
                              uint64_t offset, uint32_t threshold, float keep_scale) {
    if (isa > rk_cpu_isa()) isa = rk_cpu_isa();
#if defined(__x86_64__) || defined(__i386__)
    if (isa >= RK_ISA_AVX512) { rk_dropout_forward_avx512(y, mask, x, n, seed, stream, offset, threshold, keep_scale); return; }
    if (isa >= RK_ISA_AVX2) { rk_dropout_forward_avx2(y, mask, x, n, seed, stream, offset, threshold, keep_scale); return; }
#endif
    rk_dropout_forward_portable(y, mask, x, n, seed, stream, offset, threshold, keep_scale);
}

void rk_dropout_forward(float *y, float *mask, const float *x, size_t n, uint64_t seed, uint64_t stream,
                        uint64_t offset, uint32_t threshold, float keep_scale) {
    rk_dropout_forward_build(rk_cpu_isa(), y, mask, x, n, seed, stream, offset, threshold, keep_scale);
}
