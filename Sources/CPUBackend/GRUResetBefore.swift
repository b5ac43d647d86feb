// Cell steps of a GRU with the reset gate before the recurrent product (Cho et al. 2014; Keras's
// `reset_after=False`), PyTorch's gate order r, z, n and weights, eight units at a time:
// n = tanh(W_in x + b_in + W_hn (r ⊙ h̄) + b_hn), h' = n + z ⊙ (h − n), h̄ what the products read.
// The shared time loop runs them around the n gate's own product (Backend+ResetBeforeGRU.swift) where
// the CPU's fused loop (ResetBeforeSteps.swift) does not: without AVX2/FMA or with RECURRENT_PACKED_WEIGHTS=0.
// B = batch, H = hidden size; gates are rows of 3H: [r | z | n].
import RecurrentCore

extension CPUBackend {
    public func gruResetGateStep(resetHidden: Tensor, gates: Tensor, hiddenProjection: Tensor, biasIH: Tensor, biasHH: Tensor,
                                 productHidden: Tensor?) throws {
        let op = "gruResetGateStep"
        let (b, h) = try RecurrentCell.stepSizes(bias: biasIH, state: resetHidden, gateCount: 3, op)
        let prh = try pointer(resetHidden, op), pg = try pointer(gates, count: b * 3 * h, op)     // (B, H) (B, 3H)
        let pp = try pointer(hiddenProjection, count: b * 2 * h, op)                             // (B, 2H)
        let bi = try pointer(biasIH, op), bh = try pointer(biasHH, count: 3 * h, op)             // (3H)
        let phBar = try productHidden.map { try pointer($0, count: b * h, op) }                  // (B, H)
        for row in 0..<b {
            let g = pg + row * 3 * h, p = pp + row * 2 * h, rh = prh + row * h
            forEachChunk(h) { j, lanes in
                let r = vsigmoid((load(g, j, lanes) + load(bi, j, lanes)) + (load(p, j, lanes) + load(bh, j, lanes)))
                let z = vsigmoid((load(g, h + j, lanes) + load(bi, h + j, lanes)) + (load(p, h + j, lanes) + load(bh, h + j, lanes)))
                store(r, g, j, lanes)
                store(z, g, h + j, lanes)
                store(phBar.map { r * load($0 + row * h, j, lanes) } ?? Vec(repeating: 0), rh, j, lanes)
            }
        }
    }

    public func gruResetBeforeStep(hidden: Tensor, gates: Tensor, newGateProjection: Tensor, biasIH: Tensor, biasHH: Tensor,
                                   previousHidden: Tensor?) throws {
        let op = "gruResetBeforeStep"
        let (b, h) = try RecurrentCell.stepSizes(bias: biasIH, state: hidden, gateCount: 3, op)
        let ph = try pointer(hidden, op), pg = try pointer(gates, count: b * 3 * h, op)          // (B, H) (B, 3H)
        let pp = try pointer(newGateProjection, count: b * h, op)                                // (B, H)
        let bi = try pointer(biasIH, op), bh = try pointer(biasHH, count: 3 * h, op)             // (3H)
        let phPrev = try previousHidden.map { try pointer($0, count: b * h, op) }                // (B, H)
        for row in 0..<b {
            let g = pg + row * 3 * h, p = pp + row * h, out = ph + row * h
            forEachChunk(h) { j, lanes in
                let n = vtanh((load(g, 2 * h + j, lanes) + load(bi, 2 * h + j, lanes)) + (load(p, j, lanes) + load(bh, 2 * h + j, lanes)))
                let previous = phPrev.map { load($0 + row * h, j, lanes) } ?? Vec(repeating: 0)
                store(n, g, 2 * h + j, lanes)
                store(n + load(g, h + j, lanes) * (previous - n), out, j, lanes)
            }
        }
    }

    public func gruResetBeforeBackwardStep(gradGates: Tensor, gradHidden: Tensor, gradOutput: Tensor?, gates: Tensor,
                                           previousHidden: Tensor?) throws {
        let op = "gruResetBeforeBackwardStep"
        let (b, h) = try RecurrentCell.stepSizes(gates: gates, gateCount: 3, op)
        let pdg = try pointer(gradGates, count: b * 3 * h, op), pg = try pointer(gates, op)      // (B, 3H)
        let pdh = try pointer(gradHidden, count: b * h, op)                                      // (B, H)
        let pdy = try gradOutput.map { try pointer($0, count: b * h, op) }
        let phPrev = try previousHidden.map { try pointer($0, count: b * h, op) }
        for row in 0..<b {
            let g = pg + row * 3 * h, dg = pdg + row * 3 * h, dhRow = pdh + row * h
            forEachChunk(h) { j, lanes in
                let z = load(g, h + j, lanes), n = load(g, 2 * h + j, lanes)
                let dh = (pdy.map { load($0 + row * h, j, lanes) } ?? Vec(repeating: 0)) + load(dhRow, j, lanes)
                let previous = phPrev.map { load($0 + row * h, j, lanes) } ?? Vec(repeating: 0)
                store(dh * (previous - n) * z * (1 - z), dg, h + j, lanes)
                store(dh * (1 - z) * (1 - n * n), dg, 2 * h + j, lanes)
                store(z * dh, dhRow, j, lanes)
            }
        }
    }

    public func gruResetGateBackwardStep(gradGates: Tensor, gradResetHidden: Tensor, gates: Tensor, productHidden: Tensor?) throws {
        let op = "gruResetGateBackwardStep"
        let (b, h) = try RecurrentCell.stepSizes(gates: gates, gateCount: 3, op)
        let pdg = try pointer(gradGates, count: b * 3 * h, op), pg = try pointer(gates, op)      // (B, 3H)
        let pdrh = try pointer(gradResetHidden, count: b * h, op)                                // (B, H)
        let phBar = try productHidden.map { try pointer($0, count: b * h, op) }
        for row in 0..<b {
            let g = pg + row * 3 * h, dg = pdg + row * 3 * h, drh = pdrh + row * h
            forEachChunk(h) { j, lanes in
                let r = load(g, j, lanes), d = load(drh, j, lanes)
                let hBar = phBar.map { load($0 + row * h, j, lanes) } ?? Vec(repeating: 0)
                store(d * hBar * r * (1 - r), dg, j, lanes)
                store(r * d, drh, j, lanes)
            }
        }
    }
}
