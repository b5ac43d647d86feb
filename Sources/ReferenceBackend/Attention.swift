// Reference attention ops: masked softmax over time, weighted sum of values, their gradients.
// T = time steps, B = batch, D = feature size; scores and weights (T, B), values (T, B, D),
// context (B, D), lengths (B) holding step counts as floats. Sums accumulate in Double.

import Foundation
import RecurrentCore

extension ReferenceBackend {
    /// Softmax over t < lengths[b] of each column of scores (T, B), max-shifted, in Double; steps at or
    /// past the length get 0, and a length that is not an integer in 1...T gives a column of NaN.
    public func sequenceSoftmax(_ weights: Tensor, scores: Tensor, lengths: Tensor?) throws {
        let (t, b) = try AttentionShapes.sequenceSizes(scores, "sequenceSoftmax scores (T, B)")
        try RecurrentError.check("sequenceSoftmax weights (T, B)", count: weights.count, equals: t * b)
        let sv = try read(scores, "sequenceSoftmax scores")
        let lv = try lengths.map { length -> [Float] in
            try RecurrentError.check("sequenceSoftmax lengths (B)", count: length.count, equals: b)
            return try read(length, "sequenceSoftmax lengths")
        }
        var wv = [Float](repeating: 0, count: t * b)
        for column in 0..<b {
            var valid = t
            if let lv {
                // A valid length L is an integer in 1...T: L − 1 is an index below T.
                guard let index = Self.integerIndex(lv[column] - 1, below: t) else {
                    for step in 0..<t { wv[step * b + column] = .nan }
                    continue
                }
                valid = index + 1
            }
            let s = (0..<valid).map { Double(sv[$0 * b + column]) }
            let maximum = s.max() ?? 0
            let total = s.reduce(0) { $0 + Foundation.exp($1 - maximum) }
            for step in 0..<valid { wv[step * b + column] = Float(Foundation.exp(s[step] - maximum) / total) }
        }
        try write(wv, to: weights, "sequenceSoftmax weights")
    }

    /// `gradScores[t, b] = w[t, b]·(gW[t, b] − Σ_t' w[t', b]·gW[t', b])`, the sum in Double.
    public func sequenceSoftmaxBackward(gradScores: Tensor, gradWeights: Tensor, weights: Tensor) throws {
        let (t, b) = try AttentionShapes.sequenceSizes(weights, "sequenceSoftmaxBackward weights (T, B)")
        try RecurrentError.check("sequenceSoftmaxBackward gradScores (T, B)", count: gradScores.count, equals: t * b)
        try RecurrentError.check("sequenceSoftmaxBackward gradWeights (T, B)", count: gradWeights.count, equals: t * b)
        let wv = try read(weights, "sequenceSoftmaxBackward weights")
        let gv = try read(gradWeights, "sequenceSoftmaxBackward gradWeights")
        var out = [Float](repeating: 0, count: t * b)
        for column in 0..<b {
            var dot: Double = 0
            for step in 0..<t { dot += Double(wv[step * b + column]) * Double(gv[step * b + column]) }
            for step in 0..<t {
                let e = step * b + column
                out[e] = Float(Double(wv[e]) * (Double(gv[e]) - dot))
            }
        }
        try write(out, to: gradScores, "sequenceSoftmaxBackward gradScores")
    }

    /// `context[b, d] = Σ_t weights[t, b]·values[t, b, d]`, summed in Double.
    public func weightedSum(_ context: Tensor, values: Tensor, weights: Tensor) throws {
        let (t, b) = try AttentionShapes.sequenceSizes(weights, "weightedSum weights (T, B)")
        let d = try AttentionShapes.featureSize(values: values, t: t, b: b, "weightedSum values (T, B, D)")
        try RecurrentError.check("weightedSum context (B, D)", count: context.count, equals: b * d)
        let vv = try read(values, "weightedSum values"), wv = try read(weights, "weightedSum weights")
        var out = [Float](repeating: 0, count: b * d)
        for column in 0..<b {
            for j in 0..<d {
                var sum: Double = 0
                for step in 0..<t {
                    sum += Double(wv[step * b + column]) * Double(vv[(step * b + column) * d + j])
                }
                out[column * d + j] = Float(sum)
            }
        }
        try write(out, to: context, "weightedSum context")
    }

    /// `gradValues[t, b, d] = weights[t, b]·gradContext[b, d]`; `gradWeights[t, b] = Σ_d gradContext[b, d]·values[t, b, d]`
    /// (in Double).
    public func weightedSumBackward(gradValues: Tensor, gradWeights: Tensor, gradContext: Tensor, values: Tensor,
                                    weights: Tensor) throws {
        let (t, b) = try AttentionShapes.sequenceSizes(weights, "weightedSumBackward weights (T, B)")
        let d = try AttentionShapes.featureSize(values: values, t: t, b: b, "weightedSumBackward values (T, B, D)")
        try RecurrentError.check("weightedSumBackward gradValues (T, B, D)", count: gradValues.count, equals: t * b * d)
        try RecurrentError.check("weightedSumBackward gradWeights (T, B)", count: gradWeights.count, equals: t * b)
        try RecurrentError.check("weightedSumBackward gradContext (B, D)", count: gradContext.count, equals: b * d)
        let vv = try read(values, "weightedSumBackward values"), wv = try read(weights, "weightedSumBackward weights")
        let gc = try read(gradContext, "weightedSumBackward gradContext")
        var gradV = [Float](repeating: 0, count: t * b * d), gradW = [Float](repeating: 0, count: t * b)
        for step in 0..<t {
            for column in 0..<b {
                let e = step * b + column
                var dot: Double = 0
                for j in 0..<d {
                    gradV[e * d + j] = wv[e] * gc[column * d + j]
                    dot += Double(gc[column * d + j]) * Double(vv[e * d + j])
                }
                gradW[e] = Float(dot)
            }
        }
        try write(gradV, to: gradValues, "weightedSumBackward gradValues")
        try write(gradW, to: gradWeights, "weightedSumBackward gradWeights")
    }

    /// `scores[t, b] = Σ_d keys[t, b, d]·query[b, d]`, summed in Double.
    public func batchedDot(_ scores: Tensor, keys: Tensor, query: Tensor) throws {
        let (t, b, d) = try AttentionShapes.batchedDotSizes(scores: scores, keys: keys, query: query, "batchedDot")
        let kv = try read(keys, "batchedDot keys"), qv = try read(query, "batchedDot query")
        var out = [Float](repeating: 0, count: t * b)
        for row in 0..<(t * b) {
            let column = row % b
            var dot: Double = 0
            for j in 0..<d { dot += Double(kv[row * d + j]) * Double(qv[column * d + j]) }
            out[row] = Float(dot)
        }
        try write(out, to: scores, "batchedDot scores")
    }

    /// `gradKeys[t, b, d] = gradScores[t, b]·query[b, d]`; `gradQuery[b, d] = Σ_t gradScores[t, b]·keys[t, b, d]` (in Double).
    public func batchedDotBackward(gradKeys: Tensor?, gradQuery: Tensor?, gradScores: Tensor, keys: Tensor, query: Tensor) throws {
        let (t, b, d) = try AttentionShapes.batchedDotSizes(scores: gradScores, keys: keys, query: query, "batchedDotBackward")
        if let gradKeys {
            try RecurrentError.check("batchedDotBackward gradKeys (T, B, D)", count: gradKeys.count, equals: t * b * d)
            let gs = try read(gradScores, "batchedDotBackward gradScores"), qv = try read(query, "batchedDotBackward query")
            var out = [Float](repeating: 0, count: t * b * d)
            for row in 0..<(t * b) {
                for j in 0..<d { out[row * d + j] = Float(Double(gs[row]) * Double(qv[(row % b) * d + j])) }
            }
            try write(out, to: gradKeys, "batchedDotBackward gradKeys")
        }
        if let gradQuery {
            try RecurrentError.check("batchedDotBackward gradQuery (B, D)", count: gradQuery.count, equals: b * d)
            try weightedSum(gradQuery, values: keys, weights: gradScores)
        }
    }
}
