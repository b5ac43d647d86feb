// Reference losses: mean squared error and fused softmax cross-entropy.
// N = rows of logits/targets, C = classes.

import Foundation
import RecurrentCore

extension ReferenceBackend {
    /// The class target cross-entropy ignores (PyTorch's default `ignore_index`).
    static let ignoredTarget: Float = -100

    /// `loss[0] = scale · Σ (p − t)²`, `grad = 2·scale·(p − t)`; the sum accumulates in Double.
    public func meanSquaredError(loss: Tensor, gradient: Tensor, prediction: Tensor, target: Tensor,
                                 scale: Float) throws {
        try RecurrentError.check("meanSquaredError loss", count: loss.count, equals: 1)
        try RecurrentError.check("meanSquaredError target vs prediction", count: target.count, equals: prediction.count)
        try RecurrentError.check("meanSquaredError gradient vs prediction", count: gradient.count, equals: prediction.count)
        let pv = try read(prediction, "meanSquaredError prediction"), tv = try read(target, "meanSquaredError target")
        var sum: Double = 0
        var grad = [Float](repeating: 0, count: pv.count)
        for e in 0..<pv.count {
            let d = pv[e] - tv[e]
            sum += Double(d) * Double(d)
            grad[e] = 2 * scale * d
        }
        try write(grad, to: gradient, "meanSquaredError gradient")
        try write([Float(Double(scale) * sum)], to: loss, "meanSquaredError loss")
    }

    /// Softmax cross-entropy over logits (N, C) and class indices (N), max-shifted, in Double:
    /// `loss[0] = scale · Σ_n (logsumexp(x_n) − x_n[t_n])`, `grad = scale · (softmax(x) − onehot(t))`.
    /// A target of −100 (ignored) gives its row no loss and a zero gradient; any other target that
    /// is not an integer in 0..<C gives its row a NaN loss and NaN gradient.
    public func softmaxCrossEntropy(loss: Tensor, gradient: Tensor, logits: Tensor, targets: Tensor,
                                    scale: Float) throws {
        try RecurrentError.check("softmaxCrossEntropy loss", count: loss.count, equals: 1)
        try RecurrentError.check("softmaxCrossEntropy gradient vs logits", count: gradient.count, equals: logits.count)
        let n = targets.count
        let classes = try n > 0 ? matrixRows(logits, columns: n, "softmaxCrossEntropy logits (N, C)") : 0
        if n == 0 { try RecurrentError.check("softmaxCrossEntropy logits (N, C)", count: logits.count, equals: 0) }
        let xv = try read(logits, "softmaxCrossEntropy logits"), tv = try read(targets, "softmaxCrossEntropy targets")
        var grad = [Float](repeating: 0, count: xv.count)
        var total: Double = 0
        for row in 0..<n {
            let x = (0..<classes).map { Double(xv[row * classes + $0]) }
            if tv[row] == Self.ignoredTarget { continue }   // zero loss, zero gradient
            guard let target = Self.integerIndex(tv[row], below: classes) else {
                for c in 0..<classes { grad[row * classes + c] = .nan }
                total += .nan
                continue
            }
            let maximum = x.max() ?? 0
            let sumExp = x.reduce(0) { $0 + Foundation.exp($1 - maximum) }
            total += maximum + Foundation.log(sumExp) - x[target]
            for c in 0..<classes {
                let softmax = Foundation.exp(x[c] - maximum) / sumExp
                grad[row * classes + c] = Float(Double(scale) * (softmax - (c == target ? 1 : 0)))
            }
        }
        try write(grad, to: gradient, "softmaxCrossEntropy gradient")
        try write([Float(Double(scale) * total)], to: loss, "softmaxCrossEntropy loss")
    }
}
