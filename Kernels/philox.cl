// Philox4x32-10 (Salmon et al., SC 2011), bit-exact with RecurrentCore/Philox.swift.
// Key = (seed lo, seed hi); counter = (q lo, q hi, stream lo, stream hi) with q = index / 4;
// element `index` is word index % 4 of that block.

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

inline uint4 philox_block(uint4 c, uint2 k) {
    for (int round = 0; round < 10; round++) {
        if (round > 0) { k.x += PHILOX_W0; k.y += PHILOX_W1; }
        uint hi0 = mul_hi(PHILOX_M0, c.x), lo0 = PHILOX_M0 * c.x;
        uint hi1 = mul_hi(PHILOX_M1, c.z), lo1 = PHILOX_M1 * c.z;
        c = (uint4)(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    }
    return c;
}

// The 32-bit word at `index` of stream `stream` under `seed`.
inline uint philox_word(ulong seed, ulong stream, ulong index) {
    ulong q = index >> 2;
    uint4 out = philox_block((uint4)((uint)q, (uint)(q >> 32), (uint)stream, (uint)(stream >> 32)),
                             (uint2)((uint)seed, (uint)(seed >> 32)));
    switch ((uint)(index & 3)) {
    case 0: return out.x;
    case 1: return out.y;
    case 2: return out.z;
    default: return out.w;
    }
}

// words[e] = philox_word(seed, stream, offset + e): the raw stream, for bit-exactness tests.
kernel ONE_DIMENSIONAL void philox_words(global uint* words, ulong words_offset, ulong seed, ulong stream,
                                         ulong offset, ulong n) {
    ulong e = get_global_id(0);
    if (e >= n) return;
    words[words_offset + e] = philox_word(seed, stream, offset + e);
}
