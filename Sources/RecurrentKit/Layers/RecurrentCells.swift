// Single recurrent cells, one step per call (PyTorch's nn.LSTMCell, nn.GRUCell, nn.RNNCell):
// for decoders and hand-written loops. A call is the whole-layer op over one step, so a cell
// gives exactly what a one-layer stack gives step by step.
// B = batch, I = input size, H = hidden size, G = gates.

/// What the three cells share: PyTorch's parameters `weight_ih` (G·H, I), `weight_hh` (G·H, H),
/// `bias_ih`, `bias_hh` (G·H), and one step of the cell, recorded on a tape when given one.
/// A cell may be called any number of times per step (a decoder loop, weight sharing): its
/// gradients add up.
public class RecurrentCellModule: Module {
    public let cell: RecurrentCell
    public let inputSize: Int, hiddenSize: Int
    /// `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`.
    public let weights: RecurrentLayerParameters
    /// Cells have no dropout; the flag is kept for `Module`.
    public var isTraining = true
    let backend: any Backend

    init(cell: RecurrentCell, inputSize: Int, hiddenSize: Int, on backend: any Backend, rng: RandomSource,
         weightInit: Initializer, recurrentInit: Initializer, biasInit: Initializer) throws {
        for (name, v) in [("cell input size", inputSize), ("cell hidden size", hiddenSize)] where v < 1 {
            throw RecurrentError.invalidArgument(name: name, expected: "at least 1", got: "\(v)")
        }
        self.cell = cell
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.backend = backend
        weights = try RecurrentLayerParameters(cell: cell, input: inputSize, hiddenSize: hiddenSize, projSize: 0, on: backend, rng: rng,
                                                  weightInit: weightInit, recurrentInit: recurrentInit, biasInit: biasInit)
    }

    public var namedParameters: [(name: String, parameter: Parameter)] { weights.named("") }

    /// One step from x (B, I), h (B, H) and, for LSTM, c (B, H) (nil: zeros) to the new h and c.
    func advance(_ x: Tensor, hidden: Tensor?, cellState: Tensor?, tape: Tape?) throws -> (hidden: Tensor, cell: Tensor?) {
        let name = cell.rawValue + " cell"
        guard x.rank == 2, x.shape[1] == inputSize, x.shape[0] >= 1 else {
            throw RecurrentError.shapeMismatch(operation: name, expected: "input (B, \(inputSize))", got: "shape \(x.shape)")
        }
        let b = x.shape[0], h = hiddenSize
        try backend.checkDevice(x, "\(name) input")
        for (what, state) in [("hidden", hidden), ("cell", cellState)] {
            guard let state else { continue }
            try RecurrentError.check("\(name) \(what) state (B, H)", shape: state.shape, equals: [b, h])
            try backend.checkDevice(state, "\(name) \(what) state")
        }
        let shape = RecurrentLayerShape(cell: cell, sequenceLength: 1, batchSize: b, inputSize: inputSize, hiddenSize: h)
        let mode: RecurrentForwardMode = tape == nil ? .inference : .training
        let newHidden = try Tensor.empty([b, h], on: backend)                                // (B, H): the step's output
        let newCell = cell.hasCellState ? try Tensor.empty([b, h], on: backend) : nil        // (B, H)
        let reserve = try Tensor.empty([shape.reserveCount(mode)], on: backend)
        try backend.recurrentForward(
            RecurrentForwardIO(output: newHidden, finalCell: newCell, reserve: reserve, input: x, initialHidden: hidden,
                               initialCell: cellState, mode: mode),
            weights.values, shape)
        try tape?.record(inputs: [x, hidden, cellState], outputs: [newHidden, newCell]) { [weights, backend, inputSize] gradOutputs, needs in
            let gradInput = needs[0] ? try Tensor.empty([b, inputSize], on: backend) : nil
            let wantState = hidden != nil && (needs[1] || needs[2])
            let gradHidden = wantState ? try Tensor.empty([b, h], on: backend) : nil
            let gradCell = wantState && cellState != nil ? try Tensor.empty([b, h], on: backend) : nil
            try backend.recurrentBackward(
                RecurrentBackwardIO(gradInput: gradInput, gradInitialHidden: gradHidden, gradInitialCell: gradCell,
                                    gradOutput: gradOutputs[0], gradFinalCell: gradOutputs[1], input: x, output: newHidden,
                                    initialHidden: hidden, initialCell: cellState, reserve: reserve),
                weights.values, weights.gradients, shape)
            return [gradInput, gradHidden, gradCell]
        }
        return (newHidden, newCell)
    }
}

/// PyTorch's `nn.LSTMCell`: one LSTM step, gates i, f, g, o.
public final class LSTMCell: RecurrentCellModule {
    /// A cell with PyTorch's default initialisation, U(−1/√H, 1/√H) for every parameter.
    public init(inputSize: Int, hiddenSize: Int, on backend: any Backend, rng: RandomSource,
                weightInit: Initializer = .pytorchDefault, recurrentInit: Initializer = .pytorchDefault,
                biasInit: Initializer = .pytorchDefault) throws {
        try super.init(cell: .lstm, inputSize: inputSize, hiddenSize: hiddenSize, on: backend, rng: rng,
                       weightInit: weightInit, recurrentInit: recurrentInit, biasInit: biasInit)
    }

    /// One step: x (B, I) and the state (h, c), each (B, H) (nil: zeros), to the new (h, c).
    public func callAsFunction(_ x: Tensor, state: (hidden: Tensor, cell: Tensor)? = nil,
                               tape: Tape? = nil) throws -> (hidden: Tensor, cell: Tensor) {
        let next = try advance(x, hidden: state?.hidden, cellState: state?.cell, tape: tape)
        guard let c = next.cell else { throw RecurrentError.invalidState("LSTM cell step returned no cell state") }
        return (next.hidden, c)
    }
}

/// PyTorch's `nn.GRUCell`: one GRU step, gates r, z, n, reset after the recurrent product.
public final class GRUCell: RecurrentCellModule {
    /// A cell with PyTorch's default initialisation, U(−1/√H, 1/√H) for every parameter.
    public init(inputSize: Int, hiddenSize: Int, on backend: any Backend, rng: RandomSource,
                weightInit: Initializer = .pytorchDefault, recurrentInit: Initializer = .pytorchDefault,
                biasInit: Initializer = .pytorchDefault) throws {
        try super.init(cell: .gru, inputSize: inputSize, hiddenSize: hiddenSize, on: backend, rng: rng,
                       weightInit: weightInit, recurrentInit: recurrentInit, biasInit: biasInit)
    }

    /// One step: x (B, I) and h (B, H) (nil: zeros) to the new h (B, H).
    public func callAsFunction(_ x: Tensor, hidden: Tensor? = nil, tape: Tape? = nil) throws -> Tensor {
        try advance(x, hidden: hidden, cellState: nil, tape: tape).hidden
    }
}

/// PyTorch's `nn.RNNCell`: one Elman step, tanh (default) or ReLU.
public final class RNNCell: RecurrentCellModule {
    /// A cell with PyTorch's default initialisation, U(−1/√H, 1/√H) for every parameter.
    public init(inputSize: Int, hiddenSize: Int, nonlinearity: RNN.Nonlinearity = .tanh, on backend: any Backend, rng: RandomSource,
                weightInit: Initializer = .pytorchDefault, recurrentInit: Initializer = .pytorchDefault,
                biasInit: Initializer = .pytorchDefault) throws {
        try super.init(cell: nonlinearity == .tanh ? .rnnTanh : .rnnRelu, inputSize: inputSize, hiddenSize: hiddenSize, on: backend,
                       rng: rng, weightInit: weightInit, recurrentInit: recurrentInit, biasInit: biasInit)
    }

    /// One step: x (B, I) and h (B, H) (nil: zeros) to the new h (B, H).
    public func callAsFunction(_ x: Tensor, hidden: Tensor? = nil, tape: Tape? = nil) throws -> Tensor {
        try advance(x, hidden: hidden, cellState: nil, tape: tape).hidden
    }
}
