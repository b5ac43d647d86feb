import Foundation

/// The element types a safetensors file may hold that RecurrentKit reads (all become Float).
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    /// IEEE 754 single precision.
    case f32 = "F32"
    /// IEEE 754 half precision.
    case f16 = "F16"
    /// bfloat16: single precision's exponent with a 7-bit mantissa.
    case bf16 = "BF16"
    /// IEEE 754 double precision.
    case f64 = "F64"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .f64: return 8
        }
    }
}

/// The contents of a safetensors file: named tensors (converted to Float) and string metadata.
public struct SafeTensorsContents: Sendable, Equatable {
    /// The tensors by name, converted to F32.
    public var tensors: [String: HostTensor]
    /// The `__metadata__` entry (PyTorch writes `{"format": "pt"}`).
    public var metadata: [String: String]
    /// The element type each tensor had in the file.
    public var storedTypes: [String: SafeTensorsDType]
}

/// Reads and writes the safetensors format (Hugging Face): an 8-byte little-endian header
/// length N, N bytes of JSON mapping names to `{"dtype", "shape", "data_offsets"}` (plus an
/// optional `"__metadata__"` of strings), then the raw little-endian data, which the offsets
/// must cover exactly. Files from `safetensors.torch.save_file` load here; files written here
/// load there and into `load_state_dict`.
///
/// Decoding treats the file as hostile: every length, offset and shape is checked against the
/// bytes actually present before anything is allocated or read, so corrupt or truncated files
/// give a `RecurrentError.file` naming the problem, never a crash or an over-read.
public enum SafeTensors {
    /// The largest header accepted (the reference implementation's limit).
    public static let maximumHeaderBytes = 100_000_000

    /// Reads a file.
    public static func read(contentsOf url: URL) throws -> SafeTensorsContents {
        try decode(AtomicFile.read(url), source: url.path)
    }

    /// Writes tensors as F32 (atomically: temporary file, fsync, rename).
    public static func write(_ tensors: [String: HostTensor], metadata: [String: String] = ["format": "pt"], to url: URL) throws {
        try AtomicFile.write(encode(tensors, metadata: metadata), to: url)
    }

    /// The bytes of a file holding `tensors` as F32, names in sorted order, header padded with
    /// spaces to a multiple of 8 bytes (as `safetensors` does).
    public static func encode(_ tensors: [String: HostTensor], metadata: [String: String] = ["format": "pt"]) throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            guard name != "__metadata__", !name.isEmpty else {
                throw RecurrentError.invalidArgument(name: "tensor name", expected: "a non-empty name other than __metadata__", got: "'\(name)'")
            }
            let t = tensors[name]!
            let bytes = t.values.count * 4
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes])
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        var out = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for name in names {
            for v in tensors[name]!.values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        }
        return out
    }

    /// Parses the bytes of a file; `source` names it in errors.
    public static func decode(_ data: Data, source: String = "safetensors data") throws -> SafeTensorsContents {
        func fail(_ reason: String) -> RecurrentError { .file(path: source, reason: reason) }
        guard data.count >= 8 else {
            throw fail("\(data.count) bytes is too short: a safetensors file starts with an 8-byte header length")
        }
        let headerLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(data.count - 8) else {
            throw fail("the header length field says \(headerLength) bytes, but only \(data.count - 8) bytes follow it (truncated or not safetensors)")
        }
        guard headerLength <= UInt64(maximumHeaderBytes), headerLength >= 2 else {
            throw fail("header length \(headerLength) is outside 2...\(maximumHeaderBytes) bytes")
        }
        let headerEnd = 8 + Int(headerLength)
        let headerBytes = data.subdata(in: data.startIndex + 8 ..< data.startIndex + headerEnd)
        guard let object = try? JSONSerialization.jsonObject(with: headerBytes), let header = object as? [String: Any] else {
            throw fail("the header is not a JSON object")
        }
        let dataLength = data.count - headerEnd

        var metadata: [String: String] = [:]
        var entries: [(name: String, type: SafeTensorsDType, shape: [Int], begin: Int, end: Int)] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: Any], let strings = m as? [String: String] else {
                    throw fail("__metadata__ must map strings to strings")
                }
                metadata = strings
                continue
            }
            guard let info = value as? [String: Any] else { throw fail("tensor '\(name)': expected an object with dtype, shape and data_offsets") }
            guard let typeName = info["dtype"] as? String else { throw fail("tensor '\(name)': missing dtype") }
            guard let type = SafeTensorsDType(rawValue: typeName) else {
                throw fail("tensor '\(name)': dtype \(typeName) is not supported (expected F32, F16, BF16 or F64)")
            }
            guard let shape = integers(info["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
                throw fail("tensor '\(name)': shape must be a list of non-negative integers")
            }
            guard let offsets = integers(info["data_offsets"]), offsets.count == 2, offsets[0] >= 0, offsets[0] <= offsets[1],
                  offsets[1] <= dataLength else {
                throw fail("tensor '\(name)': data_offsets must be [begin, end] within the \(dataLength) data bytes")
            }
            var bytes = type.size
            for d in shape {
                let (product, overflow) = bytes.multipliedReportingOverflow(by: d)
                guard !overflow else { throw fail("tensor '\(name)': shape \(shape) is too large") }
                bytes = product
            }
            guard bytes == offsets[1] - offsets[0] else {
                throw fail("tensor '\(name)': shape \(shape) of \(typeName) needs \(bytes) bytes, data_offsets give \(offsets[1] - offsets[0])")
            }
            entries.append((name, type, shape, offsets[0], offsets[1]))
        }
        // The offsets must tile the data section: no holes, no overlaps, nothing after.
        var position = 0
        for e in entries.sorted(by: { ($0.begin, $0.end) < ($1.begin, $1.end) }) {
            guard e.begin == position else {
                throw fail(e.begin < position ? "tensor '\(e.name)' overlaps another tensor's bytes"
                                              : "bytes \(position)..<\(e.begin) of the data belong to no tensor")
            }
            position = e.end
        }
        guard position == dataLength else {
            throw fail("the tensors cover \(position) data bytes but the file has \(dataLength)")
        }

        var tensors: [String: HostTensor] = [:], types: [String: SafeTensorsDType] = [:]
        try data.withUnsafeBytes { raw in
            let base = raw.baseAddress! + headerEnd
            for e in entries {
                let count = (e.end - e.begin) / e.type.size
                let p = base + e.begin
                let values = [Float](unsafeUninitializedCapacity: count) { out, initialized in
                    for i in 0..<count {
                        switch e.type {
                        case .f32: out[i] = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                        case .f16: out[i] = float(half: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                        case .bf16: out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16)
                        case .f64: out[i] = Float(Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
                        }
                    }
                    initialized = count
                }
                tensors[e.name] = try HostTensor(shape: e.shape, values: values)
                types[e.name] = e.type
            }
        }
        return SafeTensorsContents(tensors: tensors, metadata: metadata, storedTypes: types)
    }

    /// Integers from a JSON array (JSON numbers arrive as NSNumber; fractions are refused).
    private static func integers(_ value: Any?) -> [Int]? {
        guard let array = value as? [Any] else { return nil }
        var result: [Int] = []
        result.reserveCapacity(array.count)
        for item in array {
            guard let n = item as? NSNumber, n.doubleValue == n.doubleValue.rounded(), abs(n.doubleValue) < 9.0e15 else { return nil }
            result.append(n.intValue)
        }
        return result
    }

    /// IEEE binary16 to Float, exactly (subnormals, infinities and NaN included).
    static func float(half bits: UInt16) -> Float {
        let sign = UInt32(bits >> 15) << 31
        let exponent = Int(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x3FF)
        switch exponent {
        case 0:
            // ±0 or subnormal: mantissa · 2^-24.
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        case 0x1F:
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        default:
            return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
        }
    }
}

extension Module {
    /// Saves the parameters as a safetensors file with their PyTorch names (`lstm.weight_ih_l0`,
    /// `fc.bias`, …), loadable by `safetensors.torch.load_file` and `load_state_dict`. Atomic.
    public func saveWeights(to url: URL, metadata: [String: String] = ["format": "pt"]) throws {
        try SafeTensors.write(stateDict(), metadata: metadata, to: url)
    }

    /// Loads parameters from a safetensors file (F32, F16, BF16 or F64), as `load_state_dict`:
    /// names and shapes must match (with `strict`, every name on both sides).
    public func loadWeights(from url: URL, strict: Bool = true) throws {
        do {
            try loadStateDict(SafeTensors.read(contentsOf: url).tensors, strict: strict)
        } catch let error as RecurrentError {
            if case .file = error { throw error }
            throw RecurrentError.file(path: url.path, reason: error.description)
        }
    }
}
