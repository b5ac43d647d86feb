// Losses with their gradients in one pass. N = rows, C = classes.
import Foundation
import RecurrentCore

extension CPUBackend {
    public func meanSquaredError(loss: Tensor, gradient: Tensor, prediction: Tensor, target: Tensor, scale: Float) throws {
        let n = prediction.count
        let pl = try pointer(loss, count: 1, "meanSquaredError loss")
        let pg = try pointer(gradient, count: n, "meanSquaredError gradient")
        let pp = try pointer(prediction, "meanSquaredError prediction"), pt = try pointer(target, count: n, "meanSquaredError target")
        pl[0] = scale * blockedSum(count: n) { i in
            let d = pp[i] - pt[i]
            return d * d
        }
        for i in 0..<n { pg[i] = 2 * scale * (pp[i] - pt[i]) }
    }

    public func softmaxCrossEntropy(loss: Tensor, gradient: Tensor, logits: Tensor, targets: Tensor, scale: Float) throws {
        let n = targets.count
        guard n > 0, logits.count % n == 0, logits.count > 0 else {
            throw RecurrentError.shapeMismatch(operation: "softmaxCrossEntropy", expected: "logits (N, C) with N = \(n) targets",
                                               got: "logits shape \(logits.shape)")
        }
        let c = logits.count / n
        let pl = try pointer(loss, count: 1, "softmaxCrossEntropy loss")
        let pg = try pointer(gradient, count: n * c, "softmaxCrossEntropy gradient")
        let px = try pointer(logits, "softmaxCrossEntropy logits"), pt = try pointer(targets, "softmaxCrossEntropy targets")
        pl[0] = scale * blockedSum(count: n) { r in
            let x = px + r * c, g = pg + r * c
            let label = pt[r]
            if label == -100 {   // ignored (PyTorch's ignore_index): no loss, zero gradient
                g.update(repeating: 0, count: c)
                return 0
            }
            guard label >= 0, label < Float(c), label == label.rounded(.towardZero) else {
                g.update(repeating: .nan, count: c)
                return .nan
            }
            let target = Int(label)
            var m = x[0]
            for j in 1..<c { m = max(m, x[j]) }
            var s: Float = 0
            for j in 0..<c { s += expf(x[j] - m) }
            for j in 0..<c { g[j] = scale * (expf(x[j] - m) / s - (j == target ? 1 : 0)) }
            return (m + logf(s)) - x[target]
        }
    }
}
