// Reference cell steps of a GRU with the reset gate before the recurrent product (Cho et al. 2014;
// Keras's `reset_after=False`), PyTorch's gate order r, z, n and weights:
// n = tanh(W_in x + b_in + W_hn (r ⊙ h̄) + b_hn), h' = n + z ⊙ (h − n), h̄ what the products read.
// B = batch, H = hidden size; gate k of unit j in batch row b sits at [b, k·H + j] of (B, 3H).

import Foundation
import RecurrentCore

extension ReferenceBackend {
    /// `r = σ(gx_r + b_ir + gh_r + b_hr)`, `z = σ(gx_z + b_iz + gh_z + b_hz)` (gh = `hiddenProjection`
    /// (B, 2H)) into the r, z blocks of `gates`; `resetHidden = r ⊙ h̄`.
    public func gruResetGateStep(resetHidden: Tensor, gates: Tensor, hiddenProjection: Tensor, biasIH: Tensor, biasHH: Tensor,
                                 productHidden: Tensor?) throws {
        let op = "gruResetGateStep"
        let h = try hiddenSize(gateVector: biasIH, gates: 3, "\(op) biasIH (3H)")
        let b = try matrixRows(resetHidden, columns: h, "\(op) resetHidden (B, H)")
        try RecurrentError.check("\(op) biasHH (3H)", count: biasHH.count, equals: 3 * h)
        try RecurrentError.check("\(op) gates (B, 3H)", count: gates.count, equals: b * 3 * h)
        try RecurrentError.check("\(op) hiddenProjection (B, 2H)", count: hiddenProjection.count, equals: b * 2 * h)
        var gv = try read(gates, "\(op) gates")
        let pv = try read(hiddenProjection, "\(op) hiddenProjection")
        let biv = try read(biasIH, "\(op) biasIH"), bhv = try read(biasHH, "\(op) biasHH")
        let hBar = try readOrZeros(productHidden, count: b * h, "\(op) productHidden (B, H)")
        var rh = [Float](repeating: 0, count: b * h)
        for row in 0..<b {
            for j in 0..<h {
                let base = row * 3 * h + j, p = row * 2 * h + j, e = row * h + j
                let r = Self.sigmoid(gv[base] + biv[j] + pv[p] + bhv[j])
                let z = Self.sigmoid(gv[base + h] + biv[h + j] + pv[p + h] + bhv[h + j])
                gv[base] = r; gv[base + h] = z
                rh[e] = r * hBar[e]
            }
        }
        try write(gv, to: gates, "\(op) gates")
        try write(rh, to: resetHidden, "\(op) resetHidden")
    }

    /// `n = tanh(gx_n + b_in + newGateProjection + b_hn)` into the n block of `gates`, `h = n + z ⊙ (h_prev − n)`.
    public func gruResetBeforeStep(hidden: Tensor, gates: Tensor, newGateProjection: Tensor, biasIH: Tensor, biasHH: Tensor,
                                   previousHidden: Tensor?) throws {
        let op = "gruResetBeforeStep"
        let h = try hiddenSize(gateVector: biasIH, gates: 3, "\(op) biasIH (3H)")
        let b = try matrixRows(hidden, columns: h, "\(op) hidden (B, H)")
        try RecurrentError.check("\(op) biasHH (3H)", count: biasHH.count, equals: 3 * h)
        try RecurrentError.check("\(op) gates (B, 3H)", count: gates.count, equals: b * 3 * h)
        try RecurrentError.check("\(op) newGateProjection (B, H)", count: newGateProjection.count, equals: b * h)
        var gv = try read(gates, "\(op) gates")
        let pv = try read(newGateProjection, "\(op) newGateProjection")
        let biv = try read(biasIH, "\(op) biasIH"), bhv = try read(biasHH, "\(op) biasHH")
        let hPrev = try readOrZeros(previousHidden, count: b * h, "\(op) previousHidden (B, H)")
        var hv = [Float](repeating: 0, count: b * h)
        for row in 0..<b {
            for j in 0..<h {
                let base = row * 3 * h + j, e = row * h + j
                let n = Foundation.tanh((gv[base + 2 * h] + biv[2 * h + j]) + (pv[e] + bhv[2 * h + j]))
                gv[base + 2 * h] = n
                hv[e] = n + gv[base + h] * (hPrev[e] - n)
            }
        }
        try write(gv, to: gates, "\(op) gates")
        try write(hv, to: hidden, "\(op) hidden")
    }

    /// `dh = gradOutput + gradHidden`; `dz = dh ⊙ (h_prev − n) ⊙ z(1−z)`, `dn = dh ⊙ (1−z) ⊙ (1−n²)` into
    /// the z, n blocks of `gradGates`; `gradHidden = z ⊙ dh`.
    public func gruResetBeforeBackwardStep(gradGates: Tensor, gradHidden: Tensor, gradOutput: Tensor?, gates: Tensor,
                                           previousHidden: Tensor?) throws {
        let op = "gruResetBeforeBackwardStep"
        let h = try hiddenSize(gateMatrix: gates, gates: 3, "\(op) gates (B, 3H)")
        let b = try matrixRows(gates, columns: 3 * h, "\(op) gates (B, 3H)")
        try RecurrentError.check("\(op) gradGates (B, 3H)", count: gradGates.count, equals: b * 3 * h)
        try RecurrentError.check("\(op) gradHidden (B, H)", count: gradHidden.count, equals: b * h)
        let gv = try read(gates, "\(op) gates")
        var dg = try read(gradGates, "\(op) gradGates")
        let dhNext = try read(gradHidden, "\(op) gradHidden")
        let dy = try readOrZeros(gradOutput, count: b * h, "\(op) gradOutput (B, H)")
        let hPrev = try readOrZeros(previousHidden, count: b * h, "\(op) previousHidden (B, H)")
        var dhPrev = [Float](repeating: 0, count: b * h)
        for row in 0..<b {
            for j in 0..<h {
                let base = row * 3 * h + j, e = row * h + j
                let (z, n) = (gv[base + h], gv[base + 2 * h])
                let dh = dy[e] + dhNext[e]
                dg[base + h] = dh * (hPrev[e] - n) * z * (1 - z)
                dg[base + 2 * h] = dh * (1 - z) * (1 - n * n)
                dhPrev[e] = z * dh
            }
        }
        try write(dg, to: gradGates, "\(op) gradGates")
        try write(dhPrev, to: gradHidden, "\(op) gradHidden")
    }

    /// `dr = d(r ⊙ h̄) ⊙ h̄ ⊙ r(1−r)` into the r block of `gradGates`; `gradResetHidden = r ⊙ d(r ⊙ h̄)`.
    public func gruResetGateBackwardStep(gradGates: Tensor, gradResetHidden: Tensor, gates: Tensor, productHidden: Tensor?) throws {
        let op = "gruResetGateBackwardStep"
        let h = try hiddenSize(gateMatrix: gates, gates: 3, "\(op) gates (B, 3H)")
        let b = try matrixRows(gates, columns: 3 * h, "\(op) gates (B, 3H)")
        try RecurrentError.check("\(op) gradGates (B, 3H)", count: gradGates.count, equals: b * 3 * h)
        try RecurrentError.check("\(op) gradResetHidden (B, H)", count: gradResetHidden.count, equals: b * h)
        let gv = try read(gates, "\(op) gates")
        var dg = try read(gradGates, "\(op) gradGates")
        var drh = try read(gradResetHidden, "\(op) gradResetHidden")
        let hBar = try readOrZeros(productHidden, count: b * h, "\(op) productHidden (B, H)")
        for row in 0..<b {
            for j in 0..<h {
                let base = row * 3 * h + j, e = row * h + j
                let r = gv[base]
                dg[base] = drh[e] * hBar[e] * r * (1 - r)
                drh[e] = r * drh[e]
            }
        }
        try write(dg, to: gradGates, "\(op) gradGates")
        try write(drh, to: gradResetHidden, "\(op) gradResetHidden")
    }
}
