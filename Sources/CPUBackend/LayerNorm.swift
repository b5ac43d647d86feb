// Layer normalisation (Ba et al. 2016) and the layer-normalised LSTM cell step:
// x̂ = (x − μ)/σ, σ = √(var + 1e-5) with the biased variance (nn.LayerNorm), each row's sums in
// double (the gradient's mean terms cancel) by the vectorised C rows of recurrent_layer_norm.h. Rows
// are split across cores when there are enough values. The shared time loop (Backend+LayerNorm.swift)
// runs them. R = rows, W = width, B = batch, H = hidden size.
import CRecurrentGEMM
import RecurrentCore

extension CPUBackend {
    public func layerNormForward(output: Tensor, normalized: Tensor, inverseDeviation: Tensor, input: Tensor, gain: Tensor,
                                 bias: Tensor?) throws {
        let op = "layerNormForward", w = gain.count
        let rows = try RecurrentLayerNormWeights.rows(of: input, gain: gain, "\(op) input")
        let px = SendablePointer(try pointer(input, op)), py = SendablePointer(try pointer(output, count: rows * w, op))
        let pn = SendablePointer(try pointer(normalized, count: rows * w, op))
        let ps = SendablePointer(try pointer(inverseDeviation, count: rows, op))
        let pg = SendablePointer(try pointer(gain, op)), pb = try bias.map { SendablePointer(try pointer($0, count: w, op)) }
        try splitRows(rows, width: w) { r in
            rk_layer_norm_rows(pn.pointer + r.lowerBound * w, ps.pointer + r.lowerBound, py.pointer + r.lowerBound * w,
                               px.pointer + r.lowerBound * w, pg.pointer, pb?.pointer, r.count, Int32(w))
        }
    }

    public func layerNormBackward(gradInput: Tensor, gradOutput: Tensor, normalized: Tensor, inverseDeviation: Tensor,
                                  gain: Tensor) throws {
        let op = "layerNormBackward", w = gain.count
        let rows = try RecurrentLayerNormWeights.rows(of: normalized, gain: gain, "\(op) normalized")
        let pdx = SendablePointer(try pointer(gradInput, count: rows * w, op))
        let pdy = SendablePointer(try pointer(gradOutput, count: rows * w, op))
        let pn = SendablePointer(try pointer(normalized, op)), ps = SendablePointer(try pointer(inverseDeviation, count: rows, op))
        let pg = SendablePointer(try pointer(gain, op))
        try splitRows(rows, width: w) { r in
            rk_layer_norm_rows_backward(pdx.pointer + r.lowerBound * w, pdy.pointer + r.lowerBound * w, pn.pointer + r.lowerBound * w,
                                        pg.pointer, ps.pointer + r.lowerBound, r.count, Int32(w))
        }
    }

    public func layerNormLSTMForwardStep(hidden: Tensor, cell: Tensor, normalizedCell: Tensor, cellInverseDeviation: Tensor,
                                         normalizedProjection: Tensor, projectionInverseDeviation: Tensor,
                                         gates: Tensor, hiddenProjection: Tensor, biasIH: Tensor, biasHH: Tensor,
                                         projectionGain: Tensor, cellGain: Tensor, cellBias: Tensor, previousCell: Tensor?) throws {
        let op = "layerNormLSTMForwardStep"
        let (b, h) = try RecurrentCell.stepSizes(bias: biasIH, state: hidden, gateCount: 4, op)
        let p = { (x: Tensor, count: Int) in SendablePointer(try self.pointer(x, count: count, op)) }
        let ph = try p(hidden, b * h), pc = try p(cell, b * h), pn = try p(normalizedCell, b * h)
        let ps = try p(cellInverseDeviation, b), pg = try p(gates, b * 4 * h), pp = try p(hiddenProjection, b * 4 * h)
        let bi = try p(biasIH, 4 * h), bh = try p(biasHH, 4 * h), gain = try p(cellGain, h), beta = try p(cellBias, h)
        let pnp = try p(normalizedProjection, b * 4 * h), psp = try p(projectionInverseDeviation, b)
        let gp = try p(projectionGain, 4 * h), pcPrev = try previousCell.map { try p($0, b * h) }
        try splitRows(b, width: 4 * h) { rows in
            for row in rows {
                let g = pg.pointer + row * 4 * h, np = pnp.pointer + row * 4 * h, c = pc.pointer + row * h
                let n = pn.pointer + row * h, out = ph.pointer + row * h
                // The recurrent norm of h̄ W_hhᵀ.
                rk_layer_norm_rows(np, psp.pointer + row, nil, pp.pointer + row * 4 * h, nil, nil, 1, Int32(4 * h))
                forEachChunk(h) { j, lanes in
                    func pre(_ k: Int) -> Vec {
                        (load(g, k * h + j, lanes) + load(bi.pointer, k * h + j, lanes))
                            + (load(np, k * h + j, lanes) * load(gp.pointer, k * h + j, lanes) + load(bh.pointer, k * h + j, lanes))
                    }
                    let (i, f, gg, o) = (vsigmoid(pre(0)), vsigmoid(pre(1)), vtanh(pre(2)), vsigmoid(pre(3)))
                    store(i, g, j, lanes); store(f, g, h + j, lanes); store(gg, g, 2 * h + j, lanes); store(o, g, 3 * h + j, lanes)
                    let previous = pcPrev.map { load($0.pointer + row * h, j, lanes) } ?? Vec(repeating: 0)
                    store(f * previous + i * gg, c, j, lanes)                     // c̃, normalised below
                }
                rk_layer_norm_rows(n, ps.pointer + row, nil, c, nil, nil, 1, Int32(h))
                forEachChunk(h) { j, lanes in
                    let value = load(n, j, lanes) * load(gain.pointer, j, lanes) + load(beta.pointer, j, lanes)
                    store(value, c, j, lanes)
                    store(load(g, 3 * h + j, lanes) * vtanh(value), out, j, lanes)
                }
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
        let p = { (x: Tensor, count: Int) in SendablePointer(try self.pointer(x, count: count, op)) }
        let pdg = try p(gradGates, b * 4 * h), pdc = try p(gradCell, b * h), pdco = try p(gradCellOutput, b * h)
        let pdh = try p(gradHidden, b * h), pdy = try gradOutput.map { try p($0, b * h) }
        let pg = try p(gates, b * 4 * h), pc = try p(cell, b * h), pn = try p(normalizedCell, b * h)
        let ps = try p(cellInverseDeviation, b), gain = try p(cellGain, h), pcPrev = try previousCell.map { try p($0, b * h) }
        let pdp = try p(gradProjection, b * 4 * h), pnp = try p(normalizedProjection, b * 4 * h)
        let psp = try p(projectionInverseDeviation, b), gp = try p(projectionGain, 4 * h)
        try splitRows(b, width: 4 * h) { rows in
            for row in rows {
                let g = pg.pointer + row * 4 * h, dg = pdg.pointer + row * 4 * h, dco = pdco.pointer + row * h
                let dc = pdc.pointer + row * h
                forEachChunk(h) { j, lanes in
                    let o = load(g, 3 * h + j, lanes), tc = vtanh(load(pc.pointer + row * h, j, lanes))
                    let dh = (pdy.map { load($0.pointer + row * h, j, lanes) } ?? Vec(repeating: 0))
                        + load(pdh.pointer + row * h, j, lanes)
                    store(load(dc, j, lanes) + dh * o * (1 - tc * tc), dco, j, lanes)
                    store(dh * tc * o * (1 - o), dg, 3 * h + j, lanes)
                }
                // dc̃ through the normalisation, into dc for now.
                rk_layer_norm_rows_backward(dc, dco, pn.pointer + row * h, gain.pointer, ps.pointer + row, 1, Int32(h))
                forEachChunk(h) { j, lanes in
                    let (i, f, gg) = (load(g, j, lanes), load(g, h + j, lanes), load(g, 2 * h + j, lanes))
                    let d = load(dc, j, lanes)
                    let previous = pcPrev.map { load($0.pointer + row * h, j, lanes) } ?? Vec(repeating: 0)
                    store(d * gg * i * (1 - i), dg, j, lanes)
                    store(d * previous * f * (1 - f), dg, h + j, lanes)
                    store(d * i * (1 - gg * gg), dg, 2 * h + j, lanes)
                    store(d * f, dc, j, lanes)
                }
                // Back through the recurrent norm.
                rk_layer_norm_rows_backward(pdp.pointer + row * 4 * h, dg, pnp.pointer + row * 4 * h, gp.pointer,
                                            psp.pointer + row, 1, Int32(4 * h))
            }
        }
    }
}
