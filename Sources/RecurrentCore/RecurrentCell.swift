/// The recurrent cells, with PyTorch's equations and gate orders.
public enum RecurrentCell: String, Sendable, CaseIterable, Codable {
    /// Elman RNN, `h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`.
    case rnnTanh = "rnn_tanh"
    /// Elman RNN with ReLU, `h' = relu(W_ih x + b_ih + W_hh h + b_hh)`.
    case rnnRelu = "rnn_relu"
    /// LSTM, gates i, f, g, o.
    case lstm
    /// GRU, gates r, z, n, reset applied after the recurrent product.
    case gru

    /// G: rows of `weight_ih` per hidden unit (1, 4 or 3).
    public var gateCount: Int {
        switch self {
        case .rnnTanh, .rnnRelu: return 1
        case .lstm: return 4
        case .gru: return 3
        }
    }

    /// Whether the cell carries a cell state `c` besides `h`.
    public var hasCellState: Bool { self == .lstm }

    /// Per-step values saved beside the gates for backward (LSTM: c_t, GRU: W_hn h + b_hn), in units of H.
    public var extraReserveWidth: Int {
        switch self {
        case .rnnTanh, .rnnRelu: return 0
        case .lstm, .gru: return 1
        }
    }
}

// Sizes of one cell step, shared by every backend's step ops. B = batch, H = hidden size.
extension RecurrentCell {
    /// Batch and hidden size implied by a per-gate bias of `gateCount`·H and a state of B·H
    /// (forward steps). Throws `.shapeMismatch` naming `operation` otherwise.
    public static func stepSizes(bias: Tensor, state: Tensor, gateCount: Int, _ operation: String) throws -> (b: Int, h: Int) {
        let h = bias.count / gateCount
        guard h > 0, bias.count == gateCount * h, state.count % h == 0 else {
            throw RecurrentError.shapeMismatch(operation: operation, expected: "bias (\(gateCount)·H) and state (B, H)",
                                               got: "bias \(bias.shape), state \(state.shape)")
        }
        return (state.count / h, h)
    }

    /// Batch and hidden size of a step's gates laid out (B, G·H) (backward steps). Throws
    /// `.shapeMismatch` naming `operation` otherwise.
    public static func stepSizes(gates: Tensor, gateCount: Int, _ operation: String) throws -> (b: Int, h: Int) {
        guard gates.rank == 2, gates.shape[1] % gateCount == 0, gates.shape[1] > 0 else {
            throw RecurrentError.shapeMismatch(operation: operation, expected: "gates (B, \(gateCount)·H)", got: "shape \(gates.shape)")
        }
        return (gates.shape[0], gates.shape[1] / gateCount)
    }
}
