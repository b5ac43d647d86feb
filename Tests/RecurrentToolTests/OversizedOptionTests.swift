import Foundation
import Testing

/// Every option that sizes memory, given an absurd value, ends the `recurrent` process with a
/// one-line error naming the option and exit status 1, never a signal (the tool runs as a child
/// process, as a user runs it).
@Suite struct OversizedOptionTests {
    /// The `recurrent` executable built beside the test bundle.
    static var tool: URL {
        get throws {
            var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            for _ in 0..<3 {
                let candidate = directory.appendingPathComponent("recurrent")
                if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
                directory.deleteLastPathComponent()
            }
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "recurrent beside \(CommandLine.arguments[0])"])
        }
    }

    /// Runs the tool with `arguments` in `directory`; returns its termination and standard error.
    static func run(_ arguments: [String], in directory: URL) throws -> (reason: Process.TerminationReason, status: Int32, error: String) {
        let process = Process()
        process.executableURL = try tool
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let errorPipe = Pipe()
        process.standardError = errorPipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let data = errorPipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationReason, process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static let huge = "1000000000000000"

    @Test(arguments: [
        (["train", "--csv", "data.csv", "--target", "b", "--hidden-size", "100000"], "--hidden-size"),
        (["train", "--csv", "data.csv", "--hidden-size", "\(Int.max)"], "--hidden-size"),
        (["train", "--csv", "data.csv", "--layers", "100000000"], "--layers"),
        (["train", "--csv", "data.csv", "--layers", "\(Int.max)"], "--layers"),
        (["train", "--csv", "data.csv", "--batch-size", huge], "--batch-size"),
        (["train", "--csv", "data.csv", "--window", huge], "--window"),
        (["train", "--text", "corpus.txt", "--window", huge], "--window"),
        (["train", "--text", "corpus.txt", "--hidden-size", huge], "--hidden-size"),
        (["train", "--text", "corpus.txt", "--batch-size", huge], "--batch-size"),
        (["train", "--text", "corpus.txt", "--embedding-size", huge], "--embedding-size"),
        (["sample", "--length", huge], "--length"),
        (["gradients", "--length", huge], "--length"),
        (["gradients", "--batch-size", huge], "--batch-size"),
        (["demo", "adding", "--length", huge], "--length"),
        (["demo", "sine", "--hidden-size", huge], "--hidden-size"),
        (["demo", "copy", "--layers", huge], "--layers"),
        (["demo", "seq2seq", "--samples", huge], "--samples"),
        (["demo", "seq2seq", "--max-length", huge], "--max-length"),
        (["demo", "seq2seq", "--hidden-size", huge], "--hidden-size"),
        (["demo", "seq2seq", "--embedding-size", huge], "--embedding-size"),
        (["gradients", "--hidden-size", huge], "--hidden-size"),
        (["gradients", "--layers", huge], "--layers"),
        (["lr-find", "adding", "--length", huge], "--length"),
        (["sweep", "adding", "--length", huge], "--length"),
        (["sweep", "adding", "--samples", huge], "--samples"),
    ])
    func absurdSizesAreOneLineErrors(arguments: [String], option: String) throws {
        try Self.expectOneLineError(arguments, naming: option)
    }

    /// A sweep refuses an absurd value in one of its lists before any trial trains: the good
    /// trials before it in the grid are not run (no results file is written), and the error
    /// names the option and the trial.
    @Test(arguments: [
        (["sweep", "adding", "--hidden-size", "8,\(huge)"], "--hidden-size"),
        (["sweep", "copy", "--layers", "1,\(Int.max)"], "--layers"),
        (["sweep", "--csv", "data.csv", "--batch-size", "16,\(huge)"], "--batch-size"),
        (["sweep", "--text", "corpus.txt", "--hidden-size", "8,\(huge)"], "--hidden-size"),
    ])
    func absurdSweepValuesAreRefusedBeforeAnyTrial(arguments: [String], option: String) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("recurrent-sweep-\(UUID().uuidString)")
        try Self.makeInputs(in: directory)
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("sweep")
        let result = try Self.run(arguments + ["--epochs", "1", "--samples", "40", "--output", output.path], in: directory)
        #expect(result.reason == .exit && result.status == 1, "ended with \(result.reason) \(result.status): \(result.error)")
        #expect(result.error.split(separator: "\n").count == 1, "expected one line, got: \(result.error)")
        // The trial is described with the absurd value whole ("hidden 1000000000000000").
        let value = arguments.last!.split(separator: ",").last!
        let word = option.dropFirst(2).replacingOccurrences(of: "-size", with: "")
        #expect(result.error.contains(option) && result.error.contains("sweep trial") && result.error.contains("\(word) \(value)"),
                "\(result.error)")
        #expect(!FileManager.default.fileExists(atPath: output.appendingPathComponent("sweep.json").path), "a trial ran before the refusal")
        #expect(!FileManager.default.fileExists(atPath: output.appendingPathComponent("trials").path), "a trial ran before the refusal")
    }

    /// Sizes that are no sizes (zero, negative, not a number) are refused by the option checks:
    /// one line too, without the usage summary, and exit status 1.
    @Test(arguments: [
        (["train", "--csv", "data.csv", "--hidden-size", "0"], "--hidden-size"),
        (["train", "--csv", "data.csv", "--layers", "-2"], "--layers"),
        (["train", "--csv", "data.csv", "--batch-size", "0"], "--batch-size"),
        (["train", "--csv", "data.csv", "--window", "0"], "--window"),
        (["train", "--text", "corpus.txt", "--window", "-1"], "--window"),
        (["train", "--csv", "data.csv", "--hidden-size", "lots"], "--hidden-size"),
        (["sample", "--length", "-5"], "--length"),
        (["gradients", "--length", "0"], "--length"),
        (["demo", "adding", "--length", "-3"], "--length"),
        (["demo", "sine", "--batch-size", "0"], "--batch-size"),
    ])
    func invalidSizesAreOneLineErrors(arguments: [String], option: String) throws {
        try Self.expectOneLineError(arguments, naming: option)
    }

    /// Makes `directory` with a small CSV file (data.csv: columns a, b; 40 rows) and text (corpus.txt).
    static func makeInputs(in directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let rows = (0..<40).map { "\($0),\(Double($0) * 0.5)" }
        try (["a,b"] + rows).joined(separator: "\n").write(to: directory.appendingPathComponent("data.csv"), atomically: true, encoding: .utf8)
        try String(repeating: "the quick brown fox jumps over the lazy dog. ", count: 20)
            .write(to: directory.appendingPathComponent("corpus.txt"), atomically: true, encoding: .utf8)
    }

    /// Runs `recurrent` with `arguments` (beside a small CSV file and text) and expects exit
    /// status 1 with one line on standard error that names `option`.
    static func expectOneLineError(_ arguments: [String], naming option: String) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("recurrent-sizes-\(UUID().uuidString)")
        try makeInputs(in: directory)
        defer { try? FileManager.default.removeItem(at: directory) }

        let output = arguments[0] == "train" ? ["--output", directory.appendingPathComponent("run").path] : []
        let result = try run(arguments + output, in: directory)
        #expect(result.reason == .exit, "ended by signal \(result.status): \(result.error)")
        #expect(result.status == 1, "exit status \(result.status): \(result.error)")
        let lines = result.error.split(separator: "\n")
        #expect(lines.count == 1, "expected one line, got: \(result.error)")
        #expect(result.error.contains(option), "\(result.error)")
    }
}
