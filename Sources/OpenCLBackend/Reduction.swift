// Full reductions to a scalar and column sums (Kernels/reduction.cl): one work-group per block of
// 1024 terms, then a fixed tree, so a run repeats bit for bit (no atomics).
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
        try launch(.reduceBlocks, items: blocks * tuning.workGroupSize,
                   [.memory(memory(partials, "reduce")), .tensor(x), .count(x.count), .int(reduction.kernelCode)])
        try finishReduction(out, partials: partials, blocks: blocks, scale: scale, accumulate: accumulate)
    }

    /// `out[0] = (accumulate ? out[0] : 0) + scale · Σ partials[0..<blocks]`, in one work-group.
    func finishReduction(_ out: Tensor, partials: Tensor, blocks: Int, scale: Float, accumulate: Bool) throws {
        try launch(.reduceFinish, items: tuning.workGroupSize,
                   [.tensor(out), .memory(memory(partials, "reduce")), .count(blocks), .float(scale), .flag(accumulate)])
    }
}

extension OpenCLBackend {
    public func sumColumns(_ out: Tensor, _ x: Tensor, accumulate: Bool) throws {
        let c = out.count
        guard c > 0, x.count % c == 0 else {
            throw RecurrentError.shapeMismatch(operation: "sumColumns", expected: "x with a multiple of \(c) elements",
                                               got: "shape \(x.shape)")
        }
        // A group per SUM_COLUMNS_TILE columns (Kernels/reduction.cl).
        let tile = min(tuning.workGroupSize, 32)
        try launch(.sumColumns, items: (c + tile - 1) / tile * tuning.workGroupSize,
                   [.tensor(out), .tensor(x), .count(x.count / c), .size(c), .flag(accumulate)])
    }
}
