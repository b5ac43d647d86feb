// Zoneout on layer-normalised LSTM and GRU stacks: the reference's gradients of a two-layer
// bidirectional stack with variable lengths, recurrent dropout and zoneout against central finite
// differences (the masks and factors fixed for the whole check), and the device's stack against the
// reference's, with the masks drawn from the same Philox stream on both: training (output, final
// states and every gradient, initial states given) and evaluation (zoneout's expectation); LSTM stacks
// also with a projection (P ≠ H, the recurrent norm reading the P-wide h, zoneout on the projected h).
// T = time steps, B = batch, I = input size, H = hidden size, L = layers, D = directions,
// P = projection size, R = width of h (P when projecting, else H).

import Foundation
@testable import RecurrentKit
import ReferenceBackend
import TestSupport
import Testing

@Suite struct LayerNormZoneoutTests {
    static func stack(_ cell: RecurrentCell, on backend: any Backend, variants: RecurrentVariants, inputSize i: Int,
                      hiddenSize h: Int, projSize: Int = 0, seed: UInt64) throws -> RecurrentNetwork {
        let rng = RandomSource(seed: seed)
        return cell == .lstm
            ? try LSTM(inputSize: i, hiddenSize: h, numLayers: 2, projSize: projSize, bidirectional: true, on: backend, rng: rng,
                       variants: variants)
            : try GRU(inputSize: i, hiddenSize: h, numLayers: 2, bidirectional: true, on: backend, rng: rng, variants: variants)
    }

    /// L = Σ gradOutput ⊙ output + Σ g_h ⊙ h_n (+ Σ g_c ⊙ c_n) on the reference, its gradients from the
    /// tape against central differences of L, for a sample of every parameter's elements, the input and
    /// the initial states. Masks and zoneout factors (any values in [0, 1]) are given, so that every
    /// evaluation of L sees the same ones. A projected LSTM (P = 3, H = 5) checks `weight_hr` too.
    @Test(arguments: [(RecurrentCell.lstm, 0), (.gru, 0), (.lstm, 4)])
    func bidirectionalStackMatchesFiniteDifferences(_ cell: RecurrentCell, _ projSize: Int) throws {
        let backend = Side.referenceBackend
        let lstm = cell == .lstm
        let (t, b, i, h, ld) = (4, 3, 2, 5, 4)
        let r = projSize > 0 ? projSize : h
        let variants = RecurrentVariants(recurrentDropout: 0.3, zoneout: 0.3, cellZoneout: lstm ? 0.4 : 0, layerNorm: true)
        let net = try Self.stack(cell, on: backend, variants: variants, inputSize: i, hiddenSize: h, projSize: projSize, seed: 61)
        var random = TestRandom(seed: 62, stream: (lstm ? 1 : 2) + UInt64(projSize) << 8)
        // Gains and c's bias moved off their ones and zeros.
        for (name, p) in net.namedParameters where name.contains("_ln_") {
            let values = random.uniform(count: p.value.count, low: -0.3, high: 0.3).map { name.hasPrefix("weight") ? 1 + $0 : $0 }
            try backend.copy(Tensor(shape: p.value.shape, values: values, on: backend), to: p.value)
        }
        net.maskOverride = VariantMasks(
            hidden: try Tensor(shape: [ld, b, r], values: random.uniform(count: ld * b * r).map { $0 < -0.4 ? 0 : 1 / 0.7 },
                               on: backend),
            zoneoutHidden: try (0..<ld).map { _ in try random.tensor([t, b, r], on: backend, low: 0, high: 1) },
            zoneoutCell: lstm ? try (0..<ld).map { _ in try random.tensor([t, b, h], on: backend, low: 0, high: 1) } : nil)
        let lengths = [4, 2, 3]
        let input = try random.tensor([t, b, i], on: backend)
        let h0 = try random.tensor([ld, b, r], on: backend, low: -0.5, high: 0.5)
        let c0 = try random.tensor([ld, b, h], on: backend, low: -0.5, high: 0.5)
        let gradOutput = random.uniform(count: t * b * 2 * r), gradHidden = random.uniform(count: ld * b * r)
        let gradCell = random.uniform(count: ld * b * h)
        func state(_ hidden: Tensor, _ c: Tensor) -> RecurrentState { RecurrentState(hidden: hidden, cell: lstm ? c : nil) }

        func loss() throws -> Double {
            let result = try net(SequenceBatch(input, lengths: lengths), initialState: state(h0, c0))
            var terms = [(try result.output.data.toArray(), gradOutput), (try result.state.hidden.toArray(), gradHidden)]
            if lstm { terms.append((try #require(result.state.cell).toArray(), gradCell)) }
            return terms.reduce(0) { sum, pair in sum + zip(pair.0, pair.1).reduce(0) { $0 + Double($1.0) * Double($1.1) } }
        }
        let grads = try forwardBackward(
            net, SequenceBatch(input, lengths: lengths), initialState: state(h0, c0),
            gradOutput: Tensor(shape: [t, b, 2 * r], values: gradOutput, on: backend),
            gradState: state(try Tensor(shape: [ld, b, r], values: gradHidden, on: backend),
                             try Tensor(shape: [ld, b, h], values: gradCell, on: backend)))
        var checked: [(String, Tensor, [Float])] = []
        for (name, p) in net.namedParameters { checked.append((name, p.value, try p.gradient.toArray())) }
        checked += [("input", input, try #require(grads.input).toArray()), ("h0", h0, try #require(grads.state).hidden.toArray())]
        if lstm { checked.append(("c0", c0, try #require(grads.state?.cell).toArray())) }
        // Projected, a step of 1e-3: the P-wide h gives the recurrent norm fewer independent values, and some
        // rows come nearer the degenerate point where σ meets ε (the differences converge on the tape's as the
        // step shrinks).
        let epsilon: Float = projSize > 0 ? 1e-3 : 2e-3
        for (name, tensor, analytic) in checked {
            let original = try tensor.toArray()
            // Every third element (and the last), offset by the name, so that each block of each gate is met.
            let sample = Array(Set(stride(from: name.count % 3, to: original.count, by: 3)).union([original.count - 1])).sorted()
            var numeric: [Float] = [], wanted: [Float] = []
            for e in sample {
                var shifted = original
                shifted[e] = original[e] + epsilon
                try backend.copy(Tensor(shape: tensor.shape, values: shifted, on: backend), to: tensor)
                let plus = try loss()
                shifted[e] = original[e] - epsilon
                try backend.copy(Tensor(shape: tensor.shape, values: shifted, on: backend), to: tensor)
                let minus = try loss()
                numeric.append(Float((plus - minus) / Double(2 * epsilon)))
                wanted.append(analytic[e])
            }
            try backend.copy(Tensor(shape: tensor.shape, values: original, on: backend), to: tensor)
            expectClose(wanted, numeric, absolute: 2e-3, relative: 1e-2,
                        "\(cell.rawValue) P\(projSize) bidirectional layer norm zoneout: d\(name) vs finite differences")
        }
    }

    /// The device's two-layer bidirectional stack with variable lengths, recurrent dropout, zoneout
    /// (and an LSTM's cell zoneout) and initial states against the reference's, the masks drawn by each
    /// from the same Philox stream: output, final states, every gradient, then evaluation's output.
    /// Projected LSTMs: P = 4 of H = 9 and P = 1 of H = 5.
    @Test(arguments: [(RecurrentCell.lstm, 9, 0), (.gru, 13, 0), (.lstm, 5, 0), (.gru, 18, 0), (.lstm, 9, 4), (.lstm, 5, 1)])
    func bidirectionalStackMatchesReference(_ cell: RecurrentCell, _ h: Int, _ projSize: Int) throws {
        let lstm = cell == .lstm
        let r = projSize > 0 ? projSize : h
        typealias Run = (output: [Float], states: [[Float]], evaluation: [Float], gradients: [String: [Float]])
        func run(_ backend: any Backend) throws -> Run {
            let (t, b, i, ld) = (6, 5, 3, 4)
            let variants = RecurrentVariants(recurrentDropout: 0.3, zoneout: 0.25, cellZoneout: lstm ? 0.4 : 0, layerNorm: true)
            let net = try Self.stack(cell, on: backend, variants: variants, inputSize: i, hiddenSize: h, projSize: projSize, seed: 63)
            var random = TestRandom(seed: 64, stream: UInt64(h) + UInt64(projSize) << 8)
            let x = try SequenceBatch(random.tensor([t, b, i], on: backend), lengths: [6, 3, 5, 1, 6])
            let initial = RecurrentState(hidden: try random.tensor([ld, b, r], on: backend, low: -0.5, high: 0.5),
                                         cell: lstm ? try random.tensor([ld, b, h], on: backend, low: -0.5, high: 0.5) : nil)
            // Layer norm scales gradients by its gains and 1/σ: upstream gradients a tenth as large keep the
            // stack's about as large as a plain stack's, where the tolerance means the same (as RecurrentLayerTests).
            let gradOutput = try random.tensor([t, b, 2 * r], on: backend, low: -0.1, high: 0.1)
            let gradState = RecurrentState(hidden: try random.tensor([ld, b, r], on: backend, low: -0.1, high: 0.1),
                                           cell: lstm ? try random.tensor([ld, b, h], on: backend, low: -0.1, high: 0.1) : nil)
            let result = try forwardBackward(net, x, initialState: initial, gradOutput: gradOutput, gradState: gradState)
            var states = [try result.result.state.hidden.toArray(), try #require(result.input).toArray(),
                          try #require(result.state).hidden.toArray()]
            if lstm { states += [try #require(result.result.state.cell).toArray(), try #require(result.state?.cell).toArray()] }
            net.isTraining = false
            let evaluation = try net(x, initialState: initial).output.data.toArray()
            return (try result.result.output.data.toArray(), states, evaluation,
                    Dictionary(uniqueKeysWithValues: try net.namedParameters.map { ($0.name, try $0.parameter.gradient.toArray()) }))
        }
        let device = try run(TestDevice.backend), reference = try run(Side.referenceBackend)
        let label = "\(cell.rawValue) H\(h) P\(projSize) layer norm zoneout"
        expectClose(device.output, reference.output, "\(label) output")
        let names = ["h_n", "grad input", "grad h0", "c_n", "grad c0"]
        for (k, (got, want)) in zip(device.states, reference.states).enumerated() { expectClose(got, want, "\(label) \(names[k])") }
        expectClose(device.evaluation, reference.evaluation, "\(label) evaluation output")
        #expect(device.gradients.count == reference.gradients.count)
        for (name, value) in reference.gradients {
            expectClose(try #require(device.gradients[name]), value, "\(label) grad \(name)")
        }
    }
}
