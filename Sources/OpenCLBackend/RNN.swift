// Elman RNN cell steps (tanh or relu): one fused kernel per step (Kernels/rnn.cl).
// B = batch, H = hidden size.
import RecurrentCore

extension OpenCLBackend {
    public func rnnForwardStep(hidden: Tensor, gates: Tensor, hiddenProjection: Tensor,
                               biasIH: Tensor, biasHH: Tensor, activation: Activation) throws {
        let op = "rnnForwardStep"
        let (b, h) = try RecurrentCell.stepSizes(bias: biasIH, state: hidden, gateCount: 1, op)
        try checkCounts(op, [(gates, b * h), (hiddenProjection, b * h), (biasHH, h)])
        try launch(.rnnForwardStep, items: b * h,
                   [.tensor(hidden), .tensor(gates), .tensor(hiddenProjection), .tensor(biasIH), .tensor(biasHH),
                    .size(b), .size(h), .int(activation.kernelCode)])
    }

    public func rnnBackwardStep(gradGates: Tensor, gradHidden: Tensor, gradOutput: Tensor?,
                                gates: Tensor, activation: Activation) throws {
        let op = "rnnBackwardStep"
        let n = gates.count
        try checkCounts(op, [(gradGates, n), (gradHidden, n)], optional: [(gradOutput, n)])
        try launch(.rnnBackwardStep, items: n,
                   [.tensor(gradGates), .tensor(gradHidden), .optional(gradOutput), .tensor(gates), .count(n),
                    .int(activation.kernelCode)])
    }
}
