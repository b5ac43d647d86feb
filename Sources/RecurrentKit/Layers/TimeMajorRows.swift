// Between a sequence batch's own layout and the time-major rows the attention layers work in.
// T = time steps, B = batch, D = features per step.

/// Turns batch-major values (B, T, D) into time-major ones (T, B, D), and time-major gradients
/// back into the batch's layout; the row map is kept while the shape stays. Time-major batches
/// pass through untouched.
final class TimeMajorRows {
    private let backend: any Backend
    /// Rows that turn (B·T, D) batch-major values into (T·B, D), for the last (T, B) seen.
    private var cached: (key: [Int], rows: RowIndices)?

    init(on backend: any Backend) {
        self.backend = backend
    }

    /// The values (T, B, D) of a batch in either layout (batch-major ones gathered into time-major rows).
    func values(_ input: SequenceBatch, featureSize d: Int) throws -> Tensor {
        guard input.layout == .batchMajor else { return input.data }
        let (t, b) = (input.steps, input.batchSize)
        return try gather(input.data.reshaped([b * t, d]), rows: batchToTimeRows(t: t, b: b), count: t * b).reshaped([t, b, d])
    }

    /// A time-major gradient (T, B, D) back in `input`'s layout.
    func gradient(_ gradient: Tensor, like input: SequenceBatch, featureSize d: Int) throws -> Tensor {
        guard input.layout == .batchMajor else { return gradient }
        let (t, b) = (input.steps, input.batchSize)
        let out = try Tensor.zeros([b * t, d], on: backend)
        try backend.scatterAddRows(out, gradient.reshaped([t * b, d]), rows: batchToTimeRows(t: t, b: b))
        return try out.reshaped([b, t, d])
    }

    /// For each time-major row t·B + b, the batch-major row b·T + t.
    private func batchToTimeRows(t: Int, b: Int) throws -> RowIndices {
        if let cached, cached.key == [t, b] { return cached.rows }
        let rows = (0..<t).flatMap { step in (0..<b).map { $0 * t + step } }
        let map = try backend.makeRowIndices(rows, tableRows: t * b)
        cached = ([t, b], map)
        return map
    }
}
