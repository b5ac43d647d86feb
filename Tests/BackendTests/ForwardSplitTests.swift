// The CPU backend's forward-only time loop split by hidden units (CPUForwardSplit.units, every
// thread on the whole batch, one meeting per step) and split by batch rows, against the
// reference: H below, at and past the unit tiles (13, 37, 64, 129), one sequence, odd batches,
// more rows than a row tile, variable lengths down to one sequence, initial states, every cell;
// then 2-layer bidirectional networks in evaluation, with and without projections (which the unit
// split hands to the batch split). Whichever kernel build (RECURRENT_CPU_ISA) and weight layout
// (RECURRENT_PACKED_WEIGHTS=0 runs the shared per-step loop: no unit split) the process runs.
// T = time steps, B = batch, I = input size, H = hidden size, L = layers, P = projection size.

import RecurrentKit
import ReferenceBackend
import TestSupport
import Testing

@Suite struct ForwardSplitTests {
    /// Whether the unit split can run in this process (two threads, the fused loop).
    static let unitSplitRuns: Bool = {
        let backend = CPUBackend(forwardSplit: .units)
        return backend.batchParallelism >= 2 && backend.fusesTimeLoop
    }()

    static let shapes: [RecurrentCase] = [
        RecurrentCase(cell: .lstm, t: 3, b: 1, i: 2, h: 13, initialState: true, finalGradients: false, gradOutput: false,
                      inputGradients: false),
        RecurrentCase(cell: .lstm, t: 4, b: 3, i: 5, h: 37, initialState: false, finalGradients: false, gradOutput: false,
                      inputGradients: false),
        RecurrentCase(cell: .lstm, t: 3, b: 17, i: 64, h: 64, initialState: true, finalGradients: false, gradOutput: false,
                      inputGradients: false),
        RecurrentCase(cell: .lstm, t: 2, b: 65, i: 37, h: 129, initialState: true, finalGradients: false, gradOutput: false,
                      inputGradients: false),
        RecurrentCase(cell: .lstm, t: 6, b: 5, i: 3, h: 45, initialState: true, finalGradients: false, gradOutput: false,
                      inputGradients: false, batchSizes: [5, 4, 4, 3, 1, 1]),
        RecurrentCase(cell: .lstm, t: 4, b: 9, i: 3, h: 70, initialState: false, finalGradients: false, gradOutput: false,
                      inputGradients: false, batchSizes: [9, 6, 1, 1]),
    ]

    /// Every shape for every cell.
    static let cases: [RecurrentCase] = RecurrentCell.allCases.flatMap { cell in
        shapes.map { shape in
            var c = shape
            c.cell = cell
            return c
        }
    }

    @Test(arguments: cases)
    func unitSplitMatchesReference(_ c: RecurrentCase) throws {
        // A backend of its own: its threads are free for the split (a busy team runs the batch split).
        let units = CPUBackend(forwardSplit: .units)
        try Side.$deviceOverride.withValue(units) { try FusedVariantTests.expectForwardOnlyMatchesReference(c) }
        if Self.unitSplitRuns { #expect(units.unitSplitPasses == 1, "\(c.testDescription): the unit split did not run") }
    }

    @Test(arguments: cases)
    func batchSplitMatchesReference(_ c: RecurrentCase) throws {
        let batch = CPUBackend(forwardSplit: .batch)
        try Side.$deviceOverride.withValue(batch) { try FusedVariantTests.expectForwardOnlyMatchesReference(c) }
        #expect(batch.unitSplitPasses == 0)
    }

    /// 2-layer bidirectional networks with variable lengths and initial states, in evaluation, on
    /// both splits and on the reference; an LSTM with a projection runs the batch split.
    @Test(arguments: ["lstm", "lstm projected", "gru", "rnn relu"])
    func bidirectionalStackMatchesReference(_ kind: String) throws {
        let (t, b, i, h) = (5, 11, 6, 40)
        func run(_ backend: any Backend) throws -> (output: [Float], hidden: [Float]) {
            let rng = RandomSource(seed: 31)
            let net: RecurrentNetwork
            switch kind {
            case "lstm", "lstm projected":
                net = try LSTM(inputSize: i, hiddenSize: h, numLayers: 2, projSize: kind == "lstm" ? 0 : 7, bidirectional: true,
                               on: backend, rng: rng)
            case "gru": net = try GRU(inputSize: i, hiddenSize: h, numLayers: 2, bidirectional: true, on: backend, rng: rng)
            default: net = try RNN(inputSize: i, hiddenSize: h, numLayers: 2, nonlinearity: .relu, bidirectional: true, on: backend, rng: rng)
            }
            net.eval()
            var random = TestRandom(seed: 32)
            let x = try SequenceBatch(random.tensor([t, b, i], on: backend), lengths: [5, 3, 5, 1, 4, 2, 5, 5, 1, 3, 4])
            let r = kind == "lstm projected" ? 7 : h
            let h0 = try random.tensor([4, b, r], on: backend)
            let c0 = kind.hasPrefix("lstm") ? try random.tensor([4, b, h], on: backend) : nil
            let result = try net(x, initialState: RecurrentState(hidden: h0, cell: c0))
            return (try result.output.data.toArray(), try result.state.hidden.toArray())
        }
        let reference = try run(Side.referenceBackend)
        let units = CPUBackend(forwardSplit: .units)
        for backend in [units, CPUBackend(forwardSplit: .batch)] {
            let got = try run(backend)
            expectClose(got.output, reference.output, "\(kind) \(backend.forwardSplit) split: output")
            expectClose(got.hidden, reference.hidden, "\(kind) \(backend.forwardSplit) split: final hidden")
        }
        // Two layers × two directions ran split by units, unless projected.
        if Self.unitSplitRuns { #expect(units.unitSplitPasses == (kind == "lstm projected" ? 0 : 4)) }
    }

    /// The automatic choice: by units from 2 MiB of packed weights (an LSTM of I = H = 256) when
    /// the batch gives each thread fewer than 16 rows, by rows otherwise.
    @Test(.enabled(if: ForwardSplitTests.unitSplitRuns, "one thread, or no fused loop"))
    func automaticSplitFollowsShape() throws {
        let backend = CPUBackend(forwardSplit: .automatic)
        let threads = backend.batchParallelism
        for (h, b, expected) in [(192, 3, 0), (256, 3, 1), (256, 16 * threads - 1, 1), (256, 16 * threads, 0)] {
            let lstm = try LSTM(inputSize: h, hiddenSize: h, on: backend, rng: RandomSource(seed: 3))
            lstm.eval()
            var random = TestRandom(seed: 4)
            let before = backend.unitSplitPasses
            _ = try lstm(SequenceBatch(random.tensor([2, b, h], on: backend))).output.data.toArray()
            #expect(backend.unitSplitPasses - before == expected, "H = \(h), B = \(b)")
        }
    }
}
