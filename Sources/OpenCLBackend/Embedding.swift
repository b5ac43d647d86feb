// Embedding gather and scatter-add, and row gathers/scatters with integer row maps
// (Kernels/embedding.cl). N = indices or entries, V = rows, D = width, U = distinct rows.
import COpenCL
import RecurrentCore

extension OpenCLBackend {
    /// Work-items the embedding backward aims for: row blocks × columns (each walks all N indices).
    static let embeddingBackwardItems = 4096

    public func embeddingForward(_ out: Tensor, indices: Tensor, table: Tensor) throws {
        guard table.rank == 2 else {
            throw RecurrentError.shapeMismatch(operation: "embeddingForward", expected: "a table (V, D)", got: "shape \(table.shape)")
        }
        let (n, v, d) = (indices.count, table.shape[0], table.shape[1])
        try RecurrentError.check("embeddingForward out", count: out.count, equals: n * d)
        try launch(.embeddingForward, items: n * d,
                   [.tensor(out), .tensor(indices), .tensor(table), .size(n), .size(v), .size(d)])
    }

    public func embeddingBackward(_ gradTable: Tensor, indices: Tensor, gradOut: Tensor) throws {
        guard gradTable.rank == 2 else {
            throw RecurrentError.shapeMismatch(operation: "embeddingBackward", expected: "a table gradient (V, D)",
                                               got: "shape \(gradTable.shape)")
        }
        let (n, v, d) = (indices.count, gradTable.shape[0], gradTable.shape[1])
        try RecurrentError.check("embeddingBackward gradOut", count: gradOut.count, equals: n * d)
        guard v > 0, d > 0 else { return }
        // Enough row blocks to fill the device, but no more blocks than rows.
        let blocks = min(v, max(1, Self.embeddingBackwardItems / d))
        let rowsPerBlock = (v + blocks - 1) / blocks
        let used = (v + rowsPerBlock - 1) / rowsPerBlock
        try launch(.embeddingBackward, items: used * d,
                   [.tensor(gradTable), .tensor(indices), .tensor(gradOut), .size(n), .size(v), .size(d),
                    .size(rowsPerBlock), .size(used)])
    }

    /// Uploads the entries and the inverse lists as 32-bit integers, one buffer laid out
    /// [rows (N) | targets (U) | segment starts (U + 1) | sources (N)].
    public func makeRowIndices(_ rows: [Int], tableRows: Int) throws -> RowIndices {
        let map = try RowIndices(rows, tableRows: tableRows)
        let words = map.rows + map.targets + map.segmentStarts + map.sources
        let buffer = try allocate(count: words.count)
        guard let device = buffer as? OpenCLBuffer else { return map }
        transfers.withLock { $0.uploads += 1 }
        let status = try withQueue { queue in
            words.withUnsafeBytes { bytes in
                clEnqueueWriteBuffer(queue, device.memory, cl_bool(CL_TRUE), 0, bytes.count, bytes.baseAddress, 0, nil, nil)
            }
        }
        try OpenCLStatus.check(status, "clEnqueueWriteBuffer (row map of \(rows.count) entries)", device: name)
        return map.with(storage: buffer)
    }

    /// The device copy of `rows`, after checking it was made by this backend.
    private func rowMapMemory(_ rows: RowIndices, _ operation: String) throws -> cl_mem {
        guard let buffer = rows.storage as? OpenCLBuffer, buffer.count >= 2 * rows.count + 2 * rows.targets.count + 1,
              owns(buffer) else {
            throw RecurrentError.invalidArgument(name: "\(operation) row map", expected: "one made by \(name).makeRowIndices",
                                                 got: rows.storage.map { "one of \(type(of: $0))" } ?? "host arrays only")
        }
        return buffer.memory
    }

    public func gatherRows(_ out: Tensor, _ table: Tensor, rows: RowIndices) throws {
        let d = try rows.rowWidth(block: out, table: table, "gatherRows")
        let map = try rowMapMemory(rows, "gatherRows")
        try launch(.gatherRows, items: rows.count * d,
                   [.tensor(out), .tensor(table), .memory(map), .count(0), .size(rows.count), .size(d)])
    }

    public func scatterAddRows(_ out: Tensor, _ x: Tensor, rows: RowIndices) throws {
        let d = try rows.rowWidth(block: x, table: out, "scatterAddRows")
        let map = try rowMapMemory(rows, "scatterAddRows")
        let (n, u) = (rows.count, rows.targets.count)
        try launch(.scatterAddRows, items: u * d,
                   [.tensor(out), .tensor(x), .memory(map), .count(n), .count(n + u), .count(n + 2 * u + 1),
                    .size(u), .size(d)])
    }
}
