// Elman RNN cell steps: h' = f(W_ih x + b_ih + W_hh h + b_hh), f = tanh or relu, through the C
// kernels (recurrent_cells.c). B = batch, H = hidden size.
import CRecurrentGEMM
import RecurrentCore

extension CPUBackend {
    public func rnnForwardStep(hidden: Tensor, gates: Tensor, hiddenProjection: Tensor,
                               biasIH: Tensor, biasHH: Tensor, activation: Activation) throws {
        try rnnStep(hidden: hidden, gates: gates, hiddenProjection: hiddenProjection, biasIH: biasIH, biasHH: biasHH,
                    activation: activation, inference: false, "rnnForwardStep")
    }

    /// The forward step, with (`inference`) or without the stores backward reads.
    func rnnStep(hidden: Tensor, gates: Tensor, hiddenProjection: Tensor, biasIH: Tensor, biasHH: Tensor,
                 activation: Activation, inference: Bool, _ op: String) throws {
        try checkRNNActivation(activation, op)
        let (b, h) = try RecurrentCell.stepSizes(bias: biasIH, state: hidden, gateCount: 1, op)
        let ph = try pointer(hidden, op), pg = try pointer(gates, count: b * h, op)              // (B, H)
        let pp = try pointer(hiddenProjection, count: b * h, op)                                 // (B, H)
        let bi = try pointer(biasIH, op), bh = try pointer(biasHH, count: h, op)                 // (H)
        var step = rk_cell_forward(rows: b, hidden: h, gateCount: 1, activation: activation, inference: inference,
                                   gates: pg, product: pp,
                                   biasIH: bi, biasHH: bh, previous: nil, state: nil, hiddenOut: ph)
        rk_rnn_forward(&step)
    }

    public func rnnBackwardStep(gradGates: Tensor, gradHidden: Tensor, gradOutput: Tensor?,
                                gates: Tensor, activation: Activation) throws {
        let op = "rnnBackwardStep"
        try checkRNNActivation(activation, op)
        let n = gates.count
        let pdg = try pointer(gradGates, count: n, op), pdh = try pointer(gradHidden, count: n, op)
        let pdy = try gradOutput.map { try pointer($0, count: n, op) }
        let pg = try pointer(gates, op)
        // The whole tensor as one row: the step is elementwise.
        var step = rk_cell_backward(rows: 1, hidden: n, gateCount: 1, activation: activation, gates: pg, state: nil,
                                    previous: nil, gradOutput: pdy, gradHidden: pdh, gradCell: nil, gradGates: pdg,
                                    gradGatesHidden: nil)
        rk_rnn_backward(&step)
    }

    /// The RNN cells are tanh or relu (PyTorch's `nonlinearity`).
    func checkRNNActivation(_ activation: Activation, _ op: String) throws {
        guard activation == .tanh || activation == .relu else {
            throw RecurrentError.invalidArgument(name: "\(op) activation", expected: "tanh or relu", got: activation.rawValue)
        }
    }
}
