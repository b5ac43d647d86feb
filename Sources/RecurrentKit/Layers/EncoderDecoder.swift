// A sequence-to-sequence model: an embedding and a recurrent encoder over the source tokens, and
// an attention decoder started from the encoder's final states. S = decoder steps, B = batch,
// T = source steps, V = target vocabulary, E = embedding size, H = hidden size.

/// An attention encoder–decoder for token sequences (the shape of PyTorch's seq2seq tutorial):
/// `encoder_embedding` (source tokens → E), a unidirectional `encoder` stack (E → H) over the
/// source batch with its lengths, and an `AttentionDecoder` that starts from the encoder's last
/// layer's final states and attends over the encoder outputs, their padding masked.
///
/// ```swift
/// let model = try EncoderDecoder(sourceVocabularySize: 12, targetVocabularySize: 12, embeddingSize: 32,
///                                hiddenSize: 64, on: backend, rng: rng)
/// let tape = Tape()
/// let (logits, _) = try model.teacherForcing(source: source, inputs: shiftedTargets, tape: tape)   // (S, B, V)
/// let loss = try MaskedLoss(CrossEntropyLoss())
/// let value = try loss.forward(SequenceBatch(logits, lengths: targetLengths), targets)
/// try tape.backward(logits, gradient: loss.backward())
/// let (tokens, weights) = try model.greedyDecode(source: source, start: 0, steps: 10)
/// ```
public final class EncoderDecoder: Module {
    /// The source tokens' vectors (source vocabulary, E).
    public let sourceEmbedding: Embedding
    /// The recurrent stack over the embedded source.
    public let encoder: RecurrentNetwork
    /// The attention decoder.
    public let decoder: AttentionDecoder
    /// Training mode: passed to the encoder (dropout between its layers).
    public var isTraining = true {
        didSet { encoder.isTraining = isTraining }
    }

    /// A model with freshly initialised layers (PyTorch's defaults), drawn from `rng` in the order
    /// source embedding, encoder, decoder.
    /// - Parameters:
    ///   - sourceVocabularySize: Source tokens (indices 0..<it).
    ///   - targetVocabularySize: V, target tokens.
    ///   - embeddingSize: E, for both embeddings.
    ///   - hiddenSize: H, of the encoder and the decoder's cell.
    ///   - numLayers: Encoder layers (the decoder starts from the last one's states).
    ///   - cell: `.lstm` (default), `.gru`, `.rnnTanh` or `.rnnRelu`, for encoder and decoder.
    ///   - score: The decoder's attention score (default Bahdanau's additive score of size H).
    ///   - backend: The device the parameters live on.
    ///   - rng: Source of the initial values.
    public init(sourceVocabularySize: Int, targetVocabularySize: Int, embeddingSize: Int, hiddenSize: Int, numLayers: Int = 1,
                cell: RecurrentCell = .lstm, score: CrossAttention.Score? = nil, on backend: any Backend, rng: RandomSource) throws {
        sourceEmbedding = try Embedding(sourceVocabularySize, embeddingSize, on: backend, rng: rng)
        switch cell {
        case .lstm: encoder = try LSTM(inputSize: embeddingSize, hiddenSize: hiddenSize, numLayers: numLayers, on: backend, rng: rng)
        case .gru: encoder = try GRU(inputSize: embeddingSize, hiddenSize: hiddenSize, numLayers: numLayers, on: backend, rng: rng)
        case .rnnTanh, .rnnRelu:
            encoder = try RNN(inputSize: embeddingSize, hiddenSize: hiddenSize, numLayers: numLayers,
                              nonlinearity: cell == .rnnTanh ? .tanh : .relu, on: backend, rng: rng)
        }
        decoder = try AttentionDecoder(vocabularySize: targetVocabularySize, embeddingSize: embeddingSize, hiddenSize: hiddenSize,
                                       encoderSize: hiddenSize, cell: cell, score: score, on: backend, rng: rng)
    }

    /// `encoder_embedding.weight`, `encoder.*` (PyTorch's `nn.LSTM` names), `decoder.*`.
    public var namedParameters: [(name: String, parameter: Parameter)] {
        let parts: [(String, any Module)] = [("encoder_embedding", sourceEmbedding), ("encoder", encoder), ("decoder", decoder)]
        return parts.flatMap { prefix, module in module.namedParameters.map { (name: "\(prefix).\($0.name)", parameter: $0.parameter) } }
    }

    /// Dropout streams of the encoder.
    public var randomState: [String: UInt64] {
        get { encoder.randomState }
        set { encoder.randomState = newValue }
    }

    /// Encodes a source batch of token indices (T, B) or (B, T) with its lengths: the attention
    /// memory over the encoder outputs and the decoder's first state. Recorded on `tape` when given.
    public func encode(_ source: SequenceBatch, tape: Tape? = nil) throws -> (memory: AttentionMemory, state: RecurrentState) {
        guard source.data.rank == 2 else {
            throw RecurrentError.shapeMismatch(operation: "EncoderDecoder source", expected: "token indices (T, B) or (B, T)",
                                               got: "shape \(source.data.shape)")
        }
        let embedded = try sourceEmbedding.forward(.sequence(source), tape: tape).data       // (T, B, E) or (B, T, E)
        let encoded = try encoder(SequenceBatch(sameAs: source, data: embedded), tape: tape)
        let memory = try decoder.attention.memory(encoded.output, tape: tape)
        return (memory, try decoder.initialState(from: encoded.state, tape: tape))
    }

    /// Teacher forcing: encodes `source` and runs the decoder over the true previous tokens `inputs`
    /// (S, B). Returns the logits (S, B, V) and the attention weights (S, T, B).
    public func teacherForcing(source: SequenceBatch, inputs: Tensor, tape: Tape? = nil) throws -> (logits: Tensor, weights: Tensor) {
        let (memory, state) = try encode(source, tape: tape)
        return try decoder.teacherForcing(inputs, memory: memory, initialState: state, tape: tape)
    }

    /// Greedy decoding without a tape (see `AttentionDecoder.greedyDecode`): each sequence's tokens
    /// and the weights (S, T, B).
    public func greedyDecode(source: SequenceBatch, start: Int, steps: Int, endToken: Int? = nil) throws -> (tokens: [[Int]], weights: Tensor) {
        let (memory, state) = try encode(source)
        return try decoder.greedyDecode(memory: memory, initialState: state, start: start, steps: steps, endToken: endToken)
    }
}
