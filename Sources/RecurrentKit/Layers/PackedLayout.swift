// A batch's packed layout on the device: the row maps between the padded data users hold and
// the packed rows the recurrent time loop runs on, and between caller and sorted state order.
// T = padded steps, B = batch, N = packed rows (Σ lengths), R = width of h, D = directions.

/// The row maps of one batch layout, uploaded once and kept while the batch's shape, layout and
/// lengths stay the same.
struct PackedLayout {
    /// The plan on the host.
    let plan: SequencePacking
    /// What the maps were made for: T, B, layout, lengths.
    let key: [Int]
    /// Packed row → padded row; nil when they coincide (all lengths T, time-major).
    let paddedRows: RowIndices?
    /// The maps bidirectional stacks need; nil for one direction.
    let bidirectional: BidirectionalRows?
    /// State rows, caller order → sorted and back; nil when sorting keeps the order.
    let stateOrder: StateOrder?

    /// Maps between the two directions' packed rows.
    struct BidirectionalRows {
        /// Packed row → the same sequence's row reversed in time.
        let reversed: RowIndices
        /// Rows of the (2N, R) forward-then-reverse outputs that form the (N, 2R) concatenation.
        let concatenated: RowIndices
    }

    /// Maps of stacked (B, ·) state blocks between the caller's order and longest-first order.
    struct StateOrder {
        let sorted: RowIndices, caller: RowIndices
    }

    static func key(_ batch: SequenceBatch) -> [Int] {
        [batch.steps, batch.batchSize, batch.layout == .timeMajor ? 0 : 1] + (batch.lengths ?? [])
    }

    /// Plans `batch` for a stack of `blocks` state blocks (layers × directions) and uploads the maps.
    init(_ batch: SequenceBatch, blocks: Int, bidirectional: Bool, on backend: any Backend) throws {
        let plan = try SequencePacking(lengths: batch.lengths, sequenceLength: batch.steps, batchSize: batch.batchSize,
                                       batchFirst: batch.layout == .batchMajor)
        let (n, stateRows) = (plan.rowCount, blocks * batch.batchSize)
        self.plan = plan
        key = PackedLayout.key(batch)
        paddedRows = plan.isUniform && batch.layout == .timeMajor ? nil
            : try backend.makeRowIndices(plan.paddedRow, tableRows: batch.steps * batch.batchSize)
        self.bidirectional = bidirectional
            ? BidirectionalRows(reversed: try backend.makeRowIndices(plan.reversedRow, tableRows: n),
                                concatenated: try backend.makeRowIndices((0..<n).flatMap { [$0, n + plan.reversedRow[$0]] },
                                                                         tableRows: 2 * n))
            : nil
        stateOrder = plan.keepsOrder ? nil
            : StateOrder(sorted: try backend.makeRowIndices(plan.sortedStateRows(blocks: blocks), tableRows: stateRows),
                         caller: try backend.makeRowIndices(plan.callerStateRows(blocks: blocks), tableRows: stateRows))
    }

    /// N
    var rowCount: Int { plan.rowCount }

    /// The maps of a bidirectional stack; throws if this layout was made for one direction.
    func bidirectionalRows() throws -> BidirectionalRows {
        guard let bidirectional else { throw RecurrentError.invalidState("packed layout: made for one direction, used for two") }
        return bidirectional
    }

    /// A padded batch (T, B, w) or (B, T, w) → packed rows (N, w).
    func pack(_ padded: Tensor, width: Int) throws -> Tensor {
        let flat = try padded.reshaped([padded.count / width, width])
        guard let paddedRows else { return flat }
        return try gather(flat, rows: paddedRows, count: rowCount)
    }

    /// Packed rows (N, w) → a padded batch shaped `shape` ((T, B, w) or (B, T, w)), zeros at padded steps.
    func unpack(_ packed: Tensor, shape: [Int]) throws -> Tensor {
        guard let paddedRows else { return try packed.reshaped(shape) }
        let width = shape.last ?? 1
        let padded = try Tensor.zeros([shape.reduce(1, *) / width, width], on: packed.backend)
        try packed.backend.scatterAddRows(padded, packed, rows: paddedRows)
        return try padded.reshaped(shape)
    }

    /// States (L·D, B, ·) in the caller's order → sorted longest first.
    func sortStates(_ states: Tensor) throws -> Tensor {
        guard let stateOrder else { return states }
        return try gather(states, rows: stateOrder.sorted, count: states.count / (states.shape.last ?? 1)).reshaped(states.shape)
    }

    /// States (L·D, B, ·) sorted longest first → the caller's order.
    func unsortStates(_ states: Tensor) throws -> Tensor {
        guard let stateOrder else { return states }
        return try gather(states, rows: stateOrder.caller, count: states.count / (states.shape.last ?? 1)).reshaped(states.shape)
    }
}

/// Rows `rows` of `table` seen as rows of its last dimension → (count, width).
func gather(_ table: Tensor, rows: RowIndices, count: Int) throws -> Tensor {
    let width = table.shape.last ?? 1
    let out = try Tensor.empty([count, width], on: table.backend)
    try table.backend.gatherRows(out, table.reshaped([table.count / width, width]), rows: rows)
    return out
}
