// Stateful training (truncated BPTT): a long stream cut into windows, each window starting from
// the previous window's final states, gives the outputs of one pass over the whole stream.
// T = stream length, W = window, B = batch, I = input size, H = hidden size.

import RecurrentKit
import Testing
import TestSupport

@Suite struct StatefulTests {
    static let (t, w, b, i, h) = (24, 6, 3, 4, 5)

    @Test(arguments: [RecurrentCell.lstm, .gru, .rnnTanh])
    func windowsEqualOnePass(cell: RecurrentCell) throws {
        let backend = TestDevice.backend
        func make() throws -> RecurrentNetwork {
            let rng = RandomSource(seed: 31)
            switch cell {
            case .lstm: return try LSTM(inputSize: Self.i, hiddenSize: Self.h, numLayers: 2, on: backend, rng: rng)
            case .gru: return try GRU(inputSize: Self.i, hiddenSize: Self.h, numLayers: 2, on: backend, rng: rng)
            default: return try RNN(inputSize: Self.i, hiddenSize: Self.h, numLayers: 2, on: backend, rng: rng)
            }
        }
        var random = TestRandom(seed: 32)
        let stream = random.uniform(count: Self.t * Self.b * Self.i)                                   // (T, B, I)
        let whole = try make()(SequenceBatch(Tensor(shape: [Self.t, Self.b, Self.i], values: stream, on: backend))).output.data.toArray()

        let network = try make()
        network.stateful = true
        let windowSize = Self.w * Self.b * Self.i
        var pieces: [Float] = []
        for start in stride(from: 0, to: stream.count, by: windowSize) {
            let window = try Tensor(shape: [Self.w, Self.b, Self.i], values: Array(stream[start..<(start + windowSize)]), on: backend)
            // Training on the window: its backward stops at the window's start (the carried states are detached).
            let grads = try forwardBackward(network, SequenceBatch(window),
                                            gradOutput: Tensor.zeros([Self.w, Self.b, Self.h], on: backend, value: 1))
            pieces += try grads.result.output.data.toArray()
            #expect(grads.input?.shape == [Self.w, Self.b, Self.i])
        }
        expectClose(pieces, whole, "\(cell.rawValue): windows of \(Self.w) = one pass of \(Self.t)")

        // resetStates starts again from zeros: the first window's outputs come back.
        network.resetStates()
        let first = try network.forward(SequenceBatch(Tensor(shape: [Self.w, Self.b, Self.i], values: Array(stream[0..<windowSize]), on: backend)))
        expectClose(try first.data.toArray(), Array(whole[0..<(Self.w * Self.b * Self.h)]), "\(cell.rawValue): after resetStates")

        // Another batch size while carrying states is refused with what to do.
        let error = try #require(throws: RecurrentError.self) {
            try network.forward(SequenceBatch(Tensor.zeros([Self.w, Self.b + 1, Self.i], on: backend)))
        }
        #expect("\(error)".contains("resetStates()"))
    }
}
