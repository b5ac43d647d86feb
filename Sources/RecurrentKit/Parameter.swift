/// A trainable tensor and its gradient, which backward passes accumulate into (as PyTorch's `.grad`).
///
/// When an optimizer is made for it (or `Parameter.flatten` is called), a parameter's values and
/// gradient move once into a flat buffer shared with the other parameters of the model, and
/// `value` and `gradient` become views of it. Read them through the parameter each time rather
/// than keep the tensors.
public final class Parameter {
    /// The values (a view of the flat value buffer once flattened).
    public private(set) var value: Tensor
    /// The accumulated gradient, same shape as `value`; `zeroGradient()` clears it.
    public private(set) var gradient: Tensor
    /// A frozen parameter is skipped by optimizers and clipping and keeps its values.
    public var isFrozen = false
    /// The flat buffer holding this parameter and where in it, or nil before flattening.
    public private(set) var storage: ParameterStorage?
    /// The first element of this parameter in `storage` (0 when not flattened).
    public private(set) var storageOffset = 0

    /// Creates a parameter with these values and a zero gradient on the same device.
    public init(_ value: Tensor) throws {
        self.value = value
        self.gradient = try Tensor.zeros(value.shape, on: value.backend)
    }

    /// The shape of the values.
    public var shape: [Int] { value.shape }

    /// Sets the gradient to zero.
    public func zeroGradient() throws { try value.backend.fill(gradient, with: 0) }

    /// Points this parameter at its place in `storage` (whose contents the caller has filled).
    func move(into storage: ParameterStorage, at offset: Int) throws {
        let count = value.count
        value = try storage.values.slice(offset..<(offset + count)).reshaped(value.shape)
        gradient = try storage.gradients.slice(offset..<(offset + count)).reshaped(gradient.shape)
        self.storage = storage
        storageOffset = offset
    }
}
