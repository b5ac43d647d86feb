// Reading the run directory's JSON files (model.json, history.json) field by field, so that every
// error names the file and the line and column (bad syntax) or the field (a missing key, a value
// of the wrong type or out of range): `model.json: field training.batchSize: expected a whole
// number ≥ 1, got -3`.
import Foundation
import RecurrentKit

/// One JSON object of a file, read with checks; `path` is where it sits in the file
/// (`training`, `normalization.scale[2]`), for messages.
struct JSONFields {
    /// The file, for messages.
    let file: String
    /// The object's place in the file: "" for the top level.
    let path: String
    private let object: [String: Any]

    /// The top-level value of `data` (objects as `[String: Any]`, arrays as `[Any]`, numbers and
    /// booleans as `NSNumber`, null as `NSNull`); a syntax error names the line and column.
    ///
    /// JSONSerialization on Linux may read a Double one unit in the last place away from what
    /// `JSONEncoder` wrote: fine for checks, but values that must be exact are taken from
    /// `JSONDecoder` once the checks pass (see `SavedModel.decode`).
    static func parse(_ data: Data, file: String) throws -> Any {
        do {
            return try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            let detail = ((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String) ?? "\(error)"
            throw RecurrentError.file(path: file, reason: "not valid JSON: " + locate(detail, in: data))
        }
    }

    /// The top-level object of `data`.
    static func object(_ data: Data, file: String) throws -> JSONFields {
        try JSONFields(value: parse(data, file: file), file: file, path: "")
    }

    /// `value` as an object at `path`.
    init(value: Any, file: String, path: String) throws {
        guard let object = value as? [String: Any] else {
            throw RecurrentError.file(path: file, reason: "\(path.isEmpty ? "the top level" : "field \(path)"): "
                                      + "expected an object, got \(Self.describe(value))")
        }
        self.file = file
        self.path = path
        self.object = object
    }

    /// The place of `key` inside this object, for messages.
    func place(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// An error about `key`: "field training.seed: expected …, got …".
    func failure(_ key: String, _ reason: String) -> RecurrentError {
        .file(path: file, reason: "field \(place(key)): \(reason)")
    }

    /// The value of `key`; nil when it is missing or null (JSON's absent optional).
    func optionalValue(_ key: String) -> Any? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        return value
    }

    func value(_ key: String, expected: String) throws -> Any {
        guard let value = optionalValue(key) else { throw failure(key, "missing (expected \(expected))") }
        return value
    }

    func string(_ key: String) throws -> String {
        let value = try value(key, expected: "a string")
        guard let s = value as? String else { throw failure(key, "expected a string, got \(Self.describe(value))") }
        return s
    }

    func optionalString(_ key: String) throws -> String? { optionalValue(key) == nil ? nil : try string(key) }

    /// A string that is one of `choices`.
    func choice(_ key: String, _ choices: [String]) throws -> String {
        let s = try string(key)
        guard choices.contains(s) else {
            throw failure(key, "expected one of \(choices.map { "\"\($0)\"" }.joined(separator: ", ")), got \"\(s)\"")
        }
        return s
    }

    func bool(_ key: String) throws -> Bool {
        let value = try value(key, expected: "true or false")
        guard let n = value as? NSNumber, Self.isBoolean(n) else { throw failure(key, "expected true or false, got \(Self.describe(value))") }
        return n.boolValue
    }

    func optionalBool(_ key: String) throws -> Bool? { optionalValue(key) == nil ? nil : try bool(key) }

    /// A whole number in `range`.
    func int(_ key: String, in range: ClosedRange<Int>) throws -> Int {
        let value = try value(key, expected: "a whole number")
        guard let i = Self.wholeNumber(value), range.contains(i) else {
            throw failure(key, "expected a whole number \(Self.describe(range)), got \(Self.describe(value))")
        }
        return i
    }

    func optionalInt(_ key: String, in range: ClosedRange<Int>) throws -> Int? { optionalValue(key) == nil ? nil : try int(key, in: range) }

    /// A whole number 0 … 2⁶⁴ − 1 (a seed).
    func uint64(_ key: String) throws -> UInt64 {
        let value = try value(key, expected: "a whole number")
        guard let n = value as? NSNumber, !Self.isBoolean(n), let u = value as? UInt64 else {
            throw failure(key, "expected a whole number from 0 to \(UInt64.max), got \(Self.describe(value))")
        }
        return u
    }

    /// A finite number that `accept` allows (`expected` says what it allows, for the message).
    func double(_ key: String, expected: String = "a finite number", _ accept: (Double) -> Bool = { _ in true }) throws -> Double {
        let value = try value(key, expected: expected)
        guard let d = Self.number(value), d.isFinite, accept(d) else { throw failure(key, "expected \(expected), got \(Self.describe(value))") }
        return d
    }

    func optionalDouble(_ key: String, expected: String = "a finite number", _ accept: (Double) -> Bool = { _ in true }) throws -> Double? {
        optionalValue(key) == nil ? nil : try double(key, expected: expected, accept)
    }

    /// A number that is finite as a 32-bit float.
    func float(_ key: String, expected: String = "a finite number", _ accept: (Float) -> Bool = { _ in true }) throws -> Float {
        Float(try double(key, expected: expected) { Float($0).isFinite && accept(Float($0)) })
    }

    func optionalFloat(_ key: String, expected: String = "a finite number", _ accept: (Float) -> Bool = { _ in true }) throws -> Float? {
        optionalValue(key) == nil ? nil : try float(key, expected: expected, accept)
    }

    /// An array of the values of `key`, each read by `element` (given its place and value).
    func array<T>(_ key: String, _ element: (String, Any) throws -> T) throws -> [T] {
        let value = try value(key, expected: "an array")
        guard let items = value as? [Any] else { throw failure(key, "expected an array, got \(Self.describe(value))") }
        return try items.enumerated().map { try element("\(place(key))[\($0.offset)]", $0.element) }
    }

    func optionalArray<T>(_ key: String, _ element: (String, Any) throws -> T) throws -> [T]? {
        optionalValue(key) == nil ? nil : try array(key, element)
    }

    /// An array of strings.
    func strings(_ key: String) throws -> [String] {
        try array(key) { place, item in
            guard let s = item as? String else { throw RecurrentError.file(path: file, reason: "field \(place): expected a string, got \(Self.describe(item))") }
            return s
        }
    }

    /// An array of finite numbers.
    func doubles(_ key: String) throws -> [Double] {
        try array(key) { place, item in
            guard let d = Self.number(item), d.isFinite else {
                throw RecurrentError.file(path: file, reason: "field \(place): expected a finite number, got \(Self.describe(item))")
            }
            return d
        }
    }

    /// The object at `key`.
    func object(_ key: String) throws -> JSONFields {
        try JSONFields(value: try value(key, expected: "an object"), file: file, path: place(key))
    }

    func optionalObject(_ key: String) throws -> JSONFields? { optionalValue(key) == nil ? nil : try object(key) }

    // MARK: - Values

    /// JSONSerialization gives booleans as NSNumbers of type `c` (char).
    static func isBoolean(_ n: NSNumber) -> Bool { String(cString: n.objCType) == "c" }

    /// A number (not a boolean) as a Double.
    static func number(_ value: Any) -> Double? {
        guard let n = value as? NSNumber, !isBoolean(n) else { return nil }
        return n.doubleValue
    }

    /// A whole number that fits an Int: an integer literal, or a number such as 8.0 or 1e3.
    static func wholeNumber(_ value: Any) -> Int? {
        guard let n = value as? NSNumber, !isBoolean(n) else { return nil }
        if let i = value as? Int { return i }
        let d = n.doubleValue
        guard d.isFinite, d.rounded() == d, abs(d) < 0x1p53 else { return nil }
        return Int(d)
    }

    /// A JSON value for messages: `"abc"`, `1.5`, `true`, `null`, `an array of 3`, `an object`.
    static func describe(_ value: Any) -> String {
        switch value {
        case is NSNull: return "null"
        case let s as String: return s.count > 40 ? "a string of \(s.count) characters" : s.debugDescription
        case let n as NSNumber: return isBoolean(n) ? (n.boolValue ? "true" : "false") : "\(n)"
        case let a as [Any]: return "an array of \(a.count)"
        case is [String: Any]: return "an object"
        default: return "\(value)"
        }
    }

    static func describe(_ range: ClosedRange<Int>) -> String {
        if range.upperBound == .max { return "≥ \(range.lowerBound)" }
        return "from \(range.lowerBound) to \(range.upperBound)"
    }

    /// JSONSerialization's "around character N" as a line and column of `data` (and of the
    /// number in "Number 1e400 is not representable").
    static func locate(_ detail: String, in data: Data) -> String {
        if let match = detail.firstMatch(of: /Number (\S+) is not representable/),
           let offset = data.firstRange(of: Data(match.output.1.utf8))?.lowerBound {
            return position(of: offset - data.startIndex, in: data) + ": " + detail
        }
        guard let range = detail.range(of: #"character (\d+)"#, options: .regularExpression),
              let offset = Int(detail[range].dropFirst("character ".count)) else {
            let lines = data.reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
            return detail.contains("end of file") ? "line \(lines), at the end: \(detail)" : detail
        }
        return position(of: offset, in: data) + ": " + detail.replacingCharacters(in: range, with: "byte \(offset)")
    }

    /// "line L, column C" of the byte at `offset`.
    static func position(of offset: Int, in data: Data) -> String {
        let prefix = data.prefix(max(0, min(offset, data.count)))
        let line = prefix.reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
        let column = prefix.count - (prefix.lastIndex(of: UInt8(ascii: "\n")).map { $0 - prefix.startIndex + 1 } ?? 0) + 1
        return "line \(line), column \(column)"
    }
}

