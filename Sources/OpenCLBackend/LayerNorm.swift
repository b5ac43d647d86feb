// Layer normalisation and the layer-normalised LSTM cell step (Kernels/layer_norm_cell.cl), one
// work-item per row; the shared time loop (Backend+LayerNorm.swift) runs them.
// R = rows, W = width, B = batch, H = hidden size.
import RecurrentCore

extension OpenCLBackend {
    public func layerNormForward(output: Tensor, normalized: Tensor, inverseDeviation: Tensor, input: Tensor, gain: Tensor,
                                 bias: Tensor?) throws {
        let op = "layerNormForward", w = gain.count
        let rows = try RecurrentLayerNormWeights.rows(of: input, gain: gain, "\(op) input")
        try checkCounts(op, [(output, rows * w), (normalized, rows * w), (inverseDeviation, rows)], optional: [(bias, w)])
        try launch(.layerNormForward, items: rows,
                   [.tensor(output), .tensor(normalized), .tensor(inverseDeviation), .tensor(input), .tensor(gain),
                    .optional(bias), .size(rows), .size(w)])
    }

    public func layerNormBackward(gradInput: Tensor, gradOutput: Tensor, normalized: Tensor, inverseDeviation: Tensor,
                                  gain: Tensor) throws {
        let op = "layerNormBackward", w = gain.count
        let rows = try RecurrentLayerNormWeights.rows(of: normalized, gain: gain, "\(op) normalized")
        try checkCounts(op, [(gradInput, rows * w), (gradOutput, rows * w), (inverseDeviation, rows)], optional: [])
        try launch(.layerNormBackward, items: rows,
                   [.tensor(gradInput), .tensor(gradOutput), .tensor(normalized), .tensor(inverseDeviation), .tensor(gain),
                    .size(rows), .size(w)])
    }

    public func layerNormLSTMForwardStep(hidden: Tensor, cell: Tensor, normalizedCell: Tensor, cellInverseDeviation: Tensor,
                                         normalizedProjection: Tensor, projectionInverseDeviation: Tensor,
                                         gates: Tensor, hiddenProjection: Tensor, biasIH: Tensor, biasHH: Tensor,
                                         projectionGain: Tensor, cellGain: Tensor, cellBias: Tensor, previousCell: Tensor?) throws {
        let op = "layerNormLSTMForwardStep"
        let (b, h) = try RecurrentCell.stepSizes(bias: biasIH, state: hidden, gateCount: 4, op)
        try checkCounts(op, [(cell, b * h), (normalizedCell, b * h), (cellInverseDeviation, b), (gates, b * 4 * h),
                             (hiddenProjection, b * 4 * h), (biasHH, 4 * h), (cellGain, h), (cellBias, h),
                             (normalizedProjection, b * 4 * h), (projectionInverseDeviation, b), (projectionGain, 4 * h)],
                        optional: [(previousCell, b * h)])
        try launch(.layerNormLstmForwardStep, items: b,
                   [.tensor(hidden), .tensor(cell), .tensor(normalizedCell), .tensor(cellInverseDeviation),
                    .tensor(normalizedProjection), .tensor(projectionInverseDeviation), .tensor(gates),
                    .tensor(hiddenProjection), .tensor(biasIH), .tensor(biasHH), .tensor(projectionGain), .tensor(cellGain),
                    .tensor(cellBias), .optional(previousCell), .size(b), .size(h)])
    }

    public func layerNormLSTMBackwardStep(gradGates: Tensor, gradProjection: Tensor, gradCell: Tensor, gradCellOutput: Tensor,
                                          gradHidden: Tensor, gradOutput: Tensor?, gates: Tensor, cell: Tensor, normalizedCell: Tensor,
                                          cellInverseDeviation: Tensor, normalizedProjection: Tensor,
                                          projectionInverseDeviation: Tensor, projectionGain: Tensor, cellGain: Tensor,
                                          previousCell: Tensor?) throws {
        let op = "layerNormLSTMBackwardStep"
        let (b, h) = try RecurrentCell.stepSizes(gates: gates, gateCount: 4, op)
        try checkCounts(op, [(gradGates, b * 4 * h), (gradCell, b * h), (gradCellOutput, b * h), (gradHidden, b * h),
                             (cell, b * h), (normalizedCell, b * h), (cellInverseDeviation, b), (cellGain, h),
                             (gradProjection, b * 4 * h), (normalizedProjection, b * 4 * h), (projectionInverseDeviation, b),
                             (projectionGain, 4 * h)],
                        optional: [(gradOutput, b * h), (previousCell, b * h)])
        try launch(.layerNormLstmBackwardStep, items: b,
                   [.tensor(gradGates), .tensor(gradProjection), .tensor(gradCell), .tensor(gradCellOutput), .tensor(gradHidden),
                    .optional(gradOutput), .tensor(gates), .tensor(cell), .tensor(normalizedCell), .tensor(cellInverseDeviation),
                    .tensor(normalizedProjection), .tensor(projectionInverseDeviation), .tensor(projectionGain), .tensor(cellGain),
                    .optional(previousCell), .size(b), .size(h)])
    }
}
