// Layer-normalised LSTM and GRU layers (Ba et al. 2016; the cell of PyTorch's
// benchmarks/fastrnns/custom_lstms.py LayerNormLSTMCell, and Haste's LayerNormLSTM), the whole-layer
// passes every backend shares (`recurrentForward`/`recurrentBackward` come here for such a shape).
// With LN(x) = x̂ ⊙ γ over each row of G·H, x̂ = (x − μ)/σ, σ = √(var + 1e-5):
//   a_t = LN_ih(W_ih x_t) + b_ih + LN_hh(W_hh h̄_{t-1}) + b_hh      (G·H; b_ih, b_hh are the norms' biases)
//   LSTM: i, f, g, o from a_t as PyTorch's; c_t = x̂(f ⊙ c_{t-1} + i ⊙ g) ⊙ γ_c + β_c;
//         h_t = o ⊙ tanh(c_t) (c_t, normalised, is the state carried on)
//   GRU:  r, z, n from a_t as PyTorch's (n = tanh(a_in + r ⊙ a_hn)), h_t = n + z ⊙ (h_{t-1} − n)
//   LSTM with a projection (PyTorch's proj_size P): the cell's m_t = o ⊙ tanh(c_t) goes to the
//         reserve and h_t = m_t W_hrᵀ (P wide; W_hh is (G·H, P)), as the plain projected LSTM;
//         backward dh_t = dy_t + dh_{t+1} is kept for dW_hr = dHᵀ M and dm_t = dh_t W_hr feeds the cell.
//   Zoneout, as the plain cells: with the cell's c̃_t, h̃_t from the equations above, c_t = c̃_t + d_c ⊙
//   (c_{t-1} − c̃_t) and h_t = h̃_t + d ⊙ (h_{t-1} − h̃_t), h̃_t = o ⊙ tanh(c̃_t) (W_hr of it when
//   projecting); the step writes c̃_t to the reserve's candidate part and the blends follow it.
// h̄ is h_{t-1} (⊙ mask with recurrent dropout). x W_ihᵀ is one GEMM for the whole sequence before
// the time loop, the dW and dX GEMMs follow the backward one; what lies between is the time loop's
// (`layerNormForwardSteps`, `layerNormBackwardSteps`, overridable per backend). The shared per-step
// loops here: the input norm for the whole sequence, then per step the recurrent product and an
// cell's one step op that normalises the product, applies the gates (an LSTM's also normalises c̃)
// and updates the state. Backward per step: the
// cell's gate gradients, the recurrent norm's backward, dh_{t-1} = dĜ_h W_hh; then the biases' and
// the gains' gradients (column sums of dy and dy ⊙ x̂) and the input norm's backward.
// Reserve: gates (N, G·H), the extra state (N, H: c_t, or GRU's a_hn), a projecting LSTM's m_t (N, H),
// an LSTM with zoneout's c̃_t (N, H) (the plain cells' layout so far), x̂_ih and x̂_hh (N, G·H),
// 1/σ of each (N), then for an LSTM ĉ_t (N, H) and its 1/σ (N). Forward only keeps the same layout.
// T = time steps, B = batch, N = rows, I = input size, H = hidden size, G = gates, P = projection size,
// R = width of h (P when projecting, else H).

/// Views of a layer-normalised layer's reserve (`RecurrentLayerShape.layerNormReserveCount`).
public struct LayerNormReserve: Sendable {
    /// (N, G·H) post-activation gates; (N, H) c_t or GRU's a_hn.
    public var gates: Tensor, extra: Tensor
    /// (N, H) m_t = o_t ⊙ tanh(c_t), the input of h_t = m_t W_hrᵀ (an LSTM with a projection), else nil.
    public var projected: Tensor?
    /// (N, H) c̃_t, the cell state before zoneout (an LSTM with zoneout), else nil.
    public var candidateCell: Tensor?
    /// (N, G·H) x̂ of the input and recurrent pre-activations, (N) their 1/σ.
    public var normalizedIH: Tensor, normalizedHH: Tensor, deviationIH: Tensor, deviationHH: Tensor
    /// (N, H) ĉ_t and (N) its 1/σ (LSTM), else nil.
    public var normalizedCell: Tensor?, deviationCell: Tensor?

    init(_ reserve: Tensor, _ s: RecurrentLayerShape) throws {
        let (n, h, gh) = (s.rowCount, s.hiddenSize, s.gateWidth)
        let flat = try reserve.reshaped([reserve.count])
        var start = 0
        func take(_ rows: Int, _ width: Int) throws -> Tensor {
            defer { start += rows * width }
            return try flat.slice(start..<(start + rows * width)).reshaped(width == 1 ? [rows] : [rows, width])
        }
        gates = try take(n, gh)
        extra = try take(n, h)
        projected = s.projectionSize != nil ? try take(n, h) : nil
        candidateCell = s.keepsCandidateCell ? try take(n, h) : nil
        normalizedIH = try take(n, gh)
        normalizedHH = try take(n, gh)
        deviationIH = try take(n, 1)
        deviationHH = try take(n, 1)
        normalizedCell = s.cell == .lstm ? try take(n, h) : nil
        deviationCell = s.cell == .lstm ? try take(n, 1) : nil
    }
}

/// What a layer-normalised layer's forward time loop works on (`Backend.layerNormForwardSteps`): on
/// entry `reserve.gates` holds x_t W_ihᵀ of every step; the loop writes the input norm (x̂_ih and
/// its 1/σ, the gates normalised with γ_ih), every step's recurrent norm, gates, states and `output`.
public struct LayerNormForwardLoop: Sendable {
    /// The layer's tensors, as `recurrentForward` got them (already validated).
    public var io: RecurrentForwardIO
    public var weights: RecurrentWeights
    public var norm: RecurrentLayerNormWeights
    public var shape: RecurrentLayerShape
    public var reserve: LayerNormReserve
    /// (N, R) h_t of every step.
    public var output: Tensor
}

/// What a layer-normalised layer's backward time loop works on (`Backend.layerNormBackwardSteps`):
/// the forward tensors, the per-step gradients it writes for the weight-gradient GEMMs after it, and
/// the gradients of the biases and the norms' parameters, which it accumulates.
public struct LayerNormBackwardLoop: Sendable {
    /// The layer's tensors, as `recurrentBackward` got them (already validated).
    public var io: RecurrentBackwardIO
    public var weights: RecurrentWeights
    public var norm: RecurrentLayerNormWeights
    public var shape: RecurrentLayerShape
    public var reserve: LayerNormReserve
    /// (N, R) the forward output and dy (nil: zero).
    public var output: Tensor, gradOutput: Tensor?
    /// (N, P) written with a projection: dh_t = dy_t + dh_{t+1} of every step, for dW_hr; else nil.
    public var gradOutputs: Tensor?
    /// The layer's parameter gradients: `biasIH`, `biasHH` and `layerNorm`'s accumulate here.
    public var gradients: RecurrentWeights, gradNorm: RecurrentLayerNormWeights
    /// (N, G·H) written: the gradient of x_t W_ihᵀ (through the input norm), for dW_ih and dX.
    public var gradGates: Tensor
    /// (N, G·H) written: the recurrent side's gradient before its norm, dL/d(h̄ W_hhᵀ), for dW_hh.
    public var gradProducts: Tensor
}

extension Backend {
    /// The forward pass of a layer-normalised layer (see the file's opening comment); `io` and `w`
    /// already checked against `s`.
    func layerNormRecurrentForward(_ io: RecurrentForwardIO, _ w: RecurrentWeights, _ s: RecurrentLayerShape) throws {
        guard let norm = w.layerNorm else { throw RecurrentError.invalidState("layer norm forward: no gains") }
        let (t, n, i, h, r, gh) = (s.sequenceLength, s.rowCount, s.inputSize, s.hiddenSize, s.outputSize, s.gateWidth)
        let v = try LayerNormReserve(io.reserve, s)
        let output = try io.output.reshaped([n, r])                        // (N, R)
        let offsets = s.stepOffsets
        // x W_ihᵀ for all steps at once: (N, I) × (I, GH); the time loop normalises it.
        try gemm(v.gates, io.input, w.weightIH, GEMMShape(m: n, n: gh, k: i, transB: .transposed))
        try layerNormForwardSteps(LayerNormForwardLoop(io: io, weights: w, norm: norm, shape: s, reserve: v, output: output))
        // Each sequence's final state is at its own last step.
        for step in 0..<t {
            let ending = (step + 1 < t ? s.rows(atStep: step + 1) : 0)..<s.rows(atStep: step)
            guard !ending.isEmpty else { continue }
            if let finalHidden = io.finalHidden {
                try copy(stepRows(output, offsets, step, ending), to: stateRows(finalHidden, s, ending, width: r))
            }
            if let finalCell = io.finalCell, s.cell == .lstm {
                try copy(stepRows(v.extra, offsets, step, ending), to: stateRows(finalCell, s, ending, width: h))
            }
        }
    }

    /// The default forward time loop of a layer-normalised layer (`perStepLayerNormForwardSteps`).
    public func layerNormForwardSteps(_ loop: LayerNormForwardLoop) throws { try perStepLayerNormForwardSteps(loop) }

    /// The default backward time loop of a layer-normalised layer (`perStepLayerNormBackwardSteps`).
    public func layerNormBackwardSteps(_ loop: LayerNormBackwardLoop) throws { try perStepLayerNormBackwardSteps(loop) }

    /// The per-step forward time loop of a layer-normalised layer, also for backends that override
    /// `layerNormForwardSteps` and fall back to it: the input norm for the whole sequence, then per
    /// step for the whole batch one `gemm` and the cell's one layer-normalised step op (with a
    /// projection, one more `gemm`).
    public func perStepLayerNormForwardSteps(_ loop: LayerNormForwardLoop) throws {
        let (io, w, norm, s, v, output) = (loop.io, loop.weights, loop.norm, loop.shape, loop.reserve, loop.output)
        let (t, h, r, gh) = (s.sequenceLength, s.hiddenSize, s.outputSize, s.gateWidth)
        let offsets = s.stepOffsets
        try layerNormForward(output: v.gates, normalized: v.normalizedIH, inverseDeviation: v.deviationIH, input: v.gates,
                             gain: norm.gainIH, bias: nil)
        let projection = try Tensor.empty([s.batchSize, gh], on: self)   // (B, GH) LN_hh(h̄ W_hhᵀ)
        let masked = try io.hiddenMask.map { _ in try Tensor.empty([s.batchSize, r], on: self) }   // (B, R) h̄
        let zoneScratch = try io.zoneout.map { _ in try Tensor.empty([s.batchSize * max(h, r)], on: self) }  // (B, max(H, R))
        /// Rows `active` of the zoneout scratch, `width` wide.
        func scratchRows(_ scratch: Tensor, _ active: Range<Int>, width: Int) throws -> Tensor {
            try scratch.slice(0..<(active.count * width)).reshaped([active.count, width])
        }
        for step in 0..<t {
            let active = 0..<s.rows(atStep: step)
            let rows = { (x: Tensor) in try self.stepRows(x, offsets, step, active) }
            let previousHidden = step == 0
                ? try stateRows(io.initialHidden, s, active, width: r) : try stepRows(output, offsets, step - 1, active)
            let hiddenProjection = try projection.slice(active)
            if var productInput = previousHidden {
                if let mask = io.hiddenMask, let masked {
                    productInput = try masked.slice(active)
                    try multiply(productInput, previousHidden!, stateRows(mask, s, active, width: r))
                }
                try gemm(hiddenProjection, productInput, w.weightHH, GEMMShape(m: active.count, n: gh, k: r, transB: .transposed))
            } else {
                try fill(hiddenProjection, with: 0)
            }
            if s.cell == .lstm, let gainCell = norm.gainCell, let biasCell = norm.biasCell, let normalizedCell = v.normalizedCell,
               let deviationCell = v.deviationCell {
                // One kernel: the recurrent norm, the gates, c's norm and the state.
                let previousCell = step == 0
                    ? try stateRows(io.initialCell, s, active, width: h) : try stepRows(v.extra, offsets, step - 1, active)
                // With zoneout the step writes c̃_t, and c_t = c̃_t + d_c ⊙ (c_{t-1} − c̃_t) follows.
                let stepCell = try v.candidateCell.map(rows) ?? rows(v.extra)
                // With a projection the cell writes m_t (kept in the reserve) and h_t = m_t W_hrᵀ follows.
                let cellOutput = try v.projected.map(rows) ?? rows(output)
                try layerNormLSTMForwardStep(hidden: cellOutput, cell: stepCell, normalizedCell: rows(normalizedCell),
                                             cellInverseDeviation: rows(deviationCell), normalizedProjection: rows(v.normalizedHH),
                                             projectionInverseDeviation: rows(v.deviationHH), gates: rows(v.gates),
                                             hiddenProjection: hiddenProjection, biasIH: w.biasIH, biasHH: w.biasHH,
                                             projectionGain: norm.gainHH, cellGain: gainCell, cellBias: biasCell,
                                             previousCell: previousCell)
                if let candidate = v.candidateCell, let factors = io.zoneout?.cell, let zoneScratch {
                    let cell = try rows(v.extra)
                    try copy(rows(candidate), to: cell)
                    try zoneoutBlend(cell, previous: previousCell, factors: rows(factors),
                                     scratch: scratchRows(zoneScratch, active, width: h))
                }
                if let weightHR = w.weightHR, v.projected != nil {
                    // h_t = m_t W_hrᵀ: (b, H) × (H, P).
                    try gemm(rows(output), cellOutput, weightHR, GEMMShape(m: active.count, n: r, k: h, transB: .transposed))
                }
            } else {
                try layerNormGRUForwardStep(hidden: rows(output), newGateHidden: rows(v.extra), normalizedProjection: rows(v.normalizedHH),
                                            projectionInverseDeviation: rows(v.deviationHH), gates: rows(v.gates),
                                            hiddenProjection: hiddenProjection, biasIH: w.biasIH, biasHH: w.biasHH,
                                            projectionGain: norm.gainHH, previousHidden: previousHidden)
            }
            // Zoneout: h_t = h̃_t + d ⊙ (h_{t-1} − h̃_t), in place in the output.
            if let factors = io.zoneout?.hidden, let zoneScratch {
                try zoneoutBlend(rows(output), previous: previousHidden, factors: rows(factors),
                                 scratch: scratchRows(zoneScratch, active, width: r))
            }
        }
    }

    /// The backward pass of a layer-normalised layer; parameter gradients accumulate.
    func layerNormRecurrentBackward(_ io: RecurrentBackwardIO, _ w: RecurrentWeights, _ g: RecurrentWeights,
                                    _ s: RecurrentLayerShape) throws {
        guard let norm = w.layerNorm, let gradNorm = g.layerNorm else {
            throw RecurrentError.invalidState("layer norm backward: no gains")
        }
        let (n, i, h, r, gh) = (s.rowCount, s.inputSize, s.hiddenSize, s.outputSize, s.gateWidth)
        let v = try LayerNormReserve(io.reserve, s)
        let input = try io.input.reshaped([n, i]), output = try io.output.reshaped([n, r])
        // (N, GH) the gradients of x W_ihᵀ and of h̄ W_hhᵀ; with a projection (N, P) dh_t of every step.
        let gradGates = try Tensor.empty([n, gh], on: self), gradProducts = try Tensor.empty([n, gh], on: self)
        let gradOutputs = v.projected != nil ? try Tensor.empty([n, r], on: self) : nil
        try layerNormBackwardSteps(LayerNormBackwardLoop(
            io: io, weights: w, norm: norm, shape: s, reserve: v, output: output, gradOutput: try io.gradOutput?.reshaped([n, r]),
            gradOutputs: gradOutputs, gradients: g, gradNorm: gradNorm, gradGates: gradGates, gradProducts: gradProducts))
        // dW_ih += dXᵀ X and dX = dA_x W_ih, dA_x the gradient of x W_ihᵀ.
        try gemm(g.weightIH, gradGates, input, GEMMShape(m: gh, n: i, k: n, transA: .transposed, beta: 1))
        if let gradInput = io.gradInput { try gemm(gradInput, gradGates, w.weightIH, GEMMShape(m: n, n: i, k: gh)) }
        // dW_hh += Σ_t dA_h,tᵀ h̄_{t-1}: (GH, N) × (N, R).
        try gemm(g.weightHH, gradProducts, productInputs(io, output, s), GEMMShape(m: gh, n: r, k: n, transA: .transposed, beta: 1))
        // dW_hr += dHᵀ M: (P, N) × (N, H).
        if let projected = v.projected, let gradOutputs, let gradWeightHR = g.weightHR {
            try gemm(gradWeightHR, gradOutputs, projected, GEMMShape(m: r, n: h, k: n, transA: .transposed, beta: 1))
        }
    }

    /// The per-step backward time loop of a layer-normalised layer, the mirror of
    /// `perStepLayerNormForwardSteps`: per step the cell's gate gradients, the recurrent norm's
    /// backward and dh_{t-1} = dĜ_h W_hh; then the gradients of the initial states, the biases' and
    /// the gains' (column sums), and the input norm's backward for the whole sequence.
    public func perStepLayerNormBackwardSteps(_ loop: LayerNormBackwardLoop) throws {
        let (io, w, norm, s, v, output) = (loop.io, loop.weights, loop.norm, loop.shape, loop.reserve, loop.output)
        let (gradGates, gradProducts) = (loop.gradGates, loop.gradProducts)
        let (t, n, b, h, r, gh) = (s.sequenceLength, s.rowCount, s.batchSize, s.hiddenSize, s.outputSize, s.gateWidth)
        let lstm = s.cell == .lstm
        // dL/da_t (N, GH) is `gradGates` until the input norm's backward at the end; the recurrent side's
        // after its norm (GRU: its own, the reset gate scales a_hn); dc_t (N, H), for c's gain and bias.
        let gradHiddenGates = lstm ? gradGates : try Tensor.empty([n, gh], on: self)
        let gradCells = lstm ? try Tensor.empty([n, h], on: self) : nil
        let offsets = s.stepOffsets
        let gradHidden = try Tensor.empty([b, r], on: self), gradCell = try Tensor.empty([b, h], on: self)  // carried
        // With a projection, dm_t = dh_t W_hr (B, H), the cell's output gradient.
        let gradProjectedRows = v.projected != nil ? try Tensor.empty([b, h], on: self) : nil
        // Zoneout: d ⊙ dh_t (B, R) and d_c ⊙ dc_t (B, H), the parts that go to step t−1 directly.
        let zonedRows = try io.zoneout.map { _ in try Tensor.empty([b, r], on: self) }
        let zonedCellRows = try io.zoneout?.cell.map { _ in try Tensor.empty([b, h], on: self) }
        for step in stride(from: t - 1, through: 0, by: -1) {
            let active = 0..<s.rows(atStep: step)
            let rows = { (x: Tensor) in try self.stepRows(x, offsets, step, active) }
            // Sequences whose last step this is start from the gradients of their final states.
            let starting = (step + 1 < t ? s.rows(atStep: step + 1) : 0)..<active.upperBound
            if !starting.isEmpty {
                if let gradFinalHidden = io.gradFinalHidden {
                    try copy(stateRows(gradFinalHidden, s, starting, width: r), to: gradHidden.slice(starting))
                } else {
                    try fill(gradHidden.slice(starting), with: 0)
                }
                if let gradFinalCell = io.gradFinalCell, lstm {
                    try copy(stateRows(gradFinalCell, s, starting, width: h), to: gradCell.slice(starting))
                } else {
                    try fill(gradCell.slice(starting), with: 0)
                }
            }
            let dh = try gradHidden.slice(active)
            var dy = try loop.gradOutput.map { try stepRows($0, offsets, step, active) }
            let previousHidden = step == 0
                ? try stateRows(io.initialHidden, s, active, width: r) : try stepRows(output, offsets, step - 1, active)
            // Zoneout: dh_t = dy_t + dh_{t+1} whole; d ⊙ dh_t goes to h_{t-1}, dh̃_t = dh_t − d ⊙ dh_t to the cell
            // (and likewise d_c ⊙ dc_t to c_{t-1}, dc_t − d_c ⊙ dc_t through the cell).
            let zoned = try zonedRows.map { try $0.slice(active) }
            if let zoned, let factors = io.zoneout?.hidden {
                try zoneoutSplit(dh, adding: dy, factors: rows(factors), direct: zoned)
                dy = nil
            }
            let zonedCell = try zonedCellRows.map { try $0.slice(active) }
            if let zonedCell, let factors = io.zoneout?.cell {
                try zoneoutSplit(gradCell.slice(active), adding: nil, factors: rows(factors), direct: zonedCell)
            }
            if lstm, let gradCells, let normalizedCell = v.normalizedCell, let deviationCell = v.deviationCell,
               let gainCell = norm.gainCell {
                let previousCell = step == 0
                    ? try stateRows(io.initialCell, s, active, width: h) : try stepRows(v.extra, offsets, step - 1, active)
                var (cellGradHidden, cellGradOutput) = (dh, dy)
                if let gradOutputs = loop.gradOutputs, let gradProjectedRows, let weightHR = w.weightHR {
                    // dh_t = dy_t + dh_{t+1} (b, P), kept for dW_hr; dm_t = dh_t W_hr: (b, P) × (P, H).
                    let gradStep = try rows(gradOutputs)
                    try copy(dh, to: gradStep)
                    if let dy { try axpy(gradStep, alpha: 1, dy) }
                    cellGradHidden = try gradProjectedRows.slice(active)
                    try gemm(cellGradHidden, gradStep, weightHR, GEMMShape(m: active.count, n: h, k: r))
                    cellGradOutput = nil
                }
                try layerNormLSTMBackwardStep(gradGates: rows(gradGates), gradProjection: rows(gradProducts),
                                              gradCell: gradCell.slice(active), gradCellOutput: rows(gradCells),
                                              gradHidden: cellGradHidden, gradOutput: cellGradOutput, gates: rows(v.gates),
                                              cell: v.candidateCell.map(rows) ?? rows(v.extra),
                                              normalizedCell: rows(normalizedCell), cellInverseDeviation: rows(deviationCell),
                                              normalizedProjection: rows(v.normalizedHH),
                                              projectionInverseDeviation: rows(v.deviationHH), projectionGain: norm.gainHH,
                                              cellGain: gainCell, previousCell: previousCell)
                if let zonedCell { try axpy(gradCell.slice(active), alpha: 1, zonedCell) }   // dc_{t-1} = f ⊙ dc̃_t + d_c ⊙ dc_t
            } else {
                try layerNormGRUBackwardStep(gradGatesInput: rows(gradGates), gradGatesHidden: rows(gradHiddenGates),
                                             gradProjection: rows(gradProducts), gradHidden: dh, gradOutput: dy, gates: rows(v.gates),
                                             newGateHidden: rows(v.extra), normalizedProjection: rows(v.normalizedHH),
                                             projectionInverseDeviation: rows(v.deviationHH), projectionGain: norm.gainHH,
                                             previousHidden: previousHidden)
            }
            // dh_{t-1} (+)= (dA_h W_hh) ⊙ mask, dA_h through the recurrent norm: (b, GH) × (GH, R). GRU: dh
            // holds z ⊙ dh, which an unmasked product adds onto in place; gradCell is the masked one's scratch.
            let onto = !lstm && io.hiddenMask == nil
            let product = lstm || onto ? dh : try gradCell.slice(active)
            try gemm(product, rows(gradProducts), w.weightHH, GEMMShape(m: active.count, n: r, k: gh, beta: onto ? 1 : 0))
            if let mask = io.hiddenMask { try multiply(product, product, stateRows(mask, s, active, width: r)) }
            if !lstm && !onto { try axpy(dh, alpha: 1, product) }
            if let zoned { try axpy(dh, alpha: 1, zoned) }
        }
        if let gradInitialHidden = io.gradInitialHidden { try copy(gradHidden, to: gradInitialHidden.reshaped([b, r])) }
        if let gradInitialCell = io.gradInitialCell, lstm { try copy(gradCell, to: gradInitialCell.reshaped([b, h])) }

        // Biases and gains: column sums of the post-norm gradients, and of them ⊙ x̂.
        let (g, gradNorm) = (loop.gradients, loop.gradNorm)
        let scratch = try Tensor.empty([n, gh], on: self)
        func addGain(_ gain: Tensor, _ grad: Tensor, _ normalized: Tensor, width: Int) throws {
            let part = try scratch.reshaped([n * gh]).slice(0..<(n * width)).reshaped([n, width])
            try multiply(part, grad, normalized)
            try sumColumns(gain, part, accumulate: true)
        }
        try sumColumns(g.biasIH, gradGates, accumulate: true)
        try sumColumns(g.biasHH, gradHiddenGates, accumulate: true)
        try addGain(gradNorm.gainIH, gradGates, v.normalizedIH, width: gh)
        try addGain(gradNorm.gainHH, gradHiddenGates, v.normalizedHH, width: gh)
        if let gradCells, let normalizedCell = v.normalizedCell, let gainCell = gradNorm.gainCell, let biasCell = gradNorm.biasCell {
            try addGain(gainCell, gradCells, normalizedCell, width: h)
            try sumColumns(biasCell, gradCells, accumulate: true)
        }
        // Through the input norm for the whole sequence.
        try layerNormBackward(gradInput: gradGates, gradOutput: gradGates, normalized: v.normalizedIH,
                              inverseDeviation: v.deviationIH, gain: norm.gainIH)
    }
}
