/// A trainable tensor and its gradient, which backward passes accumulate into (as PyTorch's `.grad`).
public final class Parameter {
    /// The values.
    public let value: Tensor
    /// The accumulated gradient, same shape as `value`; `zeroGradient()` clears it.
    public let gradient: Tensor
    /// A frozen parameter is skipped by optimizers and clipping and keeps its values.
    public var isFrozen = false

    /// Creates a parameter with these values and a zero gradient on the same device.
    public init(_ value: Tensor) throws {
        self.value = value
        self.gradient = try Tensor.zeros(value.shape, on: value.backend)
    }

    /// The shape of the values.
    public var shape: [Int] { value.shape }

    /// Sets the gradient to zero.
    public func zeroGradient() throws { try value.backend.fill(gradient, with: 0) }
}
