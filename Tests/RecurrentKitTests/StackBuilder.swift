// The recurrent stack the variant tests build (one cell kind, any variants, seeded weights), and the
// check that stepping through a sequence gives what one call over it does.
// I = input size, H = hidden size.
import RecurrentKit
import TestSupport
import Testing

/// An LSTM, GRU or RNN (tanh or ReLU) stack of `cell` on the device under test, its weights from `seed`.
func makeStack(_ cell: RecurrentCell, inputSize i: Int, hiddenSize h: Int, layers: Int, projSize: Int = 0,
               bidirectional: Bool = false, variants: RecurrentVariants, seed: UInt64) throws -> RecurrentNetwork {
    let (backend, rng) = (TestDevice.backend, RandomSource(seed: seed))
    switch cell {
    case .lstm:
        return try LSTM(inputSize: i, hiddenSize: h, numLayers: layers, projSize: projSize, bidirectional: bidirectional,
                        on: backend, rng: rng, variants: variants)
    case .gru:
        return try GRU(inputSize: i, hiddenSize: h, numLayers: layers, bidirectional: bidirectional, on: backend, rng: rng,
                       variants: variants)
    case .rnnTanh, .rnnRelu:
        return try RNN(inputSize: i, hiddenSize: h, numLayers: layers, nonlinearity: cell == .rnnTanh ? .tanh : .relu,
                       bidirectional: bidirectional, on: backend, rng: rng, variants: variants)
    }
}

/// `step` over a (T, B, I) sequence from zeros gives the outputs and final states of one call over
/// all of it.
func expectStepsEqualTheSequence(_ net: RecurrentNetwork, steps t: Int, batch b: Int, seed: UInt64) throws {
    let backend = TestDevice.backend
    var random = TestRandom(seed: seed)
    let x = try random.tensor([t, b, net.inputSize], on: backend)
    let whole = try net(SequenceBatch(x))
    var state: RecurrentState? = nil
    var outputs: [Float] = []
    for step in 0..<t {
        let (y, next) = try net.step(try x.slice(step..<(step + 1)).reshaped([b, net.inputSize]), state: state)
        outputs += try y.toArray()
        state = next
    }
    expectClose(outputs, try whole.output.data.toArray(), "stepped outputs")
    expectClose(try #require(state).hidden.toArray(), try whole.state.hidden.toArray(), "stepped h_n")
    if let cell = whole.state.cell { expectClose(try #require(state?.cell).toArray(), try cell.toArray(), "stepped c_n") }
}
