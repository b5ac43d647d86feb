// The reference's own whole-layer backward against central finite differences of its forward,
// so the yardstick is checked by something other than a second reading of the same equations.
// T = time steps, B = batch, I = input size, H = hidden size, G = gates.

import RecurrentKit
import ReferenceBackend
import TestSupport
import Testing

@Suite struct ReferenceGradientTests {
    /// L = Σ gradOutput ⊙ output + Σ gradFinalHidden ⊙ h_T (+ Σ gradFinalCell ⊙ c_T): its gradients
    /// are exactly what recurrentBackward computes from those upstream gradients.
    @Test(arguments: RecurrentCell.allCases)
    func backwardMatchesFiniteDifferences(_ cell: RecurrentCell) throws {
        let backend = Side.referenceBackend
        let (t, b, i, h) = (3, 2, 3, 4)
        let s = RecurrentLayerShape(cell: cell, sequenceLength: t, batchSize: b, inputSize: i, hiddenSize: h)
        let gh = s.gateWidth, lstm = cell == .lstm
        var random = TestRandom(seed: 95, stream: UInt64(gh))
        // Inputs of L, in the order [weight_ih, weight_hh, bias_ih, bias_hh, input, h0, c0].
        let shapes = [[gh, i], [gh, h], [gh], [gh], [t, b, i], [b, h], [b, h]]
        let values = shapes.map { random.uniform(count: $0.reduce(1, *), low: -0.8, high: 0.8) }
        let gradOutput = random.uniform(count: t * b * h), gradFinalHidden = random.uniform(count: b * h)
        let gradFinalCell = random.uniform(count: b * h)

        func tensors(_ v: [[Float]]) throws -> [Tensor] {
            try zip(shapes, v).map { try Tensor(shape: $0, values: $1, on: backend) }
        }
        func forward(_ x: [Tensor]) throws -> (output: Tensor, finalHidden: Tensor, finalCell: Tensor, reserve: Tensor) {
            let output = try Tensor.empty([t, b, h], on: backend), reserve = try Tensor.empty([s.reserveCount], on: backend)
            let finalHidden = try Tensor.empty([b, h], on: backend), finalCell = try Tensor.zeros([b, h], on: backend)
            try backend.recurrentForward(
                RecurrentForwardIO(output: output, finalHidden: finalHidden, finalCell: lstm ? finalCell : nil,
                                   reserve: reserve, input: x[4], initialHidden: x[5], initialCell: lstm ? x[6] : nil),
                RecurrentWeights(weightIH: x[0], weightHH: x[1], biasIH: x[2], biasHH: x[3]), s)
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
                                gradOutput: Tensor(shape: [t, b, h], values: gradOutput, on: backend),
                                gradFinalHidden: Tensor(shape: [b, h], values: gradFinalHidden, on: backend),
                                gradFinalCell: lstm ? Tensor(shape: [b, h], values: gradFinalCell, on: backend) : nil,
                                input: x[4], output: f.output, initialHidden: x[5], initialCell: lstm ? x[6] : nil,
                                reserve: f.reserve),
            RecurrentWeights(weightIH: x[0], weightHH: x[1], biasIH: x[2], biasHH: x[3]),
            RecurrentWeights(weightIH: grads[0], weightHH: grads[1], biasIH: grads[2], biasHH: grads[3]), s)

        // Central differences; fp32 forward, so a wide step and a loose tolerance.
        let epsilon: Float = 1e-2
        let names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh", "input", "h0", "c0"]
        for (k, name) in names.enumerated() where k < 6 || lstm {
            var numeric = [Float](repeating: 0, count: values[k].count)
            for e in 0..<values[k].count {
                var plus = values, minus = values
                plus[k][e] += epsilon
                minus[k][e] -= epsilon
                numeric[e] = Float((try loss(plus) - loss(minus)) / Double(2 * epsilon))
            }
            expectClose(try grads[k].toArray(), numeric, absolute: 2e-3, relative: 1e-2,
                        "\(cell.rawValue) reference d\(name) vs finite differences")
        }
    }
}
