// LSTM cell steps, gate order i, f, g, o (PyTorch).
// B = batch, H = hidden size; gates are rows of 4H: [i | f | g | o].
import Foundation
import RecurrentCore

extension CPUBackend {
    /// Hidden size and batch implied by a per-gate bias of `gateCount`·H and a state of B·H.
    func cellSizes(bias: Tensor, state: Tensor, gateCount: Int, _ op: String) throws -> (b: Int, h: Int) {
        let h = bias.count / gateCount
        guard h > 0, bias.count == gateCount * h, state.count % h == 0 else {
            throw RecurrentError.shapeMismatch(operation: op, expected: "bias (\(gateCount)·H) and state (B, H)",
                                               got: "bias \(bias.shape), state \(state.shape)")
        }
        return (state.count / h, h)
    }

    /// Batch and hidden size of a step's gates, laid out (B, G·H).
    func stepSizes(gates: Tensor, gateCount: Int, _ op: String) throws -> (b: Int, h: Int) {
        guard gates.rank == 2, gates.shape[1] % gateCount == 0, gates.shape[1] > 0 else {
            throw RecurrentError.shapeMismatch(operation: op, expected: "gates (B, \(gateCount)·H)", got: "shape \(gates.shape)")
        }
        return (gates.shape[0], gates.shape[1] / gateCount)
    }

    public func lstmForwardStep(hidden: Tensor, cell: Tensor, gates: Tensor, hiddenProjection: Tensor,
                                biasIH: Tensor, biasHH: Tensor, previousCell: Tensor?) throws {
        let op = "lstmForwardStep"
        let (b, h) = try cellSizes(bias: biasIH, state: hidden, gateCount: 4, op)
        let ph = try pointer(hidden, op), pc = try pointer(cell, count: b * h, op)               // (B, H)
        let pg = try pointer(gates, count: b * 4 * h, op)                                         // (B, 4H)
        let pp = try pointer(hiddenProjection, count: b * 4 * h, op)                              // (B, 4H)
        let bi = try pointer(biasIH, op), bh = try pointer(biasHH, count: 4 * h, op)              // (4H)
        let pcPrev = try previousCell.map { try pointer($0, count: b * h, op) }                   // (B, H)
        for r in 0..<b {
            let g = pg + r * 4 * h, p = pp + r * 4 * h
            for j in 0..<h {
                let i = sigmoid((g[j] + bi[j]) + (p[j] + bh[j]))
                let f = sigmoid((g[h + j] + bi[h + j]) + (p[h + j] + bh[h + j]))
                let gg = tanhf((g[2 * h + j] + bi[2 * h + j]) + (p[2 * h + j] + bh[2 * h + j]))
                let o = sigmoid((g[3 * h + j] + bi[3 * h + j]) + (p[3 * h + j] + bh[3 * h + j]))
                let cPrev = pcPrev?[r * h + j] ?? 0
                let c = f * cPrev + i * gg
                g[j] = i; g[h + j] = f; g[2 * h + j] = gg; g[3 * h + j] = o
                pc[r * h + j] = c
                ph[r * h + j] = o * tanhf(c)
            }
        }
    }

    public func lstmBackwardStep(gradGates: Tensor, gradCell: Tensor, gradHidden: Tensor, gradOutput: Tensor?,
                                 gates: Tensor, cell: Tensor, previousCell: Tensor?) throws {
        let op = "lstmBackwardStep"
        let (b, hs) = try stepSizes(gates: gates, gateCount: 4, op)
        let n = b * hs                                                                              // B·H
        let pdg = try pointer(gradGates, count: 4 * n, op)                                          // (B, 4H)
        let pdc = try pointer(gradCell, count: n, op), pdh = try pointer(gradHidden, count: n, op)  // (B, H)
        let pdy = try gradOutput.map { try pointer($0, count: n, op) }                              // (B, H)
        let pg = try pointer(gates, op), pc = try pointer(cell, count: n, op)
        let pcPrev = try previousCell.map { try pointer($0, count: n, op) }
        for r in 0..<b {
            let g = pg + r * 4 * hs, dg = pdg + r * 4 * hs
            for j in 0..<hs {
                let k = r * hs + j
                let i = g[j], f = g[hs + j], gg = g[2 * hs + j], o = g[3 * hs + j]
                let dh = (pdy?[k] ?? 0) + pdh[k]
                let tc = tanhf(pc[k])
                let dc = pdc[k] + dh * o * (1 - tc * tc)
                let cPrev = pcPrev?[k] ?? 0
                dg[j] = dc * gg * i * (1 - i)
                dg[hs + j] = dc * cPrev * f * (1 - f)
                dg[2 * hs + j] = dc * i * (1 - gg * gg)
                dg[3 * hs + j] = dh * tc * o * (1 - o)
                pdc[k] = dc * f
            }
        }
    }
}
