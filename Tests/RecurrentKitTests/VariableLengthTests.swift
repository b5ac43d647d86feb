// Variable-length batches against each sequence run alone: a packed batch must give every
// sequence exactly what a batch of one, cut to its own length, gives (outputs, final states,
// input gradients), also when no sequence fills the padded length.
// T = padded steps, B = batch, I = input size, H = hidden size, D = directions.

import RecurrentKit
import Testing
import TestSupport

/// Column `column` of a (steps, batch, width) array over the first `steps` steps, as one array.
private func sequence(_ a: [Float], steps: Int, column: Int, batch: Int, width: Int) -> [Float] {
    var out: [Float] = []
    for step in 0..<steps {
        let start = (step * batch + column) * width
        out.append(contentsOf: a[start..<(start + width)])
    }
    return out
}

@Suite struct VariableLengthTests {
    static let (t, i, h) = (7, 3, 4)

    @Test(arguments: [(RecurrentCell.lstm, false, [5, 2, 6, 1]), (.gru, true, [3, 5, 5, 1]), (.rnnTanh, true, [7, 2, 4, 7])])
    func batchEqualsEachSequenceAlone(cell: RecurrentCell, bidirectional: Bool, lengths: [Int]) throws {
        let backend = TestDevice.backend
        let (t, i, h, b) = (Self.t, Self.i, Self.h, lengths.count)
        let d = bidirectional ? 2 : 1
        func make() throws -> RecurrentNetwork {
            let rng = RandomSource(seed: 41)
            switch cell {
            case .lstm: return try LSTM(inputSize: i, hiddenSize: h, numLayers: 2, bidirectional: bidirectional, on: backend, rng: rng)
            case .gru: return try GRU(inputSize: i, hiddenSize: h, numLayers: 2, bidirectional: bidirectional, on: backend, rng: rng)
            default: return try RNN(inputSize: i, hiddenSize: h, numLayers: 2, bidirectional: bidirectional, on: backend, rng: rng)
            }
        }
        var random = TestRandom(seed: 42)
        let x = random.uniform(count: t * b * i)                                                   // (T, B, I)
        let gradOutput = random.uniform(count: t * b * d * h)                                      // (T, B, D·H)
        let network = try make()
        let grads = try forwardBackward(network, SequenceBatch(Tensor(shape: [t, b, i], values: x, on: backend), lengths: lengths),
                                        gradOutput: Tensor(shape: [t, b, d * h], values: gradOutput, on: backend))
        let result = grads.result
        let output = try result.output.data.toArray(), finalHidden = try result.state.hidden.toArray()
        let gradInput = try #require(grads.input).toArray()
        for (s, length) in lengths.enumerated() {
            // Sequence s alone: its first `length` steps, batch of one.
            let alone = try make()
            let xs = sequence(x, steps: length, column: s, batch: b, width: i)
            let gs = sequence(gradOutput, steps: length, column: s, batch: b, width: d * h)
            let aloneGrads = try forwardBackward(alone, SequenceBatch(Tensor(shape: [length, 1, i], values: xs, on: backend)),
                                                 gradOutput: Tensor(shape: [length, 1, d * h], values: gs, on: backend))
            let r = aloneGrads.result
            let gi = try #require(aloneGrads.input).toArray()
            let label = "\(cell.rawValue) D\(d) sequence \(s) (length \(length))"
            let padding = [Float](repeating: 0, count: (t - length) * d * h)
            expectClose(sequence(output, steps: t, column: s, batch: b, width: d * h), try r.output.data.toArray() + padding,
                        "\(label): outputs, zero after its end")
            expectClose(sequence(finalHidden, steps: 2 * d, column: s, batch: b, width: h), try r.state.hidden.toArray(),
                        "\(label): final states")
            let inputPadding = [Float](repeating: 0, count: (t - length) * i)
            expectClose(sequence(gradInput, steps: t, column: s, batch: b, width: i), gi + inputPadding,
                        "\(label): input gradient, zero after its end")
        }
    }

    @Test func badLengthsAreRefused() throws {
        let backend = TestDevice.backend
        let network = try GRU(inputSize: 2, hiddenSize: 3, on: backend, rng: RandomSource(seed: 1))
        let x = try Tensor.zeros([4, 2, 2], on: backend)
        for (lengths, fragment) in [([4], "2 lengths (one per sequence)"), ([4, 5], "1...4"), ([0, 3], "1...4")] {
            let error = try #require(throws: RecurrentError.self) { try network(SequenceBatch(x, lengths: lengths)) }
            #expect("\(error)".contains(fragment), "\(error)")
        }
    }
}

/// The README's sequence example, with data: runs, and the attention weights mask padded steps.
@Test func readmeSequenceExampleRuns() throws {
    let backend = TestDevice.backend
    let rng = RandomSource(seed: 3)
    let (t, b) = (6, 4), lengths = [6, 2, 4, 1]
    var random = TestRandom(seed: 4)
    let x = try random.tensor([t, b, 16], on: backend)
    let encoder = try GRU(inputSize: 16, hiddenSize: 64, numLayers: 2, bidirectional: true, on: backend, rng: rng)
    let attention = try Attention(featureSize: 128, on: backend, rng: rng)   // 128 = 2 directions × 64
    let model = try Sequential([("encoder", encoder), ("attention", attention),
                                ("fc", Linear(128, 5, on: backend, rng: rng))])
    let batch = try SequenceBatch(x, lengths: lengths)   // the lengths travel with the data
    let logits = try model.forward(batch).data           // (B, 5)
    let weights = try #require(attention.weights).toArray()
    #expect(logits.shape == [b, 5])
    for s in 0..<b {
        let column = (0..<t).map { weights[$0 * b + s] }
        #expect(abs(column.reduce(0, +) - 1) < 1e-5 && column[lengths[s]...].allSatisfy { $0 == 0 }, "\(column)")
    }
}
