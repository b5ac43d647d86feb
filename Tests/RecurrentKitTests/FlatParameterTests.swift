// Flat parameter buffers: an optimizer moves a model's parameters into one value buffer and one
// gradient buffer, and its updates, zeroing, clipping and penalties then run once per span.
// Every result must equal the same ops run parameter by parameter, bit for bit.

import Testing
import TestSupport
@testable import RecurrentKit

@Suite struct FlatParameterTests {
    static func model(seed: UInt64) throws -> Sequential {
        let backend = TestDevice.backend
        let rng = RandomSource(seed: seed)
        return try Sequential([("lstm", LSTM(inputSize: 3, hiddenSize: 5, numLayers: 2, on: backend, rng: rng)),
                               ("last", LastTimeStep()), ("fc", Linear(5, 2, on: backend, rng: rng))])
    }

    /// Random gradients, the same for every model built from the same seed.
    static func setGradients(_ model: Sequential, seed: UInt64) throws {
        var random = TestRandom(seed: seed)
        for p in model.parameters {
            try p.gradient.assign(HostTensor(shape: p.shape, values: random.uniform(count: p.value.count)))
        }
    }

    static func bits(_ t: Tensor) throws -> [UInt32] { try t.toArray().map(\.bitPattern) }

    @Test func optimizerMovesParametersOnceIntoOneBuffer() throws {
        let model = try Self.model(seed: 5)
        try Self.setGradients(model, seed: 6)
        let values = try model.parameters.map { try Self.bits($0.value) }, gradients = try model.parameters.map { try Self.bits($0.gradient) }
        #expect(model.parameters.allSatisfy { $0.storage == nil })
        #expect(try Parameter.spans(of: model.parameters).count == model.parameters.count)

        _ = try Adam(model.parameters)
        let storage = try #require(model.parameters.first?.storage)
        var offset = 0
        for (name, p) in model.namedParameters {
            #expect(p.storage === storage && p.storageOffset == offset, "\(name) is not next in the flat buffer")
            offset += p.value.count
        }
        #expect(storage.values.count == model.parameterCount && storage.gradients.count == model.parameterCount)
        #expect(try model.parameters.map { try Self.bits($0.value) } == values, "values changed when flattened")
        #expect(try model.parameters.map { try Self.bits($0.gradient) } == gradients, "gradients changed when flattened")
        #expect(try Parameter.spans(of: model.parameters).count == 1)

        // A second optimizer leaves them where they are; a frozen parameter splits the trainable span.
        _ = try SGD(model.parameters, learningRate: 0.1)
        #expect(model.parameters.allSatisfy { $0.storage === storage })
        try model.freeze("lstm.weight_hh_l1")
        #expect(try Parameter.trainableSpans(of: model.parameters).count == 2)
        try model.zeroGradients()
        #expect(try Self.bits(storage.gradients).allSatisfy { $0 == 0 })
    }

    enum Kind: String, CaseIterable { case sgd, sgdNesterov, adam, adamW }

    /// Three steps with a parameter frozen for the second one (it loses its state and gets fresh
    /// state when unfrozen): the flat optimizer equals the backend ops applied parameter by parameter.
    @Test(arguments: Kind.allCases)
    func flatUpdatesEqualPerParameterUpdates(_ kind: Kind) throws {
        let flat = try Self.model(seed: 7), loose = try Self.model(seed: 7)
        let optimizer: any Optimizer
        switch kind {
        case .sgd: optimizer = try SGD(flat.parameters, learningRate: 0.1, weightDecay: 0.01)
        case .sgdNesterov: optimizer = try SGD(flat.parameters, learningRate: 0.1, momentum: 0.9, weightDecay: 0.01, nesterov: true)
        case .adam: optimizer = try Adam(flat.parameters, learningRate: 0.01, weightDecay: 0.1)
        case .adamW: optimizer = try AdamW(flat.parameters, learningRate: 0.01)
        }
        let backend = TestDevice.backend
        var states: [ObjectIdentifier: (slots: [Tensor], steps: Int)] = [:]
        for step in 0..<3 {
            let frozen = step == 1 ? "lstm.bias_ih_l0" : nil
            if let frozen { try flat.freeze(frozen); try loose.freeze(frozen) }
            try Self.setGradients(flat, seed: 10 + UInt64(step))
            try Self.setGradients(loose, seed: 10 + UInt64(step))
            try optimizer.step()
            for p in loose.parameters {
                guard !p.isFrozen else { states[ObjectIdentifier(p)] = nil; continue }
                var state = try states[ObjectIdentifier(p)] ?? ((0..<2).map { _ in try Tensor.zeros(p.shape, on: backend) }, 0)
                switch kind {
                case .sgd, .sgdNesterov:
                    let momentum: Float = kind == .sgd ? 0 : 0.9
                    try backend.sgdUpdate(p.value, gradient: p.gradient, momentumBuffer: momentum > 0 ? state.slots[0] : nil,
                                          SGDHyperparameters(learningRate: 0.1, momentum: momentum, weightDecay: 0.01,
                                                             nesterov: kind == .sgdNesterov, isFirstStep: state.steps == 0))
                case .adam, .adamW:
                    try backend.adamUpdate(p.value, gradient: p.gradient, m: state.slots[0], v: state.slots[1],
                                           AdamHyperparameters(learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8,
                                                               weightDecay: kind == .adam ? 0.1 : 0.01,
                                                               decoupledWeightDecay: kind == .adamW, step: state.steps + 1))
                }
                state.steps += 1
                states[ObjectIdentifier(p)] = state
            }
            if let frozen { try flat.unfreeze(frozen); try loose.unfreeze(frozen) }
            for ((name, a), b) in zip(flat.namedParameters, loose.parameters) {
                #expect(try Self.bits(a.value) == Self.bits(b.value), "\(kind) step \(step): \(name)")
            }
        }
        let named = flat.namedParameters
        let saved = try optimizer.state(of: named)
        #expect(saved.steps["lstm.bias_ih_l0"] == 1 && saved.steps["fc.weight"] == 3)
    }

    /// Clipping and penalties over the flat spans equal the same ops per parameter (the norm sums
    /// in another order, so it agrees to rounding; everything scaled by one norm tensor is bitwise).
    @Test func clippingAndPenaltiesMatchPerParameterOps() throws {
        let flat = try Self.model(seed: 8), loose = try Self.model(seed: 8)
        try flat.flattenParameters()
        try flat.freeze("fc.bias"); try loose.freeze("fc.bias")
        try Self.setGradients(flat, seed: 9); try Self.setGradients(loose, seed: 9)
        let backend = TestDevice.backend
        let norm = try GradientClipping.norm(of: flat.parameters)
        var expected: Double = 0
        for p in loose.parameters where !p.isFrozen { expected += try p.gradient.toArray().reduce(0) { $0 + Double($1 * $1) } }
        #expect(abs(Double(try norm.sumOfSquares.item()) - expected) <= 1e-5 * expected)

        try GradientClipping.clipNorm(flat.parameters, maxNorm: 0.5, norm: norm)
        for p in loose.parameters where !p.isFrozen {
            try backend.scaleByClipCoefficient(p.gradient, sumOfSquares: norm.sumOfSquares, maxNorm: 0.5)
        }
        try GradientClipping.clipValue(flat.parameters, clipValue: 0.05)
        for p in loose.parameters where !p.isFrozen { try backend.clamp(p.gradient, low: -0.05, high: 0.05) }
        let loss = try Tensor.zeros([], on: backend)
        try WeightPenalty(l1: 1e-3, l2: 1e-2).apply(to: flat.parameters, loss: loss)
        for p in loose.parameters where !p.isFrozen { try backend.addPenaltyGradient(p.gradient, p.value, l1: 1e-3, l2: 1e-2) }
        for ((name, a), b) in zip(flat.namedParameters, loose.parameters) {
            #expect(try Self.bits(a.gradient) == Self.bits(b.gradient), "\(name)")
        }
        var penalty: Double = 0
        for p in loose.parameters where !p.isFrozen {
            penalty += try p.value.toArray().reduce(0) { $0 + 1e-3 * Double(abs($1)) + 1e-2 * Double($1 * $1) }
        }
        #expect(abs(Double(try loss.item()) - penalty) <= 1e-5 * penalty)
    }
}
