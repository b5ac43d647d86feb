/// Long short-term memory (Hochreiter & Schmidhuber 1997), PyTorch's `nn.LSTM` with gates i, f, g, o.
///
/// `projSize` P > 0 (PyTorch's `proj_size`, Sak et al. 2014's LSTMP) projects each step's hidden state:
/// h_t = W_hr (o_t ⊙ tanh(c_t)) with `weight_hr_l{k}` (P, H), so outputs are (T, B, D·P), h states
/// (L·D, B, P) and `weight_hh` (4H, P), while c states stay (L·D, B, H); layers above the first take D·P inputs.
public final class LSTM: RecurrentNetwork {
    /// A stack of `numLayers` LSTM layers; see `RecurrentNetwork` for the arguments.
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, projSize: Int = 0, dropout: Float = 0,
                bidirectional: Bool = false, on backend: any Backend, rng: RandomSource,
                weightInit: Initializer = .pytorchDefault, recurrentInit: Initializer = .pytorchDefault,
                biasInit: Initializer = .pytorchDefault, variants: RecurrentVariants = RecurrentVariants()) throws {
        try super.init(cell: .lstm, inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, projSize: projSize,
                       dropout: dropout, bidirectional: bidirectional,
                       on: backend, rng: rng, weightInit: weightInit, recurrentInit: recurrentInit, biasInit: biasInit,
                       variants: variants)
    }
}
