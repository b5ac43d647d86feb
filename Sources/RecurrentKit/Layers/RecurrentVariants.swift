// Options of a recurrent stack beyond PyTorch's nn.RNN/nn.LSTM/nn.GRU, checked once against the
// cell and the stack they are given with. H = hidden size, G = gates.

/// Recurrent variants a stack can be built with; the defaults are PyTorch's plain cells.
public struct RecurrentVariants: Sendable, Equatable {
    /// LSTM only: the forget-gate bias b_f every layer starts from (Jozefowicz et al. 2015; Keras's
    /// `unit_forget_bias` is 1), nil to leave the forget gate to `biasInit`. PyTorch adds two biases,
    /// so the value is split as PyTorch sees it: the forget block `[H, 2H)` of `bias_ih` is b_f and the
    /// same block of `bias_hh` is 0, so b_ih + b_hh = b_f exactly; the other gates keep `biasInit`.
    public var forgetBias: Float?

    /// PyTorch's plain cells.
    public init(forgetBias: Float? = nil) {
        self.forgetBias = forgetBias
    }

    /// Throws, saying why, unless these variants make sense for `cell`.
    func validate(for cell: RecurrentCell) throws {
        if let forgetBias {
            guard cell == .lstm else {
                throw RecurrentError.invalidArgument(
                    name: "forget-gate bias", expected: "nil for \(cell.rawValue) (only an LSTM has a forget gate)",
                    got: "\(forgetBias)")
            }
            guard forgetBias.isFinite else {
                throw RecurrentError.invalidArgument(name: "forget-gate bias", expected: "a finite value", got: "\(forgetBias)")
            }
        }
    }

    /// Sets the forget-gate blocks of every layer's biases (G·H): b_f in `bias_ih`, 0 in `bias_hh`.
    func applyForgetBias(to layers: [RecurrentLayerParameters], hiddenSize h: Int, on backend: any Backend) throws {
        guard let forgetBias else { return }
        for layer in layers {
            try backend.fill(layer.biasIH.value.slice(h..<(2 * h)), with: forgetBias)   // (H) of (4H)
            try backend.fill(layer.biasHH.value.slice(h..<(2 * h)), with: 0)            // (H) of (4H)
        }
    }
}
