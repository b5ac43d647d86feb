// Stacked recurrent layers over the backend's whole-layer ops.
// T = time steps, B = batch, I = input size, H = hidden size, L = layers, G = gates.

/// The states between batches or returned by a recurrent stack: h (L, B, H) and, for LSTM, c (L, B, H).
public struct RecurrentState: Sendable {
    /// (L, B, H)
    public var hidden: Tensor
    /// (L, B, H) for LSTM, nil otherwise.
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
    /// (T, B, H)
    public var output: Tensor
    /// Final states of every layer.
    public var state: RecurrentState
}

/// The parameters of one layer of a recurrent stack, PyTorch's names with suffix `_l{k}`.
public struct RecurrentLayerParameters {
    /// `weight_ih_l{k}` (G·H, in), `weight_hh_l{k}` (G·H, H), `bias_ih_l{k}`, `bias_hh_l{k}` (G·H).
    public let weightIH: Parameter, weightHH: Parameter, biasIH: Parameter, biasHH: Parameter

    var values: RecurrentWeights {
        RecurrentWeights(weightIH: weightIH.value, weightHH: weightHH.value, biasIH: biasIH.value, biasHH: biasHH.value)
    }
    var gradients: RecurrentWeights {
        RecurrentWeights(weightIH: weightIH.gradient, weightHH: weightHH.gradient, biasIH: biasIH.gradient, biasHH: biasHH.gradient)
    }
}

/// A stack of recurrent layers with PyTorch's equations, weight names and layouts; the base of
/// `RNN`, `LSTM` and `GRU`. Input (T, B, I), output (T, B, H), states (L, B, H).
public class RecurrentNetwork: Layer {
    public let cell: RecurrentCell
    public let inputSize: Int, hiddenSize: Int, numLayers: Int
    /// Dropout on the outputs of every layer but the last (training mode only), as PyTorch.
    public let dropout: Float
    public var isTraining = true
    public var needsInputGradient = true
    /// Per-layer parameters, layer 0 first.
    public let layerParameters: [RecurrentLayerParameters]
    /// Initial states `forward(_:)` starts from (for example the detached final states of the
    /// previous window); nil means zeros.
    public var initialState: RecurrentState?
    /// Final states of the last forward pass.
    public private(set) var finalState: RecurrentState?

    let backend: any Backend
    private let dropoutSite: DropoutSite

    /// What backward needs from the last forward, per layer.
    private struct LayerCache {
        var input: Tensor, output: Tensor, reserve: Tensor
        var dropoutMask: Tensor?   // applied to this layer's input (layers ≥ 1)
    }
    private var cache: [LayerCache] = []
    private var cachedShape: (t: Int, b: Int)?
    private var cachedInitialState: RecurrentState?

    /// - Parameters:
    ///   - weightInit: for `weight_ih`; `recurrentInit`: for `weight_hh`; `biasInit`: for both biases.
    ///     PyTorch's default draws all of them from U(−1/√H, 1/√H). Xavier and orthogonal treat each
    ///     gate's (H, ·) block as its own matrix.
    init(cell: RecurrentCell, inputSize: Int, hiddenSize: Int, numLayers: Int, dropout: Float,
         on backend: any Backend, rng: RandomSource,
         weightInit: Initializer, recurrentInit: Initializer, biasInit: Initializer) throws {
        for (name, v) in [("input size", inputSize), ("hidden size", hiddenSize), ("number of layers", numLayers)] where v < 1 {
            throw RecurrentError.invalidArgument(name: name, expected: "at least 1", got: "\(v)")
        }
        try DropoutSite.validate(dropout)
        self.cell = cell
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.numLayers = numLayers
        self.dropout = dropout
        self.backend = backend
        let g = cell.gateCount, h = hiddenSize
        let bound = 1 / Float(h).squareRoot()
        func make(_ shape: [Int], _ initializer: Initializer) throws -> Parameter {
            var stream = rng.makeStream()
            let values = initializer.values(shape: shape, blocks: g, defaultBound: bound, stream: &stream)
            return try Parameter(Tensor(shape: shape, values: values, on: backend))
        }
        layerParameters = try (0..<numLayers).map { layer in
            let input = layer == 0 ? inputSize : h
            return RecurrentLayerParameters(
                weightIH: try make([g * h, input], weightInit), weightHH: try make([g * h, h], recurrentInit),
                biasIH: try make([g * h], biasInit), biasHH: try make([g * h], biasInit))
        }
        dropoutSite = DropoutSite(rng: rng)
    }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        layerParameters.enumerated().flatMap { k, p in
            [("weight_ih_l\(k)", p.weightIH), ("weight_hh_l\(k)", p.weightHH),
             ("bias_ih_l\(k)", p.biasIH), ("bias_hh_l\(k)", p.biasHH)].map { (name: $0.0, parameter: $0.1) }
        }
    }

    public var randomState: [String: UInt64] {
        get { dropout > 0 && numLayers > 1 ? dropoutSite.state("dropout") : [:] }
        set { dropoutSite.restore(newValue, "dropout") }
    }

    /// Runs the stack from `initialState` and returns the top layer's outputs (T, B, H);
    /// the final states are in `finalState`.
    public func forward(_ input: Tensor) throws -> Tensor {
        try forward(input, initialState: initialState).output
    }

    /// Runs the stack from `initialState` (nil: zeros): outputs (T, B, H) and final states (L, B, H).
    public func forward(_ input: Tensor, initialState: RecurrentState?) throws -> RecurrentOutput {
        guard input.rank == 3, input.shape[2] == inputSize, input.shape[0] > 0, input.shape[1] > 0 else {
            throw RecurrentError.shapeMismatch(operation: "\(cell.rawValue) forward", expected: "input (T, B, \(inputSize)) with T, B ≥ 1",
                                               got: "shape \(input.shape)")
        }
        try backend.checkDevice(input, "\(cell.rawValue) forward input")
        let (t, b, h, l) = (input.shape[0], input.shape[1], hiddenSize, numLayers)
        try validate(initialState, batch: b)
        releaseStepMemory()
        finalState = nil   // its buffers return to the cache unless the caller still holds them

        let hidden = try Tensor.empty([l, b, h], on: backend)                                      // (L, B, H)
        let cellState = cell.hasCellState ? try Tensor.empty([l, b, h], on: backend) : nil       // (L, B, H)
        var caches: [LayerCache] = []
        var x = input
        for k in 0..<l {
            var mask: Tensor? = nil
            if k > 0, isTraining, dropout > 0 {
                let (dropped, m) = try dropoutSite.apply(x, probability: dropout)
                x = dropped
                mask = m
            }
            let shape = layerShape(k, t: t, b: b)
            let output = try Tensor.empty([t, b, h], on: backend)
            let reserve = try Tensor.empty([shape.reserveCount], on: backend)
            try backend.recurrentForward(
                RecurrentForwardIO(output: output, finalHidden: hidden.row(k), finalCell: cellState?.row(k), reserve: reserve,
                                   input: x, initialHidden: initialState?.hidden.row(k), initialCell: initialState?.cell?.row(k)),
                layerParameters[k].values, shape)
            caches.append(LayerCache(input: x, output: output, reserve: reserve, dropoutMask: mask))
            x = output
        }
        cache = caches
        cachedShape = (t, b)
        cachedInitialState = initialState
        let state = RecurrentState(hidden: hidden, cell: cellState)
        finalState = state
        return RecurrentOutput(output: x, state: state)
    }

    /// Backward from the gradient of the outputs alone (the final states do not reach the loss).
    public func backward(_ gradOutput: Tensor) throws -> Tensor? {
        try backward(gradOutput: gradOutput, gradState: nil).input
    }

    /// Backward from the gradients of the outputs (T, B, H) and of the final states (L, B, H);
    /// either may be nil (zero). Accumulates parameter gradients; returns the input gradient
    /// (T, B, I) unless `needsInputGradient` is off and, when the forward pass had an initial state, its gradient.
    public func backward(gradOutput: Tensor?, gradState: RecurrentState?) throws -> (input: Tensor?, state: RecurrentState?) {
        guard let (t, b) = cachedShape, cache.count == numLayers else {
            throw RecurrentError.invalidState("\(cell.rawValue) backward called before forward")
        }
        let (h, l) = (hiddenSize, numLayers)
        if let gradOutput {
            try RecurrentError.check("\(cell.rawValue) backward grad output (T, B, H)", shape: gradOutput.shape, equals: [t, b, h])
        }
        try validate(gradState, batch: b, what: "gradient of the final state")
        let initial = cachedInitialState
        let gradHidden = initial != nil ? try Tensor.empty([l, b, h], on: backend) : nil
        let gradCell = initial?.cell != nil ? try Tensor.empty([l, b, h], on: backend) : nil

        var g = gradOutput
        var gradInput: Tensor? = nil
        for k in stride(from: l - 1, through: 0, by: -1) {
            let c = cache[k]
            let dx = k > 0 || needsInputGradient ? try Tensor.empty(c.input.shape, on: backend) : nil
            try backend.recurrentBackward(
                RecurrentBackwardIO(gradInput: dx, gradInitialHidden: gradHidden?.row(k), gradInitialCell: gradCell?.row(k),
                                    gradOutput: g, gradFinalHidden: gradState?.hidden.row(k), gradFinalCell: gradState?.cell?.row(k),
                                    input: c.input, output: c.output,
                                    initialHidden: initial?.hidden.row(k), initialCell: initial?.cell?.row(k), reserve: c.reserve),
                layerParameters[k].values, layerParameters[k].gradients, layerShape(k, t: t, b: b))
            if let dx, let mask = c.dropoutMask { gradInput = try DropoutSite.backward(dx, mask: mask) } else { gradInput = dx }
            g = gradInput
        }
        let stateGradient = gradHidden.map { RecurrentState(hidden: $0, cell: gradCell) }
        releaseStepMemory()
        return (gradInput, stateGradient)
    }

    /// Drops what backward needed (as PyTorch frees the graph), so the next step reuses the memory.
    private func releaseStepMemory() {
        cache = []
        cachedShape = nil
        cachedInitialState = nil
    }

    private func layerShape(_ k: Int, t: Int, b: Int) -> RecurrentLayerShape {
        RecurrentLayerShape(cell: cell, sequenceLength: t, batchSize: b, inputSize: k == 0 ? inputSize : hiddenSize,
                            hiddenSize: hiddenSize)
    }

    private func validate(_ state: RecurrentState?, batch b: Int, what: String = "initial state") throws {
        guard let state else { return }
        let expected = [numLayers, b, hiddenSize]
        try RecurrentError.check("\(cell.rawValue) \(what) hidden (L, B, H)", shape: state.hidden.shape, equals: expected)
        try backend.checkDevice(state.hidden, "\(cell.rawValue) \(what)")
        if let c = state.cell {
            guard cell.hasCellState else {
                throw RecurrentError.invalidArgument(name: "\(what) cell", expected: "nil for \(cell.rawValue)", got: "shape \(c.shape)")
            }
            try RecurrentError.check("\(cell.rawValue) \(what) cell (L, B, H)", shape: c.shape, equals: expected)
            try backend.checkDevice(c, "\(cell.rawValue) \(what)")
        }
    }
}

/// Long short-term memory (Hochreiter & Schmidhuber 1997), PyTorch's `nn.LSTM` with gates i, f, g, o.
public final class LSTM: RecurrentNetwork {
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, dropout: Float = 0,
                on backend: any Backend, rng: RandomSource,
                weightInit: Initializer = .pytorchDefault, recurrentInit: Initializer = .pytorchDefault,
                biasInit: Initializer = .pytorchDefault) throws {
        try super.init(cell: .lstm, inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, dropout: dropout,
                       on: backend, rng: rng, weightInit: weightInit, recurrentInit: recurrentInit, biasInit: biasInit)
    }
}

/// Gated recurrent unit (Cho et al. 2014), PyTorch's `nn.GRU`: gates r, z, n, reset after the recurrent product.
public final class GRU: RecurrentNetwork {
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, dropout: Float = 0,
                on backend: any Backend, rng: RandomSource,
                weightInit: Initializer = .pytorchDefault, recurrentInit: Initializer = .pytorchDefault,
                biasInit: Initializer = .pytorchDefault) throws {
        try super.init(cell: .gru, inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, dropout: dropout,
                       on: backend, rng: rng, weightInit: weightInit, recurrentInit: recurrentInit, biasInit: biasInit)
    }
}

/// Elman RNN, PyTorch's `nn.RNN`, with tanh (default) or ReLU.
public final class RNN: RecurrentNetwork {
    /// The nonlinearity PyTorch calls `nonlinearity`.
    public enum Nonlinearity: String, Sendable { case tanh, relu }

    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, nonlinearity: Nonlinearity = .tanh, dropout: Float = 0,
                on backend: any Backend, rng: RandomSource,
                weightInit: Initializer = .pytorchDefault, recurrentInit: Initializer = .pytorchDefault,
                biasInit: Initializer = .pytorchDefault) throws {
        try super.init(cell: nonlinearity == .tanh ? .rnnTanh : .rnnRelu, inputSize: inputSize, hiddenSize: hiddenSize,
                       numLayers: numLayers, dropout: dropout, on: backend, rng: rng,
                       weightInit: weightInit, recurrentInit: recurrentInit, biasInit: biasInit)
    }
}
