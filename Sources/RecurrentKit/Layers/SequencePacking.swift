// Variable-length batches in cuDNN's packed layout, and the row maps between it and the padded
// layouts users hold. T = time steps, B = batch, N = rows of the packed layout (Σ lengths).

/// How a batch of sequences of different lengths is laid out for the recurrent time loop:
/// sequences sorted longest first (stable), step t holding the first `batchSizes[t]` of them,
/// the rows of all steps one after another (PyTorch's `PackedSequence`). Built on the host from
/// the lengths; the maps become `RowIndices` for `Backend.gatherRows` / `scatterAddRows`.
struct SequencePacking {
    let sequenceLength: Int, batchSize: Int
    /// The length of each sequence, in the caller's batch order.
    let lengths: [Int]
    /// `order[j]`: the caller's batch position of the j-th longest sequence.
    let order: [Int]
    /// Steps of the time loop: the longest length (the padded length T may be longer).
    let steps: Int
    /// `batchSizes[t]`: sequences still running at step t < `steps` (non-increasing, from B to ≥ 1).
    let batchSizes: [Int]
    /// N
    let rowCount: Int
    /// For each packed row, its row in the padded input viewed as (T·B, ·), or (B·T, ·) batch-first.
    let paddedRow: [Int]
    /// For each packed row (step t of sorted sequence j), the packed row of step length_j − 1 − t of
    /// the same sequence: the same sequences, each reversed within its own length.
    let reversedRow: [Int]

    /// Plans the layout; throws unless there is one length per sequence, each in 1...T.
    init(lengths given: [Int]?, sequenceLength t: Int, batchSize b: Int, batchFirst: Bool) throws {
        let lengths = given ?? [Int](repeating: t, count: b)
        guard lengths.count == b else {
            throw RecurrentError.shapeMismatch(operation: "sequence lengths", expected: "one length per sequence (\(b))",
                                               got: "\(lengths.count) lengths")
        }
        if let bad = lengths.first(where: { $0 < 1 || $0 > t }) {
            throw RecurrentError.invalidArgument(name: "sequence length", expected: "a value in 1...\(t) (the padded length)",
                                                 got: "\(bad)")
        }
        sequenceLength = t
        batchSize = b
        self.lengths = lengths
        order = lengths.indices.sorted { lengths[$0] > lengths[$1] || (lengths[$0] == lengths[$1] && $0 < $1) }
        steps = lengths.max() ?? t
        batchSizes = (0..<steps).map { step in lengths.filter { $0 > step }.count }
        var offsets = [0]
        for size in batchSizes { offsets.append(offsets.last! + size) }
        rowCount = offsets[steps]
        var padded = [Int](), reversed = [Int]()
        padded.reserveCapacity(rowCount)
        reversed.reserveCapacity(rowCount)
        for step in 0..<steps {
            for j in 0..<batchSizes[step] {
                let position = order[j]
                padded.append(batchFirst ? position * t + step : step * b + position)
                reversed.append(offsets[lengths[position] - 1 - step] + j)
            }
        }
        paddedRow = padded
        reversedRow = reversed
    }

    /// Whether every sequence runs all T steps (then the time loop needs no packing).
    var isUniform: Bool { steps == sequenceLength && batchSizes.allSatisfy { $0 == batchSize } }

    /// Whether sorted order is the caller's order.
    var keepsOrder: Bool { order == Array(0..<batchSize) }

    /// Rows of `count` stacked (B, ·) state blocks (layers × directions), caller order → sorted.
    func sortedStateRows(blocks count: Int) -> [Int] {
        (0..<count).flatMap { k in order.map { k * batchSize + $0 } }
    }

    /// Rows of `count` stacked (B, ·) state blocks, sorted order → caller order.
    func callerStateRows(blocks count: Int) -> [Int] {
        var position = [Int](repeating: 0, count: batchSize)
        for (j, p) in order.enumerated() { position[p] = j }
        return (0..<count).flatMap { k in position.map { k * batchSize + $0 } }
    }
}
