// The decoder of an attention encoder–decoder (Luong et al., 2015, global attention): per output
// step, embed the previous token, advance a cell, attend with the new hidden state over the
// encoder outputs, and map [hidden; context] to logits. Teacher forcing for training, greedy
// decoding for inference. B = batch, V = output vocabulary, E = embedding size, H = hidden size,
// D = encoder output size, T = encoder steps, S = decoder steps.

/// A recurrent decoder with attention over an encoded sequence batch. Each step:
///
/// ```text
/// e = embedding(token)                      (B, E)
/// h, c = cell(e, (h, c))                    (B, H)   LSTMCell, GRUCell or RNNCell
/// context, w = attention(h, memory)         (B, D), (T, B)
/// logits = output([h; context])             (B, V)
/// ```
///
/// Train with `teacherForcing` (the decoder reads the true previous tokens) on a `Tape`, decode
/// with `greedyDecode` (it reads its own most likely token). The parameters are named as a PyTorch
/// module with the attributes `embedding`, `cell`, `attention` and `output` would name them
/// (`cell.weight_ih`, `output.weight`, …).
public final class AttentionDecoder: Module {
    /// The output tokens' vectors (V, E).
    public let embedding: Embedding
    /// One step of the recurrence, input E, hidden H.
    public let cell: RecurrentCellModule
    /// The hidden state's attention over the encoder outputs.
    public let attention: CrossAttention
    /// [hidden; context] (H + D) → logits (V).
    public let output: Linear
    /// Training mode (no layer of the decoder behaves differently).
    public var isTraining = true

    /// A decoder with freshly initialised layers (PyTorch's defaults), drawn from `rng` in the order
    /// embedding, cell, attention, output.
    /// - Parameters:
    ///   - vocabularySize: V, the output tokens (indices 0..<V).
    ///   - embeddingSize: E, the size of each token's vector.
    ///   - hiddenSize: H, the cell's hidden size (the attention's query size).
    ///   - encoderSize: D, the size of each encoder output.
    ///   - cell: `.lstm` (default), `.gru`, `.rnnTanh` or `.rnnRelu`.
    ///   - score: How the attention scores a step (default Bahdanau's additive score of size H).
    ///   - backend: The device the parameters live on.
    ///   - rng: Source of the initial values.
    public init(vocabularySize: Int, embeddingSize: Int, hiddenSize: Int, encoderSize: Int, cell: RecurrentCell = .lstm,
                score: CrossAttention.Score? = nil, on backend: any Backend, rng: RandomSource) throws {
        embedding = try Embedding(vocabularySize, embeddingSize, on: backend, rng: rng)
        switch cell {
        case .lstm: self.cell = try LSTMCell(inputSize: embeddingSize, hiddenSize: hiddenSize, on: backend, rng: rng)
        case .gru: self.cell = try GRUCell(inputSize: embeddingSize, hiddenSize: hiddenSize, on: backend, rng: rng)
        case .rnnTanh, .rnnRelu:
            self.cell = try RNNCell(inputSize: embeddingSize, hiddenSize: hiddenSize, nonlinearity: cell == .rnnTanh ? .tanh : .relu,
                                    on: backend, rng: rng)
        }
        attention = try CrossAttention(querySize: hiddenSize, keySize: encoderSize, score: score ?? .additive(attentionSize: hiddenSize),
                                       on: backend, rng: rng)
        output = try Linear(hiddenSize + encoderSize, vocabularySize, on: backend, rng: rng)
    }

    /// V: the output tokens.
    public var vocabularySize: Int { output.outputSize }

    /// `embedding.weight`, `cell.*`, `attention.*`, `output.weight`, `output.bias`.
    public var namedParameters: [(name: String, parameter: Parameter)] {
        let parts: [(String, any Module)] = [("embedding", embedding), ("cell", cell), ("attention", attention), ("output", output)]
        return parts.flatMap { prefix, module in module.namedParameters.map { (name: "\(prefix).\($0.name)", parameter: $0.parameter) } }
    }

    /// The decoder's first state from an encoder's final states (L·D, B, H): the last layer's h
    /// (and c), as (B, H) each. The encoder must be unidirectional with the decoder's hidden size.
    /// Recorded on `tape` when given, so the encoder's final states receive their gradient.
    public func initialState(from encoder: RecurrentState, tape: Tape? = nil) throws -> RecurrentState {
        let h = cell.hiddenSize
        guard encoder.hidden.rank == 3, encoder.hidden.shape[2] == h, (encoder.cell != nil) == cell.cell.hasCellState else {
            throw RecurrentError.shapeMismatch(operation: "AttentionDecoder initial state",
                                               expected: "encoder states (L, B, \(h))\(cell.cell.hasCellState ? " with a cell state" : "")",
                                               got: "hidden \(encoder.hidden.shape), cell \(encoder.cell.map { "\($0.shape)" } ?? "none")")
        }
        return RecurrentState(hidden: try lastLayer(encoder.hidden, tape: tape), cell: try encoder.cell.map { try lastLayer($0, tape: tape) })
    }

    /// One decoder step: the previous tokens (B) as indices, the state (h, c) each (B, H) (nil: zeros).
    /// Returns the logits (B, V), the new state, and the attention weights (T, B).
    public func step(_ tokens: Tensor, state: RecurrentState?, memory: AttentionMemory,
                     tape: Tape? = nil) throws -> (logits: Tensor, state: RecurrentState, weights: Tensor) {
        let (hidden, context, next, weights) = try advance(tokens, state: state, memory: memory, tape: tape)
        return (try output(concatenating: [hidden, context], tape: tape), next, weights)
    }

    /// Teacher forcing: runs the decoder over the true previous tokens `inputs` (S, B), usually the
    /// targets shifted right behind a start token, and returns the logits (S, B, V) for a
    /// `CrossEntropyLoss` against the targets (S, B) (pad them with −100), and the attention
    /// weights (S, T, B). Recorded on `tape` when given.
    public func teacherForcing(_ inputs: Tensor, memory: AttentionMemory, initialState: RecurrentState?,
                               tape: Tape? = nil) throws -> (logits: Tensor, weights: Tensor) {
        guard inputs.rank == 2, inputs.shape[1] == memory.batchSize, inputs.shape[0] >= 1 else {
            throw RecurrentError.shapeMismatch(operation: "AttentionDecoder.teacherForcing", expected: "input tokens (S, \(memory.batchSize))",
                                               got: "shape \(inputs.shape)")
        }
        let backend = output.weight.value.backend
        let s = inputs.shape[0]
        var state = initialState
        var hiddens: [Tensor] = [], contexts: [Tensor] = []
        let weights = try Tensor.empty([s, memory.steps, memory.batchSize], on: backend)        // (S, T, B)
        for step in 0..<s {
            let (hidden, context, next, w) = try advance(inputs.row(step), state: state, memory: memory, tape: tape)
            hiddens.append(hidden)
            contexts.append(context)
            try backend.copy(w, to: weights.row(step))
            state = next
        }
        // One product over all steps: [h; context] (S·B, H + D) → (S, B, V).
        let logits = try output(concatenating: [stack(hiddens, tape: tape), stack(contexts, tape: tape)], tape: tape)
        return (logits, weights)
    }

    /// Greedy decoding without a tape: from `start` (the start token of every sequence), each step
    /// feeds the most likely token of the last one back, for at most `steps` steps; decoding stops
    /// early once every sequence has produced `endToken` (when given). Returns each sequence's tokens
    /// (up to, not including, its end token) and the weights (S, T, B) of the steps run.
    public func greedyDecode(memory: AttentionMemory, initialState: RecurrentState?, start: Int, steps: Int,
                             endToken: Int? = nil) throws -> (tokens: [[Int]], weights: Tensor) {
        guard steps >= 1 else { throw RecurrentError.invalidArgument(name: "greedyDecode steps", expected: "at least 1", got: "\(steps)") }
        for (name, token) in [("start", start), ("end", endToken ?? 0)] where !(0..<vocabularySize).contains(token) {
            throw RecurrentError.invalidArgument(name: "greedyDecode \(name) token", expected: "an index in 0..<\(vocabularySize)",
                                                 got: "\(token)")
        }
        let backend = output.weight.value.backend
        let (b, v) = (memory.batchSize, vocabularySize)
        var tokens = [Int](repeating: start, count: b)
        var decoded = [[Int]](repeating: [], count: b), ended = [Bool](repeating: false, count: b)
        var state = initialState
        var stepWeights: [Tensor] = []
        for _ in 0..<steps {
            let (logits, next, w) = try step(Tensor(shape: [b], indices: tokens, on: backend), state: state, memory: memory)
            state = next
            stepWeights.append(w)
            let values = try logits.toArray()                                                    // (B, V)
            for column in 0..<b {
                let row = values[(column * v)..<((column + 1) * v)]
                tokens[column] = row.indices.max { row[$0] < row[$1] }.map { $0 - column * v } ?? 0
                if tokens[column] == endToken { ended[column] = true }
                if !ended[column] { decoded[column].append(tokens[column]) }
            }
            if endToken != nil, ended.allSatisfy({ $0 }) { break }
        }
        return (decoded, try stack(stepWeights, tape: nil))
    }

    /// One step up to the attention: embedding, cell, attention. Returns h (B, H), the context (B, D),
    /// the new state and the weights (T, B).
    private func advance(_ tokens: Tensor, state: RecurrentState?, memory: AttentionMemory,
                         tape: Tape?) throws -> (hidden: Tensor, context: Tensor, state: RecurrentState, weights: Tensor) {
        guard tokens.count == memory.batchSize else {
            throw RecurrentError.shapeMismatch(operation: "AttentionDecoder tokens", expected: "one token per sequence (\(memory.batchSize))",
                                               got: "shape \(tokens.shape)")
        }
        let embedded = try embedding.forward(.tensor(tokens.reshaped([memory.batchSize])), tape: tape).data   // (B, E)
        let next = try cell.advance(embedded, hidden: state?.hidden, cellState: state?.cell, tape: tape)
        let (context, weights) = try attention(next.hidden, memory: memory, tape: tape)
        return (next.hidden, context, RecurrentState(hidden: next.hidden, cell: next.cell), weights)
    }

    /// The last layer (B, H) of states (L, B, H); a copy recorded on `tape` unless L = 1 (then the
    /// same elements, which the tape already knows).
    private func lastLayer(_ states: Tensor, tape: Tape?) throws -> Tensor {
        let (l, b, h) = (states.shape[0], states.shape[1], states.shape[2])
        guard l > 1 else { return try states.reshaped([b, h]) }
        let last = try states.row(l - 1).copy()
        try tape?.record(inputs: [states], outputs: [last]) { gradOutputs, _ in
            guard let gradLast = gradOutputs[0] else { return [nil] }
            let gradStates = try Tensor.zeros([l, b, h], on: states.backend)
            try states.backend.copy(gradLast, to: gradStates.row(l - 1))
            return [gradStates]
        }
        return last
    }
}

/// Tensors of one shape stacked along a new first dimension, (n, …); recorded on `tape` when given
/// (each part's gradient is its row of the stack's).
func stack(_ parts: [Tensor], tape: Tape?) throws -> Tensor {
    guard let first = parts.first, parts.allSatisfy({ $0.shape == first.shape }) else {
        throw RecurrentError.shapeMismatch(operation: "stack", expected: "tensors of one shape", got: "shapes \(parts.map(\.shape))")
    }
    let out = try Tensor.empty([parts.count] + first.shape, on: first.backend)
    for (index, part) in parts.enumerated() { try first.backend.copy(part, to: out.row(index)) }
    try tape?.record(inputs: parts, outputs: [out]) { gradOutputs, needs in
        guard let gradOut = gradOutputs[0] else { return [Tensor?](repeating: nil, count: parts.count) }
        return try parts.indices.map { needs[$0] ? try gradOut.row($0) : nil }
    }
    return out
}
