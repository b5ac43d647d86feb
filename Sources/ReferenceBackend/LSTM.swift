// Reference LSTM cell steps (one time step), PyTorch's equations, gate order i, f, g, o.
// B = batch, H = hidden size; gate k of unit j in batch row b sits at [b, k·H + j] of (B, 4H).

import Foundation
import RecurrentCore

extension ReferenceBackend {
    /// σ(x) = 1 / (1 + e^−x).
    static func sigmoid(_ x: Float) -> Float { 1 / (1 + Foundation.exp(-x)) }

    /// H from a per-gate vector of G·H elements.
    func hiddenSize(gateVector: Tensor, gates: Int, _ operation: String) throws -> Int {
        guard gateVector.count > 0, gateVector.count % gates == 0 else {
            throw RecurrentError.shapeMismatch(operation: operation, expected: "a positive multiple of \(gates) elements (\(gates)·H)",
                                               got: "shape \(gateVector.shape) (\(gateVector.count) elements)")
        }
        return gateVector.count / gates
    }

    /// H from a gate tensor (B, G·H): its last dimension divided by G.
    func hiddenSize(gateMatrix: Tensor, gates: Int, _ operation: String) throws -> Int {
        guard let width = gateMatrix.shape.last, width > 0, width % gates == 0 else {
            throw RecurrentError.shapeMismatch(operation: operation, expected: "shape (B, \(gates)·H)",
                                               got: "shape \(gateMatrix.shape)")
        }
        return width / gates
    }

    /// LSTM forward step: pre-activations `a = gates + hiddenProjection + biasIH + biasHH` (B, 4H),
    /// `i, f, o = σ(a)`, `g = tanh(a)` written back to `gates`; `c = f⊙c_prev + i⊙g`, `h = o⊙tanh(c)`.
    public func lstmForwardStep(hidden: Tensor, cell: Tensor, gates: Tensor, hiddenProjection: Tensor,
                                biasIH: Tensor, biasHH: Tensor, previousCell: Tensor?) throws {
        let h = try hiddenSize(gateVector: biasIH, gates: 4, "lstmForwardStep biasIH (4H)")
        let b = try matrixRows(hidden, columns: h, "lstmForwardStep hidden (B, H)")
        try RecurrentError.check("lstmForwardStep biasHH (4H)", count: biasHH.count, equals: 4 * h)
        try RecurrentError.check("lstmForwardStep cell (B, H)", count: cell.count, equals: b * h)
        try RecurrentError.check("lstmForwardStep gates (B, 4H)", count: gates.count, equals: b * 4 * h)
        try RecurrentError.check("lstmForwardStep hiddenProjection (B, 4H)", count: hiddenProjection.count, equals: b * 4 * h)
        var gv = try read(gates, "lstmForwardStep gates")
        let pv = try read(hiddenProjection, "lstmForwardStep hiddenProjection")
        let biv = try read(biasIH, "lstmForwardStep biasIH"), bhv = try read(biasHH, "lstmForwardStep biasHH")
        let cPrev = try readOrZeros(previousCell, count: b * h, "lstmForwardStep previousCell (B, H)")
        var hv = [Float](repeating: 0, count: b * h), cv = [Float](repeating: 0, count: b * h)
        for row in 0..<b {
            for j in 0..<h {
                func activated(_ k: Int) -> Float {
                    let e = row * 4 * h + k * h + j
                    let a = gv[e] + pv[e] + biv[k * h + j] + bhv[k * h + j]
                    return k == 2 ? Foundation.tanh(a) : Self.sigmoid(a)
                }
                let (i, f, g, o) = (activated(0), activated(1), activated(2), activated(3))
                for (k, value) in [i, f, g, o].enumerated() { gv[row * 4 * h + k * h + j] = value }
                let c = f * cPrev[row * h + j] + i * g
                cv[row * h + j] = c
                hv[row * h + j] = o * Foundation.tanh(c)
            }
        }
        try write(gv, to: gates, "lstmForwardStep gates")
        try write(cv, to: cell, "lstmForwardStep cell")
        try write(hv, to: hidden, "lstmForwardStep hidden")
    }

    /// LSTM backward step from post-activation `gates` (B, 4H) and `cell` c_t (B, H):
    /// `dh = gradOutput + gradHidden`, `dc = gradCell + dh⊙o⊙(1 − tanh²c)`;
    /// pre-activation gradients `di = dc⊙g⊙i(1−i)`, `df = dc⊙c_prev⊙f(1−f)`, `dg = dc⊙i⊙(1−g²)`,
    /// `do = dh⊙tanh(c)⊙o(1−o)` into `gradGates`; `gradCell` becomes `dc⊙f`.
    public func lstmBackwardStep(gradGates: Tensor, gradCell: Tensor, gradHidden: Tensor, gradOutput: Tensor?,
                                 gates: Tensor, cell: Tensor, previousCell: Tensor?) throws {
        let h = try hiddenSize(gateMatrix: gates, gates: 4, "lstmBackwardStep gates (B, 4H)")
        let b = try matrixRows(gates, columns: 4 * h, "lstmBackwardStep gates (B, 4H)")
        try RecurrentError.check("lstmBackwardStep gradGates (B, 4H)", count: gradGates.count, equals: b * 4 * h)
        for (name, t) in [("gradCell", gradCell), ("gradHidden", gradHidden), ("cell", cell)] {
            try RecurrentError.check("lstmBackwardStep \(name) (B, H)", count: t.count, equals: b * h)
        }
        let gv = try read(gates, "lstmBackwardStep gates"), cv = try read(cell, "lstmBackwardStep cell")
        let dcNext = try read(gradCell, "lstmBackwardStep gradCell"), dhNext = try read(gradHidden, "lstmBackwardStep gradHidden")
        let dy = try readOrZeros(gradOutput, count: b * h, "lstmBackwardStep gradOutput (B, H)")
        let cPrev = try readOrZeros(previousCell, count: b * h, "lstmBackwardStep previousCell (B, H)")
        var dGates = [Float](repeating: 0, count: b * 4 * h), dcPrev = [Float](repeating: 0, count: b * h)
        for row in 0..<b {
            for j in 0..<h {
                let base = row * 4 * h + j, e = row * h + j
                let (i, f, g, o) = (gv[base], gv[base + h], gv[base + 2 * h], gv[base + 3 * h])
                let dh = dy[e] + dhNext[e]
                let tanhC = Foundation.tanh(cv[e])
                let dc = dcNext[e] + dh * o * (1 - tanhC * tanhC)
                dGates[base] = dc * g * i * (1 - i)
                dGates[base + h] = dc * cPrev[e] * f * (1 - f)
                dGates[base + 2 * h] = dc * i * (1 - g * g)
                dGates[base + 3 * h] = dh * tanhC * o * (1 - o)
                dcPrev[e] = dc * f
            }
        }
        try write(dGates, to: gradGates, "lstmBackwardStep gradGates")
        try write(dcPrev, to: gradCell, "lstmBackwardStep gradCell")
    }
}
