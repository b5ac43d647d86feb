// Optimizer updates on the device under test vs the reference (PyTorch semantics).
// N = parameter elements.

import RecurrentKit
import ReferenceBackend
import TestSupport
import Testing

@Suite struct OptimizerTests {
    static let sgdCases: [SGDHyperparameters] = {
        var cases: [SGDHyperparameters] = []
        for weightDecay: Float in [0, 0.01] {
            for isFirstStep in [true, false] {
                cases.append(SGDHyperparameters(learningRate: 0.1, weightDecay: weightDecay, isFirstStep: isFirstStep))
                for (dampening, nesterov) in [(Float(0), false), (0, true), (0.1, false)] {
                    cases.append(SGDHyperparameters(learningRate: 0.05, momentum: 0.9, dampening: dampening,
                                                    weightDecay: weightDecay, nesterov: nesterov, isFirstStep: isFirstStep))
                }
            }
        }
        return cases
    }()

    @Test(arguments: sgdCases)
    func sgdUpdate(_ h: SGDHyperparameters) throws {
        for count in [1, 17, 3001] {
            var random = TestRandom(seed: 70, stream: UInt64(count))
            let param = try Twin([count], &random), gradient = try Twin([count], &random)
            // On the first step the buffer's old contents must not matter.
            let buffer = h.isFirstStep ? try Twin([count], filledWith: .nan) : try Twin([count], &random)
            try onBoth { backend, side in
                try backend.sgdUpdate(param[side], gradient: gradient[side],
                                      momentumBuffer: h.momentum > 0 ? buffer[side] : nil, h)
            }
            try param.expectClose("sgd param \(h), \(count) elements")
            if h.momentum > 0 { try buffer.expectClose("sgd momentum buffer \(h), \(count) elements") }
            try gradient.expectClose("sgd gradient unchanged", absolute: 0, relative: 0)
        }
    }

    static let adamCases: [AdamHyperparameters] = {
        var cases: [AdamHyperparameters] = []
        for decoupled in [false, true] {
            for weightDecay: Float in [0, 0.1] {
                for step in [1, 10] {
                    cases.append(AdamHyperparameters(learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8,
                                                     weightDecay: weightDecay, decoupledWeightDecay: decoupled, step: step))
                }
            }
        }
        return cases
    }()

    @Test(arguments: adamCases)
    func adamUpdate(_ h: AdamHyperparameters) throws {
        for count in [1, 17, 3001] {
            var random = TestRandom(seed: 71, stream: UInt64(count))
            let param = try Twin([count], &random), gradient = try Twin([count], &random)
            let m = try Twin([count], &random, low: -0.1, high: 0.1), v = try Twin([count], &random, low: 0, high: 0.01)
            try onBoth { backend, side in try backend.adamUpdate(param[side], gradient: gradient[side], m: m[side], v: v[side], h) }
            let label = "adam wd \(h.weightDecay) decoupled \(h.decoupledWeightDecay) bc1 \(h.biasCorrection1), \(count) elements"
            try param.expectClose("\(label) param")
            try m.expectClose("\(label) m")
            try v.expectClose("\(label) v")
        }
    }
}
