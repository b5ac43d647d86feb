// Attention over the outputs of a recurrent stack: scores per step, a masked softmax over time,
// and the weighted sum of the steps (dot-product or Bahdanau additive scoring).
// T = time steps, B = batch, D = feature size (the recurrent output width), A = attention size.

/// Attention pooling over time: a sequence batch of values (T, B, D) or (B, T, D), such as an
/// LSTM's outputs, becomes one context vector per sequence (B, D), `context[b] = Σ_t w[t, b]·values[t, b]`,
/// where the weights w (T, B) are a softmax over the real steps of each sequence of learned scores:
/// steps past a sequence's length (from the batch's lengths) get weight exactly 0.
///
/// Use it as a sequence-classification head in place of `LastTimeStep`:
/// `Sequential([("rnn", LSTM(...)), ("attention", Attention(featureSize: H, on: backend, rng: rng)), ("fc", Linear(H, C, ...))])`.
///
/// Scores: `.dotProduct` uses a learned query, `s[t, b] = values[t, b]·query / √D`; `.additive`
/// (Bahdanau et al., 2015) uses `s[t, b] = vector·tanh(weight·values[t, b] + bias)`.
public final class Attention: Layer {
    /// How steps are scored.
    public enum Kind: Sendable, Equatable, Hashable {
        /// `s = v·query / √D` with a learned query (D).
        case dotProduct
        /// `s = vector·tanh(weight·v + bias)` with weight (A, D), bias (A) and vector (A) (Bahdanau et al., 2015).
        case additive(attentionSize: Int)
    }

    /// The scoring function.
    public let kind: Kind
    /// D: the last dimension of the values this layer attends over.
    public let featureSize: Int
    /// Dot-product attention's query (D); nil for additive attention.
    public let query: Parameter?
    /// Additive attention's projection (A, D); nil for dot-product attention.
    public let weight: Parameter?
    /// Additive attention's bias (A); nil for dot-product attention.
    public let bias: Parameter?
    /// Additive attention's score vector (A); nil for dot-product attention.
    public let vector: Parameter?
    /// Training mode (this layer behaves the same either way).
    public var isTraining = true

    /// The attention weights (T, B) of the last call, for inspection: each column sums to 1 over
    /// its real steps and is 0 on padded ones.
    public private(set) var weights: Tensor?

    private let backend: any Backend
    /// Batch-major values into time-major rows and their gradients back.
    private let timeMajorRows: TimeMajorRows

    /// Creates an attention layer with freshly initialised parameters.
    /// - Parameters:
    ///   - featureSize: D, the size of each step's values (the recurrent layer's hidden size).
    ///   - kind: `.dotProduct` (default) or `.additive(attentionSize: A)`.
    ///   - backend: The device the parameters live on.
    ///   - rng: Source of the initial values, one stream per parameter (as `Linear`): query, or weight, bias
    ///     and vector, U(−1/√D, 1/√D) except the additive vector, U(−1/√A, 1/√A).
    public init(featureSize: Int, kind: Kind = .dotProduct, on backend: any Backend, rng: RandomSource) throws {
        guard featureSize >= 1 else {
            throw RecurrentError.invalidArgument(name: "Attention feature size", expected: "at least 1", got: "\(featureSize)")
        }
        self.kind = kind
        self.featureSize = featureSize
        self.backend = backend
        timeMajorRows = TimeMajorRows(on: backend)
        let bound = 1 / Float(featureSize).squareRoot()
        func uniform(_ shape: [Int], bound: Float) throws -> Parameter {
            var stream = rng.makeStream()
            return try Parameter(Tensor(shape: shape, values: stream.uniform(count: shape.reduce(1, *), low: -bound, high: bound),
                                        on: backend))
        }
        switch kind {
        case .dotProduct:
            query = try uniform([featureSize], bound: bound)
            weight = nil
            bias = nil
            vector = nil
        case .additive(let attentionSize):
            guard attentionSize >= 1 else {
                throw RecurrentError.invalidArgument(name: "Attention attention size", expected: "at least 1", got: "\(attentionSize)")
            }
            query = nil
            weight = try uniform([attentionSize, featureSize], bound: bound)
            bias = try uniform([attentionSize], bound: bound)
            vector = try uniform([attentionSize], bound: 1 / Float(attentionSize).squareRoot())
        }
    }

    /// `query` for dot-product attention; `weight`, `bias`, `vector` for additive attention.
    public var namedParameters: [(name: String, parameter: Parameter)] {
        [("query", query), ("weight", weight), ("bias", bias), ("vector", vector)].compactMap { name, parameter in
            parameter.map { (name: name, parameter: $0) }
        }
    }

    /// Attends over a sequence batch of values and returns the context (B, D) as a tensor.
    public func forward(_ input: LayerValue, tape: Tape?) throws -> LayerValue {
        .tensor(try callAsFunction(try input.requireSequence("Attention"), tape: tape).context)
    }

    /// Attends over values (T, B, D) or (B, T, D), masking each sequence's padded steps; returns the
    /// context (B, D) and the weights (T, B), also kept in `weights`.
    public func callAsFunction(_ input: SequenceBatch, tape: Tape? = nil) throws -> (context: Tensor, weights: Tensor) {
        try input.checkFeatures(featureSize, "Attention values")
        try backend.checkDevice(input.data, "Attention values")
        let (t, b, d) = (input.steps, input.batchSize, featureSize)
        let values = try timeMajorRows.values(input, featureSize: d)                     // (T, B, D)
        let rows = t * b
        let flatValues = try values.reshaped([rows, d])                                 // (T·B, D)
        let scores = try Tensor.empty([t, b], on: backend)                               // (T, B)
        let scoreColumn = try scores.reshaped([rows, 1])
        var activated: Tensor?
        switch kind {
        case .dotProduct:
            let query = try present(query)
            try backend.gemm(scoreColumn, flatValues, query.value, GEMMShape(m: rows, n: 1, k: d))
            try backend.scale(scores, by: 1 / Float(d).squareRoot())
        case .additive(let a):
            let (weight, bias, vector) = try (present(weight), present(bias), present(vector))
            let hidden = try Tensor.empty([rows, a], on: backend)                        // W v + bias, (T·B, A)
            try backend.gemm(hidden, flatValues, weight.value, GEMMShape(m: rows, n: a, k: d, transB: .transposed))
            try backend.addBias(hidden, bias.value)
            let tanhHidden = try Tensor.empty([rows, a], on: backend)
            try backend.activationForward(tanhHidden, hidden, .tanh)
            try backend.gemm(scoreColumn, tanhHidden, vector.value, GEMMShape(m: rows, n: 1, k: a))
            activated = tanhHidden
        }
        let attention = try Tensor.empty([t, b], on: backend)                            // (T, B)
        try backend.sequenceSoftmax(attention, scores: scores, lengths: input.deviceLengths)
        let context = try Tensor.empty([b, d], on: backend)                              // (B, D)
        try backend.weightedSum(context, values: values, weights: attention)
        weights = attention
        try tape?.record(inputs: [input.data], outputs: [context]) { [self] gradOutputs, needs in
            guard let gradContext = gradOutputs[0] else { return [nil] }
            let gradValues = try backward(gradContext, values: values, weights: attention, activated: activated, needsValues: needs[0])
            return [try gradValues.map { try timeMajorRows.gradient($0, like: input, featureSize: d) }]
        }
        return (context, attention)
    }

    /// Accumulates the parameter gradients from dL/d(context) (B, D) and returns dL/d(values)
    /// (T, B, D) (nil unless `needsValues`).
    private func backward(_ gradContext: Tensor, values: Tensor, weights: Tensor, activated: Tensor?,
                          needsValues: Bool) throws -> Tensor? {
        let (t, b, d) = (values.shape[0], values.shape[1], featureSize)
        let rows = t * b
        let (gradValues, gradScores) = try weightedSoftmaxBackward(gradContext, values: values, weights: weights)   // (T, B, D), (T, B)
        let gradScoreColumn = try gradScores.reshaped([rows, 1])
        let flatValues = try values.reshaped([rows, d]), flatGradValues = try gradValues.reshaped([rows, d])
        switch kind {
        case .dotProduct:
            let query = try present(query)
            // s = (V q) / √D: dq += Vᵀ ds/√D, (D, T·B) × (T·B, 1); dV += ds/√D qᵀ, (T·B, 1) × (1, D).
            try backend.scale(gradScores, by: 1 / Float(d).squareRoot())
            try backend.gemm(query.gradient, flatValues, gradScoreColumn,
                             GEMMShape(m: d, n: 1, k: rows, transA: .transposed, beta: 1))
            if needsValues {
                try backend.gemm(flatGradValues, gradScoreColumn, query.value, GEMMShape(m: rows, n: d, k: 1, beta: 1))
            }
        case .additive(let a):
            let (weight, bias, vector) = try (present(weight), present(bias), present(vector))
            guard let activated else {
                throw RecurrentError.invalidState("Attention backward: the forward pass kept no tanh activations")
            }
            // s = u·vector with u = tanh(V Wᵀ + bias): du = ds vectorᵀ, (T·B, 1) × (1, A); dvector += uᵀ ds.
            let gradActivated = try Tensor.empty([rows, a], on: backend)
            try backend.gemm(gradActivated, gradScoreColumn, vector.value, GEMMShape(m: rows, n: a, k: 1))
            try backend.gemm(vector.gradient, activated, gradScoreColumn,
                             GEMMShape(m: a, n: 1, k: rows, transA: .transposed, beta: 1))
            // dh = du ⊙ (1 − u²); dbias += Σ_rows dh; dW += dhᵀ V, (A, T·B) × (T·B, D); dV += dh W, (T·B, A) × (A, D).
            let gradHidden = try Tensor.empty([rows, a], on: backend)
            try backend.activationBackward(gradHidden, gradActivated, activated, .tanh, accumulate: false)
            try backend.sumColumns(bias.gradient, gradHidden, accumulate: true)
            try backend.gemm(weight.gradient, gradHidden, flatValues,
                             GEMMShape(m: a, n: d, k: rows, transA: .transposed, beta: 1))
            if needsValues {
                try backend.gemm(flatGradValues, gradHidden, weight.value, GEMMShape(m: rows, n: d, k: a, beta: 1))
            }
        }
        return needsValues ? gradValues : nil
    }

    /// The parameter `kind` guarantees; throws rather than trap if it is missing.
    private func present(_ parameter: Parameter?) throws -> Parameter {
        guard let parameter else { throw RecurrentError.invalidState("Attention: a parameter of \(kind) attention is missing") }
        return parameter
    }
}
