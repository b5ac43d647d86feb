// Full reductions to a scalar (Kernels/reduction.cl), in the CPU backend's block order.
import RecurrentCore

extension Reduction {
    /// The code the kernels use (Kernels/reduction.cl).
    var kernelCode: Int32 {
        switch self {
        case .sum: return 0
        case .sumOfSquares: return 1
        case .sumOfAbsolute: return 2
        }
    }
}

extension OpenCLBackend {
    /// Blocks of the fixed summation order (Kernels/common.cl REDUCTION_BLOCK).
    static let reductionBlock = 1024

    /// Number of blocks over `n` terms.
    func reductionBlocks(_ n: Int) -> Int { (n + Self.reductionBlock - 1) / Self.reductionBlock }

    public func reduce(_ out: Tensor, _ x: Tensor, _ reduction: Reduction, scale: Float, accumulate: Bool) throws {
        try RecurrentError.check("reduce out", count: out.count, equals: 1)
        let blocks = reductionBlocks(x.count)
        let partials = try scratch(blocks)                                                  // (blocks)
        try launch(.reduceBlocks, items: blocks,
                   [.memory(memory(partials, "reduce")), .tensor(x), .count(x.count), .int(reduction.kernelCode)])
        try finishReduction(out, partials: partials, blocks: blocks, scale: scale, accumulate: accumulate)
    }

    /// `out[0] = (accumulate ? out[0] : 0) + scale · Σ partials[0..<blocks]`, in order.
    func finishReduction(_ out: Tensor, partials: Tensor, blocks: Int, scale: Float, accumulate: Bool) throws {
        try launch(.reduceFinish, items: 1,
                   [.tensor(out), .memory(memory(partials, "reduce")), .count(blocks), .float(scale), .flag(accumulate)],
                   single: true)
    }
}
