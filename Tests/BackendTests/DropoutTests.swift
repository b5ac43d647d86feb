// Dropout on the device under test vs the reference: masks must be bit-identical.
// N = elements; the Philox index of element e is offset + e.

import RecurrentKit
import ReferenceBackend
import TestSupport
import Testing

@Suite struct DropoutTests {
    @Test(arguments: [Float(0), 0.2, 0.5], [UInt64(0), 12_345, (1 << 33) + 3] as [UInt64])
    func masksMatchReferenceExactly(probability: Float, offset: UInt64) throws {
        for count in [1, 3, 17, 129, 1000] {
            var random = TestRandom(seed: 40, stream: UInt64(count))
            let x = try Twin([count], &random)
            let y = try Twin([count], filledWith: .nan), mask = try Twin([count], filledWith: .nan)
            try onBoth { backend, side in
                try backend.dropoutForward(y[side], mask: mask[side], x[side], probability: probability,
                                           seed: 0xDEAD_BEEF_1234, stream: 7, offset: offset)
            }
            try mask.expectClose("dropout mask p \(probability) offset \(offset), \(count) elements", absolute: 0, relative: 0)
            try y.expectClose("dropout output p \(probability) offset \(offset), \(count) elements", absolute: 0, relative: 0)
        }
    }

    /// Zoneout's factors: 1 exactly where dropout with the same draw zeroes, bit for bit against the reference.
    @Test(arguments: [Float(0), 0.1, 0.5], [UInt64(0), 12_345, (1 << 33) + 3] as [UInt64])
    func dropIndicatorIsWhereDropoutDrops(probability: Float, offset: UInt64) throws {
        for count in [1, 3, 17, 129, 1000, 70_001] {
            let d = try Twin([count], filledWith: .nan)
            try onBoth { backend, side in
                try backend.dropIndicator(d[side], probability: probability, seed: 0xDEAD_BEEF_1234, stream: 7, offset: offset)
            }
            try d.expectClose("drop indicator p \(probability) offset \(offset), \(count) elements", absolute: 0, relative: 0)
            let backend = TestDevice.backend
            let x = try Tensor.zeros([count], on: backend, value: 1)
            let y = try Tensor.empty([count], on: backend), mask = try Tensor.empty([count], on: backend)
            try backend.dropoutForward(y, mask: mask, x, probability: probability, seed: 0xDEAD_BEEF_1234, stream: 7, offset: offset)
            let dropped = try mask.toArray().map { $0 == 0 ? Float(1) : 0 }
            let device = try d.device.toArray()
            #expect(device == dropped, "drop indicator p \(probability) offset \(offset), \(count) elements: not where dropout drops")
        }
    }

    @Test(arguments: [Float(0.2), 0.5])
    func fractionDroppedIsProbability(probability: Float) throws {
        let backend = TestDevice.backend
        let count = 100_000
        let x = try Tensor.zeros([count], on: backend, value: 1)
        let y = try Tensor.empty([count], on: backend), mask = try Tensor.empty([count], on: backend)
        try backend.dropoutForward(y, mask: mask, x, probability: probability, seed: 99, stream: 1, offset: 5)
        let maskValues = try mask.toArray()
        let dropped = Float(maskValues.filter { $0 == 0 }.count) / Float(count)
        #expect(abs(dropped - probability) < 0.01, "dropped fraction \(dropped) for p = \(probability)")
        let keepScale = 1 / (1 - probability)
        #expect(maskValues.allSatisfy { $0 == 0 || $0 == keepScale }, "mask values other than 0 and 1/(1-p)")
    }
}
