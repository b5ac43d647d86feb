// Reference whole-layer forward and backward of layer-normalised LSTM and GRU layers, written
// straight from the equations (Ba et al. 2016; PyTorch's custom_lstms.py LayerNormLSTMCell) with a
// per-step loop and textbook BPTT, independent of the shared loop (Backend+LayerNorm.swift) but
// filling the same reserve layout. With LN(x) = x̂(x) ⊙ γ: a = LN_ih(W_ih x_t) + b_ih +
// LN_hh(W_hh h̄_{t-1}) + b_hh; LSTM c̃_t = x̂(f ⊙ c_{t-1} + i ⊙ g) ⊙ γ_c + β_c, h̃_t = o ⊙ tanh(c̃_t);
// GRU h̃_t as PyTorch's on a. h̄ = h_{t-1} (⊙ mask). An LSTM with a projection (PyTorch's proj_size):
// m_t = o ⊙ tanh(c̃_t) and h̃_t = W_hr m_t (P wide; the reserve keeps m_t after c_t), backward
// dW_hr += dh̃ m_tᵀ and the cell sees dm = W_hrᵀ dh̃. Without zoneout h_t = h̃_t and c_t = c̃_t; with it
// h_t = h̃_t + d ⊙ (h_{t-1} − h̃_t) and c_t = c̃_t + d_c ⊙ (c_{t-1} − c̃_t), as the plain cells (the reserve
// then keeps c̃_t after c_t and m_t). A packed batch is unpacked to (T, B, ·).
// T = time steps, B = batch, I = input size, H = hidden size, G = gates, P = projection size,
// R = width of h (P when projecting, else H).

import Foundation
import RecurrentCore

extension ReferenceBackend {
    func referenceLayerNormForward(_ io: RecurrentForwardIO, _ w: RecurrentWeights, _ s: RecurrentLayerShape) throws {
        guard let norm = w.layerNorm else { throw RecurrentError.invalidState("layer norm forward: no gains") }
        let op = "reference layer norm forward"
        let (t, b, i, h, r, gh) = (s.sequenceLength, s.batchSize, s.inputSize, s.hiddenSize, s.outputSize, s.gateWidth)
        let lstm = s.cell == .lstm, projecting = s.projectionSize != nil
        let x = Self.unpack(try read(io.input, "\(op) input"), width: i, s)                 // (T, B, I)
        let wih = try read(w.weightIH, op), whh = try read(w.weightHH, op)                  // (GH, I), (GH, R)
        let whr = try w.weightHR.map { try read($0, op) }                                    // (P, H)
        let bih = try read(w.biasIH, op), bhh = try read(w.biasHH, op)
        let gih = try read(norm.gainIH, op), ghh = try read(norm.gainHH, op)
        let gc = try norm.gainCell.map { try read($0, op) } ?? [], bc = try norm.biasCell.map { try read($0, op) } ?? []
        let mask = try io.hiddenMask.map { try read($0, "\(op) hidden mask") }
        // Zoneout factors (T, B, R) of h and (T, B, H) of (LSTM) c.
        let zoneHidden = try io.zoneout.map { Self.unpack(try read($0.hidden, "\(op) zoneout"), width: r, s) }
        let zoneCell = try io.zoneout?.cell.map { Self.unpack(try read($0, "\(op) zoneout"), width: h, s) }
        var hState = try readOrZeros(io.initialHidden, count: b * r, "\(op) initial hidden")
        var cState = try readOrZeros(io.initialCell, count: b * h, "\(op) initial cell")
        let zeros = [Float](repeating: 0, count: gh)
        // (T, B, ·) each: output, gates, extra, m_t, x̂_ih, x̂_hh, 1/σ_ih, 1/σ_hh, ĉ, 1/σ_c.
        var output = [Float](repeating: 0, count: t * b * r), gates = [Float](repeating: 0, count: t * b * gh)
        var extra = [Float](repeating: 0, count: t * b * h), normIH = gates, normHH = gates, normCell = extra
        var projected = [Float](repeating: 0, count: projecting ? t * b * h : 0)           // (T, B, H) m_t
        var candidateCell = [Float](repeating: 0, count: s.keepsCandidateCell ? t * b * h : 0)   // (T, B, H) c̃_t
        var devIH = [Float](repeating: 0, count: t * b), devHH = devIH, devCell = devIH
        for step in 0..<t {
            var hNext = hState, cNext = cState
            for row in 0..<s.rows(atStep: step) {
                let q = step * b + row
                let hBar = (0..<r).map { hState[row * r + $0] * (mask?[row * r + $0] ?? 1) }
                let (xi, si) = Self.normalize(Self.affine(wih, x[(q * i)..<((q + 1) * i)], zeros, rows: gh, columns: i)[...])
                let (xh, sh) = Self.normalize(Self.affine(whh, hBar[...], zeros, rows: gh, columns: r)[...])
                let ai = (0..<gh).map { xi[$0] * gih[$0] + bih[$0] }, ah = (0..<gh).map { xh[$0] * ghh[$0] + bhh[$0] }
                normIH.replaceSubrange((q * gh)..<((q + 1) * gh), with: xi)
                normHH.replaceSubrange((q * gh)..<((q + 1) * gh), with: xh)
                devIH[q] = si; devHH[q] = sh
                var newHidden = [Float](repeating: 0, count: r), activated = [Float](repeating: 0, count: gh)
                if lstm {
                    var candidate = [Float](repeating: 0, count: h)
                    for j in 0..<h {
                        let ig = Self.sigmoid(ai[j] + ah[j]), fg = Self.sigmoid(ai[h + j] + ah[h + j])
                        let gg = Foundation.tanh(ai[2 * h + j] + ah[2 * h + j]), og = Self.sigmoid(ai[3 * h + j] + ah[3 * h + j])
                        for (k, value) in [ig, fg, gg, og].enumerated() { activated[k * h + j] = value }
                        candidate[j] = fg * cState[row * h + j] + ig * gg
                    }
                    let (nc, sc) = Self.normalize(candidate[...])
                    normCell.replaceSubrange((q * h)..<((q + 1) * h), with: nc)
                    devCell[q] = sc
                    var m = [Float](repeating: 0, count: h)                              // o ⊙ tanh(c̃_t)
                    for j in 0..<h {
                        let normed = nc[j] * gc[j] + bc[j]                               // c̃_t
                        // Zoneout: c_t = c̃_t + d ⊙ (c_{t-1} − c̃_t); h̃_t reads c̃_t.
                        let c = zoneCell.map { normed + $0[q * h + j] * (cState[row * h + j] - normed) } ?? normed
                        cNext[row * h + j] = c
                        extra[q * h + j] = c
                        if s.keepsCandidateCell { candidateCell[q * h + j] = normed }
                        m[j] = activated[3 * h + j] * Foundation.tanh(normed)
                    }
                    if let whr {
                        projected.replaceSubrange((q * h)..<((q + 1) * h), with: m)
                        newHidden = Self.affine(whr, m[...], [Float](repeating: 0, count: r), rows: r, columns: h)   // W_hr m_t
                    } else {
                        newHidden = m
                    }
                } else {
                    for j in 0..<h {
                        let reset = Self.sigmoid(ai[j] + ah[j]), z = Self.sigmoid(ai[h + j] + ah[h + j])
                        let n = Foundation.tanh(ai[2 * h + j] + reset * ah[2 * h + j])
                        activated[j] = reset; activated[h + j] = z; activated[2 * h + j] = n
                        extra[q * h + j] = ah[2 * h + j]
                        newHidden[j] = n + z * (hState[row * h + j] - n)
                    }
                }
                gates.replaceSubrange((q * gh)..<((q + 1) * gh), with: activated)
                // Zoneout: h_t = h̃_t + d ⊙ (h_{t-1} − h̃_t).
                if let zoneHidden {
                    for j in 0..<r { newHidden[j] += zoneHidden[q * r + j] * (hState[row * r + j] - newHidden[j]) }
                }
                for j in 0..<r { hNext[row * r + j] = newHidden[j]; output[q * r + j] = newHidden[j] }
            }
            hState = hNext
            cState = cNext
        }
        try write(Self.pack(output, width: r, s), to: io.output, "\(op) output")
        var reserve = Self.pack(gates, width: gh, s) + Self.pack(extra, width: h, s)
            + Self.pack(projected, width: projecting ? h : 0, s)
            + Self.pack(candidateCell, width: s.keepsCandidateCell ? h : 0, s) + Self.pack(normIH, width: gh, s)
            + Self.pack(normHH, width: gh, s) + Self.pack(devIH, width: 1, s) + Self.pack(devHH, width: 1, s)
        if lstm { reserve += Self.pack(normCell, width: h, s) + Self.pack(devCell, width: 1, s) }
        try write(reserve, to: io.reserve, "\(op) reserve")
        if let finalHidden = io.finalHidden { try write(hState, to: finalHidden, "\(op) final hidden") }
        if let finalCell = io.finalCell, lstm { try write(cState, to: finalCell, "\(op) final cell") }
    }

    func referenceLayerNormBackward(_ io: RecurrentBackwardIO, _ w: RecurrentWeights, _ g: RecurrentWeights,
                                    _ s: RecurrentLayerShape, magnitudes: Bool) throws {
        guard let norm = w.layerNorm, let gradNorm = g.layerNorm else {
            throw RecurrentError.invalidState("layer norm backward: no gains")
        }
        let op = "reference layer norm backward"
        let (t, b, i, h, r, gh, n) = (s.sequenceLength, s.batchSize, s.inputSize, s.hiddenSize, s.outputSize, s.gateWidth,
                                      s.rowCount)
        let lstm = s.cell == .lstm, projecting = s.projectionSize != nil
        let x = Self.unpack(try read(io.input, "\(op) input"), width: i, s)
        let y = Self.unpack(try read(io.output, "\(op) output"), width: r, s)
        let dy = Self.unpack(try readOrZeros(io.gradOutput, count: n * r, "\(op) grad output"), width: r, s)
        let reserve = try read(io.reserve, "\(op) reserve")
        var start = 0
        func part(_ width: Int) -> [Float] {
            defer { start += n * width }
            return Self.unpack(Array(reserve[start..<(start + n * width)]), width: width, s)
        }
        let gates = part(gh), extra = part(h)
        let projected = projecting ? part(h) : []                                           // m_t
        // c̃_t of an LSTM with zoneout, else c_t itself: what tanh reads.
        let candidate = s.keepsCandidateCell ? part(h) : extra
        let normIH = part(gh), normHH = part(gh), devIH = part(1), devHH = part(1)
        let normCell = lstm ? part(h) : [], devCell = lstm ? part(1) : []
        let wih = try read(w.weightIH, op), whh = try read(w.weightHH, op)                  // (GH, I), (GH, R)
        let whr = try w.weightHR.map { try read($0, op) }                                    // (P, H)
        let gih = try read(norm.gainIH, op), ghh = try read(norm.gainHH, op)
        let gc = try norm.gainCell.map { try read($0, op) } ?? []
        let mask = try io.hiddenMask.map { try read($0, "\(op) hidden mask") }
        let zoneHidden = try io.zoneout.map { Self.unpack(try read($0.hidden, "\(op) zoneout"), width: r, s) }
        let zoneCell = try io.zoneout?.cell.map { Self.unpack(try read($0, "\(op) zoneout"), width: h, s) }
        let h0 = try readOrZeros(io.initialHidden, count: b * r, "\(op) initial hidden")
        let c0 = try readOrZeros(io.initialCell, count: b * h, "\(op) initial cell")
        var dhNext = try readOrZeros(io.gradFinalHidden, count: b * r, "\(op) grad final hidden")
        var dcNext = try readOrZeros(io.gradFinalCell, count: b * h, "\(op) grad final cell")
        var dWih = GradientSums(count: gh * i, magnitudes: magnitudes), dWhh = GradientSums(count: gh * r, magnitudes: magnitudes)
        var dWhr = GradientSums(count: projecting ? r * h : 0, magnitudes: magnitudes)
        var dBih = GradientSums(count: gh, magnitudes: magnitudes), dBhh = dBih, dGih = dBih, dGhh = dBih
        var dGc = GradientSums(count: h, magnitudes: magnitudes), dBc = dGc
        var dx = [Float](repeating: 0, count: t * b * i)
        for step in stride(from: t - 1, through: 0, by: -1) {
            var dhPrev = dhNext, dcPrev = dcNext
            for row in 0..<s.rows(atStep: step) {
                let q = step * b + row, gBase = q * gh
                let hPrev = (0..<r).map { step == 0 ? h0[row * r + $0] : y[(q - b) * r + $0] }
                let hBar = (0..<r).map { hPrev[$0] * (mask?[row * r + $0] ?? 1) }
                // dL/dh_t; with zoneout d ⊙ dh_t goes to h_{t-1} directly and dh̃_t = dh_t − d ⊙ dh_t to the cell.
                let dhTotal = (0..<r).map { dy[q * r + $0] + dhNext[row * r + $0] }
                let zoned = (0..<r).map { j in zoneHidden.map { $0[q * r + j] * dhTotal[j] } ?? 0 }
                var dh = (0..<r).map { dhTotal[$0] - zoned[$0] }
                var dai = [Float](repeating: 0, count: gh), dah = dai
                var direct = zoned                                                     // dh_{t-1} not through W_hh
                // Cell zoneout: d_c ⊙ dc_t goes to c_{t-1} directly, dc̃_t gets the rest.
                let zonedCell = (0..<h).map { j in zoneCell.map { $0[q * h + j] * dcNext[row * h + j] } ?? 0 }
                if lstm {
                    if let whr {
                        // h̃_t = W_hr m_t: dW_hr += dh̃ m_tᵀ, and the cell sees dm = W_hrᵀ dh̃ (H).
                        let dhProjected = dh
                        dh = (0..<h).map { j in
                            var sum: Double = 0
                            for p in 0..<r {
                                sum += Double(whr[p * h + j]) * Double(dhProjected[p])
                                dWhr.add(p * h + j, dhProjected[p], projected[q * h + j])
                            }
                            return Float(sum)
                        }
                    }
                    var dc = [Float](repeating: 0, count: h)
                    for j in 0..<h {
                        let o = gates[gBase + 3 * h + j], tc = Foundation.tanh(candidate[q * h + j])
                        dc[j] = (dcNext[row * h + j] - zonedCell[j]) + dh[j] * o * (1 - tc * tc)   // dL/dc̃_t
                        dai[3 * h + j] = dh[j] * tc * o * (1 - o)
                        dGc.add(j, dc[j], normCell[q * h + j])
                        dBc.add(j, dc[j])
                    }
                    let dCandidate = Self.normalizeBackward((0..<h).map { dc[$0] * gc[$0] }, normCell[(q * h)..<((q + 1) * h)],
                                                            devCell[q])
                    for j in 0..<h {
                        let (ig, fg, gg) = (gates[gBase + j], gates[gBase + h + j], gates[gBase + 2 * h + j])
                        let cPrev = step == 0 ? c0[row * h + j] : extra[(q - b) * h + j]
                        dai[j] = dCandidate[j] * gg * ig * (1 - ig)
                        dai[h + j] = dCandidate[j] * cPrev * fg * (1 - fg)
                        dai[2 * h + j] = dCandidate[j] * ig * (1 - gg * gg)
                        dcPrev[row * h + j] = dCandidate[j] * fg + zonedCell[j]
                    }
                    dah = dai
                } else {
                    for j in 0..<h {
                        let (reset, z, nn) = (gates[gBase + j], gates[gBase + h + j], gates[gBase + 2 * h + j])
                        let dn = dh[j] * (1 - z) * (1 - nn * nn)
                        dai[j] = dn * extra[q * h + j] * reset * (1 - reset)
                        dai[h + j] = dh[j] * (hPrev[j] - nn) * z * (1 - z)
                        dai[2 * h + j] = dn
                        dah[j] = dai[j]; dah[h + j] = dai[h + j]; dah[2 * h + j] = dn * reset
                        direct[j] += dh[j] * z
                    }
                }
                for k in 0..<gh {
                    dBih.add(k, dai[k]); dBhh.add(k, dah[k])
                    dGih.add(k, dai[k], normIH[gBase + k])
                    dGhh.add(k, dah[k], normHH[gBase + k])
                }
                let dpi = Self.normalizeBackward((0..<gh).map { dai[$0] * gih[$0] }, normIH[gBase..<(gBase + gh)], devIH[q])
                let dph = Self.normalizeBackward((0..<gh).map { dah[$0] * ghh[$0] }, normHH[gBase..<(gBase + gh)], devHH[q])
                for k in 0..<gh {
                    for c in 0..<i { dWih.add(k * i + c, dpi[k], x[q * i + c]) }
                    for c in 0..<r { dWhh.add(k * r + c, dph[k], hBar[c]) }
                }
                for c in 0..<i {
                    var sum: Double = 0
                    for k in 0..<gh { sum += Double(dpi[k]) * Double(wih[k * i + c]) }
                    dx[q * i + c] = Float(sum)
                }
                for c in 0..<r {
                    var sum: Double = 0
                    for k in 0..<gh { sum += Double(dph[k]) * Double(whh[k * r + c]) }
                    dhPrev[row * r + c] = Float(Double(direct[c]) + sum * Double(mask?[row * r + c] ?? 1))
                }
            }
            dhNext = dhPrev
            dcNext = dcPrev
        }
        if !magnitudes {
            if let gradInput = io.gradInput { try write(Self.pack(dx, width: i, s), to: gradInput, "\(op) grad input") }
            if let gradInitialHidden = io.gradInitialHidden { try write(dhNext, to: gradInitialHidden, "\(op) grad initial hidden") }
            if let gradInitialCell = io.gradInitialCell, lstm { try write(dcNext, to: gradInitialCell, "\(op) grad initial cell") }
        }
        var sums = [(g.weightIH, dWih), (g.weightHH, dWhh), (g.biasIH, dBih), (g.biasHH, dBhh),
                    (gradNorm.gainIH, dGih), (gradNorm.gainHH, dGhh)]
        if let gainCell = gradNorm.gainCell, let biasCell = gradNorm.biasCell { sums += [(gainCell, dGc), (biasCell, dBc)] }
        if let gradWeightHR = g.weightHR { sums.append((gradWeightHR, dWhr)) }
        try writeGradientSums(sums, "\(op) gradient")
    }
}
