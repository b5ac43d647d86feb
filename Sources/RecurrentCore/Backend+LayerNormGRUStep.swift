// The layer-normalised GRU's step ops (Backend.layerNormGRUForwardStep, layerNormGRUBackwardStep)
// made of the recurrent norm and PyTorch's GRU step, for backends without a fused one.
// B = batch, H = hidden size; rows of 3H: [r | z | n].

extension Backend {
    public func layerNormGRUForwardStep(hidden: Tensor, newGateHidden: Tensor, normalizedProjection: Tensor,
                                        projectionInverseDeviation: Tensor, gates: Tensor, hiddenProjection: Tensor,
                                        biasIH: Tensor, biasHH: Tensor, projectionGain: Tensor, previousHidden: Tensor?) throws {
        // hiddenProjection ← x̂ ⊙ γ_hh in place (B, 3H), then the GRU step on it.
        try layerNormForward(output: hiddenProjection, normalized: normalizedProjection, inverseDeviation: projectionInverseDeviation,
                             input: hiddenProjection, gain: projectionGain, bias: nil)
        try gruForwardStep(hidden: hidden, newGateHidden: newGateHidden, gates: gates, hiddenProjection: hiddenProjection,
                           biasIH: biasIH, biasHH: biasHH, previousHidden: previousHidden)
    }

    public func layerNormGRUBackwardStep(gradGatesInput: Tensor, gradGatesHidden: Tensor, gradProjection: Tensor,
                                         gradHidden: Tensor, gradOutput: Tensor?, gates: Tensor, newGateHidden: Tensor,
                                         normalizedProjection: Tensor, projectionInverseDeviation: Tensor, projectionGain: Tensor,
                                         previousHidden: Tensor?) throws {
        try gruBackwardStep(gradGatesInput: gradGatesInput, gradGatesHidden: gradGatesHidden, gradHidden: gradHidden,
                            gradOutput: gradOutput, gates: gates, newGateHidden: newGateHidden, previousHidden: previousHidden)
        try layerNormBackward(gradInput: gradProjection, gradOutput: gradGatesHidden, normalized: normalizedProjection,
                              inverseDeviation: projectionInverseDeviation, gain: projectionGain)
    }
}
