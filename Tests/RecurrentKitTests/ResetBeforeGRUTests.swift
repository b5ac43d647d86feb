// The GRU with the reset gate before the recurrent product (`RecurrentVariants.resetAfter` false) at
// the stack level, beyond the PyTorch parity of MaskVariantTests: a step at a time equals the
// sequence, evaluation's forward-only pass equals training's, it differs from PyTorch's GRU with the
// same weights, the weights load both ways, and the refusals.
// T = time steps, B = batch, I = input size, H = hidden size.
import Foundation
import Testing
import TestSupport
@testable import RecurrentKit

@Suite struct ResetBeforeGRUTests {
    static func make(layers: Int = 2, bidirectional: Bool = false, resetAfter: Bool = false) throws -> RecurrentNetwork {
        try makeStack(.gru, inputSize: 3, hiddenSize: 5, layers: layers, bidirectional: bidirectional,
                      variants: RecurrentVariants(resetAfter: resetAfter), seed: 8)
    }

    /// `step` over the sequence gives the outputs and final states of one call over all of it.
    @Test func stepsEqualTheSequence() throws {
        try expectStepsEqualTheSequence(Self.make(), steps: 4, batch: 2, seed: 51)
    }

    /// Without a tape (forward only, rolling reserve slots) the outputs are those of a training pass.
    @Test func forwardOnlyEqualsTraining() throws {
        let backend = TestDevice.backend
        let net = try Self.make(bidirectional: true)
        var random = TestRandom(seed: 52)
        let x = try SequenceBatch(random.tensor([5, 3, 3], on: backend), lengths: [5, 2, 4])
        let training = try net(x, tape: Tape())
        let inference = try net(x)
        expectClose(try inference.output.data.toArray(), try training.output.data.toArray(), absolute: 0, relative: 0, "output")
        expectClose(try inference.state.hidden.toArray(), try training.state.hidden.toArray(), absolute: 0, relative: 0, "h_n")
    }

    /// The same PyTorch weights load into either GRU, and the two compute different things.
    @Test func sameWeightsOtherCell() throws {
        let backend = TestDevice.backend
        let before = try Self.make(), after = try Self.make(resetAfter: true)
        try after.loadStateDict(before.stateDict(), strict: true)
        var random = TestRandom(seed: 53)
        let x = try SequenceBatch(random.tensor([4, 2, 3], on: backend))
        let a = try before(x).output.data.toArray(), p = try after(x).output.data.toArray()
        #expect(zip(a, p).map { abs($0 - $1) }.max()! > 1e-3, "the reset gate's place changes the outputs")
        #expect(before.namedParameters.map(\.name) == after.namedParameters.map(\.name))
    }

    @Test func refusals() throws {
        for cell in [RecurrentCell.lstm, .rnnTanh, .rnnRelu] {
            let error = #expect(throws: RecurrentError.self) {
                _ = try makeStack(cell, inputSize: 2, hiddenSize: 3, layers: 1, variants: RecurrentVariants(resetAfter: false), seed: 1)
            }
            #expect("\(String(describing: error))".contains("reset gate"))
        }
        #expect(throws: RecurrentError.self) {
            _ = try RecurrentLayerShape(cell: .lstm, sequenceLength: 1, batchSize: 1, inputSize: 1, hiddenSize: 1,
                                        resetBefore: true).validate()
        }
    }
}
