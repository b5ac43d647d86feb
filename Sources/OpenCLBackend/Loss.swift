// Losses with their gradients (Kernels/loss.cl). N = rows or elements, C = classes.
import RecurrentCore

extension OpenCLBackend {
    public func meanSquaredError(loss: Tensor, gradient: Tensor, prediction: Tensor, target: Tensor, scale: Float) throws {
        let n = prediction.count
        try RecurrentError.check("meanSquaredError loss", count: loss.count, equals: 1)
        try RecurrentError.check("meanSquaredError gradient", count: gradient.count, equals: n)
        try RecurrentError.check("meanSquaredError target", count: target.count, equals: n)
        let blocks = reductionBlocks(n)
        let partials = try scratch(blocks)                                                  // (blocks)
        try launch(.mseBlocks, items: blocks * tuning.workGroupSize,
                   [.memory(memory(partials, "meanSquaredError")), .tensor(gradient), .tensor(prediction), .tensor(target),
                    .count(n), .float(scale)])
        try finishReduction(loss, partials: partials, blocks: blocks, scale: scale, accumulate: false)
    }

    public func softmaxCrossEntropy(loss: Tensor, gradient: Tensor, logits: Tensor, targets: Tensor, scale: Float) throws {
        let n = targets.count
        guard n > 0, logits.count % n == 0, logits.count > 0 else {
            throw RecurrentError.shapeMismatch(operation: "softmaxCrossEntropy", expected: "logits (N, C) with N = \(n) targets",
                                               got: "logits shape \(logits.shape)")
        }
        let c = logits.count / n
        try RecurrentError.check("softmaxCrossEntropy loss", count: loss.count, equals: 1)
        try RecurrentError.check("softmaxCrossEntropy gradient", count: gradient.count, equals: n * c)
        let rowLoss = try scratch(n)                                                        // (N)
        try launch(.softmaxCrossEntropyRows, items: n,
                   [.memory(memory(rowLoss, "softmaxCrossEntropy")), .tensor(gradient), .tensor(logits), .tensor(targets),
                    .size(n), .size(c), .float(scale)])
        // Σ over rows in the fixed order of `reduce`, then times scale.
        try reduce(loss, rowLoss.slice(0..<n), .sum, scale: scale, accumulate: false)
    }
}
