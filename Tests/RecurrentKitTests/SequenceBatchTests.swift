// Sequence batches end to end: LastTimeStep takes each sequence's own last step in either
// layout; SequenceDataset pads variable-length samples, buckets them by length and makes
// batches with their lengths; Trainer on such a dataset equals the same batches run by hand.
// T = padded steps, B = batch, F = features, H = hidden size.

import RecurrentKit
import Testing
import TestSupport

@Suite struct SequenceBatchTests {
    @Test(arguments: SequenceLayout.allCases)
    func lastTimeStepTakesEachSequencesLastRealStep(layout: SequenceLayout) throws {
        let backend = TestDevice.backend
        let (t, b, f) = (4, 3, 2), lengths = [2, 4, 1]
        let values = (0..<(t * b * f)).map { Float($0) }
        let batch = try SequenceBatch(Tensor(shape: layout == .timeMajor ? [t, b, f] : [b, t, f], values: values, on: backend),
                                      layout: layout, lengths: lengths)
        let gradient = try Tensor(shape: [b, f], values: [1, 2, 3, 4, 5, 6], on: backend)
        let (output, gradInput) = try forwardBackward(LastTimeStep(), .sequence(batch), gradOutput: gradient)
        func row(_ s: Int, _ step: Int) -> Int { layout == .timeMajor ? step * b + s : s * t + step }
        let expected = lengths.enumerated().flatMap { s, length in (0..<f).map { values[row(s, length - 1) * f + $0] } }
        #expect(try output.data.toArray() == expected)
        var expectedGrad = [Float](repeating: 0, count: t * b * f)
        for (s, length) in lengths.enumerated() { for k in 0..<f { expectedGrad[row(s, length - 1) * f + k] = Float(s * f + k + 1) } }
        #expect(try #require(gradInput).toArray() == expectedGrad)
        // A plain tensor has no steps to choose from.
        #expect(throws: RecurrentError.self) { try LastTimeStep().forward(Tensor.zeros([b, f], on: backend)) }
    }

    @Test func datasetOfVariableLengthsPadsAndBuckets() throws {
        let lengths = [3, 1, 5, 2, 5, 4, 1, 3]
        let sequences = lengths.enumerated().map { i, n in (0..<(n * 2)).map { Float(i * 100 + $0) } }
        let data = try SequenceDataset(sequences: sequences, targets: lengths.map { [Float($0)] }, featureCount: 2,
                                       targetLayout: .perSequence([1]))
        #expect(data.sequenceLength == 5 && data.lengths == lengths)
        let batch = data.batch([1, 3], layout: .batchMajor)
        #expect(batch.inputShape == [2, 2, 2] && batch.lengths == [1, 2])
        #expect(batch.input == [100, 101, 0, 0, 300, 301, 302, 303])
        let timeMajor = data.batch([2, 4])
        #expect(timeMajor.inputShape == [5, 2, 2] && timeMajor.lengths == nil)   // both full length: no padding
        let bucketed = data.batchIndices(batchSize: 2, shuffleSeed: 3, epoch: 1, bucketByLength: true)
        #expect(bucketed.flatMap { $0 }.sorted() == Array(0..<8))
        for indices in bucketed {
            let spread = indices.map { lengths[$0] }
            #expect(spread.max()! - spread.min()! <= 1, "bucket \(indices) has lengths \(spread)")
        }
        #expect(data.batchIndices(batchSize: 2, shuffleSeed: 3, epoch: 1, bucketByLength: true) == bucketed)
        #expect(throws: RecurrentError.self) {
            try SequenceDataset(sequences: [[1, 2, 3]], targets: [[0]], featureCount: 2, targetLayout: .perSequence([1]))
        }
        #expect(throws: RecurrentError.self) {
            try SequenceDataset(inputs: [Float](repeating: 0, count: 8), targets: [0, 0], count: 2, sequenceLength: 2, featureCount: 2,
                                targetLayout: .perSequence([]), lengths: [2, 3])
        }
    }

    /// `Trainer.fit` on a variable-length dataset (bucketed, batch-major) equals the same batches
    /// uploaded as sequence batches and run by hand on a tape.
    @Test func trainerOnVariableLengthsEqualsTheSameBatchesByHand() throws {
        let backend = TestDevice.backend
        var random = TestRandom(seed: 12)
        let lengths = (0..<10).map { _ in 1 + random.int(in: 0..<6) }
        let sequences = lengths.map { random.uniform(count: $0 * 3) }
        let targets = lengths.map { _ in random.uniform(count: 2) }
        let data = try SequenceDataset(sequences: sequences, targets: targets, featureCount: 3, targetLayout: .perSequence([2]))
        func model() throws -> Sequential {
            let rng = RandomSource(seed: 13)
            return try Sequential([("rnn", GRU(inputSize: 3, hiddenSize: 5, numLayers: 2, on: backend, rng: rng)),
                                   ("last", LastTimeStep()), ("fc", Linear(5, 2, on: backend, rng: rng))])
        }
        let fitted = try model()
        let trainer = Trainer(model: fitted, loss: MSELoss(), optimizer: try SGD(fitted.parameters, learningRate: 0.1), on: backend)
        trainer.batchLayout = .batchMajor
        trainer.bucketByLength = true
        trainer.nonFinitePolicy = .ignore
        try trainer.fit(data, epochs: 2, batchSize: 4, shuffleSeed: 5)

        let byHand = try model()
        let optimizer = try SGD(byHand.parameters, learningRate: 0.1)
        let loss = MSELoss()
        for epoch in 1...2 {
            for indices in data.batchIndices(batchSize: 4, shuffleSeed: 5, epoch: epoch, bucketByLength: true) {
                let (x, y) = try data.upload(indices, layout: .batchMajor, on: backend)
                try optimizer.zeroGradients()
                let tape = Tape()
                let prediction = try byHand.forward(x, tape: tape)
                _ = try loss.forward(prediction, y)
                try tape.backward(prediction.data, gradient: loss.backward())
                try optimizer.step()
            }
        }
        let (a, b) = (try fitted.stateDict(), try byHand.stateDict())
        for (name, value) in a { #expect(value.values == b[name]?.values, "\(name): Trainer and the hand loop differ") }
    }
}
