// The CPU backend's time loop of a GRU with the reset gate before the recurrent product (Cho et al.
// 2014; Keras's `reset_after=False`; the equations in RecurrentCore's Backend+ResetBeforeGRU.swift),
// in the style of the plain cells' fused loop (RecurrentSteps.swift): the batch is cut into row
// blocks (`stepBlocks`) and the threads claim the blocks' steps one at a time, the block furthest
// behind first (`runBlockSteps`, StepQueue.swift; backward each block's steps last first); W_hh's r
// and z rows and its n rows are packed once per pass, each for its own product; each block step is
// one C call (rk_reset_before_forward_step / rk_reset_before_backward_step in
// Sources/CRecurrentGEMM/gru_reset_before.c) that makes the [r | z] product of h̄ = h_{t-1} (⊙ mask),
// the reset gate and r ⊙ h̄, the n product and the n cell with zoneout's blend; backward the mirror
// of it, dh_{t-1} from both products. The reserve holds what the shared per-step loop writes (r, z,
// n in the gates, r ⊙ h̄ in the extra part), so the whole-sequence weight gradients that follow are unchanged.
// T = time steps, B = batch, N = rows, H = hidden size (the width of h).
import CRecurrentGEMM
import RecurrentCore

extension CPUBackend {
    /// The fused forward time loop of a reset-before GRU (training and forward only).
    func resetBeforeForwardSteps(_ loop: RecurrentForwardLoop) throws {
        let (w, s) = (loop.weights, loop.shape)
        let h = s.hiddenSize
        let op = "resetBeforeForwardSteps"
        if !loop.inputProjected {
            // x W_ihᵀ for all steps first: (N, I) × (I, 3H).
            try gemm(loop.gates, loop.io.input, w.weightIH, GEMMShape(m: s.rowCount, n: s.gateWidth, k: s.inputSize, transB: .transposed))
        }
        // W_{hr,hz}ᵀ (H, 2H) and W_hnᵀ (H, H) in 16-column panels, from W_hh (3H, H).
        let packed = try ResetBeforeWeights(w.weightHH, hidden: h, transposed: true, on: self, op)
        let p = ResetBeforePointers(
            gates: try pointer(loop.gates, op), extra: try pointer(try loop.extra.unwrap(op), op),
            output: try pointer(loop.output, op), initialHidden: try loop.io.initialHidden.map { try pointer($0, op) },
            biasIH: try pointer(w.biasIH, op), biasHH: try pointer(w.biasHH, op),
            hiddenMask: try loop.io.hiddenMask.map { try pointer($0, op) },
            zoneHidden: try loop.io.zoneout.map { try pointer($0.hidden, op) },
            packedRZ: try pointer(packed.rz, op), packedN: try pointer(packed.n, op))
        let plan = StepPlan(s, mode: loop.mode)
        let blocks = stepBlocks(s)
        // Per block: the C step's scratch (b, 3H), the blocks' one after another.
        let scratch = try Tensor.empty([s.batchSize * 3 * h], on: self)
        let base = SendablePointer(try pointer(scratch, op))
        try withExtendedLifetime((packed, scratch)) {
            try runBlockSteps(blocks.map { plan.stepCount($0) }) { block, step in
                let rows = blocks[block]
                plan.resetBeforeForward(step: step, rows: rows, p, scratch: base.pointer + rows.lowerBound * 3 * h)
            }
        }
    }

    /// The fused backward time loop of a reset-before GRU: the gate gradients of every step (one
    /// tensor, the same on the input and hidden sides) and dh_0.
    func resetBeforeBackwardSteps(_ loop: RecurrentBackwardLoop) throws {
        let (w, s, io) = (loop.weights, loop.shape, loop.io)
        let h = s.hiddenSize
        let op = "resetBeforeBackwardSteps"
        // W_{hr,hz} (2H, H) and W_hn (H, H) as stored.
        let packed = try ResetBeforeWeights(w.weightHH, hidden: h, transposed: false, on: self, op)
        let p = ResetBeforePointers(
            gates: try pointer(loop.gates, op), extra: try pointer(try loop.extra.unwrap(op), op),
            output: try pointer(loop.output, op), initialHidden: try io.initialHidden.map { try pointer($0, op) },
            biasIH: try pointer(w.biasIH, op), biasHH: try pointer(w.biasHH, op),
            hiddenMask: try io.hiddenMask.map { try pointer($0, op) },
            zoneHidden: try io.zoneout.map { try pointer($0.hidden, op) },
            packedRZ: try pointer(packed.rz, op), packedN: try pointer(packed.n, op),
            gradGates: try pointer(loop.gradGatesInput, op), gradOutput: try io.gradOutput.map { try pointer($0, op) },
            gradFinalHidden: try io.gradFinalHidden.map { try pointer($0, op) },
            gradInitialHidden: try io.gradInitialHidden.map { try pointer($0, op) })
        let plan = StepPlan(s, mode: .training)
        let blocks = stepBlocks(s)
        // Per block: dh carried from step t+1 (b, H), then the step's scratch (b, 2H); the blocks' one after another.
        let carried = try Tensor.empty([s.batchSize * 3 * h], on: self)
        let base = SendablePointer(try pointer(carried, op))
        let counts = blocks.map { plan.stepCount($0) }
        try withExtendedLifetime((packed, carried)) {
            try runBlockSteps(counts) { block, done in
                // The block's steps last first.
                let rows = blocks[block]
                plan.resetBeforeBackward(step: counts[block] - 1 - done, rows: rows, p, carried: base.pointer + rows.lowerBound * 3 * h)
            }
        }
    }
}

/// W_hh (3H, H) of a reset-before GRU packed for its two per-step products: forward as op(B) =
/// W_{hr,hz}ᵀ (H × 2H) and W_hnᵀ (H × H), backward as stored, W_{hr,hz} (2H × H) and W_hn (H × H).
private struct ResetBeforeWeights {
    let rz: Tensor, n: Tensor

    init(_ weightHH: Tensor, hidden h: Int, transposed: Bool, on backend: CPUBackend, _ op: String) throws {
        guard h > 0, 3 * h <= Int(Int32.max) else {
            throw RecurrentError.invalidArgument(name: "\(op) hidden size", expected: "1...\(Int(Int32.max) / 3)", got: "\(h)")
        }
        let weights = try backend.pointer(weightHH, count: 3 * h * h, op)
        let h32 = Int32(h), t: Int32 = transposed ? 1 : 0
        // Forward: k = H (the width of h̄), n = 2H columns; backward: k = 2H gate gradients, n = H.
        let (k, columns) = transposed ? (h32, 2 * h32) : (2 * h32, h32)
        rz = try Tensor.empty([rk_packed_size(k, columns)], on: backend)
        n = try Tensor.empty([rk_packed_size(h32, h32)], on: backend)
        rk_pack_b(try backend.pointer(rz, op), weights, k, columns, h32, t)
        rk_pack_b(try backend.pointer(n, op), weights + 2 * h * h, h32, h32, h32, t)
    }
}

/// The raw pointers of a reset-before time loop (all validated by the caller and kept alive across
/// the loop).
struct ResetBeforePointers: @unchecked Sendable {
    // @unchecked: each row block's steps, one at a time, write only the block's own rows of these buffers.
    typealias Pointer = UnsafeMutablePointer<Float>
    /// (N, 3H) r, z, n; (N, H) r ⊙ h̄ (forward only two rolling (B, H) slots); (N, H) h_t; (B, H) h_0.
    var gates: Pointer, extra: Pointer, output: Pointer, initialHidden: Pointer?
    var biasIH: Pointer, biasHH: Pointer
    /// (B, H) recurrent dropout mask and (N, H) zoneout factors of h; nil: none.
    var hiddenMask: Pointer?, zoneHidden: Pointer?
    /// ResetBeforeWeights' two packed matrices (forward or backward layout).
    var packedRZ: Pointer, packedN: Pointer
    /// Backward: (N, 3H) gate gradients written, (N, H) dy, (B, H) dh_T, (B, H) dh_0 written.
    var gradGates: Pointer? = nil, gradOutput: Pointer? = nil, gradFinalHidden: Pointer? = nil, gradInitialHidden: Pointer? = nil
}

extension StepPlan {
    /// Forward step `step` (< stepCount(rows)) of batch rows `rows`; `scratch` holds (b, 3H) floats.
    func resetBeforeForward(step: Int, rows: Range<Int>, _ p: ResetBeforePointers, scratch: UnsafeMutablePointer<Float>) {
        let h = hidden, first = rows.lowerBound
        let end = min(rows.upperBound, sizes[step])
        let row = offsets[step] + first   // the block's first row of this step in N
        let previous = step == 0 ? p.initialHidden.map { $0 + first * h } : p.output + (offsets[step - 1] + first) * h
        var cell = rk_reset_before_forward(
            rows: Int32(end - first), hidden: Int32(h), gates: p.gates + row * 3 * h, bias_ih: p.biasIH, bias_hh: p.biasHH,
            previous: previous, mask: p.hiddenMask.map { $0 + first * h }, zoneout: p.zoneHidden.map { $0 + row * h },
            reset_hidden: p.extra + stateRow(step, first) * h, hidden_out: p.output + row * h, scratch: scratch,
            packed_rz: p.packedRZ, packed_n: p.packedN)
        rk_reset_before_forward_step(&cell)
    }

    /// Backward step `step` (< stepCount(rows); the block runs them last first) of batch rows `rows`;
    /// `carried` holds (b, 3H) floats: dh carried from step t+1, then the C step's scratch. Step 0 ends
    /// the block: it writes dh_0.
    func resetBeforeBackward(step: Int, rows: Range<Int>, _ p: ResetBeforePointers, carried: UnsafeMutablePointer<Float>) {
        let h = hidden, first = rows.lowerBound
        let gradHidden = carried, scratch = carried + rows.count * h   // (b, H), (b, 2H)
        let end = min(rows.upperBound, sizes[step])
        // Sequences whose last step this is start from the gradients of their final states.
        let startingFrom = max(first, step + 1 < steps ? sizes[step + 1] : 0)
        if startingFrom < end {
            let destination = gradHidden + (startingFrom - first) * h, count = (end - startingFrom) * h
            if let final = p.gradFinalHidden {
                destination.update(from: final + startingFrom * h, count: count)
            } else {
                destination.update(repeating: 0, count: count)
            }
        }
        let row = offsets[step] + first
        let previous = step == 0 ? p.initialHidden.map { $0 + first * h } : p.output + (offsets[step - 1] + first) * h
        // dh_{t-1} through both products, not needed at step 0 unless dh_0 is asked for.
        let needsPrevious = step > 0 || p.gradInitialHidden != nil
        var cell = rk_reset_before_backward(
            rows: Int32(end - first), hidden: Int32(h), gates: p.gates + row * 3 * h, previous: previous,
            mask: p.hiddenMask.map { $0 + first * h }, zoneout: p.zoneHidden.map { $0 + row * h },
            grad_output: p.gradOutput.map { $0 + row * h }, grad_hidden: gradHidden, grad_gates: p.gradGates! + row * 3 * h,
            scratch: scratch, packed_n: p.packedN, packed_rz: needsPrevious ? p.packedRZ : nil)
        rk_reset_before_backward_step(&cell)
        guard step == 0 else { return }
        p.gradInitialHidden.map { ($0 + first * h).update(from: gradHidden, count: rows.count * h) }
    }
}

extension Optional where Wrapped == Tensor {
    /// The tensor, or an error saying that the reset-before loop's reserve has no r ⊙ h̄ part.
    fileprivate func unwrap(_ op: String) throws -> Tensor {
        guard let self else { throw RecurrentError.invalidState("\(op): the reserve has no r ⊙ h̄ part") }
        return self
    }
}
