// Reference layer normalisation (Ba et al. 2016) and the layer-normalised LSTM cell step, with sums
// in Double. Each row of width W: x̂ = (x − μ)/σ, σ = √(var + 1e-5) with the biased variance, as
// nn.LayerNorm. R = rows, W = width, B = batch, H = hidden size.

import Foundation
import RecurrentCore

extension ReferenceBackend {
    /// ε of the variance, as nn.LayerNorm's default.
    static let layerNormEpsilon = 1e-5

    /// x̂ and 1/σ of one row.
    static func normalize(_ x: ArraySlice<Float>) -> (normalized: [Float], inverseDeviation: Float) {
        let w = Double(x.count)
        let mean = x.reduce(0) { $0 + Double($1) } / w
        let variance = x.reduce(0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / w
        let inverse = 1 / (variance + layerNormEpsilon).squareRoot()
        return (x.map { Float((Double($0) - mean) * inverse) }, Float(inverse))
    }

    /// dx of one row from dx̂ (the gradient with the gain already applied), x̂ and 1/σ.
    static func normalizeBackward(_ dNormalized: [Float], _ normalized: ArraySlice<Float>, _ inverseDeviation: Float) -> [Float] {
        let w = Double(dNormalized.count), xs = Array(normalized)
        let meanD = dNormalized.reduce(0) { $0 + Double($1) } / w
        let meanDX = zip(dNormalized, xs).reduce(0) { $0 + Double($1.0) * Double($1.1) } / w
        return (0..<xs.count).map { Float(Double(inverseDeviation) * (Double(dNormalized[$0]) - meanD - Double(xs[$0]) * meanDX)) }
    }

    public func layerNormForward(output: Tensor, normalized: Tensor, inverseDeviation: Tensor, input: Tensor, gain: Tensor,
                                 bias: Tensor?) throws {
        let op = "layerNormForward", w = gain.count
        let rows = try matrixRows(input, columns: w, "\(op) input (R, W)")
        try RecurrentError.check("\(op) output (R, W)", count: output.count, equals: rows * w)
        try RecurrentError.check("\(op) normalized (R, W)", count: normalized.count, equals: rows * w)
        try RecurrentError.check("\(op) inverseDeviation (R)", count: inverseDeviation.count, equals: rows)
        let x = try read(input, "\(op) input"), gv = try read(gain, "\(op) gain")
        let bv = try readOrZeros(bias, count: w, "\(op) bias (W)")
        var y = [Float](), xhat = [Float](), inverse = [Float]()
        for row in 0..<rows {
            let (n, s) = Self.normalize(x[(row * w)..<((row + 1) * w)])
            xhat += n
            inverse.append(s)
            y += (0..<w).map { n[$0] * gv[$0] + bv[$0] }
        }
        try write(xhat, to: normalized, "\(op) normalized")
        try write(inverse, to: inverseDeviation, "\(op) inverseDeviation")
        try write(y, to: output, "\(op) output")
    }

    public func layerNormBackward(gradInput: Tensor, gradOutput: Tensor, normalized: Tensor, inverseDeviation: Tensor,
                                  gain: Tensor) throws {
        let op = "layerNormBackward", w = gain.count
        let rows = try matrixRows(normalized, columns: w, "\(op) normalized (R, W)")
        try RecurrentError.check("\(op) gradInput (R, W)", count: gradInput.count, equals: rows * w)
        try RecurrentError.check("\(op) gradOutput (R, W)", count: gradOutput.count, equals: rows * w)
        try RecurrentError.check("\(op) inverseDeviation (R)", count: inverseDeviation.count, equals: rows)
        let dy = try read(gradOutput, "\(op) gradOutput"), xhat = try read(normalized, "\(op) normalized")
        let inverse = try read(inverseDeviation, "\(op) inverseDeviation"), gv = try read(gain, "\(op) gain")
        var dx = [Float]()
        for row in 0..<rows {
            let d = (0..<w).map { dy[row * w + $0] * gv[$0] }
            dx += Self.normalizeBackward(d, xhat[(row * w)..<((row + 1) * w)], inverse[row])
        }
        try write(dx, to: gradInput, "\(op) gradInput")
    }

    public func layerNormLSTMForwardStep(hidden: Tensor, cell: Tensor, normalizedCell: Tensor, cellInverseDeviation: Tensor,
                                         normalizedProjection: Tensor, projectionInverseDeviation: Tensor,
                                         gates: Tensor, hiddenProjection: Tensor, biasIH: Tensor, biasHH: Tensor,
                                         projectionGain: Tensor, cellGain: Tensor, cellBias: Tensor, previousCell: Tensor?) throws {
        let op = "layerNormLSTMForwardStep"
        let h = try hiddenSize(gateVector: biasIH, gates: 4, "\(op) biasIH (4H)")
        let b = try matrixRows(hidden, columns: h, "\(op) hidden (B, H)")
        for (name, x, count) in [("cell (B, H)", cell, b * h), ("normalizedCell (B, H)", normalizedCell, b * h),
                                 ("cellInverseDeviation (B)", cellInverseDeviation, b), ("gates (B, 4H)", gates, b * 4 * h),
                                 ("hiddenProjection (B, 4H)", hiddenProjection, b * 4 * h), ("biasHH (4H)", biasHH, 4 * h),
                                 ("cellGain (H)", cellGain, h), ("cellBias (H)", cellBias, h),
                                 ("normalizedProjection (B, 4H)", normalizedProjection, b * 4 * h),
                                 ("projectionInverseDeviation (B)", projectionInverseDeviation, b), ("projectionGain (4H)", projectionGain, 4 * h)] {
            try RecurrentError.check("\(op) \(name)", count: x.count, equals: count)
        }
        var gv = try read(gates, "\(op) gates")
        let raw = try read(hiddenProjection, "\(op) hiddenProjection"), pg = try read(projectionGain, "\(op) projectionGain")
        let biv = try read(biasIH, "\(op) biasIH"), bhv = try read(biasHH, "\(op) biasHH")
        let gain = try read(cellGain, "\(op) cellGain"), beta = try read(cellBias, "\(op) cellBias")
        let cPrev = try readOrZeros(previousCell, count: b * h, "\(op) previousCell (B, H)")
        var hv = [Float](), cv = [Float](), nv = [Float](), sv = [Float](), npv = [Float](), spv = [Float]()
        var pv = [Float]()                                                 // (B, 4H) the normalised product ⊙ gain
        for row in 0..<b {
            let (np, sp) = Self.normalize(raw[(row * 4 * h)..<((row + 1) * 4 * h)])
            npv += np
            spv.append(sp)
            pv += (0..<(4 * h)).map { np[$0] * pg[$0] }
        }
        for row in 0..<b {
            var candidate = [Float](repeating: 0, count: h), outputGate = candidate
            for j in 0..<h {
                let base = row * 4 * h
                func pre(_ k: Int) -> Float { (gv[base + k * h + j] + biv[k * h + j]) + (pv[base + k * h + j] + bhv[k * h + j]) }
                let (i, f, g, o) = (Self.sigmoid(pre(0)), Self.sigmoid(pre(1)), Foundation.tanh(pre(2)), Self.sigmoid(pre(3)))
                for (k, value) in [i, f, g, o].enumerated() { gv[base + k * h + j] = value }
                candidate[j] = f * cPrev[row * h + j] + i * g
                outputGate[j] = o
            }
            let (n, s) = Self.normalize(candidate[...])
            nv += n
            sv.append(s)
            let c = (0..<h).map { n[$0] * gain[$0] + beta[$0] }
            cv += c
            hv += (0..<h).map { outputGate[$0] * Foundation.tanh(c[$0]) }
        }
        try write(gv, to: gates, "\(op) gates")
        try write(cv, to: cell, "\(op) cell")
        try write(nv, to: normalizedCell, "\(op) normalizedCell")
        try write(sv, to: cellInverseDeviation, "\(op) cellInverseDeviation")
        try write(npv, to: normalizedProjection, "\(op) normalizedProjection")
        try write(spv, to: projectionInverseDeviation, "\(op) projectionInverseDeviation")
        try write(hv, to: hidden, "\(op) hidden")
    }

    public func layerNormLSTMBackwardStep(gradGates: Tensor, gradProjection: Tensor, gradCell: Tensor, gradCellOutput: Tensor,
                                          gradHidden: Tensor, gradOutput: Tensor?, gates: Tensor, cell: Tensor, normalizedCell: Tensor,
                                          cellInverseDeviation: Tensor, normalizedProjection: Tensor,
                                          projectionInverseDeviation: Tensor, projectionGain: Tensor, cellGain: Tensor,
                                          previousCell: Tensor?) throws {
        let op = "layerNormLSTMBackwardStep"
        let h = try hiddenSize(gateMatrix: gates, gates: 4, "\(op) gates (B, 4H)")
        let b = try matrixRows(gates, columns: 4 * h, "\(op) gates (B, 4H)")
        for (name, x, count) in [("gradGates (B, 4H)", gradGates, b * 4 * h), ("gradCell (B, H)", gradCell, b * h),
                                 ("gradCellOutput (B, H)", gradCellOutput, b * h), ("gradHidden (B, H)", gradHidden, b * h),
                                 ("cell (B, H)", cell, b * h), ("normalizedCell (B, H)", normalizedCell, b * h),
                                 ("cellInverseDeviation (B)", cellInverseDeviation, b), ("cellGain (H)", cellGain, h),
                                 ("gradProjection (B, 4H)", gradProjection, b * 4 * h),
                                 ("normalizedProjection (B, 4H)", normalizedProjection, b * 4 * h),
                                 ("projectionInverseDeviation (B)", projectionInverseDeviation, b), ("projectionGain (4H)", projectionGain, 4 * h)] {
            try RecurrentError.check("\(op) \(name)", count: x.count, equals: count)
        }
        let gv = try read(gates, "\(op) gates"), cv = try read(cell, "\(op) cell")
        let nv = try read(normalizedCell, "\(op) normalizedCell"), sv = try read(cellInverseDeviation, "\(op) cellInverseDeviation")
        let gain = try read(cellGain, "\(op) cellGain"), dcNext = try read(gradCell, "\(op) gradCell")
        let dhNext = try read(gradHidden, "\(op) gradHidden")
        let dy = try readOrZeros(gradOutput, count: b * h, "\(op) gradOutput (B, H)")
        let cPrev = try readOrZeros(previousCell, count: b * h, "\(op) previousCell (B, H)")
        var dg = [Float](repeating: 0, count: b * 4 * h), dcOut = [Float](), dcPrev = [Float]()
        for row in 0..<b {
            let base = row * 4 * h
            var dc = [Float](repeating: 0, count: h)
            for j in 0..<h {
                let e = row * h + j, tc = Foundation.tanh(cv[e])
                let dh = dy[e] + dhNext[e]
                dc[j] = dcNext[e] + dh * gv[base + 3 * h + j] * (1 - tc * tc)
                dg[base + 3 * h + j] = dh * tc * gv[base + 3 * h + j] * (1 - gv[base + 3 * h + j])
            }
            dcOut += dc
            let dCandidate = Self.normalizeBackward((0..<h).map { dc[$0] * gain[$0] }, nv[(row * h)..<((row + 1) * h)], sv[row])
            for j in 0..<h {
                let (i, f, g) = (gv[base + j], gv[base + h + j], gv[base + 2 * h + j])
                let d = dCandidate[j]
                dg[base + j] = d * g * i * (1 - i)
                dg[base + h + j] = d * cPrev[row * h + j] * f * (1 - f)
                dg[base + 2 * h + j] = d * i * (1 - g * g)
                dcPrev.append(d * f)
            }
        }
        try write(dg, to: gradGates, "\(op) gradGates")
        try layerNormBackward(gradInput: gradProjection, gradOutput: gradGates, normalized: normalizedProjection,
                              inverseDeviation: projectionInverseDeviation, gain: projectionGain)
        try write(dcOut, to: gradCellOutput, "\(op) gradCellOutput")
        try write(dcPrev, to: gradCell, "\(op) gradCell")
    }
}
