// The CPU backend's time loop of layer-normalised LSTM and GRU layers (overrides of
// Backend.layerNormForwardSteps and layerNormBackwardSteps), in the style of RecurrentSteps.swift:
// the batch is cut into row blocks (`stepBlocks`) and the threads claim the blocks' steps one at a
// time, the block furthest behind first (`runBlockSteps`, StepQueue.swift), with W_hh packed once
// per pass. Forward per step: h̄_{t-1} W_hhᵀ (rk_gemm_packed) into the block's own (b, G·H)
// scratch, then one C call for all of the block's rows (rk_layer_norm_cell_forward: the input norm
// of x_t W_ihᵀ, the recurrent norm, the gates, c̃'s norm and h_t). Backward per step, each block's
// steps last first: one C call (the cell's gradients, c's norm, the recurrent and the input norms
// backward, and the rows' parts of the biases' and gains' column sums, into sums of the block's own
// that are added up in block order after the loop: the same bits run to run), then dh_{t-1} =
// dĜ_h W_hh (rk_gemm_packed), ⊙ the recurrent dropout mask, plus GRU's z ⊙ dh_t. Zoneout blends in
// the same block step right after its C call (c_t from the c̃_t the step wrote to the reserve's
// candidate part, and h_t in place), and backward splits dh_t and dc_t before it and adds the direct
// parts d ⊙ dh_t and d_c ⊙ dc_t to dh_{t-1} and dc_{t-1} after it. An LSTM with a projection: the C
// call writes m_t to the reserve and h_t = m_t W_hrᵀ is one packed product in the same block step
// (W_hr packed once); backward keeps dh_t for dW_hr and makes dm_t = dh_t W_hr the same way before
// the C call. Without AVX2/FMA, or with RECURRENT_PACKED_WEIGHTS=0, the shared per-step loop runs instead.
// The reserve's layout is the shared loop's (LayerNormReserve); forward only writes it all too.
// T = time steps, B = batch, N = rows, H = hidden size, G = gates, P = projection size,
// R = width of h (P when projecting, else H).
import CRecurrentGEMM
import RecurrentCore

extension CPUBackend {
    public func layerNormForwardSteps(_ loop: LayerNormForwardLoop) throws {
        let (w, s) = (loop.weights, loop.shape)
        let (h, r, gh) = (s.hiddenSize, s.outputSize, s.gateWidth)
        // W_hhᵀ (R, GH) in 16-column panels, and W_hrᵀ (H, P) likewise.
        guard fusesTimeLoop, let packed = try packForRepeatedProducts(w.weightHH, k: r, n: gh, transB: .transposed)
        else { return try perStepLayerNormForwardSteps(loop) }
        let packedHR = try w.weightHR.flatMap { try packForRepeatedProducts($0, k: h, n: r, transB: .transposed) }
        let op = "layerNormForwardSteps"
        let p = try LayerNormPointers(loop.reserve, loop.norm, w, output: loop.output, packedHH: packed.storage,
                                      packedHR: packedHR?.storage, initialHidden: loop.io.initialHidden,
                                      initialCell: loop.io.initialCell, hiddenMask: loop.io.hiddenMask, zoneout: loop.io.zoneout,
                                      self, op)
        let plan = StepPlan(s, mode: .training)
        let blocks = stepBlocks(s)
        // Per block: the product (b, GH), and h_{t-1} ⊙ mask (b, R) with recurrent dropout; the blocks' one after another.
        let offsets = blocks.reduce(into: [0]) { $0.append($0.last! + plan.layerNormScratchCount(rows: $1.count, p)) }
        let scratch = try Tensor.empty([offsets.last!], on: self)
        let base = SendablePointer(try pointer(scratch, op))
        try withExtendedLifetime((packed, packedHR, scratch)) {
            try runBlockSteps(blocks.map { plan.stepCount($0) }) { block, step in
                plan.layerNormForward(step: step, rows: blocks[block], p, scratch: base.pointer + offsets[block])
            }
        }
    }

    public func layerNormBackwardSteps(_ loop: LayerNormBackwardLoop) throws {
        let (w, s, io) = (loop.weights, loop.shape, loop.io)
        let (h, r, gh) = (s.hiddenSize, s.outputSize, s.gateWidth)
        // W_hh and W_hr as stored, (GH, R) and (P, H).
        guard fusesTimeLoop, let packed = try packForRepeatedProducts(w.weightHH, k: gh, n: r, transB: .none)
        else { return try perStepLayerNormBackwardSteps(loop) }
        let packedHR = try w.weightHR.flatMap { try packForRepeatedProducts($0, k: r, n: h, transB: .none) }
        let op = "layerNormBackwardSteps"
        var p = try LayerNormPointers(loop.reserve, loop.norm, w, output: loop.output, packedHH: packed.storage,
                                      packedHR: packedHR?.storage, initialHidden: io.initialHidden, initialCell: io.initialCell,
                                      hiddenMask: io.hiddenMask, zoneout: io.zoneout, self, op)
        p.gradOutputs = try loop.gradOutputs.map { try pointer($0, op) }
        p.gradGates = try pointer(loop.gradGates, op)
        p.gradProducts = try pointer(loop.gradProducts, op)
        p.gradOutput = try loop.gradOutput.map { try pointer($0, op) }
        p.gradFinalHidden = try io.gradFinalHidden.map { try pointer($0, op) }
        p.gradFinalCell = try io.gradFinalCell.map { try pointer($0, op) }
        p.gradInitialHidden = try io.gradInitialHidden.map { try pointer($0, op) }
        p.gradInitialCell = try io.gradInitialCell.map { try pointer($0, op) }
        let pointers = p
        let plan = StepPlan(s, mode: .training)
        let blocks = stepBlocks(s)
        // Each block's column sums: b_ih, b_hh (GRU), γ_ih, γ_hh (GH each), γ_c, β_c (H each).
        let sumWidth = 4 * gh + 2 * h
        let sums = try Tensor.empty([blocks.count * sumWidth], on: self)
        try fill(sums, with: 0)
        let pointerSums = SendablePointer(try pointer(sums, op))
        // Per block: what `layerNormBackward` carries from step to step and its scratch; the blocks' one after another.
        let offsets = blocks.reduce(into: [0]) { $0.append($0.last! + plan.layerNormCarriedCount(rows: $1.count, pointers)) }
        let carried = try Tensor.empty([offsets.last!], on: self)
        let pointerCarried = SendablePointer(try pointer(carried, op))
        let counts = blocks.map { plan.stepCount($0) }
        try withExtendedLifetime((packed, packedHR, sums, carried)) {
            try runBlockSteps(counts) { block, done in
                // The block's steps last first.
                plan.layerNormBackward(step: counts[block] - 1 - done, rows: blocks[block], pointers,
                                       carried: pointerCarried.pointer + offsets[block], sums: pointerSums.pointer + block * sumWidth)
            }
        }
        // The blocks' sums into the gradients, block by block (an LSTM's b_hh gets b_ih's: the same dL/da).
        let g = loop.gradients, gradNorm = loop.gradNorm
        let targets: [(Tensor?, Int, Int)] = [(g.biasIH, 0, gh), (g.biasHH, s.cell == .lstm ? 0 : gh, gh), (gradNorm.gainIH, 2 * gh, gh),
                                              (gradNorm.gainHH, 3 * gh, gh), (gradNorm.gainCell, 4 * gh, h),
                                              (gradNorm.biasCell, 4 * gh + h, h)]
        for (target, start, width) in targets {
            guard let target else { continue }
            let out = try pointer(target, count: width, op)
            for part in blocks.indices {
                let sum = pointerSums.pointer + part * sumWidth + start
                for j in 0..<width { out[j] += sum[j] }
            }
        }
    }
}

/// The raw pointers of a layer-normalised time loop (all validated by the caller and kept alive
/// across the loop).
struct LayerNormPointers: @unchecked Sendable {
    // @unchecked: each row block's steps, one at a time, write only the block's own rows of these buffers.
    typealias Pointer = UnsafeMutablePointer<Float>
    /// The reserve's parts (LayerNormReserve); `normalizedCell` and `deviationCell` nil for GRU, `projected`
    /// (m_t) nil without a projection.
    var gates: Pointer, extra: Pointer, projected: Pointer?, normalizedHH: Pointer, deviationHH: Pointer
    var normalizedCell: Pointer?, deviationCell: Pointer?, normalizedIH: Pointer, deviationIH: Pointer, gainIH: Pointer
    var output: Pointer, initialHidden: Pointer?, initialCell: Pointer?
    var biasIH: Pointer, biasHH: Pointer, gainHH: Pointer, gainCell: Pointer?, biasCell: Pointer?
    /// Forward: W_hhᵀ (R, GH) and W_hrᵀ (H, P); backward: W_hh (GH, R) and W_hr (P, H); all from rk_pack_b
    /// (`packedHR` nil without a projection).
    var packedHH: Pointer, packedHR: Pointer?
    /// (B, R) recurrent dropout mask (nil: none).
    var hiddenMask: Pointer?
    /// (N, R) and (N, H) zoneout factors of h and (LSTM) c, and the reserve's c̃_t (LSTM); nil without zoneout.
    var zoneHidden: Pointer?, zoneCell: Pointer?, candidateCell: Pointer?
    /// (N, P) dh_t of every step with a projection, for dW_hr; else nil.
    var gradOutputs: Pointer? = nil
    var gradGates: Pointer? = nil, gradProducts: Pointer? = nil
    var gradOutput: Pointer? = nil, gradFinalHidden: Pointer? = nil, gradFinalCell: Pointer? = nil
    var gradInitialHidden: Pointer? = nil, gradInitialCell: Pointer? = nil

    init(_ v: LayerNormReserve, _ norm: RecurrentLayerNormWeights, _ w: RecurrentWeights, output: Tensor, packedHH: Tensor,
         packedHR: Tensor?, initialHidden: Tensor?, initialCell: Tensor?, hiddenMask: Tensor?, zoneout: RecurrentZoneout?,
         _ backend: CPUBackend, _ op: String) throws {
        let pointer = { (x: Tensor) in try backend.pointer(x, op) }
        gates = try pointer(v.gates); extra = try pointer(v.extra); projected = try v.projected.map(pointer)
        normalizedHH = try pointer(v.normalizedHH); deviationHH = try pointer(v.deviationHH)
        normalizedCell = try v.normalizedCell.map(pointer); deviationCell = try v.deviationCell.map(pointer)
        self.output = try pointer(output)
        self.initialHidden = try initialHidden.map(pointer); self.initialCell = try initialCell.map(pointer)
        biasIH = try pointer(w.biasIH); biasHH = try pointer(w.biasHH); gainHH = try pointer(norm.gainHH)
        gainCell = try norm.gainCell.map(pointer); biasCell = try norm.biasCell.map(pointer)
        self.packedHH = try pointer(packedHH)
        self.packedHR = try packedHR.map(pointer)
        self.hiddenMask = try hiddenMask.map(pointer)
        zoneHidden = try zoneout.map { try pointer($0.hidden) }
        zoneCell = try zoneout?.cell.map(pointer)
        candidateCell = try v.candidateCell.map(pointer)
        normalizedIH = try pointer(v.normalizedIH); deviationIH = try pointer(v.deviationIH); gainIH = try pointer(norm.gainIH)
    }
}

extension StepPlan {
    /// Floats of the forward scratch for a block of `rows` rows: (b, GH), (b, R) more with a recurrent dropout mask.
    func layerNormScratchCount(rows: Int, _ p: LayerNormPointers) -> Int {
        rows * (gateCount * hidden + (p.hiddenMask == nil ? 0 : width))
    }

    /// Forward step `step` (< stepCount(rows)) of a layer-normalised layer for batch rows `rows`;
    /// `scratch` holds `layerNormScratchCount` floats: the product (b, GH), then h_{t-1} ⊙ mask (b, R)
    /// with a recurrent dropout mask.
    func layerNormForward(step: Int, rows: Range<Int>, _ p: LayerNormPointers, scratch: UnsafeMutablePointer<Float>) {
        let (h, r, gh, first) = (hidden, width, gateCount * hidden, rows.lowerBound)
        let product = scratch, masked = scratch + rows.count * gh
        let end = min(rows.upperBound, sizes[step])
        let count = end - first, row = offsets[step] + first, earlier = step > 0 ? offsets[step - 1] + first : 0
        let previousHidden = step == 0 ? p.initialHidden.map { $0 + first * r } : p.output + earlier * r
        let previousCell = step == 0 ? p.initialCell.map { $0 + first * h } : p.extra + earlier * h
        // h̄_{t-1} W_hhᵀ (b, GH), h̄ = h_{t-1} ⊙ mask with recurrent dropout; zeros without h_{t-1}.
        if var productInput = previousHidden {
            if let mask = p.hiddenMask.map({ $0 + first * r }) {
                for k in 0..<(count * r) { masked[k] = productInput[k] * mask[k] }
                productInput = masked
            }
            rk_gemm_packed(Int32(count), Int32(gh), Int32(r), productInput, Int32(r), p.packedHH, product, Int32(gh), 0)
        } else {
            product.update(repeating: 0, count: count * gh)
        }
        // With a projection the cell writes m_t into the reserve and h_t = m_t W_hrᵀ follows.
        let cellOutput = p.projected.map { $0 + row * h } ?? p.output + row * r
        var cellStep = rk_layer_norm_forward(
            rows: Int32(count), hidden: Int32(h), gates: p.gates + row * gh, normalized_input: p.normalizedIH + row * gh,
            input_inverse: p.deviationIH + row, gain_ih: p.gainIH, product: product,
            normalized_product: p.normalizedHH + row * gh, product_inverse: p.deviationHH + row,
            gain_hh: p.gainHH, bias_ih: p.biasIH, bias_hh: p.biasHH, previous: isLSTM ? previousCell : previousHidden,
            state: (p.candidateCell ?? p.extra) + row * h, normalized_cell: p.normalizedCell.map { $0 + row * h },
            cell_inverse: p.deviationCell.map { $0 + row }, gain_cell: p.gainCell, bias_cell: p.biasCell,
            hidden_out: cellOutput)
        rk_layer_norm_cell_forward(cell, &cellStep)
        if let packedHR = p.packedHR {
            // h_t = m_t W_hrᵀ: (b, H) × (H, P).
            rk_gemm_packed(Int32(count), Int32(r), Int32(h), cellOutput, Int32(h), packedHR, p.output + row * r, Int32(r), 0)
        }
        // Zoneout: c_t = c̃_t + d_c ⊙ (c_{t-1} − c̃_t), h_t = h̃_t + d ⊙ (h_{t-1} − h̃_t) (no previous state: zeros).
        let units = count * h
        if let factors = p.zoneCell.map({ $0 + row * h }), let candidate = p.candidateCell.map({ $0 + row * h }) {
            zoneoutBlend(p.extra + row * h, from: candidate, previous: previousCell, factors: factors, count: units)
        }
        if let factors = p.zoneHidden.map({ $0 + row * r }) {
            let hidden = p.output + row * r
            zoneoutBlend(hidden, from: hidden, previous: previousHidden, factors: factors, count: count * r)
        }
    }

    /// Floats of `carried` that backward needs for a block of `rows` rows (see `layerNormBackward`).
    func layerNormCarriedCount(rows: Int, _ p: LayerNormPointers) -> Int {
        rows * (2 * width + 2 * hidden + (isLSTM ? 0 : gateCount * hidden) + (p.zoneHidden == nil ? 0 : width + hidden)
            + (p.packedHR == nil ? 0 : hidden))
    }

    /// Backward step `step` (< stepCount(rows); the block runs them last first) of a layer-normalised
    /// layer for batch rows `rows`. `carried` (`layerNormCarriedCount` floats) holds dh (b, R) and dc
    /// (b, H) carried from step t+1, then the step's scratch: dĜ_h W_hh (b, R), dc_t (b, H), GRU's
    /// hidden-side gradients after the norm (b, GH), with zoneout d ⊙ dh_t (b, R) and d_c ⊙ dc_t (b, H),
    /// and with a projection dm_t (b, H). `sums` (4·GH + 2H of the block, zeros before its first step)
    /// gets the block's column sums for b_ih, b_hh (GRU), γ_ih, γ_hh, γ_c and β_c (LSTM). Step 0 ends
    /// the block: it writes dh_0 and dc_0.
    func layerNormBackward(step: Int, rows: Range<Int>, _ p: LayerNormPointers, carried: UnsafeMutablePointer<Float>,
                           sums: UnsafeMutablePointer<Float>) {
        let (h, r, gh, first) = (hidden, width, gateCount * hidden, rows.lowerBound)
        let b = rows.count
        let gradHidden = carried, gradCell = carried + b * r, product = gradCell + b * h    // (b, R), (b, H), (b, R)
        let gradCellOutput = product + b * r, gradHiddenGates = gradCellOutput + b * h       // (b, H), (b, GH) GRU
        let zoned = gradHiddenGates + (isLSTM ? 0 : b * gh), zonedCell = zoned + (p.zoneHidden == nil ? 0 : b * r)
        let gradProjected = zonedCell + (p.zoneHidden == nil ? 0 : b * h)                    // (b, H) dm_t
        let end = min(rows.upperBound, sizes[step])
        // Sequences whose last step this is start from the gradients of their final states.
        let startingFrom = max(first, step + 1 < steps ? sizes[step + 1] : 0)
        if startingFrom < end {
            let local = startingFrom - first, count = (end - startingFrom) * h
            copyOrZero(p.gradFinalHidden.map { $0 + startingFrom * r }, to: gradHidden + local * r,
                       count: (end - startingFrom) * r)
            copyOrZero(isLSTM ? p.gradFinalCell.map { $0 + startingFrom * h } : nil, to: gradCell + local * h, count: count)
        }
        let count = end - first, row = offsets[step] + first, earlier = step > 0 ? offsets[step - 1] + first : 0
        let previousHidden = step == 0 ? p.initialHidden.map { $0 + first * r } : p.output + earlier * r
        let previousCell = step == 0 ? p.initialCell.map { $0 + first * h } : p.extra + earlier * h
        let gradProducts = p.gradProducts! + row * gh
        // Zoneout: dh_t = dy_t + dh_{t+1} whole, d ⊙ dh_t goes to h_{t-1} and dh̃_t = dh_t − d ⊙ dh_t to the
        // cell; likewise d_c ⊙ dc_t to c_{t-1} and dc_t − d_c ⊙ dc_t through the cell.
        var gradOutput = p.gradOutput.map { $0 + row * r }
        let (units, widthUnits) = (count * h, count * r)
        if let factors = p.zoneHidden.map({ $0 + row * r }) {
            zoneoutSplit(gradHidden, adding: gradOutput, factors: factors, direct: zoned, count: widthUnits)
            gradOutput = nil
        }
        let cellFactors = isLSTM ? p.zoneCell.map { $0 + row * h } : nil
        if let cellFactors { zoneoutSplit(gradCell, adding: nil, factors: cellFactors, direct: zonedCell, count: units) }
        var cellGradHidden = gradHidden
        if let gradOutputs = p.gradOutputs, let packedHR = p.packedHR {
            // dh_t = dy_t + dh_{t+1} (b, P), kept for dW_hr; dm_t = dh_t W_hr: (b, P) × (P, H).
            let gradStep = gradOutputs + row * r
            for k in 0..<widthUnits { gradStep[k] = gradHidden[k] + (gradOutput?[k] ?? 0) }
            rk_gemm_packed(Int32(count), Int32(h), Int32(r), gradStep, Int32(r), packedHR, gradProjected, Int32(h), 0)
            (cellGradHidden, gradOutput) = (gradProjected, nil)
        }
        var cellStep = rk_layer_norm_backward(
            rows: Int32(count), hidden: Int32(h), gates: p.gates + row * gh,
            state: (isLSTM ? p.candidateCell ?? p.extra : p.extra) + row * h,
            previous: isLSTM ? previousCell : previousHidden, normalized_product: p.normalizedHH + row * gh,
            product_inverse: p.deviationHH + row, gain_hh: p.gainHH, normalized_cell: p.normalizedCell.map { $0 + row * h },
            cell_inverse: p.deviationCell.map { $0 + row }, gain_cell: p.gainCell,
            grad_output: gradOutput, grad_hidden: cellGradHidden, grad_cell: isLSTM ? gradCell : nil,
            grad_gates: p.gradGates! + row * gh, grad_gates_hidden: isLSTM ? nil : gradHiddenGates,
            grad_cell_output: isLSTM ? gradCellOutput : nil, grad_product: gradProducts,
            normalized_input: p.normalizedIH + row * gh, input_inverse: p.deviationIH + row, gain_ih: p.gainIH,
            sum_bias_ih: sums, sum_bias_hh: isLSTM ? nil : sums + gh, sum_gain_ih: sums + 2 * gh, sum_gain_hh: sums + 3 * gh,
            sum_gain_cell: isLSTM ? sums + 4 * gh : nil, sum_bias_cell: isLSTM ? sums + 4 * gh + h : nil)
        rk_layer_norm_cell_backward(cell, &cellStep)
        if cellFactors != nil { for k in 0..<units { gradCell[k] += zonedCell[k] } }   // dc_{t-1} = f ⊙ dc̃_t + d_c ⊙ dc_t
        // dh_{t-1} = (dĜ_h W_hh) ⊙ mask [+ GRU's z ⊙ dh_t, which the step left in gradHidden] [+ d ⊙ dh_t]:
        // (b, GH) × (GH, R), not needed at step 0 unless dh_0 is asked for.
        if step > 0 || p.gradInitialHidden != nil {
            let direct = p.hiddenMask != nil || !isLSTM
            rk_gemm_packed(Int32(count), Int32(r), Int32(gh), gradProducts, Int32(gh), p.packedHH, direct ? product : gradHidden,
                           Int32(r), 0)
            if direct {
                let mask = p.hiddenMask.map { $0 + first * r }
                switch (isLSTM, mask) {
                case (true, let mask?): for k in 0..<widthUnits { gradHidden[k] = product[k] * mask[k] }
                case (false, let mask?): for k in 0..<widthUnits { gradHidden[k] += product[k] * mask[k] }
                default: for k in 0..<widthUnits { gradHidden[k] += product[k] }
                }
            }
            if p.zoneHidden != nil { for k in 0..<widthUnits { gradHidden[k] += zoned[k] } }
        }
        guard step == 0 else { return }
        p.gradInitialHidden.map { ($0 + first * r).update(from: gradHidden, count: rows.count * r) }
        if isLSTM { p.gradInitialCell.map { ($0 + first * h).update(from: gradCell, count: rows.count * h) } }
    }
}
