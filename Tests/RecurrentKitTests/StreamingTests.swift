// Streaming inference: a stack stepped T times through `RecurrentStream` equals one
// evaluation-mode pass over the T steps (every step's top output and the final states), for
// every cell, stacked and projected, from given initial states, at sizes around the CPU stream
// step's tiles, and with the variants (zoneout, layer norm, the reset-before GRU); `predict`
// restores the mode.
// T = steps, B = batch, I = input size, H = hidden size, L = layers, P = projection size.

import RecurrentKit
import Testing
import TestSupport

@Suite struct StreamingTests {
    /// A stack of `cell` (an RNN's nonlinearity from the cell) on the test device.
    static func makeStack(_ cell: RecurrentCell, inputSize i: Int, hiddenSize h: Int, layers: Int, projection: Int = 0,
                          seed: UInt64, variants: RecurrentVariants = RecurrentVariants()) throws -> RecurrentNetwork {
        let (backend, rng) = (TestDevice.backend, RandomSource(seed: seed))
        return switch cell {
        case .lstm: try LSTM(inputSize: i, hiddenSize: h, numLayers: layers, projSize: projection, on: backend, rng: rng,
                             variants: variants)
        case .gru: try GRU(inputSize: i, hiddenSize: h, numLayers: layers, on: backend, rng: rng, variants: variants)
        default: try RNN(inputSize: i, hiddenSize: h, numLayers: layers, nonlinearity: cell == .rnnTanh ? .tanh : .relu,
                         on: backend, rng: rng, variants: variants)
        }
    }

    /// Random initial states: h (L, B, R) and, for an LSTM, c (L, B, H).
    static func randomState(_ cell: RecurrentCell, layers: Int, batch b: Int, width r: Int, hiddenSize h: Int,
                            _ random: inout TestRandom) throws -> RecurrentState {
        let backend = TestDevice.backend
        return RecurrentState(
            hidden: try Tensor(shape: [layers, b, r], values: random.uniform(count: layers * b * r), on: backend),
            cell: cell == .lstm ? try Tensor(shape: [layers, b, h], values: random.uniform(count: layers * b * h), on: backend) : nil)
    }

    @Test(arguments: [(RecurrentCell.lstm, 2, 0), (.lstm, 1, 3), (.gru, 2, 0), (.rnnTanh, 1, 0), (.rnnRelu, 2, 0)])
    func steppingEqualsOnePass(cell: RecurrentCell, layers: Int, projection: Int) throws {
        let backend = TestDevice.backend
        let (t, b, i, h) = (5, 3, 4, 6)
        let r = projection > 0 ? projection : h
        let network = try Self.makeStack(cell, inputSize: i, hiddenSize: h, layers: layers, projection: projection, seed: 9)
        var random = TestRandom(seed: 10)
        let x = random.uniform(count: t * b * i)
        let state = try Self.randomState(cell, layers: layers, batch: b, width: r, hiddenSize: h, &random)
        network.eval()
        let pass = try network(SequenceBatch(Tensor(shape: [t, b, i], values: x, on: backend)), initialState: state)

        let stream = try network.stream(batchSize: b, initialState: state)
        var outputs: [Float] = []
        for step in 0..<t {
            let xt = try Tensor(shape: [b, i], values: Array(x[(step * b * i)..<((step + 1) * b * i)]), on: backend)
            outputs += try stream.step(xt).toArray()
        }
        let label = "\(cell.rawValue) L\(layers) P\(projection)"
        expectClose(outputs, try pass.output.data.toArray(), "\(label): stepped outputs")
        let final = try stream.state()
        expectClose(try final.hidden.toArray(), try pass.state.hidden.toArray(), "\(label): final h")
        if let c = pass.state.cell { expectClose(try #require(final.cell).toArray(), try c.toArray(), "\(label): final c") }
        #expect(stream.stepCount == t)

        // After a reset the stream starts over from zeros: its first step equals a one-step pass from zeros.
        try stream.reset()
        let first = try stream.step(Tensor(shape: [b, i], values: Array(x[0..<(b * i)]), on: backend)).toArray()
        let one = try network(SequenceBatch(Tensor(shape: [1, b, i], values: Array(x[0..<(b * i)]), on: backend)))
        expectClose(first, try one.output.data.toArray(), "\(label): first step after reset")
    }

    /// One sequence through a layer large enough that, on a backend with several cores, the stream
    /// splits each step's products by gate columns across them.
    @Test(arguments: [RecurrentCell.lstm, .gru])
    func largeSingleSequenceEqualsOnePass(cell: RecurrentCell) throws {
        let backend = TestDevice.backend
        let (t, i, h) = (3, 320, 320)
        let rng = RandomSource(seed: 12)
        let network: RecurrentNetwork = cell == .lstm ? try LSTM(inputSize: i, hiddenSize: h, numLayers: 2, on: backend, rng: rng)
            : try GRU(inputSize: i, hiddenSize: h, numLayers: 2, on: backend, rng: rng)
        network.eval()
        var random = TestRandom(seed: 13)
        let x = random.uniform(count: t * i)
        let pass = try network(SequenceBatch(Tensor(shape: [t, 1, i], values: x, on: backend)))
        let stream = try network.stream(batchSize: 1)
        var outputs: [Float] = []
        for step in 0..<t {
            outputs += try stream.step(Tensor(shape: [1, i], values: Array(x[(step * i)..<((step + 1) * i)]), on: backend)).toArray()
        }
        expectClose(outputs, try pass.output.data.toArray(), "\(cell.rawValue) H\(h) B1: stepped outputs")
        expectClose(try stream.state().hidden.toArray(), try pass.state.hidden.toArray(), "\(cell.rawValue) H\(h) B1: final h")
    }

    /// Sizes around the CPU stream step's tiles: units past the last full 16-unit panel, row tiles of
    /// 2 and 1, batches above what the step takes (the composed path), layers split between cores
    /// with an uneven number of panels, and enough steps that the panels are walked both ways.
    @Test(arguments: [(RecurrentCell.lstm, 4, 301, 300), (.gru, 1, 37, 45), (.rnnTanh, 1, 700, 700), (.lstm, 5, 20, 33),
                      (.gru, 3, 320, 290), (.rnnRelu, 2, 7, 17), (.lstm, 1, 1, 1)])
    func oddSizesEqualOnePass(cell: RecurrentCell, batch b: Int, inputSize i: Int, hiddenSize h: Int) throws {
        let backend = TestDevice.backend
        let t = 4
        let network = try Self.makeStack(cell, inputSize: i, hiddenSize: h, layers: 1, seed: 21)
        network.eval()
        var random = TestRandom(seed: 22)
        let x = random.uniform(count: t * b * i)
        let state = try Self.randomState(cell, layers: 1, batch: b, width: h, hiddenSize: h, &random)
        let pass = try network(SequenceBatch(Tensor(shape: [t, b, i], values: x, on: backend)), initialState: state)
        let stream = try network.stream(batchSize: b, initialState: state)
        var outputs: [Float] = []
        for step in 0..<t {
            outputs += try stream.step(Tensor(shape: [b, i], values: Array(x[(step * b * i)..<((step + 1) * b * i)]), on: backend)).toArray()
        }
        let label = "\(cell.rawValue) B\(b) I\(i) H\(h)"
        expectClose(outputs, try pass.output.data.toArray(), "\(label): stepped outputs")
        let final = try stream.state()
        expectClose(try final.hidden.toArray(), try pass.state.hidden.toArray(), "\(label): final h")
        if let c = pass.state.cell { expectClose(try #require(final.cell).toArray(), try c.toArray(), "\(label): final c") }
    }

    /// Variants: zoneout on h (and c) blended after each step's cell, at B = 1 (the CPU backend's
    /// own stream step) and B = 3, projected; layer norm and the reset-before GRU through the
    /// network's step, also with zoneout, and layer norm with a projection (h P wide). The network is
    /// left in training mode: the stream evaluates all the same.
    @Test(arguments: [(RecurrentCell.lstm, 1, 0, "zoneout"), (.lstm, 3, 2, "zoneout"), (.gru, 1, 0, "zoneout"),
                      (.gru, 3, 0, "zoneout"), (.rnnTanh, 3, 0, "zoneout"), (.lstm, 3, 0, "layerNorm"),
                      (.gru, 2, 0, "layerNorm"), (.gru, 3, 0, "resetBefore"), (.gru, 1, 0, "resetBefore"),
                      (.lstm, 3, 0, "layerNormZoneout"), (.gru, 1, 0, "layerNormZoneout"), (.lstm, 3, 7, "layerNorm"),
                      (.lstm, 1, 4, "layerNormZoneout")])
    func variantsEqualOnePass(cell: RecurrentCell, batch b: Int, projection: Int, variant: String) throws {
        let backend = TestDevice.backend
        let (t, i, h, layers) = (5, 4, 19, 2)
        let r = projection > 0 ? projection : h
        let variants = switch variant {
        case "zoneout": RecurrentVariants(zoneout: 0.3, cellZoneout: cell == .lstm ? 0.2 : 0)
        case "layerNorm": RecurrentVariants(layerNorm: true)
        case "layerNormZoneout": RecurrentVariants(zoneout: 0.3, cellZoneout: cell == .lstm ? 0.2 : 0, layerNorm: true)
        default: RecurrentVariants(resetAfter: false)
        }
        let network = try Self.makeStack(cell, inputSize: i, hiddenSize: h, layers: layers, projection: projection, seed: 31,
                                         variants: variants)
        var random = TestRandom(seed: 32)
        let x = random.uniform(count: t * b * i)
        let state = try Self.randomState(cell, layers: layers, batch: b, width: r, hiddenSize: h, &random)
        network.eval()
        let pass = try network(SequenceBatch(Tensor(shape: [t, b, i], values: x, on: backend)), initialState: state)
        network.train()
        let stream = try network.stream(batchSize: b, initialState: state)
        var outputs: [Float] = []
        for step in 0..<t {
            let xt = try Tensor(shape: [b, i], values: Array(x[(step * b * i)..<((step + 1) * b * i)]), on: backend)
            outputs += try stream.step(xt).toArray()
        }
        #expect(network.isTraining, "stepping leaves the network in training mode")
        let label = "\(cell.rawValue) \(variant) B\(b) P\(projection)"
        expectClose(outputs, try pass.output.data.toArray(), "\(label): stepped outputs")
        let final = try stream.state()
        expectClose(try final.hidden.toArray(), try pass.state.hidden.toArray(), "\(label): final h")
        if let c = pass.state.cell { expectClose(try #require(final.cell).toArray(), try c.toArray(), "\(label): final c") }
        // Without the blend the outputs differ: zoneout's expectation is in them.
        if variant == "zoneout" {
            let plain = try Self.makeStack(cell, inputSize: i, hiddenSize: h, layers: layers, projection: projection, seed: 31)
            plain.eval()
            let unblended = try plain(SequenceBatch(Tensor(shape: [t, b, i], values: x, on: backend)), initialState: state)
            let gap = zip(try unblended.output.data.toArray(), outputs).map { abs($0 - $1) }.max() ?? 0
            #expect(gap > 1e-3, "\(label): zoneout changes the outputs (largest difference \(gap))")
        }
    }

    @Test func badStreamsAreRefused() throws {
        let backend = TestDevice.backend
        let rng = RandomSource(seed: 2)
        let bidirectional = try GRU(inputSize: 2, hiddenSize: 3, bidirectional: true, on: backend, rng: rng)
        #expect(throws: RecurrentError.self) { _ = try bidirectional.stream(batchSize: 1) }
        let lstm = try LSTM(inputSize: 2, hiddenSize: 3, on: backend, rng: rng)
        #expect(throws: RecurrentError.self) { _ = try lstm.stream(batchSize: 0) }
        let stream = try lstm.stream(batchSize: 2)
        #expect(throws: RecurrentError.self) { _ = try stream.step(Tensor(shape: [3, 2], values: [Float](repeating: 0, count: 6), on: backend)) }
        let wrongState = RecurrentState(hidden: try Tensor.zeros([1, 3, 3], on: backend), cell: try Tensor.zeros([1, 3, 3], on: backend))
        #expect(throws: RecurrentError.self) { try stream.reset(to: wrongState) }
    }

    @Test func predictRunsInEvaluationModeAndRestoresIt() throws {
        let backend = TestDevice.backend
        let rng = RandomSource(seed: 4)
        let model = try Sequential([("lstm", LSTM(inputSize: 2, hiddenSize: 4, numLayers: 2, dropout: 0.5, on: backend, rng: rng)),
                                    ("last", LastTimeStep()), ("fc", Linear(4, 1, on: backend, rng: rng))])
        var random = TestRandom(seed: 8)
        let x = try SequenceBatch(Tensor(shape: [5, 3, 2], values: random.uniform(count: 30), on: backend))
        let predicted = try model.predict(x).data.toArray()
        #expect(model.isTraining, "predict leaves the model in training mode")
        model.eval()
        expectClose(predicted, try model.forward(x).data.toArray(), "predict = evaluation-mode forward (no dropout)")
    }
}
