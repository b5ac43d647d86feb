// The CPU backend's time loop of layer-normalised LSTM and GRU layers (overrides of
// Backend.layerNormForwardSteps and layerNormBackwardSteps), in the style of RecurrentSteps.swift:
// one worker per row block of the batch (`batchBlocks`) runs every step of the sequence, with W_hh
// packed once per pass. Forward per step: h̄_{t-1} W_hhᵀ (rk_gemm_packed) into the block's own
// (b, G·H) scratch, which stays in its core's cache, then one C call for all of the block's rows
// (rk_layer_norm_cell_forward: the input norm of x_t W_ihᵀ, the recurrent norm, the gates, c̃'s
// norm and h_t). Backward per step: one C call (the cell's gradients, c's norm, the recurrent and
// the input norms backward, and the rows' parts of the biases' and gains' column sums, into sums
// of the block's own that are added up after the loop), then dh_{t-1} = dĜ_h W_hh
// (rk_gemm_packed), ⊙ the recurrent dropout mask, plus GRU's z ⊙ dh_t. Zoneout blends in the same
// worker right after each step's C call (c_t from the c̃_t the step wrote to the reserve's candidate
// part, and h_t in place), and backward splits dh_t and dc_t before it and adds the direct parts
// d ⊙ dh_t and d_c ⊙ dc_t to dh_{t-1} and dc_{t-1} after it.
// Without AVX2/FMA, or with RECURRENT_PACKED_WEIGHTS=0, the shared per-step loop runs instead.
// The reserve's layout is the shared loop's (LayerNormReserve); forward only writes it all too.
// T = time steps, B = batch, N = rows, H = hidden size, G = gates.
import CRecurrentGEMM
import RecurrentCore

extension CPUBackend {
    public func layerNormForwardSteps(_ loop: LayerNormForwardLoop) throws {
        let (w, s) = (loop.weights, loop.shape)
        let (h, gh) = (s.hiddenSize, s.gateWidth)
        // W_hhᵀ (H, GH) in 16-column panels.
        guard fusesTimeLoop, let packed = try packForRepeatedProducts(w.weightHH, k: h, n: gh, transB: .transposed)
        else { return try perStepLayerNormForwardSteps(loop) }
        let op = "layerNormForwardSteps"
        let p = try LayerNormPointers(loop.reserve, loop.norm, w, output: loop.output, packedHH: packed.storage,
                                      initialHidden: loop.io.initialHidden, initialCell: loop.io.initialCell,
                                      hiddenMask: loop.io.hiddenMask, zoneout: loop.io.zoneout, self, op)
        let plan = StepPlan(s, mode: .training)
        let blocks = batchBlocks(s)
        try withExtendedLifetime(packed) {
            try runConcurrently(blocks.count) { part in
                // Per block: the product (b, GH), and h_{t-1} ⊙ mask (b, H) with recurrent dropout.
                let rows = blocks[part].count
                let scratch = try Tensor.empty([rows * (gh + (p.hiddenMask == nil ? 0 : h))], on: self)
                try withExtendedLifetime(scratch) { plan.layerNormForward(rows: blocks[part], p, scratch: try self.pointer(scratch, op)) }
            }
        }
    }

    public func layerNormBackwardSteps(_ loop: LayerNormBackwardLoop) throws {
        let (w, s, io) = (loop.weights, loop.shape, loop.io)
        let (h, gh) = (s.hiddenSize, s.gateWidth)
        // W_hh as stored (GH, H).
        guard fusesTimeLoop, let packed = try packForRepeatedProducts(w.weightHH, k: gh, n: h, transB: .none)
        else { return try perStepLayerNormBackwardSteps(loop) }
        let op = "layerNormBackwardSteps"
        var p = try LayerNormPointers(loop.reserve, loop.norm, w, output: loop.output, packedHH: packed.storage,
                                      initialHidden: io.initialHidden, initialCell: io.initialCell, hiddenMask: io.hiddenMask,
                                      zoneout: io.zoneout, self, op)
        p.gradGates = try pointer(loop.gradGates, op)
        p.gradProducts = try pointer(loop.gradProducts, op)
        p.gradOutput = try loop.gradOutput.map { try pointer($0, op) }
        p.gradFinalHidden = try io.gradFinalHidden.map { try pointer($0, op) }
        p.gradFinalCell = try io.gradFinalCell.map { try pointer($0, op) }
        p.gradInitialHidden = try io.gradInitialHidden.map { try pointer($0, op) }
        p.gradInitialCell = try io.gradInitialCell.map { try pointer($0, op) }
        let pointers = p
        let plan = StepPlan(s, mode: .training)
        let blocks = batchBlocks(s)
        // Each block's column sums: b_ih, b_hh (GRU), γ_ih, γ_hh (GH each), γ_c, β_c (H each).
        let sumWidth = 4 * gh + 2 * h
        let sums = try Tensor.empty([blocks.count * sumWidth], on: self)
        try fill(sums, with: 0)
        let pointerSums = SendablePointer(try pointer(sums, op))
        try withExtendedLifetime((packed, sums)) {
            try runConcurrently(blocks.count) { part in
                // Per block: dh and dc carried from step t+1, dĜ_h W_hh and dc_t (b, H) each, GRU's
                // hidden-side gradients after the norm (b, GH), which only this step reads, and with
                // zoneout d ⊙ dh_t and d_c ⊙ dc_t (b, H) each.
                let width = 4 * h + (plan.isLSTM ? 0 : gh) + (pointers.zoneHidden == nil ? 0 : 2 * h)
                let carried = try Tensor.empty([blocks[part].count * width], on: self)
                try withExtendedLifetime(carried) {
                    plan.layerNormBackward(rows: blocks[part], pointers, carried: try self.pointer(carried, op),
                                           sums: pointerSums.pointer + part * sumWidth)
                }
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
    // @unchecked: each worker writes only its own rows of these buffers.
    typealias Pointer = UnsafeMutablePointer<Float>
    /// The reserve's parts (LayerNormReserve); `normalizedCell` and `deviationCell` nil for GRU.
    var gates: Pointer, extra: Pointer, normalizedHH: Pointer, deviationHH: Pointer
    var normalizedCell: Pointer?, deviationCell: Pointer?, normalizedIH: Pointer, deviationIH: Pointer, gainIH: Pointer
    var output: Pointer, initialHidden: Pointer?, initialCell: Pointer?
    var biasIH: Pointer, biasHH: Pointer, gainHH: Pointer, gainCell: Pointer?, biasCell: Pointer?
    /// Forward: W_hhᵀ (H, GH); backward: W_hh (GH, H); both from rk_pack_b.
    var packedHH: Pointer
    /// (B, H) recurrent dropout mask (nil: none).
    var hiddenMask: Pointer?
    /// (N, H) zoneout factors of h and (LSTM) c, and the reserve's c̃_t (LSTM); nil without zoneout.
    var zoneHidden: Pointer?, zoneCell: Pointer?, candidateCell: Pointer?
    var gradGates: Pointer? = nil, gradProducts: Pointer? = nil
    var gradOutput: Pointer? = nil, gradFinalHidden: Pointer? = nil, gradFinalCell: Pointer? = nil
    var gradInitialHidden: Pointer? = nil, gradInitialCell: Pointer? = nil

    init(_ v: LayerNormReserve, _ norm: RecurrentLayerNormWeights, _ w: RecurrentWeights, output: Tensor, packedHH: Tensor,
         initialHidden: Tensor?, initialCell: Tensor?, hiddenMask: Tensor?, zoneout: RecurrentZoneout?, _ backend: CPUBackend,
         _ op: String) throws {
        let pointer = { (x: Tensor) in try backend.pointer(x, op) }
        gates = try pointer(v.gates); extra = try pointer(v.extra)
        normalizedHH = try pointer(v.normalizedHH); deviationHH = try pointer(v.deviationHH)
        normalizedCell = try v.normalizedCell.map(pointer); deviationCell = try v.deviationCell.map(pointer)
        self.output = try pointer(output)
        self.initialHidden = try initialHidden.map(pointer); self.initialCell = try initialCell.map(pointer)
        biasIH = try pointer(w.biasIH); biasHH = try pointer(w.biasHH); gainHH = try pointer(norm.gainHH)
        gainCell = try norm.gainCell.map(pointer); biasCell = try norm.biasCell.map(pointer)
        self.packedHH = try pointer(packedHH)
        self.hiddenMask = try hiddenMask.map(pointer)
        zoneHidden = try zoneout.map { try pointer($0.hidden) }
        zoneCell = try zoneout?.cell.map(pointer)
        candidateCell = try v.candidateCell.map(pointer)
        normalizedIH = try pointer(v.normalizedIH); deviationIH = try pointer(v.deviationIH); gainIH = try pointer(norm.gainIH)
    }
}

extension StepPlan {
    /// Every forward step of a layer-normalised layer for batch rows `rows`; `scratch` holds (b, GH)
    /// floats, (b, H) more with a recurrent dropout mask.
    func layerNormForward(rows: Range<Int>, _ p: LayerNormPointers, scratch: UnsafeMutablePointer<Float>) {
        let (h, gh, first) = (hidden, gateCount * hidden, rows.lowerBound)
        let product = scratch, masked = scratch + rows.count * gh
        for step in 0..<steps {
            let end = min(rows.upperBound, sizes[step])
            if end <= first { break }
            let count = end - first, row = offsets[step] + first, earlier = step > 0 ? offsets[step - 1] + first : 0
            let previousHidden = step == 0 ? p.initialHidden.map { $0 + first * h } : p.output + earlier * h
            let previousCell = step == 0 ? p.initialCell.map { $0 + first * h } : p.extra + earlier * h
            // h̄_{t-1} W_hhᵀ (b, GH), h̄ = h_{t-1} ⊙ mask with recurrent dropout; zeros without h_{t-1}.
            if var productInput = previousHidden {
                if let mask = p.hiddenMask.map({ $0 + first * h }) {
                    for k in 0..<(count * h) { masked[k] = productInput[k] * mask[k] }
                    productInput = masked
                }
                rk_gemm_packed(Int32(count), Int32(gh), Int32(h), productInput, Int32(h), p.packedHH, product, Int32(gh), 0)
            } else {
                product.update(repeating: 0, count: count * gh)
            }
            var cellStep = rk_layer_norm_forward(
                rows: Int32(count), hidden: Int32(h), gates: p.gates + row * gh, normalized_input: p.normalizedIH + row * gh,
                input_inverse: p.deviationIH + row, gain_ih: p.gainIH, product: product,
                normalized_product: p.normalizedHH + row * gh, product_inverse: p.deviationHH + row,
                gain_hh: p.gainHH, bias_ih: p.biasIH, bias_hh: p.biasHH, previous: isLSTM ? previousCell : previousHidden,
                state: (p.candidateCell ?? p.extra) + row * h, normalized_cell: p.normalizedCell.map { $0 + row * h },
                cell_inverse: p.deviationCell.map { $0 + row }, gain_cell: p.gainCell, bias_cell: p.biasCell,
                hidden_out: p.output + row * h)
            rk_layer_norm_cell_forward(cell, &cellStep)
            // Zoneout: c_t = c̃_t + d_c ⊙ (c_{t-1} − c̃_t), h_t = h̃_t + d ⊙ (h_{t-1} − h̃_t) (no previous state: zeros).
            let units = count * h
            if let factors = p.zoneCell.map({ $0 + row * h }), let candidate = p.candidateCell.map({ $0 + row * h }) {
                zoneoutBlend(p.extra + row * h, from: candidate, previous: previousCell, factors: factors, count: units)
            }
            if let factors = p.zoneHidden.map({ $0 + row * h }) {
                let hidden = p.output + row * h
                zoneoutBlend(hidden, from: hidden, previous: previousHidden, factors: factors, count: units)
            }
        }
    }

    /// Every backward step of a layer-normalised layer for batch rows `rows`, last step first;
    /// `carried` holds (b, 4H) floats, (b, GH) more for GRU; `sums` (4·GH + 2H, zeros on entry) gets the block's column
    /// sums for b_ih, b_hh (GRU), γ_ih, γ_hh, γ_c and β_c (LSTM).
    func layerNormBackward(rows: Range<Int>, _ p: LayerNormPointers, carried: UnsafeMutablePointer<Float>,
                           sums: UnsafeMutablePointer<Float>) {
        let (h, gh, first) = (hidden, gateCount * hidden, rows.lowerBound)
        let gradHidden = carried, gradCell = carried + rows.count * h, product = gradCell + rows.count * h
        let gradCellOutput = product + rows.count * h, gradHiddenGates = gradCellOutput + rows.count * h
        let zoned = gradHiddenGates + (isLSTM ? 0 : rows.count * gh), zonedCell = zoned + rows.count * h
        for step in stride(from: steps - 1, through: 0, by: -1) {
            let end = min(rows.upperBound, sizes[step])
            if end <= first { continue }
            // Sequences whose last step this is start from the gradients of their final states.
            let startingFrom = max(first, step + 1 < steps ? sizes[step + 1] : 0)
            if startingFrom < end {
                let local = startingFrom - first, count = (end - startingFrom) * h
                copyOrZero(p.gradFinalHidden.map { $0 + startingFrom * h }, to: gradHidden + local * h, count: count)
                copyOrZero(isLSTM ? p.gradFinalCell.map { $0 + startingFrom * h } : nil, to: gradCell + local * h, count: count)
            }
            let count = end - first, row = offsets[step] + first, earlier = step > 0 ? offsets[step - 1] + first : 0
            let previousHidden = step == 0 ? p.initialHidden.map { $0 + first * h } : p.output + earlier * h
            let previousCell = step == 0 ? p.initialCell.map { $0 + first * h } : p.extra + earlier * h
            let gradProducts = p.gradProducts! + row * gh
            // Zoneout: dh_t = dy_t + dh_{t+1} whole, d ⊙ dh_t goes to h_{t-1} and dh̃_t = dh_t − d ⊙ dh_t to the
            // cell; likewise d_c ⊙ dc_t to c_{t-1} and dc_t − d_c ⊙ dc_t through the cell.
            var gradOutput = p.gradOutput.map { $0 + row * h }
            let units = count * h
            if let factors = p.zoneHidden.map({ $0 + row * h }) {
                zoneoutSplit(gradHidden, adding: gradOutput, factors: factors, direct: zoned, count: units)
                gradOutput = nil
            }
            let cellFactors = isLSTM ? p.zoneCell.map { $0 + row * h } : nil
            if let cellFactors { zoneoutSplit(gradCell, adding: nil, factors: cellFactors, direct: zonedCell, count: units) }
            var cellStep = rk_layer_norm_backward(
                rows: Int32(count), hidden: Int32(h), gates: p.gates + row * gh,
                state: (isLSTM ? p.candidateCell ?? p.extra : p.extra) + row * h,
                previous: isLSTM ? previousCell : previousHidden, normalized_product: p.normalizedHH + row * gh,
                product_inverse: p.deviationHH + row, gain_hh: p.gainHH, normalized_cell: p.normalizedCell.map { $0 + row * h },
                cell_inverse: p.deviationCell.map { $0 + row }, gain_cell: p.gainCell,
                grad_output: gradOutput, grad_hidden: gradHidden, grad_cell: isLSTM ? gradCell : nil,
                grad_gates: p.gradGates! + row * gh, grad_gates_hidden: isLSTM ? nil : gradHiddenGates,
                grad_cell_output: isLSTM ? gradCellOutput : nil, grad_product: gradProducts,
                normalized_input: p.normalizedIH + row * gh, input_inverse: p.deviationIH + row, gain_ih: p.gainIH,
                sum_bias_ih: sums, sum_bias_hh: isLSTM ? nil : sums + gh, sum_gain_ih: sums + 2 * gh, sum_gain_hh: sums + 3 * gh,
                sum_gain_cell: isLSTM ? sums + 4 * gh : nil, sum_bias_cell: isLSTM ? sums + 4 * gh + h : nil)
            rk_layer_norm_cell_backward(cell, &cellStep)
            if cellFactors != nil { for k in 0..<units { gradCell[k] += zonedCell[k] } }   // dc_{t-1} = f ⊙ dc̃_t + d_c ⊙ dc_t
            // dh_{t-1} = (dĜ_h W_hh) ⊙ mask [+ GRU's z ⊙ dh_t, which the step left in gradHidden] [+ d ⊙ dh_t]:
            // (b, GH) × (GH, H), not needed at step 0 unless dh_0 is asked for.
            guard step > 0 || p.gradInitialHidden != nil else { continue }
            let direct = p.hiddenMask != nil || !isLSTM
            rk_gemm_packed(Int32(count), Int32(h), Int32(gh), gradProducts, Int32(gh), p.packedHH, direct ? product : gradHidden,
                           Int32(h), 0)
            if direct {
                let mask = p.hiddenMask.map { $0 + first * h }
                switch (isLSTM, mask) {
                case (true, let mask?): for k in 0..<units { gradHidden[k] = product[k] * mask[k] }
                case (false, let mask?): for k in 0..<units { gradHidden[k] += product[k] * mask[k] }
                default: for k in 0..<units { gradHidden[k] += product[k] }
                }
            }
            if p.zoneHidden != nil { for k in 0..<units { gradHidden[k] += zoned[k] } }
        }
        p.gradInitialHidden.map { ($0 + first * h).update(from: gradHidden, count: rows.count * h) }
        if isLSTM { p.gradInitialCell.map { ($0 + first * h).update(from: gradCell, count: rows.count * h) } }
    }
}
