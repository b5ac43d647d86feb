// The CPU backend's recurrent time loop (overrides of Backend.recurrentForwardSteps and
// recurrentBackwardSteps). The batch is cut into row blocks (`stepBlocks`) and the threads claim the
// blocks' steps one at a time, the block furthest behind first (`runBlockSteps`, StepQueue.swift):
// the sequences of a batch are independent, so a block needs nothing from the other blocks, only its
// own step before. Each block step is one C call that computes the
// recurrent product tile by tile and applies the cell step to each tile while it is in L1
// (rk_forward_step / rk_backward_step in Sources/CRecurrentGEMM/recurrent_cells.c); no tensor is
// sliced or allocated per step. Zoneout blends each step's states right after its cell step, in the
// same block step (the reserve keeps an LSTM's c̃_t, which tanh and backward read). Forward only (`RecurrentForwardMode.inference`) the cells skip the
// stores backward reads and the per-step states roll over two slots. Without AVX2/FMA, or with RECURRENT_PACKED_WEIGHTS=0, the shared
// per-step loop runs instead (OpenBLAS products, the same C cell kernels). Forward only, a small
// batch with large weights runs split by hidden units instead (UnitSplitSteps.swift).
// T = time steps, B = batch, N = rows, H = hidden size, G = gates, R = width of h (P when projecting).
import CRecurrentGEMM
import RecurrentCore

extension CPUBackend {
    /// Whether the time loop runs fused: AVX2/FMA and packed weights not turned off.
    public var fusesTimeLoop: Bool { packedProductsAvailable && usesPackedProducts }

    /// The fused loop makes x_t W_ihᵀ per tile just before the cell reads it (W_ih packed once per
    /// pass like W_hh): no whole-sequence GEMM writes the (N, GH) gates for the loop to read back,
    /// and each worker's rows of them stay in its own core's caches (the whole-sequence GEMM splits
    /// the rows by time, the loop by batch). GRU T100 B64 I128 H256 L2: input GEMM + forward loop
    /// 61.0 → 53.6 ms. At I = 32 too, in 8 interleaved quiet pairs at T50 B32 H128 (median ms/step:
    /// LSTM 5.9 → 5.67, GRU 4.64 → 4.34), and on one core without the other's noise (LSTM forward
    /// loop of 32 rows, best of 20: 2.61 ms reading the GEMM's gates from memory, 2.26 ms making them).
    public func projectsInputInTimeLoop(_ io: RecurrentForwardIO, _ shape: RecurrentLayerShape) -> Bool {
        runsFusedForward(io, shape) && shape.inputSize > 0 && shape.inputSize <= Int(Int32.max)
    }

    /// Whether `recurrentForwardSteps` runs the fused loop for this pass (else the shared per-step loop).
    /// A reset-before GRU runs its own fused loop (ResetBeforeSteps.swift): its n gate's product waits for r.
    func runsFusedForward(_ io: RecurrentForwardIO, _ shape: RecurrentLayerShape) -> Bool {
        fusesTimeLoop && !shape.resetBefore && !shape.layerNorm
    }

    public func recurrentForwardSteps(_ loop: RecurrentForwardLoop) throws {
        if fusesTimeLoop, loop.shape.resetBefore, !loop.shape.layerNorm { return try resetBeforeForwardSteps(loop) }
        guard runsFusedForward(loop.io, loop.shape) else { return try perStepRecurrentForwardSteps(loop) }
        let (w, s) = (loop.weights, loop.shape)
        let (h, r, g) = (s.hiddenSize, s.outputSize, s.cell.gateCount)
        let op = "recurrentForwardSteps"
        // W_hhᵀ gate by gate, (G, ⌈H/16⌉, R, 16), so that each product tile holds the same units of every gate.
        let packedHH = try Tensor.empty([rk_gate_packed_size(Int32(r), Int32(g), Int32(h))], on: self)
        rk_pack_gates(try pointer(packedHH, op), try pointer(w.weightHH, op), Int32(r), Int32(g), Int32(h))
        // W_ihᵀ likewise, (G, ⌈H/16⌉, I, 16), when the loop makes x_t W_ihᵀ itself.
        let i = s.inputSize
        let packedIH = loop.inputProjected ? nil : try Tensor.empty([rk_gate_packed_size(Int32(i), Int32(g), Int32(h))], on: self)
        if let packedIH {
            rk_pack_gates(try pointer(packedIH, op), try pointer(w.weightIH, op), Int32(i), Int32(g), Int32(h))
        }
        // W_hrᵀ (H, P) in 16-column panels.
        let packedHR = try w.weightHR.flatMap { try packForRepeatedProducts($0, k: h, n: r, transB: .transposed) }
        var p = LoopPointers(
            gates: try pointer(loop.gates, op), extra: try loop.extra.map { try pointer($0, op) },
            projected: try loop.projected.map { try pointer($0, op) }, output: try pointer(loop.output, op),
            initialHidden: try loop.io.initialHidden.map { try pointer($0, op) },
            initialCell: try loop.io.initialCell.map { try pointer($0, op) },
            biasIH: try pointer(w.biasIH, op), biasHH: try pointer(w.biasHH, op),
            packedHH: try pointer(packedHH, op), packedHR: try packedHR.map { try pointer($0.storage, op) },
            hiddenMask: try loop.io.hiddenMask.map { try pointer($0, op) },
            zoneHidden: try loop.io.zoneout.map { try pointer($0.hidden, op) },
            zoneCell: try loop.io.zoneout?.cell.map { try pointer($0, op) },
            candidateCell: try loop.candidateCell.map { try pointer($0, op) },
            input: packedIH == nil ? nil : try pointer(loop.io.input, op), packedIH: try packedIH.map { try pointer($0, op) })
        let plan = StepPlan(s, mode: loop.mode)
        let blocks = stepBlocks(s)
        // With recurrent dropout, per block: h_{t-1} ⊙ mask, what the product reads (b, R).
        let masked = try p.hiddenMask.map { _ in try Tensor.empty([s.batchSize * r], on: self) }
        p.scratch = try masked.map { try pointer($0, op) }
        try withExtendedLifetime((packedHH, packedHR, packedIH, masked)) {
            // Forward only with large weights: the whole batch on every thread, the units split (UnitSplitSteps.swift).
            if splitsUnits(loop), runUnitSplitForward(plan, p) { return }
            try runBlockSteps(blocks.map { plan.stepCount($0) }) { [p] block, step in
                let rows = blocks[block]
                plan.forward(step: step, rows: rows, p, masked: p.scratch.map { $0 + rows.lowerBound * r })
            }
        }
    }

    /// The fused backward loop sums each step's gate gradients into the bias gradients while they
    /// are in L1 (each row block into sums of its own, added in block order after the loop: the
    /// same bits run to run), instead of a pass over (N, G·H) from memory after it.
    public func accumulatesBiasGradientsInTimeLoop(_ io: RecurrentBackwardIO, _ s: RecurrentLayerShape) -> Bool {
        fusesTimeLoop && !s.resetBefore && !s.layerNorm && s.gateWidth <= Int(Int32.max)
    }

    public func recurrentBackwardSteps(_ loop: RecurrentBackwardLoop) throws {
        if fusesTimeLoop, loop.shape.resetBefore, !loop.shape.layerNorm { return try resetBeforeBackwardSteps(loop) }
        guard fusesTimeLoop, !loop.shape.resetBefore,
              let packedHH = try packForRepeatedProducts(loop.weights.weightHH, k: loop.shape.gateWidth,
                                                         n: loop.shape.outputSize, transB: .none)
        else {
            try perStepRecurrentBackwardSteps(loop)
            if let g = loop.biasGradients { try addBiasGradients(loop, g) }
            return
        }
        let (w, s, io) = (loop.weights, loop.shape, loop.io)
        let (h, r) = (s.hiddenSize, s.outputSize)
        let op = "recurrentBackwardSteps"
        // Backward multiplies by W_hh and W_hr as stored: (GH, R) and (P, H).
        let packedHR = try w.weightHR.flatMap { try packForRepeatedProducts($0, k: r, n: h, transB: .none) }
        // Each row block's column sums of dGx (and GRU's of dGh), (2, GH), when the loop adds the bias gradients.
        let blocks = stepBlocks(s), gh = s.gateWidth
        let biasSums = try loop.biasGradients.map { _ in try Tensor.zeros([blocks.count * 2 * gh], on: self) }
        var p = LoopPointers(
            gates: try pointer(loop.gates, op), extra: try loop.extra.map { try pointer($0, op) },
            projected: try loop.projected.map { try pointer($0, op) }, output: try pointer(loop.output, op),
            initialHidden: try io.initialHidden.map { try pointer($0, op) },
            initialCell: try io.initialCell.map { try pointer($0, op) },
            biasIH: try pointer(w.biasIH, op), biasHH: try pointer(w.biasHH, op),
            packedHH: try pointer(packedHH.storage, op), packedHR: try packedHR.map { try pointer($0.storage, op) },
            gradGatesInput: try pointer(loop.gradGatesInput, op), gradGatesHidden: try pointer(loop.gradGatesHidden, op),
            gradOutputs: try loop.gradOutputs.map { try pointer($0, op) },
            gradOutput: try io.gradOutput.map { try pointer($0, op) },
            gradFinalHidden: try io.gradFinalHidden.map { try pointer($0, op) },
            gradFinalCell: try io.gradFinalCell.map { try pointer($0, op) },
            gradInitialHidden: try io.gradInitialHidden.map { try pointer($0, op) },
            gradInitialCell: try io.gradInitialCell.map { try pointer($0, op) },
            hiddenMask: try io.hiddenMask.map { try pointer($0, op) },
            zoneHidden: try io.zoneout.map { try pointer($0.hidden, op) },
            zoneCell: try io.zoneout?.cell.map { try pointer($0, op) },
            candidateCell: try loop.candidateCell.map { try pointer($0, op) },
            biasSums: try biasSums.map { try pointer($0, op) })
        let plan = StepPlan(s, mode: .training)
        // Per block: dh and dc carried from step t+1, dm_t with a projection, dG_t W_hh with recurrent
        // dropout, d ⊙ dh_t and d_c ⊙ dc_t with zoneout: (b, R + 2H [+ R] [+ R [+ H]]), the blocks' one after another.
        let carriedOffsets = blocks.reduce(into: [0]) { $0.append($0.last! + plan.carriedCount(rows: $1.count, p)) }
        let carried = try Tensor.empty([carriedOffsets.last!], on: self)
        p.scratch = try pointer(carried, op)
        let counts = blocks.map { plan.stepCount($0) }
        try withExtendedLifetime((packedHH, packedHR, biasSums, carried)) {
            try runBlockSteps(counts) { [p] block, done in
                // The block's steps last first.
                plan.backward(step: counts[block] - 1 - done, rows: blocks[block], p, carried: p.scratch! + carriedOffsets[block],
                              biasSums: p.biasSums.map { $0 + block * 2 * gh })
            }
        }
        if let g = loop.biasGradients, let biasSums {
            // The blocks' sums added up in block order into block 0's, then to the biases (LSTM and RNN:
            // the same dG sums to both).
            for part in 1..<max(1, blocks.count) {
                try axpy(biasSums.slice(0..<(2 * gh)), alpha: 1, biasSums.slice((part * 2 * gh)..<((part + 1) * 2 * gh)))
            }
            try axpy(g.biasIH, alpha: 1, biasSums.slice(0..<gh))
            try axpy(g.biasHH, alpha: 1, biasSums.slice((s.cell == .gru ? gh : 0)..<(s.cell == .gru ? 2 * gh : gh)))
        }
    }
}

/// The raw pointers a time loop works on (all validated by the caller and kept alive across the loop).
struct LoopPointers: @unchecked Sendable {
    // @unchecked: each worker writes only its own rows of these buffers.
    typealias Pointer = UnsafeMutablePointer<Float>
    var gates: Pointer, extra: Pointer?, projected: Pointer?, output: Pointer
    var initialHidden: Pointer?, initialCell: Pointer?
    var biasIH: Pointer, biasHH: Pointer
    /// Forward: W_hhᵀ from rk_pack_gates; backward: W_hh from rk_pack_b. W_hr likewise (nil: no projection).
    var packedHH: Pointer, packedHR: Pointer?
    var gradGatesInput: Pointer? = nil, gradGatesHidden: Pointer? = nil, gradOutputs: Pointer? = nil
    var gradOutput: Pointer? = nil, gradFinalHidden: Pointer? = nil, gradFinalCell: Pointer? = nil
    var gradInitialHidden: Pointer? = nil, gradInitialCell: Pointer? = nil
    /// (B, R) recurrent dropout mask (nil: none).
    var hiddenMask: Pointer? = nil
    /// Zoneout: (N, R) factors of h and (N, H) of c (LSTM), and the reserve's c̃_t (N, H; forward only
    /// two rolling (B, H) slots, as `extra`); nil: no zoneout.
    var zoneHidden: Pointer? = nil, zoneCell: Pointer? = nil, candidateCell: Pointer? = nil
    /// Forward, when the loop makes x_t W_ihᵀ: the input (N, I) and W_ihᵀ from rk_pack_gates; else nil.
    var input: Pointer? = nil, packedIH: Pointer? = nil
    /// Backward, when the loop adds the bias gradients: the row blocks' column sums, (2, GH) each,
    /// dGx's then GRU's dGh's; else nil.
    var biasSums: Pointer? = nil
    /// The loop's scratch, each row block in its own part: forward with recurrent dropout (B, R)
    /// h_{t-1} ⊙ mask (else nil); backward the blocks' carried gradients one after another.
    var scratch: Pointer? = nil
}

/// Sizes and row offsets of one layer's time loop, and the loop of one row block.
struct StepPlan: Sendable {
    let steps: Int, batch: Int, hidden: Int, width: Int, gateCount: Int, inputSize: Int
    let cell: Int32, activation: Activation
    /// Forward only: `extra` and `projected` are two (B, H) slots that roll over (step t in slot t % 2).
    let inference: Bool
    /// Row of step t's first sequence, and the active rows of step t.
    let offsets: [Int], sizes: [Int]

    init(_ s: RecurrentLayerShape, mode: RecurrentForwardMode) {
        steps = s.sequenceLength
        batch = s.batchSize
        inference = mode == .inference
        hidden = s.hiddenSize
        width = s.outputSize
        inputSize = s.inputSize
        gateCount = s.cell.gateCount
        switch s.cell {
        case .lstm: cell = Int32(RK_CELL_LSTM)
        case .gru: cell = Int32(RK_CELL_GRU)
        case .rnnTanh, .rnnRelu: cell = Int32(RK_CELL_RNN)
        }
        activation = s.cell == .rnnRelu ? .relu : .tanh
        offsets = s.stepOffsets
        sizes = (0..<s.sequenceLength).map { s.rows(atStep: $0) }
    }

    var isLSTM: Bool { cell == Int32(RK_CELL_LSTM) }

    /// Row of batch position `first` at step `step` in `extra` and `projected`.
    func stateRow(_ step: Int, _ first: Int) -> Int { (inference ? (step % 2) * batch : offsets[step]) + first }

    /// The steps that batch rows `rows` run: those with at least one of the rows active (a packed
    /// batch's first rows are its longest sequences, so these are the first ones).
    func stepCount(_ rows: Range<Int>) -> Int {
        sizes.firstIndex { $0 <= rows.lowerBound } ?? steps
    }

    /// Forward step `step` (< stepCount(rows)) of batch rows `rows`; with a recurrent dropout mask,
    /// `masked` holds (b, R) floats.
    func forward(step: Int, rows: Range<Int>, _ p: LoopPointers, masked: UnsafeMutablePointer<Float>?) {
        let (h, r, gh) = (hidden, width, gateCount * hidden)
        let end = min(rows.upperBound, sizes[step])
        let count = end - rows.lowerBound, row = offsets[step] + rows.lowerBound   // rows of this step, first row in N
        let earlier = step > 0 ? offsets[step - 1] + rows.lowerBound : 0
        let stateRow = stateRow(step, rows.lowerBound), earlierState = step > 0 ? self.stateRow(step - 1, rows.lowerBound) : 0
        // h_{t-1} (b, R), and the cell's own previous state: c_{t-1} (LSTM) or h_{t-1} (GRU, R = H).
        let previousHidden = step == 0 ? p.initialHidden.map { $0 + rows.lowerBound * r } : p.output + earlier * r
        let previousState = isLSTM
            ? (step == 0 ? p.initialCell.map { $0 + rows.lowerBound * h } : p.extra! + earlierState * h)
            : previousHidden
        // With a projection the cell writes m_t and h_t = m_t W_hrᵀ follows: (b, H) × (H, P).
        let cellOutput = p.projected.map { $0 + stateRow * h } ?? p.output + row * r
        // With cell zoneout the cell writes c̃_t into the reserve's own part, and c_t is blended below.
        let cellState = (p.zoneCell != nil ? p.candidateCell : p.extra).map { $0 + stateRow * h }
        // Forward only with x_t W_ihᵀ made in the loop, the gates are the step's scratch: every step
        // reuses step 0's rows of them, which stay in cache, instead of walking (N, GH) through memory.
        let gateRow = inference && p.input != nil ? rows.lowerBound : row
        var cellStep = rk_cell_forward(rows: count, hidden: h, gateCount: gateCount, activation: activation,
                                       inference: inference, gates: p.gates + gateRow * gh, product: nil, biasIH: p.biasIH,
                                       biasHH: p.biasHH, previous: previousState, state: cellState,
                                       hiddenOut: cellOutput)
        // With recurrent dropout the product reads h_{t-1} ⊙ mask (b, R), made into `masked` by the C
        // step; the cell keeps h_{t-1} itself.
        rk_forward_step(cell, &cellStep, previousHidden, Int32(r), p.packedHH, p.input.map { $0 + row * inputSize },
                        Int32(inputSize), p.packedIH, p.hiddenMask.map { $0 + rows.lowerBound * r }, masked)
        if let packedHR = p.packedHR {
            rk_gemm_packed(Int32(count), Int32(r), Int32(h), cellOutput, Int32(h), packedHR, p.output + row * r, Int32(r), 0)
        }
        // Zoneout: c_t = c̃_t + d_c ⊙ (c_{t-1} − c̃_t) (b, H) and h_t = h̃_t + d ⊙ (h_{t-1} − h̃_t) (b, R), in place.
        if let zoneCell = p.zoneCell, let candidate = cellState, let cell = p.extra.map({ $0 + stateRow * h }) {
            zoneoutBlend(cell, from: candidate, previous: previousState, factors: zoneCell + row * h, count: count * h)
        }
        if let zoneHidden = p.zoneHidden {
            let hidden = p.output + row * r
            zoneoutBlend(hidden, from: hidden, previous: previousHidden, factors: zoneHidden + row * r, count: count * r)
        }
    }

    /// x = x̃ + d ⊙ (previous − x̃) over `count` floats (previous nil: zero); `x` may be `candidate`.
    /// (Also the layer-normalised loop's, LayerNormSteps.swift.)
    func zoneoutBlend(_ x: UnsafeMutablePointer<Float>, from candidate: UnsafeMutablePointer<Float>,
                      previous: UnsafeMutablePointer<Float>?, factors d: UnsafeMutablePointer<Float>, count: Int) {
        if let previous {
            for k in 0..<count { x[k] = candidate[k] + d[k] * (previous[k] - candidate[k]) }
        } else {
            for k in 0..<count { x[k] = candidate[k] - d[k] * candidate[k] }
        }
    }

    /// Zoneout's backward split over `count` floats: with the whole gradient g (+ `extra`, nil: none),
    /// `direct` = d ⊙ g, the part that goes to the previous step, and `gradient` = g − d ⊙ g, the cell's.
    func zoneoutSplit(_ gradient: UnsafeMutablePointer<Float>, adding extra: UnsafeMutablePointer<Float>?,
                      factors d: UnsafeMutablePointer<Float>, direct: UnsafeMutablePointer<Float>, count: Int) {
        for k in 0..<count {
            let total = gradient[k] + (extra?[k] ?? 0)
            direct[k] = d[k] * total
            gradient[k] = total - direct[k]
        }
    }

    /// Floats of `carried` that backward needs for a block of `rows` rows (see `backward`).
    func carriedCount(rows: Int, _ p: LoopPointers) -> Int {
        let maskWidth = p.hiddenMask == nil ? 0 : width
        let zoneWidth = p.zoneHidden == nil ? 0 : width + (p.zoneCell == nil ? 0 : hidden)
        return rows * (width + 2 * hidden + maskWidth + zoneWidth)
    }

    /// Backward step `step` (< stepCount(rows); the block runs them last first) of batch rows `rows`;
    /// `carried` (`carriedCount` floats: (b, R + 2H), R more with a recurrent dropout mask, R more with
    /// zoneout and H more with cell zoneout) carries dh and dc from step to step. With `biasSums`
    /// ((2, GH) of the block) the step adds its column sums of dGx (and GRU's dGh) there. Step 0 ends
    /// the block: it writes dh_0 and dc_0.
    func backward(step: Int, rows: Range<Int>, _ p: LoopPointers, carried: UnsafeMutablePointer<Float>,
                  biasSums: UnsafeMutablePointer<Float>?) {
        let (h, r, gh) = (hidden, width, gateCount * hidden)
        let first = rows.lowerBound
        let gradHidden = carried, gradCell = carried + rows.count * r, gradProjected = gradCell + rows.count * h
        let maskedProduct = gradProjected + rows.count * h   // (b, R) dG_t W_hh before the mask
        let maskRows = p.hiddenMask == nil ? 0 : rows.count * r
        let zoned = maskedProduct + maskRows, zonedCell = zoned + rows.count * r   // (b, R) d ⊙ dh_t, (b, H) d_c ⊙ dc_t
        let end = min(rows.upperBound, sizes[step])
        // Sequences whose last step this is start from the gradients of their final states.
        let startingFrom = max(first, step + 1 < steps ? sizes[step + 1] : 0)
        if startingFrom < end {
            let starting = startingFrom..<end, local = startingFrom - first
            copyOrZero(p.gradFinalHidden.map { $0 + starting.lowerBound * r }, to: gradHidden + local * r, count: starting.count * r)
            if isLSTM {
                copyOrZero(p.gradFinalCell.map { $0 + starting.lowerBound * h }, to: gradCell + local * h, count: starting.count * h)
            }
        }
        let count = end - first, row = offsets[step] + first
        let earlier = step > 0 ? offsets[step - 1] + first : 0
        let previousHidden = step == 0 ? p.initialHidden.map { $0 + first * r } : p.output + earlier * r
        let previousState = isLSTM ? (step == 0 ? p.initialCell.map { $0 + first * h } : p.extra! + earlier * h) : previousHidden
        var dy = p.gradOutput.map { $0 + row * r }
        // Zoneout: dh_t = dy_t + dh_{t+1} whole; d ⊙ dh_t goes to h_{t-1} directly, dh̃_t = dh_t − d ⊙ dh_t
        // to the cell; cell zoneout likewise splits dc_t.
        if let zoneHidden = p.zoneHidden.map({ $0 + row * r }) {
            zoneoutSplit(gradHidden, adding: dy, factors: zoneHidden, direct: zoned, count: count * r)
            dy = nil
        }
        if let zoneCell = p.zoneCell.map({ $0 + row * h }) {
            zoneoutSplit(gradCell, adding: nil, factors: zoneCell, direct: zonedCell, count: count * h)
        }
        var cellGradHidden = gradHidden
        if let gradOutputs = p.gradOutputs, let packedHR = p.packedHR {
            // dh_t = dy_t + dh_{t+1} (b, P), kept for dW_hr; dm_t = dh_t W_hr: (b, P) × (P, H).
            let gradStep = gradOutputs + row * r
            for k in 0..<(count * r) { gradStep[k] = gradHidden[k] + (dy?[k] ?? 0) }
            rk_gemm_packed(Int32(count), Int32(h), Int32(r), gradStep, Int32(r), packedHR, gradProjected, Int32(h), 0)
            (cellGradHidden, dy) = (gradProjected, nil)
        }
        var cellStep = rk_cell_backward(
            rows: count, hidden: h, gateCount: gateCount, activation: activation, gates: p.gates + row * gh,
            state: (p.zoneCell != nil ? p.candidateCell : p.extra).map { $0 + row * h }, previous: previousState, gradOutput: dy, gradHidden: cellGradHidden,
            gradCell: isLSTM ? gradCell : nil, gradGates: p.gradGatesInput! + row * gh,
            gradGatesHidden: cell == Int32(RK_CELL_GRU) ? p.gradGatesHidden! + row * gh : nil)
        // dh_{t-1} (+)= dG_t W_hh: (b, GH) × (GH, R), not needed at step 0 unless dh_0 is asked for.
        // Recurrent dropout: dh_{t-1} = mask ⊙ (dG_t W_hh) [+ GRU's z ⊙ dh_t, which the cell leaves in
        // gradHidden], tile by tile in the C step.
        let product = step > 0 || p.gradInitialHidden != nil
        rk_backward_step(cell, &cellStep, product ? p.packedHH : nil, Int32(r), gradHidden,
                         p.hiddenMask.map { $0 + first * r }, maskedProduct)
        if let biasSums {
            // db += Σ_rows dG_t over this step's (b, GH) rows, still in L1.
            rk_sum_columns(biasSums, p.gradGatesInput! + row * gh, count, Int32(gh), Int32(gh))
            if cell == Int32(RK_CELL_GRU) { rk_sum_columns(biasSums + gh, p.gradGatesHidden! + row * gh, count, Int32(gh), Int32(gh)) }
        }
        // Zoneout's direct parts: dh_{t-1} += d ⊙ dh_t, dc_{t-1} = f ⊙ dc̃_t + d_c ⊙ dc_t.
        if p.zoneHidden != nil, product { for k in 0..<(count * r) { gradHidden[k] += zoned[k] } }
        if p.zoneCell != nil { for k in 0..<(count * h) { gradCell[k] += zonedCell[k] } }
        guard step == 0 else { return }
        p.gradInitialHidden.map { ($0 + first * r).update(from: gradHidden, count: rows.count * r) }
        if isLSTM { p.gradInitialCell.map { ($0 + first * h).update(from: gradCell, count: rows.count * h) } }
    }

    func copyOrZero(_ source: UnsafeMutablePointer<Float>?, to destination: UnsafeMutablePointer<Float>, count: Int) {
        if let source { destination.update(from: source, count: count) } else { destination.update(repeating: 0, count: count) }
    }
}
