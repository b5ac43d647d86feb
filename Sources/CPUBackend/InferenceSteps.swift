// Forward-only cell steps (evaluation, streaming): the training steps' equations (LSTM.swift,
// GRU.swift, RNN.swift) without the stores backward would read, so a step writes only h_t (and c_t).
// B = batch, H = hidden size; gate rows as in the training steps: LSTM [i | f | g | o], GRU [r | z | n].
import RecurrentCore

extension CPUBackend {
    public func lstmInferenceStep(hidden: Tensor, cell: Tensor, gates: Tensor, hiddenProjection: Tensor,
                                  biasIH: Tensor, biasHH: Tensor, previousCell: Tensor?) throws {
        let op = "lstmInferenceStep"
        let (b, h) = try RecurrentCell.stepSizes(bias: biasIH, state: hidden, gateCount: 4, op)
        let ph = try pointer(hidden, op), pc = try pointer(cell, count: b * h, op)               // (B, H)
        let pg = try pointer(gates, count: b * 4 * h, op)                                         // (B, 4H)
        let pp = try pointer(hiddenProjection, count: b * 4 * h, op)                              // (B, 4H)
        let bi = try pointer(biasIH, op), bh = try pointer(biasHH, count: 4 * h, op)              // (4H)
        let pcPrev = try previousCell.map { try pointer($0, count: b * h, op) }                   // (B, H)
        for r in 0..<b {
            let g = pg + r * 4 * h, p = pp + r * 4 * h, state = r * h
            forEachChunk(h) { j, n in
                func pre(_ k: Int) -> Vec { (load(g, k * h + j, n) + load(bi, k * h + j, n)) + (load(p, k * h + j, n) + load(bh, k * h + j, n)) }
                let input = vsigmoid(pre(0)) * vtanh(pre(2))
                let c = vsigmoid(pre(1)) * (pcPrev.map { load($0, state + j, n) } ?? Vec(repeating: 0)) + input
                store(c, pc, state + j, n)
                store(vsigmoid(pre(3)) * vtanh(c), ph, state + j, n)
            }
        }
    }

    public func gruInferenceStep(hidden: Tensor, newGateHidden: Tensor, gates: Tensor, hiddenProjection: Tensor,
                                 biasIH: Tensor, biasHH: Tensor, previousHidden: Tensor?) throws {
        let op = "gruInferenceStep"
        let (b, h) = try RecurrentCell.stepSizes(bias: biasIH, state: hidden, gateCount: 3, op)
        let ph = try pointer(hidden, op)                                                         // (B, H)
        let pg = try pointer(gates, count: b * 3 * h, op)                                        // (B, 3H)
        let pp = try pointer(hiddenProjection, count: b * 3 * h, op)                             // (B, 3H)
        let bi = try pointer(biasIH, op), bh = try pointer(biasHH, count: 3 * h, op)             // (3H)
        let phPrev = try previousHidden.map { try pointer($0, count: b * h, op) }                // (B, H)
        for row in 0..<b {
            let g = pg + row * 3 * h, p = pp + row * 3 * h, state = row * h
            forEachChunk(h) { j, lanes in
                func pre(_ k: Int) -> Vec { (load(g, k * h + j, lanes) + load(bi, k * h + j, lanes)) + (load(p, k * h + j, lanes) + load(bh, k * h + j, lanes)) }
                let r = vsigmoid(pre(0)), z = vsigmoid(pre(1))
                let hn = load(p, 2 * h + j, lanes) + load(bh, 2 * h + j, lanes)
                let n = vtanh((load(g, 2 * h + j, lanes) + load(bi, 2 * h + j, lanes)) + r * hn)
                let hPrev = phPrev.map { load($0, state + j, lanes) } ?? Vec(repeating: 0)
                store(n + z * (hPrev - n), ph, state + j, lanes)
            }
        }
    }

    public func rnnInferenceStep(hidden: Tensor, gates: Tensor, hiddenProjection: Tensor,
                                 biasIH: Tensor, biasHH: Tensor, activation: Activation) throws {
        let op = "rnnInferenceStep"
        let (b, h) = try RecurrentCell.stepSizes(bias: biasIH, state: hidden, gateCount: 1, op)
        let ph = try pointer(hidden, op), pg = try pointer(gates, count: b * h, op)              // (B, H)
        let pp = try pointer(hiddenProjection, count: b * h, op)                                 // (B, H)
        let bi = try pointer(biasIH, op), bh = try pointer(biasHH, count: h, op)                 // (H)
        for row in 0..<b {
            let state = row * h
            forEachChunk(h) { j, n in
                let k = state + j
                store(vactivate((load(pg, k, n) + load(bi, j, n)) + (load(pp, k, n) + load(bh, j, n)), activation), ph, k, n)
            }
        }
    }
}
