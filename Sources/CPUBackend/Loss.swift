// Losses with their gradients in one pass. N = rows, C = classes.
import CRecurrentGEMM
import Foundation
import RecurrentCore

extension CPUBackend {
    public func meanSquaredError(loss: Tensor, gradient: Tensor, prediction: Tensor, target: Tensor, scale: Float) throws {
        let n = prediction.count
        let pl = try pointer(loss, count: 1, "meanSquaredError loss")
        let pg = SendablePointer(try pointer(gradient, count: n, "meanSquaredError gradient"))
        let pp = SendablePointer(try pointer(prediction, "meanSquaredError prediction"))
        let pt = SendablePointer(try pointer(target, count: n, "meanSquaredError target"))
        // rk_squared_error (recurrent_training.h) per part; the parts' double sums added in order.
        let parts = Locked<[Int: Double]>([:])
        try splitRows(n, width: 1) { r in
            let sum = rk_squared_error(pg.pointer + r.lowerBound, pp.pointer + r.lowerBound, pt.pointer + r.lowerBound, r.count, scale)
            parts.withLock { $0[r.lowerBound] = sum }
        }
        let total = parts.withLock { $0.sorted { $0.key < $1.key }.reduce(0) { $0 + $1.value } }
        pl[0] = Float(Double(scale) * total)
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
