// Where a training step's time goes: a backend that forwards every op to a real one and
// charges its wall time to a phase. Ops on the CPU are synchronous; for a queued device the
// proxy synchronises after each op, so phases add up to (a slower) whole.
// The recurrent time loops go to the real backend's own loop (the CPU backend's fused loop, the
// OpenCL backend's chosen one) and are timed whole, as two phases; with `perStepLoops` the proxy
// runs the shared per-step loop itself instead, so its recurrent GEMMs and cell steps show one by one.
import Foundation
import RecurrentKit

/// The phases a training step is split into.
enum Phase: String, CaseIterable {
    case inputGEMM = "input GEMM (X·W_ih, all steps)"
    case forwardLoop = "forward time loop (h·W_hh + cells [+ x·W_ih])"
    case backwardLoop = "backward time loop (cells + dG·W_hh)"
    case recurrentGEMM = "recurrent GEMMs (per step)"
    case cellForward = "fused cell forward"
    case cellBackward = "fused cell backward"
    case weightGradientGEMM = "weight-gradient GEMMs"
    case inputGradientGEMM = "input-gradient GEMM (dG·W_ih)"
    case biasGradients = "bias gradients (column sums)"
    case optimizer = "optimizer (Adam)"
    case other = "loss, copies, fills"
}

/// Forwards every op to `inner`, timing it.
final class PhaseProfiler: Backend {
    let inner: any Backend
    /// T·B of the configuration: tells sequence GEMMs from per-step ones.
    let sequenceRows: Int
    /// Whether the time loops run op by op through the proxy (the shared per-step loop) rather
    /// than as the inner backend's own loops.
    let perStepLoops: Bool
    private let totals = Locked<[Phase: Double]>([:])

    init(_ inner: any Backend, sequenceRows: Int, perStepLoops: Bool) {
        self.inner = inner
        self.sequenceRows = sequenceRows
        self.perStepLoops = perStepLoops
    }

    var name: String { inner.name }
    var deviceDescription: String { inner.deviceDescription }

    /// Seconds per phase so far.
    var seconds: [Phase: Double] { totals.withLock { $0 } }
    func reset() { totals.withLock { $0 = [:] } }

    private func timed<R>(_ phase: Phase, _ body: () throws -> R) rethrows -> R {
        let start = DispatchTime.now().uptimeNanoseconds
        let result = try body()
        try? inner.synchronize()
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        totals.withLock { $0[phase, default: 0] += elapsed }
        return result
    }

    /// The same view on the inner backend.
    private func u(_ t: Tensor) -> Tensor {
        try! Tensor(shape: t.shape, buffer: t.buffer, offset: t.offset, backend: inner)
    }
    private func u(_ t: Tensor?) -> Tensor? { t.map { u($0) } }
    private func u(_ z: RecurrentZoneout?) -> RecurrentZoneout? { z.map { RecurrentZoneout(hidden: u($0.hidden), cell: u($0.cell)) } }
    private func u(_ w: RecurrentWeights) -> RecurrentWeights {
        RecurrentWeights(weightIH: u(w.weightIH), weightHH: u(w.weightHH), biasIH: u(w.biasIH), biasHH: u(w.biasHH),
                         weightHR: u(w.weightHR), layerNorm: w.layerNorm.map { u($0) })
    }

    func projectsInputInTimeLoop(_ io: RecurrentForwardIO, _ shape: RecurrentLayerShape) -> Bool {
        !perStepLoops && inner.projectsInputInTimeLoop(io, shape)
    }

    func recurrentForwardSteps(_ loop: RecurrentForwardLoop) throws {
        if perStepLoops { return try perStepRecurrentForwardSteps(loop) }
        var l = loop
        let io = loop.io
        l.io = RecurrentForwardIO(output: u(io.output), finalHidden: u(io.finalHidden), finalCell: u(io.finalCell),
                                  reserve: u(io.reserve), input: u(io.input), initialHidden: u(io.initialHidden),
                                  initialCell: u(io.initialCell), mode: io.mode, hiddenMask: u(io.hiddenMask), zoneout: u(io.zoneout))
        l.weights = u(loop.weights)
        (l.gates, l.extra, l.projected, l.output) = (u(loop.gates), u(loop.extra), u(loop.projected), u(loop.output))
        l.candidateCell = u(loop.candidateCell)
        try timed(.forwardLoop) { try inner.recurrentForwardSteps(l) }
    }

    func accumulatesBiasGradientsInTimeLoop(_ io: RecurrentBackwardIO, _ shape: RecurrentLayerShape) -> Bool {
        !perStepLoops && inner.accumulatesBiasGradientsInTimeLoop(io, shape)
    }

    func recurrentBackwardSteps(_ loop: RecurrentBackwardLoop) throws {
        if perStepLoops { return try perStepRecurrentBackwardSteps(loop) }
        var l = loop
        let io = loop.io
        l.io = RecurrentBackwardIO(gradInput: u(io.gradInput), gradInitialHidden: u(io.gradInitialHidden),
                                   gradInitialCell: u(io.gradInitialCell), gradOutput: u(io.gradOutput),
                                   gradFinalHidden: u(io.gradFinalHidden), gradFinalCell: u(io.gradFinalCell),
                                   input: u(io.input), output: u(io.output), initialHidden: u(io.initialHidden),
                                   initialCell: u(io.initialCell), reserve: u(io.reserve), hiddenMask: u(io.hiddenMask),
                                   zoneout: u(io.zoneout))
        l.weights = u(loop.weights)
        (l.gates, l.extra, l.projected, l.output) = (u(loop.gates), u(loop.extra), u(loop.projected), u(loop.output))
        l.candidateCell = u(loop.candidateCell)
        (l.gradGatesInput, l.gradGatesHidden, l.gradOutputs) = (u(loop.gradGatesInput), u(loop.gradGatesHidden), u(loop.gradOutputs))
        l.biasGradients = loop.biasGradients.map { u($0) }
        try timed(.backwardLoop) { try inner.recurrentBackwardSteps(l) }
    }

    private func u(_ v: LayerNormReserve) -> LayerNormReserve {
        var r = v
        (r.gates, r.extra, r.normalizedIH, r.normalizedHH) = (u(v.gates), u(v.extra), u(v.normalizedIH), u(v.normalizedHH))
        (r.deviationIH, r.deviationHH, r.normalizedCell, r.deviationCell) = (u(v.deviationIH), u(v.deviationHH), u(v.normalizedCell),
                                                                            u(v.deviationCell))
        return r
    }
    private func u(_ n: RecurrentLayerNormWeights) -> RecurrentLayerNormWeights {
        RecurrentLayerNormWeights(gainIH: u(n.gainIH), gainHH: u(n.gainHH), gainCell: u(n.gainCell), biasCell: u(n.biasCell))
    }

    func layerNormForwardSteps(_ loop: LayerNormForwardLoop) throws {
        if perStepLoops { return try perStepLayerNormForwardSteps(loop) }
        var l = loop
        let io = loop.io
        l.io = RecurrentForwardIO(output: u(io.output), finalHidden: u(io.finalHidden), finalCell: u(io.finalCell),
                                  reserve: u(io.reserve), input: u(io.input), initialHidden: u(io.initialHidden),
                                  initialCell: u(io.initialCell), mode: io.mode, hiddenMask: u(io.hiddenMask), zoneout: u(io.zoneout))
        (l.weights, l.norm, l.reserve, l.output) = (u(loop.weights), u(loop.norm), u(loop.reserve), u(loop.output))
        try timed(.forwardLoop) { try inner.layerNormForwardSteps(l) }
    }

    func layerNormBackwardSteps(_ loop: LayerNormBackwardLoop) throws {
        if perStepLoops { return try perStepLayerNormBackwardSteps(loop) }
        var l = loop
        let io = loop.io
        l.io = RecurrentBackwardIO(gradInput: u(io.gradInput), gradInitialHidden: u(io.gradInitialHidden),
                                   gradInitialCell: u(io.gradInitialCell), gradOutput: u(io.gradOutput),
                                   gradFinalHidden: u(io.gradFinalHidden), gradFinalCell: u(io.gradFinalCell),
                                   input: u(io.input), output: u(io.output), initialHidden: u(io.initialHidden),
                                   initialCell: u(io.initialCell), reserve: u(io.reserve), hiddenMask: u(io.hiddenMask),
                                   zoneout: u(io.zoneout))
        (l.weights, l.norm, l.reserve, l.output, l.gradOutput) = (u(loop.weights), u(loop.norm), u(loop.reserve), u(loop.output),
                                                                  u(loop.gradOutput))
        (l.gradients, l.gradNorm, l.gradGates, l.gradProducts) = (u(loop.gradients), u(loop.gradNorm), u(loop.gradGates),
                                                                  u(loop.gradProducts))
        try timed(.backwardLoop) { try inner.layerNormBackwardSteps(l) }
    }

    func allocate(count: Int) throws -> any DeviceBuffer { try inner.allocate(count: count) }
    func upload(_ values: UnsafeBufferPointer<Float>, to destination: Tensor) throws {
        try timed(.other) { try inner.upload(values, to: u(destination)) }
    }
    func download(_ source: Tensor, into values: UnsafeMutableBufferPointer<Float>) throws {
        try timed(.other) { try inner.download(u(source), into: values) }
    }
    func copy(_ source: Tensor, to destination: Tensor) throws { try timed(.other) { try inner.copy(u(source), to: u(destination)) } }
    func fill(_ destination: Tensor, with value: Float) throws { try timed(.other) { try inner.fill(u(destination), with: value) } }
    func synchronize() throws { try inner.synchronize() }
    func memoryStatistics() -> MemoryStatistics? { inner.memoryStatistics() }

    func gemm(_ c: Tensor, _ a: Tensor, _ b: Tensor, _ s: GEMMShape) throws {
        let phase: Phase
        if s.transA == .transposed { phase = .weightGradientGEMM }
        else if s.m == sequenceRows { phase = s.transB == .transposed ? .inputGEMM : .inputGradientGEMM }
        else { phase = .recurrentGEMM }
        try timed(phase) { try inner.gemm(u(c), u(a), u(b), s) }
    }
    func packForRepeatedProducts(_ b: Tensor, k: Int, n: Int, transB: Transpose) throws -> PackedMatrix? {
        try timed(.recurrentGEMM) { try inner.packForRepeatedProducts(u(b), k: k, n: n, transB: transB) }
    }
    func gemm(_ c: Tensor, _ a: Tensor, packed: PackedMatrix, accumulate: Bool) throws {
        try timed(.recurrentGEMM) { try inner.gemm(u(c), u(a), packed: packed, accumulate: accumulate) }
    }
    func addBias(_ x: Tensor, _ bias: Tensor) throws { try timed(.other) { try inner.addBias(u(x), u(bias)) } }
    func sumColumns(_ out: Tensor, _ x: Tensor, accumulate: Bool) throws {
        try timed(.biasGradients) { try inner.sumColumns(u(out), u(x), accumulate: accumulate) }
    }
    func activationForward(_ y: Tensor, _ x: Tensor, _ activation: Activation) throws {
        try timed(.other) { try inner.activationForward(u(y), u(x), activation) }
    }
    func activationBackward(_ dx: Tensor, _ dy: Tensor, _ y: Tensor, _ activation: Activation, accumulate: Bool) throws {
        try timed(.other) { try inner.activationBackward(u(dx), u(dy), u(y), activation, accumulate: accumulate) }
    }
    func axpy(_ y: Tensor, alpha: Float, _ x: Tensor) throws { try timed(.other) { try inner.axpy(u(y), alpha: alpha, u(x)) } }
    func scale(_ x: Tensor, by alpha: Float) throws { try timed(.other) { try inner.scale(u(x), by: alpha) } }
    func multiply(_ out: Tensor, _ a: Tensor, _ b: Tensor) throws { try timed(.other) { try inner.multiply(u(out), u(a), u(b)) } }
    func clamp(_ x: Tensor, low: Float, high: Float) throws { try timed(.other) { try inner.clamp(u(x), low: low, high: high) } }
    func reduce(_ out: Tensor, _ x: Tensor, _ r: Reduction, scale: Float, accumulate: Bool) throws {
        try timed(.other) { try inner.reduce(u(out), u(x), r, scale: scale, accumulate: accumulate) }
    }
    func addPenaltyGradient(_ grad: Tensor, _ param: Tensor, l1: Float, l2: Float) throws {
        try timed(.optimizer) { try inner.addPenaltyGradient(u(grad), u(param), l1: l1, l2: l2) }
    }
    func scaleByClipCoefficient(_ x: Tensor, sumOfSquares: Tensor, maxNorm: Float) throws {
        try timed(.optimizer) { try inner.scaleByClipCoefficient(u(x), sumOfSquares: u(sumOfSquares), maxNorm: maxNorm) }
    }
    func dropoutForward(_ y: Tensor, mask: Tensor, _ x: Tensor, probability: Float, seed: UInt64, stream: UInt64, offset: UInt64) throws {
        try timed(.other) {
            try inner.dropoutForward(u(y), mask: u(mask), u(x), probability: probability, seed: seed, stream: stream, offset: offset)
        }
    }
    func dropIndicator(_ d: Tensor, probability: Float, seed: UInt64, stream: UInt64, offset: UInt64) throws {
        try timed(.other) { try inner.dropIndicator(u(d), probability: probability, seed: seed, stream: stream, offset: offset) }
    }
    func embeddingForward(_ out: Tensor, indices: Tensor, table: Tensor) throws {
        try timed(.other) { try inner.embeddingForward(u(out), indices: u(indices), table: u(table)) }
    }
    func embeddingBackward(_ gradTable: Tensor, indices: Tensor, gradOut: Tensor) throws {
        try timed(.other) { try inner.embeddingBackward(u(gradTable), indices: u(indices), gradOut: u(gradOut)) }
    }
    func makeRowIndices(_ rows: [Int], tableRows: Int) throws -> RowIndices {
        try inner.makeRowIndices(rows, tableRows: tableRows)
    }
    func gatherRows(_ out: Tensor, _ table: Tensor, rows: RowIndices) throws {
        try timed(.other) { try inner.gatherRows(u(out), u(table), rows: rows) }
    }
    func scatterAddRows(_ out: Tensor, _ x: Tensor, rows: RowIndices) throws {
        try timed(.other) { try inner.scatterAddRows(u(out), u(x), rows: rows) }
    }
    func meanSquaredError(loss: Tensor, gradient: Tensor, prediction: Tensor, target: Tensor, scale: Float) throws {
        try timed(.other) { try inner.meanSquaredError(loss: u(loss), gradient: u(gradient), prediction: u(prediction), target: u(target), scale: scale) }
    }
    func softmaxCrossEntropy(loss: Tensor, gradient: Tensor, logits: Tensor, targets: Tensor, scale: Float) throws {
        try timed(.other) { try inner.softmaxCrossEntropy(loss: u(loss), gradient: u(gradient), logits: u(logits), targets: u(targets), scale: scale) }
    }
    func sequenceSoftmax(_ weights: Tensor, scores: Tensor, lengths: Tensor?) throws {
        try timed(.other) { try inner.sequenceSoftmax(u(weights), scores: u(scores), lengths: u(lengths)) }
    }
    func sequenceSoftmaxBackward(gradScores: Tensor, gradWeights: Tensor, weights: Tensor) throws {
        try timed(.other) { try inner.sequenceSoftmaxBackward(gradScores: u(gradScores), gradWeights: u(gradWeights), weights: u(weights)) }
    }
    func weightedSum(_ context: Tensor, values: Tensor, weights: Tensor) throws {
        try timed(.other) { try inner.weightedSum(u(context), values: u(values), weights: u(weights)) }
    }
    func weightedSumBackward(gradValues: Tensor, gradWeights: Tensor, gradContext: Tensor, values: Tensor, weights: Tensor) throws {
        try timed(.other) {
            try inner.weightedSumBackward(gradValues: u(gradValues), gradWeights: u(gradWeights), gradContext: u(gradContext),
                                          values: u(values), weights: u(weights))
        }
    }
    func batchedDot(_ scores: Tensor, keys: Tensor, query: Tensor) throws {
        try timed(.other) { try inner.batchedDot(u(scores), keys: u(keys), query: u(query)) }
    }
    func batchedDotBackward(gradKeys: Tensor?, gradQuery: Tensor?, gradScores: Tensor, keys: Tensor, query: Tensor) throws {
        try timed(.other) {
            try inner.batchedDotBackward(gradKeys: u(gradKeys), gradQuery: u(gradQuery), gradScores: u(gradScores), keys: u(keys),
                                         query: u(query))
        }
    }
    func sgdUpdate(_ param: Tensor, gradient: Tensor, momentumBuffer: Tensor?, _ h: SGDHyperparameters) throws {
        try timed(.optimizer) { try inner.sgdUpdate(u(param), gradient: u(gradient), momentumBuffer: u(momentumBuffer), h) }
    }
    func adamUpdate(_ param: Tensor, gradient: Tensor, m: Tensor, v: Tensor, _ h: AdamHyperparameters) throws {
        try timed(.optimizer) { try inner.adamUpdate(u(param), gradient: u(gradient), m: u(m), v: u(v), h) }
    }
    func lstmForwardStep(hidden: Tensor, cell: Tensor, gates: Tensor, hiddenProjection: Tensor, biasIH: Tensor, biasHH: Tensor,
                         previousCell: Tensor?) throws {
        try timed(.cellForward) {
            try inner.lstmForwardStep(hidden: u(hidden), cell: u(cell), gates: u(gates), hiddenProjection: u(hiddenProjection),
                                      biasIH: u(biasIH), biasHH: u(biasHH), previousCell: u(previousCell))
        }
    }
    func lstmBackwardStep(gradGates: Tensor, gradCell: Tensor, gradHidden: Tensor, gradOutput: Tensor?, gates: Tensor, cell: Tensor,
                          previousCell: Tensor?) throws {
        try timed(.cellBackward) {
            try inner.lstmBackwardStep(gradGates: u(gradGates), gradCell: u(gradCell), gradHidden: u(gradHidden), gradOutput: u(gradOutput),
                                       gates: u(gates), cell: u(cell), previousCell: u(previousCell))
        }
    }
    func gruForwardStep(hidden: Tensor, newGateHidden: Tensor, gates: Tensor, hiddenProjection: Tensor, biasIH: Tensor, biasHH: Tensor,
                        previousHidden: Tensor?) throws {
        try timed(.cellForward) {
            try inner.gruForwardStep(hidden: u(hidden), newGateHidden: u(newGateHidden), gates: u(gates), hiddenProjection: u(hiddenProjection),
                                     biasIH: u(biasIH), biasHH: u(biasHH), previousHidden: u(previousHidden))
        }
    }
    func gruBackwardStep(gradGatesInput: Tensor, gradGatesHidden: Tensor, gradHidden: Tensor, gradOutput: Tensor?, gates: Tensor,
                         newGateHidden: Tensor, previousHidden: Tensor?) throws {
        try timed(.cellBackward) {
            try inner.gruBackwardStep(gradGatesInput: u(gradGatesInput), gradGatesHidden: u(gradGatesHidden), gradHidden: u(gradHidden),
                                      gradOutput: u(gradOutput), gates: u(gates), newGateHidden: u(newGateHidden),
                                      previousHidden: u(previousHidden))
        }
    }
    func gruResetGateStep(resetHidden: Tensor, gates: Tensor, hiddenProjection: Tensor, biasIH: Tensor, biasHH: Tensor,
                          productHidden: Tensor?) throws {
        try timed(.cellForward) {
            try inner.gruResetGateStep(resetHidden: u(resetHidden), gates: u(gates), hiddenProjection: u(hiddenProjection),
                                       biasIH: u(biasIH), biasHH: u(biasHH), productHidden: u(productHidden))
        }
    }
    func gruResetBeforeStep(hidden: Tensor, gates: Tensor, newGateProjection: Tensor, biasIH: Tensor, biasHH: Tensor,
                            previousHidden: Tensor?) throws {
        try timed(.cellForward) {
            try inner.gruResetBeforeStep(hidden: u(hidden), gates: u(gates), newGateProjection: u(newGateProjection),
                                         biasIH: u(biasIH), biasHH: u(biasHH), previousHidden: u(previousHidden))
        }
    }
    func gruResetBeforeBackwardStep(gradGates: Tensor, gradHidden: Tensor, gradOutput: Tensor?, gates: Tensor,
                                    previousHidden: Tensor?) throws {
        try timed(.cellBackward) {
            try inner.gruResetBeforeBackwardStep(gradGates: u(gradGates), gradHidden: u(gradHidden), gradOutput: u(gradOutput),
                                                 gates: u(gates), previousHidden: u(previousHidden))
        }
    }
    func gruResetGateBackwardStep(gradGates: Tensor, gradResetHidden: Tensor, gates: Tensor, productHidden: Tensor?) throws {
        try timed(.cellBackward) {
            try inner.gruResetGateBackwardStep(gradGates: u(gradGates), gradResetHidden: u(gradResetHidden), gates: u(gates),
                                               productHidden: u(productHidden))
        }
    }
    func layerNormForward(output: Tensor, normalized: Tensor, inverseDeviation: Tensor, input: Tensor, gain: Tensor,
                          bias: Tensor?) throws {
        try timed(.cellForward) {
            try inner.layerNormForward(output: u(output), normalized: u(normalized), inverseDeviation: u(inverseDeviation),
                                       input: u(input), gain: u(gain), bias: u(bias))
        }
    }
    func layerNormBackward(gradInput: Tensor, gradOutput: Tensor, normalized: Tensor, inverseDeviation: Tensor, gain: Tensor) throws {
        try timed(.cellBackward) {
            try inner.layerNormBackward(gradInput: u(gradInput), gradOutput: u(gradOutput), normalized: u(normalized),
                                        inverseDeviation: u(inverseDeviation), gain: u(gain))
        }
    }
    func layerNormLSTMForwardStep(hidden: Tensor, cell: Tensor, normalizedCell: Tensor, cellInverseDeviation: Tensor,
                                  normalizedProjection: Tensor, projectionInverseDeviation: Tensor,
                                  gates: Tensor, hiddenProjection: Tensor, biasIH: Tensor, biasHH: Tensor,
                                  projectionGain: Tensor, cellGain: Tensor, cellBias: Tensor, previousCell: Tensor?) throws {
        try timed(.cellForward) {
            try inner.layerNormLSTMForwardStep(hidden: u(hidden), cell: u(cell), normalizedCell: u(normalizedCell),
                                               cellInverseDeviation: u(cellInverseDeviation),
                                               normalizedProjection: u(normalizedProjection),
                                               projectionInverseDeviation: u(projectionInverseDeviation), gates: u(gates),
                                               hiddenProjection: u(hiddenProjection), biasIH: u(biasIH), biasHH: u(biasHH),
                                               projectionGain: u(projectionGain), cellGain: u(cellGain), cellBias: u(cellBias),
                                               previousCell: u(previousCell))
        }
    }
    func layerNormLSTMBackwardStep(gradGates: Tensor, gradProjection: Tensor, gradCell: Tensor, gradCellOutput: Tensor,
                                   gradHidden: Tensor, gradOutput: Tensor?, gates: Tensor, cell: Tensor, normalizedCell: Tensor,
                                   cellInverseDeviation: Tensor, normalizedProjection: Tensor,
                                   projectionInverseDeviation: Tensor, projectionGain: Tensor, cellGain: Tensor,
                                   previousCell: Tensor?) throws {
        try timed(.cellBackward) {
            try inner.layerNormLSTMBackwardStep(gradGates: u(gradGates), gradProjection: u(gradProjection), gradCell: u(gradCell),
                                                gradCellOutput: u(gradCellOutput), gradHidden: u(gradHidden),
                                                gradOutput: u(gradOutput), gates: u(gates), cell: u(cell),
                                                normalizedCell: u(normalizedCell), cellInverseDeviation: u(cellInverseDeviation),
                                                normalizedProjection: u(normalizedProjection),
                                                projectionInverseDeviation: u(projectionInverseDeviation),
                                                projectionGain: u(projectionGain), cellGain: u(cellGain),
                                                previousCell: u(previousCell))
        }
    }
    func rnnForwardStep(hidden: Tensor, gates: Tensor, hiddenProjection: Tensor, biasIH: Tensor, biasHH: Tensor, activation: Activation) throws {
        try timed(.cellForward) {
            try inner.rnnForwardStep(hidden: u(hidden), gates: u(gates), hiddenProjection: u(hiddenProjection),
                                     biasIH: u(biasIH), biasHH: u(biasHH), activation: activation)
        }
    }
    func rnnBackwardStep(gradGates: Tensor, gradHidden: Tensor, gradOutput: Tensor?, gates: Tensor, activation: Activation) throws {
        try timed(.cellBackward) {
            try inner.rnnBackwardStep(gradGates: u(gradGates), gradHidden: u(gradHidden), gradOutput: u(gradOutput), gates: u(gates),
                                      activation: activation)
        }
    }
}

/// Runs `steps` profiled training steps (after `warmup`) and prints milliseconds per step by phase.
func profilePhases(_ config: BenchConfig, device: String, warmup: Int, steps: Int, perStepLoops: Bool) throws {
    let profiler = PhaseProfiler(try Device.makeBackend(device), sequenceRows: config.t * config.b, perStepLoops: perStepLoops)
    let step = try TrainingStep(config, on: profiler)
    for _ in 0..<warmup { try step.step() }
    profiler.reset()
    let clock = ContinuousClock()
    let total = try clock.measure { for _ in 0..<steps { try step.step() } }
    let wall = (Double(total.components.seconds) + Double(total.components.attoseconds) / 1e18) / Double(steps) * 1e3
    let phases = profiler.seconds
    print("\(config.label) on \(device)" + (perStepLoops ? " (shared per-step loop)" : "")
          + ": \(String(format: "%.1f", wall)) ms per step")
    // The label column as wide as the longest phase name, so that none is cut.
    let host = "host (time loop, views, dispatch)"
    let width = Phase.allCases.map(\.rawValue.count).reduce(host.count, max)
    func row(_ label: String, _ ms: Double) -> String {
        "  " + label.padding(toLength: width, withPad: " ", startingAt: 0) + String(format: "%8.1f ms  %5.1f%%", ms, 100 * ms / wall)
    }
    var accounted = 0.0
    for phase in Phase.allCases where phases[phase] != nil {
        let ms = phases[phase]! / Double(steps) * 1e3
        accounted += ms
        print(row(phase.rawValue, ms))
    }
    print(row(host, wall - accounted))
}
