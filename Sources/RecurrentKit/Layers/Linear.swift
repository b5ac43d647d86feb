/// A fully connected layer, `y = x Wᵀ + b`, over the last dimension of any input
/// (PyTorch's `nn.Linear`): input (…, in), output (…, out).
public final class Linear: Layer {
    /// (out, in)
    public let weight: Parameter
    /// (out), or nil without bias.
    public let bias: Parameter?
    public let inputSize: Int, outputSize: Int
    public var isTraining = true
    public var needsInputGradient = true
    private var lastInput: Tensor?

    /// - Parameters:
    ///   - weightInit, biasInit: PyTorch's default is U(−1/√in, 1/√in) for both.
    public init(_ inputSize: Int, _ outputSize: Int, bias: Bool = true, on backend: any Backend, rng: RandomSource,
                weightInit: Initializer = .pytorchDefault, biasInit: Initializer = .pytorchDefault) throws {
        for (name, v) in [("Linear input size", inputSize), ("Linear output size", outputSize)] where v < 1 {
            throw RecurrentError.invalidArgument(name: name, expected: "at least 1", got: "\(v)")
        }
        self.inputSize = inputSize
        self.outputSize = outputSize
        let bound = 1 / Float(inputSize).squareRoot()
        var ws = rng.makeStream()
        weight = try Parameter(Tensor(shape: [outputSize, inputSize],
                                      values: try weightInit.values(shape: [outputSize, inputSize], defaultBound: bound, stream: &ws),
                                      on: backend))
        if bias {
            var bs = rng.makeStream()
            self.bias = try Parameter(Tensor(shape: [outputSize],
                                             values: try biasInit.values(shape: [outputSize], defaultBound: bound, stream: &bs), on: backend))
        } else {
            self.bias = nil
        }
    }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    public func forward(_ input: Tensor) throws -> Tensor {
        guard input.rank >= 1, input.shape.last == inputSize else {
            throw RecurrentError.shapeMismatch(operation: "Linear.forward", expected: "input (…, \(inputSize))", got: "shape \(input.shape)")
        }
        let backend = weight.value.backend
        try backend.checkDevice(input, "Linear.forward input")
        lastInput = nil
        let rows = input.count / inputSize
        let out = try Tensor.empty(Array(input.shape.dropLast()) + [outputSize], on: backend)   // (N, out)
        try backend.gemm(out, input, weight.value, GEMMShape(m: rows, n: outputSize, k: inputSize, transB: .transposed))
        if let bias { try backend.addBias(out, bias.value) }
        lastInput = input
        return out
    }

    public func backward(_ gradOutput: Tensor) throws -> Tensor? {
        guard let input = lastInput else { throw RecurrentError.invalidState("Linear.backward called before forward") }
        defer { lastInput = nil }
        let rows = input.count / inputSize
        try RecurrentError.check("Linear.backward grad output", count: gradOutput.count, equals: rows * outputSize)
        let backend = weight.value.backend
        // dW += dYᵀ X: (out, N) × (N, in); db += Σ_rows dY; dX = dY W: (N, out) × (out, in).
        try backend.gemm(weight.gradient, gradOutput, input, GEMMShape(m: outputSize, n: inputSize, k: rows, transA: .transposed, beta: 1))
        if let bias { try backend.sumColumns(bias.gradient, gradOutput, accumulate: true) }
        guard needsInputGradient else { return nil }
        let gradInput = try Tensor.empty(input.shape, on: backend)
        try backend.gemm(gradInput, gradOutput, weight.value, GEMMShape(m: rows, n: inputSize, k: outputSize))
        return gradInput
    }
}
