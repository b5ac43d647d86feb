// Attention over another sequence (encoder–decoder attention): a query per sequence, such as a
// decoder's state, scores every step of an encoded sequence (the keys), a softmax over each
// sequence's real steps gives the weights, and the context is the weighted sum of the values
// (the encoder outputs). T = encoder steps, B = batch, Q = query size, D = key and value size,
// A = attention size.

/// Attention of a query (B, Q) over an encoded sequence batch (T, B, D) or (B, T, D), as in an
/// encoder–decoder: `context[b] = Σ_t w[t, b]·values[t, b]`, with w (T, B) a softmax over the real
/// steps of sequence b (from the batch's lengths; padded steps get weight exactly 0) of the scores:
///
/// - `.dot` (Luong et al., 2015): `s[t, b] = keys[t, b]·query[b]` (needs Q = D);
/// - `.general` (Luong): `s[t, b] = keys[t, b]·(weight·query[b])`, weight (D, Q);
/// - `.additive` (Bahdanau et al., 2015): `s[t, b] = vector·tanh(keyWeight·keys[t, b] + queryWeight·query[b] + bias)`,
///   keyWeight (A, D), queryWeight (A, Q), bias and vector (A).
///
/// The keys are the values. What does not depend on the query (the time-major values and, for
/// additive scores, the projected keys) is computed once per encoded batch by `memory(_:tape:)`,
/// and each decoder step calls the layer with its query:
///
/// ```swift
/// let memory = try attention.memory(encoderOutputs, tape: tape)       // once per batch
/// let (context, weights) = try attention(decoderHidden, memory: memory, tape: tape)   // every step
/// ```
///
/// On a tape, the gradients of every step's call add up in the memory and from there in the
/// encoder outputs.
public final class CrossAttention: Module {
    /// How a step's key is scored against the query.
    public enum Score: Sendable, Equatable, Hashable {
        /// Luong's dot score `keys·query` (query size = key size).
        case dot
        /// Luong's general score `keys·(weight·query)`, weight (D, Q).
        case general
        /// Bahdanau's additive score `vector·tanh(keyWeight·keys + queryWeight·query + bias)`.
        case additive(attentionSize: Int)
    }

    /// The scoring function.
    public let score: Score
    /// Q: the size of each query.
    public let querySize: Int
    /// D: the size of each step of the keys and values.
    public let keySize: Int
    /// `.general`'s weight (D, Q); nil otherwise.
    public let weight: Parameter?
    /// `.additive`'s projection of the query (A, Q); nil otherwise.
    public let queryWeight: Parameter?
    /// `.additive`'s projection of the keys (A, D); nil otherwise.
    public let keyWeight: Parameter?
    /// `.additive`'s bias (A); nil otherwise.
    public let bias: Parameter?
    /// `.additive`'s score vector (A); nil otherwise.
    public let vector: Parameter?
    /// Training mode (this layer behaves the same either way).
    public var isTraining = true

    private let backend: any Backend
    private let timeMajorRows: TimeMajorRows

    /// Creates an attention layer with freshly initialised parameters, each U(−1/√fan-in, 1/√fan-in)
    /// as PyTorch's `nn.Linear` weights: fan-in Q for `weight` and `queryWeight`, D for `keyWeight` and
    /// `bias`, A for `vector`.
    /// - Parameters:
    ///   - querySize: Q, the size of the query (the decoder's hidden size).
    ///   - keySize: D, the size of each encoder output.
    ///   - score: `.dot`, `.general` or `.additive(attentionSize: A)`.
    ///   - backend: The device the parameters live on.
    ///   - rng: Source of the initial values, one stream per parameter in the order of `namedParameters`.
    public init(querySize: Int, keySize: Int, score: Score, on backend: any Backend, rng: RandomSource) throws {
        for (name, v) in [("CrossAttention query size", querySize), ("CrossAttention key size", keySize)] where v < 1 {
            throw RecurrentError.invalidArgument(name: name, expected: "at least 1", got: "\(v)")
        }
        self.score = score
        self.querySize = querySize
        self.keySize = keySize
        self.backend = backend
        timeMajorRows = TimeMajorRows(on: backend)
        func uniform(_ shape: [Int], fanIn: Int) throws -> Parameter {
            var stream = rng.makeStream()
            let bound = 1 / Float(fanIn).squareRoot()
            return try Parameter(Tensor(shape: shape, values: stream.uniform(count: shape.reduce(1, *), low: -bound, high: bound),
                                        on: backend))
        }
        var general: Parameter?, additive: (query: Parameter, key: Parameter, bias: Parameter, vector: Parameter)?
        switch score {
        case .dot:
            guard querySize == keySize else {
                throw RecurrentError.invalidArgument(name: "CrossAttention dot score", expected: "query size = key size",
                                                     got: "query size \(querySize), key size \(keySize) (use .general)")
            }
        case .general:
            general = try uniform([keySize, querySize], fanIn: querySize)
        case .additive(let a):
            guard a >= 1 else {
                throw RecurrentError.invalidArgument(name: "CrossAttention attention size", expected: "at least 1", got: "\(a)")
            }
            additive = try (uniform([a, querySize], fanIn: querySize), uniform([a, keySize], fanIn: keySize),
                            uniform([a], fanIn: keySize), uniform([a], fanIn: a))
        }
        weight = general
        queryWeight = additive?.query
        keyWeight = additive?.key
        bias = additive?.bias
        vector = additive?.vector
    }

    /// `weight` (general); `query_weight`, `key_weight`, `bias`, `vector` (additive); none for dot.
    public var namedParameters: [(name: String, parameter: Parameter)] {
        [("weight", weight), ("query_weight", queryWeight), ("key_weight", keyWeight), ("bias", bias), ("vector", vector)]
            .compactMap { name, parameter in parameter.map { (name: name, parameter: $0) } }
    }

    /// Prepares an encoded batch (T, B, D) or (B, T, D) for any number of calls: its values in
    /// time-major order, its lengths and, for additive scores, the projected keys. Recorded on
    /// `tape` when given, so the encoder receives the gradients of every call.
    public func memory(_ encoded: SequenceBatch, tape: Tape? = nil) throws -> AttentionMemory {
        try encoded.checkFeatures(keySize, "CrossAttention keys")
        try backend.checkDevice(encoded.data, "CrossAttention keys")
        let (t, b, d) = (encoded.steps, encoded.batchSize, keySize)
        let values = try timeMajorRows.values(encoded, featureSize: d)                   // (T, B, D)
        if encoded.layout == .batchMajor {
            try tape?.record(inputs: [encoded.data], outputs: [values]) { [timeMajorRows] gradOutputs, _ in
                [try gradOutputs[0].map { try timeMajorRows.gradient($0, like: encoded, featureSize: d) }]
            }
        }
        guard case .additive(let a) = score else {
            return AttentionMemory(values: values, projectedKeys: nil, lengths: encoded.lengths, deviceLengths: encoded.deviceLengths)
        }
        let (keyWeight, bias) = try (present(keyWeight), present(bias))
        let flatValues = try values.reshaped([t * b, d])                                  // (T·B, D)
        let keys = try Tensor.empty([t * b, a], on: backend)                              // keyWeight·v + bias, (T·B, A)
        try backend.gemm(keys, flatValues, keyWeight.value, GEMMShape(m: t * b, n: a, k: d, transB: .transposed))
        try backend.addBias(keys, bias.value)
        try tape?.record(inputs: [values], outputs: [keys]) { [backend] gradOutputs, needs in
            guard let gradKeys = gradOutputs[0] else { return [nil] }
            // dKeyWeight += dKᵀ V, (A, T·B) × (T·B, D); dbias += Σ_rows dK; dV = dK keyWeight, (T·B, A) × (A, D).
            try backend.gemm(keyWeight.gradient, gradKeys, flatValues, GEMMShape(m: a, n: d, k: t * b, transA: .transposed, beta: 1))
            try backend.sumColumns(bias.gradient, gradKeys, accumulate: true)
            guard needs[0] else { return [nil] }
            let gradValues = try Tensor.empty([t, b, d], on: backend)
            try backend.gemm(gradValues, gradKeys, keyWeight.value, GEMMShape(m: t * b, n: d, k: a))
            return [gradValues]
        }
        return AttentionMemory(values: values, projectedKeys: keys, lengths: encoded.lengths, deviceLengths: encoded.deviceLengths)
    }

    /// Attends with `query` (B, Q) over `memory` (from `memory(_:tape:)`); returns the context (B, D)
    /// and the weights (T, B), whose column b sums to 1 over sequence b's real steps.
    public func callAsFunction(_ query: Tensor, memory: AttentionMemory, tape: Tape? = nil) throws -> (context: Tensor, weights: Tensor) {
        let (t, b, d) = (memory.steps, memory.batchSize, keySize)
        guard query.rank == 2, query.shape == [b, querySize] else {
            throw RecurrentError.shapeMismatch(operation: "CrossAttention query", expected: "(B, Q) = (\(b), \(querySize))",
                                               got: "shape \(query.shape)")
        }
        try backend.checkDevice(query, "CrossAttention query")
        try backend.checkDevice(memory.values, "CrossAttention memory")
        guard memory.values.shape[2] == d, (memory.projectedKeys != nil) == (vector != nil) else {
            throw RecurrentError.invalidArgument(name: "CrossAttention memory", expected: "one made by this layer's memory(_:tape:)",
                                                 got: "values \(memory.values.shape)")
        }
        let values = memory.values                                                        // (T, B, D)
        let scores = try Tensor.empty([t, b], on: backend)                                // (T, B)
        var projectedQuery: Tensor?, activated: Tensor?
        switch score {
        case .dot:
            try backend.batchedDot(scores, keys: values, query: query)
        case .general:
            let weight = try present(weight)
            let pq = try Tensor.empty([b, d], on: backend)                                // weight·q, (B, D)
            try backend.gemm(pq, query, weight.value, GEMMShape(m: b, n: d, k: querySize, transB: .transposed))
            try backend.batchedDot(scores, keys: values, query: pq)
            projectedQuery = pq
        case .additive(let a):
            let (queryWeight, vector) = try (present(queryWeight), present(vector))
            let keys = try present(memory.projectedKeys)                                  // (T·B, A)
            let pq = try Tensor.empty([b, a], on: backend)                                // queryWeight·q, (B, A)
            try backend.gemm(pq, query, queryWeight.value, GEMMShape(m: b, n: a, k: querySize, transB: .transposed))
            // keys + pq broadcast over time: seen as (T, B·A), pq (B·A) is a bias row added to each step.
            let hidden = try keys.copy()                                                  // (T·B, A)
            try backend.addBias(hidden.reshaped([t, b * a]), pq.reshaped([b * a]))
            let u = try Tensor.empty([t * b, a], on: backend)                             // tanh, (T·B, A)
            try backend.activationForward(u, hidden, .tanh)
            try backend.gemm(scores.reshaped([t * b, 1]), u, vector.value, GEMMShape(m: t * b, n: 1, k: a))
            activated = u
        }
        let weights = try Tensor.empty([t, b], on: backend)                               // (T, B)
        try backend.sequenceSoftmax(weights, scores: scores, lengths: memory.deviceLengths)
        let context = try Tensor.empty([b, d], on: backend)                               // (B, D)
        try backend.weightedSum(context, values: values, weights: weights)
        try tape?.record(inputs: [query, values, memory.projectedKeys], outputs: [context]) { [self] gradOutputs, needs in
            guard let gradContext = gradOutputs[0] else { return [nil, nil, nil] }
            return try backward(gradContext, query: query, values: values, weights: weights, projectedQuery: projectedQuery,
                                activated: activated, needs: needs)
        }
        return (context, weights)
    }

    /// Accumulates the parameter gradients from dL/d(context) (B, D); returns the gradients of the
    /// query (B, Q), the values (T, B, D) and the projected keys (T·B, A), each nil unless needed.
    private func backward(_ gradContext: Tensor, query: Tensor, values: Tensor, weights: Tensor, projectedQuery: Tensor?,
                          activated: Tensor?, needs: [Bool]) throws -> [Tensor?] {
        let (t, b, d) = (values.shape[0], values.shape[1], keySize)
        let (gradValues, gradScores) = try weightedSoftmaxBackward(gradContext, values: values, weights: weights)   // (T, B, D), (T, B)
        let gradQuery = needs[0] ? try Tensor.empty([b, querySize], on: backend) : nil     // (B, Q)
        switch score {
        case .dot, .general:
            // The keys are the values: their score gradient adds to the weighted sum's.
            let gradKeys = needs[1] ? try Tensor.empty([t, b, d], on: backend) : nil
            if case .dot = score {
                try backend.batchedDotBackward(gradKeys: gradKeys, gradQuery: gradQuery, gradScores: gradScores, keys: values, query: query)
            } else {
                // s = K·(q Wᵀ): dpq = Σ_t ds·K; dW += dpqᵀ q, (D, B) × (B, Q); dq = dpq W, (B, D) × (D, Q).
                let (weight, pq) = try (present(weight), present(projectedQuery))
                let gradPQ = try Tensor.empty([b, d], on: backend)
                try backend.batchedDotBackward(gradKeys: gradKeys, gradQuery: gradPQ, gradScores: gradScores, keys: values, query: pq)
                try backend.gemm(weight.gradient, gradPQ, query, GEMMShape(m: d, n: querySize, k: b, transA: .transposed, beta: 1))
                if let gradQuery { try backend.gemm(gradQuery, gradPQ, weight.value, GEMMShape(m: b, n: querySize, k: d)) }
            }
            if let gradKeys { try backend.axpy(gradValues, alpha: 1, gradKeys) }
            return [gradQuery, needs[1] ? gradValues : nil, nil]
        case .additive(let a):
            let (queryWeight, vector, u) = try (present(queryWeight), present(vector), present(activated))
            let gradScoreColumn = try gradScores.reshaped([t * b, 1])
            // s = u·vector: du = ds vectorᵀ, (T·B, 1) × (1, A); dvector += uᵀ ds.
            let gradU = try Tensor.empty([t * b, a], on: backend)
            try backend.gemm(gradU, gradScoreColumn, vector.value, GEMMShape(m: t * b, n: a, k: 1))
            try backend.gemm(vector.gradient, u, gradScoreColumn, GEMMShape(m: a, n: 1, k: t * b, transA: .transposed, beta: 1))
            // dh = du ⊙ (1 − u²) is the projected keys' gradient; the query's is its sum over time.
            let gradHidden = try Tensor.empty([t * b, a], on: backend)                     // (T·B, A)
            try backend.activationBackward(gradHidden, gradU, u, .tanh, accumulate: false)
            let gradPQ = try Tensor.empty([b, a], on: backend)                             // Σ_t dh, (B, A)
            try backend.sumColumns(gradPQ.reshaped([b * a]), gradHidden.reshaped([t, b * a]), accumulate: false)
            // pq = q queryWeightᵀ: dQueryWeight += dpqᵀ q, (A, B) × (B, Q); dq = dpq queryWeight, (B, A) × (A, Q).
            try backend.gemm(queryWeight.gradient, gradPQ, query, GEMMShape(m: a, n: querySize, k: b, transA: .transposed, beta: 1))
            if let gradQuery { try backend.gemm(gradQuery, gradPQ, queryWeight.value, GEMMShape(m: b, n: querySize, k: a)) }
            return [gradQuery, needs[1] ? gradValues : nil, needs[2] ? gradHidden : nil]
        }
    }

    /// The parameter or tensor `score` guarantees; throws rather than trap if it is missing.
    private func present(_ tensor: Parameter?) throws -> Parameter {
        guard let tensor else { throw RecurrentError.invalidState("CrossAttention: a parameter of \(score) attention is missing") }
        return tensor
    }

    private func present(_ tensor: Tensor?) throws -> Tensor {
        guard let tensor else { throw RecurrentError.invalidState("CrossAttention: the \(score) score's projection is missing") }
        return tensor
    }
}

/// An encoded batch prepared by `CrossAttention.memory(_:tape:)` for any number of calls: the values
/// in time-major order, the lengths and, for additive scores, the projected keys.
public struct AttentionMemory: Sendable {
    /// The encoder outputs (T, B, D), time-major.
    public let values: Tensor
    /// `keyWeight·values + bias` (T·B, A) for additive scores; nil for dot and general ones.
    public let projectedKeys: Tensor?
    /// The real steps of each sequence (nil: all T).
    public let lengths: [Int]?
    /// The lengths on the device (B), as the masked softmax reads them.
    public let deviceLengths: Tensor?

    /// T: the encoded steps.
    public var steps: Int { values.shape[0] }
    /// B: the sequences.
    public var batchSize: Int { values.shape[1] }
}
