// The backward both attention layers share, from the context back through the weighted sum of the
// values and the masked softmax to the scores. T = steps, B = batch, D = value size.

/// From dL/d(context) (B, D), the values (T, B, D) and the softmax weights (T, B): dL/d(values)
/// of the weighted sum (T, B, D) and dL/d(scores) (T, B) through the softmax.
func weightedSoftmaxBackward(_ gradContext: Tensor, values: Tensor, weights: Tensor) throws -> (gradValues: Tensor, gradScores: Tensor) {
    let backend = values.backend
    let (t, b, d) = (values.shape[0], values.shape[1], values.shape[2])
    let gradValues = try Tensor.empty([t, b, d], on: backend)                          // (T, B, D)
    let gradWeights = try Tensor.empty([t, b], on: backend)                            // (T, B)
    try backend.weightedSumBackward(gradValues: gradValues, gradWeights: gradWeights, gradContext: gradContext,
                                    values: values, weights: weights)
    let gradScores = try Tensor.empty([t, b], on: backend)                             // (T, B)
    try backend.sequenceSoftmaxBackward(gradScores: gradScores, gradWeights: gradWeights, weights: weights)
    return (gradValues, gradScores)
}
