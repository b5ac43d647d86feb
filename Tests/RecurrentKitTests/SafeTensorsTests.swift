import Foundation
import Testing
import TestSupport
@testable import RecurrentKit

private func temporaryURL(_ name: String) -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("recurrentkit-\(getpid())-\(UInt32.random(in: 0...UInt32.max))-\(name)")
}

/// A header and data assembled by hand, for files the encoder would never write.
private func rawFile(header: String, data: [UInt8] = [], headerLength: UInt64? = nil) -> Data {
    var out = Data()
    let json = Array(header.utf8)
    withUnsafeBytes(of: (headerLength ?? UInt64(json.count)).littleEndian) { out.append(contentsOf: $0) }
    out.append(contentsOf: json)
    out.append(contentsOf: data)
    return out
}

/// Expects decoding to fail with a file error whose message contains `fragment`.
private func expectDecodeError(_ data: Data, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        _ = try SafeTensors.decode(data, source: "model.safetensors")
        Issue.record("decoded a file that should fail with '\(fragment)'", sourceLocation: sourceLocation)
    } catch let error as RecurrentError {
        #expect(error.description.hasPrefix("model.safetensors: "), sourceLocation: sourceLocation)
        #expect(error.description.contains(fragment), "\(error.description)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}

@Suite struct SafeTensorsTests {
    @Test func roundTrip() throws {
        let tensors: [String: HostTensor] = [
            "lstm.weight_ih_l0": try HostTensor(shape: [8, 3], values: (0..<24).map { Float($0) * 0.25 - 3 }),
            "fc.bias": try HostTensor(shape: [2], values: [.infinity, -0.0]),
            "scalar": try HostTensor(shape: [], values: [42]),
            "empty": try HostTensor(shape: [0, 3], values: []),
        ]
        let data = try SafeTensors.encode(tensors, metadata: ["format": "pt", "note": "x/y"])
        let headerLength = data.withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        #expect(headerLength % 8 == 0)
        let decoded = try SafeTensors.decode(data)
        #expect(decoded.tensors == tensors)
        #expect(decoded.metadata == ["format": "pt", "note": "x/y"])
        #expect(decoded.storedTypes.values.allSatisfy { $0 == .f32 })
    }

    @Test func modelWeightsRoundTripThroughAFile() throws {
        let backend = TestDevice.backend
        func model(_ seed: UInt64) throws -> Sequential {
            let rng = RandomSource(seed: seed)
            return try Sequential([("lstm", LSTM(inputSize: 3, hiddenSize: 5, numLayers: 2, on: backend, rng: rng)),
                                   ("last", LastTimeStep()), ("fc", Linear(5, 2, on: backend, rng: rng))])
        }
        let url = temporaryURL("weights.safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        let a = try model(1), b = try model(2)
        try a.saveWeights(to: url)
        #expect(try a.stateDict() != b.stateDict())
        try b.loadWeights(from: url)
        #expect(try a.stateDict() == b.stateDict())
        var random = TestRandom(seed: 3)
        let x = try SequenceBatch(random.tensor([4, 3, 3], on: backend))
        #expect(try a.forward(x).data.toArray() == b.forward(x).data.toArray())
        // Nothing but the file is left in the directory (the temporary file was renamed).
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path)
            .filter { $0.contains(url.lastPathComponent) && $0 != url.lastPathComponent }
        #expect(leftovers.isEmpty)
    }

    @Test(arguments: [(UInt16(0x3C00), Float(1)), (0xC000, -2), (0x7BFF, 65504), (0x0001, 0x1p-24), (0x03FF, 1023 * 0x1p-24),
                      (0x0400, 0x1p-14), (0x7C00, .infinity), (0xFC00, -.infinity), (0x3555, 0.333251953125)])
    func halfToFloatIsExact(bits: UInt16, expected: Float) {
        #expect(SafeTensors.float(half: bits) == expected)
    }

    @Test func halfSpecialValues() {
        #expect(SafeTensors.float(half: 0x8000).sign == .minus && SafeTensors.float(half: 0x8000) == 0)
        #expect(SafeTensors.float(half: 0x7E00).isNaN)
    }

    @Test func errorMessagesNameTheProblem() {
        let f32x2 = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        let eight = [UInt8](repeating: 0, count: 8)
        expectDecodeError(Data([1, 2, 3]), "3 bytes is too short")
        expectDecodeError(rawFile(header: f32x2, data: eight, headerLength: 1 << 40), "header length field says 1099511627776 bytes")
        expectDecodeError(rawFile(header: "[1, 2]"), "not a JSON object")
        expectDecodeError(rawFile(header: "{\"a\": "), "not a JSON object")
        expectDecodeError(rawFile(header: #"{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#, data: eight),
                          "dtype I64 is not supported")
        expectDecodeError(rawFile(header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: eight),
                          "shape [3] of F32 needs 12 bytes, data_offsets give 8")
        expectDecodeError(rawFile(header: #"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: eight),
                          "shape must be a list of non-negative integers")
        expectDecodeError(rawFile(header: #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: eight),
                          "data_offsets must be [begin, end] within the 8 data bytes")
        expectDecodeError(rawFile(header: f32x2, data: eight + [0, 0, 0, 0]), "the tensors cover 8 data bytes but the file has 12")
        expectDecodeError(rawFile(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: eight),
                          "bytes 0..<4 of the data belong to no tensor")
        expectDecodeError(rawFile(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                                  data: eight), "overlaps another tensor's bytes")
        expectDecodeError(rawFile(header: #"{"a":{"dtype":"F32","shape":[4000000000000000,4000000000000000],"data_offsets":[0,8]}}"#, data: eight),
                          "too large")
        // Hostile nesting: refused, not a stack overflow.
        expectDecodeError(rawFile(header: String(repeating: "[", count: 200_000)), "not a JSON object")
        expectDecodeError(rawFile(header: "{\"a\":" + String(repeating: "{\"a\":", count: 100_000) + "1" + String(repeating: "}", count: 100_001)),
                          "not a JSON object")
        expectDecodeError(rawFile(header: #"{"__metadata__":{"format":1}}"#), "__metadata__ must map strings to strings")
    }

    @Test func fileErrorsNameThePath() throws {
        let missing = temporaryURL("missing.safetensors")
        do {
            _ = try SafeTensors.read(contentsOf: missing)
            Issue.record("read a missing file")
        } catch let error as RecurrentError {
            #expect(error.description == "\(missing.path): no such file")
        }
        // A state dict that does not fit the model: the message names the file and what differs.
        let backend = TestDevice.backend
        let url = temporaryURL("other.safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try SafeTensors.write(["fc.weight": try HostTensor(shape: [3, 2], values: [Float](repeating: 0, count: 6)),
                               "fc.bias": try HostTensor(shape: [2], values: [0, 0])], to: url)
        let model = try Sequential([("fc", Linear(3, 2, on: backend, rng: RandomSource(seed: 1)))])
        do {
            try model.loadWeights(from: url)
            Issue.record("loaded a transposed weight")
        } catch let error as RecurrentError {
            #expect(error.description.hasPrefix(url.path + ": loadStateDict fc.weight"))
            #expect(error.description.contains("[2, 3]") && error.description.contains("[3, 2]"))
        }
    }

    /// 10,000 seeded mutations of a valid file (byte flips, truncations, length-field edits, header
    /// text edits, appended bytes): the decoder never crashes; every file it accepts is consistent;
    /// every file whose structure the mutation broke (truncated, lengthened, header syntax) is refused.
    @Test func fuzzedFilesNeverCrashTheDecoder() throws {
        let base = try SafeTensors.encode([
            "w": try HostTensor(shape: [3, 4], values: (0..<12).map { Float($0) }),
            "b": try HostTensor(shape: [4], values: [1, 2, 3, 4]),
            "s": try HostTensor(shape: [], values: [7]),
        ])
        let headerEnd = 8 + base.withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        var rng = PhiloxStream(seed: 2026, stream: 0)
        func next(_ n: Int) -> Int { Int((UInt64(rng.nextWord()) * UInt64(n)) >> 32) }
        var accepted = 0, refused = 0
        for round in 0..<10_000 {
            var bytes = [UInt8](base)
            var mustFail = false
            switch round % 6 {
            case 0:   // flip random bytes anywhere
                for _ in 0...next(4) { bytes[next(bytes.count)] ^= UInt8(1 + next(255)) }
            case 1:   // truncate
                bytes.removeLast(1 + next(bytes.count))
                mustFail = true
            case 2:   // rewrite the header length field
                let length = UInt64(next(1 << 16)) << (next(5) * 8)
                if length != UInt64(headerEnd - 8) {
                    withUnsafeBytes(of: length.littleEndian) { for i in 0..<8 { bytes[i] = $0[i] } }
                    mustFail = length > UInt64(bytes.count - 8)
                }
            case 3:   // replace a header character with a JSON-significant one
                let position = 8 + next(headerEnd - 8)
                bytes[position] = Array("{}[]\",:-0123456789eE.".utf8)[next(21)]
            case 4:   // append bytes after the data
                bytes += (0...next(16)).map { _ in UInt8(next(256)) }
                mustFail = true
            default:  // damage the data section only: still a valid file
                let position = headerEnd + next(bytes.count - headerEnd)
                bytes[position] ^= UInt8(1 + next(255))
            }
            do {
                let decoded = try SafeTensors.decode(Data(bytes), source: "fuzz")
                #expect(!mustFail, "round \(round): accepted a structurally broken file")
                for (_, t) in decoded.tensors { #expect(t.values.count == t.shape.reduce(1, *)) }
                accepted += 1
            } catch is RecurrentError {
                refused += 1
            }
        }
        #expect(accepted + refused == 10_000)
        #expect(accepted > 1000 && refused > 3000, "accepted \(accepted), refused \(refused)")
    }
}
