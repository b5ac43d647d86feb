// Stacked recurrent layers over the backend's whole-layer ops.
// T = time steps, B = batch, I = input size, H = hidden size, L = layers, G = gates, D = directions,
// P = LSTM projection size, R = width of h (P when projecting, else H).

/// The states between batches or returned by a recurrent stack: h (L·D, B, R) and, for LSTM,
/// c (L·D, B, H); R = H unless an LSTM projects (then R = P).
public struct RecurrentState: Sendable {
    /// (L·D, B, R)
    public var hidden: Tensor
    /// (L·D, B, H) for LSTM, nil otherwise.
    public var cell: Tensor?

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
    /// (T, B, D·R), or (B, T, D·R) with `batchFirst`
    public var output: Tensor
    /// Final states of every layer.
    public var state: RecurrentState
}

/// The parameters of one layer of a recurrent stack, PyTorch's names with suffix `_l{k}`.
public struct RecurrentLayerParameters {
    /// `weight_ih_l{k}` (G·H, in), `weight_hh_l{k}` (G·H, R), `bias_ih_l{k}`, `bias_hh_l{k}` (G·H).
    public let weightIH: Parameter, weightHH: Parameter, biasIH: Parameter, biasHH: Parameter
    /// `weight_hr_l{k}` (P, H) of an LSTM with projections, else nil.
    public let weightHR: Parameter?

    var values: RecurrentWeights {
        RecurrentWeights(weightIH: weightIH.value, weightHH: weightHH.value, biasIH: biasIH.value, biasHH: biasHH.value,
                         weightHR: weightHR?.value)
    }
    var gradients: RecurrentWeights {
        RecurrentWeights(weightIH: weightIH.gradient, weightHH: weightHH.gradient, biasIH: biasIH.gradient, biasHH: biasHH.gradient,
                         weightHR: weightHR?.gradient)
    }
}

/// A stack of recurrent layers with PyTorch's equations, weight names and layouts; the base of
/// `RNN`, `LSTM` and `GRU`.
///
/// Input (T, B, I) — or (B, T, I) with `batchFirst` — output (T, B, D·R) with D = 2 when
/// `bidirectional` (forward and reverse outputs concatenated, as PyTorch), states (L·D, B, R)
/// and, for LSTM, (L·D, B, H); R = H, or P for an LSTM with projections (`projSize`, PyTorch's
/// `proj_size`: h_t = W_hr (o_t ⊙ tanh(c_t)), `weight_hr_l{k}` (P, H)).
/// Sequences of different lengths (`lengths`, PyTorch's packed sequences) run in cuDNN's packed
/// layout, so the work is proportional to their real steps: padded steps neither change the
/// states nor receive gradient, their outputs are zero, the reverse direction starts at each
/// sequence's own last step, and final states are each sequence's state at its own length.
public class RecurrentNetwork: Layer {
    public let cell: RecurrentCell
    public let inputSize: Int, hiddenSize: Int, numLayers: Int
    /// P: LSTM projections (PyTorch's `proj_size`), 0 for none.
    public let projSize: Int
    /// Dropout on the outputs of every layer but the last (training mode only), as PyTorch.
    public let dropout: Float
    /// Whether each layer also runs the sequence backwards (`..._reverse` weights).
    public let bidirectional: Bool
    /// Whether inputs and outputs are (B, T, ·) instead of (T, B, ·). States stay (L·D, B, ·).
    public let batchFirst: Bool
    public var isTraining = true
    public var needsInputGradient = true
    /// Per-layer, per-direction parameters: layer k, direction d at index k·D + d.
    public let layerParameters: [RecurrentLayerParameters]
    /// Initial states `forward(_:)` starts from; nil means zeros.
    public var initialState: RecurrentState?
    /// The length of each sequence of the next `forward(_:)` batch (nil: all T), for padded
    /// batches of variable-length sequences; `forward(_:lengths:initialState:)` takes them directly.
    public var lengths: [Int]?
    /// Stateful training (truncated BPTT, Keras's `stateful`): `forward(_:)` starts each batch
    /// from the previous batch's final states, detached (no gradient flows back into the previous
    /// batch). `resetStates()` starts again from `initialState`.
    public var stateful = false
    /// Final states of the last forward pass, h (L·D, B, R) and c (L·D, B, H), in the caller's batch order.
    public private(set) var finalState: RecurrentState?

    /// D: 2 for bidirectional stacks, else 1.
    public var directions: Int { bidirectional ? 2 : 1 }
    /// R: the width of h per direction, `projSize` when projecting, else `hiddenSize`.
    public var hiddenStateSize: Int { projSize > 0 ? projSize : hiddenSize }
    /// The width of each output step: D·R.
    public var outputSize: Int { directions * hiddenStateSize }

    let backend: any Backend
    private let dropoutSite: DropoutSite
    private var carriedState: RecurrentState?

    /// What backward needs from the last forward.
    private struct DirectionCache { var input: Tensor, output: Tensor, reserve: Tensor }
    private struct LayerCache {
        var directions: [DirectionCache]
        var dropoutMask: Tensor?   // applied to this layer's input (layers ≥ 1)
        var inputWidth: Int
    }
    /// A batch's layout and its row maps on the device (kept while the lengths stay the same).
    private struct Layout {
        var plan: SequencePacking
        var key: [Int]
        /// Packed row → padded row; nil when they coincide (all lengths T, time-major).
        var paddedRows: RowIndices?
        /// Packed row → the same sequence's row reversed in time (bidirectional only).
        var reversedRows: RowIndices?
        /// Rows of the (2N, R) forward-then-reverse outputs that form the (N, 2R) concatenation.
        var concatenatedRows: RowIndices?
        /// State rows, caller order → sorted and back; nil when sorting keeps the order.
        var sortedStateRows: RowIndices?, callerStateRows: RowIndices?
    }
    private var layout: Layout?
    private var cache: [LayerCache] = []
    private var cachedInputShape: [Int]?
    private var cachedInitialState: RecurrentState?   // sorted order

    /// - Parameters:
    ///   - projSize: P, LSTM only (0: none); 1 ≤ P < H.
    ///   - weightInit: for `weight_ih`; `recurrentInit`: for `weight_hh` and `weight_hr`; `biasInit`: for
    ///     both biases. PyTorch's default draws all of them from U(−1/√H, 1/√H). Xavier and orthogonal
    ///     treat each gate's (H, ·) block as its own matrix (and `weight_hr` as one (P, H) matrix).
    init(cell: RecurrentCell, inputSize: Int, hiddenSize: Int, numLayers: Int, projSize: Int = 0, dropout: Float,
         bidirectional: Bool, batchFirst: Bool,
         on backend: any Backend, rng: RandomSource,
         weightInit: Initializer, recurrentInit: Initializer, biasInit: Initializer) throws {
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
        self.cell = cell
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.projSize = projSize
        self.numLayers = numLayers
        self.dropout = dropout
        self.bidirectional = bidirectional
        self.batchFirst = batchFirst
        self.backend = backend
        let g = cell.gateCount, h = hiddenSize, d = bidirectional ? 2 : 1
        let r = projSize > 0 ? projSize : h
        let bound = 1 / Float(h).squareRoot()
        func make(_ shape: [Int], _ initializer: Initializer, blocks: Int = g) throws -> Parameter {
            var stream = rng.makeStream()
            let values = initializer.values(shape: shape, blocks: blocks, defaultBound: bound, stream: &stream)
            return try Parameter(Tensor(shape: shape, values: values, on: backend))
        }
        layerParameters = try (0..<(numLayers * d)).map { index in
            let input = index < d ? inputSize : d * r
            return RecurrentLayerParameters(
                weightIH: try make([g * h, input], weightInit), weightHH: try make([g * h, r], recurrentInit),
                biasIH: try make([g * h], biasInit), biasHH: try make([g * h], biasInit),
                weightHR: projSize > 0 ? try make([projSize, h], recurrentInit, blocks: 1) : nil)
        }
        dropoutSite = DropoutSite(rng: rng)
    }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        layerParameters.enumerated().flatMap { index, p in
            let suffix = "_l\(index / directions)" + (index % directions == 1 ? "_reverse" : "")
            let projection = p.weightHR.map { [("weight_hr" + suffix, $0)] } ?? []
            return ([("weight_ih" + suffix, p.weightIH), ("weight_hh" + suffix, p.weightHH),
                     ("bias_ih" + suffix, p.biasIH), ("bias_hh" + suffix, p.biasHH)] + projection).map { (name: $0.0, parameter: $0.1) }
        }
    }

    public var randomState: [String: UInt64] {
        get { dropout > 0 && numLayers > 1 ? dropoutSite.state("dropout") : [:] }
        set { dropoutSite.restore(newValue, "dropout") }
    }

    /// Forgets the states a `stateful` network carries between batches.
    public func resetStates() { carriedState = nil }

    /// Runs the stack over `input` with `lengths` from `initialState` (or, when `stateful`, from the
    /// previous batch's final states) and returns the outputs; the final states are in `finalState`.
    public func forward(_ input: Tensor) throws -> Tensor {
        let start = stateful ? carriedState ?? initialState : initialState
        if stateful, let carried = carriedState, carried.hidden.shape[1] != (batchFirst ? input.shape.first : input.shape.dropFirst().first) {
            throw RecurrentError.invalidState(
                "\(cell.rawValue): a stateful network carries states for batches of \(carried.hidden.shape[1]); "
                    + "got input \(input.shape) (call resetStates() to start over)")
        }
        let result = try forward(input, lengths: lengths, initialState: start)
        if stateful { carriedState = try result.state.detached() }
        return result.output
    }

    /// Runs the stack from `initialState` (nil: zeros) over sequences of the network's `lengths`.
    public func forward(_ input: Tensor, initialState: RecurrentState?) throws -> RecurrentOutput {
        try forward(input, lengths: lengths, initialState: initialState)
    }

    /// Runs the stack over `input` (T, B, I) — (B, T, I) with `batchFirst` — whose sequence b has
    /// `lengths[b]` real steps (nil: all T), from `initialState` (h (L·D, B, R), c (L·D, B, H); nil:
    /// zeros). Returns the outputs (T, B, D·R) (zero at padded steps) and each sequence's final states.
    public func forward(_ input: Tensor, lengths: [Int]?, initialState: RecurrentState?) throws -> RecurrentOutput {
        let layoutName = batchFirst ? "(B, T, \(inputSize))" : "(T, B, \(inputSize))"
        guard input.rank == 3, input.shape[2] == inputSize, input.shape[0] > 0, input.shape[1] > 0 else {
            throw RecurrentError.shapeMismatch(operation: "\(cell.rawValue) forward", expected: "input \(layoutName) with T, B ≥ 1",
                                               got: "shape \(input.shape)")
        }
        try backend.checkDevice(input, "\(cell.rawValue) forward input")
        let (t, b) = batchFirst ? (input.shape[1], input.shape[0]) : (input.shape[0], input.shape[1])
        let (h, r, l, d) = (hiddenSize, hiddenStateSize, numLayers, directions)
        try validate(initialState, batch: b)
        releaseStepMemory()
        finalState = nil   // its buffers return to the cache unless the caller still holds them
        let layout = try makeLayout(lengths: lengths, t: t, b: b)
        let n = layout.plan.rowCount

        // Packed input (N, I) and initial states in sorted order.
        var x = try pack(input, width: inputSize, layout)
        let initial = try initialState.map { s in
            RecurrentState(hidden: try sortStates(s.hidden, layout), cell: try s.cell.map { try sortStates($0, layout) })
        }
        let hidden = try Tensor.empty([l * d, b, r], on: backend)                                   // (L·D, B, R) sorted
        let cellState = cell.hasCellState ? try Tensor.empty([l * d, b, h], on: backend) : nil    // (L·D, B, H) sorted
        // Evaluation mode runs forward only: no reserve is kept and the cells run their forward-only steps.
        let mode: RecurrentForwardMode = isTraining ? .training : .inference
        var caches: [LayerCache] = []
        for k in 0..<l {
            let width = k == 0 ? inputSize : d * r
            var mask: Tensor? = nil
            if k > 0, isTraining, dropout > 0 {
                let (dropped, m) = try dropoutSite.apply(x, probability: dropout)
                x = dropped
                mask = m
            }
            let shape = layerShape(width: width, t: t, b: b, layout)
            let outputs = try Tensor.empty([d * n, r], on: backend)      // (D·N, R): forward rows, then reverse rows
            var directionCaches: [DirectionCache] = []
            for direction in 0..<d {
                let index = k * d + direction
                let directionInput = direction == 0 ? x : try gather(x, rows: layout.reversedRows!, count: n)
                let output = try outputs.slice((direction * n)..<((direction + 1) * n))
                let reserve = try Tensor.empty([shape.reserveCount(mode)], on: backend)
                try backend.recurrentForward(
                    RecurrentForwardIO(output: output, finalHidden: hidden.row(index), finalCell: cellState?.row(index),
                                       reserve: reserve, input: directionInput, initialHidden: initial?.hidden.row(index),
                                       initialCell: initial?.cell?.row(index), mode: mode),
                    layerParameters[index].values, shape)
                if mode == .training {
                    directionCaches.append(DirectionCache(input: directionInput, output: output, reserve: reserve))
                }
            }
            if mode == .training {
                caches.append(LayerCache(directions: directionCaches, dropoutMask: mask, inputWidth: width))
            }
            // Bidirectional: row r of the layer output is [forward r | reverse output of r's mirror row].
            x = d == 1 ? outputs : try gather(outputs, rows: layout.concatenatedRows!, count: 2 * n).reshaped([n, 2 * r])
        }
        if mode == .training {
            cache = caches
            cachedInputShape = input.shape
            cachedInitialState = initial
        }
        self.layout = layout
        let output = try unpack(x, width: d * r, t: t, b: b, layout)
        let state = RecurrentState(hidden: try unsortStates(hidden, layout), cell: try cellState.map { try unsortStates($0, layout) })
        finalState = state
        return RecurrentOutput(output: output, state: state)
    }

    /// Backward from the gradient of the outputs alone (the final states do not reach the loss).
    public func backward(_ gradOutput: Tensor) throws -> Tensor? {
        try backward(gradOutput: gradOutput, gradState: nil).input
    }

    /// Backward from the gradients of the outputs (T, B, D·R) and of the final states (h (L·D, B, R), c (L·D, B, H));
    /// either may be nil (zero). Accumulates parameter gradients; returns the input gradient
    /// (unless `needsInputGradient` is off) and, when the forward pass had an initial state, its gradient.
    public func backward(gradOutput: Tensor?, gradState: RecurrentState?) throws -> (input: Tensor?, state: RecurrentState?) {
        guard let inputShape = cachedInputShape, let layout, cache.count == numLayers else {
            throw RecurrentError.invalidState(
                "\(cell.rawValue) backward called before forward (a forward pass in evaluation mode keeps nothing for "
                    + "backward: call train() before the forward pass)")
        }
        let (t, b, n) = (layout.plan.sequenceLength, layout.plan.batchSize, layout.plan.rowCount)
        let (h, r, l, d) = (hiddenSize, hiddenStateSize, numLayers, directions)
        if let gradOutput {
            let expected = batchFirst ? [b, t, d * r] : [t, b, d * r]
            try RecurrentError.check("\(cell.rawValue) backward grad output", shape: gradOutput.shape, equals: expected)
        }
        try validate(gradState, batch: b, what: "gradient of the final state")
        let initial = cachedInitialState
        let gradFinal = try gradState.map { s in
            RecurrentState(hidden: try sortStates(s.hidden, layout), cell: try s.cell.map { try sortStates($0, layout) })
        }
        let gradHidden = initial != nil ? try Tensor.empty([l * d, b, r], on: backend) : nil      // sorted
        let gradCell = initial?.cell != nil ? try Tensor.empty([l * d, b, h], on: backend) : nil   // sorted

        var g = try gradOutput.map { try pack($0, width: d * r, layout) }                     // (N, D·R)
        var gradInput: Tensor? = nil
        for k in stride(from: l - 1, through: 0, by: -1) {
            let c = cache[k]
            let wantInput = k > 0 || needsInputGradient
            // Split the output gradient into the forward rows and the reverse rows (mirror order).
            var directionGrads: [Tensor?] = [g]
            if d == 2 {
                if let gk = g {
                    let both = try Tensor.zeros([2 * n, r], on: backend)
                    try backend.scatterAddRows(both, gk.reshaped([2 * n, r]), rows: layout.concatenatedRows!)
                    directionGrads = [try both.slice(0..<n), try both.slice(n..<(2 * n))]
                } else {
                    directionGrads = [nil, nil]
                }
            }
            var dx: Tensor? = nil
            for direction in 0..<d {
                let index = k * d + direction, saved = c.directions[direction]
                let gradDirectionInput = wantInput ? try Tensor.empty([n, c.inputWidth], on: backend) : nil
                try backend.recurrentBackward(
                    RecurrentBackwardIO(gradInput: gradDirectionInput, gradInitialHidden: gradHidden?.row(index),
                                        gradInitialCell: gradCell?.row(index), gradOutput: directionGrads[direction],
                                        gradFinalHidden: gradFinal?.hidden.row(index), gradFinalCell: gradFinal?.cell?.row(index),
                                        input: saved.input, output: saved.output,
                                        initialHidden: initial?.hidden.row(index), initialCell: initial?.cell?.row(index),
                                        reserve: saved.reserve),
                    layerParameters[index].values, layerParameters[index].gradients,
                    layerShape(width: c.inputWidth, t: t, b: b, layout))
                guard let gradDirectionInput else { continue }
                if direction == 0 {
                    dx = gradDirectionInput
                } else {
                    // Back from mirror order, then the two directions' contributions add up.
                    let unreversed = try gather(gradDirectionInput, rows: layout.reversedRows!, count: n)
                    try backend.axpy(dx!, alpha: 1, unreversed)
                }
            }
            if let dx, let mask = c.dropoutMask { gradInput = try DropoutSite.backward(dx, mask: mask) } else { gradInput = dx }
            g = gradInput
        }
        let result = try gradInput.map { try unpack($0, width: inputSize, t: t, b: b, layout).reshaped(inputShape) }
        let stateGradient = try gradHidden.map {
            RecurrentState(hidden: try unsortStates($0, layout), cell: try gradCell.map { try unsortStates($0, layout) })
        }
        releaseStepMemory()
        return (result, stateGradient)
    }

    /// Drops what backward needed (as PyTorch frees the graph), so the next step reuses the memory.
    private func releaseStepMemory() {
        cache = []
        cachedInputShape = nil
        cachedInitialState = nil
    }

    private func layerShape(width: Int, t: Int, b: Int, _ layout: Layout) -> RecurrentLayerShape {
        RecurrentLayerShape(cell: cell, sequenceLength: layout.plan.steps, batchSize: b, inputSize: width, hiddenSize: hiddenSize,
                            batchSizes: layout.plan.isUniform ? nil : layout.plan.batchSizes,
                            projectionSize: projSize > 0 ? projSize : nil)
    }

    /// The layout of a batch; the row maps are uploaded once and kept while the lengths stay.
    private func makeLayout(lengths: [Int]?, t: Int, b: Int) throws -> Layout {
        let key = [t, b, batchFirst ? 1 : 0] + (lengths ?? [])
        if let layout, layout.key == key { return layout }
        let plan = try SequencePacking(lengths: lengths, sequenceLength: t, batchSize: b, batchFirst: batchFirst)
        let n = plan.rowCount
        let identity = plan.isUniform && !batchFirst
        let blocks = numLayers * directions
        return Layout(
            plan: plan, key: key,
            paddedRows: identity ? nil : try backend.makeRowIndices(plan.paddedRow, tableRows: t * b),
            reversedRows: bidirectional ? try backend.makeRowIndices(plan.reversedRow, tableRows: n) : nil,
            concatenatedRows: bidirectional
                ? try backend.makeRowIndices((0..<n).flatMap { [$0, n + plan.reversedRow[$0]] }, tableRows: 2 * n) : nil,
            sortedStateRows: plan.keepsOrder ? nil : try backend.makeRowIndices(plan.sortedStateRows(blocks: blocks),
                                                                               tableRows: blocks * b),
            callerStateRows: plan.keepsOrder ? nil : try backend.makeRowIndices(plan.callerStateRows(blocks: blocks),
                                                                               tableRows: blocks * b))
    }

    /// Rows `rows` of `table` seen as rows of `width` (default: the last dimension) → (count, width).
    private func gather(_ table: Tensor, rows: RowIndices, count: Int, width: Int? = nil) throws -> Tensor {
        let width = width ?? table.shape.last ?? 1
        let out = try Tensor.empty([count, width], on: backend)
        try backend.gatherRows(out, table.reshaped([table.count / width, width]), rows: rows)
        return out
    }

    /// A padded batch (T, B, w) or (B, T, w) → packed rows (N, w).
    private func pack(_ padded: Tensor, width: Int, _ layout: Layout) throws -> Tensor {
        let flat = try padded.reshaped([padded.count / width, width])
        guard let rows = layout.paddedRows else { return flat }
        return try gather(flat, rows: rows, count: layout.plan.rowCount)
    }

    /// Packed rows (N, w) → a padded batch (T, B, w) or (B, T, w), zeros at padded steps.
    private func unpack(_ packed: Tensor, width: Int, t: Int, b: Int, _ layout: Layout) throws -> Tensor {
        let shape = batchFirst ? [b, t, width] : [t, b, width]
        guard let rows = layout.paddedRows else { return try packed.reshaped(shape) }
        let padded = try Tensor.zeros([t * b, width], on: backend)
        try backend.scatterAddRows(padded, packed, rows: rows)
        return try padded.reshaped(shape)
    }

    /// States (L·D, B, ·) in the caller's order → sorted longest first.
    private func sortStates(_ states: Tensor, _ layout: Layout) throws -> Tensor {
        guard let rows = layout.sortedStateRows else { return states }
        let width = states.shape.last ?? 1
        return try gather(states, rows: rows, count: states.count / width, width: width).reshaped(states.shape)
    }

    /// States (L·D, B, ·) sorted longest first → the caller's order.
    private func unsortStates(_ states: Tensor, _ layout: Layout) throws -> Tensor {
        guard let rows = layout.callerStateRows else { return states }
        let width = states.shape.last ?? 1
        return try gather(states, rows: rows, count: states.count / width, width: width).reshaped(states.shape)
    }

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

/// Long short-term memory (Hochreiter & Schmidhuber 1997), PyTorch's `nn.LSTM` with gates i, f, g, o.
///
/// `projSize` P > 0 (PyTorch's `proj_size`, Sak et al. 2014's LSTMP) projects each step's hidden state:
/// h_t = W_hr (o_t ⊙ tanh(c_t)) with `weight_hr_l{k}` (P, H), so outputs are (T, B, D·P), h states
/// (L·D, B, P) and `weight_hh` (4H, P), while c states stay (L·D, B, H); layers above the first take D·P inputs.
public final class LSTM: RecurrentNetwork {
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, projSize: Int = 0, dropout: Float = 0,
                bidirectional: Bool = false, batchFirst: Bool = false,
                on backend: any Backend, rng: RandomSource,
                weightInit: Initializer = .pytorchDefault, recurrentInit: Initializer = .pytorchDefault,
                biasInit: Initializer = .pytorchDefault) throws {
        try super.init(cell: .lstm, inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, projSize: projSize,
                       dropout: dropout,
                       bidirectional: bidirectional, batchFirst: batchFirst,
                       on: backend, rng: rng, weightInit: weightInit, recurrentInit: recurrentInit, biasInit: biasInit)
    }
}

/// Gated recurrent unit (Cho et al. 2014), PyTorch's `nn.GRU`: gates r, z, n, reset after the recurrent product.
public final class GRU: RecurrentNetwork {
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, dropout: Float = 0,
                bidirectional: Bool = false, batchFirst: Bool = false,
                on backend: any Backend, rng: RandomSource,
                weightInit: Initializer = .pytorchDefault, recurrentInit: Initializer = .pytorchDefault,
                biasInit: Initializer = .pytorchDefault) throws {
        try super.init(cell: .gru, inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, dropout: dropout,
                       bidirectional: bidirectional, batchFirst: batchFirst,
                       on: backend, rng: rng, weightInit: weightInit, recurrentInit: recurrentInit, biasInit: biasInit)
    }
}

/// Elman RNN, PyTorch's `nn.RNN`, with tanh (default) or ReLU.
public final class RNN: RecurrentNetwork {
    /// The nonlinearity PyTorch calls `nonlinearity`.
    public enum Nonlinearity: String, Sendable { case tanh, relu }

    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, nonlinearity: Nonlinearity = .tanh, dropout: Float = 0,
                bidirectional: Bool = false, batchFirst: Bool = false,
                on backend: any Backend, rng: RandomSource,
                weightInit: Initializer = .pytorchDefault, recurrentInit: Initializer = .pytorchDefault,
                biasInit: Initializer = .pytorchDefault) throws {
        try super.init(cell: nonlinearity == .tanh ? .rnnTanh : .rnnRelu, inputSize: inputSize, hiddenSize: hiddenSize,
                       numLayers: numLayers, dropout: dropout, bidirectional: bidirectional, batchFirst: batchFirst,
                       on: backend, rng: rng, weightInit: weightInit, recurrentInit: recurrentInit, biasInit: biasInit)
    }
}
