// Embedding gather and scatter-add on the device under test vs the reference.
// N = indices, V = table rows, D = embedding width.

import RecurrentKit
import ReferenceBackend
import TestSupport
import Testing

@Suite struct EmbeddingTests {
    /// Repeated indices (3 three times, 0 twice) and out-of-range ones (7 = V, 100, -1).
    static let indices: [Float] = [3, 0, 6, 3, 7, 1, 100, 3, -1, 0, 5]
    static let vocabulary = 7

    @Test(arguments: [1, 3, 17, 129])
    func forwardGathersRowsAndNaNForOutOfRange(width: Int) throws {
        var random = TestRandom(seed: 50, stream: UInt64(width))
        let n = Self.indices.count
        let table = try Twin([Self.vocabulary, width], &random)
        let indices = try Twin([n], Self.indices)
        let out = try Twin([n, width], filledWith: 42)
        try onBoth { backend, side in try backend.embeddingForward(out[side], indices: indices[side], table: table[side]) }
        try out.expectClose("embedding forward, D = \(width)", absolute: 0, relative: 0)
        let values = try out.device.toArray()
        for (row, index) in Self.indices.enumerated() where index < 0 || index >= Float(Self.vocabulary) {
            #expect(values[(row * width)..<((row + 1) * width)].allSatisfy { $0.isNaN }, "row \(row) (index \(index)) not NaN")
        }
    }

    @Test(arguments: [1, 3, 17, 129])
    func backwardAccumulatesRepeatedAndSkipsOutOfRange(width: Int) throws {
        var random = TestRandom(seed: 51, stream: UInt64(width))
        let n = Self.indices.count
        let gradTable = try Twin([Self.vocabulary, width], &random)
        let indices = try Twin([n], Self.indices)
        let gradOut = try Twin([n, width], &random)
        try onBoth { backend, side in
            try backend.embeddingBackward(gradTable[side], indices: indices[side], gradOut: gradOut[side])
        }
        try gradTable.expectClose("embedding backward, D = \(width)")
    }
}
