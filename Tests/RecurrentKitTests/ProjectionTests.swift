// LSTM with projections (PyTorch's proj_size) at the layer level: parameter names, shapes and
// initialisation, shape errors, and a bidirectional, batch-first, variable-length batch from given
// states against each sequence run alone (outputs, final states, every gradient).
// T = padded steps, B = batch, I = input size, H = hidden size, P = projection size, L = layers,
// D = directions.

import RecurrentKit
import Testing
import TestSupport

@Suite struct ProjectionTests {
    @Test func parametersFollowPyTorch() throws {
        let backend = TestDevice.backend
        let lstm = try LSTM(inputSize: 4, hiddenSize: 6, numLayers: 2, projSize: 3, bidirectional: true, on: backend,
                            rng: RandomSource(seed: 1))
        #expect(lstm.hiddenStateSize == 3 && lstm.outputSize == 6)
        var expected: [(String, [Int])] = []
        for k in 0..<2 {
            for suffix in ["", "_reverse"] {
                expected += [("weight_ih_l\(k)\(suffix)", [24, k == 0 ? 4 : 6]), ("weight_hh_l\(k)\(suffix)", [24, 3]),
                             ("bias_ih_l\(k)\(suffix)", [24]), ("bias_hh_l\(k)\(suffix)", [24]), ("weight_hr_l\(k)\(suffix)", [3, 6])]
            }
        }
        #expect(lstm.namedParameters.map(\.name) == expected.map(\.0))
        #expect(lstm.namedParameters.map(\.parameter.value.shape) == expected.map(\.1))
        // PyTorch draws weight_hr like every other weight: U(−1/√H, 1/√H).
        let hr = try lstm.layerParameters[0].weightHR!.value.toArray()
        let bound = 1 / Float(6).squareRoot()
        #expect(hr.allSatisfy { abs($0) <= bound } && Set(hr).count == hr.count)
        // Without a projection nothing changes: no weight_hr, the same draws as before.
        let plain = try LSTM(inputSize: 4, hiddenSize: 6, on: backend, rng: RandomSource(seed: 1))
        #expect(plain.projSize == 0 && plain.layerParameters[0].weightHR == nil && plain.namedParameters.count == 4)
        #expect(try plain.layerParameters[0].weightIH.value.toArray() == lstm.layerParameters[0].weightIH.value.toArray())
    }

    @Test func shapeErrors() throws {
        let backend = TestDevice.backend
        let rng = RandomSource(seed: 1)
        for bad in [6, 7, -1] {
            let error = try #require(throws: RecurrentError.self) {
                try LSTM(inputSize: 4, hiddenSize: 6, projSize: bad, on: backend, rng: rng)
            }
            #expect("\(error)".contains("projection size") && "\(error)".contains("1 to 5"), "\(error)")
        }
        let lstm = try LSTM(inputSize: 4, hiddenSize: 6, numLayers: 2, projSize: 3, on: backend, rng: rng)
        let x = try SequenceBatch(Tensor.zeros([5, 2, 4], on: backend))
        // h states are (L·D, B, P), c states (L·D, B, H).
        let wideHidden = RecurrentState(hidden: try .zeros([2, 2, 6], on: backend), cell: try .zeros([2, 2, 6], on: backend))
        var error = try #require(throws: RecurrentError.self) { try lstm(x, initialState: wideHidden) }
        #expect("\(error)".contains("hidden (L·D, B, P)") && "\(error)".contains("[2, 2, 3]") && "\(error)".contains("[2, 2, 6]"),
                "\(error)")
        let narrowCell = RecurrentState(hidden: try .zeros([2, 2, 3], on: backend), cell: try .zeros([2, 2, 3], on: backend))
        error = try #require(throws: RecurrentError.self) { try lstm(x, initialState: narrowCell) }
        #expect("\(error)".contains("cell (L·D, B, H)") && "\(error)".contains("[2, 2, 6]") && "\(error)".contains("[2, 2, 3]"),
                "\(error)")
        let tape = Tape()
        let result = try lstm(x, initialState: narrowCell.withCell(try .zeros([2, 2, 6], on: backend)), tape: tape)
        #expect(result.output.data.shape == [5, 2, 3] && result.state.hidden.shape == [2, 2, 3] && result.state.cell?.shape == [2, 2, 6])
        error = try #require(throws: RecurrentError.self) {
            try tape.backward(result.output.data, gradient: Tensor.zeros([5, 2, 6], on: backend))
        }
        #expect("\(error)".contains("[5, 2, 3]") && "\(error)".contains("60") && "\(error)".contains("30"), "\(error)")
    }

    /// A bidirectional, batch-first 2-layer LSTMP over unsorted lengths, from given states, against each
    /// sequence alone: outputs, final h and c, input and state gradients, and the parameter gradients
    /// (the batch's are the sum of the sequences').
    @Test(arguments: [false, true])
    func batchEqualsEachSequenceAlone(bidirectional: Bool) throws {
        let backend = TestDevice.backend
        let (t, i, h, p, l) = (6, 3, 5, 2, 2)
        let lengths = [4, 6, 1, 5]
        let b = lengths.count, d = bidirectional ? 2 : 1
        func make() throws -> LSTM {
            try LSTM(inputSize: i, hiddenSize: h, numLayers: l, projSize: p, bidirectional: bidirectional,
                     on: backend, rng: RandomSource(seed: 77))
        }
        var random = TestRandom(seed: 78)
        let x = random.uniform(count: b * t * i)                          // (B, T, I)
        let gradOutput = random.uniform(count: b * t * d * p)             // (B, T, D·P)
        let h0 = random.uniform(count: l * d * b * p), c0 = random.uniform(count: l * d * b * h)
        let gradHN = random.uniform(count: l * d * b * p), gradCN = random.uniform(count: l * d * b * h)
        /// Column s of a (L·D, B, width) state array.
        func column(_ a: [Float], _ s: Int, width: Int) -> [Float] {
            var out: [Float] = []
            for k in 0..<(l * d) {
                let start = (k * b + s) * width
                out += a[start..<(start + width)]
            }
            return out
        }
        func state(_ hidden: [Float], _ cell: [Float], batch: Int) throws -> RecurrentState {
            RecurrentState(hidden: try Tensor(shape: [l * d, batch, p], values: hidden, on: backend),
                           cell: try Tensor(shape: [l * d, batch, h], values: cell, on: backend))
        }

        let network = try make()
        let grads = try forwardBackward(network, SequenceBatch(Tensor(shape: [b, t, i], values: x, on: backend), layout: .batchMajor,
                                                               lengths: lengths),
                                        initialState: state(h0, c0, batch: b),
                                        gradOutput: Tensor(shape: [b, t, d * p], values: gradOutput, on: backend),
                                        gradState: state(gradHN, gradCN, batch: b))
        let result = grads.result
        #expect(result.output.data.shape == [b, t, d * p])
        let output = try result.output.data.toArray()
        let finalHidden = try result.state.hidden.toArray(), finalCell = try #require(result.state.cell).toArray()
        let gradInput = try #require(grads.input).toArray()
        let gradState = try #require(grads.state)
        let gradH0 = try gradState.hidden.toArray(), gradC0 = try #require(gradState.cell).toArray()
        var summed = [String: [Float]]()

        for (s, length) in lengths.enumerated() {
            let alone = try make()
            let xs = Array(x[(s * t * i)..<((s * t + length) * i)])
            let gs = Array(gradOutput[(s * t * d * p)..<((s * t + length) * d * p)])
            let g = try forwardBackward(alone, SequenceBatch(Tensor(shape: [1, length, i], values: xs, on: backend), layout: .batchMajor),
                                        initialState: state(column(h0, s, width: p), column(c0, s, width: h), batch: 1),
                                        gradOutput: Tensor(shape: [1, length, d * p], values: gs, on: backend),
                                        gradState: state(column(gradHN, s, width: p), column(gradCN, s, width: h), batch: 1))
            let r = g.result
            let label = "D\(d) sequence \(s) (length \(length))"
            let padding = [Float](repeating: 0, count: (t - length) * d * p)
            expectClose(Array(output[(s * t * d * p)..<((s + 1) * t * d * p)]), try r.output.data.toArray() + padding,
                        "\(label): outputs, zero after its end")
            expectClose(column(finalHidden, s, width: p), try r.state.hidden.toArray(), "\(label): h_n")
            expectClose(column(finalCell, s, width: h), try #require(r.state.cell).toArray(), "\(label): c_n")
            expectClose(Array(gradInput[(s * t * i)..<((s + 1) * t * i)]),
                        try #require(g.input).toArray() + [Float](repeating: 0, count: (t - length) * i),
                        "\(label): input gradient, zero after its end")
            let gsState = try #require(g.state)
            expectClose(column(gradH0, s, width: p), try gsState.hidden.toArray(), "\(label): grad h0")
            expectClose(column(gradC0, s, width: h), try #require(gsState.cell).toArray(), "\(label): grad c0")
            for (name, parameter) in alone.namedParameters {
                let values = try parameter.gradient.toArray()
                summed[name] = summed[name].map { zip($0, values).map { $0 + $1 } } ?? values
            }
        }
        for (name, parameter) in network.namedParameters {
            expectClose(try parameter.gradient.toArray(), try #require(summed[name]), absolute: 1e-4, relative: 1e-4,
                        "D\(d) grad \(name): batch = Σ sequences")
        }
    }
}

private extension RecurrentState {
    func withCell(_ cell: Tensor) -> RecurrentState { RecurrentState(hidden: hidden, cell: cell) }
}
