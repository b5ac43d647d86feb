// The bodies of recurrent_random.h's functions, compiled three times by philox.c: for AVX-512
// (16 blocks per vector), AVX2 (8) and the baseline ISA (4). RK(name) gives each build its own
// names; VU and LANES are the build's uint32 vector and its length; VU64 is the same bits as LANES/2
// uint64.
// A vector holds LANES consecutive Philox blocks, one per lane, so its four output vectors are the
// words 4·l + j (lane l, word j) of 4·LANES consecutive indices.
// Deliberately no include guard: included once per build.

/// hi and lo words of m · x for every lane: the even lanes' and the odd lanes' 32 × 32 → 64-bit
/// products (one unsigned 32-bit multiply instruction each), recombined.
static inline __attribute__((always_inline)) void RK(philox_multiply)(VU x, uint64_t m, VU *hi, VU *lo) {
    const VU64 low = (VU64){0} + UINT64_C(0xFFFFFFFF);
    VU64 even = ((VU64)x & low) * m, odd = ((VU64)x >> 32) * m;
    *lo = (VU)((even & low) | (odd << 32));
    *hi = (VU)((even >> 32) | (odd & ~low));
}

/// Ten Philox4x32 rounds over LANES blocks at once (c0…c3: the counter words of each lane).
static inline __attribute__((always_inline)) void RK(philox_rounds)(VU *c0, VU *c1, VU *c2, VU *c3, uint32_t k0,
                                                                    uint32_t k1) {
    VU x0 = *c0, x1 = *c1, x2 = *c2, x3 = *c3;
    for (int round = 0; round < 10; round++) {
        VU hi0, lo0, hi1, lo1;
        RK(philox_multiply)(x0, RK_PHILOX_M0, &hi0, &lo0);
        RK(philox_multiply)(x2, RK_PHILOX_M1, &hi1, &lo1);
        x0 = hi1 ^ x1 ^ k0;
        x1 = lo1;
        x2 = hi0 ^ x3 ^ k1;
        x3 = lo0;
        k0 += RK_PHILOX_W0;
        k1 += RK_PHILOX_W1;
    }
    *c0 = x0;
    *c1 = x1;
    *c2 = x2;
    *c3 = x3;
}

/// The words of LANES consecutive blocks from block index q (mod 2^62), in element order: out[4·l + j].
static inline __attribute__((always_inline)) void RK(philox_blocks)(uint32_t *out, uint64_t q, uint64_t seed,
                                                                    uint64_t stream) {
    VU iota;
    for (int l = 0; l < LANES; l++) iota[l] = (uint32_t)l;
    VU low = (VU){0} + (uint32_t)q, c0 = low + iota;
    // q's high word, plus 1 in the lanes whose low word wrapped (a true comparison is all ones), mod 2^30.
    VU c1 = (((VU){0} + (uint32_t)(q >> 32)) - (VU)(c0 < low)) & 0x3FFFFFFFu;
    VU c2 = (VU){0} + (uint32_t)stream, c3 = (VU){0} + (uint32_t)(stream >> 32);
    RK(philox_rounds)(&c0, &c1, &c2, &c3, (uint32_t)seed, (uint32_t)(seed >> 32));
    uint32_t lanes[4][LANES];
    memcpy(lanes[0], &c0, sizeof c0);
    memcpy(lanes[1], &c1, sizeof c1);
    memcpy(lanes[2], &c2, sizeof c2);
    memcpy(lanes[3], &c3, sizeof c3);
    for (int l = 0; l < LANES; l++) {
        for (int j = 0; j < 4; j++) out[4 * l + j] = lanes[j][l];
    }
}

/// Calls body(e, words, count) for runs of consecutive elements: words[i] is the word of element
/// e + i, for i < count (at most 4·LANES). Runs start at block boundaries except the first.
#define RK_PHILOX_RUNS(n, seed, stream, offset, body)                                                                  \
    do {                                                                                                               \
        uint32_t words_[4 * LANES];                                                                                    \
        size_t e_ = 0;                                                                                                 \
        while (e_ < (n)) {                                                                                             \
            uint64_t index_ = (offset) + (uint64_t)e_;                                                                 \
            int skip_ = (int)(index_ & 3);                                                                             \
            RK(philox_blocks)(words_, index_ >> 2, (seed), (stream));                                                  \
            size_t count_ = 4 * LANES - skip_;                                                                         \
            if (count_ > (n) - e_) count_ = (n) - e_;                                                                  \
            body(e_, words_ + skip_, count_);                                                                          \
            e_ += count_;                                                                                              \
        }                                                                                                              \
    } while (0)

static void RK(rk_philox_words)(uint32_t *words, size_t n, uint64_t seed, uint64_t stream, uint64_t offset) {
#define RK_COPY_WORDS(e, w, count) memcpy(words + (e), (w), (count) * sizeof(uint32_t))
    RK_PHILOX_RUNS(n, seed, stream, offset, RK_COPY_WORDS);
#undef RK_COPY_WORDS
}

static void RK(rk_dropout_forward)(float *y, float *mask, const float *x, size_t n, uint64_t seed, uint64_t stream,
                                   uint64_t offset, uint32_t threshold, float keep_scale) {
#define RK_DROP(e, w, count)                                                                                           \
    for (size_t i = 0; i < (count); i++) {                                                                             \
        float m = ((w)[i] >> 8) >= threshold ? keep_scale : 0.0f;                                                      \
        mask[(e) + i] = m;                                                                                             \
        y[(e) + i] = x[(e) + i] * m;                                                                                   \
    }
    RK_PHILOX_RUNS(n, seed, stream, offset, RK_DROP);
#undef RK_DROP
}
