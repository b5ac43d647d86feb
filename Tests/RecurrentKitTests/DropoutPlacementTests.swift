import Testing
import TestSupport
@testable import RecurrentKit

/// A 2-layer stack with dropout equals layer 0, then the Philox mask of the stack's dropout
/// site, then layer 1 — and dropout is off in evaluation mode and on the last layer's output.
@Test(arguments: [RecurrentCell.lstm, .gru, .rnnTanh])
func dropoutSitsBetweenLayers(cell: RecurrentCell) throws {
    let backend = TestDevice.backend
    let (t, b, i, h, p): (Int, Int, Int, Int, Float) = (4, 3, 5, 7, 0.4)
    func make(_ layers: Int, _ dropout: Float, _ inputSize: Int, seed: UInt64) throws -> RecurrentNetwork {
        let rng = RandomSource(seed: seed)
        switch cell {
        case .lstm: return try LSTM(inputSize: inputSize, hiddenSize: h, numLayers: layers, dropout: dropout, on: backend, rng: rng)
        case .gru: return try GRU(inputSize: inputSize, hiddenSize: h, numLayers: layers, dropout: dropout, on: backend, rng: rng)
        default: return try RNN(inputSize: inputSize, hiddenSize: h, numLayers: layers, dropout: dropout, on: backend, rng: rng)
        }
    }
    let stack = try make(2, p, i, seed: 21)
    let first = try make(1, 0, i, seed: 1), second = try make(1, 0, h, seed: 2)
    let weights = try stack.stateDict()
    try first.loadStateDict(["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"].reduce(into: [:]) { $0[$1] = weights[$1] })
    try second.loadStateDict(["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"].reduce(into: [:]) {
        $0[$1] = weights[$1.replacingOccurrences(of: "_l0", with: "_l1")]
    })
    var random = TestRandom(seed: 4)
    let x = try SequenceBatch(random.tensor([t, b, i], on: backend, low: -1, high: 1))

    // The stack's dropout site takes the stream after its 8 parameters (4 per layer).
    let dropoutStream: UInt64 = 8
    let between = try first.forward(x).data.toArray()
    let threshold = Philox.dropThreshold(probability: p)
    let masked = between.enumerated().map { e, v -> Float in
        (Philox.word(seed: 21, stream: dropoutStream, index: UInt64(e)) >> 8) >= threshold ? v / (1 - p) : 0
    }
    let expected = try second.forward(SequenceBatch(Tensor(shape: [t, b, h], values: masked, on: backend))).data.toArray()
    expectClose(try stack.forward(x).data.toArray(), expected, "training-mode stack = layer, Philox mask, layer")

    stack.eval()
    let plain = try second.forward(SequenceBatch(Tensor(shape: [t, b, h], values: between, on: backend))).data.toArray()
    expectClose(try stack.forward(x).data.toArray(), plain, "evaluation mode has no dropout")
}

@Test func dropoutLayerMasksAndScales() throws {
    let backend = TestDevice.backend
    let layer = try Dropout(0.25, rng: RandomSource(seed: 3))
    let x = try Tensor(shape: [100, 100], values: [Float](repeating: 2, count: 10_000), on: backend)
    let (output, gradient) = try forwardBackward(layer, .tensor(x), gradOutput: Tensor(shape: [100, 100], values: [Float](repeating: 1, count: 10_000), on: backend))
    let y = try output.data.toArray()
    let kept = y.filter { $0 != 0 }
    #expect(kept.allSatisfy { abs($0 - 2 / 0.75) < 1e-6 })
    #expect(abs(Float(kept.count) / 10_000 - 0.75) < 0.02)
    // Backward routes the gradient through the same mask.
    let g = try #require(gradient).toArray()
    #expect(zip(g, y).allSatisfy { ($0 == 0) == ($1 == 0) })
    // A second call draws a different mask.
    #expect(try layer.forward(x).data.toArray() != y)
    layer.eval()
    #expect(try layer.forward(x).data.toArray() == [Float](repeating: 2, count: 10_000))
}
