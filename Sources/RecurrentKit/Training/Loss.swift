/// How per-element (or per-row) losses are combined, as PyTorch's `reduction`.
public enum LossReduction: String, Sendable, CaseIterable {
    case mean, sum
}

/// A loss: `forward` returns the loss (a scalar tensor, still on the device) and prepares the
/// gradient that `backward` returns, dL/d(prediction), computed in the same fused pass.
public protocol Loss: AnyObject {
    /// The loss of `prediction` against `target`.
    func forward(_ prediction: Tensor, _ target: Tensor) throws -> Tensor
    /// dL/d(prediction) of the last forward.
    func backward() throws -> Tensor
}

/// Mean squared error, PyTorch's `nn.MSELoss`: prediction and target of the same shape.
public final class MSELoss: Loss {
    public let reduction: LossReduction
    private var lastGradient: Tensor?

    public init(reduction: LossReduction = .mean) { self.reduction = reduction }

    public func forward(_ prediction: Tensor, _ target: Tensor) throws -> Tensor {
        try RecurrentError.check("MSELoss target", shape: target.shape, equals: prediction.shape)
        try prediction.backend.checkDevice(target, "MSELoss target")
        lastGradient = nil
        let backend = prediction.backend
        let loss = try Tensor.empty([], on: backend), gradient = try Tensor.empty(prediction.shape, on: backend)
        let scale: Float = reduction == .mean ? 1 / Float(max(prediction.count, 1)) : 1
        try backend.meanSquaredError(loss: loss, gradient: gradient, prediction: prediction, target: target, scale: scale)
        lastGradient = gradient
        return loss
    }

    public func backward() throws -> Tensor {
        guard let g = lastGradient else { throw RecurrentError.invalidState("MSELoss.backward called before forward") }
        return g
    }
}

/// Softmax cross-entropy over class logits, PyTorch's `nn.CrossEntropyLoss` with class-index
/// targets: logits (…, C) against targets (…) holding class indices 0..<C as floats. The
/// softmax is fused and max-shifted, so large logits do not overflow. `mean` divides by the
/// number of targets. An index outside 0..<C makes the loss NaN.
public final class CrossEntropyLoss: Loss {
    public let reduction: LossReduction
    private var lastGradient: Tensor?

    public init(reduction: LossReduction = .mean) { self.reduction = reduction }

    public func forward(_ logits: Tensor, _ targets: Tensor) throws -> Tensor {
        guard logits.rank >= 1, let classes = logits.shape.last, classes > 0,
              Array(logits.shape.dropLast()).reduce(1, *) == targets.count, targets.count > 0 else {
            throw RecurrentError.shapeMismatch(operation: "CrossEntropyLoss", expected: "logits (…, C) and targets (…) with the same leading shape",
                                               got: "logits \(logits.shape), targets \(targets.shape)")
        }
        try logits.backend.checkDevice(targets, "CrossEntropyLoss targets")
        lastGradient = nil
        let backend = logits.backend
        let loss = try Tensor.empty([], on: backend), gradient = try Tensor.empty(logits.shape, on: backend)
        let scale: Float = reduction == .mean ? 1 / Float(targets.count) : 1
        try backend.softmaxCrossEntropy(loss: loss, gradient: gradient, logits: logits, targets: targets, scale: scale)
        lastGradient = gradient
        return loss
    }

    public func backward() throws -> Tensor {
        guard let g = lastGradient else { throw RecurrentError.invalidState("CrossEntropyLoss.backward called before forward") }
        return g
    }
}
