// LSTM cell steps, gate order i, f, g, o (PyTorch), through the C kernels (recurrent_cells.c).
// B = batch, H = hidden size; gates are rows of 4H: [i | f | g | o].
import CRecurrentGEMM
import RecurrentCore

extension CPUBackend {
    public func lstmForwardStep(hidden: Tensor, cell: Tensor, gates: Tensor, hiddenProjection: Tensor,
                                biasIH: Tensor, biasHH: Tensor, previousCell: Tensor?) throws {
        try lstmStep(hidden: hidden, cell: cell, gates: gates, hiddenProjection: hiddenProjection, biasIH: biasIH,
                     biasHH: biasHH, previousCell: previousCell, inference: false, "lstmForwardStep")
    }

    /// The forward step, with (`inference`) or without the stores backward reads.
    func lstmStep(hidden: Tensor, cell: Tensor, gates: Tensor, hiddenProjection: Tensor, biasIH: Tensor, biasHH: Tensor,
                  previousCell: Tensor?, inference: Bool, _ op: String) throws {
        let (b, h) = try RecurrentCell.stepSizes(bias: biasIH, state: hidden, gateCount: 4, op)
        let ph = try pointer(hidden, op), pc = try pointer(cell, count: b * h, op)               // (B, H)
        let pg = try pointer(gates, count: b * 4 * h, op)                                         // (B, 4H)
        let pp = try pointer(hiddenProjection, count: b * 4 * h, op)                              // (B, 4H)
        let bi = try pointer(biasIH, op), bh = try pointer(biasHH, count: 4 * h, op)              // (4H)
        let pcPrev = try previousCell.map { try pointer($0, count: b * h, op) }                   // (B, H)
        var step = rk_cell_forward(rows: b, hidden: h, gateCount: 4, inference: inference, gates: pg, product: pp,
                                   biasIH: bi, biasHH: bh, previous: pcPrev, state: pc, hiddenOut: ph)
        rk_lstm_forward(&step)
    }

    public func lstmBackwardStep(gradGates: Tensor, gradCell: Tensor, gradHidden: Tensor, gradOutput: Tensor?,
                                 gates: Tensor, cell: Tensor, previousCell: Tensor?) throws {
        let op = "lstmBackwardStep"
        let (b, h) = try RecurrentCell.stepSizes(gates: gates, gateCount: 4, op)
        let n = b * h                                                                               // B·H
        let pdg = try pointer(gradGates, count: 4 * n, op)                                          // (B, 4H)
        let pdc = try pointer(gradCell, count: n, op), pdh = try pointer(gradHidden, count: n, op)  // (B, H)
        let pdy = try gradOutput.map { try pointer($0, count: n, op) }                              // (B, H)
        let pg = try pointer(gates, op), pc = try pointer(cell, count: n, op)
        let pcPrev = try previousCell.map { try pointer($0, count: n, op) }
        var step = rk_cell_backward(rows: b, hidden: h, gateCount: 4, gates: pg, state: pc, previous: pcPrev, gradOutput: pdy,
                                    gradHidden: pdh, gradCell: pdc, gradGates: pdg, gradGatesHidden: nil)
        rk_lstm_backward(&step)
    }
}
