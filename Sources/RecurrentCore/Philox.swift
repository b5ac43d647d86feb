import Foundation

/// Philox4x32-10, the counter-based generator of Salmon et al., "Parallel random numbers:
/// as easy as 1, 2, 3" (SC 2011). A value depends only on (seed, stream, index), so every
/// device computes the same numbers without sharing state.
///
/// Mapping used everywhere in RecurrentKit (Swift and OpenCL alike): the key is the seed's
/// low and high words; the counter is `(q.lo, q.hi, stream.lo, stream.hi)` with `q = index / 4`;
/// element `index` is word `index % 4` of that block.
public enum Philox {
    @usableFromInline static let m0: UInt32 = 0xD251_1F53
    @usableFromInline static let m1: UInt32 = 0xCD9E_8D57
    @usableFromInline static let w0: UInt32 = 0x9E37_79B9
    @usableFromInline static let w1: UInt32 = 0xBB67_AE85

    /// One Philox4x32 block: ten rounds over `counter` with `key`.
    ///
    /// The rounds work on scalar words: the same bits as on SIMD vectors, without the generic
    /// SIMD operations an unoptimised (debug) build calls through metadata lookups.
    @inlinable
    public static func block(counter: SIMD4<UInt32>, key: SIMD2<UInt32>) -> SIMD4<UInt32> {
        var (c0, c1, c2, c3) = (counter[0], counter[1], counter[2], counter[3])
        var (k0, k1) = (key[0], key[1])
        for round in 0..<10 {
            if round > 0 { k0 &+= w0; k1 &+= w1 }
            let p0 = UInt64(m0) &* UInt64(c0)
            let p1 = UInt64(m1) &* UInt64(c2)
            (c0, c1, c2, c3) = (UInt32(truncatingIfNeeded: p1 >> 32) ^ c1 ^ k0, UInt32(truncatingIfNeeded: p1),
                                UInt32(truncatingIfNeeded: p0 >> 32) ^ c3 ^ k1, UInt32(truncatingIfNeeded: p0))
        }
        return SIMD4(c0, c1, c2, c3)
    }

    /// Block `q` of stream `stream` under `seed`: words 4q ..< 4q + 4.
    @inlinable
    public static func block(seed: UInt64, stream: UInt64, blockIndex q: UInt64) -> SIMD4<UInt32> {
        block(counter: SIMD4(UInt32(truncatingIfNeeded: q), UInt32(truncatingIfNeeded: q >> 32),
                             UInt32(truncatingIfNeeded: stream), UInt32(truncatingIfNeeded: stream >> 32)),
              key: SIMD2(UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)))
    }

    /// The 32-bit word at `index` of stream `stream` under `seed`.
    @inlinable
    public static func word(seed: UInt64, stream: UInt64, index: UInt64) -> UInt32 {
        block(seed: seed, stream: stream, blockIndex: index >> 2)[Int(index & 3)]
    }

    /// A uniform float in [0, 1) from a word: the top 24 bits times 2^-24 (exact in fp32).
    @inlinable
    public static func unitFloat(_ word: UInt32) -> Float {
        Float(word >> 8) * 0x1p-24
    }

    /// The integer threshold for dropping with probability `p`: an element is dropped when
    /// `word >> 8 < threshold`. Integer comparison keeps masks bit-identical on every device.
    @inlinable
    public static func dropThreshold(probability p: Float) -> UInt32 {
        UInt32((Double(p) * 16_777_216).rounded(.up))
    }
}

/// A position in a Philox stream: fills arrays with uniform or normal values on the host.
///
/// Used for weight initialisation, which is computed on the host and uploaded, so every
/// backend starts from bit-identical weights.
public struct PhiloxStream: Sendable {
    /// The generator key.
    public let seed: UInt64
    /// The stream (the counter's high half): one per parameter or dropout site.
    public let stream: UInt64
    /// The index of the next word to draw.
    public private(set) var position: UInt64

    /// The index of the block in `words` (none before the first draw: no block index is UInt64.max).
    private var blockIndex = UInt64.max
    /// The four words of block `blockIndex`, drawn one at a time.
    private var words = SIMD4<UInt32>()

    /// Starts stream `stream` of `seed` at word `position`.
    public init(seed: UInt64, stream: UInt64, position: UInt64 = 0) {
        self.seed = seed
        self.stream = stream
        self.position = position
    }

    /// The next 32-bit word: `Philox.word(seed:stream:index: position)`, one block computed per
    /// four words.
    public mutating func nextWord() -> UInt32 {
        defer { position &+= 1 }
        let q = position >> 2
        if q != blockIndex {
            words = Philox.block(seed: seed, stream: stream, blockIndex: q)
            blockIndex = q
        }
        return words[Int(position & 3)]
    }

    /// `count` values uniform in [low, high).
    public mutating func uniform(count: Int, low: Float, high: Float) -> [Float] {
        (0..<count).map { _ in low + (high - low) * Philox.unitFloat(nextWord()) }
    }

    /// `count` values from N(mean, std²) by the Box–Muller transform (two words per value).
    public mutating func normal(count: Int, mean: Float = 0, std: Float = 1) -> [Float] {
        (0..<count).map { _ in
            // u1 in (0, 1] so the logarithm is finite.
            let u1 = (Double(nextWord() >> 8) + 1) * 0x1p-24
            let u2 = Double(nextWord() >> 8) * 0x1p-24
            let z = (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
            return mean + std * Float(z)
        }
    }
}
