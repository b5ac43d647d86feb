// A batch of sequences that carries its own layout and lengths, so that every layer and loss
// reading it agrees on which steps are real. T = padded steps, B = batch, F = features per step.

/// Whether a sequence batch is stored time-major (T, B, …), PyTorch's default, or batch-major
/// (B, T, …), PyTorch's `batch_first` and Keras's layout.
public enum SequenceLayout: String, Sendable, Equatable, CaseIterable {
    /// (T, B, …)
    case timeMajor
    /// (B, T, …)
    case batchMajor
}

/// A padded batch of sequences with its layout and each sequence's length: what recurrent
/// layers, attention, `LastTimeStep` and `MaskedLoss` take and return (PyTorch's
/// `PackedSequence` and Keras's masks, in one value).
///
/// `data` is (T, B, …) or (B, T, …); sequence b has `lengths[b]` real steps (nil: all T), the
/// steps after it are padding. Layers that map each step to a step (`Linear`, `Dropout`,
/// `ActivationLayer`, `Embedding`, recurrent layers) return a batch with the same layout and lengths.
public struct SequenceBatch: Sendable {
    /// (T, B, …) or (B, T, …)
    public let data: Tensor
    /// Where the time axis is.
    public let layout: SequenceLayout
    /// Real steps of each sequence, in batch order, each in 1...T; nil when every sequence has T.
    public let lengths: [Int]?
    /// `lengths` on the device (B), uploaded once when the batch is made; nil without lengths.
    public let deviceLengths: Tensor?

    /// A batch over `data` (rank 2 or more: (T, B, …) or (B, T, …)) whose sequence b has
    /// `lengths[b]` real steps. Throws unless there is one length per sequence, each in 1...T.
    public init(_ data: Tensor, layout: SequenceLayout = .timeMajor, lengths: [Int]? = nil) throws {
        guard data.rank >= 2, data.shape[0] >= 1, data.shape[1] >= 1 else {
            throw RecurrentError.shapeMismatch(
                operation: "SequenceBatch", expected: layout == .timeMajor ? "data (T, B, …) with T, B ≥ 1" : "data (B, T, …) with T, B ≥ 1",
                got: "shape \(data.shape)")
        }
        let (t, b) = layout == .timeMajor ? (data.shape[0], data.shape[1]) : (data.shape[1], data.shape[0])
        if let lengths {
            guard lengths.count == b, lengths.allSatisfy({ (1...t).contains($0) }) else {
                throw RecurrentError.invalidArgument(
                    name: "sequence lengths", expected: "\(b) lengths (one per sequence), each in 1...\(t) (the padded length)",
                    got: lengths.count == b ? "\(lengths)" : "\(lengths.count) lengths")
            }
        }
        let uniform = lengths?.allSatisfy { $0 == t } ?? true
        self.data = data
        self.layout = layout
        self.lengths = uniform ? nil : lengths
        self.deviceLengths = uniform ? nil : try lengths.map { try Tensor(shape: [b], indices: $0, on: data.backend) }
    }

    /// The same layout and lengths over other per-step data of the same (T, B) (a layer's output).
    init(sameAs other: SequenceBatch, data: Tensor) {
        self.data = data
        self.layout = other.layout
        self.lengths = other.lengths
        self.deviceLengths = other.deviceLengths
    }

    /// T: padded steps.
    public var steps: Int { layout == .timeMajor ? data.shape[0] : data.shape[1] }
    /// B: sequences.
    public var batchSize: Int { layout == .timeMajor ? data.shape[1] : data.shape[0] }
    /// The size of each step: the product of the dimensions after (T, B) (1 for (T, B) data).
    public var stepSize: Int { data.shape.dropFirst(2).reduce(1, *) }
    /// Whether some sequence is shorter than T.
    public var isPadded: Bool { lengths != nil }
    /// Each sequence's length (T for all when there are no lengths).
    public var effectiveLengths: [Int] { lengths ?? [Int](repeating: steps, count: batchSize) }
    /// Real steps in the batch: Σ lengths.
    public var realSteps: Int { lengths?.reduce(0, +) ?? steps * batchSize }

    /// Throws unless the data's last dimension is `size` (per-step features).
    func checkFeatures(_ size: Int, _ operation: String) throws {
        guard data.rank == 3, data.shape[2] == size else {
            throw RecurrentError.shapeMismatch(
                operation: operation, expected: layout == .timeMajor ? "a sequence batch (T, B, \(size))" : "a sequence batch (B, T, \(size))",
                got: "data \(data.shape) (\(layout.rawValue))")
        }
    }
}
