/// How per-element (or per-row) losses are combined, as PyTorch's `reduction`.
public enum LossReduction: String, Sendable, CaseIterable {
    case mean, sum
}

/// A loss: `forward` returns the loss (a scalar tensor, still on the device) and prepares the
/// gradient that `backward` returns, dL/d(prediction), computed in the same fused pass.
public protocol Loss: AnyObject {
    /// The loss of `prediction` (a tensor or a sequence batch) against `target`.
    func forward(_ prediction: LayerValue, _ target: Tensor) throws -> Tensor
    /// dL/d(prediction's data) of the last forward.
    func backward() throws -> Tensor
}

extension Loss {
    /// The loss of a plain tensor against `target`.
    public func forward(_ prediction: Tensor, _ target: Tensor) throws -> Tensor { try forward(.tensor(prediction), target) }
    /// The loss of a sequence batch against `target`.
    public func forward(_ prediction: SequenceBatch, _ target: Tensor) throws -> Tensor { try forward(.sequence(prediction), target) }
}

/// The tensor a plain loss reads; throws for a sequence batch with padded steps, whose padding
/// would count (`MaskedLoss` counts only the real steps).
func unmaskedPrediction(_ prediction: LayerValue, _ loss: String) throws -> Tensor {
    if let batch = prediction.sequence, let lengths = batch.lengths {
        throw RecurrentError.invalidArgument(
            name: "\(loss) prediction", expected: "a tensor or a sequence batch without padding (wrap the loss in MaskedLoss)",
            got: "a sequence batch with lengths \(lengths) of \(batch.steps) steps")
    }
    return prediction.data
}

/// Mean squared error, PyTorch's `nn.MSELoss`: prediction and target of the same shape.
public final class MSELoss: Loss {
    public let reduction: LossReduction
    private var lastGradient: Tensor?

    public init(reduction: LossReduction = .mean) { self.reduction = reduction }

    public func forward(_ prediction: LayerValue, _ target: Tensor) throws -> Tensor {
        let prediction = try unmaskedPrediction(prediction, "MSELoss")
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

    public func forward(_ prediction: LayerValue, _ targets: Tensor) throws -> Tensor {
        let logits = try unmaskedPrediction(prediction, "CrossEntropyLoss")
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
