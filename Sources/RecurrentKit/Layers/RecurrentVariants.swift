// Options of a recurrent stack beyond PyTorch's nn.RNN/nn.LSTM/nn.GRU, checked once against the
// cell and the stack they are given with. H = hidden size, G = gates.

/// Recurrent variants a stack can be built with; the defaults are PyTorch's plain cells.
public struct RecurrentVariants: Sendable, Equatable {
    /// LSTM only: the forget-gate bias b_f every layer starts from (Jozefowicz et al. 2015; Keras's
    /// `unit_forget_bias` is 1), nil to leave the forget gate to `biasInit`. PyTorch adds two biases,
    /// so the value is split as PyTorch sees it: the forget block `[H, 2H)` of `bias_ih` is b_f and the
    /// same block of `bias_hh` is 0, so b_ih + b_hh = b_f exactly; the other gates keep `biasInit`.
    public var forgetBias: Float?
    /// Keras's `go_backwards`: the stack reads each sequence from its own last real step to its first
    /// and returns the outputs in the order it read them (output step s of a sequence of length n is
    /// the state after reading x_{n−1}, …, x_{n−1−s}; padded steps stay zero). Unidirectional stacks only.
    public var goBackwards: Bool
    /// Residual connections between stacked layers (Wu et al. 2016, GNMT): layer k ≥ 1 returns
    /// x_k + f_k(x_k), where x_k is its input before the between-layer dropout (widths match: D·R
    /// in and out). The first layer, whose input width is the stack's, stays plain. Two layers or more.
    public var residual: Bool
    /// Recurrent (variational) dropout, p in [0, 1) (Gal and Ghahramani 2016; Keras's `recurrent_dropout`).
    /// In training, every layer and direction draws one mask per sequence and call, (B, R), and the
    /// recurrent product of every step reads h_{t-1} ⊙ mask (h_0 included): kept units are scaled by
    /// 1/(1−p). The state itself, and GRU's z ⊙ h_{t-1} term, stay unmasked. The identity in evaluation.
    public var recurrentDropout: Float
    /// Weight drop (DropConnect on `weight_hh`; Merity et al. 2017, AWD-LSTM), p in [0, 1). In training
    /// each call multiplies every layer's and direction's W_hh (G·H, R) once by a fresh mask (0, or
    /// 1/(1−p)) before its time loop, so every step of every sequence of the batch sees the same
    /// dropped weights, and only the kept weights receive gradient. The identity in evaluation.
    public var weightDrop: Float
    /// Zoneout on h, p in [0, 1) (Krueger et al. 2017): in training each unit of every step keeps its
    /// previous value with probability p, h_t = h̃_t + d ⊙ (h_{t-1} − h̃_t) with d ∈ {0, 1} drawn per
    /// step, layer and direction; in evaluation d = p (the expectation). With `projSize` it acts on
    /// the projected h.
    public var zoneout: Float
    /// LSTM only: zoneout on the cell state, p in [0, 1): c_t = c̃_t + d ⊙ (c_{t-1} − c̃_t), where
    /// c̃_t = f ⊙ c_{t-1} + i ⊙ g, and h̃_t = o ⊙ tanh(c̃_t) (Krueger et al.'s equations).
    public var cellZoneout: Float
    /// GRU only, Keras's `reset_after`: true (the default) is PyTorch's GRU, whose reset gate scales
    /// the recurrent product, n = tanh(W_in x + b_in + r ⊙ (W_hn h_{t-1} + b_hn)); false applies it
    /// before the product, as Cho et al. 2014 and Keras's `reset_after=False`:
    /// n = tanh(W_in x + b_in + W_hn (r ⊙ h_{t-1}) + b_hn). The weights keep PyTorch's names and
    /// layout (`weight_ih_l0` (3H, I), `weight_hh_l0` (3H, H), `bias_ih_l0`, `bias_hh_l0` (3H), gates
    /// r, z, n), and r and z are PyTorch's; b_hn sits outside the reset, so b_in + b_hn is Keras's
    /// single n bias. With recurrent dropout the products read h_{t-1} ⊙ mask, so the n gate's
    /// reads r ⊙ h_{t-1} ⊙ mask, as Keras.
    public var resetAfter: Bool
    /// LSTM and GRU: layer normalisation (Ba et al. 2016; PyTorch's custom_lstms.py
    /// LayerNormLSTMCell, Haste's LayerNormLSTM) of the input and recurrent pre-activations apart,
    /// each over its G·H values, and of an LSTM's cell state: with LN(x) = (x − μ)/σ ⊙ γ,
    /// a_t = LN_ih(W_ih x_t) + b_ih + LN_hh(W_hh h_{t-1}) + b_hh, the gates as PyTorch's cell from a_t,
    /// and an LSTM's c_t = LN_c(f ⊙ c_{t-1} + i ⊙ g) + β_c (the normalised c_t is the state), h_t =
    /// o ⊙ tanh(c_t). `bias_ih`/`bias_hh` are the two norms' biases; each layer adds the gains
    /// `weight_ln_ih_l{k}`, `weight_ln_hh_l{k}` (G·H, ones) and for an LSTM `weight_ln_c_l{k}`,
    /// `bias_ln_c_l{k}` (H, ones and zeros). σ = √(var + 1e-5), as nn.LayerNorm. Zoneout composes as
    /// with the plain cells: c̃_t and h̃_t = o ⊙ tanh(c̃_t) are the cell's (c̃_t normalised), then
    /// c_t = c̃_t + d_c ⊙ (c_{t-1} − c̃_t) and h_t = h̃_t + d ⊙ (h_{t-1} − h̃_t). An LSTM with `projSize` P
    /// projects as PyTorch's: h_t = W_hr (o ⊙ tanh(c_t)) (`weight_hr_l{k}` (P, H), `weight_hh_l{k}`
    /// (G·H, P)), the recurrent norm reading the P-wide h_{t-1} and zoneout acting on the projected h.
    /// RNN and the reset-before GRU refuse it.
    public var layerNorm: Bool

    /// PyTorch's plain cells unless an option is given.
    public init(forgetBias: Float? = nil, goBackwards: Bool = false, residual: Bool = false,
                recurrentDropout: Float = 0, weightDrop: Float = 0, zoneout: Float = 0, cellZoneout: Float = 0,
                resetAfter: Bool = true, layerNorm: Bool = false) {
        self.forgetBias = forgetBias
        self.goBackwards = goBackwards
        self.residual = residual
        self.recurrentDropout = recurrentDropout
        self.weightDrop = weightDrop
        self.zoneout = zoneout
        self.cellZoneout = cellZoneout
        self.resetAfter = resetAfter
        self.layerNorm = layerNorm
    }

    /// Whether a call in training draws masks (recurrent dropout, weight drop, zoneout).
    var drawsMasks: Bool { recurrentDropout > 0 || weightDrop > 0 || usesZoneout }
    /// Whether the layers run with zoneout factors.
    var usesZoneout: Bool { zoneout > 0 || cellZoneout > 0 }

    /// Throws, saying why, unless these variants make sense for a stack of `numLayers` layers of `cell`.
    func validate(for cell: RecurrentCell, numLayers: Int, bidirectional: Bool) throws {
        if layerNorm {
            guard cell == .lstm || cell == .gru else {
                throw RecurrentError.invalidArgument(name: "layerNorm", expected: "false for \(cell.rawValue) (LSTM and GRU only)",
                                                     got: "true")
            }
            if !resetAfter {
                throw RecurrentError.invalidArgument(
                    name: "layerNorm", expected: "a stack without resetAfter",
                    got: "resetAfter false (the recurrent norm normalises all of W_hh h_{t-1} as one row, which a reset gate "
                        + "applied before the product would split into r-dependent parts)")
            }
        }
        if goBackwards, bidirectional {
            throw RecurrentError.invalidArgument(
                name: "goBackwards", expected: "false for a bidirectional stack (its reverse direction already reads each "
                    + "sequence backwards)", got: "true")
        }
        if residual, numLayers < 2 {
            throw RecurrentError.invalidArgument(
                name: "residual", expected: "false for a single layer (residual connections join stacked layers: "
                    + "numLayers ≥ 2)", got: "true with numLayers \(numLayers)")
        }
        for (name, p) in [("recurrent dropout", recurrentDropout), ("weight drop", weightDrop), ("zoneout", zoneout),
                          ("cell zoneout", cellZoneout)] where !(p >= 0 && p < 1) {
            throw RecurrentError.invalidArgument(name: name, expected: "a probability in [0, 1)", got: "\(p)")
        }
        if cellZoneout > 0, cell != .lstm {
            throw RecurrentError.invalidArgument(name: "cell zoneout", expected: "0 for \(cell.rawValue) (only an LSTM has a cell state)",
                                                 got: "\(cellZoneout)")
        }
        if !resetAfter, cell != .gru {
            throw RecurrentError.invalidArgument(name: "resetAfter", expected: "true for \(cell.rawValue) (only a GRU has a reset gate)",
                                                 got: "false")
        }
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
