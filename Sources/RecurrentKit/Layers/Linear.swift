/// A fully connected layer, `y = x Wᵀ + b`, over the last dimension of any input
/// (PyTorch's `nn.Linear`): input (…, in), output (…, out).
public final class Linear: Layer {
    /// (out, in)
    public let weight: Parameter
    /// (out), or nil without bias.
    public let bias: Parameter?
    public let inputSize: Int, outputSize: Int
    public var isTraining = true

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
                                      values: weightInit.values(shape: [outputSize, inputSize], defaultBound: bound, stream: &ws),
                                      on: backend))
        if bias {
            var bs = rng.makeStream()
            self.bias = try Parameter(Tensor(shape: [outputSize],
                                             values: biasInit.values(shape: [outputSize], defaultBound: bound, stream: &bs), on: backend))
        } else {
            self.bias = nil
        }
    }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    /// Applies the layer to a tensor (…, in), or to every step of a sequence batch (its layout
    /// and lengths carry over).
    public func forward(_ input: LayerValue, tape: Tape?) throws -> LayerValue {
        try input.replacingData(callAsFunction(input.data, tape: tape))
    }

    /// `x Wᵀ + b` over the last dimension: (…, in) → (…, out).
    public func callAsFunction(_ input: Tensor, tape: Tape? = nil) throws -> Tensor {
        guard input.rank >= 1, input.shape.last == inputSize else {
            throw RecurrentError.shapeMismatch(operation: "Linear", expected: "input (…, \(inputSize))", got: "shape \(input.shape)")
        }
        let backend = weight.value.backend
        try backend.checkDevice(input, "Linear input")
        let rows = input.count / inputSize
        let out = try Tensor.empty(Array(input.shape.dropLast()) + [outputSize], on: backend)   // (N, out)
        try backend.gemm(out, input, weight.value, GEMMShape(m: rows, n: outputSize, k: inputSize, transB: .transposed))
        if let bias { try backend.addBias(out, bias.value) }
        try tape?.record(inputs: [input], outputs: [out]) { [weight, bias, inputSize, outputSize] gradOutputs, needs in
            guard let gradOutput = gradOutputs[0] else { return [nil] }
            // dW += dYᵀ X: (out, N) × (N, in); db += Σ_rows dY; dX = dY W: (N, out) × (out, in).
            try backend.gemm(weight.gradient, gradOutput, input, GEMMShape(m: outputSize, n: inputSize, k: rows, transA: .transposed, beta: 1))
            if let bias { try backend.sumColumns(bias.gradient, gradOutput, accumulate: true) }
            guard needs[0] else { return [nil] }
            let gradInput = try Tensor.empty(input.shape, on: backend)
            try backend.gemm(gradInput, gradOutput, weight.value, GEMMShape(m: rows, n: inputSize, k: outputSize))
            return [gradInput]
        }
        return out
    }
}
