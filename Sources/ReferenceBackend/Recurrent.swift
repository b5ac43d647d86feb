// Reference whole-layer recurrent forward and backward, written straight from PyTorch's
// equations with a per-step loop and textbook BPTT. Independent of the default
// time loop in Backend+Recurrent.swift and of the per-step cell ops, but it fills the reserve
// with the same layout, so either side's reserve can feed the other's backward.
// T = time steps, B = batch, I = input size, H = hidden size, G = gates (1, 4, 3),
// P = projection size (LSTM's proj_size), R = width of h (P when projecting, else H).
//
// Reserve layout (RecurrentLayerShape.reserveCount): post-activation gates (N, G·H)
// (RNN: h_t; LSTM: i, f, g, o; GRU: r, z, n), then (N, H) of c_t (LSTM) or
// W_hn h_{t-1} + b_hn (GRU; r_t ⊙ h̄_{t-1} for a reset-before GRU), then for a projecting LSTM (N, H) of m_t = o_t ⊙ tanh(c_t), then
// for an LSTM with zoneout (N, H) of c̃_t, the cell state before zoneout (tanh and m_t read it).
// Recurrent dropout masks what the product reads; zoneout blends h (and c) with the previous step's.
// With a projection h_t = W_hr m_t (P): h states, outputs and W_hh's columns are P wide, c keeps H.
// A packed batch (variable lengths) is unpacked to (T, B, ·); a sequence that has ended keeps
// its state unchanged through the remaining steps, so its final state is the one at its own
// length and its final-state gradient enters at its own last step.

import Foundation
import RecurrentCore

extension ReferenceBackend {
    /// `Σ_c W[r, c]·v[c] + bias[r]` for every row r of W (rows, columns), accumulated in Double.
    static func affine(_ w: [Float], _ v: ArraySlice<Float>, _ bias: [Float], rows: Int, columns: Int) -> [Float] {
        let v = Array(v)
        return (0..<rows).map { r in
            var sum = Double(bias[r])
            for c in 0..<columns { sum += Double(w[r * columns + c]) * Double(v[c]) }
            return Float(sum)
        }
    }

    /// The packed rows of `packed` (N, width) spread into (T, B, width), zeros where a sequence has ended.
    static func unpack(_ packed: [Float], width: Int, _ s: RecurrentLayerShape) -> [Float] {
        guard s.isPacked else { return packed }
        let (t, b, offsets) = (s.sequenceLength, s.batchSize, s.stepOffsets)
        var padded = [Float](repeating: 0, count: t * b * width)
        for step in 0..<t {
            for row in 0..<s.rows(atStep: step) {
                for k in 0..<width { padded[(step * b + row) * width + k] = packed[(offsets[step] + row) * width + k] }
            }
        }
        return padded
    }

    /// The rows of `padded` (T, B, width) that a packed batch holds, in packed order (N, width).
    static func pack(_ padded: [Float], width: Int, _ s: RecurrentLayerShape) -> [Float] {
        guard s.isPacked else { return padded }
        let b = s.batchSize
        var packed: [Float] = []
        for step in 0..<s.sequenceLength {
            for row in 0..<s.rows(atStep: step) { packed += padded[((step * b + row) * width)..<((step * b + row + 1) * width)] }
        }
        return packed
    }

    /// One layer, one direction, over the whole sequence: for t in 0..<T and every batch row,
    /// `a = W_ih x_t + b_ih` and `a_h = W_hh h_{t-1} + b_hh` (G·H each), then the cell's equations;
    /// a projecting LSTM then takes `h_t = W_hr (o_t ⊙ tanh(c_t))`.
    public func recurrentForward(_ io: RecurrentForwardIO, _ w: RecurrentWeights, _ s: RecurrentLayerShape) throws {
        try io.validate(s)
        try w.validate(s, "reference recurrent forward")
        if s.layerNorm { return try referenceLayerNormForward(io, w, s) }
        let (t, b, i, h, r, gh) = (s.sequenceLength, s.batchSize, s.inputSize, s.hiddenSize, s.outputSize, s.gateWidth)
        let projecting = s.projectionSize != nil
        let x = Self.unpack(try read(io.input, "recurrent forward input"), width: i, s)   // (T, B, I)
        let wih = try read(w.weightIH, "recurrent forward weight_ih")              // (GH, I)
        let whh = try read(w.weightHH, "recurrent forward weight_hh")              // (GH, R)
        let bih = try read(w.biasIH, "recurrent forward bias_ih")                  // (GH)
        let bhh = try read(w.biasHH, "recurrent forward bias_hh")                  // (GH)
        let whr = try w.weightHR.map { try read($0, "recurrent forward weight_hr") } ?? []   // (P, H)
        var hState = try readOrZeros(io.initialHidden, count: b * r, "recurrent forward initial hidden")  // (B, R)
        var cState = try readOrZeros(io.initialCell, count: b * h, "recurrent forward initial cell")      // (B, H)
        var output = [Float](repeating: 0, count: t * b * r)                      // (T, B, R)
        var gateReserve = [Float](repeating: 0, count: t * b * gh)                 // (T, B, GH)
        var extraReserve = [Float](repeating: 0, count: t * b * h * s.cell.extraReserveWidth)  // (T, B, H)
        var projectedReserve = [Float](repeating: 0, count: projecting ? t * b * h : 0)        // (T, B, H) m_t
        let mask = try io.hiddenMask.map { try read($0, "recurrent forward hidden mask") }  // (B, R) or nil
        // Zoneout factors (T, B, R) and (T, B, H), and c̃_t (T, B, H) of an LSTM with zoneout.
        let zoneHidden = try io.zoneout.map { Self.unpack(try read($0.hidden, "recurrent forward zoneout"), width: r, s) }
        let zoneCell = try io.zoneout?.cell.map { Self.unpack(try read($0, "recurrent forward zoneout"), width: h, s) }
        var candidateReserve = [Float](repeating: 0, count: s.keepsCandidateCell ? t * b * h : 0)

        for step in 0..<t {
            var hNext = hState, cNext = cState        // rows whose sequence has ended keep their state
            for row in 0..<s.rows(atStep: step) {
                let xt = x[((step * b + row) * i)..<((step * b + row + 1) * i)]
                // What the recurrent product reads: h_{t-1}, or h_{t-1} ⊙ mask with recurrent dropout.
                let ht = (0..<r).map { hState[row * r + $0] * (mask?[row * r + $0] ?? 1) }[...]
                let ax = Self.affine(wih, xt, bih, rows: gh, columns: i)           // W_ih x_t + b_ih
                let ah = Self.affine(whh, ht, bhh, rows: gh, columns: r)           // W_hh (h_{t-1} ⊙ mask) + b_hh
                let gateBase = (step * b + row) * gh, stateBase = (step * b + row) * h
                // Reset before: r ⊙ h̄ from the first 2H rows' r, then W_hn (r ⊙ h̄) + b_hn.
                let resetHidden = s.resetBefore ? (0..<h).map { j in Self.sigmoid(ax[j] + ah[j]) * ht[j] } : []
                let newGate = s.resetBefore
                    ? Self.affine(Array(whh[(2 * h * r)...]), resetHidden[...], Array(bhh[(2 * h)...]), rows: h, columns: r) : []
                var cellOutput = [Float](repeating: 0, count: h)                   // the cell's h (m_t when projecting)
                for j in 0..<h {
                    let e = row * h + j
                    switch s.cell {
                    case .rnnTanh, .rnnRelu:
                        let a = ax[j] + ah[j]
                        let value = s.cell == .rnnTanh ? Foundation.tanh(a) : Swift.max(a, 0)
                        gateReserve[gateBase + j] = value
                        cellOutput[j] = value
                    case .lstm:
                        let ig = Self.sigmoid(ax[j] + ah[j])
                        let fg = Self.sigmoid(ax[h + j] + ah[h + j])
                        let gg = Foundation.tanh(ax[2 * h + j] + ah[2 * h + j])
                        let og = Self.sigmoid(ax[3 * h + j] + ah[3 * h + j])
                        let candidate = fg * cState[e] + ig * gg                   // c̃_t
                        // Zoneout: c_t = c̃_t + d ⊙ (c_{t-1} − c̃_t); h̃_t reads c̃_t.
                        let c = zoneCell.map { candidate + $0[stateBase + j] * (cState[e] - candidate) } ?? candidate
                        cNext[e] = c
                        cellOutput[j] = og * Foundation.tanh(candidate)
                        for (k, value) in [ig, fg, gg, og].enumerated() { gateReserve[gateBase + k * h + j] = value }
                        extraReserve[stateBase + j] = c
                        if s.keepsCandidateCell { candidateReserve[stateBase + j] = candidate }
                    case .gru:
                        let r = Self.sigmoid(ax[j] + ah[j])
                        let z = Self.sigmoid(ax[h + j] + ah[h + j])
                        let hn = ah[2 * h + j]                                     // W_hn h_{t-1} + b_hn
                        // Reset before: W_hn (r ⊙ h̄) + b_hn, kept r ⊙ h̄; after: r ⊙ (W_hn h̄ + b_hn), kept W_hn h̄ + b_hn.
                        let n = s.resetBefore ? Foundation.tanh(ax[2 * h + j] + newGate[j]) : Foundation.tanh(ax[2 * h + j] + r * hn)
                        cellOutput[j] = (1 - z) * n + z * hState[e]
                        gateReserve[gateBase + j] = r
                        gateReserve[gateBase + h + j] = z
                        gateReserve[gateBase + 2 * h + j] = n
                        extraReserve[stateBase + j] = s.resetBefore ? resetHidden[j] : hn
                    }
                }
                // h̃_t: W_hr m_t (P) when projecting, else the cell's output itself; with zoneout
                // h_t = h̃_t + d ⊙ (h_{t-1} − h̃_t).
                var newHidden: [Float]
                if projecting {
                    for j in 0..<h { projectedReserve[stateBase + j] = cellOutput[j] }
                    newHidden = Self.affine(whr, cellOutput[...], [Float](repeating: 0, count: r), rows: r, columns: h)
                } else {
                    newHidden = cellOutput
                }
                if let zoneHidden {
                    let base = (step * b + row) * r
                    newHidden = (0..<r).map { newHidden[$0] + zoneHidden[base + $0] * (hState[row * r + $0] - newHidden[$0]) }
                }
                for k in 0..<r {
                    hNext[row * r + k] = newHidden[k]
                    output[(step * b + row) * r + k] = newHidden[k]
                }
            }
            hState = hNext
            cState = cNext
        }
        try write(Self.pack(output, width: r, s), to: io.output, "recurrent forward output")
        // Forward only, nothing is kept for backward: the reserve is a workspace the reference does not need.
        if io.mode == .training {
            try write(Self.pack(gateReserve, width: gh, s) + Self.pack(extraReserve, width: h * s.cell.extraReserveWidth, s)
                        + Self.pack(projectedReserve, width: projecting ? h : 0, s)
                        + Self.pack(candidateReserve, width: s.keepsCandidateCell ? h : 0, s),
                      to: io.reserve, "recurrent forward reserve")
        }
        if let finalHidden = io.finalHidden { try write(hState, to: finalHidden, "recurrent forward final hidden") }
        if let finalCell = io.finalCell, s.cell == .lstm { try write(cState, to: finalCell, "recurrent forward final cell") }
    }

    /// Textbook backpropagation through time, from t = T−1 down to 0, reading the activations from
    /// the reserve and h_{t-1} from the output (or h_0). Per step and batch row: dh = dy_t + dh_{t+1}
    /// (a projecting LSTM: `dW_hr += dh m_tᵀ` with m_t = o ⊙ tanh(c_t) recomputed from the gates and
    /// c_t, and the cell sees `W_hrᵀ dh`), the pre-activation
    /// gate gradients dGx (input side) and dGh (hidden side; they differ only for GRU's n gate),
    /// then `dW_ih += dGx x_tᵀ`, `dW_hh += dGh h_{t-1}ᵀ`, `db_ih += dGx`, `db_hh += dGh`,
    /// `dx_t = W_ihᵀ dGx`, `dh_{t-1} = W_hhᵀ dGh` (+ z⊙dh for GRU), `dc_{t-1} = f⊙dc`. With a recurrent
    /// dropout mask m the product saw h_{t-1} ⊙ m: `dW_hh += dGh (h_{t-1} ⊙ m)ᵀ`, `dh_{t-1} = m ⊙ W_hhᵀ dGh (+ z⊙dh)`.
    /// Parameter gradients accumulate (their sums are kept in Double and added at the end);
    /// input and state gradients are overwritten.
    public func recurrentBackward(_ io: RecurrentBackwardIO, _ w: RecurrentWeights, _ g: RecurrentWeights,
                                  _ s: RecurrentLayerShape) throws {
        try referenceRecurrentBackward(io, w, g, s, magnitudes: false)
    }

    /// The magnitudes of the terms of `recurrentBackward`'s parameter gradients: each element of
    /// `g` becomes |g| + Σ |term| over every step and row of the sum it accumulates (|dGx|·|x_t|
    /// for dW_ih, |dGx| for b_ih, and so on; the layer norm's gains and biases likewise), from
    /// the same gate gradients as `recurrentBackward`; the input and state gradients of `io` are
    /// not written.
    ///
    /// A float sum of those terms, in any order, carries rounding on the scale of 2⁻²⁴ · Σ |term|,
    /// which can far exceed a relative tolerance where the sum cancels (a gradient near zero made
    /// of large terms of both signs): comparisons of a backend's parameter gradients with the
    /// reference's use it to tell such a sum from a wrong one.
    public func recurrentBackwardTermMagnitudes(_ io: RecurrentBackwardIO, _ w: RecurrentWeights, _ g: RecurrentWeights,
                                                _ s: RecurrentLayerShape) throws {
        try referenceRecurrentBackward(io, w, g, s, magnitudes: true)
    }

    /// `recurrentBackward`, or with `magnitudes` `recurrentBackwardTermMagnitudes`.
    private func referenceRecurrentBackward(_ io: RecurrentBackwardIO, _ w: RecurrentWeights, _ g: RecurrentWeights,
                                            _ s: RecurrentLayerShape, magnitudes: Bool) throws {
        try io.validate(s)
        try w.validate(s, "reference recurrent backward")
        try g.validate(s, "reference recurrent backward gradient")
        if s.layerNorm { return try referenceLayerNormBackward(io, w, g, s, magnitudes: magnitudes) }
        let (t, b, i, h, r, gh) = (s.sequenceLength, s.batchSize, s.inputSize, s.hiddenSize, s.outputSize, s.gateWidth)
        let n = s.rowCount, extraWidth = h * s.cell.extraReserveWidth
        let projecting = s.projectionSize != nil
        let x = Self.unpack(try read(io.input, "recurrent backward input"), width: i, s)     // (T, B, I)
        let y = Self.unpack(try read(io.output, "recurrent backward output"), width: r, s)   // (T, B, R)
        let reserve = try read(io.reserve, "recurrent backward reserve")
        let gates = Self.unpack(Array(reserve[0..<(n * gh)]), width: gh, s)                     // (T, B, GH)
        let extra = Self.unpack(Array(reserve[(n * gh)..<(n * (gh + extraWidth))]), width: extraWidth, s)  // (T, B, H) or empty
        let h0 = try readOrZeros(io.initialHidden, count: b * r, "recurrent backward initial hidden")  // (B, R)
        let c0 = try readOrZeros(io.initialCell, count: b * h, "recurrent backward initial cell")      // (B, H)
        let dy = Self.unpack(try readOrZeros(io.gradOutput, count: n * r, "recurrent backward grad output"), width: r, s)  // (T, B, R)
        let wih = try read(w.weightIH, "recurrent backward weight_ih")             // (GH, I)
        let whh = try read(w.weightHH, "recurrent backward weight_hh")             // (GH, R)
        let whr = try w.weightHR.map { try read($0, "recurrent backward weight_hr") } ?? []   // (P, H)
        let mask = try io.hiddenMask.map { try read($0, "recurrent backward hidden mask") }  // (B, R) or nil
        let zoneHidden = try io.zoneout.map { Self.unpack(try read($0.hidden, "recurrent backward zoneout"), width: r, s) }
        let zoneCell = try io.zoneout?.cell.map { Self.unpack(try read($0, "recurrent backward zoneout"), width: h, s) }
        // c̃_t (T, B, H) of an LSTM with zoneout, else c_t itself: what tanh and m_t read.
        let candidateStart = n * (gh + extraWidth + (projecting ? h : 0))
        let candidate = s.keepsCandidateCell
            ? Self.unpack(Array(reserve[candidateStart..<(candidateStart + n * h)]), width: h, s) : extra

        var dhNext = try readOrZeros(io.gradFinalHidden, count: b * r, "recurrent backward grad final hidden")  // (B, R)
        var dcNext = try readOrZeros(io.gradFinalCell, count: b * h, "recurrent backward grad final cell")      // (B, H)
        var dWih = GradientSums(count: gh * i, magnitudes: magnitudes), dWhh = GradientSums(count: gh * r, magnitudes: magnitudes)
        var dBih = GradientSums(count: gh, magnitudes: magnitudes), dBhh = dBih
        var dWhr = GradientSums(count: projecting ? r * h : 0, magnitudes: magnitudes)
        var dx = [Float](repeating: 0, count: t * b * i)                           // (T, B, I)

        for step in stride(from: t - 1, through: 0, by: -1) {
            // Rows whose sequence has ended pass their gradients on unchanged.
            var dhPrev = dhNext, dcPrev = dcNext
            for row in 0..<s.rows(atStep: step) {
                let gateBase = (step * b + row) * gh, stateBase = (step * b + row) * h, outputBase = (step * b + row) * r
                // h_{t-1} of this batch row.
                let hPrev = (0..<r).map { step == 0 ? h0[row * r + $0] : y[outputBase - b * r + $0] }
                // dL/dh_t; with zoneout h_t = h̃ + d ⊙ (h_{t-1} − h̃): d ⊙ dh_t goes to h_{t-1} directly
                // and dh̃ = dh_t − d ⊙ dh_t on; then what reaches the cell's own output (o ⊙ tanh(c̃), H wide).
                let dhTotal = (0..<r).map { dy[outputBase + $0] + dhNext[row * r + $0] }
                let zoned = (0..<r).map { k in zoneHidden.map { $0[outputBase + k] * dhTotal[k] } ?? 0 }
                let dhOut = (0..<r).map { dhTotal[$0] - zoned[$0] }
                var dCellOutput = dhOut
                if projecting {
                    // h_t = W_hr m_t: dm = W_hrᵀ dh, dW_hr += dh mᵀ.
                    let m = (0..<h).map { j in
                        gates[gateBase + 3 * h + j] * Foundation.tanh(candidate[stateBase + j])
                    }
                    dCellOutput = (0..<h).map { j in
                        var sum: Double = 0
                        for k in 0..<r { sum += Double(whr[k * h + j]) * Double(dhOut[k]) }
                        return Float(sum)
                    }
                    for k in 0..<r {
                        for j in 0..<h { dWhr.add(k * h + j, dhOut[k], m[j]) }
                    }
                }
                var dGx = [Float](repeating: 0, count: gh), dGh = [Float](repeating: 0, count: gh)
                var direct = zoned                                                 // dh_{t-1} not through W_hh
                for j in 0..<h {
                    let e = row * h + j
                    let dh = dCellOutput[j]
                    switch s.cell {
                    case .rnnTanh, .rnnRelu:
                        let ht = gates[gateBase + j]
                        let slope: Float = s.cell == .rnnTanh ? 1 - ht * ht : (ht > 0 ? 1 : 0)
                        dGx[j] = dh * slope
                        dGh[j] = dGx[j]
                    case .lstm:
                        let ig = gates[gateBase + j], fg = gates[gateBase + h + j]
                        let gg = gates[gateBase + 2 * h + j], og = gates[gateBase + 3 * h + j]
                        let c = candidate[stateBase + j]                           // c̃_t
                        let cPrev = step == 0 ? c0[e] : extra[stateBase - b * h + j]
                        let tanhC = Foundation.tanh(c)
                        // Zoneout: c_t = c̃ + d ⊙ (c_{t-1} − c̃), so d ⊙ dc_t goes to c_{t-1} directly.
                        let zonedCell = zoneCell.map { $0[stateBase + j] * dcNext[e] } ?? 0
                        let dc = (dcNext[e] - zonedCell) + dh * og * (1 - tanhC * tanhC)   // dL/dc̃_t
                        dGx[j] = dc * gg * ig * (1 - ig)                           // through i = σ(a_i)
                        dGx[h + j] = dc * cPrev * fg * (1 - fg)                    // through f = σ(a_f)
                        dGx[2 * h + j] = dc * ig * (1 - gg * gg)                   // through g = tanh(a_g)
                        dGx[3 * h + j] = dh * tanhC * og * (1 - og)                // through o = σ(a_o)
                        for k in 0..<4 { dGh[k * h + j] = dGx[k * h + j] }
                        dcPrev[e] = dc * fg + zonedCell
                    case .gru:
                        let r = gates[gateBase + j], z = gates[gateBase + h + j], n = gates[gateBase + 2 * h + j]
                        let hn = extra[stateBase + j]
                        let dn = dh * (1 - z) * (1 - n * n)                        // d/d(W_in x + b_in + r⊙hn)
                        let dz = dh * (hPrev[j] - n) * z * (1 - z)
                        // Reset before, dr needs every unit's dn: it follows the loop.
                        let dr = s.resetBefore ? 0 : dn * hn * r * (1 - r)
                        dGx[j] = dr; dGx[h + j] = dz; dGx[2 * h + j] = dn
                        // After: hn = W_hn h + b_hn sits inside r⊙(.); before: dn reaches W_hn (r ⊙ h̄) + b_hn whole.
                        dGh[j] = dr; dGh[h + j] = dz; dGh[2 * h + j] = s.resetBefore ? dn : dn * r
                        direct[j] += dh * z
                    }
                }
                // Reset before: d(r ⊙ h̄) = W_hnᵀ dn, dr = d(r ⊙ h̄) ⊙ h̄ ⊙ r(1−r), and r ⊙ d(r ⊙ h̄) reaches h̄.
                var resetGrad = [Double](repeating: 0, count: s.resetBefore ? r : 0)
                if s.resetBefore {
                    for c in 0..<r {
                        var sum: Double = 0
                        for j in 0..<h { sum += Double(whh[(2 * h + j) * r + c]) * Double(dGx[2 * h + j]) }
                        let rg = gates[gateBase + c], hBar = hPrev[c] * (mask?[row * r + c] ?? 1)
                        dGx[c] = Float(sum) * hBar * rg * (1 - rg)
                        dGh[c] = dGx[c]
                        resetGrad[c] = Double(rg) * sum
                    }
                }
                // Per-step parameter gradients and the gradients flowing to x_t and h_{t-1}.
                let xBase = (step * b + row) * i
                for q in 0..<gh {
                    dBih.add(q, dGx[q])
                    dBhh.add(q, dGh[q])
                    for c in 0..<i { dWih.add(q * i + c, dGx[q], x[xBase + c]) }
                    for c in 0..<r {
                        // W_hn of a reset-before GRU multiplies r ⊙ h̄ (the reserve's extra part).
                        let productInput = s.resetBefore && q >= 2 * h ? extra[stateBase + c] : hPrev[c] * (mask?[row * r + c] ?? 1)
                        dWhh.add(q * r + c, dGh[q], productInput)
                    }
                }
                for c in 0..<i {
                    var sum: Double = 0
                    for q in 0..<gh { sum += Double(dGx[q]) * Double(wih[q * i + c]) }
                    dx[xBase + c] = Float(sum)
                }
                for c in 0..<r {
                    var sum: Double = 0
                    for q in 0..<s.stepProductWidth { sum += Double(dGh[q]) * Double(whh[q * r + c]) }
                    if s.resetBefore { sum += resetGrad[c] }
                    // Through the product the gradient meets the mask; GRU's z ⊙ h_{t-1} term does not.
                    dhPrev[row * r + c] = Float(Double(direct[c]) + sum * Double(mask?[row * r + c] ?? 1))
                }
            }
            dhNext = dhPrev
            dcNext = dcPrev
        }

        if !magnitudes {
            if let gradInput = io.gradInput { try write(Self.pack(dx, width: i, s), to: gradInput, "recurrent backward grad input") }
            if let gradInitialHidden = io.gradInitialHidden {
                try write(dhNext, to: gradInitialHidden, "recurrent backward grad initial hidden")
            }
            if let gradInitialCell = io.gradInitialCell, s.cell == .lstm {
                try write(dcNext, to: gradInitialCell, "recurrent backward grad initial cell")
            }
        }
        var sums = [(g.weightIH, dWih), (g.weightHH, dWhh), (g.biasIH, dBih), (g.biasHH, dBhh)]
        if let gradWeightHR = g.weightHR { sums.append((gradWeightHR, dWhr)) }
        try writeGradientSums(sums, "recurrent backward parameter gradient")
    }
}
