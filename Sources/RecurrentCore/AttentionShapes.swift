// Sizes of the attention ops' operands, checked the same way by every backend.
// T = time steps, B = batch, D = feature size.

/// Shape checks shared by the backends' attention ops.
public enum AttentionShapes {
    /// T and B of a (T, B) operand (rank 2); throws `.shapeMismatch` naming `operation` otherwise.
    public static func sequenceSizes(_ x: Tensor, _ operation: String) throws -> (t: Int, b: Int) {
        guard x.rank == 2 else {
            throw RecurrentError.shapeMismatch(operation: operation, expected: "a (T, B) tensor of rank 2", got: "shape \(x.shape)")
        }
        return (x.shape[0], x.shape[1])
    }

    /// D, the last dimension of values (T, B, D), after checking that they hold T·B·D elements.
    public static func featureSize(values: Tensor, t: Int, b: Int, _ operation: String) throws -> Int {
        guard let d = values.shape.last, values.count == t * b * d else {
            throw RecurrentError.shapeMismatch(operation: operation, expected: "values (T, B, D) with T = \(t), B = \(b)",
                                               got: "shape \(values.shape)")
        }
        return d
    }

    /// T, B and D of `batchedDot`'s operands after checking them: scores (T, B) of rank 2, keys (T, B, D),
    /// query (B, D); throws `.shapeMismatch` naming `operation` otherwise.
    public static func batchedDotSizes(scores: Tensor, keys: Tensor, query: Tensor,
                                       _ operation: String) throws -> (t: Int, b: Int, d: Int) {
        let (t, b) = try sequenceSizes(scores, "\(operation) scores (T, B)")
        let d = try featureSize(values: keys, t: t, b: b, "\(operation) keys (T, B, D)")
        try RecurrentError.check("\(operation) query (B, D)", count: query.count, equals: b * d)
        return (t, b, d)
    }
}
