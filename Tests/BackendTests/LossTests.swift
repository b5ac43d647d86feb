// Losses on the device under test vs the reference.
// N = rows of logits/targets, C = classes.

import RecurrentKit
import ReferenceBackend
import TestSupport
import Testing

@Suite struct LossTests {
    @Test(arguments: elementCounts)
    func meanSquaredError(count: Int) throws {
        var random = TestRandom(seed: 60, stream: UInt64(count))
        let prediction = try Twin([count], &random), target = try Twin([count], &random)
        let loss = try Twin([1], filledWith: .nan), gradient = try Twin([count], filledWith: .nan)
        let scale = 1 / Float(count)
        try onBoth { backend, side in
            try backend.meanSquaredError(loss: loss[side], gradient: gradient[side], prediction: prediction[side],
                                         target: target[side], scale: scale)
        }
        try loss.expectClose("mse loss, \(count) elements")
        try gradient.expectClose("mse gradient, \(count) elements")
    }

    @Test(arguments: [1, 3, 17], [1, 3, 17, 129])
    func softmaxCrossEntropy(rows: Int, classes: Int) throws {
        var random = TestRandom(seed: 61, stream: UInt64(rows * 1000 + classes))
        let logits = try Twin([rows, classes], &random, low: -3, high: 3)
        let targets = try Twin([rows], (0..<rows).map { _ in Float(random.int(in: 0..<classes)) })
        try checkCrossEntropy(logits: logits, targets: targets, scale: 1 / Float(rows), "cross-entropy (\(rows), \(classes))")
    }

    /// Logits of magnitude up to 10⁴ overflow exp() unless the softmax is max-shifted.
    @Test(arguments: [3, 129])
    func softmaxCrossEntropyIsStableForHugeLogits(classes: Int) throws {
        var random = TestRandom(seed: 62, stream: UInt64(classes))
        let rows = 5
        var values = random.uniform(count: rows * classes, low: -10_000, high: 10_000)
        values[1] = 10_000; values[classes + 2] = 10_000  // ties at the maximum
        let logits = try Twin([rows, classes], values)
        let targets = try Twin([rows], (0..<rows).map { _ in Float(random.int(in: 0..<classes)) })
        let loss = try checkCrossEntropy(logits: logits, targets: targets, scale: 1, "cross-entropy huge logits, C = \(classes)")
        #expect(loss.isFinite, "loss \(loss) for huge logits")
    }

    @Test func softmaxCrossEntropyOutOfRangeTargetIsNaN() throws {
        var random = TestRandom(seed: 63)
        let (rows, classes) = (4, 17)
        let logits = try Twin([rows, classes], &random)
        let targets = try Twin([rows], [3, 17, 0, 16])  // row 1's target is out of range
        let loss = try checkCrossEntropy(logits: logits, targets: targets, scale: 0.25, "cross-entropy bad target")
        #expect(loss.isNaN)
    }

    /// Runs softmax cross-entropy on both backends, compares loss and gradient, returns the device's loss.
    @discardableResult
    func checkCrossEntropy(logits: Twin, targets: Twin, scale: Float, _ label: String,
                           sourceLocation: SourceLocation = #_sourceLocation) throws -> Float {
        let loss = try Twin([1], filledWith: 42), gradient = try Twin(logits.device.shape, filledWith: 42)
        try onBoth { backend, side in
            try backend.softmaxCrossEntropy(loss: loss[side], gradient: gradient[side], logits: logits[side],
                                            targets: targets[side], scale: scale)
        }
        try loss.expectClose("\(label) loss", sourceLocation: sourceLocation)
        try gradient.expectClose("\(label) gradient", sourceLocation: sourceLocation)
        return try loss.device.item()
    }
}
