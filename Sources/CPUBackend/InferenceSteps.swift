// Forward-only cell steps (evaluation, streaming): the training steps' C kernels (LSTM.swift,
// GRU.swift, RNN.swift) with `inference` set, so a step writes only h_t (and c_t) and not the
// gates and states backward would read.
// B = batch, H = hidden size; gate rows as in the training steps: LSTM [i | f | g | o], GRU [r | z | n].
import RecurrentCore

extension CPUBackend {
    public func lstmInferenceStep(hidden: Tensor, cell: Tensor, gates: Tensor, hiddenProjection: Tensor,
                                  biasIH: Tensor, biasHH: Tensor, previousCell: Tensor?) throws {
        try lstmStep(hidden: hidden, cell: cell, gates: gates, hiddenProjection: hiddenProjection, biasIH: biasIH,
                     biasHH: biasHH, previousCell: previousCell, inference: true, "lstmInferenceStep")
    }

    public func gruInferenceStep(hidden: Tensor, newGateHidden: Tensor, gates: Tensor, hiddenProjection: Tensor,
                                 biasIH: Tensor, biasHH: Tensor, previousHidden: Tensor?) throws {
        try gruStep(hidden: hidden, newGateHidden: newGateHidden, gates: gates, hiddenProjection: hiddenProjection,
                    biasIH: biasIH, biasHH: biasHH, previousHidden: previousHidden, inference: true, "gruInferenceStep")
    }

    public func rnnInferenceStep(hidden: Tensor, gates: Tensor, hiddenProjection: Tensor,
                                 biasIH: Tensor, biasHH: Tensor, activation: Activation) throws {
        try rnnStep(hidden: hidden, gates: gates, hiddenProjection: hiddenProjection, biasIH: biasIH, biasHH: biasHH,
                    activation: activation, inference: true, "rnnInferenceStep")
    }
}
