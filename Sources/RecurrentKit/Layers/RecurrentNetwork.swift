// Stacked recurrent layers over the backend's whole-layer ops: construction, parameters and the
// calls users make (a sequence batch, one step). The passes are in RecurrentNetwork+Passes.swift.
// T = time steps, B = batch, I = input size, H = hidden size, L = layers, G = gates, D = directions,
// P = LSTM projection size, R = width of h (P when projecting, else H).

/// A stack of recurrent layers with PyTorch's equations, weight names and layouts; the base of
/// `RNN`, `LSTM` and `GRU`.
///
/// Input a `SequenceBatch` (T, B, I) or (B, T, I), output one in the same layout with the same
/// lengths, (T, B, D·R) with D = 2 when `bidirectional` (forward and reverse outputs concatenated,
/// as PyTorch), states (L·D, B, R) and, for LSTM, (L·D, B, H); R = H, or P for an LSTM with
/// projections (`projSize`, PyTorch's `proj_size`: h_t = W_hr (o_t ⊙ tanh(c_t)), `weight_hr_l{k}` (P, H)).
/// Sequences of different lengths run in cuDNN's packed layout, so the work is proportional to
/// their real steps: padded steps neither change the states nor receive gradient, their outputs
/// are zero, the reverse direction starts at each sequence's own last step, and final states are
/// each sequence's state at its own length.
public class RecurrentNetwork: Layer {
    /// The cell every layer runs: RNN (tanh or ReLU), LSTM or GRU.
    public let cell: RecurrentCell
    /// I: the features of each input step.
    public let inputSize: Int
    /// H: the hidden units of each layer and direction.
    public let hiddenSize: Int
    /// L: the stacked layers.
    public let numLayers: Int
    /// P: LSTM projections (PyTorch's `proj_size`), 0 for none.
    public let projSize: Int
    /// Dropout on the outputs of every layer but the last (training mode only), as PyTorch.
    public let dropout: Float
    /// Whether each layer also runs the sequence backwards (`..._reverse` weights).
    public let bidirectional: Bool
    /// The variants beyond PyTorch's cells this stack was built with.
    public let variants: RecurrentVariants
    /// Training mode: dropout between layers is active only while this is true.
    public var isTraining = true
    /// Per-layer, per-direction parameters: layer k, direction d at index k·D + d.
    public let layerParameters: [RecurrentLayerParameters]
    /// Stateful training (truncated BPTT, Keras's `stateful`): a call without an initial state
    /// starts from the previous call's final states, detached (no gradient flows back into the
    /// previous batch). `resetStates()` starts again from zeros.
    public var stateful = false

    /// D: 2 for bidirectional stacks, else 1.
    public var directions: Int { bidirectional ? 2 : 1 }
    /// R: the width of h per direction, `projSize` when projecting, else `hiddenSize`.
    public var hiddenStateSize: Int { projSize > 0 ? projSize : hiddenSize }
    /// The width of each output step: D·R.
    public var outputSize: Int { directions * hiddenStateSize }

    let backend: any Backend
    let dropoutSite: DropoutSite
    /// The stream of the recurrent dropout and weight-drop masks; nil when the variants draw none
    /// (so a plain stack takes exactly the streams it always took).
    let variantSite: DropoutSite?
    /// Masks to use instead of drawing them, in training (parity tests against frameworks that take
    /// masks as inputs).
    var maskOverride: VariantMasks?
    private var carriedState: RecurrentState?
    /// The last batch layout, kept while batches keep their shape and lengths.
    var layoutCache: PackedLayout?

    /// - Parameters:
    ///   - projSize: P, LSTM only (0: none); 1 ≤ P < H.
    ///   - weightInit: for `weight_ih`; `recurrentInit`: for `weight_hh` and `weight_hr`; `biasInit`: for
    ///     both biases. PyTorch's default draws all of them from U(−1/√H, 1/√H). Xavier and orthogonal
    ///     treat each gate's (H, ·) block as its own matrix (and `weight_hr` as one (P, H) matrix).
    ///   - variants: options beyond PyTorch's cells (`RecurrentVariants`), refused where they make no sense.
    init(cell: RecurrentCell, inputSize: Int, hiddenSize: Int, numLayers: Int, projSize: Int = 0, dropout: Float,
         bidirectional: Bool, on backend: any Backend, rng: RandomSource,
         weightInit: Initializer, recurrentInit: Initializer, biasInit: Initializer,
         variants: RecurrentVariants) throws {
        for (name, v) in [("input size", inputSize), ("hidden size", hiddenSize), ("number of layers", numLayers)] where v < 1 {
            throw RecurrentError.invalidArgument(name: name, expected: "at least 1", got: "\(v)")
        }
        if projSize != 0 {
            guard cell == .lstm else {
                throw RecurrentError.invalidArgument(name: "projection size", expected: "0 for \(cell.rawValue) (LSTM only)", got: "\(projSize)")
            }
            guard projSize > 0, projSize < hiddenSize else {
                throw RecurrentError.invalidArgument(
                    name: "projection size", expected: "0 (none) or 1 to \(hiddenSize - 1) (below the hidden size \(hiddenSize))",
                    got: "\(projSize)")
            }
        }
        try DropoutSite.validate(dropout)
        try variants.validate(for: cell, numLayers: numLayers, bidirectional: bidirectional)
        self.cell = cell
        self.variants = variants
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.projSize = projSize
        self.numLayers = numLayers
        self.dropout = dropout
        self.bidirectional = bidirectional
        self.backend = backend
        let d = bidirectional ? 2 : 1
        let r = projSize > 0 ? projSize : hiddenSize
        // Sizes checked before anything is allocated: an absurd size is an error, not a trap.
        let parameterCount = Double(numLayers) * Double(d) * Double(cell.gateCount) * Double(hiddenSize)
            * (max(Double(inputSize), Double(d) * Double(r)) + Double(r) + 2 + (projSize > 0 ? Double(hiddenSize) : 0))
        try HostMemory.check(bytes: parameterCount * 4 < Double(Int.max) ? Int(parameterCount) * 4 : nil,
                             for: "\(cell) weights: \(numLayers) layers of hidden size \(hiddenSize), \(Int(min(parameterCount, 9e18))) parameters")
        layerParameters = try (0..<(numLayers * d)).map { index in
            try RecurrentLayerParameters(cell: cell, input: index < d ? inputSize : d * r, hiddenSize: hiddenSize, projSize: projSize,
                                         on: backend, rng: rng, weightInit: weightInit, recurrentInit: recurrentInit, biasInit: biasInit,
                                         layerNorm: variants.layerNorm)
        }
        try variants.applyForgetBias(to: layerParameters, hiddenSize: hiddenSize, on: backend)
        dropoutSite = DropoutSite(rng: rng)
        variantSite = variants.drawsMasks ? DropoutSite(rng: rng) : nil
    }

    /// PyTorch's names, layer by layer and direction by direction: `weight_ih_l0`, `weight_hh_l0`,
    /// `bias_ih_l0`, `bias_hh_l0` (`weight_hr_l0` when projecting; with layer norm `weight_ln_ih_l0`,
    /// `weight_ln_hh_l0` and for an LSTM `weight_ln_c_l0`, `bias_ln_c_l0`), then `…_l0_reverse`, `…_l1`.
    public var namedParameters: [(name: String, parameter: Parameter)] {
        layerParameters.enumerated().flatMap { index, p in
            p.named("_l\(index / directions)" + (index % directions == 1 ? "_reverse" : ""))
        }
    }

    /// The dropout stream between layers (empty without dropout or with one layer), and that of the
    /// recurrent dropout and weight-drop masks when the stack draws them.
    public var randomState: [String: UInt64] {
        get {
            (dropout > 0 && numLayers > 1 ? dropoutSite.state("dropout") : [:])
                .merging(variantSite?.state("variant_dropout") ?? [:]) { a, _ in a }
        }
        set {
            dropoutSite.restore(newValue, "dropout")
            variantSite?.restore(newValue, "variant_dropout")
        }
    }

    /// Forgets the states a `stateful` network carries between batches.
    public func resetStates() { carriedState = nil }

    /// Runs the stack on a sequence batch (from zeros, or the carried states when `stateful`) and
    /// returns the outputs as a sequence batch with the input's layout and lengths.
    public func forward(_ input: LayerValue, tape: Tape?) throws -> LayerValue {
        .sequence(try callAsFunction(try input.requireSequence(cell.rawValue), tape: tape).output)
    }

    /// Runs the stack over `input` (T, B, I) or (B, T, I) from `initialState` (h (L·D, B, R), c (L·D, B, H);
    /// nil: zeros, or the carried states when `stateful`). Returns the outputs (zero at padded steps) in
    /// the input's layout and each sequence's final states; with a tape, records the call (the initial
    /// state receives a gradient when it is itself the output of a recorded call or watched).
    public func callAsFunction(_ input: SequenceBatch, initialState: RecurrentState? = nil, tape: Tape? = nil) throws -> RecurrentOutput {
        let carried = stateful && initialState == nil ? carriedState : nil
        if let carried, carried.hidden.shape[1] != input.batchSize {
            throw RecurrentError.invalidState(
                "\(cell.rawValue): a stateful network carries states for batches of \(carried.hidden.shape[1]); "
                    + "got \(input.batchSize) sequences (call resetStates() to start over)")
        }
        let result = try run(input, initialState: initialState ?? carried, tape: tape)
        if stateful { carriedState = try result.state.detached() }
        return result
    }

    /// Advances the whole stack by one step: input (B, I), states h (L, B, R) and, for LSTM,
    /// c (L, B, H) (nil: zeros). Returns the top layer's output (B, R) and the new states. The same
    /// ops as a pass over the sequence, one step at a time, so stepping T times equals one pass.
    /// Unidirectional stacks only (a reverse direction needs the whole sequence), not going backwards.
    public func step(_ input: Tensor, state: RecurrentState?, tape: Tape? = nil) throws -> (output: Tensor, state: RecurrentState) {
        guard !bidirectional else {
            throw RecurrentError.invalidArgument(name: "\(cell.rawValue).step", expected: "a unidirectional stack",
                                                 got: "a bidirectional one (its reverse direction needs the whole sequence)")
        }
        guard !variants.goBackwards else {
            throw RecurrentError.invalidArgument(name: "\(cell.rawValue).step", expected: "a stack reading forwards",
                                                 got: "one going backwards (it needs the whole sequence)")
        }
        guard !(isTraining && (variants.recurrentDropout > 0 || variants.weightDrop > 0)) else {
            throw RecurrentError.invalidArgument(
                name: "\(cell.rawValue).step", expected: "evaluation mode with recurrent dropout or weight drop",
                got: "training mode (their masks are drawn once per sequence: run the whole sequence in one call)")
        }
        guard input.rank == 2, input.shape[1] == inputSize, input.shape[0] >= 1 else {
            throw RecurrentError.shapeMismatch(operation: "\(cell.rawValue).step", expected: "input (B, \(inputSize))",
                                               got: "shape \(input.shape)")
        }
        let result = try run(SequenceBatch(input.reshaped([1] + input.shape)), initialState: state, tape: tape)
        return (try result.output.data.reshaped([input.shape[0], outputSize]), result.state)
    }

    /// Throws unless `state` fits `b` sequences of this stack.
    func validate(_ state: RecurrentState?, batch b: Int, what: String = "initial state") throws {
        guard let state else { return }
        let hiddenName = projSize > 0 ? "(L·D, B, P)" : "(L·D, B, H)"
        try RecurrentError.check("\(cell.rawValue) \(what) hidden \(hiddenName)", shape: state.hidden.shape,
                                 equals: [numLayers * directions, b, hiddenStateSize])
        try backend.checkDevice(state.hidden, "\(cell.rawValue) \(what)")
        if let c = state.cell {
            guard cell.hasCellState else {
                throw RecurrentError.invalidArgument(name: "\(what) cell", expected: "nil for \(cell.rawValue)", got: "shape \(c.shape)")
            }
            try RecurrentError.check("\(cell.rawValue) \(what) cell (L·D, B, H)", shape: c.shape,
                                     equals: [numLayers * directions, b, hiddenSize])
            try backend.checkDevice(c, "\(cell.rawValue) \(what)")
        }
    }
}

/// Recurrent dropout and weight-drop masks given instead of drawn (`RecurrentNetwork.maskOverride`).
struct VariantMasks {
    /// (L·D, B, R) recurrent dropout masks in the caller's batch order (0 or 1/(1−p) for the
    /// framework compared against; any values are used as given).
    var hidden: Tensor?
    /// L·D masks of `weight_hh` (G·H, R), layer by layer and direction by direction.
    var weights: [Tensor]?
    /// L·D zoneout factors of h (T, B, R) and of c (T, B, H), time-major in the caller's batch order,
    /// indexed by the time step they act on (also for the reverse direction).
    var zoneoutHidden: [Tensor]?, zoneoutCell: [Tensor]?
}
