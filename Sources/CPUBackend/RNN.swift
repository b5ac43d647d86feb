// Elman RNN cell steps: h' = f(W_ih x + b_ih + W_hh h + b_hh), f = tanh or relu.
// B = batch, H = hidden size.
import RecurrentCore

extension CPUBackend {
    public func rnnForwardStep(hidden: Tensor, gates: Tensor, hiddenProjection: Tensor,
                               biasIH: Tensor, biasHH: Tensor, activation: Activation) throws {
        let op = "rnnForwardStep"
        let (b, h) = try RecurrentCell.stepSizes(bias: biasIH, state: hidden, gateCount: 1, op)
        let ph = try pointer(hidden, op), pg = try pointer(gates, count: b * h, op)              // (B, H)
        let pp = try pointer(hiddenProjection, count: b * h, op)                                 // (B, H)
        let bi = try pointer(biasIH, op), bh = try pointer(biasHH, count: h, op)                 // (H)
        for row in 0..<b {
            let state = row * h
            forEachChunk(h) { j, n in
                let k = state + j
                let y = vactivate((load(pg, k, n) + load(bi, j, n)) + (load(pp, k, n) + load(bh, j, n)), activation)
                store(y, pg, k, n)
                store(y, ph, k, n)
            }
        }
    }

    public func rnnBackwardStep(gradGates: Tensor, gradHidden: Tensor, gradOutput: Tensor?,
                                gates: Tensor, activation: Activation) throws {
        let op = "rnnBackwardStep"
        let n = gates.count
        let pdg = try pointer(gradGates, count: n, op), pdh = try pointer(gradHidden, count: n, op)
        let pdy = try gradOutput.map { try pointer($0, count: n, op) }
        let pg = try pointer(gates, op)
        forEachChunk(n) { k, lanes in
            let dh = (pdy.map { load($0, k, lanes) } ?? Vec(repeating: 0)) + load(pdh, k, lanes)
            store(dh * vactivationDerivative(output: load(pg, k, lanes), activation), pdg, k, lanes)
        }
    }
}
