// The one recurrent time loop, shared by every backend (DESIGN §5):
// forward  = one input-projection GEMM over all T·B rows, then per step one recurrent GEMM
//            and one fused cell kernel;
// backward = per step one fused cell kernel and one GEMM for dh_{t-1}, then whole-sequence
//            GEMMs for dW_ih, dW_hh, dX and column sums for the biases (no per-step weight GEMMs).
// T = time steps, B = batch, I = input size, H = hidden size, G = gates.

extension Backend {
    /// Views of the reserve buffer: post-activation gates (T, B, G·H) and the extra state (T, B, H).
    func reserveViews(_ reserve: Tensor, _ s: RecurrentLayerShape) throws -> (gates: Tensor, extra: Tensor?) {
        let (t, b, h, gh) = (s.sequenceLength, s.batchSize, s.hiddenSize, s.gateWidth)
        let flat = try reserve.reshaped([reserve.count])
        let gates = try flat.slice(0..<(t * b * gh)).reshaped([t, b, gh])
        guard s.cell.extraReserveWidth > 0 else { return (gates, nil) }
        let extra = try flat.slice((t * b * gh)..<(t * b * (gh + h))).reshaped([t, b, h])
        return (gates, extra)
    }

    public func recurrentForward(_ io: RecurrentForwardIO, _ w: RecurrentWeights, _ s: RecurrentLayerShape) throws {
        try io.validate(s)
        try w.validate(s, "recurrent forward")
        let (t, b, i, h, gh) = (s.sequenceLength, s.batchSize, s.inputSize, s.hiddenSize, s.gateWidth)
        let (gates, extra) = try reserveViews(io.reserve, s)      // (T, B, GH), (T, B, H)
        let output = try io.output.reshaped([t, b, h])             // (T, B, H)

        // x W_ihᵀ for all steps at once: (T·B, I) × (I, GH).
        try gemm(gates, io.input, w.weightIH, GEMMShape(m: t * b, n: gh, k: i, transB: .transposed))

        let hiddenProjection = try Tensor.empty([b, gh], on: self)  // (B, GH) h_{t-1} W_hhᵀ
        for step in 0..<t {
            let previousHidden = step == 0 ? io.initialHidden : try output.row(step - 1)
            if let previousHidden {
                try gemm(hiddenProjection, previousHidden, w.weightHH, GEMMShape(m: b, n: gh, k: h, transB: .transposed))
            } else {
                try fill(hiddenProjection, with: 0)
            }
            let hidden = try output.row(step), stepGates = try gates.row(step)
            switch s.cell {
            case .lstm:
                let previousCell = step == 0 ? io.initialCell : try extra!.row(step - 1)
                try lstmForwardStep(hidden: hidden, cell: extra!.row(step), gates: stepGates,
                                    hiddenProjection: hiddenProjection, biasIH: w.biasIH, biasHH: w.biasHH,
                                    previousCell: previousCell)
            case .gru:
                try gruForwardStep(hidden: hidden, newGateHidden: extra!.row(step), gates: stepGates,
                                   hiddenProjection: hiddenProjection, biasIH: w.biasIH, biasHH: w.biasHH,
                                   previousHidden: previousHidden)
            case .rnnTanh, .rnnRelu:
                try rnnForwardStep(hidden: hidden, gates: stepGates, hiddenProjection: hiddenProjection,
                                   biasIH: w.biasIH, biasHH: w.biasHH, activation: s.cell == .rnnTanh ? .tanh : .relu)
            }
        }
        if let finalHidden = io.finalHidden { try copy(output.row(t - 1), to: finalHidden) }
        if let finalCell = io.finalCell, let extra, s.cell == .lstm { try copy(extra.row(t - 1), to: finalCell) }
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
        let gradOutput = try io.gradOutput?.reshaped([t, b, h])

        // Pre-activation gate gradients for every step; GRU needs a second copy for the hidden side.
        let gradGatesInput = try Tensor.empty([t, b, gh], on: self)                              // (T, B, GH)
        let gradGatesHidden = s.cell == .gru ? try Tensor.empty([t, b, gh], on: self) : gradGatesInput
        let gradHidden = try Tensor.empty([b, h], on: self)                                       // (B, H) dh from t+1
        if let gradFinalHidden = io.gradFinalHidden { try copy(gradFinalHidden, to: gradHidden) } else { try fill(gradHidden, with: 0) }
        var gradCell: Tensor? = nil                                                                // (B, H) dc from t+1
        if s.cell == .lstm {
            let dc = try Tensor.empty([b, h], on: self)
            if let gradFinalCell = io.gradFinalCell { try copy(gradFinalCell, to: dc) } else { try fill(dc, with: 0) }
            gradCell = dc
        }

        for step in stride(from: t - 1, through: 0, by: -1) {
            let dy = try gradOutput?.row(step)
            let previousHidden = step == 0 ? io.initialHidden : try output.row(step - 1)
            let dGx = try gradGatesInput.row(step), dGh = try gradGatesHidden.row(step)
            switch s.cell {
            case .lstm:
                let previousCell = step == 0 ? io.initialCell : try extra!.row(step - 1)
                try lstmBackwardStep(gradGates: dGx, gradCell: gradCell!, gradHidden: gradHidden, gradOutput: dy,
                                     gates: gates.row(step), cell: extra!.row(step), previousCell: previousCell)
            case .gru:
                try gruBackwardStep(gradGatesInput: dGx, gradGatesHidden: dGh, gradHidden: gradHidden, gradOutput: dy,
                                    gates: gates.row(step), newGateHidden: extra!.row(step), previousHidden: previousHidden)
            case .rnnTanh, .rnnRelu:
                try rnnBackwardStep(gradGates: dGx, gradHidden: gradHidden, gradOutput: dy, gates: gates.row(step),
                                    activation: s.cell == .rnnTanh ? .tanh : .relu)
            }
            // dh_{t-1} (+)= dG_t W_hh: (B, GH) × (GH, H). GRU's step already wrote the direct z ⊙ dh part.
            if step > 0 || io.gradInitialHidden != nil {
                try gemm(gradHidden, dGh, w.weightHH, GEMMShape(m: b, n: h, k: gh, beta: s.cell == .gru ? 1 : 0))
            }
        }
        if let gradInitialHidden = io.gradInitialHidden { try copy(gradHidden, to: gradInitialHidden) }
        if let gradInitialCell = io.gradInitialCell, let gradCell { try copy(gradCell, to: gradInitialCell) }

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
}
