// Reference GRU cell steps (one time step), PyTorch's equations, gate order r, z, n.
// B = batch, H = hidden size; gate k of unit j in batch row b sits at [b, k·H + j] of (B, 3H).

import Foundation
import RecurrentCore

extension ReferenceBackend {
    /// GRU forward step: `r = σ(gx_r + b_ir + gh_r + b_hr)`, `z = σ(gx_z + b_iz + gh_z + b_hz)`,
    /// `hn = gh_n + b_hn` (into `newGateHidden`), `n = tanh(gx_n + b_in + r⊙hn)`,
    /// `h = (1 − z)⊙n + z⊙h_prev`; r, z, n are written back to `gates` (gx on entry, gh = `hiddenProjection`).
    public func gruForwardStep(hidden: Tensor, newGateHidden: Tensor, gates: Tensor, hiddenProjection: Tensor,
                               biasIH: Tensor, biasHH: Tensor, previousHidden: Tensor?) throws {
        let h = try hiddenSize(gateVector: biasIH, gates: 3, "gruForwardStep biasIH (3H)")
        let b = try matrixRows(hidden, columns: h, "gruForwardStep hidden (B, H)")
        try RecurrentError.check("gruForwardStep biasHH (3H)", count: biasHH.count, equals: 3 * h)
        try RecurrentError.check("gruForwardStep newGateHidden (B, H)", count: newGateHidden.count, equals: b * h)
        try RecurrentError.check("gruForwardStep gates (B, 3H)", count: gates.count, equals: b * 3 * h)
        try RecurrentError.check("gruForwardStep hiddenProjection (B, 3H)", count: hiddenProjection.count, equals: b * 3 * h)
        var gv = try read(gates, "gruForwardStep gates")
        let pv = try read(hiddenProjection, "gruForwardStep hiddenProjection")
        let biv = try read(biasIH, "gruForwardStep biasIH"), bhv = try read(biasHH, "gruForwardStep biasHH")
        let hPrev = try readOrZeros(previousHidden, count: b * h, "gruForwardStep previousHidden (B, H)")
        var hv = [Float](repeating: 0, count: b * h), nv = [Float](repeating: 0, count: b * h)
        for row in 0..<b {
            for j in 0..<h {
                let base = row * 3 * h + j, e = row * h + j
                let r = Self.sigmoid(gv[base] + biv[j] + pv[base] + bhv[j])
                let z = Self.sigmoid(gv[base + h] + biv[h + j] + pv[base + h] + bhv[h + j])
                let hn = pv[base + 2 * h] + bhv[2 * h + j]
                let n = Foundation.tanh(gv[base + 2 * h] + biv[2 * h + j] + r * hn)
                gv[base] = r; gv[base + h] = z; gv[base + 2 * h] = n
                nv[e] = hn
                hv[e] = (1 - z) * n + z * hPrev[e]
            }
        }
        try write(gv, to: gates, "gruForwardStep gates")
        try write(nv, to: newGateHidden, "gruForwardStep newGateHidden")
        try write(hv, to: hidden, "gruForwardStep hidden")
    }

    /// GRU backward step from post-activation `gates` (B, 3H) and `newGateHidden` hn (B, H):
    /// `dh = gradOutput + gradHidden`; `dn = dh⊙(1−z)⊙(1−n²)`, `dz = dh⊙(h_prev − n)⊙z(1−z)`,
    /// `dr = dn⊙hn⊙r(1−r)`. Writes (dr, dz, dn) to `gradGatesInput`, (dr, dz, dn⊙r) to
    /// `gradGatesHidden`, and `z⊙dh` to `gradHidden`.
    public func gruBackwardStep(gradGatesInput: Tensor, gradGatesHidden: Tensor, gradHidden: Tensor, gradOutput: Tensor?,
                                gates: Tensor, newGateHidden: Tensor, previousHidden: Tensor?) throws {
        let h = try hiddenSize(gateMatrix: gates, gates: 3, "gruBackwardStep gates (B, 3H)")
        let b = try matrixRows(gates, columns: 3 * h, "gruBackwardStep gates (B, 3H)")
        try RecurrentError.check("gruBackwardStep gradGatesInput (B, 3H)", count: gradGatesInput.count, equals: b * 3 * h)
        try RecurrentError.check("gruBackwardStep gradGatesHidden (B, 3H)", count: gradGatesHidden.count, equals: b * 3 * h)
        try RecurrentError.check("gruBackwardStep gradHidden (B, H)", count: gradHidden.count, equals: b * h)
        try RecurrentError.check("gruBackwardStep newGateHidden (B, H)", count: newGateHidden.count, equals: b * h)
        let gv = try read(gates, "gruBackwardStep gates"), nv = try read(newGateHidden, "gruBackwardStep newGateHidden")
        let dhNext = try read(gradHidden, "gruBackwardStep gradHidden")
        let dy = try readOrZeros(gradOutput, count: b * h, "gruBackwardStep gradOutput (B, H)")
        let hPrev = try readOrZeros(previousHidden, count: b * h, "gruBackwardStep previousHidden (B, H)")
        var dInput = [Float](repeating: 0, count: b * 3 * h), dHidden = dInput
        var dhPrev = [Float](repeating: 0, count: b * h)
        for row in 0..<b {
            for j in 0..<h {
                let base = row * 3 * h + j, e = row * h + j
                let (r, z, n) = (gv[base], gv[base + h], gv[base + 2 * h])
                let dh = dy[e] + dhNext[e]
                let dn = dh * (1 - z) * (1 - n * n)
                let dz = dh * (hPrev[e] - n) * z * (1 - z)
                let dr = dn * nv[e] * r * (1 - r)
                dInput[base] = dr; dInput[base + h] = dz; dInput[base + 2 * h] = dn
                dHidden[base] = dr; dHidden[base + h] = dz; dHidden[base + 2 * h] = dn * r
                dhPrev[e] = z * dh
            }
        }
        try write(dInput, to: gradGatesInput, "gruBackwardStep gradGatesInput")
        try write(dHidden, to: gradGatesHidden, "gruBackwardStep gradGatesHidden")
        try write(dhPrev, to: gradHidden, "gruBackwardStep gradHidden")
    }
}
