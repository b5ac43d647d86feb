// Losses over per-step outputs of padded variable-length batches: only each sequence's real
// steps count. T = padded steps, B = batch, F = features per step, C = classes.

/// Wraps `MSELoss` or `CrossEntropyLoss` so that padded steps of variable-length sequences do
/// not count: their outputs get a zero gradient, and the mean is over the real steps only (as
/// PyTorch's masked losses and `ignore_index` do).
///
/// Predictions are per step: (T, B, F) for MSE with targets of the same shape, (T, B, C) for
/// cross-entropy with class targets (T, B); (B, T, …) with `batchFirst`. Set `lengths` per batch
/// (the same as the recurrent layer's); the masks are uploaded when the lengths change.
public final class MaskedLoss: Loss {
    /// The loss applied to the real steps.
    public let base: any Loss
    /// Whether predictions and targets are (B, T, …).
    public let batchFirst: Bool
    /// The real steps of each sequence of the next batch.
    public var lengths: [Int]
    private var masks: (key: [Int], keep: Tensor, ignored: Tensor?)?
    private var lastGradient: Tensor?

    /// - Parameters:
    ///   - base: an `MSELoss` or a `CrossEntropyLoss` (its reduction applies over the real steps).
    ///   - lengths: each sequence's real steps.
    public init(_ base: any Loss, lengths: [Int], batchFirst: Bool = false) throws {
        guard base is MSELoss || base is CrossEntropyLoss else {
            throw RecurrentError.invalidArgument(name: "masked loss", expected: "an MSELoss or a CrossEntropyLoss",
                                                 got: "\(type(of: base))")
        }
        self.base = base
        self.lengths = lengths
        self.batchFirst = batchFirst
    }

    public func forward(_ prediction: Tensor, _ target: Tensor) throws -> Tensor {
        lastGradient = nil
        guard prediction.rank == 3 else {
            throw RecurrentError.shapeMismatch(operation: "MaskedLoss", expected: batchFirst ? "predictions (B, T, F)" : "predictions (T, B, F)",
                                               got: "shape \(prediction.shape)")
        }
        let backend = prediction.backend
        try backend.checkDevice(target, "MaskedLoss target")
        let (t, b, f) = batchFirst ? (prediction.shape[1], prediction.shape[0], prediction.shape[2])
                                   : (prediction.shape[0], prediction.shape[1], prediction.shape[2])
        guard lengths.count == b, lengths.allSatisfy({ (1...t).contains($0) }) else {
            throw RecurrentError.invalidArgument(name: "MaskedLoss lengths", expected: "\(b) lengths, each in 1...\(t)",
                                                 got: "\(lengths)")
        }
        let real = lengths.reduce(0, +)
        let loss = try Tensor.empty([], on: backend), gradient = try Tensor.empty(prediction.shape, on: backend)
        if let mse = base as? MSELoss {
            try RecurrentError.check("MaskedLoss target", shape: target.shape, equals: prediction.shape)
            let keep = try mask(t: t, b: b, width: f, on: backend).keep                         // (T, B, F) of 0 or 1
            let p = try Tensor.empty(prediction.shape, on: backend), y = try Tensor.empty(target.shape, on: backend)
            try backend.multiply(p, prediction, keep)
            try backend.multiply(y, target, keep)
            let scale: Float = mse.reduction == .mean ? 1 / Float(real * f) : 1
            try backend.meanSquaredError(loss: loss, gradient: gradient, prediction: p, target: y, scale: scale)
        } else if let crossEntropy = base as? CrossEntropyLoss {
            let expected = batchFirst ? [b, t] : [t, b]
            try RecurrentError.check("MaskedLoss class targets", shape: target.shape, equals: expected)
            let masks = try mask(t: t, b: b, width: 1, on: backend)
            // Padded steps get the ignored class −100: no loss, zero gradient.
            let y = try Tensor.empty(target.shape, on: backend)
            try backend.multiply(y, target, masks.keep)
            try backend.axpy(y, alpha: 1, masks.ignored!)
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

    /// 1 on real steps and 0 on padded ones, repeated `width` times per step; with it (width 1)
    /// −100 on padded steps and 0 elsewhere.
    private func mask(t: Int, b: Int, width: Int, on backend: any Backend) throws -> (keep: Tensor, ignored: Tensor?) {
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
        let ignored = width == 1 ? try Tensor(shape: Array(shape.dropLast()), values: keep.map { $0 == 1 ? 0 : -100 }, on: backend) : nil
        masks = (key, keepTensor, ignored)
        return (keepTensor, ignored)
    }
}
