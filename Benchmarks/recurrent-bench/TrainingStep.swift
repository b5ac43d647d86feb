// The step every backend (and the PyTorch twin) times: forward over the sequence, MSE
// against a fixed target (T, B, R), backward, Adam update. R = H, or P with a projection.
import RecurrentKit

/// A recurrent stack with its data and optimizer on one backend, ready to step.
final class TrainingStep {
    let config: BenchConfig
    let backend: any Backend
    let network: RecurrentNetwork
    /// (T, B, I) with the config's lengths (variable lengths: the packed layout).
    let input: SequenceBatch
    let target: Tensor
    /// Whether backward computes the input gradient (PyTorch's twin does not: its input does not require grad).
    let needsInputGradient: Bool
    let loss = MSELoss()
    let optimizer: Adam

    /// Same seed, same weights and data on every backend. `dataReady` runs after the input and
    /// target exist and before the model does (where memory measurements start, as in the twin).
    init(_ config: BenchConfig, on backend: any Backend, seed: UInt64 = 0, needsInputGradient: Bool = false,
         dataReady: () -> Void = {}) throws {
        self.config = config
        self.backend = backend
        var data = PhiloxStream(seed: seed, stream: 1_000_000)
        input = try SequenceBatch(Tensor(shape: [config.t, config.b, config.i], values: data.normal(count: config.t * config.b * config.i),
                                         on: backend), lengths: config.lengths)
        self.needsInputGradient = needsInputGradient
        let r = config.outputWidth
        target = try Tensor(shape: [config.t, config.b, r], values: data.normal(count: config.t * config.b * r), on: backend)
        dataReady()
        network = try makeNetwork(config, on: backend, rng: RandomSource(seed: seed))
        optimizer = try Adam(network.parameters, learningRate: 1e-3)
    }

    /// Forward, loss and backward; returns the loss (on the device) and the output.
    @discardableResult
    func forwardBackward() throws -> (loss: Tensor, output: Tensor, gradInput: Tensor?) {
        try optimizer.zeroGradients()
        let tape = Tape()
        if needsInputGradient { tape.watch(input.data) }
        let output = try network(input, tape: tape).output.data
        let value = try loss.forward(output, target)   // over the padded output, as the twin
        try tape.backward(output, gradient: loss.backward())
        return (value, output, try tape.gradient(of: input.data))
    }

    /// One whole training step, finished on the device.
    func step() throws {
        try forwardBackward()
        try optimizer.step()
        try backend.synchronize()
    }
}

/// The config's stack with its variant, in training mode (the variants draw their masks).
func makeNetwork(_ c: BenchConfig, on backend: any Backend, rng: RandomSource) throws -> RecurrentNetwork {
    let v = c.variant.variants(for: c.cell)
    switch c.cell {
    case .lstm:
        return try LSTM(inputSize: c.i, hiddenSize: c.h, numLayers: c.layers, projSize: c.variant.projSize(hiddenSize: c.h), on: backend,
                        rng: rng, variants: v)
    case .gru: return try GRU(inputSize: c.i, hiddenSize: c.h, numLayers: c.layers, on: backend, rng: rng, variants: v)
    case .rnnTanh: return try RNN(inputSize: c.i, hiddenSize: c.h, numLayers: c.layers, on: backend, rng: rng, variants: v)
    case .rnnRelu:
        return try RNN(inputSize: c.i, hiddenSize: c.h, numLayers: c.layers, nonlinearity: .relu, on: backend, rng: rng, variants: v)
    }
}
