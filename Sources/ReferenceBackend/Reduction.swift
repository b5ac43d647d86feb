// Reference reductions: full reductions to a scalar, penalty gradients, norm clipping.
// N = elements reduced; blocks of 1024 elements, then the block sums, as the protocol fixes.

import Foundation
import RecurrentCore

extension ReferenceBackend {
    /// Elements per block of the fixed summation order.
    static let reductionBlock = 1024

    /// `out[0] = (accumulate ? out[0] : 0) + scale · reduction(x)`, summed in Float in the
    /// protocol's order: each block of 1024 elements from its first element, then the block sums in order.
    public func reduce(_ out: Tensor, _ x: Tensor, _ reduction: Reduction, scale: Float, accumulate: Bool) throws {
        try RecurrentError.check("reduce out", count: out.count, equals: 1)
        let xv = try read(x, "reduce x")
        var blockSums: [Float] = []
        var start = 0
        while start < xv.count {
            var sum: Float = 0
            for e in start..<Swift.min(start + Self.reductionBlock, xv.count) {
                switch reduction {
                case .sum: sum += xv[e]
                case .sumOfSquares: sum += xv[e] * xv[e]
                case .sumOfAbsolute: sum += Swift.abs(xv[e])
                }
            }
            blockSums.append(sum)
            start += Self.reductionBlock
        }
        var total: Float = 0
        for s in blockSums { total += s }
        let previous = accumulate ? try read(out, "reduce out")[0] : 0
        try write([previous + scale * total], to: out, "reduce out")
    }

    /// sign(x) with sign(0) = 0.
    static func sign(_ x: Float) -> Float { x > 0 ? 1 : (x < 0 ? -1 : 0) }

    /// `grad += l1·sign(param) + 2·l2·param`.
    public func addPenaltyGradient(_ grad: Tensor, _ param: Tensor, l1: Float, l2: Float) throws {
        try RecurrentError.check("addPenaltyGradient param vs grad", count: param.count, equals: grad.count)
        let pv = try read(param, "addPenaltyGradient param")
        var gv = try read(grad, "addPenaltyGradient grad")
        for e in 0..<gv.count { gv[e] += l1 * Self.sign(pv[e]) + 2 * l2 * pv[e] }
        try write(gv, to: grad, "addPenaltyGradient grad")
    }

    /// `x *= min(1, maxNorm / (sqrt(sumOfSquares[0]) + 1e-6))`.
    public func scaleByClipCoefficient(_ x: Tensor, sumOfSquares: Tensor, maxNorm: Float) throws {
        try RecurrentError.check("scaleByClipCoefficient sumOfSquares", count: sumOfSquares.count, equals: 1)
        let total = try read(sumOfSquares, "scaleByClipCoefficient sumOfSquares")[0]
        let coefficient = Swift.min(1, maxNorm / (total.squareRoot() + 1e-6))
        let xv = try read(x, "scaleByClipCoefficient x")
        try write(xv.map { $0 * coefficient }, to: x, "scaleByClipCoefficient x")
    }
}
