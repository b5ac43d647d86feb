// GRU cell steps, gate order r, z, n (PyTorch), reset applied after the recurrent product:
// n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = n + z ⊙ (h − n).
// B = batch, H = hidden size; gates are rows of 3H: [r | z | n].
import Foundation
import RecurrentCore

extension CPUBackend {
    public func gruForwardStep(hidden: Tensor, newGateHidden: Tensor, gates: Tensor, hiddenProjection: Tensor,
                               biasIH: Tensor, biasHH: Tensor, previousHidden: Tensor?) throws {
        let op = "gruForwardStep"
        let (b, h) = try RecurrentCell.stepSizes(bias: biasIH, state: hidden, gateCount: 3, op)
        let ph = try pointer(hidden, op), phn = try pointer(newGateHidden, count: b * h, op)     // (B, H)
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
                store(r, g, j, lanes); store(z, g, h + j, lanes); store(n, g, 2 * h + j, lanes)
                store(hn, phn, state + j, lanes)
                store(n + z * (hPrev - n), ph, state + j, lanes)
            }
        }
    }

    public func gruBackwardStep(gradGatesInput: Tensor, gradGatesHidden: Tensor, gradHidden: Tensor, gradOutput: Tensor?,
                                gates: Tensor, newGateHidden: Tensor, previousHidden: Tensor?) throws {
        let op = "gruBackwardStep"
        let (b, h) = try RecurrentCell.stepSizes(gates: gates, gateCount: 3, op)
        let n = b * h
        let pdx = try pointer(gradGatesInput, count: 3 * n, op), pdhg = try pointer(gradGatesHidden, count: 3 * n, op)
        let pdh = try pointer(gradHidden, count: n, op)                                          // (B, H)
        let pdy = try gradOutput.map { try pointer($0, count: n, op) }
        let pg = try pointer(gates, op), phn = try pointer(newGateHidden, count: n, op)
        let phPrev = try previousHidden.map { try pointer($0, count: n, op) }
        for row in 0..<b {
            let g = pg + row * 3 * h, dx = pdx + row * 3 * h, dhg = pdhg + row * 3 * h, state = row * h
            forEachChunk(h) { j, lanes in
                let k = state + j
                let r = load(g, j, lanes), z = load(g, h + j, lanes), nn = load(g, 2 * h + j, lanes)
                let dh = (pdy.map { load($0, k, lanes) } ?? Vec(repeating: 0)) + load(pdh, k, lanes)
                let hPrev = phPrev.map { load($0, k, lanes) } ?? Vec(repeating: 0)
                let dnPre = dh * (1 - z) * (1 - nn * nn)
                let dzPre = dh * (hPrev - nn) * z * (1 - z)
                let drPre = dnPre * load(phn, k, lanes) * r * (1 - r)
                store(drPre, dx, j, lanes); store(dzPre, dx, h + j, lanes); store(dnPre, dx, 2 * h + j, lanes)
                store(drPre, dhg, j, lanes); store(dzPre, dhg, h + j, lanes); store(dnPre * r, dhg, 2 * h + j, lanes)
                store(dh * z, pdh, k, lanes)
            }
        }
    }
}
