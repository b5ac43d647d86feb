// The reset-before GRU's time loop on the device under test (on the CPU with AVX2, its own fused
// loop) against the reference, on shapes that stress it: hidden sizes that are not multiples of a
// vector or a 16-wide panel (13, 37), odd batches over two row blocks, variable lengths, recurrent
// dropout with zoneout, forward only, and a bidirectional stack; and recurrent dropout over more
// steps than dW_hh's tiled mask spans, every cell. Forward, reserve and every gradient within
// abs 1e-5 + rel 1e-4.
// T = time steps, B = batch, I = input size, H = hidden size, N = rows.

import RecurrentKit
import ReferenceBackend
import TestSupport
import Testing

@Suite struct ResetBeforeStepsTests {
    static let cases: [RecurrentCase] = [
        RecurrentCase(cell: .gru, t: 5, b: 17, i: 4, h: 13, initialState: true, finalGradients: true,
                      gradOutput: true, inputGradients: true),
        RecurrentCase(cell: .gru, t: 4, b: 19, i: 6, h: 37, initialState: false, finalGradients: true,
                      gradOutput: true, inputGradients: true),
        RecurrentCase(cell: .gru, t: 3, b: 1, i: 2, h: 37, initialState: true, finalGradients: false,
                      gradOutput: true, inputGradients: false),
        // Variable lengths over two row blocks: steps shrink from 19 to 3 sequences.
        RecurrentCase(cell: .gru, t: 5, b: 19, i: 3, h: 13, initialState: true, finalGradients: true,
                      gradOutput: true, inputGradients: true, batchSizes: [19, 15, 12, 7, 3]),
        RecurrentCase(cell: .gru, t: 5, b: 17, i: 5, h: 37, initialState: false, finalGradients: true,
                      gradOutput: false, inputGradients: true, batchSizes: [17, 16, 9, 9, 2]),
        // Recurrent dropout and zoneout, alone and together, uniform and packed.
        RecurrentCase(cell: .gru, t: 4, b: 17, i: 3, h: 13, initialState: true, finalGradients: true,
                      gradOutput: true, inputGradients: true, hiddenMask: true),
        RecurrentCase(cell: .gru, t: 4, b: 19, i: 3, h: 37, initialState: true, finalGradients: true,
                      gradOutput: true, inputGradients: true, zoneout: true),
        RecurrentCase(cell: .gru, t: 5, b: 17, i: 4, h: 13, initialState: false, finalGradients: true,
                      gradOutput: true, inputGradients: true, hiddenMask: true, zoneout: true),
        RecurrentCase(cell: .gru, t: 5, b: 19, i: 4, h: 37, initialState: true, finalGradients: true,
                      gradOutput: true, inputGradients: true, batchSizes: [19, 18, 11, 6, 1], hiddenMask: true,
                      zoneout: true),
    ].map { c in
        var before = c
        before.resetBefore = true
        return before
    }

    @Test(arguments: cases)
    func trainingMatchesReference(_ c: RecurrentCase) throws {
        try RecurrentLayerTests.expectLayerMatchesReference(c)
    }

    /// Recurrent dropout over more steps than dW_hh's tiled mask spans (8): the product inputs are
    /// masked 8 steps at a time, the last span partial; every cell, and the reset-before GRU.
    @Test(arguments: [RecurrentCell.lstm, .gru, .rnnTanh].map { cell in
        RecurrentCase(cell: cell, t: 11, b: 17, i: 3, h: 13, initialState: true, finalGradients: true,
                      gradOutput: true, inputGradients: true, hiddenMask: true)
    } + [RecurrentCase(cell: .gru, t: 11, b: 17, i: 3, h: 13, initialState: false, finalGradients: true,
                       gradOutput: true, inputGradients: true, hiddenMask: true, resetBefore: true)])
    func recurrentDropoutOverManySteps(_ c: RecurrentCase) throws {
        try RecurrentLayerTests.expectLayerMatchesReference(c)
    }

    /// Forward only (rolling r ⊙ h̄ slots): the outputs and final states of the reference's training pass.
    @Test(arguments: cases)
    func forwardOnlyMatchesReference(_ c: RecurrentCase) throws {
        let s = c.shape
        let (b, i, h, gh, n) = (c.b, c.i, c.h, s.gateWidth, s.rowCount)
        var random = TestRandom(seed: 93, stream: UInt64(c.t * 10_000 + b * 100 + h))
        let bound = 1.5 / Float(h).squareRoot()
        let weights = (try Twin([gh, i], &random, low: -bound, high: bound), try Twin([gh, h], &random, low: -bound, high: bound),
                       try Twin([gh], &random, low: -bound, high: bound), try Twin([gh], &random, low: -bound, high: bound))
        let input = try Twin([n, i], &random), h0 = try Twin([b, h], &random)
        let mask = try c.hiddenMask ? Twin([b, h], random.uniform(count: b * h).map { $0 < -0.4 ? 0 : 1 / 0.7 }) : nil
        // Evaluation's zoneout factors are the probability itself.
        let zoneHidden = try c.zoneout ? Twin([n, h], [Float](repeating: 0.3, count: n * h)) : nil
        let output = try Twin([n, h], filledWith: .nan), finalHidden = try Twin([b, h], filledWith: .nan)
        try onBoth { backend, side in
            // The reference runs its training pass; the device its forward-only one.
            let mode: RecurrentForwardMode = side == .device ? .inference : .training
            let reserve = try Tensor.empty([s.reserveCount(mode)], on: backend)
            let io = RecurrentForwardIO(output: output[side], finalHidden: finalHidden[side], finalCell: nil, reserve: reserve,
                                        input: input[side], initialHidden: c.initialState ? h0[side] : nil, initialCell: nil,
                                        mode: mode, hiddenMask: mask?[side],
                                        zoneout: zoneHidden.map { RecurrentZoneout(hidden: $0[side], cell: nil) })
            let w = RecurrentWeights(weightIH: weights.0[side], weightHH: weights.1[side], biasIH: weights.2[side],
                                     biasHH: weights.3[side], weightHR: nil)
            try backend.recurrentForward(io, w, s)
        }
        try output.expectClose("\(c.testDescription): forward-only output")
        try finalHidden.expectClose("\(c.testDescription): forward-only final hidden")
    }

    /// A 2-layer bidirectional stack of variable lengths with recurrent dropout and zoneout: the
    /// device's outputs and every parameter's gradient are the reference's (the same mask bits).
    @Test func bidirectionalStackMatchesReference() throws {
        let (t, b, i, h) = (6, 17, 5, 13)
        let variants = RecurrentVariants(recurrentDropout: 0.3, zoneout: 0.2, resetAfter: false)
        func run(_ backend: any Backend) throws -> (output: [Float], gradients: [String: [Float]]) {
            let net = try GRU(inputSize: i, hiddenSize: h, numLayers: 2, bidirectional: true, on: backend,
                              rng: RandomSource(seed: 31), variants: variants)
            var random = TestRandom(seed: 32)
            let x = try random.tensor([t, b, i], on: backend)
            let gradOutput = try random.tensor([t, b, net.outputSize], on: backend)
            let lengths = (0..<b).map { 1 + ($0 * 5) % t }
            let result = try forwardBackward(net, SequenceBatch(x, lengths: lengths), gradOutput: gradOutput)
            return (try result.result.output.data.toArray(),
                    Dictionary(uniqueKeysWithValues: try net.namedParameters.map { ($0.name, try $0.parameter.gradient.toArray()) }))
        }
        let device = try run(Side.device.backend), reference = try run(Side.referenceBackend)
        expectClose(device.output, reference.output, "bidirectional output")
        #expect(device.gradients.count == reference.gradients.count)
        for (name, value) in reference.gradients {
            expectClose(try #require(device.gradients[name]), value, "bidirectional grad \(name)")
        }
    }
}
