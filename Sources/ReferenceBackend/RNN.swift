// Reference Elman RNN cell steps (one time step), tanh or relu.
// B = batch, H = hidden size.

import RecurrentCore

extension ReferenceBackend {
    /// Elman forward step: `h = f(gates + hiddenProjection + biasIH + biasHH)` (B, H), written to
    /// both `gates` and `hidden`.
    public func rnnForwardStep(hidden: Tensor, gates: Tensor, hiddenProjection: Tensor,
                               biasIH: Tensor, biasHH: Tensor, activation: Activation) throws {
        let h = try hiddenSize(gateVector: biasIH, gates: 1, "rnnForwardStep biasIH (H)")
        let b = try matrixRows(hidden, columns: h, "rnnForwardStep hidden (B, H)")
        try RecurrentError.check("rnnForwardStep biasHH (H)", count: biasHH.count, equals: h)
        try RecurrentError.check("rnnForwardStep gates (B, H)", count: gates.count, equals: b * h)
        try RecurrentError.check("rnnForwardStep hiddenProjection (B, H)", count: hiddenProjection.count, equals: b * h)
        let gv = try read(gates, "rnnForwardStep gates"), pv = try read(hiddenProjection, "rnnForwardStep hiddenProjection")
        let biv = try read(biasIH, "rnnForwardStep biasIH"), bhv = try read(biasHH, "rnnForwardStep biasHH")
        var hv = [Float](repeating: 0, count: b * h)
        for row in 0..<b {
            for j in 0..<h {
                let e = row * h + j
                hv[e] = Self.activate(gv[e] + pv[e] + biv[j] + bhv[j], activation)
            }
        }
        try write(hv, to: gates, "rnnForwardStep gates")
        try write(hv, to: hidden, "rnnForwardStep hidden")
    }

    /// Elman backward step: `gradGates = (gradOutput + gradHidden) ⊙ f'(h)`, with h = `gates`.
    public func rnnBackwardStep(gradGates: Tensor, gradHidden: Tensor, gradOutput: Tensor?,
                                gates: Tensor, activation: Activation) throws {
        try RecurrentError.check("rnnBackwardStep gradGates vs gates", count: gradGates.count, equals: gates.count)
        try RecurrentError.check("rnnBackwardStep gradHidden vs gates", count: gradHidden.count, equals: gates.count)
        let hv = try read(gates, "rnnBackwardStep gates"), dhNext = try read(gradHidden, "rnnBackwardStep gradHidden")
        let dy = try readOrZeros(gradOutput, count: gates.count, "rnnBackwardStep gradOutput (B, H)")
        let grad = (0..<hv.count).map { (dy[$0] + dhNext[$0]) * Self.derivative(output: hv[$0], activation) }
        try write(grad, to: gradGates, "rnnBackwardStep gradGates")
    }
}
