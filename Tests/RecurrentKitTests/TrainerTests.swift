import Testing
import TestSupport
@testable import RecurrentKit

@Test func permutationIsSeededPermutation() {
    let a = SequenceDataset.permutation(1000, seed: 5, stream: 1)
    #expect(a.sorted() == Array(0..<1000))
    #expect(a != Array(0..<1000))
    #expect(a == SequenceDataset.permutation(1000, seed: 5, stream: 1))
    #expect(a != SequenceDataset.permutation(1000, seed: 5, stream: 2))
}

@Test func batchesAreTimeMajor() throws {
    // Sample n, step t, feature f holds 100n + 10t + f; per-step targets hold 100n + t.
    let (n, t, f) = (4, 3, 2)
    var x: [Float] = [], y: [Float] = []
    for s in 0..<n { for step in 0..<t { for k in 0..<f { x.append(Float(100 * s + 10 * step + k)) }; y.append(Float(100 * s + step)) } }
    let data = try SequenceDataset(inputs: x, targets: y, count: n, sequenceLength: t, featureCount: f, targetLayout: .perStep([]))
    let batch = data.batch([2, 0])
    #expect(batch.inputShape == [3, 2, 2] && batch.targetShape == [3, 2])
    #expect(batch.input == [200, 201, 0, 1, 210, 211, 10, 11, 220, 221, 20, 21])
    #expect(batch.target == [200, 0, 201, 1, 202, 2])
    let (train, validation) = try data.split(validationFraction: 0.25)
    #expect(train.count == 3 && validation.count == 1 && validation.inputs.first == 300)
    #expect(throws: RecurrentError.self) { try data.split(validationFraction: 0.01) }
    #expect(throws: RecurrentError.self) {
        try SequenceDataset(inputs: x, targets: y, count: n + 1, sequenceLength: t, featureCount: f, targetLayout: .perStep([]))
    }
}

/// The sine demo in small: an LSTM must bring the validation MSE of next-value prediction
/// from the variance of the targets (≈ 0.5) below 0.02.
@Test func sineForecastingLearns() throws {
    let backend = TestDevice.backend
    let rng = RandomSource(seed: 3)
    let data = try SyntheticData.sineWaves(count: 400, length: 16, noise: 0.05, seed: 3)
    let (train, validation) = try data.split(validationFraction: 0.25)
    let model = try Sequential([("rnn", LSTM(inputSize: 1, hiddenSize: 24, on: backend, rng: rng)),
                                ("last", LastTimeStep()), ("fc", Linear(24, 1, on: backend, rng: rng))])
    let optimizer = try Adam(model.parameters, learningRate: 0.01)
    let trainer = Trainer(model: model, loss: MSELoss(), optimizer: optimizer, on: backend)
    trainer.clipNorm = 1
    let before = try trainer.evaluate(validation, batchSize: 64)
    let reports = try trainer.fit(train, validation: validation, epochs: 6, batchSize: 32, shuffleSeed: 3)
    let after = try #require(reports.last?.validationLoss)
    #expect(before > 0.2)
    #expect(after < 0.02, "validation MSE \(after) after 6 epochs (before: \(before))")
    #expect(reports.count == 6 && reports.allSatisfy { $0.trainLoss.isFinite })
}

/// The README's library example, verbatim apart from the prints.
@Test func readmeExampleRuns() throws {
    let backend = TestDevice.backend
    let rng = RandomSource(seed: 42)
    let model = try Sequential([
        ("lstm", LSTM(inputSize: 1, hiddenSize: 32, numLayers: 2, dropout: 0.1, on: backend, rng: rng)),
        ("last", LastTimeStep()),
        ("fc", Linear(32, 1, on: backend, rng: rng)),
    ])
    let optimizer = try Adam(model.parameters, learningRate: 0.01)
    let loss = MSELoss()
    let data = try SyntheticData.sineWaves(count: 16, length: 40, seed: 7).batch(Array(0..<16))
    let x = try SequenceBatch(Tensor(shape: data.inputShape, values: data.input, on: backend))
    let y = try Tensor(shape: data.targetShape, values: data.target, on: backend)
    var losses: [Float] = []
    for _ in 1...50 {
        try optimizer.zeroGradients()
        let tape = Tape()
        let prediction = try model.forward(x, tape: tape)
        let value = try loss.forward(prediction, y)                   // stays on the device
        try tape.backward(prediction.data, gradient: loss.backward())
        let norm = try GradientClipping.clipNorm(model.parameters, maxNorm: 1)
        try optimizer.step()
        losses.append(try value.item())
        #expect(try norm.value().isFinite)
    }
    #expect(losses.last! < 0.2 * losses.first!, "loss \(losses.first!) → \(losses.last!)")
    #expect(model.namedParameters.map(\.name) == [
        "lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0",
        "lstm.weight_ih_l1", "lstm.weight_hh_l1", "lstm.bias_ih_l1", "lstm.bias_hh_l1", "fc.weight", "fc.bias",
    ])
}

@Test func frozenParametersStayPut() throws {
    let backend = TestDevice.backend
    let rng = RandomSource(seed: 9)
    let model = try Sequential([("rnn", GRU(inputSize: 2, hiddenSize: 4, on: backend, rng: rng)), ("last", LastTimeStep()),
                                ("fc", Linear(4, 1, on: backend, rng: rng))])
    for p in model.parameters(under: "rnn") { p.isFrozen = true }
    let before = try model.stateDict()
    let optimizer = try SGD(model.parameters, learningRate: 0.1, momentum: 0.9)
    var random = TestRandom(seed: 1)
    let x = try SequenceBatch(random.tensor([5, 3, 2], on: backend)), y = try random.tensor([3, 1], on: backend)
    let trainer = Trainer(model: model, loss: MSELoss(), optimizer: optimizer, on: backend)
    trainer.clipNorm = 0.5
    for _ in 0..<3 { try trainer.trainStep(input: x, target: y) }
    let after = try model.stateDict()
    for name in before.keys where name.hasPrefix("rnn.") { #expect(after[name] == before[name], "\(name) changed while frozen") }
    #expect(after["fc.weight"] != before["fc.weight"])
}
