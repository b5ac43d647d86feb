import Foundation
import Testing
import TestSupport
@testable import RecurrentKit

@Suite struct FineTuningTests {
    @Test func patternsSelectParameters() throws {
        let backend = TestDevice.backend
        let rng = RandomSource(seed: 1)
        let model = try Sequential([("lstm", LSTM(inputSize: 2, hiddenSize: 3, numLayers: 2, on: backend, rng: rng)),
                                    ("last", LastTimeStep()), ("fc", Linear(3, 1, on: backend, rng: rng))])
        #expect(try model.freeze("lstm").count == 8)
        #expect(try model.unfreeze("lstm.*_l1") == ["lstm.weight_ih_l1", "lstm.weight_hh_l1", "lstm.bias_ih_l1", "lstm.bias_hh_l1"])
        #expect(try model.unfreeze("*.bias_??_l0") == ["lstm.bias_ih_l0", "lstm.bias_hh_l0"])
        #expect(model.namedParameters.filter { $0.parameter.isFrozen }.map(\.name) == ["lstm.weight_ih_l0", "lstm.weight_hh_l0"])
        do {
            try model.freeze("lsmt")
            Issue.record("an unmatched pattern was accepted")
        } catch let error as RecurrentError {
            #expect(error.description.contains("'lsmt'") && error.description.contains("lstm.weight_ih_l0"))
        }
    }

    /// Load pretrained weights, put a new head on the recurrent layer, freeze the recurrent layer,
    /// train: the frozen weights stay bitwise, get no optimizer state, and the head learns.
    @Test(arguments: ["adam", "sgd"])
    func fineTuneWithANewHead(optimizerName: String) throws {
        let backend = TestDevice.backend
        let file = try #require(Fixture.directory).appendingPathComponent("interop_lstm.safetensors")
        let pretrained = try InteropTests.model(on: backend)
        try pretrained.loadWeights(from: file)
        let lstm = try #require(pretrained["lstm"])
        let model = try Sequential([("lstm", lstm), ("last", LastTimeStep()),
                                    ("head", Linear(5, 4, on: backend, rng: RandomSource(seed: 3)))])
        try model.freeze("lstm")
        let before = try model.stateDict()
        let optimizer: any Optimizer = optimizerName == "adam"
            ? try Adam(model.parameters, learningRate: 0.1) : try SGD(model.parameters, learningRate: 1, momentum: 0.9)
        let trainer = Trainer(model: model, loss: CrossEntropyLoss(), optimizer: optimizer, on: backend)
        trainer.penalty = try WeightPenalty(l2: 1e-4)   // penalties, like optimizers, skip frozen parameters
        // Sequences whose features depend on their class (b % 4), plus noise: learnable by a new head.
        var random = TestRandom(seed: 4)
        let noise = random.uniform(count: 4 * 8 * 3, low: -0.2, high: 0.2)
        let values = (0..<(4 * 8 * 3)).map { i -> Float in
            let (b, k) = ((i / 3) % 8, i % 3)
            let c = b % 4
            return (k == c % 3 ? 1.5 : -0.5) * (c < 3 ? 1 : -1) + noise[i]
        }
        let x = try SequenceBatch(Tensor(shape: [4, 8, 3], values: values, on: backend))
        let y = try Tensor(shape: [8], indices: (0..<8).map { $0 % 4 }, on: backend)
        var losses: [Float] = []
        for _ in 0..<40 { losses.append(try trainer.trainStep(input: x, target: y).item()) }
        let after = try model.stateDict()
        for name in before.keys where name.hasPrefix("lstm.") {
            #expect(after[name]!.values.map(\.bitPattern) == before[name]!.values.map(\.bitPattern), "\(name) moved while frozen")
        }
        for (name, p) in model.namedParameters {
            #expect(optimizer.hasState(for: p) == !name.hasPrefix("lstm."), "\(name)")
        }
        // The small frozen LSTM gives weak features: the head learns steadily, not fast.
        #expect(losses.last! < 0.85 * losses.first!, "head did not learn: \(losses.first!) → \(losses.last!)")
        // Unfreezing later gives the parameters state again at the next step.
        try model.unfreeze("lstm")
        try trainer.trainStep(input: x, target: y)
        #expect(model.parameters.allSatisfy { optimizer.hasState(for: $0) })
    }
}
