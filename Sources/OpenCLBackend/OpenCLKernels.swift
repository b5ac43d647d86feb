// The kernels of the program, named once: each case is a kernel function of Kernels/*.cl (the
// case name in snake case), resolved to its `cl_kernel` when a backend is opened, so a launch
// indexes an array instead of looking a name up.

/// A kernel function of the RecurrentKit program.
enum Kernel: Int, CaseIterable, Sendable {
    // elementwise.cl
    case addBias, sumColumns, activationForward, activationBackward, axpy, scale, multiply, clampValues
    case addPenaltyGradient, scaleByClipCoefficient, scaleMatrices, transpose, packedProduct
    // reduction.cl, loss.cl
    case reduceBlocks, reduceFinish, mseBlocks, softmaxCrossEntropyRows
    // optimizer.cl, dropout.cl, philox.cl
    case sgdUpdate, adamUpdate, dropoutForward, dropIndicator, philoxWords
    // embedding.cl
    case embeddingForward, embeddingBackward, gatherRows, scatterAddRows
    // attention.cl
    case sequenceSoftmax, sequenceSoftmaxBackward, weightedSum, batchedDot, batchedDotBackwardKeys
    // lstm.cl, gru.cl, rnn.cl: cell steps after a separate recurrent product
    case lstmForwardStep, lstmBackwardStep, gruForwardStep, gruBackwardStep, rnnForwardStep, rnnBackwardStep
    // gru_reset_before.cl: a GRU with the reset gate before the recurrent product
    case gruResetGateStep, gruResetBeforeStep, gruResetBeforeBackwardStep, gruResetGateBackwardStep
    // layer_norm_cell.cl: layer normalisation and the layer-normalised LSTM and GRU steps
    case layerNormForward, layerNormBackward, layerNormLstmForwardStep, layerNormLstmBackwardStep
    case layerNormGruForwardStep, layerNormGruBackwardStep
    // time_loop.cl: one launch per step, the recurrent product fused with the cell
    case stepForward, stepBackward, hiddenGradient, zoneoutBlend, zoneoutSplit
    // time_loop_reset_before.cl: a reset-before GRU's fused steps, two launches each way
    case resetBeforeGates, resetBeforeForward, resetBeforeBackward, resetBeforeResetGradient, resetBeforeInitialGradient
    // persistent.cl: one launch per layer and direction
    case persistentForward, persistentBackward

    /// The OpenCL C function name: the case name in snake case (`lstmForwardStep` → `lstm_forward_step`).
    var functionName: String {
        String(describing: self).reduce(into: "") { name, character in
            if character.isUppercase { name += "_" + character.lowercased() } else { name.append(character) }
        }
    }
}
