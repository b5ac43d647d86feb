// Reductions, penalty gradients and norm clipping on the device under test vs the reference.
// N = elements reduced (up to past three blocks of 1024).

import RecurrentKit
import ReferenceBackend
import TestSupport
import Testing

@Suite struct ReductionTests {
    @Test(arguments: Reduction.allCases, [1, 17, 1023, 1024, 1025, 3001, 5000])
    func reduce(_ reduction: Reduction, count: Int) throws {
        var random = TestRandom(seed: 30, stream: UInt64(count))
        let x = try Twin([count], &random)
        for (scale, accumulate) in [(Float(1), false), (Float(0.25), true), (Float(-3), false)] {
            let out = accumulate ? try Twin([1], [0.5]) : try Twin([1], filledWith: .nan)
            try onBoth { backend, side in
                try backend.reduce(out[side], x[side], reduction, scale: scale, accumulate: accumulate)
            }
            try out.expectClose("reduce \(reduction), \(count) elements, scale \(scale), accumulate \(accumulate)")
        }
    }

    @Test(arguments: [(Float(0), Float(0.01)), (0.001, 0), (0.003, 0.02)], elementCounts)
    func addPenaltyGradient(l1l2: (Float, Float), count: Int) throws {
        var random = TestRandom(seed: 31, stream: UInt64(count))
        var paramValues = random.uniform(count: count)
        for e in stride(from: 0, to: count, by: 3) { paramValues[e] = 0 }  // sign(0) = 0
        let param = try Twin([count], paramValues), grad = try Twin([count], &random)
        try onBoth { backend, side in try backend.addPenaltyGradient(grad[side], param[side], l1: l1l2.0, l2: l1l2.1) }
        try grad.expectClose("addPenaltyGradient l1 \(l1l2.0) l2 \(l1l2.1), \(count) elements")
    }

    /// (sum of squares, max norm): norms 3 and 0.5 clip, 0.1 and 0 (an all-zero gradient) do not.
    @Test(arguments: [(Float(9), Float(1)), (0.25, 0.1), (0.01, 1), (0, 1)], [1, 17, 3001])
    func scaleByClipCoefficient(norm: (Float, Float), count: Int) throws {
        var random = TestRandom(seed: 32, stream: UInt64(count))
        let x = try Twin([count], &random), sumOfSquares = try Twin([1], [norm.0])
        try onBoth { backend, side in
            try backend.scaleByClipCoefficient(x[side], sumOfSquares: sumOfSquares[side], maxNorm: norm.1)
        }
        try x.expectClose("scaleByClipCoefficient sumsq \(norm.0) max \(norm.1), \(count) elements")
        try sumOfSquares.expectClose("sum of squares unchanged", absolute: 0, relative: 0)
    }
}
