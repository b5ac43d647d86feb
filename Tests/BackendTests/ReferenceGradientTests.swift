// The reference's own whole-layer backward against central finite differences of its forward,
// so the yardstick is checked by something other than a second reading of the same equations:
// uniform shapes, uneven ones (I ≠ H, T ≠ B), LSTM projections, variable lengths (packed) and
// recurrent dropout masks, zoneout, a GRU with the reset gate before the recurrent product, and
// layer-normalised cells (with zoneout too, and LSTMs with a projection). The bidirectional stack with zoneout and layer norm is
// LayerNormZoneoutTests'.
// T = time steps, B = batch, I = input size, H = hidden size, G = gates, P = projection size,
// R = width of h (P when projecting, else H), N = rows (T·B, or Σ batchSizes when packed).

import RecurrentKit
import ReferenceBackend
import TestSupport
import Testing

/// One finite-difference configuration.
struct GradientCase: Sendable, CustomTestStringConvertible {
    var cell: RecurrentCell
    var t = 3, b = 2, i = 3, h = 4
    var batchSizes: [Int]? = nil
    var projection: Int? = nil
    /// A (B, R) recurrent dropout mask of 0 and 1/(1 − 0.4).
    var hiddenMask = false
    /// Zoneout factors in [0, 1) for h and (LSTM) c.
    var zoneout = false
    /// GRU with the reset gate before the recurrent product.
    var resetBefore = false
    /// Layer-normalised LSTM or GRU.
    var layerNorm = false

    var shape: RecurrentLayerShape {
        RecurrentLayerShape(cell: cell, sequenceLength: t, batchSize: b, inputSize: i, hiddenSize: h, batchSizes: batchSizes,
                            projectionSize: projection, zoneout: zoneout, resetBefore: resetBefore,
                            layerNorm: layerNorm)
    }

    var testDescription: String {
        "\(cell.rawValue) T\(t) B\(b) I\(i) H\(h)" + (projection.map { " P\($0)" } ?? "")
            + (batchSizes.map { " packed \($0)" } ?? "") + (hiddenMask ? " recurrent dropout" : "") + (zoneout ? " zoneout" : "")
            + (resetBefore ? " reset before" : "") + (layerNorm ? " layer norm" : "")
    }

    static let all: [GradientCase] = RecurrentCell.allCases.flatMap { cell in
        [GradientCase(cell: cell),
         GradientCase(cell: cell, t: 4, b: 3, i: 2, h: 5, batchSizes: [3, 3, 2, 1]),
         GradientCase(cell: cell, t: 2, b: 3, i: 5, h: 3, hiddenMask: true),
         GradientCase(cell: cell, t: 4, b: 3, i: 2, h: 3, batchSizes: [3, 2, 2, 1], hiddenMask: true),
         GradientCase(cell: cell, t: 3, b: 3, i: 2, h: 4, batchSizes: [3, 2, 1], zoneout: true)]
    } + [GradientCase(cell: .lstm, t: 3, b: 2, i: 3, h: 5, projection: 2),
         GradientCase(cell: .lstm, t: 4, b: 3, i: 2, h: 4, batchSizes: [3, 2, 1, 1], projection: 3, hiddenMask: true),
         GradientCase(cell: .lstm, t: 4, b: 2, i: 3, h: 4, projection: 2, hiddenMask: true, zoneout: true),
         GradientCase(cell: .gru, resetBefore: true),
         GradientCase(cell: .gru, t: 5, b: 2, i: 4, h: 3, resetBefore: true),
         GradientCase(cell: .gru, t: 4, b: 3, i: 2, h: 5, batchSizes: [3, 3, 2, 1], resetBefore: true),
         GradientCase(cell: .gru, t: 4, b: 3, i: 2, h: 3, batchSizes: [3, 2, 2, 1], hiddenMask: true, resetBefore: true),
         GradientCase(cell: .gru, t: 3, b: 3, i: 2, h: 4, batchSizes: [3, 2, 1], hiddenMask: true, zoneout: true,
                      resetBefore: true)]
        + [RecurrentCell.lstm, .gru].flatMap { cell in
            [GradientCase(cell: cell, layerNorm: true),
             GradientCase(cell: cell, t: 4, b: 3, i: 2, h: 5, batchSizes: [3, 3, 2, 1], layerNorm: true),
             GradientCase(cell: cell, t: 3, b: 2, i: 5, h: 4, batchSizes: [2, 2, 1], hiddenMask: true, layerNorm: true),
             // Zoneout (and an LSTM's cell zoneout): uniform, uneven and packed, with recurrent dropout.
             GradientCase(cell: cell, zoneout: true, layerNorm: true),
             GradientCase(cell: cell, t: 4, b: 3, i: 2, h: 5, batchSizes: [3, 3, 2, 1], zoneout: true, layerNorm: true),
             GradientCase(cell: cell, t: 3, b: 3, i: 4, h: 3, batchSizes: [3, 2, 1], hiddenMask: true, zoneout: true,
                          layerNorm: true)]
        }
        // Layer-normalised LSTMs with a projection: uniform (H = 5, P = 2), uneven and packed with recurrent
        // dropout (I = 2, H = 5, P = 3), and packed with zoneout and recurrent dropout (P = 1).
        + [GradientCase(cell: .lstm, t: 3, b: 2, i: 3, h: 5, projection: 2, layerNorm: true),
           GradientCase(cell: .lstm, t: 4, b: 3, i: 2, h: 5, batchSizes: [3, 3, 2, 1], projection: 3, hiddenMask: true,
                        layerNorm: true),
           GradientCase(cell: .lstm, t: 3, b: 3, i: 4, h: 3, batchSizes: [3, 2, 1], projection: 1, hiddenMask: true,
                        zoneout: true, layerNorm: true)]
}

@Suite struct ReferenceGradientTests {
    /// L = Σ gradOutput ⊙ output + Σ gradFinalHidden ⊙ h_T (+ Σ gradFinalCell ⊙ c_T): its gradients
    /// are exactly what recurrentBackward computes from those upstream gradients.
    @Test(arguments: GradientCase.all)
    func backwardMatchesFiniteDifferences(_ c: GradientCase) throws {
        let backend = Side.referenceBackend
        let s = c.shape
        let (b, i, h, r, n, gh) = (c.b, c.i, c.h, s.outputSize, s.rowCount, s.gateWidth)
        let (lstm, projecting) = (c.cell == .lstm, c.projection != nil)
        // (Values drawn so that no ReLU pre-activation lies within the finite-difference step of its kink.)
        var random = TestRandom(seed: 95, stream: UInt64(gh * 1000 + n * 10 + r) + (c.cell == .rnnRelu ? 1 << 32 : 0))
        // Inputs of L, in the order [weight_ih, weight_hh, bias_ih, bias_hh, input, h0, c0, weight_hr,
        // weight_ln_ih, weight_ln_hh, weight_ln_c, bias_ln_c] (empty where the case has none).
        let (ln, lnCell) = (c.layerNorm ? gh : 0, c.layerNorm && lstm ? h : 0)
        let shapes = [[gh, i], [gh, r], [gh], [gh], [n, i], [b, r], [b, h], [c.projection ?? 0, h], [ln], [ln], [lnCell], [lnCell]]
        // Gains drawn around 1.
        let values = shapes.enumerated().map { k, shape in
            random.uniform(count: shape.reduce(1, *), low: -0.8, high: 0.8).map { k >= 8 && k <= 10 ? 1 + $0 / 2 : $0 }
        }
        let gradOutput = random.uniform(count: n * r), gradFinalHidden = random.uniform(count: b * r)
        let gradFinalCell = random.uniform(count: b * h)
        let mask = try c.hiddenMask
            ? Tensor(shape: [b, r], values: random.uniform(count: b * r).map { $0 < -0.2 ? 0 : 1 / 0.6 }, on: backend) : nil
        let zoneout = try c.zoneout
            ? RecurrentZoneout(hidden: random.tensor([n, r], on: backend, low: 0, high: 1),
                               cell: lstm ? random.tensor([n, h], on: backend, low: 0, high: 1) : nil) : nil

        func tensors(_ v: [[Float]]) throws -> [Tensor] {
            try zip(shapes, v).map { try Tensor(shape: $0, values: $1, on: backend) }
        }
        func weights(_ x: [Tensor]) -> RecurrentWeights {
            RecurrentWeights(weightIH: x[0], weightHH: x[1], biasIH: x[2], biasHH: x[3], weightHR: projecting ? x[7] : nil,
                             layerNorm: c.layerNorm ? RecurrentLayerNormWeights(gainIH: x[8], gainHH: x[9], gainCell: lstm ? x[10] : nil,
                                                                                biasCell: lstm ? x[11] : nil) : nil)
        }
        func forward(_ x: [Tensor]) throws -> (output: Tensor, finalHidden: Tensor, finalCell: Tensor, reserve: Tensor) {
            let output = try Tensor.empty([n, r], on: backend), reserve = try Tensor.empty([s.reserveCount], on: backend)
            let finalHidden = try Tensor.empty([b, r], on: backend), finalCell = try Tensor.zeros([b, h], on: backend)
            try backend.recurrentForward(
                RecurrentForwardIO(output: output, finalHidden: finalHidden, finalCell: lstm ? finalCell : nil,
                                   reserve: reserve, input: x[4], initialHidden: x[5], initialCell: lstm ? x[6] : nil,
                                   hiddenMask: mask, zoneout: zoneout),
                weights(x), s)
            return (output, finalHidden, finalCell, reserve)
        }
        func loss(_ v: [[Float]]) throws -> Double {
            let f = try forward(tensors(v))
            let terms = [(try f.output.toArray(), gradOutput), (try f.finalHidden.toArray(), gradFinalHidden),
                         (try f.finalCell.toArray(), gradFinalCell)]
            return terms.reduce(0) { sum, pair in
                sum + zip(pair.0, pair.1).reduce(0) { $0 + Double($1.0) * Double($1.1) }
            }
        }

        // Analytic gradients.
        let x = try tensors(values)
        let f = try forward(x)
        let grads = try shapes.map { try Tensor.zeros($0, on: backend) }
        try backend.recurrentBackward(
            RecurrentBackwardIO(gradInput: grads[4], gradInitialHidden: grads[5], gradInitialCell: lstm ? grads[6] : nil,
                                gradOutput: Tensor(shape: [n, r], values: gradOutput, on: backend),
                                gradFinalHidden: Tensor(shape: [b, r], values: gradFinalHidden, on: backend),
                                gradFinalCell: lstm ? Tensor(shape: [b, h], values: gradFinalCell, on: backend) : nil,
                                input: x[4], output: f.output, initialHidden: x[5], initialCell: lstm ? x[6] : nil,
                                reserve: f.reserve, hiddenMask: mask, zoneout: zoneout),
            weights(x), weights(grads), s)

        // Central differences; fp32 forward, so a wide step and a loose tolerance.
        // Layer norm is far from linear over a step of 1e-2 (1/σ of a few values), so a smaller one there.
        let epsilon: Float = c.layerNorm ? 2e-3 : 1e-2
        let names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh", "input", "h0", "c0", "weight_hr",
                     "weight_ln_ih", "weight_ln_hh", "weight_ln_c", "bias_ln_c"]
        for (k, name) in names.enumerated() where (k != 6 || lstm) && (k != 7 || projecting) && !values[k].isEmpty {
            var numeric = [Float](repeating: 0, count: values[k].count)
            for e in 0..<values[k].count {
                var plus = values, minus = values
                plus[k][e] += epsilon
                minus[k][e] -= epsilon
                numeric[e] = Float((try loss(plus) - loss(minus)) / Double(2 * epsilon))
            }
            expectClose(try grads[k].toArray(), numeric, absolute: 2e-3, relative: 1e-2,
                        "\(c.testDescription): reference d\(name) vs finite differences")
        }
    }
}

/// The reference's term magnitudes (`recurrentBackwardTermMagnitudes`), which the layer tests'
/// tolerance of parameter-gradient sums rests on.
@Suite struct TermMagnitudeTests {
    /// Every configuration of `GradientCase.all` at one step (packing and lengths fall away), B = 3.
    static let cases: [GradientCase] = GradientCase.all.map { c in
        var one = c
        one.t = 1
        one.b = 3
        one.batchSizes = nil
        return one
    }

    /// At one step each row adds exactly one term to every parameter gradient's element, and the
    /// gradients are linear in the upstream gradients: backward with only row k's upstream
    /// gradients gives row k's terms alone. The magnitudes, from gradients that start at g₀, must
    /// be |g₀| + Σ_k |row k's term|, and the gradient g₀ + Σ_k (row k's term).
    @Test(arguments: cases)
    func magnitudesSumEachRowsTerm(_ c: GradientCase) throws {
        let backend = Side.referenceBackend
        let s = c.shape
        let (b, i, h, r, gh) = (c.b, c.i, c.h, s.outputSize, s.gateWidth)
        let lstm = c.cell == .lstm
        var random = TestRandom(seed: 96, stream: UInt64(gh * 1000 + i * 10 + r))
        let (ln, lnCell) = (c.layerNorm ? gh : 0, c.layerNorm && lstm ? h : 0)
        // weight_ih, weight_hh, bias_ih, bias_hh, weight_hr, weight_ln_ih, weight_ln_hh, weight_ln_c, bias_ln_c.
        let shapes = [[gh, i], [gh, r], [gh], [gh], [c.projection ?? 0, h], [ln], [ln], [lnCell], [lnCell]]
        func tensor(_ shape: [Int], low: Float = -1, high: Float = 1) throws -> Tensor {
            try random.tensor(shape, on: backend, low: low, high: high)
        }
        func weights(_ x: [Tensor]) -> RecurrentWeights {
            RecurrentWeights(weightIH: x[0], weightHH: x[1], biasIH: x[2], biasHH: x[3], weightHR: c.projection == nil ? nil : x[4],
                             layerNorm: c.layerNorm ? RecurrentLayerNormWeights(gainIH: x[5], gainHH: x[6], gainCell: lstm ? x[7] : nil,
                                                                                biasCell: lstm ? x[8] : nil) : nil)
        }
        let w = weights(try shapes.enumerated().map { k, shape in try tensor(shape, low: k >= 5 && k <= 7 ? 0.5 : -1, high: 1.5) })
        let input = try tensor([b, i]), h0 = try tensor([b, r]), c0 = try tensor([b, h])
        let mask = try c.hiddenMask ? Tensor(shape: [b, r], values: random.uniform(count: b * r).map { $0 < -0.2 ? 0 : 1.5 }, on: backend) : nil
        let zoneout = try c.zoneout
            ? RecurrentZoneout(hidden: tensor([b, r], low: 0, high: 1), cell: lstm ? tensor([b, h], low: 0, high: 1) : nil) : nil
        let output = try Tensor.empty([b, r], on: backend), reserve = try Tensor.empty([s.reserveCount], on: backend)
        let finalHidden = try Tensor.empty([b, r], on: backend), finalCell = try Tensor.empty([b, h], on: backend)
        try backend.recurrentForward(
            RecurrentForwardIO(output: output, finalHidden: finalHidden, finalCell: lstm ? finalCell : nil, reserve: reserve,
                               input: input, initialHidden: h0, initialCell: lstm ? c0 : nil, hiddenMask: mask, zoneout: zoneout),
            w, s)
        let upstream = (random.uniform(count: b * r), random.uniform(count: b * r), random.uniform(count: b * h))
        /// The upstream gradients of `rows` only (the others zero).
        func io(rows: Set<Int>) throws -> RecurrentBackwardIO {
            func only(_ values: [Float], width: Int) throws -> Tensor {
                try Tensor(shape: [b, width], values: values.enumerated().map { rows.contains($0.offset / width) ? $0.element : 0 },
                           on: backend)
            }
            return RecurrentBackwardIO(gradInput: nil, gradOutput: try only(upstream.0, width: r), gradFinalHidden: try only(upstream.1, width: r),
                                       gradFinalCell: lstm ? try only(upstream.2, width: h) : nil, input: input, output: output,
                                       initialHidden: h0, initialCell: lstm ? c0 : nil, reserve: reserve, hiddenMask: mask,
                                       zoneout: zoneout)
        }
        let start = try shapes.map { try tensor($0).toArray() }
        func fromStart() throws -> [Tensor] { try zip(shapes, start).map { try Tensor(shape: $0, values: $1, on: backend) } }
        let gradients = try fromStart(), magnitudes = try fromStart()
        try backend.recurrentBackward(io(rows: Set(0..<b)), w, weights(gradients), s)
        try backend.recurrentBackwardTermMagnitudes(io(rows: Set(0..<b)), w, weights(magnitudes), s)
        var terms: [[[Float]]] = []                                         // [row][parameter][element]
        for row in 0..<b {
            let alone = try shapes.map { try Tensor.zeros($0, on: backend) }
            try backend.recurrentBackward(io(rows: [row]), w, weights(alone), s)
            terms.append(try alone.map { try $0.toArray() })
        }
        let names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr", "weight_ln_ih", "weight_ln_hh", "weight_ln_c",
                     "bias_ln_c"]
        var cancelling = 0                                                  // elements whose terms differ in sign
        for (k, name) in names.enumerated() where !start[k].isEmpty {
            let expectedMagnitudes = start[k].indices.map { e in abs(start[k][e]) + terms.reduce(0) { $0 + abs($1[k][e]) } }
            let expectedSums = start[k].indices.map { e in start[k][e] + terms.reduce(0) { $0 + $1[k][e] } }
            expectClose(try magnitudes[k].toArray(), expectedMagnitudes, absolute: 1e-6, relative: 1e-5,
                        "\(c.testDescription): Σ|term| of grad \(name)")
            expectClose(try gradients[k].toArray(), expectedSums, absolute: 1e-6, relative: 1e-5,
                        "\(c.testDescription): grad \(name) as the rows' terms")
            cancelling += zip(expectedMagnitudes, expectedSums).filter { $0 > 1.01 * abs($1) }.count
        }
        // Magnitudes that only echoed |sum| would pass above wherever the terms share a sign.
        #expect(cancelling > 0, "\(c.testDescription): no sum whose terms cancel")
    }
}
