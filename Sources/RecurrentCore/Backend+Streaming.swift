// A backend's own forward-only step of one layer for a stream (a few sequences fed one step at a
// time): the weights prepared once when the stream is made, then one call per layer and step that
// makes x_t W_ihᵀ, h_{t-1} W_hhᵀ, the biases and the cell step together. Backends without one return
// nil and the stream composes `gemm` and the forward-only cell steps.
// B = batch, I = input size, H = hidden size, R = width of h (P when projecting, else H).

/// One layer's forward-only step, made by `Backend.makeStreamStep` for a fixed batch size.
/// A step object is used by one thread at a time (the stream that made it).
public protocol RecurrentStreamStep: AnyObject {
    /// From x_t `input` (B, I), h_{t-1} `previousHidden` (B, R) and, for an LSTM, c_{t-1}
    /// `previousCell` (B, H), writes the cell's output `hidden` (B, H): h_t, or m_t = o_t ⊙ tanh(c_t)
    /// for an LSTM with a projection (W_hr is the caller's), and c_t `cell` (B, H) for an LSTM.
    func step(input: Tensor, previousHidden: Tensor, previousCell: Tensor?, hidden: Tensor, cell: Tensor?) throws
}

extension Backend {
    /// No step of its own: the stream composes `gemm` and the forward-only cell steps.
    public func makeStreamStep(_ weights: RecurrentWeights, cell: RecurrentCell, inputSize: Int, hiddenSize: Int,
                               batchSize: Int) throws -> (any RecurrentStreamStep)? { nil }
}
