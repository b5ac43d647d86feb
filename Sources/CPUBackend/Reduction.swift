// Full reductions to a scalar, summed in fixed blocks (see `blockedSum`).
import RecurrentCore

extension CPUBackend {
    public func reduce(_ out: Tensor, _ x: Tensor, _ reduction: Reduction, scale: Float, accumulate: Bool) throws {
        let po = try pointer(out, count: 1, "reduce out"), px = try pointer(x, "reduce x")
        let sum: Float
        switch reduction {
        case .sum: sum = blockedSum(count: x.count) { px[$0] }
        case .sumOfSquares: sum = blockedSum(count: x.count) { px[$0] * px[$0] }
        case .sumOfAbsolute: sum = blockedSum(count: x.count) { abs(px[$0]) }
        }
        po[0] = (accumulate ? po[0] : 0) + scale * sum
    }
}
