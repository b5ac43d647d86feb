// The one recurrent time loop, shared by every backend (DESIGN §5):
// forward  = one input-projection GEMM over all T·B rows, then per step one recurrent GEMM
//            and one fused cell kernel;
// backward = per step one fused cell kernel and one GEMM for dh_{t-1}, then whole-sequence
//            GEMMs for dW_ih, dW_hh, dX and column sums for the biases (no per-step weight GEMMs).
// The sequences of a batch are independent, so the per-step part runs on row blocks of the batch
// that the backend may process at once (`batchParallelism`, `runConcurrently`); the
// whole-sequence GEMMs stay whole.
// T = time steps, B = batch, I = input size, H = hidden size, G = gates.

extension Backend {
    /// One block at a time unless a backend says otherwise.
    public var batchParallelism: Int { 1 }

    /// Runs `body(0..<count)` one after another.
    public func runConcurrently(_ count: Int, _ body: @Sendable (Int) throws -> Void) throws {
        for part in 0..<count { try body(part) }
    }

    /// Views of the reserve buffer: post-activation gates (T, B, G·H) and the extra state (T, B, H).
    func reserveViews(_ reserve: Tensor, _ s: RecurrentLayerShape) throws -> (gates: Tensor, extra: Tensor?) {
        let (t, b, h, gh) = (s.sequenceLength, s.batchSize, s.hiddenSize, s.gateWidth)
        let flat = try reserve.reshaped([reserve.count])
        let gates = try flat.slice(0..<(t * b * gh)).reshaped([t, b, gh])
        guard s.cell.extraReserveWidth > 0 else { return (gates, nil) }
        let extra = try flat.slice((t * b * gh)..<(t * b * (gh + h))).reshaped([t, b, h])
        return (gates, extra)
    }

    /// Rows `rows` of a (B, H) state given as any tensor of B·H elements.
    func stateRows(_ state: Tensor?, _ s: RecurrentLayerShape, _ rows: Range<Int>) throws -> Tensor? {
        try state?.reshaped([s.batchSize, s.hiddenSize]).slice(rows)
    }

    /// Contiguous row blocks of a batch of `b`, at least 8 rows each, at most `batchParallelism`.
    func batchBlocks(_ b: Int) -> [Range<Int>] {
        let parts = max(1, min(batchParallelism, b / 8))
        return (0..<parts).map { (b * $0 / parts)..<(b * ($0 + 1) / parts) }
    }

    public func recurrentForward(_ io: RecurrentForwardIO, _ w: RecurrentWeights, _ s: RecurrentLayerShape) throws {
        try io.validate(s)
        try w.validate(s, "recurrent forward")
        let (t, b, i, h, gh) = (s.sequenceLength, s.batchSize, s.inputSize, s.hiddenSize, s.gateWidth)
        let (gates, extra) = try reserveViews(io.reserve, s)      // (T, B, GH), (T, B, H)
        let output = try io.output.reshaped([t, b, h])             // (T, B, H)

        // x W_ihᵀ for all steps at once: (T·B, I) × (I, GH).
        try gemm(gates, io.input, w.weightIH, GEMMShape(m: t * b, n: gh, k: i, transB: .transposed))
        let blocks = batchBlocks(b)
        try runConcurrently(blocks.count) { part in
            try self.forwardSteps(rows: blocks[part], io, w, s, gates: gates, extra: extra, output: output)
        }
        if let finalHidden = io.finalHidden { try copy(output.row(t - 1), to: finalHidden) }
        if let finalCell = io.finalCell, let extra, s.cell == .lstm { try copy(extra.row(t - 1), to: finalCell) }
    }

    /// The time loop of the forward pass for batch rows `rows`.
    private func forwardSteps(rows: Range<Int>, _ io: RecurrentForwardIO, _ w: RecurrentWeights, _ s: RecurrentLayerShape,
                              gates: Tensor, extra: Tensor?, output: Tensor) throws {
        let (t, h, gh) = (s.sequenceLength, s.hiddenSize, s.gateWidth)
        let hiddenProjection = try Tensor.empty([rows.count, gh], on: self)  // (b, GH) h_{t-1} W_hhᵀ
        for step in 0..<t {
            let previousHidden = step == 0 ? try stateRows(io.initialHidden, s, rows) : try output.row(step - 1).slice(rows)
            if let previousHidden {
                try gemm(hiddenProjection, previousHidden, w.weightHH, GEMMShape(m: rows.count, n: gh, k: h, transB: .transposed))
            } else {
                try fill(hiddenProjection, with: 0)
            }
            let hidden = try output.row(step).slice(rows), stepGates = try gates.row(step).slice(rows)
            switch s.cell {
            case .lstm:
                let previousCell = step == 0 ? try stateRows(io.initialCell, s, rows) : try extra!.row(step - 1).slice(rows)
                try lstmForwardStep(hidden: hidden, cell: extra!.row(step).slice(rows), gates: stepGates,
                                    hiddenProjection: hiddenProjection, biasIH: w.biasIH, biasHH: w.biasHH,
                                    previousCell: previousCell)
            case .gru:
                try gruForwardStep(hidden: hidden, newGateHidden: extra!.row(step).slice(rows), gates: stepGates,
                                   hiddenProjection: hiddenProjection, biasIH: w.biasIH, biasHH: w.biasHH,
                                   previousHidden: previousHidden)
            case .rnnTanh, .rnnRelu:
                try rnnForwardStep(hidden: hidden, gates: stepGates, hiddenProjection: hiddenProjection,
                                   biasIH: w.biasIH, biasHH: w.biasHH, activation: s.cell == .rnnTanh ? .tanh : .relu)
            }
        }
    }

    public func recurrentBackward(_ io: RecurrentBackwardIO, _ w: RecurrentWeights, _ g: RecurrentWeights,
                                  _ s: RecurrentLayerShape) throws {
        try io.validate(s)
        try w.validate(s, "recurrent backward")
        try g.validate(s, "recurrent backward gradient")
        let (t, b, i, h, gh) = (s.sequenceLength, s.batchSize, s.inputSize, s.hiddenSize, s.gateWidth)
        let (gates, extra) = try reserveViews(io.reserve, s)      // (T, B, GH), (T, B, H)
        let input = try io.input.reshaped([t, b, i])
        let output = try io.output.reshaped([t, b, h])

        // Pre-activation gate gradients for every step; GRU needs a second copy for the hidden side.
        let gradGatesInput = try Tensor.empty([t, b, gh], on: self)                              // (T, B, GH)
        let gradGatesHidden = s.cell == .gru ? try Tensor.empty([t, b, gh], on: self) : gradGatesInput
        let blocks = batchBlocks(b)
        try runConcurrently(blocks.count) { part in
            try self.backwardSteps(rows: blocks[part], io, w, s, gates: gates, extra: extra, output: output,
                                   gradGatesInput: gradGatesInput, gradGatesHidden: gradGatesHidden)
        }

        // Whole-sequence weight gradients.
        // dW_ih += dGxᵀ X: (GH, T·B) × (T·B, I)
        try gemm(g.weightIH, gradGatesInput, input, GEMMShape(m: gh, n: i, k: t * b, transA: .transposed, beta: 1))
        // dW_hh += Σ_t dGh_tᵀ h_{t-1}: steps 1..<T against outputs 0..<T-1, then step 0 against h_0.
        if t > 1 {
            try gemm(g.weightHH, gradGatesHidden.slice(1..<t), output.slice(0..<(t - 1)),
                     GEMMShape(m: gh, n: h, k: (t - 1) * b, transA: .transposed, beta: 1))
        }
        if let h0 = io.initialHidden {
            try gemm(g.weightHH, gradGatesHidden.row(0), h0, GEMMShape(m: gh, n: h, k: b, transA: .transposed, beta: 1))
        }
        try sumColumns(g.biasIH, gradGatesInput.reshaped([t * b, gh]), accumulate: true)
        try sumColumns(g.biasHH, gradGatesHidden.reshaped([t * b, gh]), accumulate: true)
        // dX = dGx W_ih: (T·B, GH) × (GH, I)
        if let gradInput = io.gradInput {
            try gemm(gradInput, gradGatesInput, w.weightIH, GEMMShape(m: t * b, n: i, k: gh))
        }
    }

    /// The time loop of the backward pass for batch rows `rows`: gate gradients of every step and
    /// the gradients of the initial states.
    private func backwardSteps(rows: Range<Int>, _ io: RecurrentBackwardIO, _ w: RecurrentWeights, _ s: RecurrentLayerShape,
                               gates: Tensor, extra: Tensor?, output: Tensor, gradGatesInput: Tensor, gradGatesHidden: Tensor) throws {
        let (t, h, gh) = (s.sequenceLength, s.hiddenSize, s.gateWidth)
        let gradOutput = try io.gradOutput?.reshaped([t, s.batchSize, h])
        let gradHidden = try Tensor.empty([rows.count, h], on: self)                               // (b, H) dh from t+1
        if let gradFinalHidden = io.gradFinalHidden {
            try copy(stateRows(gradFinalHidden, s, rows)!, to: gradHidden)
        } else {
            try fill(gradHidden, with: 0)
        }
        var gradCell: Tensor? = nil                                                                 // (b, H) dc from t+1
        if s.cell == .lstm {
            let dc = try Tensor.empty([rows.count, h], on: self)
            if let gradFinalCell = io.gradFinalCell { try copy(stateRows(gradFinalCell, s, rows)!, to: dc) } else { try fill(dc, with: 0) }
            gradCell = dc
        }
        for step in stride(from: t - 1, through: 0, by: -1) {
            let dy = try gradOutput?.row(step).slice(rows)
            let previousHidden = step == 0 ? try stateRows(io.initialHidden, s, rows) : try output.row(step - 1).slice(rows)
            let dGx = try gradGatesInput.row(step).slice(rows), dGh = try gradGatesHidden.row(step).slice(rows)
            switch s.cell {
            case .lstm:
                let previousCell = step == 0 ? try stateRows(io.initialCell, s, rows) : try extra!.row(step - 1).slice(rows)
                try lstmBackwardStep(gradGates: dGx, gradCell: gradCell!, gradHidden: gradHidden, gradOutput: dy,
                                     gates: gates.row(step).slice(rows), cell: extra!.row(step).slice(rows), previousCell: previousCell)
            case .gru:
                try gruBackwardStep(gradGatesInput: dGx, gradGatesHidden: dGh, gradHidden: gradHidden, gradOutput: dy,
                                    gates: gates.row(step).slice(rows), newGateHidden: extra!.row(step).slice(rows),
                                    previousHidden: previousHidden)
            case .rnnTanh, .rnnRelu:
                try rnnBackwardStep(gradGates: dGx, gradHidden: gradHidden, gradOutput: dy, gates: gates.row(step).slice(rows),
                                    activation: s.cell == .rnnTanh ? .tanh : .relu)
            }
            // dh_{t-1} (+)= dG_t W_hh: (b, GH) × (GH, H). GRU's step already wrote the direct z ⊙ dh part.
            if step > 0 || io.gradInitialHidden != nil {
                try gemm(gradHidden, dGh, w.weightHH, GEMMShape(m: rows.count, n: h, k: gh, beta: s.cell == .gru ? 1 : 0))
            }
        }
        if let gradInitialHidden = io.gradInitialHidden { try copy(gradHidden, to: stateRows(gradInitialHidden, s, rows)!) }
        if let gradInitialCell = io.gradInitialCell, let gradCell { try copy(gradCell, to: stateRows(gradInitialCell, s, rows)!) }
    }
}
