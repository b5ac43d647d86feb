// Seeded fuzzing of what `recurrent` reads from the user: CSV files and text corpora (through
// `train`'s parsers and its preparation of windows), model.json (through `sample`) and
// history.json (through `train --resume`). Every mutated file ends in a valid parse or in an
// error that names the file, and the line or field where there is one; none crashes or hangs.
import Foundation
import RecurrentKit
import Testing
@testable import RecurrentTool

/// Seeded edits of a file's bytes: flips, insertions of tokens that matter to the format,
/// deletions, duplications, truncations, swapped lines and raw (often invalid UTF-8) bytes.
struct Mutator {
    private var random: PhiloxStream
    /// Pieces that matter to the format being fuzzed, inserted or written over the bytes.
    let tokens: [[UInt8]]

    init(seed: UInt64, tokens: [String]) {
        random = PhiloxStream(seed: seed, stream: 0)
        self.tokens = tokens.map { Array($0.utf8) }
    }

    /// A number in 0 ..< n (n ≥ 1).
    mutating func next(_ n: Int) -> Int { Int((UInt64(random.nextWord()) * UInt64(n)) >> 32) }

    /// 1 to 4 edits of `original`.
    mutating func mutate(_ original: [UInt8]) -> [UInt8] {
        var bytes = original
        for _ in 0...next(4) {
            let at = next(bytes.count + 1)
            switch next(9) {
            case 0 where !bytes.isEmpty:   // flip bits of a byte
                bytes[min(at, bytes.count - 1)] ^= UInt8(1 + next(255))
            case 1, 2:                     // insert a token
                bytes.insert(contentsOf: tokens[next(tokens.count)], at: at)
            case 3 where at < bytes.count: // write a token over the bytes
                let token = tokens[next(tokens.count)]
                bytes.replaceSubrange(at..<min(bytes.count, at + token.count), with: token)
            case 4:                        // delete a range
                bytes.removeSubrange(at..<min(bytes.count, at + 1 + next(16)))
            case 5:                        // duplicate a range
                let piece = bytes[at..<min(bytes.count, at + 1 + next(64))]
                bytes.insert(contentsOf: piece, at: min(bytes.count, at + next(64)))
            case 6:                        // truncate
                bytes.removeSubrange(at...)
            case 7:                        // swap two lines
                var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
                if lines.count > 2 { lines.swapAt(next(lines.count), next(lines.count)) }
                bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
            default:                       // raw bytes
                bytes.insert(contentsOf: (0...next(3)).map { _ in UInt8(next(256)) }, at: at)
            }
        }
        return bytes
    }
}

/// Tallies of a fuzzing run's outcomes, printed at the end.
struct FuzzTally {
    var parsed = 0, refused = 0
    var reasons: [String: Int] = [:]

    /// Files the error named a line or a field of.
    var located = 0

    mutating func refuse(_ message: String, file: String, located isLocated: Bool) {
        refused += 1
        if isLocated { located += 1 }
        // The reason without numbers and quoted text, so alike errors count together.
        let reason = message.dropFirst(file.count + 2).replacing(/"[^"]*"|\d+(\.\d+)?(e[+-]?\d+)?/, with: "…")
        reasons[String(reason.prefix(70)), default: 0] += 1
    }

    func summary(_ what: String, since start: ContinuousClock.Instant) -> String {
        let top = reasons.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.prefix(6)
            .map { "\($0.value)× \($0.key)" }.joined(separator: "\n    ")
        return "\(what): \(parsed + refused) mutated files in \(ContinuousClock.now - start): \(parsed) parsed, \(refused) refused "
            + "(\(located) naming a line or field); the commonest refusals:\n    \(top)"
    }
}

/// The line numbers an error message names ("line 12", "line 3, column 2") are lines of the file.
private func namedLines(_ message: String) -> [Int] {
    message.matches(of: /line (\d+)/).compactMap { Int($0.output.1) }
}

@Suite struct InputFuzzTests {
    static let csvTokens = [",", "\"", "\"\"", "\n", "\r\n", "\r", " ", "-", ".", "e", "E+", "1e308", "-1e308", "1e-320", "1e400",
                            "nan", "inf", "-inf", "0x1p3", "\u{FEFF}", "é", "\0", "\t", "9", "00", ",,", "\n\n", "a"]

    /// A header and 30 rows of 3 columns, some quoted, with a blank line, CRLF endings and a byte-order mark.
    static let csvSeeds: [String] = [
        "time,temp,load\n" + (0..<30).map { "\($0),\(20 + Double($0 % 7) * 0.25),\(Double($0 * $0) / 100)" }.joined(separator: "\n") + "\n",
        "\u{FEFF}\"a\",\"b, c\",d\r\n" + (0..<30).map { "\"\($0)\", \(-Double($0) * 1.5e3) ,\($0 % 2)" }.joined(separator: "\r\n"),
        "x\n" + (0..<30).map { i in i == 15 ? "\n3.5" : "\(Double(i).squareRoot())" }.joined(separator: "\n"),
    ]

    /// 10,000 mutated CSV files through `train --csv`'s parser and its windows, scaling and datasets.
    @Test(.timeLimit(.minutes(5)))
    func mutatedCSVFiles() throws {
        var mutator = Mutator(seed: 16, tokens: Self.csvTokens)
        var tally = FuzzTally(), readable = 0
        let clock = ContinuousClock(), start = clock.now
        let methods = NormalizationMethod.allCases
        for round in 0..<10_000 {
            let file = "/data/fuzz-\(round).csv"
            let bytes = mutator.mutate(Array(Self.csvSeeds[round % Self.csvSeeds.count].utf8))
            // The parser counts "\n", "\r\n" and "\r" as line breaks: at most one line per \n or \r.
            let lineCount = 1 + bytes.count(where: { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") })
            do {
                var series = try CSVSeries(data: Data(bytes), source: file)
                readable += 1
                #expect(!series.columns.isEmpty && !series.rows.isEmpty)
                #expect(series.rows.allSatisfy { $0.count == series.columns.count && $0.allSatisfy(\.isFinite) }, "round \(round)")
                if round % 5 == 4 { series = try series.differenced() }
                let windows = try CSVWindows(series: series, window: 1 + round % 8, targetColumn: try series.columnIndex(named: nil),
                                             validationFraction: 0.2)
                let scaling = windows.fitNormalization(series, method: methods[round % methods.count])
                let (train, validation) = try windows.datasets(series, normalization: scaling)
                #expect(train.inputs.allSatisfy(\.isFinite) && validation.targets.allSatisfy(\.isFinite), "round \(round)")
                tally.parsed += 1
            } catch let error as RecurrentError {
                let message = error.description
                let lines = namedLines(message)
                #expect(message.hasPrefix(file + ": "), "round \(round): \(message)")
                #expect(lines.allSatisfy { (1...lineCount).contains($0) }, "round \(round): \(message) (the file has \(lineCount) lines)")
                // Every complaint about the file's contents says where, except those about the whole file.
                let wholeFile = ["is empty", "no data rows", "too short for --window", "too few rows", "needs at least 2 data rows"]
                let located = !lines.isEmpty || message.contains("data row") || message.contains("column ")
                #expect(located || wholeFile.contains { message.contains($0) }, "round \(round): \(message)")
                tally.refuse(message, file: file, located: located)
            }
        }
        print(tally.summary("CSV", since: start) + "\n    \(readable) read as tables (the rest of those refused by the windows, scaling or datasets)")
        #expect(tally.parsed + tally.refused == 10_000)
        #expect(tally.parsed > 1000 && tally.refused > 1000, "\(tally.summary("CSV", since: start))")
    }

    static let text = """
        It was the best of times, it was the worst of times, it was the age of wisdom,
        it was the age of foolishness — naïve and œuvre, 10 × 20 = 200; "quoted" text\t(tab).
        """ + "\n" + String(repeating: "the quick brown fox jumps over the lazy dog.\n", count: 10)

    /// 10,000 mutated corpora through `train --text`'s reader, vocabulary, windows and datasets; every
    /// fourth as a resumed run's, whose vocabulary is the original text's.
    @Test(.timeLimit(.minutes(5)))
    func mutatedTextCorpora() throws {
        var mutator = Mutator(seed: 17, tokens: ["\n", "\r\n", "\u{FEFF}", "é", "e\u{301}", "🦊", "\0", "\u{FFFD}", "\u{10FFFF}", "\t", " ", "z"])
        var tally = FuzzTally(), readable = 0
        let clock = ContinuousClock(), start = clock.now
        let saved = TextCorpus(text: Self.text)
        for round in 0..<10_000 {
            let file = "/data/fuzz-\(round).txt"
            let bytes = round % 7 == 6 ? Array(mutator.mutate(Array(Self.text.utf8)).prefix(mutator.next(40)))
                                       : mutator.mutate(Array(Self.text.utf8))
            let lineCount = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).count
            do {
                let content = try TextCorpus.text(of: Data(bytes), source: file)
                let resumed = round % 4 == 3
                let corpus = resumed ? saved : TextCorpus(text: content)
                let encoded = try corpus.encode(content, what: resumed ? "--resume: \(file)" : file)
                readable += 1
                #expect(corpus.decode(encoded) == content, "round \(round)")
                let window = 1 + round % 40
                let windows = try TextWindows(count: encoded.count, window: window, stride: round % 5 == 0 ? 1 + window / 3 : window,
                                              validationFraction: 0.1, source: file)
                let (train, validation) = try windows.datasets(encoded)
                #expect(train.count >= 1 && validation.count >= 1)
                #expect(train.inputs.allSatisfy { $0 >= 0 && Int($0) < corpus.count }, "round \(round)")
                tally.parsed += 1
            } catch {
                let message = "\(error)"
                #expect(error is RecurrentError || error is UserFacingError, "round \(round): \(type(of: error)) \(message)")
                #expect(message.contains(file), "round \(round): \(message)")
                let lines = namedLines(message)
                #expect(lines.allSatisfy { (1...lineCount).contains($0) }, "round \(round): \(message) (the file has \(lineCount) lines)")
                let located = !lines.isEmpty
                // Outside the vocabulary and not UTF-8 name the line; being empty or short concerns the whole file.
                #expect(located || message.contains("is empty") || message.contains("too short") || lineCount == 1, "round \(round): \(message)")
                tally.refuse(message.hasPrefix("--resume: ") ? String(message.dropFirst(10)) : message, file: file, located: located)
            }
        }
        print(tally.summary("text", since: start) + "\n    \(readable) read and encoded (the rest of those refused by the windows)")
        #expect(tally.parsed + tally.refused == 10_000)
        #expect(tally.parsed > 1000 && tally.refused > 1000, "\(tally.summary("text", since: start))")
    }
}
