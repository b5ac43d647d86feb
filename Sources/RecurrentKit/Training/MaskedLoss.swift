// Losses over per-step outputs of padded variable-length batches: only each sequence's real
// steps count. T = padded steps, B = batch, F = features per step, C = classes.

/// Wraps `MSELoss` or `CrossEntropyLoss` so that padded steps of variable-length sequences do
/// not count: their outputs get a zero gradient, and the mean is over the real steps only (as
/// PyTorch's masked losses and `ignore_index` do).
///
/// Predictions are sequence batches, whose layout and lengths say which steps are real: (T, B, F)
/// for MSE with targets of the same shape, (T, B, C) for cross-entropy with class targets (T, B);
/// (B, T, …) for batch-major batches. The masks are uploaded when the lengths change.
public final class MaskedLoss: Loss {
    /// The loss applied to the real steps.
    public let base: any Loss
    private var masks: (key: [Int], keep: Tensor, ignored: Tensor)?
    private var lastGradient: Tensor?

    /// - Parameter base: an `MSELoss` or a `CrossEntropyLoss` (its reduction applies over the real steps).
    public init(_ base: any Loss) throws {
        guard base is MSELoss || base is CrossEntropyLoss else {
            throw RecurrentError.invalidArgument(name: "masked loss", expected: "an MSELoss or a CrossEntropyLoss",
                                                 got: "\(type(of: base))")
        }
        self.base = base
    }

    /// The loss over the real steps of a sequence batch of predictions.
    public func forward(_ value: LayerValue, _ target: Tensor) throws -> Tensor {
        lastGradient = nil
        let batch = try value.requireSequence("MaskedLoss")
        let prediction = batch.data
        guard prediction.rank == 3 else {
            throw RecurrentError.shapeMismatch(operation: "MaskedLoss",
                                               expected: batch.layout == .timeMajor ? "predictions (T, B, F)" : "predictions (B, T, F)",
                                               got: "shape \(prediction.shape)")
        }
        let backend = prediction.backend
        try backend.checkDevice(target, "MaskedLoss target")
        let (t, b, f) = (batch.steps, batch.batchSize, prediction.shape[2])
        let batchFirst = batch.layout == .batchMajor
        let lengths = batch.effectiveLengths
        let real = batch.realSteps
        let loss = try Tensor.empty([], on: backend), gradient = try Tensor.empty(prediction.shape, on: backend)
        if let mse = base as? MSELoss {
            try RecurrentError.check("MaskedLoss target", shape: target.shape, equals: prediction.shape)
            let keep = try mask(lengths, t: t, b: b, width: f, batchFirst: batchFirst, on: backend).keep                         // (T, B, F) of 0 or 1
            let p = try Tensor.empty(prediction.shape, on: backend), y = try Tensor.empty(target.shape, on: backend)
            try backend.multiply(p, prediction, keep)
            try backend.multiply(y, target, keep)
            let scale: Float = mse.reduction == .mean ? 1 / Float(real * f) : 1
            try backend.meanSquaredError(loss: loss, gradient: gradient, prediction: p, target: y, scale: scale)
        } else if let crossEntropy = base as? CrossEntropyLoss {
            let expected = batchFirst ? [b, t] : [t, b]
            try RecurrentError.check("MaskedLoss class targets", shape: target.shape, equals: expected)
            let masks = try mask(lengths, t: t, b: b, width: 1, batchFirst: batchFirst, on: backend)
            // Padded steps get the ignored class −100: no loss, zero gradient.
            let y = try Tensor.empty(target.shape, on: backend)
            try backend.multiply(y, target, masks.keep)
            try backend.axpy(y, alpha: 1, masks.ignored)
            let scale: Float = crossEntropy.reduction == .mean ? 1 / Float(real) : 1
            try backend.softmaxCrossEntropy(loss: loss, gradient: gradient, logits: prediction, targets: y, scale: scale)
        }
        lastGradient = gradient
        return loss
    }

    public func backward() throws -> Tensor {
        guard let g = lastGradient else { throw RecurrentError.invalidState("MaskedLoss.backward called before forward") }
        return g
    }

    /// 1 on real steps and 0 on padded ones, repeated `width` times per step; and (T, B) −100 on
    /// padded steps and 0 elsewhere.
    private func mask(_ lengths: [Int], t: Int, b: Int, width: Int, batchFirst: Bool,
                      on backend: any Backend) throws -> (keep: Tensor, ignored: Tensor) {
        let key = [t, b, width, batchFirst ? 1 : 0] + lengths
        if let masks, masks.key == key, masks.keep.backend === backend { return (masks.keep, masks.ignored) }
        var keep = [Float](repeating: 0, count: t * b * width)
        for (s, length) in lengths.enumerated() {
            for step in 0..<length {
                let row = batchFirst ? s * t + step : step * b + s
                for k in 0..<width { keep[row * width + k] = 1 }
            }
        }
        let shape = batchFirst ? [b, t, width] : [t, b, width]
        let keepTensor = try Tensor(shape: width == 1 ? Array(shape.dropLast()) : shape, values: keep, on: backend)
        var ignored = [Float](repeating: -100, count: t * b)
        for row in 0..<(t * b) where keep[row * width] == 1 { ignored[row] = 0 }
        let ignoredTensor = try Tensor(shape: Array(shape.dropLast()), values: ignored, on: backend)
        masks = (key, keepTensor, ignoredTensor)
        return (keepTensor, ignoredTensor)
    }
}
