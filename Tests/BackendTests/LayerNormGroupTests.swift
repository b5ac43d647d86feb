// The OpenCL layer-norm kernels' work-groups (Kernels/layer_norm_cell.cl: a group per row or per
// few rows, lanes striding over the units, sums in an order fixed by the width): layer-normalised
// LSTM and GRU layers at widths narrower and wider than the group (H = 1 … 513, past the 256
// partials), B = 1 and odd batches, variable lengths, recurrent dropout and zoneout, against the
// reference at several group limits, forward and every gradient; the same bits at every group
// limit and on a repeat run; the groups' plan; and the GRU's launches per step. Runs when the
// device under test is OpenCL. T = time steps, B = batch, I = input size, H = hidden size.

import RecurrentKit
import TestSupport
import Testing

/// The OpenCL device under test, if it is one.
private let openCLUnderTest = TestDevice.backend as? OpenCLBackend

@Suite(.enabled(if: openCLUnderTest != nil, "the device under test is not OpenCL"))
struct LayerNormGroupTests {
    /// Group limits from one work-item to NORM_MAX_LANES (the device may allow less).
    static let limits = [1, 4, 16, 256]

    /// Backends of the device under test with each group limit.
    static let backends: [OpenCLBackend] = openCLUnderTest.map { device in
        limits.compactMap { try? OpenCLBackend(device: device.device, layerNormGroupSize: $0) }
    } ?? []

    /// Rows narrower than a group (H = 1, 5, 13), about one group (129), wider than the partials
    /// (513: 2052 values a row in the input norm); B = 1, odd batches, variable lengths down to one row.
    static let shapes: [RecurrentCase] = [RecurrentCell.lstm, .gru].flatMap { cell in
        [
            RecurrentCase(cell: cell, t: 3, b: 1, i: 2, h: 1, initialState: true, finalGradients: true,
                          gradOutput: true, inputGradients: true, layerNorm: true),
            RecurrentCase(cell: cell, t: 4, b: 3, i: 3, h: 5, initialState: false, finalGradients: true,
                          gradOutput: true, inputGradients: true, hiddenMask: true, layerNorm: true),
            RecurrentCase(cell: cell, t: 3, b: 1, i: 4, h: 13, initialState: true, finalGradients: true,
                          gradOutput: true, inputGradients: true, zoneout: true, layerNorm: true),
            RecurrentCase(cell: cell, t: 4, b: 5, i: 3, h: 129, initialState: true, finalGradients: false,
                          gradOutput: true, inputGradients: true, batchSizes: [5, 4, 2, 1], layerNorm: true),
            RecurrentCase(cell: cell, t: 2, b: 2, i: 3, h: 513, initialState: true, finalGradients: true,
                          gradOutput: true, inputGradients: true, layerNorm: true),
        ]
    }

    @Test(arguments: shapes)
    func layersMatchReferenceAtEveryGroupLimit(_ c: RecurrentCase) throws {
        #expect(Self.backends.count == Self.limits.count)
        for backend in Self.backends {
            try Side.$deviceOverride.withValue(backend) { try RecurrentLayerTests.expectLayerMatchesReference(c) }
        }
    }

    /// A row's sums add in an order set by its width alone: every group limit, and a second run,
    /// give the same bits.
    @Test(arguments: shapes)
    func sameBitsAtEveryGroupLimitAndRepeat(_ c: RecurrentCase) throws {
        let first = try #require(Self.backends.first)
        let want = try Self.pass(c, on: first)
        #expect(try Self.pass(c, on: first) == want, "\(c.testDescription): a repeat run differs")
        for backend in Self.backends.dropFirst() {
            let got = try Self.pass(c, on: backend)
            for (index, (a, e)) in zip(got, want).enumerated() where a != e {
                let worst = zip(a, e).map { abs($0 - $1) }.max() ?? 0
                let limits = "groups of \(backend.layerNormGroupLimit) against \(first.layerNormGroupLimit)"
                Issue.record(Comment(rawValue: "\(c.testDescription): \(limits): result \(index) differs by up to \(worst)"))
            }
        }
    }

    /// The launch plan: lanes a power of two ≥ the units up to 256, rows share a group only while
    /// the groups still fill the device, every row covered.
    @Test func groupPlan() {
        for (rows, units, limit, wanted) in [(32, 128, 256, 528), (32, 1, 256, 528), (1600, 16, 256, 528), (1, 513, 16, 8),
                                             (7, 5, 16, 1), (3, 2052, 1, 8)] {
            let plan = LayerNormGroups(rows: rows, units: units, limit: limit, wantedGroups: wanted)
            #expect(plan.lanes >= min(units, 256) && plan.lanes < 2 * max(units, 1) && plan.lanes <= 256)
            #expect(plan.lanesPerRow == min(limit, plan.lanes) && plan.lanesPerRow * plan.rowsPerGroup <= limit)
            #expect(plan.groups * plan.rowsPerGroup >= rows && (plan.groups - 1) * plan.rowsPerGroup < rows)
            #expect(plan.rowsPerGroup == 1 || plan.groups >= min(wanted, rows), "\(rows) rows of \(units): \(plan)")
        }
        #expect(LayerNormGroups(rows: 1600, units: 16, limit: 256, wantedGroups: 528).rowsPerGroup == 3)
        #expect(LayerNormGroups(rows: 32, units: 128, limit: 256, wantedGroups: 528).rowsPerGroup == 1)
    }

    /// A layer-normalised GRU's step is one launch beside its product each way: forward the product
    /// and the step; backward the step and dh_{t-1}'s product, which adds onto z ⊙ dh in place.
    @Test func gruLaunchesPerStep() throws {
        // A backend of its own: the other tests launch on theirs meanwhile.
        let backend = try OpenCLBackend(device: try #require(openCLUnderTest).device)
        let c = RecurrentCase(cell: .gru, t: 6, b: 3, i: 2, h: 7, initialState: true, finalGradients: true,
                              gradOutput: true, inputGradients: true, layerNorm: true)
        let short = c, long = { var l = c; l.t = 10; return l }()
        let perStep = (try Self.launches(long, on: backend) - Self.launches(short, on: backend)) / (long.t - short.t)
        #expect(perStep == 4, "launches per step \(perStep)")
    }

    /// Every output of one forward and backward pass of `c` on `backend`, from fixed inputs.
    static func pass(_ c: RecurrentCase, on backend: OpenCLBackend) throws -> [[Float]] {
        let run = try Run(c, on: backend)
        try run.forward()
        try run.backward()
        return try run.results.map { try $0.toArray() }
    }

    /// The commands one forward and backward pass of `c` enqueues.
    static func launches(_ c: RecurrentCase, on backend: OpenCLBackend) throws -> Int {
        let run = try Run(c, on: backend)
        try backend.synchronize()
        let before = backend.launchCount
        try run.forward()
        try run.backward()
        try backend.synchronize()
        return backend.launchCount - before
    }

    /// One layer's tensors on one backend, drawn from a seed of the case.
    struct Run {
        let backend: OpenCLBackend, shape: RecurrentLayerShape
        let weights: RecurrentWeights, gradients: RecurrentWeights
        let forwardIO: RecurrentForwardIO, backwardIO: RecurrentBackwardIO
        /// What the passes write: outputs, reserve, parameter and input gradients.
        let results: [Tensor]

        init(_ c: RecurrentCase, on backend: OpenCLBackend) throws {
            let s = c.shape, lstm = c.cell == .lstm
            let (b, i, h, gh, n) = (c.b, c.i, c.h, s.gateWidth, s.rowCount)
            var random = TestRandom(seed: 23, stream: UInt64(h * 1000 + b))
            func make(_ shape: [Int], low: Float = -1, high: Float = 1) throws -> Tensor {
                try Tensor(shape: shape, values: random.uniform(count: shape.reduce(1, *), low: low, high: high), on: backend)
            }
            let bound = 1.5 / Float(h).squareRoot()
            func parameters(norm low: Float) throws -> RecurrentWeights {
                try RecurrentWeights(weightIH: make([gh, i], low: -bound, high: bound), weightHH: make([gh, h], low: -bound, high: bound),
                                     biasIH: make([gh], low: -bound, high: bound), biasHH: make([gh], low: -bound, high: bound),
                                     layerNorm: RecurrentLayerNormWeights(gainIH: make([gh], low: low, high: 1.5),
                                                                          gainHH: make([gh], low: low, high: 1.5),
                                                                          gainCell: lstm ? make([h], low: low, high: 1.5) : nil,
                                                                          biasCell: lstm ? make([h], low: -0.5, high: 0.5) : nil))
            }
            weights = try parameters(norm: 0.5)
            gradients = try parameters(norm: -1)
            let input = try make([n, i]), h0 = try make([b, h]), c0 = try make([b, h])
            let mask = try c.hiddenMask ? Tensor(shape: [b, h], values: random.uniform(count: b * h).map { $0 < -0.4 ? 0 : 1 / 0.7 },
                                                 on: backend) : nil
            let zoneout = try c.zoneout ? RecurrentZoneout(hidden: make([n, h], low: 0, high: 1),
                                                           cell: lstm ? make([n, h], low: 0, high: 1) : nil) : nil
            let output = try Tensor.empty([n, h], on: backend), reserve = try Tensor.empty([s.reserveCount], on: backend)
            let finalHidden = try Tensor.empty([b, h], on: backend), finalCell = try Tensor.empty([b, h], on: backend)
            let gradInput = try Tensor.empty([n, i], on: backend)
            let gradH0 = try Tensor.empty([b, h], on: backend), gradC0 = try Tensor.empty([b, h], on: backend)
            let initialHidden = c.initialState ? h0 : nil, initialCell = c.initialState && lstm ? c0 : nil
            forwardIO = RecurrentForwardIO(output: output, finalHidden: finalHidden, finalCell: lstm ? finalCell : nil, reserve: reserve,
                                           input: input, initialHidden: initialHidden, initialCell: initialCell, hiddenMask: mask,
                                           zoneout: zoneout)
            backwardIO = RecurrentBackwardIO(
                gradInput: gradInput, gradInitialHidden: gradH0, gradInitialCell: lstm ? gradC0 : nil,
                gradOutput: try make([n, h], low: -0.1, high: 0.1), gradFinalHidden: try make([b, h], low: -0.1, high: 0.1),
                gradFinalCell: lstm ? try make([b, h], low: -0.1, high: 0.1) : nil, input: input, output: output,
                initialHidden: initialHidden, initialCell: initialCell, reserve: reserve, hiddenMask: mask, zoneout: zoneout)
            let g = gradients, norm = g.layerNorm!
            results = [output, finalHidden, reserve, gradInput, gradH0, g.weightIH, g.weightHH, g.biasIH, g.biasHH, norm.gainIH,
                       norm.gainHH] + (lstm ? [finalCell, gradC0, norm.gainCell!, norm.biasCell!] : [])
            self.backend = backend
            shape = s
        }

        func forward() throws { try backend.recurrentForward(forwardIO, weights, shape) }
        func backward() throws { try backend.recurrentBackward(backwardIO, weights, gradients, shape) }
    }
}
