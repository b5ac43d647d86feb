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
