// In-memory sequence datasets (fixed or variable lengths) and their mini-batches as sequence
// batches, optionally bucketed by length. N = samples, T = time steps, F = features, B = batch.

/// Where the targets of a dataset sit relative to time.
public enum TargetLayout: Sendable, Equatable {
    /// One target of this shape per sequence; batches give (B, shape…). Class indices: shape [].
    case perSequence([Int])
    /// One target of this shape per time step; batches give (T, B, shape…) (padded steps 0).
    case perStep([Int])
}

/// Samples held on the host, sample-major and padded to the longest: inputs (N, T, F), targets per
/// `TargetLayout`, and each sample's length when they differ. `batch` and `upload` make sequence
/// batches (time-major by default) padded to the longest sample of the batch, with their lengths.
public struct SequenceDataset: Sendable {
    /// (N, T, F), zero after each sample's length.
    public let inputs: [Float]
    /// (N, target…) or (N, T, target…)
    public let targets: [Float]
    public let count: Int, sequenceLength: Int, featureCount: Int
    public let targetLayout: TargetLayout
    /// Each sample's real steps (1...T); nil when every sample has T.
    public let lengths: [Int]?

    /// Checks that the arrays hold exactly `count` samples of the given sizes, and that `lengths`
    /// (nil: every sample has all `sequenceLength` steps) has one length in 1...T per sample.
    public init(inputs: [Float], targets: [Float], count: Int, sequenceLength: Int, featureCount: Int,
                targetLayout: TargetLayout, lengths: [Int]? = nil) throws {
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
        if let lengths {
            guard lengths.count == count, lengths.allSatisfy({ (1...sequenceLength).contains($0) }) else {
                throw RecurrentError.invalidArgument(
                    name: "SequenceDataset lengths", expected: "\(count) lengths, each in 1...\(sequenceLength)",
                    got: lengths.count == count ? "\(lengths.filter { !(1...sequenceLength).contains($0) }.prefix(3)) out of range"
                        : "\(lengths.count) lengths")
            }
        }
        self.inputs = inputs
        self.targets = targets
        self.lengths = lengths?.allSatisfy({ $0 == sequenceLength }) == true ? nil : lengths
    }

    /// A dataset of variable-length sequences: `sequences[i]` holds length_i × F values (steps one
    /// after another), `targets[i]` the target of sample i (`perSequence`: the target's size;
    /// `perStep`: length_i × the target's size). Samples are padded with zeros to the longest.
    public init(sequences: [[Float]], targets: [[Float]], featureCount: Int, targetLayout: TargetLayout) throws {
        guard !sequences.isEmpty, sequences.count == targets.count, featureCount >= 1 else {
            throw RecurrentError.invalidArgument(
                name: "SequenceDataset sequences", expected: "at least one sequence, one target per sequence, feature count ≥ 1",
                got: "\(sequences.count) sequences, \(targets.count) targets, feature count \(featureCount)")
        }
        var lengths: [Int] = []
        for (i, sequence) in sequences.enumerated() {
            guard !sequence.isEmpty, sequence.count % featureCount == 0 else {
                throw RecurrentError.invalidArgument(name: "sequence \(i)", expected: "a positive multiple of \(featureCount) values",
                                                     got: "\(sequence.count) values")
            }
            lengths.append(sequence.count / featureCount)
        }
        let t = lengths.max() ?? 1
        var x = [Float](repeating: 0, count: sequences.count * t * featureCount)
        for (i, sequence) in sequences.enumerated() { x.replaceSubrange((i * t * featureCount)..<(i * t * featureCount + sequence.count), with: sequence) }
        var y: [Float] = []
        switch targetLayout {
        case let .perSequence(shape):
            y = targets.flatMap { $0 }
            try RecurrentError.check("SequenceDataset targets (N, target…)", count: y.count, equals: sequences.count * shape.reduce(1, *))
        case let .perStep(shape):
            let size = shape.reduce(1, *)
            y = [Float](repeating: 0, count: sequences.count * t * size)
            for (i, target) in targets.enumerated() {
                try RecurrentError.check("SequenceDataset targets of sequence \(i) (length × target…)", count: target.count,
                                         equals: lengths[i] * size)
                y.replaceSubrange((i * t * size)..<(i * t * size + target.count), with: target)
            }
        }
        try self.init(inputs: x, targets: y, count: sequences.count, sequenceLength: t, featureCount: featureCount,
                      targetLayout: targetLayout, lengths: lengths)
    }

    /// Target values per sample.
    public var targetsPerSample: Int { targetCountPerSample(layout: targetLayout, t: sequenceLength) }

    /// The samples at `indices`, as a new dataset.
    public func subset(_ indices: [Int]) throws -> SequenceDataset {
        let inSize = sequenceLength * featureCount, outSize = targetsPerSample
        var x: [Float] = [], y: [Float] = [], subsetLengths: [Int] = []
        x.reserveCapacity(indices.count * inSize)
        y.reserveCapacity(indices.count * outSize)
        for i in indices {
            guard i >= 0, i < count else {
                throw RecurrentError.invalidArgument(name: "sample index", expected: "0..<\(count)", got: "\(i)")
            }
            x += inputs[(i * inSize)..<((i + 1) * inSize)]
            y += targets[(i * outSize)..<((i + 1) * outSize)]
            subsetLengths.append(lengths?[i] ?? sequenceLength)
        }
        return try SequenceDataset(inputs: x, targets: y, count: indices.count, sequenceLength: sequenceLength,
                                   featureCount: featureCount, targetLayout: targetLayout, lengths: lengths == nil ? nil : subsetLengths)
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

    /// The length of sample `i`.
    public func length(of i: Int) -> Int { lengths?[i] ?? sequenceLength }

    /// The samples of each batch of an epoch: `batchSize` at a time in the order of the Philox
    /// permutation (`shuffleSeed`, `epoch`). With `bucketByLength`, samples of similar length go
    /// together (the permuted samples sorted by length, cut into batches, the batches in a seeded
    /// order), so that little padding is run.
    public func batchIndices(batchSize: Int, shuffleSeed: UInt64, epoch: Int, bucketByLength: Bool = false) -> [[Int]] {
        let order = SequenceDataset.permutation(count, seed: shuffleSeed, stream: UInt64(epoch))
        let sorted = bucketByLength ? order.enumerated().sorted { a, b in
            (length(of: a.element), a.offset) < (length(of: b.element), b.offset)
        }.map(\.element) : order
        let batches = stride(from: 0, to: count, by: batchSize).map { Array(sorted[$0..<min($0 + batchSize, count)]) }
        guard bucketByLength else { return batches }
        let batchOrder = SequenceDataset.permutation(batches.count, seed: shuffleSeed, stream: UInt64(epoch) | 1 << 63)
        return batchOrder.map { batches[$0] }
    }

    /// Host arrays of one batch, padded to its longest sample (T_b): inputs (T_b, B, F), or
    /// (B, T_b, F) batch-major, targets (B, …) or per step (T_b, B, …) / (B, T_b, …), and the
    /// lengths (nil when all are T_b).
    public func batch(_ indices: [Int], layout: SequenceLayout = .timeMajor)
        -> (input: [Float], inputShape: [Int], target: [Float], targetShape: [Int], lengths: [Int]?) {
        let (f, b) = (featureCount, indices.count)
        let batchLengths = indices.map { length(of: $0) }
        let t = batchLengths.max() ?? sequenceLength
        let position: (Int, Int) -> Int = layout == .timeMajor ? { column, step in step * b + column } : { column, step in column * t + step }
        var x = [Float](repeating: 0, count: t * b * f)
        for (column, i) in indices.enumerated() {
            for step in 0..<t {
                let src = (i * sequenceLength + step) * f, dst = position(column, step) * f
                for k in 0..<f { x[dst + k] = inputs[src + k] }
            }
        }
        let inputShape = layout == .timeMajor ? [t, b, f] : [b, t, f]
        let lengths = batchLengths.allSatisfy { $0 == t } ? nil : batchLengths
        switch targetLayout {
        case let .perSequence(shape):
            let size = shape.reduce(1, *)
            var y: [Float] = []
            y.reserveCapacity(b * size)
            for i in indices { y += targets[(i * size)..<((i + 1) * size)] }
            return (x, inputShape, y, [b] + shape, lengths)
        case let .perStep(shape):
            let size = shape.reduce(1, *)
            var y = [Float](repeating: 0, count: t * b * size)
            for (column, i) in indices.enumerated() {
                for step in 0..<t {
                    let src = (i * sequenceLength + step) * size, dst = position(column, step) * size
                    for k in 0..<size { y[dst + k] = targets[src + k] }
                }
            }
            return (x, inputShape, y, (layout == .timeMajor ? [t, b] : [b, t]) + shape, lengths)
        }
    }

    /// One batch on the device: the inputs as a sequence batch with its lengths, and the targets.
    public func upload(_ indices: [Int], layout: SequenceLayout = .timeMajor, on backend: any Backend) throws -> (input: SequenceBatch, target: Tensor) {
        let b = batch(indices, layout: layout)
        return (try SequenceBatch(Tensor(shape: b.inputShape, values: b.input, on: backend), layout: layout, lengths: b.lengths),
                try Tensor(shape: b.targetShape, values: b.target, on: backend))
    }
}

private func targetCountPerSample(layout: TargetLayout, t: Int) -> Int {
    switch layout {
    case let .perSequence(shape): return shape.reduce(1, *)
    case let .perStep(shape): return t * shape.reduce(1, *)
    }
}
