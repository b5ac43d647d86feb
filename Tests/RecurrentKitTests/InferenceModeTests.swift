// Forward-only passes (calls without a tape): the same outputs and final states as a recorded
// pass, with the forward-only cell steps and a reserve of two rolling state slots, for every cell,
// stacked, bidirectional, projected, variable lengths with initial states, and with zoneout (its
// evaluation blend, d = p, on the rolling slots).
// T = steps, B = batch, I = input size, H = hidden size, L = layers, D = directions, P = projection.

import RecurrentKit
import Testing
import TestSupport

@Suite struct InferenceModeTests {
    struct Case: Sendable, CustomStringConvertible {
        var cell: RecurrentCell, layers: Int, bidirectional: Bool, projection: Int, lengths: [Int]?
        /// T, B, I, H.
        var size = (t: 6, b: 4, i: 3, h: 5)
        /// Zoneout on h (and c for LSTM): in evaluation the expectation d = p blends every step.
        var zoneout: Float = 0
        var description: String {
            "\(cell.rawValue) L\(layers) D\(bidirectional ? 2 : 1) P\(projection) T\(size.t) B\(size.b) I\(size.i) H\(size.h) \(lengths ?? [])"
                + (zoneout > 0 ? " zoneout \(zoneout)" : "")
        }
    }

    static let cases: [Case] = [
        Case(cell: .lstm, layers: 2, bidirectional: false, projection: 0, lengths: nil),
        Case(cell: .lstm, layers: 1, bidirectional: true, projection: 0, lengths: [5, 2, 6, 1]),
        Case(cell: .lstm, layers: 2, bidirectional: false, projection: 3, lengths: [6, 6, 3, 4]),
        Case(cell: .gru, layers: 2, bidirectional: true, projection: 0, lengths: [3, 5, 6, 1]),
        Case(cell: .rnnTanh, layers: 1, bidirectional: false, projection: 0, lengths: [6, 2, 4, 6]),
        Case(cell: .rnnRelu, layers: 2, bidirectional: true, projection: 0, lengths: nil),
        Case(cell: .lstm, layers: 2, bidirectional: true, projection: 3, lengths: [6, 6, 3, 4], zoneout: 0.3),
        Case(cell: .lstm, layers: 1, bidirectional: false, projection: 0, lengths: nil, zoneout: 0.4),
        Case(cell: .gru, layers: 2, bidirectional: false, projection: 0, lengths: [3, 5, 6, 1], zoneout: 0.3),
        Case(cell: .rnnTanh, layers: 1, bidirectional: true, projection: 0, lengths: nil, zoneout: 0.2),
        // Several row tiles and column tiles per worker, with partial ones at both edges (the CPU
        // time loop's tiles are 8 rows × 32 units, or 6 × 16, and it makes x_t W_ihᵀ tile by tile).
        Case(cell: .lstm, layers: 1, bidirectional: false, projection: 0, lengths: nil, size: (t: 3, b: 75, i: 37, h: 45)),
        Case(cell: .gru, layers: 1, bidirectional: false, projection: 0, lengths: nil, size: (t: 3, b: 75, i: 37, h: 45)),
        Case(cell: .rnnTanh, layers: 1, bidirectional: false, projection: 0, lengths: nil, size: (t: 3, b: 75, i: 37, h: 45)),
        Case(cell: .lstm, layers: 1, bidirectional: false, projection: 0, lengths: nil, size: (t: 3, b: 75, i: 37, h: 45), zoneout: 0.3),
    ]

    @Test(arguments: cases)
    func evaluationEqualsTrainingForward(_ c: Case) throws {
        let backend = TestDevice.backend
        let (t, b, i, h) = c.size
        let d = c.bidirectional ? 2 : 1, r = c.projection > 0 ? c.projection : h
        let rng = RandomSource(seed: 17)
        let variants = RecurrentVariants(zoneout: c.zoneout, cellZoneout: c.cell == .lstm ? c.zoneout / 2 : 0)
        let network: RecurrentNetwork
        switch c.cell {
        case .lstm:
            network = try LSTM(inputSize: i, hiddenSize: h, numLayers: c.layers, projSize: c.projection,
                               bidirectional: c.bidirectional, on: backend, rng: rng, variants: variants)
        case .gru:
            network = try GRU(inputSize: i, hiddenSize: h, numLayers: c.layers, bidirectional: c.bidirectional, on: backend, rng: rng,
                              variants: variants)
        case .rnnTanh, .rnnRelu:
            network = try RNN(inputSize: i, hiddenSize: h, numLayers: c.layers, nonlinearity: c.cell == .rnnTanh ? .tanh : .relu,
                              bidirectional: c.bidirectional, on: backend, rng: rng, variants: variants)
        }
        var random = TestRandom(seed: 5)
        let x = try Tensor(shape: [t, b, i], values: random.uniform(count: t * b * i), on: backend)
        let state = RecurrentState(
            hidden: try Tensor(shape: [c.layers * d, b, r], values: random.uniform(count: c.layers * d * b * r), on: backend),
            cell: c.cell == .lstm
                ? try Tensor(shape: [c.layers * d, b, h], values: random.uniform(count: c.layers * d * b * h), on: backend) : nil)

        network.eval()
        let batch = try SequenceBatch(x, lengths: c.lengths)
        let tape = Tape()
        let training = try network(batch, initialState: state, tape: tape)   // recorded: the reserve backward reads
        let inference = try network(batch, initialState: state)               // forward only
        expectClose(try inference.output.data.toArray(), try training.output.data.toArray(), "\(c): outputs")
        expectClose(try inference.state.hidden.toArray(), try training.state.hidden.toArray(), "\(c): final h")
        if let cell = training.state.cell {
            expectClose(try #require(inference.state.cell).toArray(), try cell.toArray(), "\(c): final c")
        }
        // Evaluation mode still differentiates what a tape recorded (as PyTorch's eval() under autograd).
        try tape.backward(training.output.data, gradient: Tensor.zeros(training.output.data.shape, on: backend, value: 1))
        #expect(try network.namedParameters.map { try $0.parameter.gradient.toArray() }.contains { $0.contains { $0 != 0 } })
    }

    @Test func forwardOnlyReserveIsSmaller() {
        let shape = RecurrentLayerShape(cell: .lstm, sequenceLength: 100, batchSize: 8, inputSize: 16, hiddenSize: 32)
        #expect(shape.reserveCount == 100 * 8 * (4 * 32 + 32))
        // Forward only: c_t in two rolling (B, H) slots; the gates are the time loop's own workspace.
        #expect(shape.reserveCount(.inference) == 2 * 8 * 32)
        let projected = RecurrentLayerShape(cell: .lstm, sequenceLength: 100, batchSize: 8, inputSize: 16, hiddenSize: 32,
                                            projectionSize: 8)
        #expect(projected.reserveCount(.inference) == 2 * 8 * (32 + 32))
        #expect(RecurrentLayerShape(cell: .rnnTanh, sequenceLength: 100, batchSize: 8, inputSize: 16, hiddenSize: 32)
            .reserveCount(.inference) == 0)
        #expect(shape.reserveCount(.training) == shape.reserveCount)
    }
}
