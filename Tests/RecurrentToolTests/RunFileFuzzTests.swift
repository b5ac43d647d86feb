// Seeded fuzzing of the run directory's JSON files: 10,000 mutated model.json files through
// `recurrent sample` (text models) and what `train --resume` loads (CSV models: the description,
// the model it builds, the checkpoint it restores), and 10,000 mutated history.json files through
// the reader `--resume` uses; a few of each also through a whole in-process `train --resume`.
import Foundation
import RecurrentKit
import Testing
@testable import RecurrentTool

/// Edits of a parsed JSON document: a key removed, a value replaced by one of another type or
/// range, a number scaled or negated.
struct JSONMutator {
    var bytes: Mutator

    init(seed: UInt64) {
        bytes = Mutator(seed: seed, tokens: ["{", "}", "[", "]", "\"", ":", ",", "null", "true", "-1", "0", "1.5", "1e400", "-0",
                                             "99999999999999999999", "\"x\"", "[]", "{}", "\\u0000", "\\ud800", "8888"])
    }

    static var replacements: [Any] { [NSNull(), true, false, -1, 0, 1, 2, 1.5, -0.25, 1e300, 2_147_483_648, Int.max, "", "x", "lstm",
                                      "csv", "text", [Any](), [String: Any](), [1, 2], ["a"], ["zscore": 1]] }

    /// `value` with one edit somewhere inside it; nil: remove it.
    mutating func edit(_ value: Any, top: Bool = false) -> Any? {
        if let object = value as? [String: Any], !object.isEmpty, top || bytes.next(4) != 0 {
            var o = object
            let keys = o.keys.sorted(), key = keys[bytes.next(keys.count)]
            if let replaced = edit(o[key]!) { o[key] = replaced } else { o.removeValue(forKey: key) }
            return o
        }
        if let array = value as? [Any], !array.isEmpty, top || bytes.next(4) != 0 {
            var a = array
            let i = bytes.next(a.count)
            if let replaced = edit(a[i]) { a[i] = replaced } else { a.remove(at: i) }
            return a
        }
        switch bytes.next(5) {
        case 0: return nil
        case 1 where value is NSNumber && !(value is Bool):
            let d = (value as! NSNumber).doubleValue
            let scaled = [d * 1000, -d, d + 1, d - 1, d / 3][bytes.next(5)]
            return scaled.isFinite ? scaled : 1e308
        default: return Self.replacements[bytes.next(Self.replacements.count)]
        }
    }

    /// One edit of the document (one to three in a third of the rounds), or byte-level edits of
    /// its text (one round in three).
    mutating func mutate(_ document: Data) -> Data {
        guard bytes.next(3) != 0, var tree = try? JSONSerialization.jsonObject(with: document) else {
            return Data(bytes.mutate(Array(document)))
        }
        for _ in 0...(bytes.next(3) == 0 ? bytes.next(3) : 0) { tree = edit(tree, top: bytes.next(8) != 0) ?? NSNull() }
        return (try? JSONSerialization.data(withJSONObject: tree, options: [.fragmentsAllowed, .sortedKeys, .prettyPrinted])) ?? document
    }
}

@Suite struct RunFileFuzzTests {
    /// Trains a tiny model of `kind` for one epoch into a fresh directory (model.json, checkpoint, history.json).
    static func trainedRun(_ kind: SavedModel.Kind) throws -> URL {
        let directory = try freshDirectory()
        let data = directory.appendingPathComponent(kind == .csv ? "data.csv" : "corpus.txt")
        let contents = kind == .csv
            ? "t,a,b\n" + (0..<60).map { "\($0),\(sin(Double($0) * 0.3)),\(Double($0 % 5))" }.joined(separator: "\n")
            : String(repeating: "the cat sat on the mat.\n", count: 12)
        try contents.write(to: data, atomically: true, encoding: .utf8)
        let sizes = kind == .csv ? ["--window", "5", "--hidden-size", "4"] : ["--window", "8", "--hidden-size", "6", "--embedding-size", "3"]
        try runTool(["train", kind == .csv ? "--csv" : "--text", data.path, "--epochs", "1", "--batch-size", "8", "--device", "cpu",
                     "--output", directory.appendingPathComponent("run").path] + sizes)
        return directory
    }

    /// Roughly the weights `saved` describes: the fuzzing builds only small models.
    static func weights(_ saved: SavedModel) -> Double {
        let h = Double(saved.hiddenSize)
        return Double(saved.layers) * 4 * h * (max(Double(saved.inputSize), h) + h) + Double(saved.outputSize) * (h + Double(saved.inputSize))
    }

    /// An error of reading run files: it names `file` (or the checkpoint beside it), and a field or
    /// line where the file's contents are at fault.
    static func checkRefusal(_ error: any Error, file: String, round: Int, tally: inout FuzzTally) {
        let message = "\(error)"
        let checkpoint = URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(SavedModel.checkpointFileName).path
        #expect(error is RecurrentError || error is UserFacingError, "round \(round): \(type(of: error)) \(message)")
        #expect(message.contains(file), "round \(round): \(message)")
        let located = ["field", "line ", "the top level"].contains { message.contains($0) }
        let wholeFile = message.contains(checkpoint + ": does not fit") || message.contains("describes a CSV forecasting model")
            || message.contains("--prime")
        #expect(located || wholeFile, "round \(round): \(message)")
        tally.refuse(message.hasPrefix(file) ? message : file + ": " + message, file: file, located: located)
    }

    /// 10,000 mutated model.json files: even rounds a text model's through `recurrent sample`, odd
    /// rounds a CSV model's through the reader `--resume` uses, the model it builds and the checkpoint.
    @Test(.timeLimit(.minutes(5)))
    func mutatedModelDescriptions() throws {
        let textRun = try Self.trainedRun(.text), csvRun = try Self.trainedRun(.csv)
        defer { for d in [textRun, csvRun] { try? FileManager.default.removeItem(at: d) } }
        let runs = [textRun.appendingPathComponent("run"), csvRun.appendingPathComponent("run")]
        let originals = try runs.map { try Data(contentsOf: $0.appendingPathComponent(SavedModel.fileName)) }
        let backend = try Device.named("cpu")
        let sample = try #require(try RecurrentCommand.parseAsRoot(["sample", "--model", runs[0].path, "--length", "4", "--prime", "the"]) as? Sample)
        var mutator = JSONMutator(seed: 18)
        let clock = ContinuousClock(), start = clock.now
        var tally = FuzzTally(), sampled = 0, restored = 0, large = 0
        for round in 0..<10_000 {
            let run = runs[round % 2], url = run.appendingPathComponent(SavedModel.fileName)
            let mutated = mutator.mutate(originals[round % 2])
            do {
                // What `sample` and `--resume` read first; large (but valid) descriptions are read,
                // not built: the memory check covers them.
                let saved = try SavedModel.decode(mutated, file: url.path)
                if Self.weights(saved) > 200_000 {
                    large += 1
                    tally.parsed += 1
                    continue
                }
                if round % 2 == 0 {
                    try mutated.write(to: url)
                    let result = try sample.generate(on: backend)
                    #expect(result.text.unicodeScalars.count == 4, "round \(round)")
                    sampled += 1
                } else {
                    let again = try SavedModel.decode(try JSONEncoder().encode(saved), file: url.path)
                    #expect(again == saved, "round \(round): does not read back as it was written")
                    _ = try saved.trainedModel(in: try RunDirectory(run.path), on: backend)
                    restored += 1
                }
                tally.parsed += 1
            } catch {
                Self.checkRefusal(error, file: url.path, round: round, tally: &tally)
            }
        }
        print(tally.summary("model.json", since: start) + "\n    \(sampled) sampled from, \(restored) restored from the checkpoint, \(large) large ones read only")
        #expect(tally.parsed + tally.refused == 10_000)
        #expect(tally.refused > 3000 && sampled + restored > 300, "\(tally.summary("model.json", since: start))")
    }

    /// 10,000 mutated history.json files through the reader `--resume` uses.
    @Test(.timeLimit(.minutes(5)))
    func mutatedHistories() throws {
        let records = (1...12).map { EpochRecord(epoch: $0, trainLoss: 1 / Float($0), validationLoss: $0 % 3 == 0 ? nil : 1.5 / Float($0),
                                                 learningRate: 0.003, seconds: 0.25 * Double($0)) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let original = try encoder.encode(records)
        #expect(try EpochRecord.decodeHistory(original, file: "h") == records)
        var mutator = JSONMutator(seed: 19)
        let clock = ContinuousClock(), start = clock.now
        var tally = FuzzTally()
        for round in 0..<10_000 {
            let file = "/runs/fuzz-\(round)/history.json"
            do {
                let history = try EpochRecord.decodeHistory(mutator.mutate(original), file: file)
                #expect(zip(history, history.dropFirst()).allSatisfy { $0.epoch < $1.epoch }, "round \(round)")
                #expect(history.allSatisfy { $0.trainLoss.isFinite && $0.seconds >= 0 }, "round \(round)")
                tally.parsed += 1
            } catch {
                Self.checkRefusal(error, file: file, round: round, tally: &tally)
            }
        }
        print(tally.summary("history.json", since: start))
        #expect(tally.parsed + tally.refused == 10_000)
        #expect(tally.parsed > 500 && tally.refused > 3000, "\(tally.summary("history.json", since: start))")
    }

    /// A few mutated model.json and history.json files through a whole `recurrent train --resume`
    /// (in-process): each resumes or stops with an error naming the file.
    @Test func resumingFromMutatedRunFiles() throws {
        let textRun = try Self.trainedRun(.text)
        defer { try? FileManager.default.removeItem(at: textRun) }
        let run = textRun.appendingPathComponent("run")
        let names = [SavedModel.fileName, SavedModel.historyFileName, SavedModel.checkpointFileName]
        let originals = try names.map { try Data(contentsOf: run.appendingPathComponent($0)) }
        var mutator = JSONMutator(seed: 20)
        var resumed = 0, refused = 0
        for round in 0..<16 {
            for (name, data) in zip(names, originals) { try data.write(to: run.appendingPathComponent(name)) }
            let name = names[round % 2], url = run.appendingPathComponent(name)
            try mutator.mutate(originals[round % 2]).write(to: url)
            do {
                try runTool(["train", "--text", textRun.appendingPathComponent("corpus.txt").path, "--resume", "--epochs", "2",
                             "--window", "8", "--hidden-size", "6", "--embedding-size", "3", "--batch-size", "8", "--device", "cpu",
                             "--output", run.path])
                resumed += 1
            } catch {
                refused += 1
                let message = RecurrentCommand.message(for: error)
                #expect(message.contains(name) || message.contains(SavedModel.checkpointFileName), "round \(round): \(message)")
            }
        }
        print("train --resume: 16 mutated run files, \(resumed) resumed, \(refused) refused")
        #expect(resumed + refused == 16 && refused > 0)
    }
}
