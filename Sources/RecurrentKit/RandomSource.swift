/// The source of all randomness in a model: a seed and a counter of Philox streams.
///
/// Each parameter and each dropout site takes its own stream when it is created, so the
/// same seed and the same construction order give the same weights and masks on every
/// device. There is no global generator: pass one `RandomSource` to the layers you build.
public final class RandomSource {
    /// The Philox key.
    public let seed: UInt64
    /// The next stream to hand out.
    public private(set) var nextStreamIndex: UInt64 = 0

    /// A source with this seed.
    public init(seed: UInt64) { self.seed = seed }

    /// A fresh stream, never handed out before by this source.
    public func makeStream() -> PhiloxStream {
        defer { nextStreamIndex += 1 }
        return PhiloxStream(seed: seed, stream: nextStreamIndex)
    }
}
