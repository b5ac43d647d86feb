import Foundation
import Testing
import TestSupport
@testable import RecurrentKit

/// The identity, with a parameter whose gradient becomes NaN on one chosen backward call.
private final class PoisonedGradient: Layer {
    let weight: Parameter
    var isTraining = true
    let poisonedCall: Int
    private var calls = 0

    init(size: Int, poisonedCall: Int, on backend: any Backend) throws {
        weight = try Parameter(Tensor.zeros([size], on: backend))
        self.poisonedCall = poisonedCall
    }

    var namedParameters: [(name: String, parameter: Parameter)] { [("weight", weight)] }
    func forward(_ input: LayerValue, tape: Tape?) throws -> LayerValue {
        try tape?.record(inputs: [input.data], outputs: [input.data]) { [self] gradOutputs, _ in
            calls += 1
            if calls == poisonedCall { try weight.value.backend.fill(weight.gradient.slice(2..<3), with: .nan) }
            return [gradOutputs[0]]
        }
        return input
    }
}

@Suite struct NumericalSafetyTests {
    private func setUp(poisonedCall: Int) throws -> (Trainer, Sequential, SequenceBatch, Tensor) {
        let backend = TestDevice.backend
        let rng = RandomSource(seed: 6)
        let model = try Sequential([("rnn", GRU(inputSize: 2, hiddenSize: 4, on: backend, rng: rng)), ("last", LastTimeStep()),
                                    ("poison", PoisonedGradient(size: 4, poisonedCall: poisonedCall, on: backend)),
                                    ("fc", Linear(4, 1, on: backend, rng: rng))])
        let trainer = Trainer(model: model, loss: MSELoss(), optimizer: try Adam(model.parameters, learningRate: 0.01), on: backend)
        var random = TestRandom(seed: 7)
        return (trainer, model, try SequenceBatch(random.tensor([5, 3, 2], on: backend)), try random.tensor([3, 1], on: backend))
    }

    @Test func stopsAtTheStepNamingTheParameter() throws {
        let (trainer, model, x, y) = try setUp(poisonedCall: 3)
        for _ in 0..<2 { try trainer.trainStep(input: x, target: y) }
        let before = try model.stateDict()
        do {
            try trainer.trainStep(input: x, target: y)
            Issue.record("a NaN gradient went unnoticed")
        } catch let error as RecurrentError {
            #expect(error == .nonFinite(step: 3, detail: "the gradient of poison.weight is not finite (element 2 of 4 is nan)"))
            #expect(error.description == "step 3: the gradient of poison.weight is not finite (element 2 of 4 is nan)")
        }
        #expect(try model.stateDict() == before, "the failing step changed parameters")
    }

    @Test func stopsOnANonFiniteLoss() throws {
        let (trainer, _, x, y) = try setUp(poisonedCall: 0)
        try trainer.trainStep(input: x, target: y)
        var values = try y.toArray()
        values[1] = .infinity
        do {
            try trainer.trainStep(input: x, target: Tensor(shape: y.shape, values: values, on: y.backend))
            Issue.record("an infinite loss went unnoticed")
        } catch let error as RecurrentError {
            #expect(error.description == "step 2: the loss is inf")
        }
    }

    @Test func skipsAndCountsWhenAsked() throws {
        let (trainer, model, x, y) = try setUp(poisonedCall: 3)
        trainer.nonFinitePolicy = .skipStep
        for _ in 0..<2 { try trainer.trainStep(input: x, target: y) }
        let before = try model.stateDict()
        try trainer.trainStep(input: x, target: y)
        #expect(try model.stateDict() == before, "a skipped step changed parameters")
        for _ in 0..<2 { try trainer.trainStep(input: x, target: y) }
        #expect(trainer.steps == 5 && trainer.skippedSteps == 1)
        #expect(try model.stateDict() != before)
        #expect(trainer.gradientNorms.count == 5 && trainer.gradientNorms[2].isNaN)
        #expect(trainer.gradientNorms.enumerated().allSatisfy { $0.offset == 2 || $0.element.isFinite })
    }

    @Test func gradientNormHistoryIsTheGlobalNorm() throws {
        let (trainer, model, x, y) = try setUp(poisonedCall: 0)
        for _ in 0..<3 {
            try trainer.trainStep(input: x, target: y)
            // Without clipping the gradients stay as computed: recompute the norm on the host.
            let squares = try model.parameters.reduce(Double(0)) { sum, p in
                try p.gradient.toArray().reduce(sum) { $0 + Double($1) * Double($1) }
            }
            let expected = Float(squares.squareRoot())
            #expect(abs(trainer.gradientNorms.last! - expected) <= 1e-5 * expected)
        }
        trainer.nonFinitePolicy = .ignore
        try trainer.trainStep(input: x, target: y)
        #expect(trainer.gradientNorms.count == 3)
    }
}
