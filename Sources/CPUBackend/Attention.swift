// Attention over time: masked softmax down each column of scores, the weighted sum of values,
// and their gradients. T = time steps, B = batch, D = feature size; scores and weights (T, B),
// values (T, B, D), context (B, D), lengths (B) as floats. Sums run in ascending t (or d), in
// Float, in the order Kernels/attention.cl follows.
import Foundation
import RecurrentCore

extension CPUBackend {
    /// The number of valid steps a length stored as a float stands for, or nil unless it is an integer in 1...T.
    @inline(__always) func sequenceLength(_ value: Float, steps: Int) -> Int? {
        guard value >= 1, value <= Float(steps), value == value.rounded(.towardZero) else { return nil }
        return Int(value)
    }

    public func sequenceSoftmax(_ weights: Tensor, scores: Tensor, lengths: Tensor?) throws {
        let (t, b) = try AttentionShapes.sequenceSizes(scores, "sequenceSoftmax scores (T, B)")
        let pw = try pointer(weights, count: t * b, "sequenceSoftmax weights (T, B)")
        let ps = try pointer(scores, "sequenceSoftmax scores")
        let pl = try lengths.map { try pointer($0, count: b, "sequenceSoftmax lengths (B)") }
        for column in 0..<b {
            let w = pw + column, s = ps + column
            let valid: Int
            if let pl {
                guard let length = sequenceLength(pl[column], steps: t) else {
                    for step in 0..<t { w[step * b] = .nan }
                    continue
                }
                valid = length
            } else {
                valid = t
            }
            guard valid > 0 else { continue }
            var m = s[0]
            for step in 1..<valid { m = max(m, s[step * b]) }
            var sum: Float = 0
            for step in 0..<valid {
                let e = expf(s[step * b] - m)
                w[step * b] = e
                sum += e
            }
            for step in 0..<valid { w[step * b] = w[step * b] / sum }
            for step in valid..<t { w[step * b] = 0 }
        }
    }

    public func sequenceSoftmaxBackward(gradScores: Tensor, gradWeights: Tensor, weights: Tensor) throws {
        let (t, b) = try AttentionShapes.sequenceSizes(weights, "sequenceSoftmaxBackward weights (T, B)")
        let pgs = try pointer(gradScores, count: t * b, "sequenceSoftmaxBackward gradScores (T, B)")
        let pgw = try pointer(gradWeights, count: t * b, "sequenceSoftmaxBackward gradWeights (T, B)")
        let pw = try pointer(weights, "sequenceSoftmaxBackward weights")
        for column in 0..<b {
            var dot: Float = 0
            for step in 0..<t {
                let e = step * b + column
                dot += pw[e] * pgw[e]
            }
            for step in 0..<t {
                let e = step * b + column
                pgs[e] = pw[e] * (pgw[e] - dot)
            }
        }
    }

    public func weightedSum(_ context: Tensor, values: Tensor, weights: Tensor) throws {
        let (t, b) = try AttentionShapes.sequenceSizes(weights, "weightedSum weights (T, B)")
        let d = try AttentionShapes.featureSize(values: values, t: t, b: b, "weightedSum values (T, B, D)")
        let pc = try pointer(context, count: b * d, "weightedSum context (B, D)")
        let pv = try pointer(values, "weightedSum values"), pw = try pointer(weights, "weightedSum weights")
        // Step by step into the context: each element sees its terms in ascending t, as one sum would.
        pc.update(repeating: 0, count: b * d)
        for step in 0..<t {
            for column in 0..<b {
                let w = pw[step * b + column]
                let row = pv + (step * b + column) * d, out = pc + column * d
                for j in 0..<d { out[j] += w * row[j] }
            }
        }
    }

    public func weightedSumBackward(gradValues: Tensor, gradWeights: Tensor, gradContext: Tensor, values: Tensor,
                                    weights: Tensor) throws {
        let (t, b) = try AttentionShapes.sequenceSizes(weights, "weightedSumBackward weights (T, B)")
        let d = try AttentionShapes.featureSize(values: values, t: t, b: b, "weightedSumBackward values (T, B, D)")
        let pgv = try pointer(gradValues, count: t * b * d, "weightedSumBackward gradValues (T, B, D)")
        let pgw = try pointer(gradWeights, count: t * b, "weightedSumBackward gradWeights (T, B)")
        let pgc = try pointer(gradContext, count: b * d, "weightedSumBackward gradContext (B, D)")
        let pv = try pointer(values, "weightedSumBackward values"), pw = try pointer(weights, "weightedSumBackward weights")
        for step in 0..<t {
            for column in 0..<b {
                let e = step * b + column
                let w = pw[e], g = pgc + column * d, v = pv + e * d, out = pgv + e * d
                var dot: Float = 0
                for j in 0..<d {
                    dot += g[j] * v[j]
                    out[j] = w * g[j]
                }
                pgw[e] = dot
            }
        }
    }

    public func batchedDot(_ scores: Tensor, keys: Tensor, query: Tensor) throws {
        let (t, b, d) = try AttentionShapes.batchedDotSizes(scores: scores, keys: keys, query: query, "batchedDot")
        let ps = try pointer(scores, "batchedDot scores"), pk = try pointer(keys, "batchedDot keys")
        let pq = try pointer(query, "batchedDot query")
        for row in 0..<(t * b) {
            let k = pk + row * d, q = pq + (row % b) * d
            var dot: Float = 0
            for j in 0..<d { dot += k[j] * q[j] }
            ps[row] = dot
        }
    }

    public func batchedDotBackward(gradKeys: Tensor?, gradQuery: Tensor?, gradScores: Tensor, keys: Tensor, query: Tensor) throws {
        let (t, b, d) = try AttentionShapes.batchedDotSizes(scores: gradScores, keys: keys, query: query, "batchedDotBackward")
        if let gradKeys {
            let pgk = try pointer(gradKeys, count: t * b * d, "batchedDotBackward gradKeys (T, B, D)")
            let pgs = try pointer(gradScores, "batchedDotBackward gradScores"), pq = try pointer(query, "batchedDotBackward query")
            for row in 0..<(t * b) {
                let g = pgs[row], q = pq + (row % b) * d, out = pgk + row * d
                for j in 0..<d { out[j] = g * q[j] }
            }
        }
        if let gradQuery {
            try RecurrentError.check("batchedDotBackward gradQuery (B, D)", count: gradQuery.count, equals: b * d)
            try weightedSum(gradQuery, values: keys, weights: gradScores)
        }
    }
}
