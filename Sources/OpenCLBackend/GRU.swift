// GRU cell steps, gate order r, z, n, reset after the recurrent product: one fused kernel per
// step (Kernels/gru.cl). B = batch, H = hidden size; gates are rows of 3H: [r | z | n].
import RecurrentCore

extension OpenCLBackend {
    public func gruForwardStep(hidden: Tensor, newGateHidden: Tensor, gates: Tensor, hiddenProjection: Tensor,
                               biasIH: Tensor, biasHH: Tensor, previousHidden: Tensor?) throws {
        let op = "gruForwardStep"
        let (b, h) = try RecurrentCell.stepSizes(bias: biasIH, state: hidden, gateCount: 3, op)
        try checkCounts(op, [(newGateHidden, b * h), (gates, b * 3 * h), (hiddenProjection, b * 3 * h), (biasHH, 3 * h)],
                        optional: [(previousHidden, b * h)])
        try launch(.gruForwardStep, items: b * h,
                   [.tensor(hidden), .tensor(newGateHidden), .tensor(gates), .tensor(hiddenProjection), // (B, H) (B, H) (B, 3H) ×2
                    .tensor(biasIH), .tensor(biasHH), .optional(previousHidden), .size(b), .size(h)])  // (3H) (3H) (B, H)
    }

    public func gruBackwardStep(gradGatesInput: Tensor, gradGatesHidden: Tensor, gradHidden: Tensor, gradOutput: Tensor?,
                                gates: Tensor, newGateHidden: Tensor, previousHidden: Tensor?) throws {
        let op = "gruBackwardStep"
        let (b, h) = try RecurrentCell.stepSizes(gates: gates, gateCount: 3, op)
        try checkCounts(op, [(gradGatesInput, b * 3 * h), (gradGatesHidden, b * 3 * h), (gradHidden, b * h),
                             (newGateHidden, b * h)],
                        optional: [(gradOutput, b * h), (previousHidden, b * h)])
        try launch(.gruBackwardStep, items: b * h,
                   [.tensor(gradGatesInput), .tensor(gradGatesHidden), .tensor(gradHidden), .optional(gradOutput),
                    .tensor(gates), .tensor(newGateHidden), .optional(previousHidden), .size(b), .size(h)])
    }
}
