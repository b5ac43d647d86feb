// Elementwise ops on the device under test vs the reference.
// R × C = rows × columns of a matrix; N = elements.

import RecurrentKit
import ReferenceBackend
import TestSupport
import Testing

/// Sizes every elementwise test runs: odd, tiny and past any vector width.
let elementCounts = [1, 3, 17, 129, 3001]

/// (R, C) shapes for the row/column ops.
let matrixShapes: [(Int, Int)] = [(1, 1), (3, 17), (17, 3), (129, 1), (1, 129), (17, 129)]

@Suite struct ElementwiseTests {
    @Test(arguments: matrixShapes)
    func addBias(rows: Int, columns: Int) throws {
        var random = TestRandom(seed: 20, stream: UInt64(rows * 1000 + columns))
        let x = try Twin([rows, columns], &random), bias = try Twin([columns], &random)
        try onBoth { backend, side in try backend.addBias(x[side], bias[side]) }
        try x.expectClose("addBias (\(rows), \(columns))")
    }

    @Test(arguments: matrixShapes, [false, true])
    func sumColumns(shape: (Int, Int), accumulate: Bool) throws {
        let (rows, columns) = shape
        var random = TestRandom(seed: 21, stream: UInt64(rows * 1000 + columns))
        let x = try Twin([rows, columns], &random)
        let out = accumulate ? try Twin([columns], &random) : try Twin([columns], filledWith: .nan)
        try onBoth { backend, side in try backend.sumColumns(out[side], x[side], accumulate: accumulate) }
        try out.expectClose("sumColumns (\(rows), \(columns)) accumulate \(accumulate)")
    }

    @Test(arguments: Activation.allCases, elementCounts)
    func activationForward(_ activation: Activation, count: Int) throws {
        var random = TestRandom(seed: 22, stream: UInt64(count))
        let x = try Twin([count], &random, low: -4, high: 4)
        let y = try Twin([count], filledWith: .nan)
        try onBoth { backend, side in try backend.activationForward(y[side], x[side], activation) }
        try y.expectClose("\(activation) forward, \(count) elements")
    }

    @Test(arguments: Activation.allCases, [false, true])
    func activationBackward(_ activation: Activation, accumulate: Bool) throws {
        for count in elementCounts {
            var random = TestRandom(seed: 23, stream: UInt64(count))
            // y = f(x) computed by the reference, so both backends see the same, consistent y.
            let yHost = try Tensor(shape: [count], values: random.uniform(count: count, low: -3, high: 3),
                                   on: Side.referenceBackend)
            try Side.referenceBackend.activationForward(yHost, yHost, activation)
            let y = try Twin([count], yHost.toArray()), dy = try Twin([count], &random)
            let dx = accumulate ? try Twin([count], &random) : try Twin([count], filledWith: .nan)
            try onBoth { backend, side in
                try backend.activationBackward(dx[side], dy[side], y[side], activation, accumulate: accumulate)
            }
            try dx.expectClose("\(activation) backward, \(count) elements, accumulate \(accumulate)")
        }
    }

    @Test(arguments: elementCounts)
    func axpyScaleMultiplyClamp(count: Int) throws {
        var random = TestRandom(seed: 24, stream: UInt64(count))
        let x = try Twin([count], &random), y = try Twin([count], &random)
        try onBoth { backend, side in try backend.axpy(y[side], alpha: -0.75, x[side]) }
        try y.expectClose("axpy, \(count) elements")

        let s = try Twin([count], &random)
        try onBoth { backend, side in try backend.scale(s[side], by: 1.7) }
        try s.expectClose("scale, \(count) elements")

        let a = try Twin([count], &random), b = try Twin([count], &random), out = try Twin([count], filledWith: .nan)
        try onBoth { backend, side in try backend.multiply(out[side], a[side], b[side]) }
        try out.expectClose("multiply, \(count) elements")

        let c = try Twin([count], &random, low: -2, high: 2)
        try onBoth { backend, side in try backend.clamp(c[side], low: -0.5, high: 1.25) }
        try c.expectClose("clamp, \(count) elements", absolute: 0, relative: 0)
    }
}
