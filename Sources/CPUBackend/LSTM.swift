// LSTM cell steps, gate order i, f, g, o (PyTorch).
// B = batch, H = hidden size; gates are rows of 4H: [i | f | g | o].
import Foundation
import RecurrentCore

extension CPUBackend {
    public func lstmForwardStep(hidden: Tensor, cell: Tensor, gates: Tensor, hiddenProjection: Tensor,
                                biasIH: Tensor, biasHH: Tensor, previousCell: Tensor?) throws {
        let op = "lstmForwardStep"
        let (b, h) = try RecurrentCell.stepSizes(bias: biasIH, state: hidden, gateCount: 4, op)
        let ph = try pointer(hidden, op), pc = try pointer(cell, count: b * h, op)               // (B, H)
        let pg = try pointer(gates, count: b * 4 * h, op)                                         // (B, 4H)
        let pp = try pointer(hiddenProjection, count: b * 4 * h, op)                              // (B, 4H)
        let bi = try pointer(biasIH, op), bh = try pointer(biasHH, count: 4 * h, op)              // (4H)
        let pcPrev = try previousCell.map { try pointer($0, count: b * h, op) }                   // (B, H)
        for r in 0..<b {
            let g = pg + r * 4 * h, p = pp + r * 4 * h, state = r * h
            forEachChunk(h) { j, n in
                // Pre-activation of gate k: (x W_ih + b_ih) + (h W_hh + b_hh). Each gate is stored
                // as soon as it is computed, so few vectors stay live (SSE has 16 registers).
                func pre(_ k: Int) -> Vec { (load(g, k * h + j, n) + load(bi, k * h + j, n)) + (load(p, k * h + j, n) + load(bh, k * h + j, n)) }
                let i = vsigmoid(pre(0))
                store(i, g, j, n)
                let gg = vtanh(pre(2))
                store(gg, g, 2 * h + j, n)
                let input = i * gg
                let f = vsigmoid(pre(1))
                store(f, g, h + j, n)
                let c = f * (pcPrev.map { load($0, state + j, n) } ?? Vec(repeating: 0)) + input
                store(c, pc, state + j, n)
                let o = vsigmoid(pre(3))
                store(o, g, 3 * h + j, n)
                store(o * vtanh(c), ph, state + j, n)
            }
        }
    }

    public func lstmBackwardStep(gradGates: Tensor, gradCell: Tensor, gradHidden: Tensor, gradOutput: Tensor?,
                                 gates: Tensor, cell: Tensor, previousCell: Tensor?) throws {
        let op = "lstmBackwardStep"
        let (b, hs) = try RecurrentCell.stepSizes(gates: gates, gateCount: 4, op)
        let n = b * hs                                                                              // B·H
        let pdg = try pointer(gradGates, count: 4 * n, op)                                          // (B, 4H)
        let pdc = try pointer(gradCell, count: n, op), pdh = try pointer(gradHidden, count: n, op)  // (B, H)
        let pdy = try gradOutput.map { try pointer($0, count: n, op) }                              // (B, H)
        let pg = try pointer(gates, op), pc = try pointer(cell, count: n, op)
        let pcPrev = try previousCell.map { try pointer($0, count: n, op) }
        for r in 0..<b {
            let g = pg + r * 4 * hs, dg = pdg + r * 4 * hs, state = r * hs
            forEachChunk(hs) { j, n in
                let k = state + j
                let i = load(g, j, n), f = load(g, hs + j, n), gg = load(g, 2 * hs + j, n), o = load(g, 3 * hs + j, n)
                let dh = (pdy.map { load($0, k, n) } ?? Vec(repeating: 0)) + load(pdh, k, n)
                let tc = vtanh(load(pc, k, n))
                let dc = load(pdc, k, n) + dh * o * (1 - tc * tc)
                let cPrev = pcPrev.map { load($0, k, n) } ?? Vec(repeating: 0)
                store(dc * gg * i * (1 - i), dg, j, n)
                store(dc * cPrev * f * (1 - f), dg, hs + j, n)
                store(dc * i * (1 - gg * gg), dg, 2 * hs + j, n)
                store(dh * tc * o * (1 - o), dg, 3 * hs + j, n)
                store(dc * f, pdc, k, n)
            }
        }
    }
}
