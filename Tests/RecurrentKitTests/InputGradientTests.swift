import Testing
import TestSupport
@testable import RecurrentKit

/// An input the tape does not watch gets no gradient (PyTorch's input without requires_grad), and
/// skipping it changes nothing else.
@Test(arguments: [RecurrentCell.lstm, .gru])
func skippingInputGradientKeepsParameterGradients(cell: RecurrentCell) throws {
    let backend = TestDevice.backend
    func run(needsInputGradient: Bool) throws -> (Tensor?, [String: HostTensor]) {
        let rng = RandomSource(seed: 12)
        let rnn: RecurrentNetwork = cell == .lstm
            ? try LSTM(inputSize: 3, hiddenSize: 5, numLayers: 2, dropout: 0.3, on: backend, rng: rng)
            : try GRU(inputSize: 3, hiddenSize: 5, numLayers: 2, dropout: 0.3, on: backend, rng: rng)
        let model = try Sequential([("rnn", rnn), ("fc", Linear(5, 2, on: backend, rng: rng))])
        var random = TestRandom(seed: 2)
        let x = try random.tensor([6, 4, 3], on: backend)
        let tape = Tape()
        if needsInputGradient { tape.watch(x) }
        let y = try model.forward(SequenceBatch(x), tape: tape).data
        try tape.backward(y, gradient: random.tensor(y.shape, on: backend))
        let dx = try tape.gradient(of: x)
        var grads: [String: HostTensor] = [:]
        for (name, p) in model.namedParameters { grads[name] = try p.gradient.toHost() }
        return (dx, grads)
    }
    let (with, gradsWith) = try run(needsInputGradient: true)
    let (without, gradsWithout) = try run(needsInputGradient: false)
    #expect(with?.shape == [6, 4, 3])
    #expect(without == nil)
    #expect(gradsWith == gradsWithout)
}
