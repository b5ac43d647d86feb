// In-memory sequence datasets and time-major mini-batches.
// N = samples, T = time steps, F = features, B = batch.

/// Where the targets of a dataset sit relative to time.
public enum TargetLayout: Sendable, Equatable {
    /// One target of this shape per sequence; batches give (B, shape…). Class indices: shape [].
    case perSequence([Int])
    /// One target of this shape per time step; batches give (T, B, shape…).
    case perStep([Int])
}

/// Samples held on the host, sample-major: inputs (N, T, F) and targets per `TargetLayout`.
public struct SequenceDataset: Sendable {
    /// (N, T, F)
    public let inputs: [Float]
    /// (N, target…) or (N, T, target…)
    public let targets: [Float]
    public let count: Int, sequenceLength: Int, featureCount: Int
    public let targetLayout: TargetLayout

    /// Checks that the arrays hold exactly `count` samples of the given sizes.
    public init(inputs: [Float], targets: [Float], count: Int, sequenceLength: Int, featureCount: Int,
                targetLayout: TargetLayout) throws {
        for (name, v) in [("sample count", count), ("sequence length", sequenceLength), ("feature count", featureCount)] where v < 1 {
            throw RecurrentError.invalidArgument(name: name, expected: "at least 1", got: "\(v)")
        }
        self.count = count
        self.sequenceLength = sequenceLength
        self.featureCount = featureCount
        self.targetLayout = targetLayout
        try RecurrentError.check("SequenceDataset inputs (N, T, F) = (\(count), \(sequenceLength), \(featureCount))",
                                 count: inputs.count, equals: count * sequenceLength * featureCount)
        try RecurrentError.check("SequenceDataset targets", count: targets.count, equals: count * targetCountPerSample(layout: targetLayout, t: sequenceLength))
        self.inputs = inputs
        self.targets = targets
    }

    /// Target values per sample.
    public var targetsPerSample: Int { targetCountPerSample(layout: targetLayout, t: sequenceLength) }

    /// The samples at `indices`, as a new dataset.
    public func subset(_ indices: [Int]) throws -> SequenceDataset {
        let inSize = sequenceLength * featureCount, outSize = targetsPerSample
        var x: [Float] = [], y: [Float] = []
        x.reserveCapacity(indices.count * inSize)
        y.reserveCapacity(indices.count * outSize)
        for i in indices {
            guard i >= 0, i < count else {
                throw RecurrentError.invalidArgument(name: "sample index", expected: "0..<\(count)", got: "\(i)")
            }
            x += inputs[(i * inSize)..<((i + 1) * inSize)]
            y += targets[(i * outSize)..<((i + 1) * outSize)]
        }
        return try SequenceDataset(inputs: x, targets: y, count: indices.count, sequenceLength: sequenceLength,
                                   featureCount: featureCount, targetLayout: targetLayout)
    }

    /// Splits off the last `validationFraction` of the samples (in a seeded random order when
    /// `shuffleSeed` is given, else in order, which suits time series).
    public func split(validationFraction: Double, shuffleSeed: UInt64? = nil) throws -> (train: SequenceDataset, validation: SequenceDataset) {
        let validationCount = Int((Double(count) * validationFraction).rounded())
        guard validationFraction > 0, validationFraction < 1, validationCount >= 1, validationCount < count else {
            throw RecurrentError.invalidArgument(name: "validation fraction",
                                                 expected: "a fraction leaving at least one sample on each side of \(count)",
                                                 got: "\(validationFraction)")
        }
        let order = shuffleSeed.map { SequenceDataset.permutation(count, seed: $0, stream: 0) } ?? Array(0..<count)
        return (try subset(Array(order[..<(count - validationCount)])), try subset(Array(order[(count - validationCount)...])))
    }

    /// A seeded Fisher–Yates permutation of 0..<n from a Philox stream.
    public static func permutation(_ n: Int, seed: UInt64, stream: UInt64) -> [Int] {
        var order = Array(0..<n)
        var rng = PhiloxStream(seed: seed, stream: stream)
        for i in stride(from: n - 1, to: 0, by: -1) {
            let j = Int((UInt64(rng.nextWord()) &* UInt64(i + 1)) >> 32)   // uniform in 0...i (Lemire)
            order.swapAt(i, j)
        }
        return order
    }

    /// Host arrays of one time-major batch: inputs (T, B, F) and targets (B, …) or (T, B, …).
    public func batch(_ indices: [Int]) -> (input: [Float], inputShape: [Int], target: [Float], targetShape: [Int]) {
        let (t, f, b) = (sequenceLength, featureCount, indices.count)
        var x = [Float](repeating: 0, count: t * b * f)
        for (column, i) in indices.enumerated() {
            for step in 0..<t {
                let src = (i * t + step) * f, dst = (step * b + column) * f
                for k in 0..<f { x[dst + k] = inputs[src + k] }
            }
        }
        switch targetLayout {
        case let .perSequence(shape):
            let size = shape.reduce(1, *)
            var y: [Float] = []
            y.reserveCapacity(b * size)
            for i in indices { y += targets[(i * size)..<((i + 1) * size)] }
            return (x, [t, b, f], y, [b] + shape)
        case let .perStep(shape):
            let size = shape.reduce(1, *)
            var y = [Float](repeating: 0, count: t * b * size)
            for (column, i) in indices.enumerated() {
                for step in 0..<t {
                    let src = (i * t + step) * size, dst = (step * b + column) * size
                    for k in 0..<size { y[dst + k] = targets[src + k] }
                }
            }
            return (x, [t, b, f], y, [t, b] + shape)
        }
    }
}

private func targetCountPerSample(layout: TargetLayout, t: Int) -> Int {
    switch layout {
    case let .perSequence(shape): return shape.reduce(1, *)
    case let .perStep(shape): return t * shape.reduce(1, *)
    }
}
