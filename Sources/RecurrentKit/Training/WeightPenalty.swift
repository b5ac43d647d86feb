/// L1 and L2 penalties on parameters: adds `l1·Σ|p| + l2·Σp²` to a loss and its gradient to
/// the parameters' gradients (Keras's `l1_l2` regularizer). For decoupled decay use `AdamW`;
/// for PyTorch's `weight_decay = λ` with SGD or Adam, set the optimizer's `weightDecay` (≡ l2 = λ/2).
public struct WeightPenalty: Sendable {
    public var l1: Float, l2: Float

    public init(l1: Float = 0, l2: Float = 0) throws {
        guard l1 >= 0, l2 >= 0 else {
            throw RecurrentError.invalidArgument(name: "penalty", expected: "l1 ≥ 0 and l2 ≥ 0", got: "l1 \(l1), l2 \(l2)")
        }
        self.l1 = l1
        self.l2 = l2
    }

    /// Adds the penalty of `parameters` to `loss` (a scalar tensor, in place) and its gradient to each
    /// parameter's gradient. Call it after backward, before clipping and the optimizer step.
    public func apply(to parameters: [Parameter], loss: Tensor) throws {
        try RecurrentError.check("WeightPenalty loss", count: loss.count, equals: 1)
        for span in try Parameter.trainableSpans(of: parameters) {
            let backend = span.value.backend
            if l1 != 0 { try backend.reduce(loss, span.value, .sumOfAbsolute, scale: l1, accumulate: true) }
            if l2 != 0 { try backend.reduce(loss, span.value, .sumOfSquares, scale: l2, accumulate: true) }
            try backend.addPenaltyGradient(span.gradient, span.value, l1: l1, l2: l2)
        }
    }
}
