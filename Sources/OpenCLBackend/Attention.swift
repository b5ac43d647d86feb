// Attention over time (Kernels/attention.cl). T = time steps, B = batch, D = feature size;
// scores and weights (T, B), values (T, B, D), context (B, D), lengths (B) as floats.
import RecurrentCore

extension OpenCLBackend {
    public func sequenceSoftmax(_ weights: Tensor, scores: Tensor, lengths: Tensor?) throws {
        let (t, b) = try AttentionShapes.sequenceSizes(scores, "sequenceSoftmax scores (T, B)")
        try RecurrentError.check("sequenceSoftmax weights (T, B)", count: weights.count, equals: t * b)
        if let lengths { try RecurrentError.check("sequenceSoftmax lengths (B)", count: lengths.count, equals: b) }
        guard t > 0 else { return }
        try launch(.sequenceSoftmax, items: b,
                   [.tensor(weights), .tensor(scores), .optional(lengths), .size(t), .size(b)])
    }

    public func sequenceSoftmaxBackward(gradScores: Tensor, gradWeights: Tensor, weights: Tensor) throws {
        let (t, b) = try AttentionShapes.sequenceSizes(weights, "sequenceSoftmaxBackward weights (T, B)")
        try RecurrentError.check("sequenceSoftmaxBackward gradScores (T, B)", count: gradScores.count, equals: t * b)
        try RecurrentError.check("sequenceSoftmaxBackward gradWeights (T, B)", count: gradWeights.count, equals: t * b)
        guard t > 0 else { return }
        try launch(.sequenceSoftmaxBackward, items: b,
                   [.tensor(gradScores), .tensor(gradWeights), .tensor(weights), .size(t), .size(b)])
    }

    public func weightedSum(_ context: Tensor, values: Tensor, weights: Tensor) throws {
        let (t, b) = try AttentionShapes.sequenceSizes(weights, "weightedSum weights (T, B)")
        let d = try AttentionShapes.featureSize(values: values, t: t, b: b, "weightedSum values (T, B, D)")
        try RecurrentError.check("weightedSum context (B, D)", count: context.count, equals: b * d)
        try launch(.weightedSum, items: b * d,
                   [.tensor(context), .tensor(values), .tensor(weights), .size(t), .size(b), .size(d)])
    }

    public func weightedSumBackward(gradValues: Tensor, gradWeights: Tensor, gradContext: Tensor, values: Tensor,
                                    weights: Tensor) throws {
        let (t, b) = try AttentionShapes.sequenceSizes(weights, "weightedSumBackward weights (T, B)")
        let d = try AttentionShapes.featureSize(values: values, t: t, b: b, "weightedSumBackward values (T, B, D)")
        try RecurrentError.check("weightedSumBackward gradValues (T, B, D)", count: gradValues.count, equals: t * b * d)
        try RecurrentError.check("weightedSumBackward gradWeights (T, B)", count: gradWeights.count, equals: t * b)
        try RecurrentError.check("weightedSumBackward gradContext (B, D)", count: gradContext.count, equals: b * d)
        // Both halves are batchedDot's kernels: gradValues = weights ⊗ gradContext, gradWeights = values · gradContext.
        try launch(.batchedDotBackwardKeys, items: t * b * d,
                   [.tensor(gradValues), .tensor(weights), .tensor(gradContext), .count(t * b * d), .size(b), .size(d)])
        try launch(.batchedDot, items: t * b,
                   [.tensor(gradWeights), .tensor(values), .tensor(gradContext), .count(t * b), .size(b), .size(d)])
    }

    public func batchedDot(_ scores: Tensor, keys: Tensor, query: Tensor) throws {
        let (t, b, d) = try AttentionShapes.batchedDotSizes(scores: scores, keys: keys, query: query, "batchedDot")
        try launch(.batchedDot, items: t * b, [.tensor(scores), .tensor(keys), .tensor(query), .count(t * b), .size(b), .size(d)])
    }

    public func batchedDotBackward(gradKeys: Tensor?, gradQuery: Tensor?, gradScores: Tensor, keys: Tensor, query: Tensor) throws {
        let (t, b, d) = try AttentionShapes.batchedDotSizes(scores: gradScores, keys: keys, query: query, "batchedDotBackward")
        if let gradKeys {
            try RecurrentError.check("batchedDotBackward gradKeys (T, B, D)", count: gradKeys.count, equals: t * b * d)
            try launch(.batchedDotBackwardKeys, items: t * b * d,
                       [.tensor(gradKeys), .tensor(gradScores), .tensor(query), .count(t * b * d), .size(b), .size(d)])
        }
        if let gradQuery {
            try RecurrentError.check("batchedDotBackward gradQuery (B, D)", count: gradQuery.count, equals: b * d)
            try weightedSum(gradQuery, values: keys, weights: gradScores)
        }
    }
}
