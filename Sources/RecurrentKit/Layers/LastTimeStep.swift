// Each sequence's last real step. T = padded steps, B = batch, F = features.

/// Takes each sequence's last real step: a sequence batch (T, B, F) or (B, T, F) with lengths
/// becomes (B, F), row b being step `lengths[b] − 1` of sequence b. Use it between a recurrent
/// layer and a head for sequence-to-one models.
public final class LastTimeStep: Layer {
    public var isTraining = true
    /// Rows of the (T·B, F) view to take, kept while the batch's layout and lengths stay the same.
    private var rowsCache: (key: [Int], backend: any Backend, rows: RowIndices)?

    public init() {}

    public var namedParameters: [(name: String, parameter: Parameter)] { [] }

    /// (T, B, F) or (B, T, F) with lengths → (B, F).
    public func forward(_ input: LayerValue, tape: Tape?) throws -> LayerValue {
        let batch = try input.requireSequence("LastTimeStep")
        guard batch.data.rank == 3 else {
            throw RecurrentError.shapeMismatch(operation: "LastTimeStep", expected: "a sequence batch of rank 3 ((T, B, F) or (B, T, F))",
                                               got: "data \(batch.data.shape)")
        }
        let (t, b, f) = (batch.steps, batch.batchSize, batch.data.shape[2])
        let backend = batch.data.backend
        if batch.lengths == nil, batch.layout == .timeMajor {
            // Every sequence ends at step T − 1: one contiguous row, no row map.
            let out = try batch.data.row(t - 1).copy()                                        // (B, F)
            try tape?.record(inputs: [batch.data], outputs: [out]) { gradOutputs, needs in
                guard let gradOutput = gradOutputs[0], needs[0] else { return [nil] }
                let gradInput = try Tensor.zeros(batch.data.shape, on: backend)
                try backend.copy(gradOutput, to: gradInput.row(t - 1))
                return [gradInput]
            }
            return .tensor(out)
        }
        let flat = try batch.data.reshaped([t * b, f])                                        // (T·B, F) or (B·T, F)
        let rows = try lastRows(batch)
        let out = try Tensor.empty([b, f], on: backend)                                       // (B, F)
        try backend.gatherRows(out, flat, rows: rows)
        try tape?.record(inputs: [batch.data], outputs: [out]) { gradOutputs, needs in
            guard let gradOutput = gradOutputs[0], needs[0] else { return [nil] }
            let gradInput = try Tensor.zeros(batch.data.shape, on: backend)
            try backend.scatterAddRows(gradInput.reshaped([t * b, f]), gradOutput, rows: rows)
            return [gradInput]
        }
        return .tensor(out)
    }

    /// The row of each sequence's last real step in the (T·B, ·) or (B·T, ·) view, on the device.
    private func lastRows(_ batch: SequenceBatch) throws -> RowIndices {
        let (t, b) = (batch.steps, batch.batchSize)
        let lengths = batch.effectiveLengths
        let key = [t, b, batch.layout == .timeMajor ? 0 : 1] + lengths
        if let rowsCache, rowsCache.key == key, rowsCache.backend === batch.data.backend { return rowsCache.rows }
        let rows = lengths.enumerated().map { s, length in batch.layout == .timeMajor ? (length - 1) * b + s : s * t + length - 1 }
        let map = try batch.data.backend.makeRowIndices(rows, tableRows: t * b)
        rowsCache = (key, batch.data.backend, map)
        return map
    }
}
