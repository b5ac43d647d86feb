// Recurrent dropout, weight drop and zoneout at the stack level: PyTorch parity with the masks passed
// in (variant_masks_*.json, variant_zoneout_*.json, the reset-before GRU's variant_reset_before_*.json and
// the layer-normalised cells' variant_layer_norm_*.json, also with zoneout and an LSTM's projection:
// scripts/variant_fixtures.py; zoneout also in
// evaluation, where it takes the expectation), weight drop against a plain stack with
// W_hh ⊙ mask, the masks drawn from the stack's own Philox stream, evaluation as the identity,
// and the refusals.
// T = time steps, B = batch, I = input size, H = hidden size, L = layers, D = directions,
// G = gates, R = width of h.
import Foundation
import Testing
import TestSupport
@testable import RecurrentKit

@Suite struct MaskVariantTests {
    static let fixtureNames = ["lstm_bi_proj_packed", "lstm_l1", "gru_packed", "gru_bi", "rnn_tanh_bi_packed"]
        .map { "variant_masks_\($0).json" }
        + ["lstm_bi_proj_packed", "gru_packed", "rnn_relu_bi", "lstm_eval"].map { "variant_zoneout_\($0).json" }
        + ["gru_bi_packed", "gru_masks"].map { "variant_reset_before_\($0).json" }
        + ["lstm_bi_packed", "lstm_dropout", "gru_bi_packed", "zoneout_lstm_bi_packed", "zoneout_gru_bi_packed",
           "zoneout_lstm_eval", "lstm_bi_proj_packed", "zoneout_lstm_proj_packed", "zoneout_lstm_proj_eval"]
            .map { "variant_layer_norm_\($0).json" }

    /// A stack of `cell` with `variants`, built from `seed`.
    static func make(_ cell: RecurrentCell, inputSize i: Int, hiddenSize h: Int, layers: Int, projSize: Int = 0,
                     bidirectional: Bool = false, variants: RecurrentVariants, seed: UInt64 = 5) throws -> RecurrentNetwork {
        try makeStack(cell, inputSize: i, hiddenSize: h, layers: layers, projSize: projSize, bidirectional: bidirectional,
                      variants: variants, seed: seed)
    }

    /// PyTorch's step-by-step stack with the fixture's masks: outputs, final states and every gradient.
    @Test("matches PyTorch with the masks passed in", arguments: fixtureNames)
    func matchesPyTorch(_ file: String) throws {
        let fixture = try Fixture(file)
        let backend = TestDevice.backend
        let cell = try #require(RecurrentCell(rawValue: try fixture.string("cell")))
        let isLSTM = cell == .lstm
        let hasZoneout = fixture.meta["zoneout"] != nil
        let variants = RecurrentVariants(recurrentDropout: try fixture.float("recurrent_dropout"),
                                         weightDrop: try fixture.float("weight_drop"),
                                         zoneout: hasZoneout ? try fixture.float("zoneout") : 0,
                                         cellZoneout: hasZoneout && isLSTM ? try fixture.float("cell_zoneout") : 0,
                                         resetAfter: fixture.meta["reset_after"] == nil ? true : try fixture.bool("reset_after"),
                                         layerNorm: fixture.meta["layer_norm"] == nil ? false : try fixture.bool("layer_norm"))
        let network = try Self.make(cell, inputSize: try fixture.int("input_size"), hiddenSize: try fixture.int("hidden_size"),
                                    layers: try fixture.int("num_layers"),
                                    projSize: fixture.meta["proj_size"] != nil ? try fixture.int("proj_size") : 0,
                                    bidirectional: try fixture.bool("bidirectional"), variants: variants)
        let names = fixture.tensorNames.filter { $0.hasPrefix("weight_") || $0.hasPrefix("bias_") }
        try network.loadStateDict(Dictionary(uniqueKeysWithValues: try names.map { ($0, try fixture.host($0)) }), strict: true)
        let weightMaskNames = network.namedParameters.map(\.name).filter { $0.hasPrefix("weight_hh") }
        let suffixes = weightMaskNames.map { $0.dropFirst("weight_hh".count) }
        network.maskOverride = VariantMasks(
            hidden: try fixture.upload("mask.hidden", on: backend),
            weights: try weightMaskNames.map { try fixture.upload("mask." + $0, on: backend) },
            zoneoutHidden: hasZoneout ? try suffixes.map { try fixture.upload("zoneout.hidden" + $0, on: backend) } : nil,
            zoneoutCell: hasZoneout && isLSTM ? try suffixes.map { try fixture.upload("zoneout.cell" + $0, on: backend) } : nil)
        // In evaluation the stack uses no masks and takes zoneout's expectation p by itself.
        network.isTraining = !(try fixture.bool("evaluation"))

        let lengths = fixture.has("lengths") ? try fixture.data("lengths").map { Int($0) } : nil
        let initial = RecurrentState(hidden: try fixture.upload("h0", on: backend),
                                     cell: isLSTM ? try fixture.upload("c0", on: backend) : nil)
        let gradState = RecurrentState(hidden: try fixture.upload("grad_h_n", on: backend),
                                       cell: isLSTM ? try fixture.upload("grad_c_n", on: backend) : nil)
        let grads = try forwardBackward(network, SequenceBatch(try fixture.upload("input", on: backend), lengths: lengths),
                                        initialState: initial, gradOutput: fixture.upload("grad_output", on: backend),
                                        gradState: gradState)
        expectClose(try grads.result.output.data.toArray(), try fixture.data("output"), "\(file) output")
        expectClose(try grads.result.state.hidden.toArray(), try fixture.data("h_n"), "\(file) h_n")
        if isLSTM { expectClose(try #require(grads.result.state.cell).toArray(), try fixture.data("c_n"), "\(file) c_n") }
        expectClose(try #require(grads.input).toArray(), try fixture.data("grad.input"), "\(file) grad.input")
        let state = try #require(grads.state)
        expectClose(try state.hidden.toArray(), try fixture.data("grad.h0"), "\(file) grad.h0")
        if isLSTM { expectClose(try #require(state.cell).toArray(), try fixture.data("grad.c0"), "\(file) grad.c0") }
        for (name, p) in network.namedParameters {
            expectClose(try p.gradient.toArray(), try fixture.data("grad." + name), "\(file) grad.\(name)")
        }
    }

    /// Weight drop is the plain stack with W_hh ⊙ mask, and only the kept weights receive gradient:
    /// dL/dW_hh = mask ⊙ (the plain stack's dL/dW_hh). Bidirectional, variable lengths, projected.
    @Test(arguments: [(RecurrentCell.lstm, 3), (.lstm, 0), (.gru, 0), (.rnnRelu, 0)])
    func weightDropIsThePlainStackWithMaskedWeights(_ cell: RecurrentCell, _ projSize: Int) throws {
        let backend = TestDevice.backend
        let (t, b, i, h, l) = (5, 3, 4, 6, 2)
        let dropped = try Self.make(cell, inputSize: i, hiddenSize: h, layers: l, projSize: projSize, bidirectional: true,
                                    variants: RecurrentVariants(weightDrop: 0.5))
        let plain = try Self.make(cell, inputSize: i, hiddenSize: h, layers: l, projSize: projSize, bidirectional: true,
                                  variants: RecurrentVariants())
        var random = TestRandom(seed: 41, stream: UInt64(projSize))
        let masks = try dropped.layerParameters.map { p in
            try Tensor(shape: p.weightHH.value.shape, values: random.uniform(count: p.weightHH.value.count).map { $0 < 0 ? 0 : 2 },
                       on: backend)
        }
        dropped.maskOverride = VariantMasks(weights: masks)
        for ((a, p), mask) in zip(zip(dropped.layerParameters, plain.layerParameters), masks) {
            for (x, y) in [(a.weightIH, p.weightIH), (a.biasIH, p.biasIH), (a.biasHH, p.biasHH)] { try backend.copy(x.value, to: y.value) }
            if let x = a.weightHR, let y = p.weightHR { try backend.copy(x.value, to: y.value) }
            try backend.multiply(p.weightHH.value, a.weightHH.value, mask)
        }
        let x = try random.tensor([t, b, i], on: backend)
        let gradOutput = try random.tensor([t, b, 2 * (projSize > 0 ? projSize : h)], on: backend)
        let batch = try SequenceBatch(x, lengths: [5, 2, 4])
        let ours = try forwardBackward(dropped, batch, gradOutput: gradOutput)
        let theirs = try forwardBackward(plain, batch, gradOutput: gradOutput)
        expectClose(try ours.result.output.data.toArray(), try theirs.result.output.data.toArray(), absolute: 0, relative: 0, "output")
        expectClose(try #require(ours.input).toArray(), try #require(theirs.input).toArray(), absolute: 0, relative: 0, "grad input")
        for (index, (a, p)) in zip(dropped.layerParameters, plain.layerParameters).enumerated() {
            let mask = try masks[index].toArray(), plainGrad = try p.weightHH.gradient.toArray()
            expectClose(try a.weightHH.gradient.toArray(), zip(plainGrad, mask).map { $0 * $1 }, absolute: 0, relative: 0,
                        "grad weight_hh \(index)")
            expectClose(try a.weightIH.gradient.toArray(), try p.weightIH.gradient.toArray(), absolute: 0, relative: 0,
                        "grad weight_ih \(index)")
        }
    }

    /// The drawn masks are Philox's: a stack that is given the masks a site with the same seed and
    /// stream draws (recurrent dropout first, then each W_hh) computes exactly what the drawing stack does;
    /// the next call draws new masks.
    @Test(arguments: [RecurrentCell.lstm, .gru])
    func drawnMasksComeFromTheStacksStream(_ cell: RecurrentCell) throws {
        let backend = TestDevice.backend
        let (t, b, i, h, l) = (4, 5, 3, 6, 2)
        let variants = RecurrentVariants(recurrentDropout: 0.3, weightDrop: 0.4)
        let drawing = try Self.make(cell, inputSize: i, hiddenSize: h, layers: l, variants: variants)
        let given = try Self.make(cell, inputSize: i, hiddenSize: h, layers: l, variants: variants)
        let site = try #require(drawing.variantSite), replay = DropoutSite(rng: RandomSource(seed: 0))
        replay.restore(site.state("s"), "s")
        let hidden = try replay.apply(Tensor.zeros([l, b, h], on: backend, value: 1), probability: 0.3).1
        let weights = try drawing.layerParameters.map { try replay.apply($0.weightHH.value, probability: 0.4).1 }
        given.maskOverride = VariantMasks(hidden: hidden, weights: weights)
        var random = TestRandom(seed: 42)
        let x = try random.tensor([t, b, i], on: backend), gradOutput = try random.tensor([t, b, h], on: backend)
        let a = try forwardBackward(drawing, SequenceBatch(x), gradOutput: gradOutput)
        let g = try forwardBackward(given, SequenceBatch(x), gradOutput: gradOutput)
        expectClose(try a.result.output.data.toArray(), try g.result.output.data.toArray(), absolute: 0, relative: 0, "output")
        for ((name, p), (_, q)) in zip(drawing.namedParameters, given.namedParameters) {
            expectClose(try p.gradient.toArray(), try q.gradient.toArray(), absolute: 0, relative: 0, "grad \(name)")
        }
        let masks = try hidden.toArray()
        #expect(masks.contains(0) && masks.contains { $0 > 1 }, "the mask keeps some units and drops others")
        // A second call draws other masks, so its output differs from the first.
        let again = try drawing(SequenceBatch(x), tape: Tape())
        #expect(try again.output.data.toArray() != a.result.output.data.toArray())
        #expect(site.calls == 2 * UInt64(1 + l))
    }

    /// In evaluation both variants are the identity: the stack computes what the plain one does.
    @Test func evaluationIsThePlainStack() throws {
        let backend = TestDevice.backend
        let variants = RecurrentVariants(recurrentDropout: 0.5, weightDrop: 0.5)
        let net = try Self.make(.lstm, inputSize: 3, hiddenSize: 5, layers: 2, bidirectional: true, variants: variants)
        let plain = try Self.make(.lstm, inputSize: 3, hiddenSize: 5, layers: 2, bidirectional: true, variants: RecurrentVariants())
        try plain.loadStateDict(net.stateDict(), strict: true)
        net.isTraining = false
        var random = TestRandom(seed: 43)
        let x = try SequenceBatch(random.tensor([4, 2, 3], on: backend), lengths: [4, 3])
        expectClose(try net(x).output.data.toArray(), try plain(x).output.data.toArray(), absolute: 0, relative: 0, "eval output")
    }

    @Test func refusals() throws {
        for p: Float in [-0.1, 1, .nan] {
            #expect(throws: RecurrentError.self) {
                _ = try Self.make(.gru, inputSize: 2, hiddenSize: 3, layers: 1, variants: RecurrentVariants(recurrentDropout: p))
            }
            #expect(throws: RecurrentError.self) {
                _ = try Self.make(.gru, inputSize: 2, hiddenSize: 3, layers: 1, variants: RecurrentVariants(weightDrop: p))
            }
        }
        #expect(throws: RecurrentError.self) {
            _ = try Self.make(.gru, inputSize: 2, hiddenSize: 3, layers: 1, variants: RecurrentVariants(cellZoneout: 0.2))
        }
        // One mask per sequence: stepping in training would draw a new mask every step.
        let net = try Self.make(.lstm, inputSize: 2, hiddenSize: 3, layers: 1, variants: RecurrentVariants(recurrentDropout: 0.2))
        let error = #expect(throws: RecurrentError.self) {
            _ = try net.step(try Tensor.zeros([1, 2], on: TestDevice.backend), state: nil)
        }
        #expect("\(String(describing: error))".contains("whole sequence"))
        net.isTraining = false
        #expect(try net.step(try Tensor.zeros([1, 2], on: TestDevice.backend), state: nil).output.shape == [1, 3])
    }
}
