// Embedding gather and scatter-add (Kernels/embedding.cl). N = indices, V = rows, D = width.
import RecurrentCore

extension OpenCLBackend {
    public func embeddingForward(_ out: Tensor, indices: Tensor, table: Tensor) throws {
        guard table.rank == 2 else {
            throw RecurrentError.shapeMismatch(operation: "embeddingForward", expected: "a table (V, D)", got: "shape \(table.shape)")
        }
        let (n, v, d) = (indices.count, table.shape[0], table.shape[1])
        try RecurrentError.check("embeddingForward out", count: out.count, equals: n * d)
        try launch("embedding_forward", items: n * d,
                   [.tensor(out), .tensor(indices), .tensor(table), .size(n), .size(v), .size(d)])
    }

    public func embeddingBackward(_ gradTable: Tensor, indices: Tensor, gradOut: Tensor) throws {
        guard gradTable.rank == 2 else {
            throw RecurrentError.shapeMismatch(operation: "embeddingBackward", expected: "a table gradient (V, D)",
                                               got: "shape \(gradTable.shape)")
        }
        let (n, v, d) = (indices.count, gradTable.shape[0], gradTable.shape[1])
        try RecurrentError.check("embeddingBackward gradOut", count: gradOut.count, equals: n * d)
        try launch("embedding_backward", items: d,
                   [.tensor(gradTable), .tensor(indices), .tensor(gradOut), .size(n), .size(v), .size(d)])
    }
}
