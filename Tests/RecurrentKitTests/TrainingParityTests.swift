// Parity of whole training runs with PyTorch: 20 optimizer steps on one fixed batch, the loss of
// every step, the learning rate it used, the gradient norm before clipping and the final weights.
// Fixtures: train_lstm_adam_clipnorm.json, train_gru_sgd_clipvalue.json, train_rnn_adamw_penalty.json.
// T = time steps, B = batch, I = input size, H = hidden size, C = outputs (or classes).

import RecurrentKit
import Testing
import TestSupport

@Suite("Training trajectories match PyTorch")
struct TrainingParityTests {
    static let fixtureNames = ["train_lstm_adam_clipnorm.json", "train_gru_sgd_clipvalue.json", "train_rnn_adamw_penalty.json"]

    /// The generator's `SeqModel`: `rnn` → (last step for head "last") → `fc`.
    private static func makeModel(_ fixture: Fixture, on backend: any Backend) throws -> Sequential {
        let rng = RandomSource(seed: 11)
        let rnn = try fixture.makeRecurrentNetwork(on: backend, rng: rng)
        let fc = try Linear(rnn.hiddenSize, fixture.int("output_size"), on: backend, rng: rng)
        switch try fixture.string("head") {
        case "last": return try Sequential([("rnn", rnn), ("last", LastTimeStep()), ("fc", fc)])   // (T,B,I) → (B,H) → (B,C)
        case "all": return try Sequential([("rnn", rnn), ("fc", fc)])                            // (T,B,I) → (T,B,H) → (T,B,C)
        case let head: throw FixtureError("\(fixture.name): unknown head '\(head)'")
        }
    }

    private static func makeLoss(_ fixture: Fixture) throws -> any Loss {
        let reduction = try #require(LossReduction(rawValue: fixture.string("reduction")))
        switch try fixture.string("loss") {
        case "mse": return MSELoss(reduction: reduction)
        case "cross_entropy": return CrossEntropyLoss(reduction: reduction)
        case let loss: throw FixtureError("\(fixture.name): unknown loss '\(loss)'")
        }
    }

    private static func makeOptimizer(_ fixture: Fixture, _ parameters: [Parameter]) throws -> any Optimizer {
        let lr = try fixture.float("lr"), wd = try fixture.float("weight_decay")
        switch try fixture.string("optimizer") {
        case "sgd":
            return try SGD(parameters, learningRate: lr, momentum: fixture.float("momentum"), dampening: fixture.float("dampening"),
                           weightDecay: wd, nesterov: fixture.bool("nesterov"))
        case let name where name == "adam" || name == "adamw":
            #expect(try fixture.bool("amsgrad") == false, "AMSGrad is not implemented")
            let betas = try fixture.doubles("betas")
            let pair = (Float(betas[0]), Float(betas[1]))
            return name == "adam"
                ? try Adam(parameters, learningRate: lr, betas: pair, epsilon: fixture.float("eps"), weightDecay: wd)
                : try AdamW(parameters, learningRate: lr, betas: pair, epsilon: fixture.float("eps"), weightDecay: wd)
        case let name: throw FixtureError("\(fixture.name): unknown optimizer '\(name)'")
        }
    }

    private static func makeScheduler(_ fixture: Fixture, _ optimizer: any Optimizer) throws -> (any LearningRateScheduler)? {
        switch try fixture.string("scheduler") {
        case "none": return nil
        case "step_lr": return try StepLR(optimizer, stepSize: fixture.int("step_size"), gamma: fixture.float("gamma"))
        case "cosine_annealing":
            return try CosineAnnealingLR(optimizer, maxEpochs: fixture.int("t_max"), minimumLearningRate: fixture.float("eta_min"))
        case let name: throw FixtureError("\(fixture.name): unknown scheduler '\(name)'")
        }
    }

    @Test("20 steps: losses, learning rates, gradient norms and final weights", arguments: fixtureNames)
    func trajectory(_ file: String) throws {
        let fixture = try Fixture(file)
        let backend = TestDevice.backend
        let model = try Self.makeModel(fixture, on: backend)
        try model.loadStateDict(try fixture.stateDict(prefix: "initial."), strict: true)

        let lossFunction = try Self.makeLoss(fixture)
        let optimizer = try Self.makeOptimizer(fixture, model.parameters)
        let scheduler = try Self.makeScheduler(fixture, optimizer)
        let penalty = fixture.meta["l1"] != nil || fixture.meta["l2"] != nil
            ? try WeightPenalty(l1: fixture.float("l1"), l2: fixture.float("l2")) : nil
        let clip = try fixture.string("clip")
        let steps = try fixture.int("steps")

        let input = try SequenceBatch(fixture.upload("input", on: backend))   // (T, B, I), or token indices (T, B)
        let target = try fixture.upload("target", on: backend)     // (B, C), or class indices (T, B)
        var losses: [Float] = [], learningRates: [Float] = [], gradNorms: [Float] = []
        for _ in 0..<steps {
            learningRates.append(optimizer.learningRate)
            try model.zeroGradients()
            let loss = try lossBackward(model, .sequence(input), target, lossFunction)
            if let penalty { try penalty.apply(to: model.parameters, loss: loss) }
            switch clip {
            case "norm": gradNorms.append(try GradientClipping.clipNorm(model.parameters, maxNorm: fixture.float("clip_norm")).value())
            case "value": try GradientClipping.clipValue(model.parameters, clipValue: fixture.float("clip_value"))
            case "none": break
            default: throw FixtureError("\(file): unknown clip '\(clip)'")
            }
            try optimizer.step()
            try scheduler?.step()
            losses.append(try loss.item())
        }

        expectClose(learningRates, try fixture.data("learning_rates"), absolute: 0, relative: 1e-6, "\(file) learning_rates")
        if fixture.meta["learning_rates_exact"] != nil {
            expectClose(learningRates, try fixture.doubles("learning_rates_exact").map { Float($0) }, absolute: 0, relative: 1e-6,
                        "\(file) learning_rates_exact")
        }
        expectClose(losses, try fixture.data("losses"), "\(file) losses")
        if clip == "norm" {
            expectClose(gradNorms, try fixture.data("grad_norms"), "\(file) grad_norms")
        }
        let final = try model.stateDict()
        let expected = try fixture.stateDict(prefix: "final.")
        #expect(Set(final.keys) == Set(expected.keys), "\(file): parameter names")
        for name in expected.keys.sorted() {
            guard let actual = final[name] else { continue }
            expectClose(actual.values, expected[name]!.values, "\(file) final.\(name)")
        }
    }
}
