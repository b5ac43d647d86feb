// Attention ops on the device under test vs the reference: masked softmax over time, weighted
// sum of values, the per-sequence dot of keys with a query, and their gradients, on odd shapes,
// with and without lengths.
// T = time steps, B = batch, D = feature size.

import RecurrentKit
import ReferenceBackend
import TestSupport
import Testing

@Suite struct AttentionOpTests {
    /// (T, B, D): odd sizes, a single step, a single sequence.
    static let shapes: [(Int, Int, Int)] = [(7, 5, 3), (1, 5, 3), (7, 1, 3), (1, 1, 1), (4, 3, 17)]

    /// Lengths for B sequences of T steps: T, 1, and values in between, in turn.
    static func lengths(steps t: Int, batch b: Int) -> [Float] {
        let pattern = [t, 1, (t + 1) / 2, t, max(1, t - 2)]
        return (0..<b).map { Float(pattern[$0 % pattern.count]) }
    }

    @Test(arguments: shapes, [false, true])
    func sequenceSoftmax(shape: (Int, Int, Int), withLengths: Bool) throws {
        let (t, b, _) = shape
        var random = TestRandom(seed: 90, stream: UInt64(t * 100 + b) * 2 + (withLengths ? 1 : 0))
        var scores = random.uniform(count: t * b, low: -3, high: 3)
        if t > 1 { for column in 0..<b { scores[b + column] *= 1000 } }   // huge scores need the max shift
        let scoresTwin = try Twin([t, b], scores)
        let lengthValues = Self.lengths(steps: t, batch: b)
        let lengths = try Twin([b], lengthValues)
        let weights = try Twin([t, b], filledWith: .nan)
        try onBoth { backend, side in
            try backend.sequenceSoftmax(weights[side], scores: scoresTwin[side], lengths: withLengths ? lengths[side] : nil)
        }
        let label = "sequenceSoftmax (\(t), \(b)) lengths \(withLengths)"
        try weights.expectClose(label)
        try scoresTwin.expectClose("\(label): scores untouched", absolute: 0, relative: 0)
        // Each column sums to 1 over its valid steps and is exactly 0 after them.
        let w = try weights.device.toArray()
        for column in 0..<b {
            let valid = withLengths ? Int(lengthValues[column]) : t
            let sum = (0..<valid).reduce(Float(0)) { $0 + w[$1 * b + column] }
            #expect(abs(sum - 1) < 1e-5, "\(label): column \(column) sums to \(sum)")
            for step in valid..<t {
                #expect(w[step * b + column] == 0, "\(label): padded step \(step) of column \(column) has weight \(w[step * b + column])")
            }
        }
    }

    /// Lengths 0, T + 1, 2.5, −1 and NaN are not integers in 1...T: those columns are NaN, the others normal.
    @Test func sequenceSoftmaxInvalidLengthGivesNaNColumn() throws {
        let (t, b) = (7, 7)
        var random = TestRandom(seed: 91)
        let scores = try Twin([t, b], &random, low: -2, high: 2)
        let lengthValues: [Float] = [0, 7, 8, 2.5, 1, -1, .nan]
        let lengths = try Twin([b], lengthValues)
        let weights = try Twin([t, b], filledWith: 42)
        try onBoth { backend, side in try backend.sequenceSoftmax(weights[side], scores: scores[side], lengths: lengths[side]) }
        try weights.expectClose("sequenceSoftmax invalid lengths")
        let w = try weights.device.toArray()
        for (column, length) in lengthValues.enumerated() {
            let values = (0..<t).map { w[$0 * b + column] }
            let valid = length >= 1 && length <= Float(t) && length.rounded() == length
            if valid {
                #expect(values.allSatisfy { !$0.isNaN }, "length \(length): weights \(values)")
            } else {
                #expect(values.allSatisfy { $0.isNaN }, "length \(length): weights \(values) should all be NaN")
            }
        }
    }

    @Test(arguments: shapes, [false, true])
    func sequenceSoftmaxBackward(shape: (Int, Int, Int), withLengths: Bool) throws {
        let (t, b, _) = shape
        var random = TestRandom(seed: 92, stream: UInt64(t * 100 + b) * 2 + (withLengths ? 1 : 0))
        // Real weights (a softmax of random scores, masked or not) so that the sums mean something.
        let scores = try Twin([t, b], &random, low: -2, high: 2)
        let lengths = try Twin([b], Self.lengths(steps: t, batch: b))
        let weights = try Twin([t, b], filledWith: .nan)
        try onBoth { backend, side in
            try backend.sequenceSoftmax(weights[side], scores: scores[side], lengths: withLengths ? lengths[side] : nil)
        }
        let gradWeights = try Twin([t, b], &random)
        let gradScores = try Twin([t, b], filledWith: .nan)
        try onBoth { backend, side in
            try backend.sequenceSoftmaxBackward(gradScores: gradScores[side], gradWeights: gradWeights[side], weights: weights[side])
        }
        let label = "sequenceSoftmaxBackward (\(t), \(b)) lengths \(withLengths)"
        try gradScores.expectClose(label)
        // Masked steps get no gradient; each column's gradient sums to 0 (softmax is shift-invariant).
        let (w, g) = (try weights.device.toArray(), try gradScores.device.toArray())
        for e in 0..<(t * b) where w[e] == 0 { #expect(g[e] == 0, "\(label): masked element \(e) has gradient \(g[e])") }
        for column in 0..<b {
            let sum = (0..<t).reduce(Float(0)) { $0 + g[$1 * b + column] }
            #expect(abs(sum) < 1e-5, "\(label): column \(column) gradient sums to \(sum)")
        }
    }

    @Test(arguments: shapes)
    func weightedSum(shape: (Int, Int, Int)) throws {
        let (t, b, d) = shape
        var random = TestRandom(seed: 93, stream: UInt64(t * 10_000 + b * 100 + d))
        let values = try Twin([t, b, d], &random, low: -3, high: 3)
        var weightValues = random.uniform(count: t * b, low: 0, high: 1)
        if t > 1 { weightValues[(t - 1) * b] = 0 }   // a padded step: its values must not count
        let weights = try Twin([t, b], weightValues)
        let context = try Twin([b, d], filledWith: .nan)
        try onBoth { backend, side in try backend.weightedSum(context[side], values: values[side], weights: weights[side]) }
        try context.expectClose("weightedSum (\(t), \(b), \(d))")
    }

    @Test(arguments: shapes)
    func weightedSumBackward(shape: (Int, Int, Int)) throws {
        let (t, b, d) = shape
        var random = TestRandom(seed: 94, stream: UInt64(t * 10_000 + b * 100 + d))
        let values = try Twin([t, b, d], &random, low: -3, high: 3)
        let weights = try Twin([t, b], &random, low: 0, high: 1)
        let gradContext = try Twin([b, d], &random)
        let gradValues = try Twin([t, b, d], filledWith: .nan), gradWeights = try Twin([t, b], filledWith: .nan)
        try onBoth { backend, side in
            try backend.weightedSumBackward(gradValues: gradValues[side], gradWeights: gradWeights[side],
                                            gradContext: gradContext[side], values: values[side], weights: weights[side])
        }
        try gradValues.expectClose("weightedSumBackward (\(t), \(b), \(d)) gradValues")
        try gradWeights.expectClose("weightedSumBackward (\(t), \(b), \(d)) gradWeights")
    }

    @Test(arguments: shapes)
    func batchedDot(shape: (Int, Int, Int)) throws {
        let (t, b, d) = shape
        var random = TestRandom(seed: 95, stream: UInt64(t * 10_000 + b * 100 + d))
        let keys = try Twin([t, b, d], &random, low: -3, high: 3), query = try Twin([b, d], &random)
        let scores = try Twin([t, b], filledWith: .nan)
        try onBoth { backend, side in try backend.batchedDot(scores[side], keys: keys[side], query: query[side]) }
        try scores.expectClose("batchedDot (\(t), \(b), \(d))")
        try keys.expectClose("batchedDot (\(t), \(b), \(d)): keys untouched", absolute: 0, relative: 0)
    }

    /// Both gradients, and each alone (the other output, nil, is not written).
    @Test(arguments: shapes, [(true, true), (true, false), (false, true)])
    func batchedDotBackward(shape: (Int, Int, Int), wanted: (keys: Bool, query: Bool)) throws {
        let (t, b, d) = shape
        var random = TestRandom(seed: 96, stream: UInt64(t * 10_000 + b * 100 + d))
        let keys = try Twin([t, b, d], &random, low: -3, high: 3), query = try Twin([b, d], &random)
        let gradScores = try Twin([t, b], &random)
        let gradKeys = try Twin([t, b, d], filledWith: .nan), gradQuery = try Twin([b, d], filledWith: .nan)
        try onBoth { backend, side in
            try backend.batchedDotBackward(gradKeys: wanted.keys ? gradKeys[side] : nil, gradQuery: wanted.query ? gradQuery[side] : nil,
                                           gradScores: gradScores[side], keys: keys[side], query: query[side])
        }
        let label = "batchedDotBackward (\(t), \(b), \(d)) keys \(wanted.keys) query \(wanted.query)"
        if wanted.keys { try gradKeys.expectClose("\(label) gradKeys") }
        if wanted.query { try gradQuery.expectClose("\(label) gradQuery") }
        #expect(try wanted.keys || gradKeys.device.toArray().allSatisfy(\.isNaN), "\(label): gradKeys was written")
        #expect(try wanted.query || gradQuery.device.toArray().allSatisfy(\.isNaN), "\(label): gradQuery was written")
    }

    /// Wrong element counts and ranks throw `.shapeMismatch` on both backends.
    @Test(arguments: Side.allCases)
    func shapeMismatchThrows(_ side: Side) throws {
        let backend = side.backend
        let (t, b, d) = (4, 3, 2)
        let tb = try Tensor.zeros([t, b], on: backend), flat = try Tensor.zeros([t * b], on: backend)
        let wrongTB = try Tensor.zeros([t, b + 1], on: backend)
        let wrongLengths = try Tensor.zeros([b + 1], on: backend, value: 1)
        let values = try Tensor.zeros([t, b, d], on: backend), wrongValues = try Tensor.zeros([t, b, d + 1], on: backend)
        let shortValues = try Tensor.zeros([t, b - 1, d], on: backend)
        let context = try Tensor.zeros([b, d], on: backend), wrongContext = try Tensor.zeros([b, d + 1], on: backend)
        #expect(performing: { try backend.sequenceSoftmax(wrongTB, scores: tb, lengths: nil) }, throws: isShapeMismatch)
        #expect(performing: { try backend.sequenceSoftmax(tb, scores: flat, lengths: nil) }, throws: isShapeMismatch)
        #expect(performing: { try backend.sequenceSoftmax(tb, scores: tb, lengths: wrongLengths) }, throws: isShapeMismatch)
        #expect(performing: { try backend.sequenceSoftmaxBackward(gradScores: wrongTB, gradWeights: tb, weights: tb) },
                throws: isShapeMismatch)
        #expect(performing: { try backend.sequenceSoftmaxBackward(gradScores: tb, gradWeights: wrongTB, weights: tb) },
                throws: isShapeMismatch)
        #expect(performing: { try backend.sequenceSoftmaxBackward(gradScores: tb, gradWeights: tb, weights: flat) },
                throws: isShapeMismatch)
        #expect(performing: { try backend.weightedSum(wrongContext, values: values, weights: tb) }, throws: isShapeMismatch)
        #expect(performing: { try backend.weightedSum(context, values: shortValues, weights: tb) }, throws: isShapeMismatch)
        #expect(performing: { try backend.weightedSum(context, values: values, weights: flat) }, throws: isShapeMismatch)
        #expect(performing: {
            try backend.weightedSumBackward(gradValues: wrongValues, gradWeights: tb, gradContext: context, values: values, weights: tb)
        }, throws: isShapeMismatch)
        #expect(performing: {
            try backend.weightedSumBackward(gradValues: values, gradWeights: wrongTB, gradContext: context, values: values, weights: tb)
        }, throws: isShapeMismatch)
        #expect(performing: {
            try backend.weightedSumBackward(gradValues: values, gradWeights: tb, gradContext: wrongContext, values: values, weights: tb)
        }, throws: isShapeMismatch)
        #expect(performing: {
            try backend.weightedSumBackward(gradValues: values, gradWeights: tb, gradContext: context, values: shortValues, weights: tb)
        }, throws: isShapeMismatch)
        #expect(performing: { try backend.batchedDot(flat, keys: values, query: context) }, throws: isShapeMismatch)
        #expect(performing: { try backend.batchedDot(tb, keys: shortValues, query: context) }, throws: isShapeMismatch)
        #expect(performing: { try backend.batchedDot(tb, keys: values, query: wrongContext) }, throws: isShapeMismatch)
        #expect(performing: {
            try backend.batchedDotBackward(gradKeys: wrongValues, gradQuery: nil, gradScores: tb, keys: values, query: context)
        }, throws: isShapeMismatch)
        #expect(performing: {
            try backend.batchedDotBackward(gradKeys: nil, gradQuery: wrongContext, gradScores: tb, keys: values, query: context)
        }, throws: isShapeMismatch)
        #expect(performing: {
            try backend.batchedDotBackward(gradKeys: values, gradQuery: context, gradScores: wrongTB, keys: values, query: context)
        }, throws: isShapeMismatch)
    }
}
