/// A lookup table from token indices to vectors (PyTorch's `nn.Embedding`):
/// input indices (…) stored as floats, output (…, D).
public final class Embedding: Layer {
    /// (V, D)
    public let weight: Parameter
    public let vocabularySize: Int, embeddingSize: Int
    public var isTraining = true
    /// Indices have no gradient: `backward` always returns nil.
    public var needsInputGradient = false
    private var lastIndices: Tensor?

    /// - Parameter initializer: PyTorch's default is N(0, 1).
    public init(_ vocabularySize: Int, _ embeddingSize: Int, on backend: any Backend, rng: RandomSource,
                initializer: Initializer = .pytorchDefault) throws {
        for (name, v) in [("Embedding vocabulary size", vocabularySize), ("Embedding size", embeddingSize)] where v < 1 {
            throw RecurrentError.invalidArgument(name: name, expected: "at least 1", got: "\(v)")
        }
        self.vocabularySize = vocabularySize
        self.embeddingSize = embeddingSize
        var s = rng.makeStream()
        weight = try Parameter(Tensor(shape: [vocabularySize, embeddingSize],
                                      values: try initializer.values(shape: [vocabularySize, embeddingSize], defaultBound: nil, stream: &s),
                                      on: backend))
    }

    public var namedParameters: [(name: String, parameter: Parameter)] { [("weight", weight)] }

    /// Looks up each index; an index outside 0..<V gives a row of NaN.
    public func forward(_ indices: Tensor) throws -> Tensor {
        let backend = weight.value.backend
        try backend.checkDevice(indices, "Embedding.forward indices")
        let out = try Tensor.empty(indices.shape + [embeddingSize], on: backend)
        try backend.embeddingForward(out, indices: indices, table: weight.value)
        lastIndices = indices
        return out
    }

    /// Accumulates the table gradient; returns nil (indices have no gradient).
    public func backward(_ gradOutput: Tensor) throws -> Tensor? {
        guard let indices = lastIndices else { throw RecurrentError.invalidState("Embedding.backward called before forward") }
        defer { lastIndices = nil }
        try weight.value.backend.embeddingBackward(weight.gradient, indices: indices, gradOut: gradOutput)
        return nil
    }
}
