/// A pointwise nonlinearity as a layer (PyTorch's `nn.Tanh`, `nn.ReLU`, `nn.Sigmoid`).
public final class ActivationLayer: Layer {
    public let activation: Activation
    public var isTraining = true
    public var needsInputGradient = true
    private var lastOutput: Tensor?

    public init(_ activation: Activation) { self.activation = activation }

    public var namedParameters: [(name: String, parameter: Parameter)] { [] }

    public func forward(_ input: Tensor) throws -> Tensor {
        lastOutput = nil
        let out = try Tensor.empty(input.shape, on: input.backend)
        try input.backend.activationForward(out, input, activation)
        lastOutput = out
        return out
    }

    public func backward(_ gradOutput: Tensor) throws -> Tensor? {
        guard let y = lastOutput else { throw RecurrentError.invalidState("ActivationLayer.backward called before forward") }
        defer { lastOutput = nil }
        try RecurrentError.check("ActivationLayer.backward grad output", shape: gradOutput.shape, equals: y.shape)
        guard needsInputGradient else { return nil }
        let gradInput = try Tensor.empty(y.shape, on: y.backend)
        try y.backend.activationBackward(gradInput, gradOutput, y, activation, accumulate: false)
        return gradInput
    }
}
