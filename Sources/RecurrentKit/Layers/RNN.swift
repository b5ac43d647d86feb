/// Elman RNN, PyTorch's `nn.RNN`, with tanh (default) or ReLU.
public final class RNN: RecurrentNetwork {
    /// The nonlinearity PyTorch calls `nonlinearity`.
    public enum Nonlinearity: String, Sendable { case tanh, relu }

    /// A stack of `numLayers` Elman layers; see `RecurrentNetwork` for the arguments.
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, nonlinearity: Nonlinearity = .tanh, dropout: Float = 0,
                bidirectional: Bool = false, on backend: any Backend, rng: RandomSource,
                weightInit: Initializer = .pytorchDefault, recurrentInit: Initializer = .pytorchDefault,
                biasInit: Initializer = .pytorchDefault, variants: RecurrentVariants = RecurrentVariants()) throws {
        try super.init(cell: nonlinearity == .tanh ? .rnnTanh : .rnnRelu, inputSize: inputSize, hiddenSize: hiddenSize,
                       numLayers: numLayers, dropout: dropout, bidirectional: bidirectional,
                       on: backend, rng: rng, weightInit: weightInit, recurrentInit: recurrentInit, biasInit: biasInit,
                       variants: variants)
    }
}
