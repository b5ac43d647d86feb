// Arguments of the whole-layer recurrent ops.
// T = time steps, B = batch, I = input size, H = hidden size, G = gates, E = extra reserve width,
// P = projection size (LSTM with projections), R = the width of h: P when projecting, else H.

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
    /// P: LSTM with projections (PyTorch's `proj_size`), 1 ≤ P < H: c_t keeps H units and
    /// h_t = W_hr (o_t ⊙ tanh(c_t)) has P; nil: no projection (h_t has H units).
    public var projectionSize: Int?
    /// Zoneout (Krueger et al. 2017): the passes take `RecurrentZoneout` factors, and an LSTM's reserve
    /// keeps c̃_t, the cell state before zoneout, besides c_t.
    public var zoneout: Bool
    /// GRU only: the reset gate applies before the recurrent product (Cho et al. 2014; Keras's
    /// `reset_after=False`): n_t = tanh(W_in x_t + b_in + W_hn (r_t ⊙ h_{t-1}) + b_hn), with the same
    /// weights and biases as PyTorch's GRU. The extra reserve part then holds r_t ⊙ h_{t-1} (the n
    /// gate's product input) instead of W_hn h_{t-1} + b_hn.
    public var resetBefore: Bool
    /// LSTM and GRU: layer normalisation (Ba et al. 2016) of the input and recurrent pre-activations
    /// apart, and of an LSTM's c_t (`RecurrentLayerNormWeights`); the reserve grows by
    /// `layerNormReserveCount` (Backend+LayerNorm.swift has the equations and the layout). An LSTM
    /// may project as well: h_t = W_hr (o_t ⊙ tanh(c_t)), as without the norms.
    public var layerNorm: Bool

    public init(cell: RecurrentCell, sequenceLength: Int, batchSize: Int, inputSize: Int, hiddenSize: Int,
                batchSizes: [Int]? = nil, projectionSize: Int? = nil, zoneout: Bool = false, resetBefore: Bool = false,
                layerNorm: Bool = false) {
        self.cell = cell
        self.sequenceLength = sequenceLength
        self.batchSize = batchSize
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.batchSizes = batchSizes
        self.projectionSize = projectionSize
        self.zoneout = zoneout
        self.resetBefore = resetBefore
        self.layerNorm = layerNorm
    }

    /// Whether the reserve keeps c̃_t (an LSTM with zoneout).
    public var keepsCandidateCell: Bool { zoneout && cell == .lstm }

    /// R: the width of h_t, of the output rows and of the hidden states (P when projecting, else H).
    /// The cell state keeps H.
    public var outputSize: Int { projectionSize ?? hiddenSize }

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

    /// Elements of the reserve buffer: post-activation gates (N, G·H), then the extra
    /// per-step state (N, E·H): c_t for LSTM, W_hn h_{t-1} + b_hn for GRU (r_t ⊙ h_{t-1} with
    /// `resetBefore`), nothing for RNN;
    /// with a projection then (N, H) of m_t = o_t ⊙ tanh(c̃_t), the product's input; an LSTM with
    /// zoneout then (N, H) of c̃_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t, the cell state before zoneout.
    public var reserveCount: Int {
        rowCount * (gateWidth + cell.extraReserveWidth * hiddenSize + (projectionSize == nil ? 0 : hiddenSize)
                        + (keepsCandidateCell ? hiddenSize : 0)) + layerNormReserveCount
    }

    /// Elements the reserve keeps for layer normalisation after the parts above (0 without it):
    /// x̂ of the input and of the recurrent pre-activations (N, G·H) each, their 1/σ (N) each, and
    /// for an LSTM ĉ_t (N, H) and its 1/σ (N).
    public var layerNormReserveCount: Int {
        guard layerNorm else { return 0 }
        return rowCount * (2 * gateWidth + 2 + (cell == .lstm ? hiddenSize + 1 : 0))
    }

    /// Elements of the reserve buffer of a forward pass in `mode`: `reserveCount` for training;
    /// forward-only only the per-step states of the extra, projected and candidate parts, in two
    /// (B, ·) slots that roll over (step t uses slot t % 2), since no backward reads them:
    /// 2·B·(E·H + [P ? H] + [zoneout ? H]). The gate pre-activations are then the time loop's own
    /// workspace (`Backend.recurrentForward` makes it, only as many rows as the loop reads).
    /// Layer normalisation keeps the training layout forward only too.
    public func reserveCount(_ mode: RecurrentForwardMode) -> Int {
        if layerNorm { return reserveCount }
        switch mode {
        case .training:
            return reserveCount
        case .inference:
            let perRow = cell.extraReserveWidth * hiddenSize + (projectionSize == nil ? 0 : hiddenSize)
                + (keepsCandidateCell ? hiddenSize : 0)
            return 2 * batchSize * perRow
        }
    }

    /// Throws unless every size is positive, `batchSizes` (if given) has T entries, starts at
    /// B and never grows, and a projection size (LSTM only) is in 1..<H.
    public func validate() throws {
        for (name, value) in [("sequence length", sequenceLength), ("batch size", batchSize),
                              ("input size", inputSize), ("hidden size", hiddenSize)] where value < 1 {
            throw RecurrentError.invalidArgument(name: name, expected: "at least 1", got: "\(value)")
        }
        if let projectionSize {
            guard cell == .lstm else {
                throw RecurrentError.invalidArgument(name: "projection size", expected: "none for \(cell.rawValue) (LSTM only)",
                                                     got: "\(projectionSize)")
            }
            guard projectionSize >= 1, projectionSize < hiddenSize else {
                throw RecurrentError.invalidArgument(name: "projection size", expected: "1 to \(hiddenSize - 1) (below the hidden size \(hiddenSize))",
                                                     got: "\(projectionSize)")
            }
        }
        if layerNorm {
            guard cell == .lstm || cell == .gru else {
                throw RecurrentError.invalidArgument(name: "layer norm", expected: "false for \(cell.rawValue) (LSTM and GRU only)",
                                                     got: "true")
            }
            if resetBefore {
                throw RecurrentError.invalidArgument(
                    name: "layer norm", expected: "a layer without the reset gate before the product (the recurrent norm "
                        + "normalises all of W_hh h_{t-1} at once, before r exists)", got: "both")
            }
        }
        if resetBefore, cell != .gru {
            throw RecurrentError.invalidArgument(name: "reset before", expected: "false for \(cell.rawValue) (only a GRU has a reset gate)",
                                                 got: "true")
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

/// What a whole-layer forward pass keeps for backward.
public enum RecurrentForwardMode: String, Sendable, Equatable {
    /// Every step's gates and states stay in the reserve, for `recurrentBackward`.
    case training
    /// Forward only (evaluation, streaming): nothing is kept for backward. The reserve
    /// (`RecurrentLayerShape.reserveCount(.inference)`) holds only per-step states in two slots
    /// that roll over. The time loop uses the forward-only cell
    /// steps (`lstmInferenceStep`, ...), which need not write the post-activation gates.
    case inference
}

/// The parameter tensors of one layer and direction, PyTorch's names and layouts
/// (also used for their gradients).
public struct RecurrentWeights: Sendable {
    /// `weight_ih_l{k}`: (G·H, I)
    public var weightIH: Tensor
    /// `weight_hh_l{k}`: (G·H, R)
    public var weightHH: Tensor
    /// `bias_ih_l{k}`: (G·H)
    public var biasIH: Tensor
    /// `bias_hh_l{k}`: (G·H)
    public var biasHH: Tensor
    /// `weight_hr_l{k}`: (P, H) when the shape has a projection, else nil.
    public var weightHR: Tensor?
    /// The gains and c_t's bias of a layer-normalised cell (`RecurrentLayerShape.layerNorm`), else nil.
    public var layerNorm: RecurrentLayerNormWeights?

    public init(weightIH: Tensor, weightHH: Tensor, biasIH: Tensor, biasHH: Tensor, weightHR: Tensor? = nil,
                layerNorm: RecurrentLayerNormWeights? = nil) {
        self.weightIH = weightIH
        self.weightHH = weightHH
        self.biasIH = biasIH
        self.biasHH = biasHH
        self.weightHR = weightHR
        self.layerNorm = layerNorm
    }

    /// Throws unless the tensors have the sizes `shape` implies (`weightHR` present exactly when
    /// the shape projects).
    public func validate(_ shape: RecurrentLayerShape, _ what: String) throws {
        let (gh, i, h, r) = (shape.gateWidth, shape.inputSize, shape.hiddenSize, shape.outputSize)
        try RecurrentError.check("\(what) weight_ih", count: weightIH.count, equals: gh * i)
        try RecurrentError.check("\(what) weight_hh", count: weightHH.count, equals: gh * r)
        try RecurrentError.check("\(what) bias_ih", count: biasIH.count, equals: gh)
        try RecurrentError.check("\(what) bias_hh", count: biasHH.count, equals: gh)
        switch (shape.projectionSize, weightHR) {
        case let (p?, w?):
            try RecurrentError.check("\(what) weight_hr (P, H)", count: w.count, equals: p * h)
        case let (p?, nil):
            throw RecurrentError.shapeMismatch(operation: "\(what) weight_hr", expected: "(\(p), \(h)) for projection size \(p)",
                                               got: "none")
        case let (nil, w?):
            throw RecurrentError.shapeMismatch(operation: "\(what) weight_hr", expected: "none without a projection size",
                                               got: "shape \(w.shape)")
        case (nil, nil):
            break
        }
        try RecurrentLayerNormWeights.validate(layerNorm, shape, what)
    }
}

/// The parameters a layer-normalised cell adds (Ba et al. 2016): with x̂ = (x − μ)/σ over each row,
/// the gates' pre-activations are `x̂(W_ih x) ⊙ gainIH + b_ih + x̂(W_hh h) ⊙ gainHH + b_hh` (so
/// `bias_ih` and `bias_hh` are the two norms' biases), and an LSTM's cell state is
/// `c_t = x̂(c̃_t) ⊙ gainCell + biasCell`.
public struct RecurrentLayerNormWeights: Sendable {
    /// `weight_ln_ih_l{k}`: (G·H) the input side's gain.
    public var gainIH: Tensor
    /// `weight_ln_hh_l{k}`: (G·H) the recurrent side's gain.
    public var gainHH: Tensor
    /// `weight_ln_c_l{k}`, `bias_ln_c_l{k}`: (H) each, c_t's gain and bias (LSTM only; nil for GRU).
    public var gainCell: Tensor?, biasCell: Tensor?

    public init(gainIH: Tensor, gainHH: Tensor, gainCell: Tensor? = nil, biasCell: Tensor? = nil) {
        self.gainIH = gainIH
        self.gainHH = gainHH
        self.gainCell = gainCell
        self.biasCell = biasCell
    }

    /// R: the rows of `x` (R, W) for a norm whose gain has W = `gain.count` values; throws
    /// `.shapeMismatch` naming `operation` unless W ≥ 1 divides x's count.
    public static func rows(of x: Tensor, gain: Tensor, _ operation: String) throws -> Int {
        guard gain.count > 0, x.count % gain.count == 0 else {
            throw RecurrentError.shapeMismatch(operation: operation, expected: "(R, \(gain.count)) rows for a gain of \(gain.count)",
                                               got: "shape \(x.shape)")
        }
        return x.count / gain.count
    }

    /// Throws unless given exactly when `shape.layerNorm`, with the cell's sizes.
    static func validate(_ weights: RecurrentLayerNormWeights?, _ shape: RecurrentLayerShape, _ what: String) throws {
        guard let weights else {
            if shape.layerNorm {
                throw RecurrentError.invalidArgument(name: "\(what) layer norm", expected: "gains for a layer-normalised shape",
                                                     got: "none")
            }
            return
        }
        guard shape.layerNorm else {
            throw RecurrentError.invalidArgument(name: "\(what) layer norm", expected: "none for a shape without layer norm",
                                                 got: "gains")
        }
        let (gh, h) = (shape.gateWidth, shape.hiddenSize)
        try RecurrentError.check("\(what) weight_ln_ih (G·H)", count: weights.gainIH.count, equals: gh)
        try RecurrentError.check("\(what) weight_ln_hh (G·H)", count: weights.gainHH.count, equals: gh)
        switch (shape.cell == .lstm, weights.gainCell, weights.biasCell) {
        case (true, let g?, let b?):
            try RecurrentError.check("\(what) weight_ln_c (H)", count: g.count, equals: h)
            try RecurrentError.check("\(what) bias_ln_c (H)", count: b.count, equals: h)
        case (false, nil, nil):
            break
        default:
            throw RecurrentError.invalidArgument(name: "\(what) layer norm of c", expected: shape.cell == .lstm
                                                    ? "weight_ln_c and bias_ln_c (H) for an LSTM" : "none for \(shape.cell.rawValue)",
                                                 got: weights.gainCell == nil ? "none" : "weight_ln_c")
        }
    }
}

/// Tensors of a whole-layer forward pass. Row layouts: (T, B, ·) = N rows, or the packed layout
/// of `RecurrentLayerShape.batchSizes` (states in the packed order: longest sequence first).
/// h states and outputs are R = `shape.outputSize` wide (P with a projection), c states H.
public struct RecurrentForwardIO: Sendable {
    /// (T, B, R) written: h_t for every step.
    public var output: Tensor
    /// (B, R) written if present: h_T.
    public var finalHidden: Tensor?
    /// (B, H) written if present (LSTM): c_T.
    public var finalCell: Tensor?
    /// (`shape.reserveCount(mode)`) written: what backward reads (training), or a workspace (inference).
    public var reserve: Tensor
    /// (T, B, I)
    public var input: Tensor
    /// (B, R) h_0, or nil for zeros.
    public var initialHidden: Tensor?
    /// (B, H) c_0 (LSTM), or nil for zeros.
    public var initialCell: Tensor?
    /// Whether the pass keeps the reserve for backward (`.training`) or runs forward only.
    public var mode: RecurrentForwardMode
    /// (B, R) recurrent (variational) dropout mask, or nil for none: the recurrent product of every
    /// step reads h_{t-1} ⊙ mask (h_0 included), one mask per sequence for all its steps (Gal and
    /// Ghahramani 2016; Keras's `recurrent_dropout`). GRU's z ⊙ h_{t-1} term keeps the unmasked state.
    public var hiddenMask: Tensor?
    /// Zoneout factors, given exactly when `RecurrentLayerShape.zoneout`.
    public var zoneout: RecurrentZoneout?

    public init(output: Tensor, finalHidden: Tensor? = nil, finalCell: Tensor? = nil, reserve: Tensor,
                input: Tensor, initialHidden: Tensor? = nil, initialCell: Tensor? = nil,
                mode: RecurrentForwardMode = .training, hiddenMask: Tensor? = nil, zoneout: RecurrentZoneout? = nil) {
        self.output = output; self.finalHidden = finalHidden; self.finalCell = finalCell
        self.reserve = reserve; self.input = input
        self.initialHidden = initialHidden; self.initialCell = initialCell
        self.mode = mode
        self.hiddenMask = hiddenMask
        self.zoneout = zoneout
    }

    /// Throws unless every tensor has the element count `shape` implies.
    public func validate(_ shape: RecurrentLayerShape) throws {
        try shape.validate()
        let (n, b, i, h, r) = (shape.rowCount, shape.batchSize, shape.inputSize, shape.hiddenSize, shape.outputSize)
        let rName = shape.projectionSize == nil ? "H" : "P"
        try RecurrentError.check("recurrent forward input (N, I)", count: input.count, equals: n * i)
        try RecurrentError.check("recurrent forward output (N, \(rName))", count: output.count, equals: n * r)
        try RecurrentError.check("recurrent forward reserve (\(mode.rawValue))", count: reserve.count,
                                 equals: shape.reserveCount(mode))
        for (name, x) in [("final hidden", finalHidden), ("initial hidden", initialHidden), ("hidden mask", hiddenMask)] {
            if let x { try RecurrentError.check("recurrent forward \(name) (B, \(rName))", count: x.count, equals: b * r) }
        }
        for (name, x) in [("final cell", finalCell), ("initial cell", initialCell)] {
            if let x { try RecurrentError.check("recurrent forward \(name) (B, H)", count: x.count, equals: b * h) }
        }
        try RecurrentZoneout.validate(zoneout, shape)
    }
}

/// Tensors of a whole-layer backward pass. Gradients of inputs and states are overwritten.
/// h gradients are R = `shape.outputSize` wide (P with a projection), c gradients H.
public struct RecurrentBackwardIO: Sendable {
    /// (T, B, I) written if present.
    public var gradInput: Tensor?
    /// (B, R) written if present.
    public var gradInitialHidden: Tensor?
    /// (B, H) written if present (LSTM).
    public var gradInitialCell: Tensor?
    /// (T, B, R) dL/dh_t from the layer above, or nil for zeros.
    public var gradOutput: Tensor?
    /// (B, R) dL/dh_T, or nil for zeros.
    public var gradFinalHidden: Tensor?
    /// (B, H) dL/dc_T (LSTM), or nil for zeros.
    public var gradFinalCell: Tensor?
    /// The forward pass's input (T, B, I), output (T, B, R), initial states and reserve.
    public var input: Tensor
    public var output: Tensor
    public var initialHidden: Tensor?
    public var initialCell: Tensor?
    public var reserve: Tensor
    /// (B, R) the forward pass's recurrent dropout mask (`RecurrentForwardIO.hiddenMask`), or nil.
    public var hiddenMask: Tensor?
    /// The forward pass's zoneout factors (`RecurrentForwardIO.zoneout`), or nil.
    public var zoneout: RecurrentZoneout?

    public init(gradInput: Tensor?, gradInitialHidden: Tensor? = nil, gradInitialCell: Tensor? = nil,
                gradOutput: Tensor?, gradFinalHidden: Tensor? = nil, gradFinalCell: Tensor? = nil,
                input: Tensor, output: Tensor, initialHidden: Tensor? = nil, initialCell: Tensor? = nil,
                reserve: Tensor, hiddenMask: Tensor? = nil, zoneout: RecurrentZoneout? = nil) {
        self.gradInput = gradInput; self.gradInitialHidden = gradInitialHidden; self.gradInitialCell = gradInitialCell
        self.gradOutput = gradOutput; self.gradFinalHidden = gradFinalHidden; self.gradFinalCell = gradFinalCell
        self.input = input; self.output = output
        self.initialHidden = initialHidden; self.initialCell = initialCell; self.reserve = reserve
        self.hiddenMask = hiddenMask
        self.zoneout = zoneout
    }

    /// Throws unless every tensor has the element count `shape` implies.
    public func validate(_ shape: RecurrentLayerShape) throws {
        try RecurrentForwardIO(output: output, reserve: reserve, input: input,
                               initialHidden: initialHidden, initialCell: initialCell, hiddenMask: hiddenMask,
                               zoneout: zoneout).validate(shape)
        let (n, b, i, h, r) = (shape.rowCount, shape.batchSize, shape.inputSize, shape.hiddenSize, shape.outputSize)
        let rName = shape.projectionSize == nil ? "H" : "P"
        if let gradInput { try RecurrentError.check("recurrent backward grad input (N, I)", count: gradInput.count, equals: n * i) }
        if let gradOutput {
            try RecurrentError.check("recurrent backward grad output (N, \(rName))", count: gradOutput.count, equals: n * r)
        }
        for (name, x) in [("grad initial hidden", gradInitialHidden), ("grad final hidden", gradFinalHidden)] {
            if let x { try RecurrentError.check("recurrent backward \(name) (B, \(rName))", count: x.count, equals: b * r) }
        }
        for (name, x) in [("grad initial cell", gradInitialCell), ("grad final cell", gradFinalCell)] {
            if let x { try RecurrentError.check("recurrent backward \(name) (B, H)", count: x.count, equals: b * h) }
        }
    }
}

/// Zoneout factors of a whole-layer pass (Krueger et al. 2017), one per element of every step, in
/// the rows of the input (N, ·): with d the factor, h_t = h̃_t + d ⊙ (h_{t-1} − h̃_t), so d = 1 keeps
/// the previous value and d = 0 takes the cell's new one; in training d ∈ {0, 1} (drawn with
/// probability p of 1), in evaluation d = p (the expectation). An LSTM's cell state likewise:
/// c_t = c̃_t + d_c ⊙ (c_{t-1} − c̃_t), and h̃_t = o_t ⊙ tanh(c̃_t) (with a projection,
/// h̃_t = W_hr (o_t ⊙ tanh(c̃_t)) and the zoneout acts on the projected h).
public struct RecurrentZoneout: Sendable {
    /// (N, R) factors of h.
    public var hidden: Tensor
    /// (N, H) factors of c (LSTM only; required there).
    public var cell: Tensor?

    public init(hidden: Tensor, cell: Tensor? = nil) {
        self.hidden = hidden
        self.cell = cell
    }

    /// Throws unless the factors are given exactly when `shape.zoneout`, with (N, R) and, for an
    /// LSTM only, (N, H) elements.
    static func validate(_ zoneout: RecurrentZoneout?, _ shape: RecurrentLayerShape) throws {
        guard let zoneout else {
            if shape.zoneout {
                throw RecurrentError.invalidArgument(name: "zoneout", expected: "factors for a shape with zoneout", got: "none")
            }
            return
        }
        guard shape.zoneout else {
            throw RecurrentError.invalidArgument(name: "zoneout", expected: "none for a shape without zoneout", got: "factors")
        }
        let (n, h, r) = (shape.rowCount, shape.hiddenSize, shape.outputSize)
        try RecurrentError.check("zoneout hidden factors (N, R)", count: zoneout.hidden.count, equals: n * r)
        switch (shape.cell, zoneout.cell) {
        case (.lstm, let c?): try RecurrentError.check("zoneout cell factors (N, H)", count: c.count, equals: n * h)
        case (.lstm, nil):
            throw RecurrentError.invalidArgument(name: "zoneout cell factors", expected: "(N, H) for an LSTM", got: "none")
        case (_, nil): break
        case (_, let c?):
            throw RecurrentError.invalidArgument(name: "zoneout cell factors", expected: "none for \(shape.cell.rawValue) (no cell state)",
                                                 got: "shape \(c.shape)")
        }
    }
}
