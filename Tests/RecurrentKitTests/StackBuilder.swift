// The recurrent stack the variant tests build: one cell kind, any variants, seeded weights.
// I = input size, H = hidden size.
import RecurrentKit
import TestSupport

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
