// Memory ops on the device under test: upload, download, copy, fill, views with offsets.
// N = elements.

import RecurrentKit
import ReferenceBackend
import TestSupport
import Testing

@Suite struct MemoryTests {
    @Test(arguments: [1, 3, 17, 129, 3001])
    func uploadDownloadRoundTrip(count: Int) throws {
        var random = TestRandom(seed: 1, stream: UInt64(count))
        let values = random.normal(count: count)
        let twin = try Twin([count], values)
        expectClose(try twin.device.toArray(), values, absolute: 0, relative: 0, "device round trip")
        expectClose(try twin.reference.toArray(), values, absolute: 0, relative: 0, "reference round trip")
        try twin.expectPaddingIntact("upload")
    }

    @Test(arguments: [1, 3, 17, 129])
    func copyBetweenViewsWithOffsets(count: Int) throws {
        var random = TestRandom(seed: 2, stream: UInt64(count))
        let source = try Twin([count], &random)
        let destination = try Twin([count], filledWith: 7)
        try onBoth { backend, side in try backend.copy(source[side], to: destination[side]) }
        try destination.expectClose("copy", absolute: 0, relative: 0)
        expectClose(try destination.device.toArray(), try source.device.toArray(), absolute: 0, relative: 0, "copy = source")
    }

    @Test func copyWithinOneBuffer() throws {
        var random = TestRandom(seed: 3)
        let whole = try Twin([5, 17], &random)
        try onBoth { backend, side in try backend.copy(whole[side].row(1), to: whole[side].row(3)) }
        try whole.expectClose("copy row 1 to row 3", absolute: 0, relative: 0)
        expectClose(try whole.device.row(3).toArray(), try whole.device.row(1).toArray(), absolute: 0, relative: 0,
                    "row 3 = row 1")
    }

    @Test(arguments: [1, 3, 17, 129])
    func fillView(count: Int) throws {
        let twin = try Twin([count], filledWith: 1)
        try onBoth { backend, side in try backend.fill(twin[side], with: -2.5) }
        try twin.expectClose("fill", absolute: 0, relative: 0)
        expectClose(try twin.device.toArray(), [Float](repeating: -2.5, count: count), absolute: 0, relative: 0, "filled")
    }

    @Test func slicesRowsAndReshapes() throws {
        var random = TestRandom(seed: 4)
        let twin = try Twin([4, 3, 5], &random)
        let values = try twin.device.toArray()
        let rowValues = random.uniform(count: 15)
        try onBoth { backend, side in
            let row = try twin[side].row(2)
            try rowValues.withUnsafeBufferPointer { try backend.upload($0, to: row) }
            try backend.fill(twin[side].slice(0..<1).reshaped([15]), with: 0.5)
        }
        var expected = values
        expected.replaceSubrange(30..<45, with: rowValues)
        expected.replaceSubrange(0..<15, with: [Float](repeating: 0.5, count: 15))
        try twin.expectClose("views", absolute: 0, relative: 0)
        expectClose(try twin.device.toArray(), expected, absolute: 0, relative: 0, "views written through")
        expectClose(try twin.device.slice(1..<3).toArray(), Array(expected[15..<45]), absolute: 0, relative: 0,
                    "slice download")
    }

    @Test func emptyTensorsAndSynchronize() throws {
        let backend = TestDevice.backend
        let empty = try Tensor.empty([0, 5], on: backend)
        #expect(try empty.toArray() == [])
        try backend.synchronize()
        let scalar = try Tensor.zeros([], on: backend, value: 3)
        #expect(try scalar.item() == 3)
    }

    @Test func zerosAndCopyHelpers() throws {
        let backend = TestDevice.backend
        let zeros = try Tensor.zeros([3, 17], on: backend)
        #expect(try zeros.toArray() == [Float](repeating: 0, count: 51))
        var random = TestRandom(seed: 5)
        let t = try random.tensor([17], on: backend)
        #expect(try t.copy().toArray() == t.toArray())
    }
}
