// Integer row maps for gathers and scatters (`Backend.gatherRows` / `scatterAddRows`): checked
// once on the host, kept by each backend in its own form. N = entries, R = rows of the table
// they index, U = distinct rows among the entries.

/// Row numbers for `gatherRows` and `scatterAddRows`, made by `Backend.makeRowIndices`.
///
/// The entries are integers checked once, when the map is made, so the ops never meet an
/// invalid index. Besides the entries, a map holds the inverse lists a deterministic scatter walks:
/// for each distinct row, in ascending order, the entries that name it, in ascending order.
public struct RowIndices: Sendable {
    /// `rows[n]`: the table row of entry n (N), each in 0..<tableRows.
    public let rows: [Int32]
    /// Rows of the table (a gather's source, a scatter's destination) the entries index.
    public let tableRows: Int
    /// The distinct rows named by some entry, ascending (U).
    public let targets: [Int32]
    /// `sources[segmentStarts[u]..<segmentStarts[u + 1]]`: the entries naming `targets[u]`, ascending (U + 1).
    public let segmentStarts: [Int32]
    /// Entry numbers grouped by target row (N).
    public let sources: [Int32]
    /// The backend's own copy (device memory), or nil where the host arrays serve.
    public let storage: (any DeviceBuffer)?

    /// Checks `rows` (each in 0..<tableRows, N and R below 2^31) and builds the inverse lists.
    public init(_ rows: [Int], tableRows: Int) throws {
        guard tableRows >= 0, tableRows <= Int(Int32.max), rows.count <= Int(Int32.max) else {
            throw RecurrentError.invalidArgument(name: "row map size", expected: "fewer than 2^31 rows and entries",
                                                 got: "\(rows.count) entries into \(tableRows) rows")
        }
        if let bad = rows.firstIndex(where: { $0 < 0 || $0 >= tableRows }) {
            throw RecurrentError.invalidArgument(name: "row index (entry \(bad))", expected: "a row in 0..<\(tableRows)",
                                                 got: "\(rows[bad])")
        }
        self.rows = rows.map { Int32($0) }
        self.tableRows = tableRows
        // Counting sort by row: stable, so each row's entries stay in ascending order.
        var counts = [Int32](repeating: 0, count: tableRows + 1)
        for row in rows { counts[row + 1] += 1 }
        for r in 0..<tableRows { counts[r + 1] += counts[r] }
        var next = counts, grouped = [Int32](repeating: 0, count: rows.count)
        for (n, row) in rows.enumerated() {
            grouped[Int(next[row])] = Int32(n)
            next[row] += 1
        }
        var targets = [Int32](), starts = [Int32]()
        for r in 0..<tableRows where counts[r + 1] > counts[r] {
            targets.append(Int32(r))
            starts.append(counts[r])
        }
        starts.append(Int32(rows.count))
        self.targets = targets
        segmentStarts = starts
        sources = grouped
        storage = nil
    }

    /// The same map with a backend's own copy of it.
    public func with(storage: any DeviceBuffer) -> RowIndices {
        RowIndices(rows: rows, tableRows: tableRows, targets: targets, segmentStarts: segmentStarts, sources: sources,
                   storage: storage)
    }

    private init(rows: [Int32], tableRows: Int, targets: [Int32], segmentStarts: [Int32], sources: [Int32],
                 storage: (any DeviceBuffer)?) {
        self.rows = rows
        self.tableRows = tableRows
        self.targets = targets
        self.segmentStarts = segmentStarts
        self.sources = sources
        self.storage = storage
    }

    /// N
    public var count: Int { rows.count }

    /// D of a (N, D) block and a (R, D) table, after checking both shapes; throws `.shapeMismatch`
    /// naming `operation` otherwise.
    public func rowWidth(block: Tensor, table: Tensor, _ operation: String) throws -> Int {
        guard table.rank == 2, table.shape[0] == tableRows else {
            throw RecurrentError.shapeMismatch(operation: "\(operation) table", expected: "(\(tableRows), D)",
                                               got: "shape \(table.shape)")
        }
        let d = table.shape[1]
        try RecurrentError.check("\(operation) rows (\(count), \(d))", count: block.count, equals: count * d)
        return d
    }
}

extension Backend {
    /// Host arrays serve: the default for backends that compute in host memory.
    public func makeRowIndices(_ rows: [Int], tableRows: Int) throws -> RowIndices {
        try RowIndices(rows, tableRows: tableRows)
    }
}
