/// A pointwise nonlinearity as a layer (PyTorch's `nn.Tanh`, `nn.ReLU`, `nn.Sigmoid`).
public final class ActivationLayer: Layer {
    public let activation: Activation
    public var isTraining = true

    public init(_ activation: Activation) { self.activation = activation }

    public var namedParameters: [(name: String, parameter: Parameter)] { [] }

    /// Applies the activation elementwise (a sequence keeps its layout and lengths).
    public func forward(_ input: LayerValue, tape: Tape?) throws -> LayerValue {
        let x = input.data
        let y = try Tensor.empty(x.shape, on: x.backend)
        try x.backend.activationForward(y, x, activation)
        try tape?.record(inputs: [x], outputs: [y]) { [activation] gradOutputs, needs in
            guard let gradOutput = gradOutputs[0], needs[0] else { return [nil] }
            let gradInput = try Tensor.empty(y.shape, on: y.backend)
            try y.backend.activationBackward(gradInput, gradOutput, y, activation, accumulate: false)
            return [gradInput]
        }
        return try input.replacingData(y)
    }
}
