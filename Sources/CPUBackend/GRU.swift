// GRU cell steps, gate order r, z, n (PyTorch), reset applied after the recurrent product:
// n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = n + z ⊙ (h − n).
// B = batch, H = hidden size; gates are rows of 3H: [r | z | n].
import Foundation
import RecurrentCore

extension CPUBackend {
    public func gruForwardStep(hidden: Tensor, newGateHidden: Tensor, gates: Tensor, hiddenProjection: Tensor,
                               biasIH: Tensor, biasHH: Tensor, previousHidden: Tensor?) throws {
        let op = "gruForwardStep"
        let (b, h) = try cellSizes(bias: biasIH, state: hidden, gateCount: 3, op)
        let ph = try pointer(hidden, op), phn = try pointer(newGateHidden, count: b * h, op)     // (B, H)
        let pg = try pointer(gates, count: b * 3 * h, op)                                        // (B, 3H)
        let pp = try pointer(hiddenProjection, count: b * 3 * h, op)                             // (B, 3H)
        let bi = try pointer(biasIH, op), bh = try pointer(biasHH, count: 3 * h, op)             // (3H)
        let phPrev = try previousHidden.map { try pointer($0, count: b * h, op) }                // (B, H)
        for row in 0..<b {
            let g = pg + row * 3 * h, p = pp + row * 3 * h
            for j in 0..<h {
                let r = sigmoid((g[j] + bi[j]) + (p[j] + bh[j]))
                let z = sigmoid((g[h + j] + bi[h + j]) + (p[h + j] + bh[h + j]))
                let hn = p[2 * h + j] + bh[2 * h + j]
                let n = tanhf((g[2 * h + j] + bi[2 * h + j]) + r * hn)
                let hPrev = phPrev?[row * h + j] ?? 0
                g[j] = r; g[h + j] = z; g[2 * h + j] = n
                phn[row * h + j] = hn
                ph[row * h + j] = n + z * (hPrev - n)
            }
        }
    }

    public func gruBackwardStep(gradGatesInput: Tensor, gradGatesHidden: Tensor, gradHidden: Tensor, gradOutput: Tensor?,
                                gates: Tensor, newGateHidden: Tensor, previousHidden: Tensor?) throws {
        let op = "gruBackwardStep"
        let (b, h) = try stepSizes(gates: gates, gateCount: 3, op)
        let n = b * h
        let pdx = try pointer(gradGatesInput, count: 3 * n, op), pdhg = try pointer(gradGatesHidden, count: 3 * n, op)
        let pdh = try pointer(gradHidden, count: n, op)                                          // (B, H)
        let pdy = try gradOutput.map { try pointer($0, count: n, op) }
        let pg = try pointer(gates, op), phn = try pointer(newGateHidden, count: n, op)
        let phPrev = try previousHidden.map { try pointer($0, count: n, op) }
        for row in 0..<b {
            let g = pg + row * 3 * h, dx = pdx + row * 3 * h, dhg = pdhg + row * 3 * h
            for j in 0..<h {
                let k = row * h + j
                let r = g[j], z = g[h + j], nn = g[2 * h + j]
                let dh = (pdy?[k] ?? 0) + pdh[k]
                let hPrev = phPrev?[k] ?? 0
                let dnPre = dh * (1 - z) * (1 - nn * nn)
                let dzPre = dh * (hPrev - nn) * z * (1 - z)
                let drPre = dnPre * phn[k] * r * (1 - r)
                dx[j] = drPre; dx[h + j] = dzPre; dx[2 * h + j] = dnPre
                dhg[j] = drPre; dhg[h + j] = dzPre; dhg[2 * h + j] = dnPre * r
                pdh[k] = dh * z
            }
        }
    }
}
