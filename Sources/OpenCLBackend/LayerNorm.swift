// Layer normalisation and the layer-normalised LSTM and GRU cell steps (Kernels/layer_norm_cell.cl):
// one work-group per row, or per few rows, its lanes striding over the row's units and its sums
// reduced in local memory in an order fixed by the width alone; the shared time loop
// (Backend+LayerNorm.swift) runs them.
// R = rows, W = width, U = units of a row, L = lanes a row, S = rows a group, B = batch, H = hidden size.
import COpenCL
import RecurrentCore

/// How a layer-norm launch lays its rows over work-groups (Kernels/layer_norm_cell.cl).
public struct LayerNormGroups: Equatable, Sendable {
    /// The partials of each sum: the smallest power of two ≥ U, at most `maxLanes`.
    public let lanes: Int
    /// L lanes a row (a power of two ≤ `lanes`), S rows a group.
    public let lanesPerRow: Int, rowsPerGroup: Int
    /// The groups of the launch.
    public let groups: Int

    /// The kernels' `NORM_MAX_LANES`.
    public static let maxLanes = 256

    /// For `rows` rows of `units` units with groups of at most `limit` work-items (a power of two):
    /// L = min(limit, P); rows share a group (S = limit / L at most) only while there are still at
    /// least `wantedGroups` groups, so a small batch keeps one group a row.
    public init(rows: Int, units: Int, limit: Int, wantedGroups: Int) {
        var lanes = 1
        while lanes < units && lanes < Self.maxLanes { lanes *= 2 }
        self.lanes = lanes
        lanesPerRow = min(limit, lanes)
        rowsPerGroup = max(1, min(limit / lanesPerRow, rows / max(wantedGroups, 1)))
        groups = (rows + rowsPerGroup - 1) / rowsPerGroup
    }

    /// The group limit a device allows these kernels: the tuned size, at most the device's and each
    /// kernel's largest group and `maxLanes`, rounded down to a power of two.
    static func limit(tuned: Int, kernels: [cl_kernel], device: cl_device_id, deviceLimit: Int) throws -> Int {
        var largest = min(tuned, deviceLimit, maxLanes)
        for kernel in kernels {
            var size = 0
            let status = clGetKernelWorkGroupInfo(kernel, device, cl_kernel_work_group_info(CL_KERNEL_WORK_GROUP_SIZE),
                                                  MemoryLayout<Int>.size, &size, nil)
            try OpenCLStatus.check(status, "clGetKernelWorkGroupInfo(CL_KERNEL_WORK_GROUP_SIZE)", device: "OpenCL device")
            largest = min(largest, size)
        }
        var limit = 1
        while limit * 2 <= largest { limit *= 2 }
        return limit
    }
}

extension OpenCLBackend {
    /// The layer-norm kernels, whose largest group bounds `layerNormGroupLimit`.
    static let layerNormKernels: [Kernel] = [.layerNormForward, .layerNormBackward, .layerNormLstmForwardStep,
                                             .layerNormLstmBackwardStep, .layerNormGruForwardStep, .layerNormGruBackwardStep]

    /// Enqueues a layer-norm kernel over `rows` rows of `width` units: `arguments`, then its local
    /// partials (`sums` per row slot), the row count, the width and the partials' count.
    func launchRows(_ kernel: Kernel, rows: Int, width: Int, sums: Int, _ arguments: [KernelArgument]) throws {
        guard rows > 0 else { return }
        let plan = LayerNormGroups(rows: rows, units: width, limit: layerNormGroupLimit, wantedGroups: 4 * device.computeUnits)
        let local = [plan.lanesPerRow, plan.rowsPerGroup]
        try launch(kernel, global: [plan.lanesPerRow, plan.groups * plan.rowsPerGroup], local: local,
                   arguments + [.local(plan.rowsPerGroup * plan.lanes * sums * 4), .size(rows), .size(width), .size(plan.lanes)],
                   what: "\(rows) rows in groups of \(local)")
    }

    public func layerNormForward(output: Tensor, normalized: Tensor, inverseDeviation: Tensor, input: Tensor, gain: Tensor,
                                 bias: Tensor?) throws {
        let op = "layerNormForward", w = gain.count
        let rows = try RecurrentLayerNormWeights.rows(of: input, gain: gain, "\(op) input")
        try checkCounts(op, [(output, rows * w), (normalized, rows * w), (inverseDeviation, rows)], optional: [(bias, w)])
        try launchRows(.layerNormForward, rows: rows, width: w, sums: 1,
                       [.tensor(output), .tensor(normalized), .tensor(inverseDeviation), .tensor(input), .tensor(gain),
                        .optional(bias)])
    }

    public func layerNormBackward(gradInput: Tensor, gradOutput: Tensor, normalized: Tensor, inverseDeviation: Tensor,
                                  gain: Tensor) throws {
        let op = "layerNormBackward", w = gain.count
        let rows = try RecurrentLayerNormWeights.rows(of: normalized, gain: gain, "\(op) normalized")
        try checkCounts(op, [(gradInput, rows * w), (gradOutput, rows * w), (inverseDeviation, rows)], optional: [])
        try launchRows(.layerNormBackward, rows: rows, width: w, sums: 2,
                       [.tensor(gradInput), .tensor(gradOutput), .tensor(normalized), .tensor(inverseDeviation), .tensor(gain)])
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
        try launchRows(.layerNormLstmForwardStep, rows: b, width: h, sums: 1,
                       [.tensor(hidden), .tensor(cell), .tensor(normalizedCell), .tensor(cellInverseDeviation),
                        .tensor(normalizedProjection), .tensor(projectionInverseDeviation), .tensor(gates),
                        .tensor(hiddenProjection), .tensor(biasIH), .tensor(biasHH), .tensor(projectionGain), .tensor(cellGain),
                        .tensor(cellBias), .optional(previousCell)])
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
        try launchRows(.layerNormLstmBackwardStep, rows: b, width: h, sums: 2,
                       [.tensor(gradGates), .tensor(gradProjection), .tensor(gradCell), .tensor(gradCellOutput), .tensor(gradHidden),
                        .optional(gradOutput), .tensor(gates), .tensor(cell), .tensor(normalizedCell), .tensor(cellInverseDeviation),
                        .tensor(normalizedProjection), .tensor(projectionInverseDeviation), .tensor(projectionGain), .tensor(cellGain),
                        .optional(previousCell)])
    }

    public func layerNormGRUForwardStep(hidden: Tensor, newGateHidden: Tensor, normalizedProjection: Tensor,
                                        projectionInverseDeviation: Tensor, gates: Tensor, hiddenProjection: Tensor,
                                        biasIH: Tensor, biasHH: Tensor, projectionGain: Tensor, previousHidden: Tensor?) throws {
        let op = "layerNormGRUForwardStep"
        let (b, h) = try RecurrentCell.stepSizes(bias: biasIH, state: hidden, gateCount: 3, op)
        try checkCounts(op, [(newGateHidden, b * h), (gates, b * 3 * h), (hiddenProjection, b * 3 * h), (biasHH, 3 * h),
                             (normalizedProjection, b * 3 * h), (projectionInverseDeviation, b), (projectionGain, 3 * h)],
                        optional: [(previousHidden, b * h)])
        try launchRows(.layerNormGruForwardStep, rows: b, width: h, sums: 1,
                       [.tensor(hidden), .tensor(newGateHidden), .tensor(normalizedProjection), .tensor(projectionInverseDeviation),
                        .tensor(gates), .tensor(hiddenProjection), .tensor(biasIH), .tensor(biasHH), .tensor(projectionGain),
                        .optional(previousHidden)])
    }

    public func layerNormGRUBackwardStep(gradGatesInput: Tensor, gradGatesHidden: Tensor, gradProjection: Tensor,
                                         gradHidden: Tensor, gradOutput: Tensor?, gates: Tensor, newGateHidden: Tensor,
                                         normalizedProjection: Tensor, projectionInverseDeviation: Tensor, projectionGain: Tensor,
                                         previousHidden: Tensor?) throws {
        let op = "layerNormGRUBackwardStep"
        let (b, h) = try RecurrentCell.stepSizes(gates: gates, gateCount: 3, op)
        try checkCounts(op, [(gradGatesInput, b * 3 * h), (gradGatesHidden, b * 3 * h), (gradProjection, b * 3 * h),
                             (gradHidden, b * h), (newGateHidden, b * h), (normalizedProjection, b * 3 * h),
                             (projectionInverseDeviation, b), (projectionGain, 3 * h)],
                        optional: [(gradOutput, b * h), (previousHidden, b * h)])
        try launchRows(.layerNormGruBackwardStep, rows: b, width: h, sums: 2,
                       [.tensor(gradGatesInput), .tensor(gradGatesHidden), .tensor(gradProjection), .tensor(gradHidden),
                        .optional(gradOutput), .tensor(gates), .tensor(newGateHidden), .tensor(normalizedProjection),
                        .tensor(projectionInverseDeviation), .tensor(projectionGain), .optional(previousHidden)])
    }
}
