/// Gated recurrent unit (Cho et al. 2014), PyTorch's `nn.GRU`: gates r, z, n, reset after the recurrent product
/// (or before it, as Cho et al. and Keras's `reset_after=False`, with `RecurrentVariants(resetAfter: false)`).
public final class GRU: RecurrentNetwork {
    /// A stack of `numLayers` GRU layers; see `RecurrentNetwork` for the arguments.
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, dropout: Float = 0,
                bidirectional: Bool = false, on backend: any Backend, rng: RandomSource,
                weightInit: Initializer = .pytorchDefault, recurrentInit: Initializer = .pytorchDefault,
                biasInit: Initializer = .pytorchDefault, variants: RecurrentVariants = RecurrentVariants()) throws {
        try super.init(cell: .gru, inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, dropout: dropout,
                       bidirectional: bidirectional,
                       on: backend, rng: rng, weightInit: weightInit, recurrentInit: recurrentInit, biasInit: biasInit,
                       variants: variants)
    }
}
