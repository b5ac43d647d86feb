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
    @inlinable
    public static func block(counter: SIMD4<UInt32>, key: SIMD2<UInt32>) -> SIMD4<UInt32> {
        var c = counter
        var k = key
        for round in 0..<10 {
            if round > 0 { k &+= SIMD2(w0, w1) }
            let p0 = UInt64(m0) &* UInt64(c[0])
            let p1 = UInt64(m1) &* UInt64(c[2])
            let hi0 = UInt32(truncatingIfNeeded: p0 >> 32), lo0 = UInt32(truncatingIfNeeded: p0)
            let hi1 = UInt32(truncatingIfNeeded: p1 >> 32), lo1 = UInt32(truncatingIfNeeded: p1)
            c = SIMD4(hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0)
        }
        return c
    }

    /// The 32-bit word at `index` of stream `stream` under `seed`.
    @inlinable
    public static func word(seed: UInt64, stream: UInt64, index: UInt64) -> UInt32 {
        let q = index >> 2
        let out = block(
            counter: SIMD4(UInt32(truncatingIfNeeded: q), UInt32(truncatingIfNeeded: q >> 32),
                           UInt32(truncatingIfNeeded: stream), UInt32(truncatingIfNeeded: stream >> 32)),
            key: SIMD2(UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)))
        return out[Int(index & 3)]
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

    /// Starts stream `stream` of `seed` at word `position`.
    public init(seed: UInt64, stream: UInt64, position: UInt64 = 0) {
        self.seed = seed
        self.stream = stream
        self.position = position
    }

    /// The next 32-bit word.
    public mutating func nextWord() -> UInt32 {
        defer { position &+= 1 }
        return Philox.word(seed: seed, stream: stream, index: position)
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
