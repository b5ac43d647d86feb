// Philox4x32-10 words and dropout masks on the host, bit for bit those of RecurrentCore's Philox
// and Kernels/philox.cl: key (seed lo, seed hi), counter (q lo, q hi, stream lo, stream hi) with
// q = index / 4, element `index` is word index % 4 of that block. Each block is computed once for
// its four words, many blocks side by side in vector lanes, in the widest build this CPU runs
// (rk_cpu_isa). N = elements; the Philox index of element e is offset + e (mod 2^64).
#pragma once
#include <stddef.h>
#include <stdint.h>

/// Inverted dropout over n elements: m = keep_scale when (word(offset + e) >> 8) >= threshold, else
/// 0; mask[e] = m and y[e] = x[e] · m. y may be x.
void rk_dropout_forward(float *y, float *mask, const float *x, size_t n, uint64_t seed, uint64_t stream,
                        uint64_t offset, uint32_t threshold, float keep_scale);

/// rk_dropout_forward in one build (RK_ISA_PORTABLE, RK_ISA_AVX2, RK_ISA_AVX512), capped at what
/// this CPU runs, for tests comparing the builds in one process; and in that build the raw words,
/// words[e] = Philox word (offset + e) of `stream` under `seed`, for e < n.
void rk_philox_words_build(int isa, uint32_t *words, size_t n, uint64_t seed, uint64_t stream, uint64_t offset);
void rk_dropout_forward_build(int isa, float *y, float *mask, const float *x, size_t n, uint64_t seed, uint64_t stream,
                              uint64_t offset, uint32_t threshold, float keep_scale);
