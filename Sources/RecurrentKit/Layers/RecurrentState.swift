// The values a recurrent stack takes and returns besides its input: states, outputs, and the
// parameters of one layer and direction.
// L = layers, D = directions, B = batch, H = hidden size, R = width of h (P when projecting, else H).

/// The states between batches or returned by a recurrent stack: h (L·D, B, R) and, for LSTM,
/// c (L·D, B, H); R = H unless an LSTM projects (then R = P).
public struct RecurrentState: Sendable {
    /// (L·D, B, R)
    public var hidden: Tensor
    /// (L·D, B, H) for LSTM, nil otherwise.
    public var cell: Tensor?

    /// A state from its tensors.
    public init(hidden: Tensor, cell: Tensor? = nil) {
        self.hidden = hidden
        self.cell = cell
    }

    /// A copy that shares no memory with this state, for carrying states across batches
    /// (truncated BPTT): the gradient never flows back through a copy.
    public func detached() throws -> RecurrentState {
        RecurrentState(hidden: try hidden.copy(), cell: try cell?.copy())
    }
}

/// What a recurrent stack returns: every step's top-layer hidden state and the final states.
public struct RecurrentOutput: Sendable {
    /// (T, B, D·R) or (B, T, D·R), in the input's layout and with its lengths; zero at padded steps.
    public var output: SequenceBatch
    /// Final states of every layer, each sequence's at its own length, in the caller's batch order.
    public var state: RecurrentState
}

/// The parameters of one layer of a recurrent stack, PyTorch's names with suffix `_l{k}`.
public struct RecurrentLayerParameters {
    /// `weight_ih_l{k}` (G·H, in), `weight_hh_l{k}` (G·H, R), `bias_ih_l{k}`, `bias_hh_l{k}` (G·H).
    public let weightIH: Parameter, weightHH: Parameter, biasIH: Parameter, biasHH: Parameter
    /// `weight_hr_l{k}` (P, H) of an LSTM with projections, else nil.
    public let weightHR: Parameter?
    /// With layer norm: the gains `weight_ln_ih_l{k}`, `weight_ln_hh_l{k}` (G·H, ones) and, for an LSTM,
    /// c_t's `weight_ln_c_l{k}` (H, ones) and `bias_ln_c_l{k}` (H, zeros) (`RecurrentVariants.layerNorm`);
    /// else nil.
    public let gainIH: Parameter?, gainHH: Parameter?, gainCell: Parameter?, biasCell: Parameter?

    /// The parameters of a layer with `input` inputs, drawn from `rng` in PyTorch's order.
    init(cell: RecurrentCell, input: Int, hiddenSize h: Int, projSize: Int, on backend: any Backend, rng: RandomSource,
         weightInit: Initializer, recurrentInit: Initializer, biasInit: Initializer, layerNorm: Bool = false) throws {
        let g = cell.gateCount, r = projSize > 0 ? projSize : h
        let bound = 1 / Float(h).squareRoot()
        func make(_ shape: [Int], _ initializer: Initializer, blocks: Int = g) throws -> Parameter {
            var stream = rng.makeStream()
            let values = try initializer.values(shape: shape, blocks: blocks, defaultBound: bound, stream: &stream)
            return try Parameter(Tensor(shape: shape, values: values, on: backend))
        }
        weightIH = try make([g * h, input], weightInit)
        weightHH = try make([g * h, r], recurrentInit)
        biasIH = try make([g * h], biasInit)
        biasHH = try make([g * h], biasInit)
        weightHR = projSize > 0 ? try make([projSize, h], recurrentInit, blocks: 1) : nil
        // nn.LayerNorm's initial gains and bias, drawing nothing (the other parameters' streams stay as they were).
        func constant(_ count: Int, _ value: Float) throws -> Parameter {
            try Parameter(Tensor(shape: [count], values: [Float](repeating: value, count: count), on: backend))
        }
        gainIH = layerNorm ? try constant(g * h, 1) : nil
        gainHH = layerNorm ? try constant(g * h, 1) : nil
        gainCell = layerNorm && cell == .lstm ? try constant(h, 1) : nil
        biasCell = layerNorm && cell == .lstm ? try constant(h, 0) : nil
    }

    /// The parameters with PyTorch's names, each name ending in `suffix` (`_l0`, `_l1_reverse`, or "").
    func named(_ suffix: String) -> [(name: String, parameter: Parameter)] {
        let projection = weightHR.map { [("weight_hr" + suffix, $0)] } ?? []
        let norms = [("weight_ln_ih", gainIH), ("weight_ln_hh", gainHH), ("weight_ln_c", gainCell), ("bias_ln_c", biasCell)]
            .compactMap { name, p in p.map { (name + suffix, $0) } }
        return ([("weight_ih" + suffix, weightIH), ("weight_hh" + suffix, weightHH),
                 ("bias_ih" + suffix, biasIH), ("bias_hh" + suffix, biasHH)] + projection + norms).map { (name: $0.0, parameter: $0.1) }
    }

    var values: RecurrentWeights {
        RecurrentWeights(weightIH: weightIH.value, weightHH: weightHH.value, biasIH: biasIH.value, biasHH: biasHH.value,
                         weightHR: weightHR?.value, layerNorm: layerNormWeights(\.value))
    }
    var gradients: RecurrentWeights {
        RecurrentWeights(weightIH: weightIH.gradient, weightHH: weightHH.gradient, biasIH: biasIH.gradient, biasHH: biasHH.gradient,
                         weightHR: weightHR?.gradient, layerNorm: layerNormWeights(\.gradient))
    }
    /// The layer-norm parameters' values or gradients (`tensor`), nil without layer norm.
    private func layerNormWeights(_ tensor: KeyPath<Parameter, Tensor>) -> RecurrentLayerNormWeights? {
        guard let gainIH, let gainHH else { return nil }
        return RecurrentLayerNormWeights(gainIH: gainIH[keyPath: tensor], gainHH: gainHH[keyPath: tensor],
                                         gainCell: gainCell?[keyPath: tensor], biasCell: biasCell?[keyPath: tensor])
    }
}
