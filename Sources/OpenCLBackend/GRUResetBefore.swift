// Cell steps of a GRU with the reset gate before the recurrent product (Keras's reset_after=False):
// one kernel each (Kernels/gru_reset_before.cl), run by the shared time loop around the n gate's own
// product. B = batch, H = hidden size; gates are rows of 3H: [r | z | n].
import RecurrentCore

extension OpenCLBackend {
    public func gruResetGateStep(resetHidden: Tensor, gates: Tensor, hiddenProjection: Tensor, biasIH: Tensor, biasHH: Tensor,
                                 productHidden: Tensor?) throws {
        let op = "gruResetGateStep"
        let (b, h) = try RecurrentCell.stepSizes(bias: biasIH, state: resetHidden, gateCount: 3, op)
        try checkCounts(op, [(gates, b * 3 * h), (hiddenProjection, b * 2 * h), (biasHH, 3 * h)],
                        optional: [(productHidden, b * h)])
        try launch(.gruResetGateStep, items: b * h,
                   [.tensor(resetHidden), .tensor(gates), .tensor(hiddenProjection),        // (B, H) (B, 3H) (B, 2H)
                    .tensor(biasIH), .tensor(biasHH), .optional(productHidden), .size(b), .size(h)])  // (3H) (3H) (B, H)
    }

    public func gruResetBeforeStep(hidden: Tensor, gates: Tensor, newGateProjection: Tensor, biasIH: Tensor, biasHH: Tensor,
                                   previousHidden: Tensor?) throws {
        let op = "gruResetBeforeStep"
        let (b, h) = try RecurrentCell.stepSizes(bias: biasIH, state: hidden, gateCount: 3, op)
        try checkCounts(op, [(gates, b * 3 * h), (newGateProjection, b * h), (biasHH, 3 * h)],
                        optional: [(previousHidden, b * h)])
        try launch(.gruResetBeforeStep, items: b * h,
                   [.tensor(hidden), .tensor(gates), .tensor(newGateProjection),           // (B, H) (B, 3H) (B, H)
                    .tensor(biasIH), .tensor(biasHH), .optional(previousHidden), .size(b), .size(h)])
    }

    public func gruResetBeforeBackwardStep(gradGates: Tensor, gradHidden: Tensor, gradOutput: Tensor?, gates: Tensor,
                                           previousHidden: Tensor?) throws {
        let op = "gruResetBeforeBackwardStep"
        let (b, h) = try RecurrentCell.stepSizes(gates: gates, gateCount: 3, op)
        try checkCounts(op, [(gradGates, b * 3 * h), (gradHidden, b * h)],
                        optional: [(gradOutput, b * h), (previousHidden, b * h)])
        try launch(.gruResetBeforeBackwardStep, items: b * h,
                   [.tensor(gradGates), .tensor(gradHidden), .optional(gradOutput), .tensor(gates),
                    .optional(previousHidden), .size(b), .size(h)])
    }

    public func gruResetGateBackwardStep(gradGates: Tensor, gradResetHidden: Tensor, gates: Tensor, productHidden: Tensor?) throws {
        let op = "gruResetGateBackwardStep"
        let (b, h) = try RecurrentCell.stepSizes(gates: gates, gateCount: 3, op)
        try checkCounts(op, [(gradGates, b * 3 * h), (gradResetHidden, b * h)], optional: [(productHidden, b * h)])
        try launch(.gruResetGateBackwardStep, items: b * h,
                   [.tensor(gradGates), .tensor(gradResetHidden), .tensor(gates), .optional(productHidden),
                    .size(b), .size(h)])
    }
}
