// Masked losses: padded steps of variable-length batches neither count nor get gradient, and the
// mean is over the real steps. Expected values are computed here on the host in Double.
// T = padded steps, B = batch, F = features, C = classes.

import Foundation
import RecurrentKit
import Testing
import TestSupport

@Suite struct MaskedLossTests {
    static let (t, b, lengths) = (5, 3, [5, 2, 3])

    static func isReal(_ step: Int, _ s: Int, batchFirst: Bool = false) -> Bool { step < lengths[s] }

    @Test(arguments: [LossReduction.mean, .sum])
    func meanSquaredErrorCountsRealSteps(reduction: LossReduction) throws {
        let backend = TestDevice.backend
        let f = 2
        var random = TestRandom(seed: 51)
        let p = random.uniform(count: Self.t * Self.b * f), y = random.uniform(count: Self.t * Self.b * f)
        let loss = try MaskedLoss(MSELoss(reduction: reduction))
        let value = try loss.forward(SequenceBatch(Tensor(shape: [Self.t, Self.b, f], values: p, on: backend), lengths: Self.lengths),
                                     Tensor(shape: [Self.t, Self.b, f], values: y, on: backend)).item()
        let real = Self.lengths.reduce(0, +) * f
        let scale = reduction == .mean ? 1 / Double(real) : 1
        var sum = 0.0, gradient = [Float](repeating: 0, count: p.count)
        for step in 0..<Self.t {
            for s in 0..<Self.b where Self.isReal(step, s) {
                for k in 0..<f {
                    let e = (step * Self.b + s) * f + k, d = Double(p[e]) - Double(y[e])
                    sum += d * d
                    gradient[e] = Float(2 * scale * d)
                }
            }
        }
        expectClose([value], [Float(scale * sum)], "masked MSE (\(reduction))")
        expectClose(try loss.backward().toArray(), gradient, "masked MSE gradient, zero at padded steps")
    }

    @Test(arguments: [false, true])
    func crossEntropyCountsRealSteps(batchFirst: Bool) throws {
        let backend = TestDevice.backend
        let c = 4
        var random = TestRandom(seed: 52)
        let logits = random.uniform(count: Self.t * Self.b * c, low: -3, high: 3)
        // Targets at padded steps hold junk (even out-of-range classes): they must not matter.
        let targets = (0..<(Self.t * Self.b)).map { _ in Float(random.int(in: 0..<(c + 3))) }
        let loss = try MaskedLoss(CrossEntropyLoss())
        let shape = batchFirst ? [Self.b, Self.t] : [Self.t, Self.b]
        var realTargets = targets
        func index(_ step: Int, _ s: Int) -> Int { batchFirst ? s * Self.t + step : step * Self.b + s }
        for step in 0..<Self.t { for s in 0..<Self.b where Self.isReal(step, s) { realTargets[index(step, s)] = Float(Int(targets[index(step, s)]) % c) } }
        let prediction = try SequenceBatch(Tensor(shape: shape + [c], values: logits, on: backend),
                                           layout: batchFirst ? .batchMajor : .timeMajor, lengths: Self.lengths)
        let value = try loss.forward(prediction, Tensor(shape: shape, values: realTargets, on: backend)).item()
        let real = Double(Self.lengths.reduce(0, +))
        var sum = 0.0, gradient = [Float](repeating: 0, count: logits.count)
        for step in 0..<Self.t {
            for s in 0..<Self.b where Self.isReal(step, s) {
                let row = index(step, s), x = (0..<c).map { Double(logits[row * c + $0]) }
                let m = x.max()!, z = x.map { exp($0 - m) }.reduce(0, +)
                let target = Int(realTargets[row])
                sum += m + log(z) - x[target]
                for k in 0..<c { gradient[row * c + k] = Float((exp(x[k] - m) / z - (k == target ? 1 : 0)) / real) }
            }
        }
        expectClose([value], [Float(sum / real)], "masked cross-entropy, batchFirst \(batchFirst)")
        expectClose(try loss.backward().toArray(), gradient, "masked cross-entropy gradient, zero at padded steps")
    }

    @Test func badInputIsRefused() throws {
        let backend = TestDevice.backend
        #expect(throws: RecurrentError.self) { try MaskedLoss(MaskedLoss(MSELoss())) }
        let loss = try MaskedLoss(MSELoss())
        let x = try Tensor.zeros([4, 2, 1], on: backend)
        let error = try #require(throws: RecurrentError.self) { try loss.forward(x, x) }   // no lengths to mask by
        #expect("\(error)".contains("SequenceBatch"), "\(error)")
        let lengthError = try #require(throws: RecurrentError.self) { try loss.forward(SequenceBatch(x, lengths: [2, 9]), x) }
        #expect("\(lengthError)".contains("each in 1...4") && "\(lengthError)".contains("[2, 9]"), "\(lengthError)")
        // A plain loss refuses padded predictions rather than count the padding.
        let plain = try #require(throws: RecurrentError.self) { try MSELoss().forward(SequenceBatch(x, lengths: [2, 3]), x) }
        #expect("\(plain)".contains("MaskedLoss"), "\(plain)")
    }
}
