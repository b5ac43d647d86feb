// Text for `recurrent train --text` and `recurrent sample`: a vocabulary of Unicode scalars
// (not grapheme clusters: a scalar sequence always decodes back to the same scalars, so
// lengths and vocabularies stay consistent), windows with next-character targets.
import ArgumentParser
import Foundation
import RecurrentKit

/// A character vocabulary: the sorted distinct Unicode scalars of a text, each with its index.
struct TextCorpus: Equatable {
    /// Sorted by scalar value.
    let vocabulary: [Unicode.Scalar]
    private let indices: [Unicode.Scalar: Int]

    /// The vocabulary of `text`.
    init(text: String) {
        self.init(vocabulary: Array(Set(text.unicodeScalars)).sorted { $0.value < $1.value })
    }

    /// A vocabulary as given (sorted and free of duplicates, as `init(text:)` makes it).
    init(vocabulary: [Unicode.Scalar]) {
        self.vocabulary = vocabulary
        indices = Dictionary(vocabulary.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { a, _ in a })
    }

    /// A vocabulary saved as strings of one scalar each (`model.json`).
    init(saved: [String], source: String) throws {
        var scalars: [Unicode.Scalar] = []
        for entry in saved {
            guard entry.unicodeScalars.count == 1, let s = entry.unicodeScalars.first else {
                throw RecurrentError.file(path: source, reason: "vocabulary entry \(entry.debugDescription): expected one character")
            }
            scalars.append(s)
        }
        self.init(vocabulary: scalars)
    }

    /// The vocabulary as strings of one scalar each, for `model.json`.
    var saved: [String] { vocabulary.map { String(Character($0)) } }

    var count: Int { vocabulary.count }

    static func == (a: TextCorpus, b: TextCorpus) -> Bool { a.vocabulary == b.vocabulary }

    /// The index of every scalar of `text`; the error lists the characters outside the vocabulary.
    func encode(_ text: String, what: String, vocabularyName: String = "the model's vocabulary") throws -> [Int] {
        var result: [Int] = []
        result.reserveCapacity(text.unicodeScalars.count)
        var unknown: [Unicode.Scalar] = []
        var line = 1, firstUnknownLine = 0
        for s in text.unicodeScalars {
            if let i = indices[s] {
                result.append(i)
            } else if !unknown.contains(s) {
                unknown.append(s)
                if firstUnknownLine == 0 { firstUnknownLine = line }
            }
            if s == "\n" { line += 1 }
        }
        guard unknown.isEmpty else {
            throw UserFacingError(description: "\(what) has \(unknown.count) character\(unknown.count == 1 ? "" : "s") outside \(vocabularyName)"
                                  + (line > 1 ? " (the first on line \(firstUnknownLine))" : "") + ": "
                                  + Self.describe(unknown) + "; the vocabulary is " + Self.describe(vocabulary))
        }
        return result
    }

    /// The text of `indices`.
    func decode<S: Sequence>(_ indices: S) -> String where S.Element == Int {
        var s = String.UnicodeScalarView()
        for i in indices { s.append(vocabulary[i]) }
        return String(s)
    }

    /// Characters as quoted Swift literals (`"a", "\n", "é"`), for messages.
    static func describe(_ scalars: [Unicode.Scalar]) -> String {
        scalars.map { String(Character($0)).debugDescription }.joined(separator: ", ")
    }

    /// Reads a UTF-8 text file.
    static func read(path: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw RecurrentError.file(path: path, reason: "no such file (expected a UTF-8 text file)")
        }
        guard !isDirectory.boolValue else { throw RecurrentError.file(path: path, reason: "is a directory, not a text file") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RecurrentError.file(path: path, reason: "cannot be read")
        }
        return try text(of: data, source: path)
    }

    /// The text of a file's bytes (UTF-8, not empty).
    static func text(of data: Data, source: String) throws -> String {
        guard let text = String(data: data, encoding: .utf8) else {
            throw RecurrentError.file(path: source, reason: "is not UTF-8 text: \(invalidUTF8(in: data))")
        }
        guard !text.isEmpty else { throw RecurrentError.file(path: source, reason: "is empty") }
        return text
    }

    /// Where `data` stops being UTF-8, for messages: "line 3, byte 41 (0xff) is not valid UTF-8".
    static func invalidUTF8(in data: Data) -> String {
        var parser = Unicode.UTF8.ForwardParser()
        var bytes = data.makeIterator()
        var offset = 0, line = 1
        while true {
            switch parser.parseScalar(from: &bytes) {
            case .valid(let encoded):
                if encoded.count == 1, encoded.first == UInt8(ascii: "\n") { line += 1 }
                offset += encoded.count
            case .error(let length):
                let byte = data[data.startIndex + offset]
                return "line \(line), byte \(offset + 1) (0x\(String(byte, radix: 16))\(length > 1 ? " and \(length - 1) more" : "")) is not valid UTF-8"
            case .emptyInput:
                return "not valid UTF-8"
            }
        }
    }
}

/// Training and validation windows of an encoded text: the first part of the text trains, the
/// last `validationFraction` validates (no window crosses the boundary). A window is `window`
/// characters of input, its targets the same characters shifted by one.
struct TextWindows {
    let window: Int, stride: Int
    let trainCharacters: Int, validationCharacters: Int

    /// Checks that both parts of `count` characters hold at least one window.
    init(count: Int, window: Int, stride: Int, validationFraction: Double, source: String) throws {
        guard window >= 1 else { throw UserFacingError(description: "expected --window ≥ 1, got \(window)") }
        guard stride >= 1 else { throw UserFacingError(description: "expected --stride ≥ 1, got \(stride)") }
        guard validationFraction > 0, validationFraction < 1 else {
            throw UserFacingError(description: "expected --validation-fraction between 0 and 1 (exclusive), got \(validationFraction)")
        }
        let validation = Int((Double(count) * validationFraction).rounded())
        guard validation >= window + 1, count - validation >= window + 1 else {
            let needed = Int((Double(window + 1) / min(validationFraction, 1 - validationFraction)).rounded(.up))
            throw RecurrentError.file(path: source, reason:
                "\(count) characters is too short for --window \(window) with --validation-fraction \(validationFraction): "
                + "the training part has \(count - validation) and the validation part \(validation), and each needs at least "
                + "\(window + 1) (a window and the character after it); use a text of about \(needed)+ characters or a smaller --window")
        }
        self.window = window
        self.stride = stride
        validationCharacters = validation
        trainCharacters = count - validation
    }

    /// Windows of `indices` (the encoded text): inputs (N, window, 1) holding character indices,
    /// targets (N, window) the next character's index at every step.
    func datasets(_ indices: [Int]) throws -> (train: SequenceDataset, validation: SequenceDataset) {
        (try make(indices[0..<trainCharacters]), try make(indices[trainCharacters...]))
    }

    private func make(_ part: ArraySlice<Int>) throws -> SequenceDataset {
        let starts = Array(Swift.stride(from: part.startIndex, through: part.endIndex - window - 1, by: stride))
        try HostMemory.check(bytes: HostMemory.product([starts.count, window, 2 * MemoryLayout<Float>.stride]),
                             for: "\(starts.count) text windows of \(window) characters")
        var x: [Float] = [], y: [Float] = []
        x.reserveCapacity(starts.count * window)
        y.reserveCapacity(starts.count * window)
        for s in starts {
            for i in s..<(s + window) {
                x.append(Float(part[i]))
                y.append(Float(part[i + 1]))
            }
        }
        return try SequenceDataset(inputs: x, targets: y, count: starts.count, sequenceLength: window, featureCount: 1,
                                   targetLayout: .perStep([]))
    }
}

/// Turns the (T, B, 1) index batches of a one-feature dataset into the (T, B) indices
/// `Embedding` takes. No parameters; indices have no gradient.
final class TokenIndices: Layer {
    var isTraining = true
    var namedParameters: [(name: String, parameter: Parameter)] { [] }

    func forward(_ input: LayerValue, tape: Tape?) throws -> LayerValue {
        let data = input.data
        guard data.rank == 3 || data.rank == 2, data.rank == 2 || data.shape[2] == 1 else {
            throw RecurrentError.shapeMismatch(operation: "TokenIndices", expected: "indices (T, B, 1) or (T, B)", got: "shape \(data.shape)")
        }
        return try input.replacingData(data.rank == 2 ? data : data.reshaped(Array(data.shape.prefix(2))))
    }
}
