// Arguments of the whole-layer recurrent ops.
// T = time steps, B = batch, I = input size, H = hidden size, G = gates, E = extra reserve width.

/// Sizes of one recurrent layer in one direction.
public struct RecurrentLayerShape: Sendable, Equatable {
    public var cell: RecurrentCell
    /// T
    public var sequenceLength: Int
    /// B
    public var batchSize: Int
    /// I
    public var inputSize: Int
    /// H
    public var hiddenSize: Int
    /// The packed layout of variable-length sequences (cuDNN's and PyTorch's `batch_sizes`):
    /// sequences sorted longest first, step t holds the first `batchSizes[t]` of them, and the
    /// rows of all steps follow each other (N = Σ batchSizes rows in all). nil: every step holds
    /// all B sequences (N = T·B). Work is proportional to N.
    public var batchSizes: [Int]?

    public init(cell: RecurrentCell, sequenceLength: Int, batchSize: Int, inputSize: Int, hiddenSize: Int,
                batchSizes: [Int]? = nil) {
        self.cell = cell
        self.sequenceLength = sequenceLength
        self.batchSize = batchSize
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.batchSizes = batchSizes
    }

    /// Whether steps hold different numbers of sequences (a packed batch of unequal lengths).
    public var isPacked: Bool { batchSizes.map { $0.contains { $0 != batchSize } } ?? false }

    /// N: rows of the input, output and reserve (T·B, or Σ batchSizes when packed).
    public var rowCount: Int { batchSizes?.reduce(0, +) ?? sequenceLength * batchSize }

    /// Where each step's rows start: (T + 1) offsets, the last being N.
    public var stepOffsets: [Int] {
        var offsets = [0]
        for t in 0..<sequenceLength { offsets.append(offsets[t] + (batchSizes?[t] ?? batchSize)) }
        return offsets
    }

    /// Rows of step t.
    public func rows(atStep t: Int) -> Int { batchSizes?[t] ?? batchSize }

    /// G·H: the width of the gate pre-activations.
    public var gateWidth: Int { cell.gateCount * hiddenSize }

    /// Elements of the reserve buffer: post-activation gates (T, B, G·H), then the extra
    /// per-step state (T, B, E·H): c_t for LSTM, W_hn h_{t-1} + b_hn for GRU, nothing for RNN.
    public var reserveCount: Int {
        rowCount * (gateWidth + cell.extraReserveWidth * hiddenSize)
    }

    /// Throws unless every size is positive and `batchSizes` (if given) has T entries, starts at
    /// B and never grows.
    public func validate() throws {
        for (name, value) in [("sequence length", sequenceLength), ("batch size", batchSize),
                              ("input size", inputSize), ("hidden size", hiddenSize)] where value < 1 {
            throw RecurrentError.invalidArgument(name: name, expected: "at least 1", got: "\(value)")
        }
        if let batchSizes {
            let ordered = zip(batchSizes, batchSizes.dropFirst()).allSatisfy { $0 >= $1 }
            guard batchSizes.count == sequenceLength, batchSizes.first == batchSize, ordered,
                  batchSizes.allSatisfy({ $0 >= 1 }) else {
                throw RecurrentError.invalidArgument(
                    name: "batch sizes", expected: "\(sequenceLength) non-increasing counts from \(batchSize) down to at least 1",
                    got: "\(batchSizes)")
            }
        }
    }
}

/// The four parameter tensors of one layer and direction, PyTorch's names and layouts
/// (also used for their gradients).
public struct RecurrentWeights: Sendable {
    /// `weight_ih_l{k}`: (G·H, I)
    public var weightIH: Tensor
    /// `weight_hh_l{k}`: (G·H, H)
    public var weightHH: Tensor
    /// `bias_ih_l{k}`: (G·H)
    public var biasIH: Tensor
    /// `bias_hh_l{k}`: (G·H)
    public var biasHH: Tensor

    public init(weightIH: Tensor, weightHH: Tensor, biasIH: Tensor, biasHH: Tensor) {
        self.weightIH = weightIH
        self.weightHH = weightHH
        self.biasIH = biasIH
        self.biasHH = biasHH
    }

    /// Throws unless the four tensors have the sizes `shape` implies.
    public func validate(_ shape: RecurrentLayerShape, _ what: String) throws {
        let (gh, i, h) = (shape.gateWidth, shape.inputSize, shape.hiddenSize)
        try RecurrentError.check("\(what) weight_ih", count: weightIH.count, equals: gh * i)
        try RecurrentError.check("\(what) weight_hh", count: weightHH.count, equals: gh * h)
        try RecurrentError.check("\(what) bias_ih", count: biasIH.count, equals: gh)
        try RecurrentError.check("\(what) bias_hh", count: biasHH.count, equals: gh)
    }
}

/// Tensors of a whole-layer forward pass. Row layouts: (T, B, ·) = N rows, or the packed layout
/// of `RecurrentLayerShape.batchSizes` (states in the packed order: longest sequence first).
public struct RecurrentForwardIO: Sendable {
    /// (T, B, H) written: h_t for every step.
    public var output: Tensor
    /// (B, H) written if present: h_T.
    public var finalHidden: Tensor?
    /// (B, H) written if present (LSTM): c_T.
    public var finalCell: Tensor?
    /// (`shape.reserveCount`) written: what backward reads.
    public var reserve: Tensor
    /// (T, B, I)
    public var input: Tensor
    /// (B, H) h_0, or nil for zeros.
    public var initialHidden: Tensor?
    /// (B, H) c_0 (LSTM), or nil for zeros.
    public var initialCell: Tensor?

    public init(output: Tensor, finalHidden: Tensor? = nil, finalCell: Tensor? = nil, reserve: Tensor,
                input: Tensor, initialHidden: Tensor? = nil, initialCell: Tensor? = nil) {
        self.output = output; self.finalHidden = finalHidden; self.finalCell = finalCell
        self.reserve = reserve; self.input = input
        self.initialHidden = initialHidden; self.initialCell = initialCell
    }

    /// Throws unless every tensor has the element count `shape` implies.
    public func validate(_ shape: RecurrentLayerShape) throws {
        try shape.validate()
        let (n, b, i, h) = (shape.rowCount, shape.batchSize, shape.inputSize, shape.hiddenSize)
        try RecurrentError.check("recurrent forward input (N, I)", count: input.count, equals: n * i)
        try RecurrentError.check("recurrent forward output (N, H)", count: output.count, equals: n * h)
        try RecurrentError.check("recurrent forward reserve", count: reserve.count, equals: shape.reserveCount)
        for (name, x) in [("final hidden", finalHidden), ("final cell", finalCell),
                          ("initial hidden", initialHidden), ("initial cell", initialCell)] {
            if let x { try RecurrentError.check("recurrent forward \(name) (B, H)", count: x.count, equals: b * h) }
        }
    }
}

/// Tensors of a whole-layer backward pass. Gradients of inputs and states are overwritten.
public struct RecurrentBackwardIO: Sendable {
    /// (T, B, I) written if present.
    public var gradInput: Tensor?
    /// (B, H) written if present.
    public var gradInitialHidden: Tensor?
    /// (B, H) written if present (LSTM).
    public var gradInitialCell: Tensor?
    /// (T, B, H) dL/dh_t from the layer above, or nil for zeros.
    public var gradOutput: Tensor?
    /// (B, H) dL/dh_T, or nil for zeros.
    public var gradFinalHidden: Tensor?
    /// (B, H) dL/dc_T (LSTM), or nil for zeros.
    public var gradFinalCell: Tensor?
    /// The forward pass's input (T, B, I), output (T, B, H), initial states and reserve.
    public var input: Tensor
    public var output: Tensor
    public var initialHidden: Tensor?
    public var initialCell: Tensor?
    public var reserve: Tensor

    public init(gradInput: Tensor?, gradInitialHidden: Tensor? = nil, gradInitialCell: Tensor? = nil,
                gradOutput: Tensor?, gradFinalHidden: Tensor? = nil, gradFinalCell: Tensor? = nil,
                input: Tensor, output: Tensor, initialHidden: Tensor? = nil, initialCell: Tensor? = nil,
                reserve: Tensor) {
        self.gradInput = gradInput; self.gradInitialHidden = gradInitialHidden; self.gradInitialCell = gradInitialCell
        self.gradOutput = gradOutput; self.gradFinalHidden = gradFinalHidden; self.gradFinalCell = gradFinalCell
        self.input = input; self.output = output
        self.initialHidden = initialHidden; self.initialCell = initialCell; self.reserve = reserve
    }

    /// Throws unless every tensor has the element count `shape` implies.
    public func validate(_ shape: RecurrentLayerShape) throws {
        try RecurrentForwardIO(output: output, reserve: reserve, input: input,
                               initialHidden: initialHidden, initialCell: initialCell).validate(shape)
        let (n, b, i, h) = (shape.rowCount, shape.batchSize, shape.inputSize, shape.hiddenSize)
        if let gradInput { try RecurrentError.check("recurrent backward grad input (N, I)", count: gradInput.count, equals: n * i) }
        if let gradOutput { try RecurrentError.check("recurrent backward grad output (N, H)", count: gradOutput.count, equals: n * h) }
        for (name, x) in [("grad initial hidden", gradInitialHidden), ("grad initial cell", gradInitialCell),
                          ("grad final hidden", gradFinalHidden), ("grad final cell", gradFinalCell)] {
            if let x { try RecurrentError.check("recurrent backward \(name) (B, H)", count: x.count, equals: b * h) }
        }
    }
}
