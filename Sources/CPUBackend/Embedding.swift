// Embedding gather and scatter-add. N = indices, V = vocabulary, D = embedding size.
import RecurrentCore

extension CPUBackend {
    /// The row of `index` in a table of `rows` rows, or nil if it is not an integer in range.
    @inline(__always) func tableRow(_ index: Float, rows: Int) -> Int? {
        guard index >= 0, index < Float(rows), index == index.rounded(.towardZero) else { return nil }
        return Int(index)
    }

    public func embeddingForward(_ out: Tensor, indices: Tensor, table: Tensor) throws {
        let n = indices.count
        guard table.rank == 2 else {
            throw RecurrentError.shapeMismatch(operation: "embeddingForward", expected: "a table (V, D)", got: "shape \(table.shape)")
        }
        let (v, d) = (table.shape[0], table.shape[1])
        let po = try pointer(out, count: n * d, "embeddingForward out")
        let pi = try pointer(indices, "embeddingForward indices"), pt = try pointer(table, "embeddingForward table")
        for r in 0..<n {
            if let row = tableRow(pi[r], rows: v) {
                (po + r * d).update(from: pt + row * d, count: d)
            } else {
                (po + r * d).update(repeating: .nan, count: d)
            }
        }
    }

    public func embeddingBackward(_ gradTable: Tensor, indices: Tensor, gradOut: Tensor) throws {
        let n = indices.count
        guard gradTable.rank == 2 else {
            throw RecurrentError.shapeMismatch(operation: "embeddingBackward", expected: "a table gradient (V, D)",
                                               got: "shape \(gradTable.shape)")
        }
        let (v, d) = (gradTable.shape[0], gradTable.shape[1])
        let pt = try pointer(gradTable, "embeddingBackward gradTable")
        let pi = try pointer(indices, "embeddingBackward indices"), pg = try pointer(gradOut, count: n * d, "embeddingBackward gradOut")
        for r in 0..<n {
            guard let row = tableRow(pi[r], rows: v) else { continue }
            let dst = pt + row * d, src = pg + r * d
            for j in 0..<d { dst[j] += src[j] }
        }
    }
}

// Row gathers and scatters with integer row maps (the packed layouts of variable-length and
// bidirectional batches). N = entries, R = table rows, D = row width.
extension CPUBackend {
    public func gatherRows(_ out: Tensor, _ table: Tensor, rows: RowIndices) throws {
        let d = try rows.rowWidth(block: out, table: table, "gatherRows")
        let po = try pointer(out, "gatherRows out"), pt = try pointer(table, "gatherRows table")
        for (n, row) in rows.rows.enumerated() { (po + n * d).update(from: pt + Int(row) * d, count: d) }
    }

    public func scatterAddRows(_ out: Tensor, _ x: Tensor, rows: RowIndices) throws {
        let d = try rows.rowWidth(block: x, table: out, "scatterAddRows")
        let po = try pointer(out, "scatterAddRows out"), px = try pointer(x, "scatterAddRows x")
        for (n, row) in rows.rows.enumerated() {
            let dst = po + Int(row) * d, src = px + n * d
            for j in 0..<d { dst[j] += src[j] }
        }
    }
}
