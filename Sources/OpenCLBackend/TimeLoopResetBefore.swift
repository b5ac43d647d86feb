// The fused time loop of a GRU with the reset gate before the recurrent product (Keras's
// reset_after=False) on OpenCL: two launches per step each way (Kernels/time_loop_reset_before.cl),
// where the shared per-step loop takes two CLBlast products and two or more cell kernels, and more
// with recurrent dropout and zoneout. The reserve is the shared loop's: r, z, n in the gates, r ⊙ h̄
// in the extra part (two rolling slots forward only). Backward ends with one launch for dh_0 when
// the initial state has a gradient.
// T = steps, B = batch, B_t = rows at step t, H = hidden size (= R).
import RecurrentCore

extension OpenCLBackend {
    func resetBeforeForwardSteps(_ loop: RecurrentForwardLoop) throws {
        let (io, w, s) = (loop.io, loop.weights, loop.shape)
        let (t, b, h) = (s.sequenceLength, s.batchSize, s.hiddenSize)
        let offsets = s.stepOffsets
        guard let resetHiddens = loop.extra else {
            throw RecurrentError.invalidState("reset-before GRU time loop: the reserve has no r ⊙ h part")
        }
        for step in 0..<t {
            let rows = s.rows(atStep: step)
            let previousHidden = step == 0 ? try stateRows(io.initialHidden, batch: b, rows, width: h)
                                           : try stepRows(loop.output, offsets, step - 1, rows)   // (B_t, H)
            let gates = try stepRows(loop.gates, offsets, step, rows)                           // (B_t, 3H)
            let resetHidden = try loop.stepState(resetHiddens, step: step, 0..<rows)            // (B_t, H)
            let range = stepRange(columns: h, rows: rows)
            try launch(.resetBeforeGates, global: range.global, local: range.local,
                       [.tensor(gates), .tensor(resetHidden), .optional(previousHidden),
                        .optional(stateRows(io.hiddenMask, batch: b, rows, width: h)),                  // (B_t, H)
                        .tensor(w.weightHH), .tensor(w.biasIH), .tensor(w.biasHH), .size(rows), .size(h)],
                       what: "r and z of step \(step) of \(t), \(rows) rows")
            try launch(.resetBeforeForward, global: range.global, local: range.local,
                       [.tensor(stepRows(loop.output, offsets, step, rows)), .tensor(gates), .tensor(resetHidden),
                        .optional(previousHidden), .optional(io.zoneout.map { try stepRows($0.hidden, offsets, step, rows) }),
                        .tensor(w.weightHH), .tensor(w.biasIH), .tensor(w.biasHH), .size(rows), .size(h)],
                       what: "n and h of step \(step) of \(t), \(rows) rows")
        }
    }

    func resetBeforeBackwardSteps(_ loop: RecurrentBackwardLoop) throws {
        let (io, w, s) = (loop.io, loop.weights, loop.shape)
        let (t, b, h) = (s.sequenceLength, s.batchSize, s.hiddenSize)
        let offsets = s.stepOffsets
        let gradOutput = try io.gradOutput?.reshaped([s.rowCount, h])                          // (N, H)
        // Carried from step t to t−1: the direct part of dh_{t-1} and r ⊙ d(r ⊙ h̄), (B, H) each.
        let carry = try Tensor.empty([b, h], on: self), resetGrad = try Tensor.empty([b, h], on: self)
        // One gate-gradient tensor for both sides: gradGatesHidden is gradGatesInput.
        let gradGates = loop.gradGatesInput                                                     // (N, 3H)
        for step in stride(from: t - 1, through: 0, by: -1) {
            let rows = s.rows(atStep: step)
            let continuing = step + 1 < t ? s.rows(atStep: step + 1) : 0
            let dG = try stepRows(gradGates, offsets, step, rows)                               // (B_t, 3H)
            let later = continuing > 0 ? try stepRows(gradGates, offsets, step + 1, continuing) : dG
            let mask = try stateRows(io.hiddenMask, batch: b, rows, width: h)                  // (B_t, H) or nil
            let previousHidden = step == 0 ? try stateRows(io.initialHidden, batch: b, rows, width: h)
                                           : try stepRows(loop.output, offsets, step - 1, rows)
            let gates = try stepRows(loop.gates, offsets, step, rows)
            let range = stepRange(columns: h, rows: rows)
            try launch(.resetBeforeBackward, global: range.global, local: range.local,
                       [.tensor(dG), .tensor(later), .size(continuing), .tensor(resetGrad), .tensor(carry), .optional(mask),
                        .optional(io.zoneout.map { try stepRows($0.hidden, offsets, step, rows) }),
                        .optional(gradOutput.map { try stepRows($0, offsets, step, rows) }),
                        .optional(stateRows(io.gradFinalHidden, batch: b, rows, width: h)),
                        .tensor(gates), .optional(previousHidden), .tensor(w.weightHH), .size(rows), .size(h)],
                       what: "dz and dn of step \(step) of \(t), \(rows) rows")
            try launch(.resetBeforeResetGradient, global: range.global, local: range.local,
                       [.tensor(dG), .tensor(resetGrad), .tensor(gates), .optional(previousHidden), .optional(mask),
                        .tensor(w.weightHH), .size(rows), .size(h)],
                       what: "dr of step \(step) of \(t), \(rows) rows")
        }
        if let gradInitialHidden = io.gradInitialHidden {
            let range = stepRange(columns: h, rows: b)
            try launch(.resetBeforeInitialGradient, global: range.global, local: range.local,
                       [.tensor(gradInitialHidden), .tensor(gradGates.slice(0..<b)), .tensor(resetGrad), .tensor(carry),
                        .optional(io.hiddenMask), .tensor(w.weightHH), .size(b), .size(h)],
                       what: "dh of the initial state")
        }
    }
}
