// Reference embedding gather and scatter-add.
// N = indices, V = vocabulary rows of the table, D = embedding width.

import RecurrentCore

extension ReferenceBackend {
    /// N, D and V from out/gradOut (N, D), indices (N) and table (V, D).
    func embeddingSizes(rows: Tensor, indices: Tensor, table: Tensor, _ operation: String) throws -> (n: Int, d: Int, v: Int) {
        let n = indices.count
        guard n > 0 else {
            try RecurrentError.check("\(operation) rows (N, D) with no indices", count: rows.count, equals: 0)
            return (0, 0, 0)
        }
        let d = try matrixRows(rows, columns: n, "\(operation) rows (N, D)")
        let v = try matrixRows(table, columns: d, "\(operation) table (V, D)")
        return (n, d, v)
    }

    /// `out[n, :] = table[indices[n], :]`; an index that is not an integer in 0..<V gives a row of NaN.
    public func embeddingForward(_ out: Tensor, indices: Tensor, table: Tensor) throws {
        let (n, d, v) = try embeddingSizes(rows: out, indices: indices, table: table, "embeddingForward")
        let iv = try read(indices, "embeddingForward indices"), tv = try read(table, "embeddingForward table")
        var ov = [Float](repeating: .nan, count: n * d)
        for row in 0..<n {
            guard let source = Self.integerIndex(iv[row], below: v) else { continue }
            for c in 0..<d { ov[row * d + c] = tv[source * d + c] }
        }
        try write(ov, to: out, "embeddingForward out")
    }

    /// `gradTable[indices[n], :] += gradOut[n, :]` in order of n; indices that are not integers in 0..<V are skipped.
    public func embeddingBackward(_ gradTable: Tensor, indices: Tensor, gradOut: Tensor) throws {
        let (n, d, v) = try embeddingSizes(rows: gradOut, indices: indices, table: gradTable, "embeddingBackward")
        let iv = try read(indices, "embeddingBackward indices"), gv = try read(gradOut, "embeddingBackward gradOut")
        var tv = try read(gradTable, "embeddingBackward gradTable")
        for row in 0..<n {
            guard let target = Self.integerIndex(iv[row], below: v) else { continue }
            for c in 0..<d { tv[target * d + c] += gv[row * d + c] }
        }
        try write(tv, to: gradTable, "embeddingBackward gradTable")
    }
}

// Row gathers and scatters with integer row maps. N = entries, R = table rows, D = row width.
extension ReferenceBackend {
    /// `out[n, :] = table[rows[n], :]`.
    public func gatherRows(_ out: Tensor, _ table: Tensor, rows: RowIndices) throws {
        let d = try rows.rowWidth(block: out, table: table, "gatherRows")
        let tv = try read(table, "gatherRows table")
        var ov = [Float](repeating: .nan, count: rows.count * d)
        for (n, row) in rows.rows.enumerated() {
            for c in 0..<d { ov[n * d + c] = tv[Int(row) * d + c] }
        }
        try write(ov, to: out, "gatherRows out")
    }

    /// `out[rows[n], :] += x[n, :]` in ascending n.
    public func scatterAddRows(_ out: Tensor, _ x: Tensor, rows: RowIndices) throws {
        let d = try rows.rowWidth(block: x, table: out, "scatterAddRows")
        let xv = try read(x, "scatterAddRows x")
        var ov = try read(out, "scatterAddRows out")
        for (n, row) in rows.rows.enumerated() {
            for c in 0..<d { ov[Int(row) * d + c] += xv[n * d + c] }
        }
        try write(ov, to: out, "scatterAddRows out")
    }
}
