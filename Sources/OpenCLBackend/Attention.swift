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
        try launch(.weightedSumBackwardValues, items: t * b * d,
                   [.tensor(gradValues), .tensor(gradContext), .tensor(weights), .count(t * b * d), .size(b), .size(d)])
        try launch(.weightedSumBackwardWeights, items: t * b,
                   [.tensor(gradWeights), .tensor(gradContext), .tensor(values), .count(t * b), .size(b), .size(d)])
    }
}
