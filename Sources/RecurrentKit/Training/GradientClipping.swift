/// The global gradient norm before clipping, kept on the device until asked for.
public struct GradientNorm: Sendable {
    /// Σ g² over all clipped gradients, a one-element tensor.
    public let sumOfSquares: Tensor

    /// Reads the norm back to the host (one device synchronisation).
    public func value() throws -> Float { try sumOfSquares.item().squareRoot() }
}

/// Gradient clipping over parameters that are not frozen: one launch per flat span of them
/// (`Parameter.spans(of:)`), one in all for a model whose parameters are flattened and none frozen.
public enum GradientClipping {
    /// Scales all gradients together so their global L2 norm is at most `maxNorm`
    /// (PyTorch's `clip_grad_norm_`: factor min(1, maxNorm / (norm + 1e-6))). Returns the norm
    /// before clipping. The whole computation stays on the device.
    /// `norm`, when given, must be `norm(of: parameters)` of the gradients as they are now; it
    /// saves computing it again.
    @discardableResult
    public static func clipNorm(_ parameters: [Parameter], maxNorm: Float, norm: GradientNorm? = nil) throws -> GradientNorm {
        guard maxNorm > 0, maxNorm.isFinite else {
            throw RecurrentError.invalidArgument(name: "max norm", expected: "a positive finite value", got: "\(maxNorm)")
        }
        let total = try norm ?? self.norm(of: parameters)
        for span in try Parameter.trainableSpans(of: parameters) {
            try span.gradient.backend.scaleByClipCoefficient(span.gradient, sumOfSquares: total.sumOfSquares, maxNorm: maxNorm)
        }
        return total
    }

    /// The global L2 norm of the gradients of the parameters that are not frozen, on the device.
    public static func norm(of parameters: [Parameter]) throws -> GradientNorm {
        guard let backend = parameters.first(where: { !$0.isFrozen })?.value.backend else {
            throw RecurrentError.invalidArgument(name: "parameters", expected: "at least one trainable parameter", got: "none")
        }
        let total = try Tensor.zeros([], on: backend)
        for span in try Parameter.trainableSpans(of: parameters) {
            try backend.reduce(total, span.gradient, .sumOfSquares, scale: 1, accumulate: true)
        }
        return GradientNorm(sumOfSquares: total)
    }

    /// Clamps every gradient element to [−clipValue, clipValue] (PyTorch's `clip_grad_value_`).
    public static func clipValue(_ parameters: [Parameter], clipValue: Float) throws {
        guard clipValue > 0 else {
            throw RecurrentError.invalidArgument(name: "clip value", expected: "a positive value", got: "\(clipValue)")
        }
        for span in try Parameter.trainableSpans(of: parameters) {
            try span.gradient.backend.clamp(span.gradient, low: -clipValue, high: clipValue)
        }
    }
}
