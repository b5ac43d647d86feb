// The whole-layer recurrent passes every backend shares; the per-step part (recurrentForwardSteps /
// recurrentBackwardSteps) has the default below and backends override it to fuse further:
// forward  = one input-projection GEMM over all N rows, then per step one recurrent GEMM
//            and one fused cell kernel;
// backward = per step one fused cell kernel and one GEMM for dh_{t-1}, then whole-sequence
//            GEMMs for dW_ih, dW_hh, dX and column sums for the biases (no per-step weight GEMMs).
// Rows: N = T·B, or with variable lengths the packed layout (cuDNN's): sequences sorted longest
// first, step t holding the first batchSizes[t] of them, so a step shrinks as sequences end and
// the work is proportional to the real tokens.
// The sequences of a batch are independent, so the per-step part runs on row blocks of the batch
// that the backend may process at once (`batchParallelism`, `runConcurrently`); the
// whole-sequence GEMMs stay whole.
// LSTM with projections (PyTorch's proj_size P): the cell step writes m_t = o_t ⊙ tanh(c_t) into
// the reserve and one more GEMM per step makes h_t = m_t W_hrᵀ; backward per step takes
// dh_t = dy_t + dh_{t+1} (kept for all steps), dm_t = dh_t W_hr (GEMM), the cell step from dm_t,
// and dh_{t-1} = dG_t W_hh as usual; dW_hr = dHᵀ M is one more whole-sequence GEMM.
// Forward only (`RecurrentForwardMode.inference`): the reserve keeps only the per-step
// extra/projected states in two (B, ·) slots that roll over (step t in slot t % 2, step t − 1 in
// the other), the gate pre-activations are a workspace of the pass ((N, G·H) for the input GEMM,
// or (B, G·H) when the backend's loop makes x_t W_ihᵀ step by step and reuses the rows), and the
// steps are the forward-only cell steps. A sequence that ends at step t is never written again,
// so its final c stays in slot t % 2.
// T = time steps, B = batch, N = rows, I = input size, H = hidden size, G = gates,
// P = projection size, R = width of h (P when projecting, else H).

extension Backend {
    /// One block at a time unless a backend says otherwise.
    public var batchParallelism: Int { 1 }

    /// Runs `body(0..<count)` one after another.
    public func runConcurrently(_ count: Int, _ body: @Sendable (Int) throws -> Void) throws {
        for part in 0..<count { try body(part) }
    }

    /// `c (m × n) (+)= a · op(b)` for one step: through the packed copy of op(b) when the backend
    /// made one (`packForRepeatedProducts`), else a plain GEMM.
    func stepProduct(_ c: Tensor, _ a: Tensor, _ b: Tensor, packed: PackedMatrix?, m: Int, n: Int, k: Int,
                     transB: Transpose, accumulate: Bool) throws {
        if let packed {
            try gemm(c, a, packed: packed, accumulate: accumulate)
        } else {
            try gemm(c, a, b, GEMMShape(m: m, n: n, k: k, transB: transB, beta: accumulate ? 1 : 0))
        }
    }

    public func lstmInferenceStep(hidden: Tensor, cell: Tensor, gates: Tensor, hiddenProjection: Tensor,
                                  biasIH: Tensor, biasHH: Tensor, previousCell: Tensor?) throws {
        try lstmForwardStep(hidden: hidden, cell: cell, gates: gates, hiddenProjection: hiddenProjection,
                            biasIH: biasIH, biasHH: biasHH, previousCell: previousCell)
    }

    public func gruInferenceStep(hidden: Tensor, newGateHidden: Tensor, gates: Tensor, hiddenProjection: Tensor,
                                 biasIH: Tensor, biasHH: Tensor, previousHidden: Tensor?) throws {
        try gruForwardStep(hidden: hidden, newGateHidden: newGateHidden, gates: gates, hiddenProjection: hiddenProjection,
                           biasIH: biasIH, biasHH: biasHH, previousHidden: previousHidden)
    }

    public func rnnInferenceStep(hidden: Tensor, gates: Tensor, hiddenProjection: Tensor,
                                 biasIH: Tensor, biasHH: Tensor, activation: Activation) throws {
        try rnnForwardStep(hidden: hidden, gates: gates, hiddenProjection: hiddenProjection,
                           biasIH: biasIH, biasHH: biasHH, activation: activation)
    }

    /// Views of the reserve buffer: post-activation gates (N, G·H), the extra state (N, H) and,
    /// when projecting, m_t = o_t ⊙ tanh(c_t) (N, H). Forward only, the reserve has no gates
    /// (`gateRows` of them are made as a workspace) and the last two are (2B, H): two rolling slots.
    func reserveViews(_ reserve: Tensor, _ s: RecurrentLayerShape, _ mode: RecurrentForwardMode = .training,
                      gateRows: Int? = nil) throws -> (gates: Tensor, extra: Tensor?, projected: Tensor?) {
        let (n, h, gh) = (s.rowCount, s.hiddenSize, s.gateWidth)
        let rows = mode == .training ? n : 2 * s.batchSize                  // rows of extra and projected
        let flat = try reserve.reshaped([reserve.count])
        let start = mode == .training ? n * gh : 0                          // where the states start
        let gates = mode == .training ? try flat.slice(0..<(n * gh)).reshaped([n, gh])
            : try Tensor.empty([gateRows ?? n, gh], on: self)               // (N or B, GH) workspace
        guard s.cell.extraReserveWidth > 0 else { return (gates, nil, nil) }
        let extra = try flat.slice(start..<(start + rows * h)).reshaped([rows, h])
        guard s.projectionSize != nil else { return (gates, extra, nil) }
        let projected = try flat.slice((start + rows * h)..<(start + 2 * rows * h)).reshaped([rows, h])
        return (gates, extra, projected)
    }

    /// The reserve's c̃_t of an LSTM with zoneout (N, H), forward only two rolling (B, H) slots; else nil.
    func candidateCellView(_ reserve: Tensor, _ s: RecurrentLayerShape, _ mode: RecurrentForwardMode = .training) throws -> Tensor? {
        guard s.keepsCandidateCell else { return nil }
        let (n, h) = (s.rowCount, s.hiddenSize)
        let rows = mode == .training ? n : 2 * s.batchSize
        let start = (mode == .training ? n * s.gateWidth : 0) + rows * h * (s.projectionSize == nil ? 1 : 2)
        return try reserve.reshaped([reserve.count]).slice(start..<(start + rows * h)).reshaped([rows, h])
    }

    /// Zoneout in place: x ← x + d ⊙ (previous − x) (previous nil: zero), through `scratch` (x's size).
    public func zoneoutBlend(_ x: Tensor, previous: Tensor?, factors d: Tensor, scratch: Tensor) throws {
        if let previous {
            try copy(previous, to: scratch)
            try axpy(scratch, alpha: -1, x)
            try multiply(scratch, scratch, d)
            try axpy(x, alpha: 1, scratch)
        } else {
            try multiply(scratch, x, d)
            try axpy(x, alpha: -1, scratch)
        }
    }

    /// Zoneout's backward split: gradient (+= extra), direct = d ⊙ gradient, gradient −= direct.
    public func zoneoutSplit(_ gradient: Tensor, adding extra: Tensor?, factors d: Tensor, direct: Tensor) throws {
        if let extra { try axpy(gradient, alpha: 1, extra) }
        try multiply(direct, gradient, d)
        try axpy(gradient, alpha: -1, direct)
    }

    /// Rows `rows` of a (B, width) state given as any tensor of B·width elements.
    func stateRows(_ state: Tensor?, _ s: RecurrentLayerShape, _ rows: Range<Int>, width: Int) throws -> Tensor? {
        try state.map { try stateRows($0, s, rows, width: width) }
    }

    /// Rows `rows` of a (B, width) state that is there.
    func stateRows(_ state: Tensor, _ s: RecurrentLayerShape, _ rows: Range<Int>, width: Int) throws -> Tensor {
        try state.reshaped([s.batchSize, width]).slice(rows)
    }

    /// Rows `rows` (batch positions) of step `step` of an (N, ·) tensor.
    func stepRows(_ x: Tensor, _ offsets: [Int], _ step: Int, _ rows: Range<Int>) throws -> Tensor {
        try x.slice((offsets[step] + rows.lowerBound)..<(offsets[step] + rows.upperBound))
    }

    /// Contiguous row blocks of the batch, at least 8 rows each, at most `batchParallelism`; in a
    /// packed batch the blocks hold about equal numbers of tokens (the first rows are the longest).
    public func batchBlocks(_ s: RecurrentLayerShape) -> [Range<Int>] { batchBlocks(s, parts: batchParallelism) }

    /// `batchBlocks(_:)` with at most `wanted` blocks instead of `batchParallelism`.
    public func batchBlocks(_ s: RecurrentLayerShape, parts wanted: Int) -> [Range<Int>] {
        let b = s.batchSize
        let parts = max(1, min(wanted, b / 8))
        guard parts > 1, let sizes = s.batchSizes, s.isPacked else {
            return (0..<parts).map { (b * $0 / parts)..<(b * ($0 + 1) / parts) }
        }
        // tokens[r]: steps sequence r runs for.
        var tokens = [Int](repeating: 0, count: b)
        for size in sizes { for r in 0..<size { tokens[r] += 1 } }
        let total = tokens.reduce(0, +)
        var blocks: [Range<Int>] = [], start = 0, sum = 0
        for r in 0..<b {
            sum += tokens[r]
            let wanted = blocks.count + 1
            if wanted < parts, r + 1 - start >= 8, b - (r + 1) >= 8 * (parts - wanted), sum * parts >= total * wanted {
                blocks.append(start..<(r + 1))
                start = r + 1
            }
        }
        blocks.append(start..<b)
        return blocks
    }

    public func recurrentForward(_ io: RecurrentForwardIO, _ w: RecurrentWeights, _ s: RecurrentLayerShape) throws {
        try io.validate(s)
        try w.validate(s, "recurrent forward")
        if s.layerNorm { return try layerNormRecurrentForward(io, w, s) }
        let (t, n, i, h, r, gh) = (s.sequenceLength, s.rowCount, s.inputSize, s.hiddenSize, s.outputSize, s.gateWidth)
        // Forward only, a loop that makes x_t W_ihᵀ itself reuses one (B, GH) block of gates for every step.
        let inputProjected = !projectsInputInTimeLoop(io, s)
        let (gates, extra, projected) = try reserveViews(io.reserve, s, io.mode, gateRows: inputProjected ? n : s.batchSize)   // (N or B, GH), (N or 2B, H) ×2
        let output = try io.output.reshaped([n, r])                        // (N, R)
        let offsets = s.stepOffsets
        var loop = RecurrentForwardLoop(io: io, weights: w, shape: s, gates: gates, extra: extra, projected: projected,
                                        output: output)
        loop.candidateCell = try candidateCellView(io.reserve, s, io.mode)
        loop.inputProjected = inputProjected

        // x W_ihᵀ for all steps at once: (N, I) × (I, GH), unless the time loop makes it step by step.
        if loop.inputProjected {
            try gemm(gates, io.input, w.weightIH, GEMMShape(m: n, n: gh, k: i, transB: .transposed))
        }
        try recurrentForwardSteps(loop)
        // Each sequence's final state is at its own last step.
        for step in 0..<t {
            let ending = (step + 1 < t ? s.rows(atStep: step + 1) : 0)..<s.rows(atStep: step)
            guard !ending.isEmpty else { continue }
            if let finalHidden = io.finalHidden {
                try copy(stepRows(output, offsets, step, ending), to: stateRows(finalHidden, s, ending, width: r))
            }
            if let finalCell = io.finalCell, let extra, s.cell == .lstm {
                try copy(loop.stepState(extra, step: step, ending), to: stateRows(finalCell, s, ending, width: h))
            }
        }
    }

    /// The input projection stays one whole-sequence GEMM unless a backend says otherwise.
    public func projectsInputInTimeLoop(_ io: RecurrentForwardIO, _ shape: RecurrentLayerShape) -> Bool { false }

    /// The default forward time loop (`perStepRecurrentForwardSteps`).
    public func recurrentForwardSteps(_ loop: RecurrentForwardLoop) throws {
        try perStepRecurrentForwardSteps(loop)
    }

    /// The bias gradients stay whole-sequence column sums unless a backend says otherwise.
    public func accumulatesBiasGradientsInTimeLoop(_ io: RecurrentBackwardIO, _ shape: RecurrentLayerShape) -> Bool { false }

    /// The default backward time loop (`perStepRecurrentBackwardSteps`).
    public func recurrentBackwardSteps(_ loop: RecurrentBackwardLoop) throws {
        try perStepRecurrentBackwardSteps(loop)
    }

    /// The per-step forward time loop, also for backends that override `recurrentForwardSteps` and
    /// fall back to it: W_hh (and W_hr) packed once for the sequence where the backend can, then row
    /// blocks of the batch (`batchBlocks`) each run every step, one `gemm` and one fused cell step
    /// per step.
    public func perStepRecurrentForwardSteps(_ loop: RecurrentForwardLoop) throws {
        let (w, s) = (loop.weights, loop.shape)
        let (h, r) = (s.hiddenSize, s.outputSize)
        var projectedLoop = loop
        if !loop.inputProjected {
            // A backend that falls back here after all: x W_ihᵀ for all steps first, (N, I) × (I, GH)
            // (forward only, into gates of all N rows: the loop made only (B, GH) of them).
            if loop.gates.count < s.rowCount * s.gateWidth { projectedLoop.gates = try Tensor.empty([s.rowCount, s.gateWidth], on: self) }
            try gemm(projectedLoop.gates, loop.io.input, w.weightIH, GEMMShape(m: s.rowCount, n: s.gateWidth, k: s.inputSize, transB: .transposed))
        }
        let loop = projectedLoop
        // The weights every step multiplies by, packed once for the whole sequence where the backend can.
        // A reset-before GRU multiplies h̄ by W_{hr,hz} (2H, R) and r ⊙ h̄ by W_hn (H, R) apart.
        let packed = StepWeights(
            hh: try packForRepeatedProducts(stepWeightHH(w, s), k: r, n: s.stepProductWidth, transB: .transposed),
            hr: try w.weightHR.flatMap { try packForRepeatedProducts($0, k: h, n: r, transB: .transposed) },
            hn: s.resetBefore ? try packForRepeatedProducts(newGateWeights(w, s), k: r, n: h, transB: .transposed) : nil)
        let blocks = batchBlocks(s)
        try runConcurrently(blocks.count) { part in
            try self.forwardSteps(rows: blocks[part], loop, packed: packed)
        }
    }

    /// The per-step backward time loop, the mirror of `perStepRecurrentForwardSteps`: per step one
    /// fused cell step and one `gemm` for dh_{t-1}, on row blocks of the batch.
    public func perStepRecurrentBackwardSteps(_ loop: RecurrentBackwardLoop) throws {
        let (w, s) = (loop.weights, loop.shape)
        let (h, r, gh) = (s.hiddenSize, s.outputSize, s.gateWidth)
        // Backward multiplies by W_hh and W_hr as stored: (GH, R) and (P, H). A reset-before GRU reads
        // its gate gradients in place, with plain products (Backend+ResetBeforeGRU.swift).
        let packed = StepWeights(
            hh: s.resetBefore ? nil : try packForRepeatedProducts(w.weightHH, k: gh, n: r, transB: .none),
            hr: try w.weightHR.flatMap { try packForRepeatedProducts($0, k: r, n: h, transB: .none) })
        let blocks = batchBlocks(s)
        try runConcurrently(blocks.count) { part in
            try self.backwardSteps(rows: blocks[part], loop, packed: packed)
        }
    }

    /// The time loop of the forward pass for batch rows `rows`.
    private func forwardSteps(rows: Range<Int>, _ loop: RecurrentForwardLoop, packed: StepWeights) throws {
        let (io, w, s, gates, extra, projected, output) = (loop.io, loop.weights, loop.shape, loop.gates, loop.extra,
                                                           loop.projected, loop.output)
        let (t, h, r, gh) = (s.sequenceLength, s.hiddenSize, s.outputSize, s.gateWidth)
        let offsets = s.stepOffsets
        let inference = io.mode == .inference
        let productWidth = s.stepProductWidth, productWeights = try stepWeightHH(w, s)
        let projection = try Tensor.empty([rows.count * gh], on: self)  // (b, GH) h_{t-1} W_hhᵀ (reset before: (b, 2H))
        let maskedRows = try io.hiddenMask.map { _ in try Tensor.empty([rows.count, r], on: self) }  // (b, R) h_{t-1} ⊙ mask
        let zoneScratch = try io.zoneout.map { _ in try Tensor.empty([rows.count * max(r, h)], on: self) }  // (b, max(R, H))
        let kept = try CellStepState(extra, s)
        for step in 0..<t {
            // The rows of this block whose sequences are still running (all of them unless packed).
            let end = min(rows.upperBound, s.rows(atStep: step))
            if end <= rows.lowerBound { break }
            let active = rows.lowerBound..<end
            let hiddenProjection = try projection.slice(0..<(active.count * productWidth)).reshaped([active.count, productWidth])
            let previousHidden = step == 0
                ? try stateRows(io.initialHidden, s, active, width: r) : try stepRows(output, offsets, step - 1, active)
            // With recurrent dropout the product reads h_{t-1} ⊙ mask; the cell keeps h_{t-1} itself.
            var productInput = previousHidden
            if let previousHidden, let mask = io.hiddenMask, let maskedRows {
                productInput = try maskedRows.slice(0..<active.count)
                try multiply(productInput!, previousHidden, stateRows(mask, s, active, width: r))
            }
            if let productInput {
                try stepProduct(hiddenProjection, productInput, productWeights, packed: packed.hh, m: active.count,
                                n: productWidth, k: r, transB: .transposed, accumulate: false)
            } else {
                try fill(hiddenProjection, with: 0)
            }
            let hidden = try stepRows(output, offsets, step, active), stepGates = try stepRows(gates, offsets, step, active)
            switch kept {
            case .lstm(let cells):
                let previousCell = step == 0
                    ? try stateRows(io.initialCell, s, active, width: h) : try loop.stepState(cells, step: step - 1, active)
                // With a projection the cell step's h is m_t (kept in the reserve) and h_t = m_t W_hrᵀ: (b, H) × (H, P).
                let cellOutput = try projected.map { try loop.stepState($0, step: step, active) } ?? hidden
                let cell = try loop.stepState(cells, step: step, active)
                // With zoneout the cell step writes c̃_t, and c_t = c̃_t + d ⊙ (c_{t-1} − c̃_t) follows.
                let candidate = try loop.candidateCell.map { try loop.stepState($0, step: step, active) }
                if inference {
                    try lstmInferenceStep(hidden: cellOutput, cell: candidate ?? cell, gates: stepGates,
                                          hiddenProjection: hiddenProjection, biasIH: w.biasIH, biasHH: w.biasHH,
                                          previousCell: previousCell)
                } else {
                    try lstmForwardStep(hidden: cellOutput, cell: candidate ?? cell, gates: stepGates,
                                        hiddenProjection: hiddenProjection, biasIH: w.biasIH, biasHH: w.biasHH,
                                        previousCell: previousCell)
                }
                if let candidate, let factors = io.zoneout?.cell, let zoneScratch {
                    try copy(candidate, to: cell)
                    try zoneoutBlend(cell, previous: previousCell, factors: stepRows(factors, offsets, step, active),
                                     scratch: zoneScratch.slice(0..<(active.count * h)).reshaped([active.count, h]))
                }
                if let weightHR = w.weightHR, projected != nil {
                    try stepProduct(hidden, cellOutput, weightHR, packed: packed.hr, m: active.count, n: r, k: h,
                                    transB: .transposed, accumulate: false)
                }
            case .gru(let newGateHiddens):
                let newGateHidden = try loop.stepState(newGateHiddens, step: step, active)
                if inference {
                    try gruInferenceStep(hidden: hidden, newGateHidden: newGateHidden, gates: stepGates,
                                         hiddenProjection: hiddenProjection, biasIH: w.biasIH, biasHH: w.biasHH,
                                         previousHidden: previousHidden)
                } else {
                    try gruForwardStep(hidden: hidden, newGateHidden: newGateHidden, gates: stepGates,
                                       hiddenProjection: hiddenProjection, biasIH: w.biasIH, biasHH: w.biasHH,
                                       previousHidden: previousHidden)
                }
            case .gruResetBefore(let resetHiddens):
                try resetBeforeForwardStep(hidden: hidden, resetHidden: loop.stepState(resetHiddens, step: step, active),
                                           gates: stepGates, hiddenProjection: hiddenProjection, productHidden: productInput,
                                           previousHidden: previousHidden, w, packedNewGate: packed.hn)
            case .rnn(let activation):
                if inference {
                    try rnnInferenceStep(hidden: hidden, gates: stepGates, hiddenProjection: hiddenProjection,
                                         biasIH: w.biasIH, biasHH: w.biasHH, activation: activation)
                } else {
                    try rnnForwardStep(hidden: hidden, gates: stepGates, hiddenProjection: hiddenProjection,
                                       biasIH: w.biasIH, biasHH: w.biasHH, activation: activation)
                }
            }
            // Zoneout: h_t = h̃_t + d ⊙ (h_{t-1} − h̃_t), in place in the output.
            if let factors = io.zoneout?.hidden, let zoneScratch {
                try zoneoutBlend(hidden, previous: previousHidden, factors: stepRows(factors, offsets, step, active),
                                 scratch: zoneScratch.slice(0..<(active.count * r)).reshaped([active.count, r]))
            }
        }
    }

    public func recurrentBackward(_ io: RecurrentBackwardIO, _ w: RecurrentWeights, _ g: RecurrentWeights,
                                  _ s: RecurrentLayerShape) throws {
        try io.validate(s)
        try w.validate(s, "recurrent backward")
        try g.validate(s, "recurrent backward gradient")
        if s.layerNorm { return try layerNormRecurrentBackward(io, w, g, s) }
        let (t, n, b, i, h, r, gh) = (s.sequenceLength, s.rowCount, s.batchSize, s.inputSize, s.hiddenSize, s.outputSize, s.gateWidth)
        let (gates, extra, projected) = try reserveViews(io.reserve, s)   // (N, GH), (N, H), (N, H)
        let input = try io.input.reshaped([n, i])
        let output = try io.output.reshaped([n, r])

        // Pre-activation gate gradients for every step; GRU needs a second copy for the hidden side.
        let gradGatesInput = try Tensor.empty([n, gh], on: self)                                 // (N, GH)
        let gradGatesHidden = s.cell == .gru && !s.resetBefore ? try Tensor.empty([n, gh], on: self) : gradGatesInput
        // With a projection, dh_t = dy_t + dh_{t+1} of every step, for dW_hr.
        let gradOutputs = projected != nil ? try Tensor.empty([n, r], on: self) : nil             // (N, P)
        var loop = RecurrentBackwardLoop(
            io: io, weights: w, shape: s, gates: gates, extra: extra, projected: projected, output: output,
            gradGatesInput: gradGatesInput, gradGatesHidden: gradGatesHidden, gradOutputs: gradOutputs,
            candidateCell: try candidateCellView(io.reserve, s))
        let biasesInLoop = accumulatesBiasGradientsInTimeLoop(io, s)
        if biasesInLoop { loop.biasGradients = g }
        try recurrentBackwardSteps(loop)

        // Whole-sequence weight gradients.
        // dW_ih += dGxᵀ X: (GH, N) × (N, I)
        try gemm(g.weightIH, gradGatesInput, input, GEMMShape(m: gh, n: i, k: n, transA: .transposed, beta: 1))
        // dW_hr += dHᵀ M: (P, N) × (N, H)
        if let projected, let gradOutputs, let gradWeightHR = g.weightHR {
            try gemm(gradWeightHR, gradOutputs, projected, GEMMShape(m: r, n: h, k: n, transA: .transposed, beta: 1))
        }
        // dW_hh += Σ_t dGh_tᵀ h_{t-1} (h_{t-1} ⊙ mask with recurrent dropout).
        if s.isPacked || io.hiddenMask != nil {
            let previous = try productInputs(io, output, s)                                     // (N, R) h̄_{t-1}
            try gemm(g.weightHH, gradGatesHidden, previous,
                     GEMMShape(m: s.stepProductWidth, n: r, k: n, transA: .transposed, beta: 1, lda: gh))
        } else {
            // Steps 1..<T against outputs 0..<T-1, then step 0 against h_0.
            if t > 1 {
                try gemm(g.weightHH, gradGatesHidden.slice(b..<n), output.slice(0..<(n - b)),
                         GEMMShape(m: s.stepProductWidth, n: r, k: n - b, transA: .transposed, beta: 1, lda: gh))
            }
            if let h0 = io.initialHidden {
                try gemm(g.weightHH, gradGatesHidden.slice(0..<b), h0,
                         GEMMShape(m: s.stepProductWidth, n: r, k: b, transA: .transposed, beta: 1, lda: gh))
            }
        }
        if s.resetBefore, let extra { try addNewGateWeightGradient(g, gradGates: gradGatesHidden, resetHiddens: extra, s) }
        if !biasesInLoop { try addBiasGradients(loop, g) }
        // dX = dGx W_ih: (N, GH) × (GH, I)
        if let gradInput = io.gradInput {
            try gemm(gradInput, gradGatesInput, w.weightIH, GEMMShape(m: n, n: i, k: gh))
        }
    }

    /// db_ih and db_hh += the column sums of the gate gradients over the whole sequence (GRU: each
    /// side's own), after the loop wrote them. Also for a backend whose loop was to add them
    /// (`biasGradients`) but fell back to the per-step loop.
    public func addBiasGradients(_ loop: RecurrentBackwardLoop, _ g: RecurrentWeights) throws {
        if loop.shape.cell == .gru {
            try sumColumns(g.biasIH, loop.gradGatesInput, accumulate: true)
            try sumColumns(g.biasHH, loop.gradGatesHidden, accumulate: true)
        } else {
            // Both biases get the same column sums of dG: one pass over (N, GH), added to both.
            let sums = try Tensor.empty([loop.shape.gateWidth], on: self)                       // (GH)
            try sumColumns(sums, loop.gradGatesInput, accumulate: false)
            try axpy(g.biasIH, alpha: 1, sums)
            try axpy(g.biasHH, alpha: 1, sums)
        }
    }

    /// The time loop of the backward pass for batch rows `rows`: gate gradients of every step and
    /// the gradients of the initial states.
    private func backwardSteps(rows: Range<Int>, _ loop: RecurrentBackwardLoop, packed: StepWeights) throws {
        let (io, w, s, gates, extra, projected, output) = (loop.io, loop.weights, loop.shape, loop.gates, loop.extra,
                                                           loop.projected, loop.output)
        let (gradGatesInput, gradGatesHidden, gradOutputs) = (loop.gradGatesInput, loop.gradGatesHidden, loop.gradOutputs)
        let (t, h, r, gh) = (s.sequenceLength, s.hiddenSize, s.outputSize, s.gateWidth)
        let offsets = s.stepOffsets
        let gradOutput = try io.gradOutput?.reshaped([s.rowCount, r])
        let gradHiddenRows = try Tensor.empty([rows.count, r], on: self)                          // (b, R) dh from t+1
        // LSTM: the cell states and the (b, H) dc carried from step t+1, together.
        let carried: (cells: Tensor, gradCellRows: Tensor)?
        let kept = try CellStepState(extra, s)
        if case .lstm(let cells) = kept { carried = (cells, try Tensor.empty([rows.count, h], on: self)) } else { carried = nil }
        let gradCellRows = carried?.gradCellRows
        let gradProjectedRows = projected != nil ? try Tensor.empty([rows.count, h], on: self) : nil  // (b, H) dm_t
        let maskedGradRows = try io.hiddenMask.map { _ in try Tensor.empty([rows.count, r], on: self) }  // (b, R) dG_t W_hh
        let gradResetRows = s.resetBefore ? try Tensor.empty([rows.count, h], on: self) : nil    // (b, H) d(r ⊙ h̄), then dh̄
        // Zoneout: d ⊙ dh_t (b, R) and d_c ⊙ dc_t (b, H), the parts that go to step t−1 directly.
        let zonedRows = try io.zoneout.map { _ in try Tensor.empty([rows.count, r], on: self) }
        let zonedCellRows = try io.zoneout?.cell.map { _ in try Tensor.empty([rows.count, h], on: self) }
        for step in stride(from: t - 1, through: 0, by: -1) {
            let end = min(rows.upperBound, s.rows(atStep: step))
            if end <= rows.lowerBound { continue }
            let active = rows.lowerBound..<end
            let local = 0..<active.count
            // Sequences whose last step this is start from the gradients of their final states.
            let later = step + 1 < t ? s.rows(atStep: step + 1) : 0
            let firstStarting = max(rows.lowerBound, later)
            if firstStarting < active.upperBound {
                let starting = firstStarting..<active.upperBound
                let localStarting = (starting.lowerBound - rows.lowerBound)..<(starting.upperBound - rows.lowerBound)
                if let gradFinalHidden = io.gradFinalHidden {
                    try copy(stateRows(gradFinalHidden, s, starting, width: r), to: gradHiddenRows.slice(localStarting))
                } else {
                    try fill(gradHiddenRows.slice(localStarting), with: 0)
                }
                if let gradCellRows {
                    if let gradFinalCell = io.gradFinalCell {
                        try copy(stateRows(gradFinalCell, s, starting, width: h), to: gradCellRows.slice(localStarting))
                    } else {
                        try fill(gradCellRows.slice(localStarting), with: 0)
                    }
                }
            }
            let gradHidden = try gradHiddenRows.slice(local)
            var dy = try gradOutput.map { try stepRows($0, offsets, step, active) }
            // Zoneout: dh_t = dy_t + dh_{t+1} whole; d ⊙ dh_t goes to h_{t-1}, dh̃_t = dh_t − d ⊙ dh_t to the cell.
            var zoned: Tensor? = nil
            if let factors = io.zoneout?.hidden, let zonedRows {
                let z = try zonedRows.slice(local)
                try zoneoutSplit(gradHidden, adding: dy, factors: stepRows(factors, offsets, step, active), direct: z)
                dy = nil
                zoned = z
            }
            let previousHidden = step == 0
                ? try stateRows(io.initialHidden, s, active, width: r) : try stepRows(output, offsets, step - 1, active)
            let dGx = try stepRows(gradGatesInput, offsets, step, active), dGh = try stepRows(gradGatesHidden, offsets, step, active)
            let stepGates = try stepRows(gates, offsets, step, active)
            switch (kept, carried) {
            case (.lstm, let (cells, gradCellRows)?):
                let gradCell = try gradCellRows.slice(local)
                let previousCell = step == 0
                    ? try stateRows(io.initialCell, s, active, width: h) : try stepRows(cells, offsets, step - 1, active)
                // tanh reads c̃_t: c_t itself unless zoneout kept c̃_t apart.
                let cell = try stepRows(loop.candidateCell ?? cells, offsets, step, active)
                // Cell zoneout: d_c ⊙ dc_t goes to c_{t-1} directly, dc_t − d_c ⊙ dc_t through the cell.
                let zonedCell = try zonedCellRows.map { try $0.slice(local) }
                if let zonedCell, let factors = io.zoneout?.cell {
                    try zoneoutSplit(gradCell, adding: nil, factors: stepRows(factors, offsets, step, active), direct: zonedCell)
                }
                if let gradOutputs, let gradProjectedRows, let weightHR = w.weightHR {
                    // dh_t = dy_t + dh_{t+1} (b, P), kept for dW_hr; dm_t = dh_t W_hr: (b, P) × (P, H).
                    let gradStep = try stepRows(gradOutputs, offsets, step, active)
                    try copy(gradHidden, to: gradStep)
                    if let dy { try axpy(gradStep, alpha: 1, dy) }
                    let gradProjected = try gradProjectedRows.slice(local)
                    try stepProduct(gradProjected, gradStep, weightHR, packed: packed.hr, m: active.count, n: h, k: r,
                                    transB: .none, accumulate: false)
                    try lstmBackwardStep(gradGates: dGx, gradCell: gradCell, gradHidden: gradProjected,
                                         gradOutput: nil, gates: stepGates, cell: cell, previousCell: previousCell)
                } else {
                    try lstmBackwardStep(gradGates: dGx, gradCell: gradCell, gradHidden: gradHidden, gradOutput: dy,
                                         gates: stepGates, cell: cell, previousCell: previousCell)
                }
                if let zonedCell { try axpy(gradCell, alpha: 1, zonedCell) }   // dc_{t-1} = f ⊙ dc̃_t + d_c ⊙ dc_t
            case (.lstm, nil):
                throw RecurrentError.invalidState("lstm backward: no cell-gradient rows")   // unreachable: made together above
            case (.gru(let newGateHiddens), _):
                try gruBackwardStep(gradGatesInput: dGx, gradGatesHidden: dGh, gradHidden: gradHidden, gradOutput: dy,
                                    gates: stepGates, newGateHidden: stepRows(newGateHiddens, offsets, step, active),
                                    previousHidden: previousHidden)
            case (.gruResetBefore, _):
                // h̄, what the products read: h_{t-1}, or h_{t-1} ⊙ mask (in the masked-rows scratch).
                var productHidden = previousHidden
                if let previousHidden, let mask = io.hiddenMask, let maskedGradRows {
                    productHidden = try maskedGradRows.slice(local)
                    try multiply(productHidden!, previousHidden, stateRows(mask, s, active, width: r))
                }
                if let gradResetRows {
                    try resetBeforeBackwardStep(gradGates: dGx, gradHidden: gradHidden, gradOutput: dy, gates: stepGates,
                                                previousHidden: previousHidden, productHidden: productHidden,
                                                gradProductHidden: gradResetRows.slice(local), w, s)
                }
            case (.rnn(let activation), _):
                try rnnBackwardStep(gradGates: dGx, gradHidden: gradHidden, gradOutput: dy, gates: stepGates,
                                    activation: activation)
            }
            // dh_{t-1} (+)= dG_t W_hh: (b, GH) × (GH, R). GRU's step already wrote the direct z ⊙ dh part;
            // zoneout's d ⊙ dh_t is direct too.
            let direct = s.cell == .gru || zoned != nil
            if let zoned {
                if s.cell == .gru { try axpy(gradHidden, alpha: 1, zoned) } else { try copy(zoned, to: gradHidden) }
            }
            if let gradResetRows {
                // Reset before: dh_{t-1} = z ⊙ dh (+ zoneout's part) + dh̄ (⊙ mask), dh̄ from the step above.
                let product = try gradResetRows.slice(local)
                if let mask = io.hiddenMask { try multiply(product, product, stateRows(mask, s, active, width: r)) }
                try axpy(gradHidden, alpha: 1, product)
            } else if step > 0 || io.gradInitialHidden != nil {
                if let mask = io.hiddenMask, let maskedGradRows {
                    // Recurrent dropout: the product's part meets the mask, GRU's direct part does not.
                    let product = try maskedGradRows.slice(local)
                    try stepProduct(product, dGh, w.weightHH, packed: packed.hh, m: active.count, n: r, k: gh,
                                    transB: .none, accumulate: false)
                    try multiply(product, product, stateRows(mask, s, active, width: r))
                    if direct { try axpy(gradHidden, alpha: 1, product) } else { try copy(product, to: gradHidden) }
                } else {
                    try stepProduct(gradHidden, dGh, w.weightHH, packed: packed.hh, m: active.count, n: r, k: gh,
                                    transB: .none, accumulate: direct)
                }
            }
        }
        if let gradInitialHidden = io.gradInitialHidden {
            try copy(gradHiddenRows, to: stateRows(gradInitialHidden, s, rows, width: r))
        }
        if let gradInitialCell = io.gradInitialCell, let gradCellRows {
            try copy(gradCellRows, to: stateRows(gradInitialCell, s, rows, width: h))
        }
    }
}

extension Backend {
    /// What every step's recurrent product read, (N, R): step t's rows are the first batchSizes[t] rows
    /// of step t−1's output (h_0, or zeros, for step 0), ⊙ the recurrent dropout mask where there is
    /// one; gathered so that a single GEMM gives dW_hh for every step. Without variable lengths that
    /// is a few whole-tensor ops (the outputs shifted by one step, the mask tiled over the steps)
    /// rather than two per step.
    func productInputs(_ io: RecurrentBackwardIO, _ output: Tensor, _ s: RecurrentLayerShape) throws -> Tensor {
        let (t, n, b, r, offsets) = (s.sequenceLength, s.rowCount, s.batchSize, s.outputSize, s.stepOffsets)
        let previous = try Tensor.empty([n, r], on: self)                                        // (N, R)
        if let h0 = io.initialHidden {
            try copy(h0.reshaped([b, r]), to: previous.slice(0..<b))
        } else {
            try fill(previous.slice(0..<b), with: 0)
        }
        let uniform = !s.isPacked && t > 1
        if uniform {
            try copy(output.slice(0..<(n - b)), to: previous.slice(b..<n))    // steps 1..<T read outputs 0..<T−1
        } else {
            for step in 1..<max(t, 1) {
                let active = 0..<s.rows(atStep: step)
                try copy(stepRows(output, offsets, step - 1, active), to: stepRows(previous, offsets, step, active))
            }
        }
        guard let mask = io.hiddenMask else { return previous }
        if uniform {
            // The (B, R) mask tiled over up to 8 steps by doubling (at most 3 copies), then one product
            // per 8 steps.
            let span = min(t, 8) * b
            let tiled = try Tensor.empty([span, r], on: self)                                    // (8B, R)
            try copy(mask.reshaped([b, r]), to: tiled.slice(0..<b))
            var filled = b
            while filled < span {
                let count = min(filled, span - filled)
                try copy(tiled.slice(0..<count), to: tiled.slice(filled..<(filled + count)))
                filled += count
            }
            for start in stride(from: 0, to: n, by: span) {
                let rows = try previous.slice(start..<min(n, start + span))
                try multiply(rows, rows, tiled.slice(0..<rows.shape[0]))
            }
        } else {
            for step in 0..<t {
                let active = 0..<s.rows(atStep: step), rows = try stepRows(previous, offsets, step, active)
                try multiply(rows, rows, stateRows(mask, s, active, width: r))
            }
        }
        return previous
    }
}

/// The per-step weights of a time loop in the backend's packed layout (nil: plain GEMMs).
struct StepWeights: Sendable {
    /// W_hh (forward: as op(B) = W_hhᵀ; backward: as stored).
    var hh: PackedMatrix?
    /// W_hr of an LSTM projection, likewise.
    var hr: PackedMatrix?
    /// W_hn (H, R) of a reset-before GRU, forward (as op(B) = W_hnᵀ); else nil.
    var hn: PackedMatrix? = nil
}

/// What the forward time loop works on (`Backend.recurrentForwardSteps`). On entry `gates` holds
/// x_t W_ihᵀ for every row; the loop adds the recurrent products and biases, applies the cells and
/// writes every step's h into `output` and what backward reads into `gates`, `extra` and `projected`.
public struct RecurrentForwardLoop: Sendable {
    /// The layer's tensors, as `recurrentForward` got them (already validated).
    public var io: RecurrentForwardIO
    public var weights: RecurrentWeights
    public var shape: RecurrentLayerShape
    /// (N, G·H) views of the reserve: x_t W_ihᵀ on entry (unless `inputProjected` is false: then
    /// nothing, and the loop makes it), post-activation gates on return. Forward only a workspace
    /// of the pass: (N, G·H), or (B, G·H) when `inputProjected` is false (the loop reuses those rows
    /// for every step).
    public var gates: Tensor
    /// Whether `gates` holds x_t W_ihᵀ on entry: false when the backend's
    /// `projectsInputInTimeLoop` took the input projection into its time loop.
    public var inputProjected = true
    /// (N, H) c_t for LSTM, W_hn h_{t-1} + b_hn for GRU; nil for RNN.
    public var extra: Tensor?
    /// (N, H) m_t = o_t ⊙ tanh(c_t) of an LSTM with projections; else nil.
    public var projected: Tensor?
    /// (N, R) h_t of every step (the layer's output).
    public var output: Tensor
    /// Where each step's rows start (`shape.stepOffsets`, T + 1 entries).
    public let stepOffsets: [Int]
    /// (N, H) c̃_t of an LSTM with zoneout, the cell state before zoneout (rolling slots forward only); else nil.
    public var candidateCell: Tensor?

    init(io: RecurrentForwardIO, weights: RecurrentWeights, shape: RecurrentLayerShape, gates: Tensor, extra: Tensor?,
         projected: Tensor?, output: Tensor) {
        self.io = io; self.weights = weights; self.shape = shape
        self.gates = gates; self.extra = extra; self.projected = projected; self.output = output
        self.stepOffsets = shape.stepOffsets
    }

    /// Whether backward will read the reserve (`.training`) or the pass is forward only: then
    /// `extra` and `projected` are two (B, H) slots that roll over, read through `stepState`, and
    /// the cell steps are the forward-only ones (`lstmInferenceStep`, ...).
    public var mode: RecurrentForwardMode { io.mode }

    /// Batch rows `rows` of step `step` of `extra` or `projected`: the step's own rows of (N, H)
    /// in training; forward only, rows of slot `step % 2` of the (2B, H) rolling slots.
    public func stepState(_ states: Tensor, step: Int, _ rows: Range<Int>) throws -> Tensor {
        let start: Int
        switch io.mode {
        case .training: start = stepOffsets[step]
        case .inference: start = (step % 2) * shape.batchSize
        }
        return try states.slice((start + rows.lowerBound)..<(start + rows.upperBound))
    }
}

/// What the backward time loop works on (`Backend.recurrentBackwardSteps`): the forward tensors, and
/// the per-step gate gradients it writes for the whole-sequence GEMMs that follow it.
public struct RecurrentBackwardLoop: Sendable {
    /// The layer's tensors, as `recurrentBackward` got them (already validated).
    public var io: RecurrentBackwardIO
    public var weights: RecurrentWeights
    public var shape: RecurrentLayerShape
    /// Reserve views as in `RecurrentForwardLoop`, and the forward output (N, R).
    public var gates: Tensor
    public var extra: Tensor?
    public var projected: Tensor?
    public var output: Tensor
    /// (N, G·H) written: pre-activation gate gradients of the input side.
    public var gradGatesInput: Tensor
    /// (N, G·H) written: those of the hidden side (the same tensor as `gradGatesInput` except for GRU,
    /// whose reset gate scales only the hidden side).
    public var gradGatesHidden: Tensor
    /// (N, P) written with a projection: dh_t = dy_t + dh_{t+1} of every step, for dW_hr; else nil.
    public var gradOutputs: Tensor?
    /// (N, H) c̃_t of an LSTM with zoneout (`RecurrentForwardLoop.candidateCell`); else nil.
    public var candidateCell: Tensor?
    /// The layer's parameter gradients when `accumulatesBiasGradientsInTimeLoop` said yes: the
    /// loop adds db_ih and db_hh to them (or calls `addBiasGradients`); else nil.
    public var biasGradients: RecurrentWeights? = nil
}

/// What a cell keeps per step besides h, by cell: c_t (LSTM), W_hn h_{t-1} + b_hn (GRU), nothing
/// but its nonlinearity (RNN). Made once per time loop, so the steps need no unwrapping.
enum CellStepState {
    /// c_t: (rows, H)
    case lstm(cells: Tensor)
    /// W_hn h_{t-1} + b_hn: (rows, H)
    case gru(newGateHidden: Tensor)
    /// r_t ⊙ h̄_{t-1}, the n gate's product input of a reset-before GRU: (rows, H)
    case gruResetBefore(resetHidden: Tensor)
    case rnn(Activation)

    /// The state of `s.cell` from the reserve's extra part; throws if a cell that keeps one has none.
    init(_ extra: Tensor?, _ s: RecurrentLayerShape) throws {
        switch (s.cell, extra) {
        case (.lstm, let cells?): self = .lstm(cells: cells)
        case (.gru, let state?): self = s.resetBefore ? .gruResetBefore(resetHidden: state) : .gru(newGateHidden: state)
        case (.rnnTanh, _): self = .rnn(.tanh)
        case (.rnnRelu, _): self = .rnn(.relu)
        case (.lstm, nil), (.gru, nil):
            throw RecurrentError.invalidState("\(s.cell.rawValue) time loop: the reserve has no per-step state part")
        }
    }
}
