// Seeded random test data from the Philox generator, identical on every machine and run.

import RecurrentKit

/// Reproducible random inputs for tests: a `PhiloxStream` with convenience draws.
public struct TestRandom: Sendable {
    private var stream: PhiloxStream

    /// Starts the generator at word 0 of `stream` under `seed`.
    public init(seed: UInt64, stream: UInt64 = 0) {
        self.stream = PhiloxStream(seed: seed, stream: stream)
    }

    /// `count` values uniform in [low, high).
    public mutating func uniform(count: Int, low: Float = -1, high: Float = 1) -> [Float] {
        stream.uniform(count: count, low: low, high: high)
    }

    /// `count` values from the standard normal distribution.
    public mutating func normal(count: Int) -> [Float] {
        stream.normal(count: count)
    }

    /// An integer in `range` (which must not be empty); slightly biased for huge ranges, which tests do not use.
    public mutating func int(in range: Range<Int>) -> Int {
        precondition(!range.isEmpty, "TestRandom.int(in:) needs a non-empty range")
        return range.lowerBound + Int(UInt64(stream.nextWord()) % UInt64(range.count))
    }

    /// A tensor of `shape` on `backend` with values uniform in [low, high).
    public mutating func tensor(_ shape: [Int], on backend: any Backend, low: Float = -1, high: Float = 1) throws -> Tensor {
        try Tensor(shape: shape, values: uniform(count: shape.reduce(1, *), low: low, high: high), on: backend)
    }
}
