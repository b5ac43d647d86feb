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
}
