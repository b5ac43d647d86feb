// Loader for the PyTorch reference fixtures written by scripts/generate_fixtures.py.
// File format: {"meta": {...}, "tensors": {"NAME": {"shape": [d0, ...], "data": [row-major floats]}}};
// integer tensors (targets, indices) are stored as exact floats, scalars have shape [].

import Foundation
import RecurrentKit

/// A failure to find or read a fixture, naming the file and the missing or malformed entry.
struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One fixture file: its configuration (`meta`) and its named tensors, parsed once.
struct Fixture {
    /// The file name, such as `recurrent_lstm_l2_h0.json`.
    let name: String
    /// The configuration exactly as JSON gave it; prefer the typed accessors below.
    let meta: [String: Any]
    private let tensors: [String: (shape: [Int], data: [Float])]

    /// The `Fixtures` folder copied into the test bundle.
    static let directory: URL? = Bundle.module.url(forResource: "Fixtures", withExtension: nil)

    /// Reads and parses `Fixtures/<name>` (the `.json` extension may be left out).
    init(_ name: String) throws {
        let file = name.hasSuffix(".json") ? name : name + ".json"
        self.name = file
        guard let directory = Fixture.directory else {
            throw FixtureError("fixture folder 'Fixtures' is missing from the test bundle (looking for \(file))")
        }
        let url = directory.appendingPathComponent(file)
        let bytes: Data
        do {
            bytes = try Data(contentsOf: url)
        } catch {
            throw FixtureError("\(file): cannot read fixture at \(url.path): \(error)")
        }
        guard let root = try JSONSerialization.jsonObject(with: bytes) as? [String: Any],
              let meta = root["meta"] as? [String: Any],
              let entries = root["tensors"] as? [String: Any] else {
            throw FixtureError("\(file): expected a JSON object with \"meta\" and \"tensors\" objects")
        }
        var tensors: [String: (shape: [Int], data: [Float])] = [:]
        for (tensorName, value) in entries {
            guard let entry = value as? [String: Any],
                  let shapeValues = entry["shape"] as? [Any], let dataValues = entry["data"] as? [Any] else {
                throw FixtureError("\(file): tensor '\(tensorName)' lacks a \"shape\" or \"data\" array")
            }
            let shape = try shapeValues.map { v -> Int in
                guard let n = Fixture.number(v) else { throw FixtureError("\(file): tensor '\(tensorName)': bad shape \(shapeValues)") }
                return Int(n)
            }
            let data = try dataValues.map { v -> Float in
                guard let n = Fixture.number(v) else { throw FixtureError("\(file): tensor '\(tensorName)': non-numeric value \(v)") }
                return Float(n)   // the values are float32 written as float64: exact
            }
            guard shape.reduce(1, *) == data.count else {
                throw FixtureError("\(file): tensor '\(tensorName)' has shape \(shape) but \(data.count) values")
            }
            tensors[tensorName] = (shape, data)
        }
        self.meta = meta
        self.tensors = tensors
    }

    // MARK: Tensors

    /// The names of every tensor in the file, sorted.
    var tensorNames: [String] { tensors.keys.sorted() }

    /// Whether the file holds a tensor called `name`.
    func has(_ name: String) -> Bool { tensors[name] != nil }

    /// The tensor called `name`: its shape and row-major values.
    func tensor(_ name: String) throws -> (shape: [Int], data: [Float]) {
        guard let t = tensors[name] else {
            throw FixtureError("\(self.name): no tensor '\(name)' (has: \(tensorNames.joined(separator: ", ")))")
        }
        return t
    }

    /// The values of tensor `name`.
    func data(_ name: String) throws -> [Float] { try tensor(name).data }

    /// Tensor `name` uploaded to `backend` with its fixture shape.
    func upload(_ name: String, on backend: any Backend) throws -> Tensor {
        let t = try tensor(name)
        return try Tensor(shape: t.shape, values: t.data, on: backend)
    }

    /// Every tensor whose name starts with `prefix`, keyed by the rest of the name
    /// (`initial.rnn.weight_ih_l0` → `rnn.weight_ih_l0` for prefix `initial.`): a state dict.
    func stateDict(prefix: String) throws -> [String: HostTensor] {
        var result: [String: HostTensor] = [:]
        for (name, t) in tensors where name.hasPrefix(prefix) {
            result[String(name.dropFirst(prefix.count))] = try HostTensor(shape: t.shape, values: t.data)
        }
        return result
    }

    /// Tensor `name` with its shape.
    func host(_ name: String) throws -> HostTensor {
        let t = try tensor(name)
        return try HostTensor(shape: t.shape, values: t.data)
    }

    // MARK: Meta

    /// `meta[key]` as an integer.
    func int(_ key: String) throws -> Int {
        guard let n = Fixture.number(meta[key] as Any), n == n.rounded() else { throw missingMeta(key, "an integer") }
        return Int(n)
    }

    /// `meta[key]` as a number.
    func double(_ key: String) throws -> Double {
        guard let n = Fixture.number(meta[key] as Any) else { throw missingMeta(key, "a number") }
        return n
    }

    /// `meta[key]` as a Float (hyperparameters).
    func float(_ key: String) throws -> Float { Float(try double(key)) }

    /// `meta[key]` as a list of numbers.
    func doubles(_ key: String) throws -> [Double] {
        guard let list = meta[key] as? [Any] else { throw missingMeta(key, "a list of numbers") }
        return try list.map { v in
            guard let n = Fixture.number(v) else { throw missingMeta(key, "a list of numbers") }
            return n
        }
    }

    /// `meta[key]` as a string.
    func string(_ key: String) throws -> String {
        guard let s = meta[key] as? String else { throw missingMeta(key, "a string") }
        return s
    }

    /// `meta[key]` as a boolean.
    func bool(_ key: String) throws -> Bool {
        if let b = meta[key] as? Bool { return b }
        if let n = meta[key] as? NSNumber { return n.boolValue }
        throw missingMeta(key, "a boolean")
    }

    private func missingMeta(_ key: String, _ expected: String) -> FixtureError {
        FixtureError("\(name): meta '\(key)' is missing or not \(expected) (got \(meta[key].map { "\($0)" } ?? "nothing"))")
    }

    /// A JSON number (JSONSerialization gives NSNumber, or a Swift number) as a Double.
    private static func number(_ value: Any) -> Double? {
        switch value {
        case let d as Double: return d
        case let i as Int: return Double(i)
        case let n as NSNumber: return n.doubleValue
        default: return nil
        }
    }
}
