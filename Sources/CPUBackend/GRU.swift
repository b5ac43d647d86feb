// GRU cell steps, gate order r, z, n (PyTorch), reset applied after the recurrent product:
// n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = n + z ⊙ (h − n). Through the C kernels
// (recurrent_cells.c). B = batch, H = hidden size; gates are rows of 3H: [r | z | n].
import CRecurrentGEMM
import RecurrentCore

extension CPUBackend {
    public func gruForwardStep(hidden: Tensor, newGateHidden: Tensor, gates: Tensor, hiddenProjection: Tensor,
                               biasIH: Tensor, biasHH: Tensor, previousHidden: Tensor?) throws {
        try gruStep(hidden: hidden, newGateHidden: newGateHidden, gates: gates, hiddenProjection: hiddenProjection,
                    biasIH: biasIH, biasHH: biasHH, previousHidden: previousHidden, inference: false, "gruForwardStep")
    }

    /// The forward step, with (`inference`) or without the stores backward reads.
    func gruStep(hidden: Tensor, newGateHidden: Tensor, gates: Tensor, hiddenProjection: Tensor, biasIH: Tensor,
                 biasHH: Tensor, previousHidden: Tensor?, inference: Bool, _ op: String) throws {
        let (b, h) = try RecurrentCell.stepSizes(bias: biasIH, state: hidden, gateCount: 3, op)
        let ph = try pointer(hidden, op), phn = try pointer(newGateHidden, count: b * h, op)     // (B, H)
        let pg = try pointer(gates, count: b * 3 * h, op)                                        // (B, 3H)
        let pp = try pointer(hiddenProjection, count: b * 3 * h, op)                             // (B, 3H)
        let bi = try pointer(biasIH, op), bh = try pointer(biasHH, count: 3 * h, op)             // (3H)
        let phPrev = try previousHidden.map { try pointer($0, count: b * h, op) }                // (B, H)
        var step = rk_cell_forward(rows: b, hidden: h, gateCount: 3, inference: inference, gates: pg, product: pp,
                                   biasIH: bi, biasHH: bh, previous: phPrev, state: phn, hiddenOut: ph)
        rk_gru_forward(&step)
    }

    public func gruBackwardStep(gradGatesInput: Tensor, gradGatesHidden: Tensor, gradHidden: Tensor, gradOutput: Tensor?,
                                gates: Tensor, newGateHidden: Tensor, previousHidden: Tensor?) throws {
        let op = "gruBackwardStep"
        let (b, h) = try RecurrentCell.stepSizes(gates: gates, gateCount: 3, op)
        let n = b * h
        let pdx = try pointer(gradGatesInput, count: 3 * n, op), pdhg = try pointer(gradGatesHidden, count: 3 * n, op)
        let pdh = try pointer(gradHidden, count: n, op)                                          // (B, H)
        let pdy = try gradOutput.map { try pointer($0, count: n, op) }
        let pg = try pointer(gates, op), phn = try pointer(newGateHidden, count: n, op)
        let phPrev = try previousHidden.map { try pointer($0, count: n, op) }
        var step = rk_cell_backward(rows: b, hidden: h, gateCount: 3, gates: pg, state: phn, previous: phPrev, gradOutput: pdy,
                                    gradHidden: pdh, gradCell: nil, gradGates: pdx, gradGatesHidden: pdhg)
        rk_gru_backward(&step)
    }
}
