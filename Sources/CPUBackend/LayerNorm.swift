// Layer normalisation (Ba et al. 2016) and the layer-normalised LSTM cell step, one row at a time:
// x̂ = (x − μ)/σ, σ = √(var + 1e-5) with the biased variance (nn.LayerNorm), the row's sums in
// ascending order, in Double (the gradient's mean terms cancel). The shared time loop (Backend+LayerNorm.swift) runs them.
// R = rows, W = width, B = batch, H = hidden size.
import Foundation
import RecurrentCore

/// x̂ into `normalized` and 1/σ of the `w` values at `x` (`normalized` may be `x`).
@inline(__always) private func normalizeRow(_ x: UnsafePointer<Float>, _ normalized: UnsafeMutablePointer<Float>, _ w: Int) -> Float {
    var sum: Double = 0
    for k in 0..<w { sum += Double(x[k]) }
    let mean = sum / Double(w)
    var squares: Double = 0
    for k in 0..<w { squares += (Double(x[k]) - mean) * (Double(x[k]) - mean) }
    let inverse = 1 / (squares / Double(w) + 1e-5).squareRoot()
    for k in 0..<w { normalized[k] = Float((Double(x[k]) - mean) * inverse) }
    return Float(inverse)
}

/// dx = (1/σ)(dx̂ − mean(dx̂) − x̂ ⊙ mean(dx̂ ⊙ x̂)) of one row, dx̂ = dy ⊙ gain (`dx` may be `dy`).
@inline(__always) private func normalizeRowBackward(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>,
                                                    _ xhat: UnsafePointer<Float>, _ gain: UnsafePointer<Float>,
                                                    _ inverse: Float, _ w: Int) {
    var sum: Double = 0, dot: Double = 0
    for k in 0..<w {
        let d = Double(dy[k] * gain[k])
        sum += d
        dot += d * Double(xhat[k])
    }
    let (meanD, meanDX) = (sum / Double(w), dot / Double(w))
    for k in 0..<w { dx[k] = Float(Double(inverse) * (Double(dy[k] * gain[k]) - meanD - Double(xhat[k]) * meanDX)) }
}

extension CPUBackend {
    public func layerNormForward(output: Tensor, normalized: Tensor, inverseDeviation: Tensor, input: Tensor, gain: Tensor,
                                 bias: Tensor?) throws {
        let op = "layerNormForward", w = gain.count
        let rows = try RecurrentLayerNormWeights.rows(of: input, gain: gain, "\(op) input")
        let px = try pointer(input, op), py = try pointer(output, count: rows * w, op)
        let pn = try pointer(normalized, count: rows * w, op), ps = try pointer(inverseDeviation, count: rows, op)
        let pg = try pointer(gain, op), pb = try bias.map { try pointer($0, count: w, op) }
        for row in 0..<rows {
            let n = pn + row * w, y = py + row * w
            ps[row] = normalizeRow(px + row * w, n, w)
            for k in 0..<w { y[k] = n[k] * pg[k] + (pb?[k] ?? 0) }
        }
    }

    public func layerNormBackward(gradInput: Tensor, gradOutput: Tensor, normalized: Tensor, inverseDeviation: Tensor,
                                  gain: Tensor) throws {
        let op = "layerNormBackward", w = gain.count
        let rows = try RecurrentLayerNormWeights.rows(of: normalized, gain: gain, "\(op) normalized")
        let pdx = try pointer(gradInput, count: rows * w, op), pdy = try pointer(gradOutput, count: rows * w, op)
        let pn = try pointer(normalized, op), ps = try pointer(inverseDeviation, count: rows, op), pg = try pointer(gain, op)
        for row in 0..<rows { normalizeRowBackward(pdx + row * w, pdy + row * w, pn + row * w, pg, ps[row], w) }
    }

    public func layerNormLSTMForwardStep(hidden: Tensor, cell: Tensor, normalizedCell: Tensor, cellInverseDeviation: Tensor,
                                         normalizedProjection: Tensor, projectionInverseDeviation: Tensor,
                                         gates: Tensor, hiddenProjection: Tensor, biasIH: Tensor, biasHH: Tensor,
                                         projectionGain: Tensor, cellGain: Tensor, cellBias: Tensor, previousCell: Tensor?) throws {
        let op = "layerNormLSTMForwardStep"
        let (b, h) = try RecurrentCell.stepSizes(bias: biasIH, state: hidden, gateCount: 4, op)
        let ph = try pointer(hidden, op), pc = try pointer(cell, count: b * h, op)
        let pn = try pointer(normalizedCell, count: b * h, op), ps = try pointer(cellInverseDeviation, count: b, op)
        let pg = try pointer(gates, count: b * 4 * h, op), pp = try pointer(hiddenProjection, count: b * 4 * h, op)
        let bi = try pointer(biasIH, op), bh = try pointer(biasHH, count: 4 * h, op)
        let gain = try pointer(cellGain, count: h, op), beta = try pointer(cellBias, count: h, op)
        let pnp = try pointer(normalizedProjection, count: b * 4 * h, op), psp = try pointer(projectionInverseDeviation, count: b, op)
        let gp = try pointer(projectionGain, count: 4 * h, op)
        let pcPrev = try previousCell.map { try pointer($0, count: b * h, op) }
        for row in 0..<b {
            let g = pg + row * 4 * h, np = pnp + row * 4 * h, c = pc + row * h, n = pn + row * h, out = ph + row * h
            psp[row] = normalizeRow(pp + row * 4 * h, np, 4 * h)           // the recurrent norm of h̄ W_hhᵀ
            forEachChunk(h) { j, lanes in
                func pre(_ k: Int) -> Vec {
                    (load(g, k * h + j, lanes) + load(bi, k * h + j, lanes))
                        + (load(np, k * h + j, lanes) * load(gp, k * h + j, lanes) + load(bh, k * h + j, lanes))
                }
                let (i, f, gg, o) = (vsigmoid(pre(0)), vsigmoid(pre(1)), vtanh(pre(2)), vsigmoid(pre(3)))
                store(i, g, j, lanes); store(f, g, h + j, lanes); store(gg, g, 2 * h + j, lanes); store(o, g, 3 * h + j, lanes)
                let previous = pcPrev.map { load($0 + row * h, j, lanes) } ?? Vec(repeating: 0)
                store(f * previous + i * gg, c, j, lanes)                     // c̃, normalised below
            }
            ps[row] = normalizeRow(c, n, h)
            forEachChunk(h) { j, lanes in
                let value = load(n, j, lanes) * load(gain, j, lanes) + load(beta, j, lanes)
                store(value, c, j, lanes)
                store(load(g, 3 * h + j, lanes) * vtanh(value), out, j, lanes)
            }
        }
    }

    public func layerNormLSTMBackwardStep(gradGates: Tensor, gradProjection: Tensor, gradCell: Tensor, gradCellOutput: Tensor,
                                          gradHidden: Tensor, gradOutput: Tensor?, gates: Tensor, cell: Tensor, normalizedCell: Tensor,
                                          cellInverseDeviation: Tensor, normalizedProjection: Tensor,
                                          projectionInverseDeviation: Tensor, projectionGain: Tensor, cellGain: Tensor,
                                          previousCell: Tensor?) throws {
        let op = "layerNormLSTMBackwardStep"
        let (b, h) = try RecurrentCell.stepSizes(gates: gates, gateCount: 4, op)
        let pdg = try pointer(gradGates, count: b * 4 * h, op), pdc = try pointer(gradCell, count: b * h, op)
        let pdco = try pointer(gradCellOutput, count: b * h, op), pdh = try pointer(gradHidden, count: b * h, op)
        let pdy = try gradOutput.map { try pointer($0, count: b * h, op) }
        let pg = try pointer(gates, op), pc = try pointer(cell, count: b * h, op)
        let pn = try pointer(normalizedCell, count: b * h, op), ps = try pointer(cellInverseDeviation, count: b, op)
        let gain = try pointer(cellGain, count: h, op), pcPrev = try previousCell.map { try pointer($0, count: b * h, op) }
        let pdp = try pointer(gradProjection, count: b * 4 * h, op), pnp = try pointer(normalizedProjection, count: b * 4 * h, op)
        let psp = try pointer(projectionInverseDeviation, count: b, op), gp = try pointer(projectionGain, count: 4 * h, op)
        for row in 0..<b {
            let g = pg + row * 4 * h, dg = pdg + row * 4 * h, dco = pdco + row * h, dc = pdc + row * h
            forEachChunk(h) { j, lanes in
                let o = load(g, 3 * h + j, lanes), tc = vtanh(load(pc + row * h, j, lanes))
                let dh = (pdy.map { load($0 + row * h, j, lanes) } ?? Vec(repeating: 0)) + load(pdh + row * h, j, lanes)
                store(load(dc, j, lanes) + dh * o * (1 - tc * tc), dco, j, lanes)
                store(dh * tc * o * (1 - o), dg, 3 * h + j, lanes)
            }
            // dc̃ through the normalisation, into dc for now.
            normalizeRowBackward(dc, dco, pn + row * h, gain, ps[row], h)
            forEachChunk(h) { j, lanes in
                let (i, f, gg) = (load(g, j, lanes), load(g, h + j, lanes), load(g, 2 * h + j, lanes))
                let d = load(dc, j, lanes)
                let previous = pcPrev.map { load($0 + row * h, j, lanes) } ?? Vec(repeating: 0)
                store(d * gg * i * (1 - i), dg, j, lanes)
                store(d * previous * f * (1 - f), dg, h + j, lanes)
                store(d * i * (1 - gg * gg), dg, 2 * h + j, lanes)
                store(d * f, dc, j, lanes)
            }
            // Back through the recurrent norm.
            normalizeRowBackward(pdp + row * 4 * h, dg, pnp + row * 4 * h, gp, psp[row], 4 * h)
        }
    }
}
