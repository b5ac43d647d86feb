/// A lookup table from token indices to vectors (PyTorch's `nn.Embedding`):
/// input indices (…) stored as floats, output (…, D).
public final class Embedding: Layer {
    /// (V, D)
    public let weight: Parameter
    public let vocabularySize: Int, embeddingSize: Int
    public var isTraining = true

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
                                      values: initializer.values(shape: [vocabularySize, embeddingSize], defaultBound: nil, stream: &s),
                                      on: backend))
    }

    public var namedParameters: [(name: String, parameter: Parameter)] { [("weight", weight)] }

    /// Looks up each index of a tensor (…) or of a sequence batch of token indices (T, B) or (B, T),
    /// giving (…, D) (the sequence keeps its layout and lengths); an index outside 0..<V gives a row of NaN.
    public func forward(_ input: LayerValue, tape: Tape?) throws -> LayerValue {
        let indices = input.data
        let backend = weight.value.backend
        try backend.checkDevice(indices, "Embedding indices")
        let out = try Tensor.empty(indices.shape + [embeddingSize], on: backend)
        try backend.embeddingForward(out, indices: indices, table: weight.value)
        try tape?.record(inputs: [], outputs: [out]) { [weight] gradOutputs, _ in
            // Indices have no gradient; the table's accumulates.
            if let gradOutput = gradOutputs[0] { try backend.embeddingBackward(weight.gradient, indices: indices, gradOut: gradOutput) }
            return []
        }
        return try input.replacingData(out)
    }
}
