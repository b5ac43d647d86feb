// LSTM cell steps, gate order i, f, g, o: one fused kernel per step (Kernels/lstm.cl).
// B = batch, H = hidden size; gates are rows of 4H: [i | f | g | o].
import RecurrentCore

extension OpenCLBackend {
    public func lstmForwardStep(hidden: Tensor, cell: Tensor, gates: Tensor, hiddenProjection: Tensor,
                                biasIH: Tensor, biasHH: Tensor, previousCell: Tensor?) throws {
        let op = "lstmForwardStep"
        let (b, h) = try RecurrentCell.stepSizes(bias: biasIH, state: hidden, gateCount: 4, op)
        try checkCounts(op, [(cell, b * h), (gates, b * 4 * h), (hiddenProjection, b * 4 * h), (biasHH, 4 * h)],
                        optional: [(previousCell, b * h)])
        try launch(.lstmForwardStep, items: b * h,
                   [.tensor(hidden), .tensor(cell), .tensor(gates), .tensor(hiddenProjection),     // (B, H) (B, H) (B, 4H) (B, 4H)
                    .tensor(biasIH), .tensor(biasHH), .optional(previousCell), .size(b), .size(h)]) // (4H) (4H) (B, H)
    }

    public func lstmBackwardStep(gradGates: Tensor, gradCell: Tensor, gradHidden: Tensor, gradOutput: Tensor?,
                                 gates: Tensor, cell: Tensor, previousCell: Tensor?) throws {
        let op = "lstmBackwardStep"
        let (b, h) = try RecurrentCell.stepSizes(gates: gates, gateCount: 4, op)
        try checkCounts(op, [(gradGates, b * 4 * h), (gradCell, b * h), (gradHidden, b * h), (cell, b * h)],
                        optional: [(gradOutput, b * h), (previousCell, b * h)])
        try launch(.lstmBackwardStep, items: b * h,
                   [.tensor(gradGates), .tensor(gradCell), .tensor(gradHidden), .optional(gradOutput),  // (B, 4H) (B, H) ×3
                    .tensor(gates), .tensor(cell), .optional(previousCell), .size(b), .size(h)])       // (B, 4H) (B, H) (B, H)
    }

    /// Throws `.shapeMismatch` naming `operation` unless each tensor has its element count.
    func checkCounts(_ operation: String, _ required: [(Tensor, Int)], optional: [(Tensor?, Int)] = []) throws {
        for (tensor, count) in required { try RecurrentError.check(operation, count: tensor.count, equals: count) }
        for case let (tensor?, count) in optional { try RecurrentError.check(operation, count: tensor.count, equals: count) }
    }
}
