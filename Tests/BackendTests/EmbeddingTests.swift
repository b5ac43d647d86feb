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

/// Row gathers and scatters with integer row maps, and their checks when the map is made.
@Suite struct RowMapTests {
    /// Entries into a table of 6 rows: 4 three times, 0 twice, 5 once; rows 1, 2, 3 unused.
    static let rows = [4, 0, 4, 5, 0, 4]
    static let tableRows = 6

    @Test(arguments: [1, 3, 17, 129])
    func gatherCopiesRows(width: Int) throws {
        var random = TestRandom(seed: 52, stream: UInt64(width))
        let table = try Twin([Self.tableRows, width], &random)
        let out = try Twin([Self.rows.count, width])
        try onBoth { backend, side in
            let map = try backend.makeRowIndices(Self.rows, tableRows: Self.tableRows)
            try backend.gatherRows(out[side], table[side], rows: map)
        }
        try out.expectClose("gatherRows, D = \(width)", absolute: 0, relative: 0)
    }

    @Test(arguments: [1, 3, 17, 129])
    func scatterAddsRepeatedRowsInOrder(width: Int) throws {
        var random = TestRandom(seed: 53, stream: UInt64(width))
        let out = try Twin([Self.tableRows, width], &random)
        let x = try Twin([Self.rows.count, width], &random)
        try onBoth { backend, side in
            let map = try backend.makeRowIndices(Self.rows, tableRows: Self.tableRows)
            try backend.scatterAddRows(out[side], x[side], rows: map)
        }
        // The same terms in the same order: bit for bit.
        try out.expectClose("scatterAddRows, D = \(width)", absolute: 0, relative: 0)
    }

    @Test func invalidRowsAndShapesAreRefused() throws {
        let backend = TestDevice.backend
        let outside = try #require(throws: RecurrentError.self) { try backend.makeRowIndices([0, 6], tableRows: 6) }
        #expect("\(outside)".contains("a row in 0..<6") && "\(outside)".contains("got 6"), "\(outside)")
        #expect(throws: RecurrentError.self) { try backend.makeRowIndices([-1], tableRows: 6) }
        let map = try backend.makeRowIndices(Self.rows, tableRows: Self.tableRows)
        let wrongTable = try Tensor.zeros([5, 2], on: backend), out = try Tensor.zeros([Self.rows.count, 2], on: backend)
        let error = try #require(throws: RecurrentError.self) { try backend.gatherRows(out, wrongTable, rows: map) }
        #expect("\(error)".contains("(6, D)"), "\(error)")
        let table = try Tensor.zeros([6, 2], on: backend), wrongOut = try Tensor.zeros([Self.rows.count, 3], on: backend)
        #expect(throws: RecurrentError.self) { try backend.gatherRows(wrongOut, table, rows: map) }
        #expect(throws: RecurrentError.self) { try backend.scatterAddRows(table, wrongOut, rows: map) }
        // A map of another backend is refused, not read.
        let hostMap = try RowIndices(Self.rows, tableRows: Self.tableRows)
        if backend.name != "cpu" {
            #expect(throws: RecurrentError.self) { try backend.gatherRows(out, table, rows: hostMap) }
        }
    }
}
