// The OpenCL backend's fused step kernels (the time loop forced to `fused`, whatever the tuning table
// says) with zoneout and with the reset-before GRU, against the reference: layers at odd sizes,
// variable lengths, recurrent dropout and zoneout together, projections, forward and every gradient;
// forward-only passes; bidirectional stacks of both variants; the launches per step; and zoneout's
// drop indicator in one launch. Runs when the device under test is OpenCL.
// T = time steps, B = batch, I = input size, H = hidden size, P = projection size, R = width of h.

import RecurrentKit
import ReferenceBackend
import TestSupport
import Testing

/// The OpenCL device under test, if it is one.
private let openCLUnderTest = TestDevice.backend as? OpenCLBackend

@Suite(.enabled(if: openCLUnderTest != nil, "the device under test is not OpenCL"))
struct FusedVariantTests {
    /// A backend of the device under test that always runs the fused step kernels.
    static let fused: OpenCLBackend? = openCLUnderTest.flatMap { try? OpenCLBackend(device: $0.device, timeLoop: .fused) }

    /// Shapes that stress a step: one unit and one row, odd H over several unit tiles and K chunks,
    /// more rows than a row tile, variable lengths down to one sequence.
    static let shapes: [RecurrentCase] = [
        RecurrentCase(cell: .gru, t: 3, b: 1, i: 2, h: 1, initialState: false, finalGradients: true,
                      gradOutput: true, inputGradients: true),
        RecurrentCase(cell: .gru, t: 5, b: 3, i: 3, h: 17, initialState: true, finalGradients: true,
                      gradOutput: true, inputGradients: true),
        RecurrentCase(cell: .gru, t: 2, b: 3, i: 5, h: 129, initialState: true, finalGradients: false,
                      gradOutput: true, inputGradients: true),
        RecurrentCase(cell: .gru, t: 3, b: 19, i: 5, h: 45, initialState: false, finalGradients: true,
                      gradOutput: true, inputGradients: true),
        RecurrentCase(cell: .gru, t: 6, b: 5, i: 3, h: 33, initialState: true, finalGradients: true,
                      gradOutput: true, inputGradients: true, batchSizes: [5, 4, 4, 3, 1, 1]),
        RecurrentCase(cell: .gru, t: 4, b: 3, i: 2, h: 7, initialState: false, finalGradients: false,
                      gradOutput: true, inputGradients: true, batchSizes: [3, 2, 1, 1]),
    ]

    /// `c` with recurrent dropout and zoneout as given.
    static func variant(_ c: RecurrentCase, cell: RecurrentCell, mask: Bool, zoneout: Bool, resetBefore: Bool = false,
                        projection: Int? = nil) -> RecurrentCase {
        var v = c
        v.cell = cell
        v.hiddenMask = mask
        v.zoneout = zoneout
        v.resetBefore = resetBefore
        v.projection = projection
        return v
    }

    /// Zoneout on every cell, alone and with recurrent dropout; projected LSTMs (zoneout on the projected h).
    static let zoneoutCases: [RecurrentCase] = RecurrentCell.allCases.flatMap { cell in
        shapes.enumerated().map { index, c in variant(c, cell: cell, mask: index % 2 == 1, zoneout: true) }
    } + [1, 4, 5].map { variant(shapes[$0], cell: .lstm, mask: $0 != 1, zoneout: true, projection: $0 == 4 ? 20 : 3) }

    /// The reset-before GRU: plain, with recurrent dropout, with zoneout, with both.
    static let resetBeforeCases: [RecurrentCase] = shapes.flatMap { c in
        [(false, false), (true, false), (false, true), (true, true)].map {
            variant(c, cell: .gru, mask: $0.0, zoneout: $0.1, resetBefore: true)
        }
    }

    @Test(arguments: zoneoutCases + resetBeforeCases)
    func fusedMatchesReference(_ c: RecurrentCase) throws {
        let backend = try #require(Self.fused)
        try Side.$deviceOverride.withValue(backend) { try RecurrentLayerTests.expectLayerMatchesReference(c) }
    }

    /// Forward only (rolling reserve slots, the forward-only cell arithmetic): outputs and final states.
    @Test(arguments: [1, 4].flatMap { index in
        RecurrentCell.allCases.map { variant(shapes[index], cell: $0, mask: false, zoneout: true) }
            + [variant(shapes[index], cell: .lstm, mask: false, zoneout: true, projection: 3),
               variant(shapes[index], cell: .gru, mask: false, zoneout: false, resetBefore: true),
               variant(shapes[index], cell: .gru, mask: false, zoneout: true, resetBefore: true)]
    })
    func forwardOnlyMatchesReference(_ c: RecurrentCase) throws {
        let backend = try #require(Self.fused)
        try Side.$deviceOverride.withValue(backend) { try Self.expectForwardOnlyMatchesReference(c) }
    }

    /// One forward-only pass of layer `c` on both sides: outputs, final h and c.
    static func expectForwardOnlyMatchesReference(_ c: RecurrentCase) throws {
        let s = c.shape
        let (n, b, i, h, r, gh) = (s.rowCount, c.b, c.i, c.h, s.outputSize, s.gateWidth)
        let lstm = c.cell == .lstm
        var random = TestRandom(seed: 91, stream: UInt64(c.t * 10_000 + b * 100 + h))
        let bound = 1.5 / Float(h).squareRoot()
        let wih = try Twin([gh, i], &random, low: -bound, high: bound), whh = try Twin([gh, r], &random, low: -bound, high: bound)
        let bih = try Twin([gh], &random, low: -bound, high: bound), bhh = try Twin([gh], &random, low: -bound, high: bound)
        let whr = try c.projection.map { try Twin([$0, h], &random, low: -bound, high: bound) }
        let input = try Twin([n, i], &random), h0 = try Twin([b, r], &random), c0 = try Twin([b, h], &random)
        // Evaluation's zoneout factors are the probability itself.
        let zoneHidden = try Twin([n, r], filledWith: 0.3), zoneCell = try Twin([n, h], filledWith: 0.2)
        let output = try Twin([n, r], filledWith: .nan), reserve = try Twin([s.reserveCount(.inference)], filledWith: .nan)
        let finalHidden = try Twin([b, r], filledWith: .nan), finalCell = try Twin([b, h], filledWith: .nan)
        try onBoth { backend, side in
            let io = RecurrentForwardIO(
                output: output[side], finalHidden: finalHidden[side], finalCell: lstm ? finalCell[side] : nil,
                reserve: reserve[side], input: input[side], initialHidden: c.initialState ? h0[side] : nil,
                initialCell: c.initialState && lstm ? c0[side] : nil, mode: .inference,
                zoneout: c.zoneout ? RecurrentZoneout(hidden: zoneHidden[side], cell: lstm ? zoneCell[side] : nil) : nil)
            try backend.recurrentForward(io, RecurrentWeights(weightIH: wih[side], weightHH: whh[side], biasIH: bih[side],
                                                              biasHH: bhh[side], weightHR: whr?[side]), s)
        }
        try output.expectClose("\(c.testDescription) forward only: output")
        try finalHidden.expectClose("\(c.testDescription) forward only: final hidden")
        if lstm { try finalCell.expectClose("\(c.testDescription) forward only: final cell") }
    }

    /// Two-layer bidirectional stacks with variable lengths, recurrent dropout and zoneout (and an
    /// LSTM's cell zoneout with a projection; a reset-before GRU): the output and every parameter's
    /// gradient, in training, and the output in evaluation.
    @Test(arguments: ["lstm", "gru", "gru reset before"])
    func bidirectionalStackMatchesReference(_ kind: String) throws {
        let fused = try #require(Self.fused)
        func run(_ backend: any Backend) throws -> (output: [Float], evaluation: [Float], gradients: [String: [Float]]) {
            let (t, b, i, h) = (6, 5, 3, 9)
            let variants = RecurrentVariants(recurrentDropout: 0.3, zoneout: 0.2, cellZoneout: kind == "lstm" ? 0.4 : 0,
                                             resetAfter: kind != "gru reset before")
            let rng = RandomSource(seed: 23)
            let net: RecurrentNetwork = kind == "lstm"
                ? try LSTM(inputSize: i, hiddenSize: h, numLayers: 2, projSize: 5, bidirectional: true, on: backend, rng: rng,
                           variants: variants)
                : try GRU(inputSize: i, hiddenSize: h, numLayers: 2, bidirectional: true, on: backend, rng: rng, variants: variants)
            var random = TestRandom(seed: 24)
            let x = try SequenceBatch(random.tensor([t, b, i], on: backend), lengths: [6, 3, 5, 1, 6])
            let gradOutput = try random.tensor([t, b, net.outputSize], on: backend)
            let result = try forwardBackward(net, x, gradOutput: gradOutput)
            let evaluation = try net(x).output.data.toArray()
            return (try result.result.output.data.toArray(), evaluation,
                    Dictionary(uniqueKeysWithValues: try net.namedParameters.map { ($0.name, try $0.parameter.gradient.toArray()) }))
        }
        let device = try run(fused), reference = try run(Side.referenceBackend)
        expectClose(device.output, reference.output, "\(kind) output")
        expectClose(device.evaluation, reference.evaluation, "\(kind) evaluation output")
        #expect(device.gradients.count == reference.gradients.count)
        for (name, value) in reference.gradients {
            expectClose(try #require(device.gradients[name]), value, "\(kind) grad \(name)")
        }
    }

    /// Without a projection zoneout adds no launch to the fused loop: as many launches as the plain
    /// cell, forward and backward. A reset-before GRU takes two launches per step each way.
    @Test func launchesPerStep() throws {
        let t = 6
        func launches(_ s: RecurrentLayerShape) throws -> Int {
            // A backend of its own: the other tests launch on the shared ones meanwhile.
            let backend = try OpenCLBackend(device: try #require(openCLUnderTest).device, timeLoop: .fused)
            return try Self.launchesOfLayer(s, on: backend)
        }
        func shape(_ cell: RecurrentCell, zoneout: Bool = false, resetBefore: Bool = false) -> RecurrentLayerShape {
            RecurrentLayerShape(cell: cell, sequenceLength: t, batchSize: 3, inputSize: 2, hiddenSize: 5, zoneout: zoneout,
                                resetBefore: resetBefore)
        }
        for cell in RecurrentCell.allCases {
            let zoned = try launches(shape(cell, zoneout: true)), plain = try launches(shape(cell))
            #expect(zoned == plain, "\(cell.rawValue) with zoneout: \(zoned) launches, plain \(plain)")
        }
        // A reset-before GRU: two per step each way against the plain GRU's one, and dW_hn's GEMM.
        let before = try launches(shape(.gru, resetBefore: true)), after = try launches(shape(.gru))
        #expect(before == after + 2 * t + 1, "reset before \(before) launches, reset after \(after)")
    }

    /// Weights of 0.1 for `s`.
    static func weights(_ s: RecurrentLayerShape, on backend: any Backend) throws -> RecurrentWeights {
        func tensor(_ shape: [Int]) throws -> Tensor { try Tensor.zeros(shape, on: backend, value: 0.1) }
        return RecurrentWeights(weightIH: try tensor([s.gateWidth, s.inputSize]), weightHH: try tensor([s.gateWidth, s.hiddenSize]),
                                biasIH: try tensor([s.gateWidth]), biasHH: try tensor([s.gateWidth]))
    }

    /// Launches of the forward and backward passes of one layer with initial states, their gradients
    /// and zoneout factors of 0.5 (the tensors made before counting).
    static func launchesOfLayer(_ s: RecurrentLayerShape, on backend: OpenCLBackend) throws -> Int {
        let (n, b, h) = (s.rowCount, s.batchSize, s.hiddenSize)
        let lstm = s.cell == .lstm
        func tensor(_ shape: [Int]) throws -> Tensor { try Tensor.zeros(shape, on: backend, value: 0.1) }
        let w = try weights(s, on: backend), g = try weights(s, on: backend)
        let input = try tensor([n, s.inputSize]), output = try tensor([n, h]), reserve = try tensor([s.reserveCount])
        let h0 = try tensor([b, h]), c0 = try tensor([b, h])
        let zoneout = s.zoneout ? RecurrentZoneout(hidden: try Tensor.zeros([n, h], on: backend, value: 0.5),
                                                   cell: lstm ? try Tensor.zeros([n, h], on: backend, value: 0.5) : nil) : nil
        let backwardIO = RecurrentBackwardIO(gradInput: try tensor([n, s.inputSize]), gradInitialHidden: try tensor([b, h]),
                                             gradInitialCell: lstm ? try tensor([b, h]) : nil, gradOutput: try tensor([n, h]),
                                             input: input, output: output, initialHidden: h0, initialCell: lstm ? c0 : nil,
                                             reserve: reserve, zoneout: zoneout)
        try backend.synchronize()
        let before = backend.launchCount
        try backend.recurrentForward(RecurrentForwardIO(output: output, reserve: reserve, input: input, initialHidden: h0,
                                                        initialCell: lstm ? c0 : nil, zoneout: zoneout), w, s)
        try backend.recurrentBackward(backwardIO, w, g, s)
        try backend.synchronize()
        return backend.launchCount - before
    }

    /// The persistent kernels neither blend states nor wait for r: such layers are refused, with the
    /// reason, even where the device would run them (NVIDIA's entry on an H200-like device), and run fused.
    @Test func persistentRefusesZoneoutAndResetBefore() throws {
        let nvidia = try #require(OpenCLTuning.table.first { $0.fragment == "NVIDIA" }?.tuning)
        let h200 = PersistentLimits(name: "H200", computeUnits: 132, localMemoryBytes: 49152, maxWorkGroupSize: 1024)
        func choice(_ cell: RecurrentCell, zoneout: Bool = false, resetBefore: Bool = false) -> PersistentChoice {
            OpenCLBackend.persistentChoice(for: RecurrentLayerShape(cell: cell, sequenceLength: 3, batchSize: 4, inputSize: 8,
                                                                    hiddenSize: 64, zoneout: zoneout, resetBefore: resetBefore),
                                           tuning: nvidia, limits: h200)
        }
        guard case .run = choice(.gru) else { Issue.record("a plain GRU was refused: \(choice(.gru))"); return }
        for (c, word) in [(choice(.lstm, zoneout: true), "zoneout"), (choice(.gru, resetBefore: true), "reset gate")] {
            guard case .refused(let why) = c else { Issue.record("ran persistent: \(c)"); continue }
            #expect(why.contains(word), "\(why)")
        }
        // On the device under test, a persistent backend runs such a layer through the fused kernels.
        let persistent = try OpenCLBackend(device: try #require(openCLUnderTest).device, timeLoop: .persistent)
        try Side.$deviceOverride.withValue(persistent) {
            try RecurrentLayerTests.expectLayerMatchesReference(Self.variant(Self.shapes[1], cell: .lstm, mask: false, zoneout: true))
            try RecurrentLayerTests.expectLayerMatchesReference(
                Self.variant(Self.shapes[1], cell: .gru, mask: false, zoneout: true, resetBefore: true))
        }
    }

    /// Zoneout's factors come from one kernel launch (no tensor of ones, no scratch output), with
    /// the reference's bits at odd counts and offsets.
    @Test(arguments: [Float(0.15), 0.5], [UInt64(0), 7, (1 << 32) - 3] as [UInt64])
    func dropIndicatorIsOneLaunch(probability: Float, offset: UInt64) throws {
        // A backend of its own: the other tests launch on the shared ones meanwhile.
        let backend = try OpenCLBackend(device: try #require(openCLUnderTest).device)
        try Side.$deviceOverride.withValue(backend) {
            for count in [1, 5, 4099] {
                let d = try Twin([count], filledWith: .nan)
                let before = backend.launchCount
                try onBoth { backend, side in
                    try backend.dropIndicator(d[side], probability: probability, seed: 0x5EED, stream: 3, offset: offset)
                }
                #expect(backend.launchCount - before == 1, "\(count) elements")
                try d.expectClose("drop indicator p \(probability) offset \(offset), \(count) elements", absolute: 0, relative: 0)
            }
        }
        #expect(throws: RecurrentError.self) {
            try backend.dropIndicator(Tensor.empty([3], on: backend), probability: 1, seed: 1, stream: 0, offset: 0)
        }
    }
}
