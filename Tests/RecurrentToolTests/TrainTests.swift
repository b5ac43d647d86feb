// `recurrent train --csv/--text` and `recurrent sample` on tiny files: what they write, resuming,
// the normalisation, and the errors bad input gets.

import Foundation
import RecurrentKit
@testable import RecurrentTool
import Testing
import TestSupport
#if canImport(FoundationXML)
import FoundationXML
#endif

@Suite struct TrainTests {
    // MARK: - Helpers

    /// A fresh directory for one test's files.
    static func scratch() throws -> URL { try freshDirectory() }

    /// Writes `contents` to `name` in `directory`; returns the path.
    static func write(_ contents: String, _ name: String, in directory: URL) throws -> String {
        let url = directory.appendingPathComponent(name)
        try contents.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// A two-column series (a noisy-free sine and a slower cosine) of `rows` rows.
    static func seriesCSV(rows: Int) -> String {
        var lines = ["time,load,temp"]
        for i in 0..<rows {
            lines.append(String(format: "%d,%.4f,%.4f", i, cos(Double(i) * 0.1) * 3 + 10, sin(Double(i) * 0.5)))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static let device = ["--device", TestDevice.specification]
    static let tinyCSV = ["--window", "5", "--hidden-size", "4", "--batch-size", "8"] + device
    static let tinyText = ["--window", "8", "--hidden-size", "8", "--embedding-size", "4", "--batch-size", "8"] + device
    static let text = String(repeating: "the cat sat on the mat. a dog ate the hat!\n", count: 8)

    /// Parses and runs `recurrent` with `arguments`.
    static func run(_ arguments: [String]) throws { try runTool(arguments) }

    /// The message `recurrent` shows for the error `arguments` end in (nil: no error).
    static func failure(_ arguments: [String]) -> String? {
        do {
            try run(arguments)
            return nil
        } catch {
            return RecurrentCommand.message(for: error)
        }
    }

    static func savedModel(in directory: URL) throws -> SavedModel {
        try JSONDecoder().decode(SavedModel.self, from: Data(contentsOf: directory.appendingPathComponent("model.json")))
    }

    /// Restores the checkpoint into a fresh model built from model.json; returns the trainer.
    static func restoredTrainer(in directory: URL) throws -> Trainer {
        let saved = try savedModel(in: directory)
        let model = try saved.makeModel(on: TestDevice.backend, rng: RandomSource(seed: 99))
        let loss: any Loss = saved.kind == .csv ? MSELoss() : CrossEntropyLoss()
        let trainer = Trainer(model: model, loss: loss, optimizer: try Adam(model.parameters, learningRate: 0.01), on: TestDevice.backend)
        try trainer.loadCheckpoint(from: directory.appendingPathComponent("checkpoint.safetensors"))
        return trainer
    }

    static func isXML(_ url: URL) throws -> Bool {
        XMLParser(data: try Data(contentsOf: url)).parse()
    }

    static func history(in directory: URL) throws -> [EpochRecord] {
        try JSONDecoder().decode([EpochRecord].self, from: Data(contentsOf: directory.appendingPathComponent("history.json")))
    }

    // MARK: - CSV

    @Test func csvTrainingWritesModelCheckpointAndPlot() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = try Self.write(Self.seriesCSV(rows: 40), "series.csv", in: dir)
        let out = dir.appendingPathComponent("run")
        try Self.run(["train", "--csv", csv, "--epochs", "2", "--output", out.path] + Self.tinyCSV)

        let saved = try Self.savedModel(in: out)
        #expect(saved.kind == .csv)
        #expect(saved.columns == ["time", "load", "temp"])
        #expect(saved.target == "temp")   // the last column by default
        #expect(saved.window == 5 && saved.inputSize == 3 && saved.outputSize == 1 && saved.hiddenSize == 4 && saved.cell == "lstm")
        let z = try #require(saved.normalization)
        #expect(z.method == .zscore && z.offset.count == 3 && z.scale.count == 3)

        // The checkpoint loads into a model rebuilt from model.json, at the end of epoch 2.
        let trainer = try Self.restoredTrainer(in: out)
        #expect(trainer.completedEpochs == 2)
        let raw = try SafeTensors.read(contentsOf: out.appendingPathComponent("checkpoint.safetensors"))
        #expect(raw.tensors["model.fc.weight"]?.shape == [1, 4])

        #expect(try Self.isXML(out.appendingPathComponent("loss.svg")))
        #expect(try Self.history(in: out).map(\.epoch) == [1, 2])
    }

    @Test func earlyStoppingStopsAndKeepsTheBestEpoch() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = try Self.write(Self.seriesCSV(rows: 80), "series.csv", in: dir)
        let out = dir.appendingPathComponent("run")
        let command = try #require(try RecurrentCommand.parseAsRoot(
            ["train", "--csv", csv, "--epochs", "12", "--early-stopping", "0", "--learning-rate", "0.3", "--output", out.path] + Self.tinyCSV) as? Train)
        let outcome = try command.train()
        let losses = outcome.reports.compactMap(\.validationLoss)
        // At rate 0.3 some epoch fails to improve; with patience 0 training stops right after it.
        #expect(outcome.reports.count < 12 && losses.count == outcome.reports.count)
        #expect(losses.last! >= losses.dropLast().min()!)
        // The weights (and the loss reported) are the best epoch's again.
        #expect(outcome.validationLoss == losses.min()!)
        #expect(try Self.savedModel(in: out).training.earlyStopping == 0)
        #expect(Self.failure(["train", "--csv", csv, "--early-stopping=-1", "--output", out.path] + Self.tinyCSV)?
            .contains("--early-stopping ≥ 0") == true)
    }

    @Test func csvTargetOptionAndResult() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = try Self.write(Self.seriesCSV(rows: 40), "series.csv", in: dir)
        let out = dir.appendingPathComponent("run")
        let command = try #require(try RecurrentCommand.parseAsRoot(
            ["train", "--csv", csv, "--target", "load", "--epochs", "1", "--output", out.path, "--cell", "gru"] + Self.tinyCSV) as? Train)
        let outcome = try command.train()
        #expect(outcome.saved.target == "load" && outcome.saved.cell == "gru")
        #expect(outcome.completedEpochs == 1 && outcome.reports.count == 1)
        // RMSE in original units = √(normalised MSE) × the target column's training std.
        let rmse = try #require(outcome.rmse)
        let std = try #require(outcome.saved.normalization).scale[1]
        #expect(abs(rmse - Double(outcome.validationLoss).squareRoot() * std) < 1e-9)
    }

    /// The statistics come from the rows the training windows read (inputs and targets), never
    /// from the validation targets.
    @Test func normalizationUsesTrainingRowsOnly() throws {
        // 10 rows, window 2 → 8 windows; validation 0.25 → 2 (targets rows 8, 9), training 6
        // (rows 0…7). Rows 8 and 9 are far off: they must not move the statistics.
        var rows = (0..<8).map { i in [Double(i), 5.0] }
        rows += [[1000, 5], [2000, 5]]
        let series = CSVSeries(source: "t.csv", columns: ["x", "constant"], rows: rows)
        let windows = try CSVWindows(series: series, window: 2, targetColumn: 0, validationFraction: 0.25)
        #expect(windows.count == 8 && windows.trainCount == 6 && windows.validationCount == 2 && windows.trainingRows == 8)

        let z = windows.fitNormalization(series)
        let mean = 3.5
        let squares: [Double] = (0..<8).map { i in (Double(i) - mean) * (Double(i) - mean) }
        let std = (squares.reduce(0, +) / 8).squareRoot()
        #expect(abs(z.offset[0] - mean) < 1e-12 && abs(z.scale[0] - std) < 1e-12)
        #expect(z.offset[1] == 5 && z.scale[1] == 1)   // a constant column: std 0 → 1

        let (train, validation) = try windows.datasets(series, normalization: z)
        #expect(train.count == 6 && validation.count == 2 && train.featureCount == 2 && train.sequenceLength == 2)
        // Training window 0: rows 0, 1 → target row 2.
        #expect(abs(train.inputs[0] - Float((0 - mean) / std)) < 1e-6 && train.inputs[1] == 0)
        #expect(abs(train.targets[0] - Float((2 - mean) / std)) < 1e-6)
        // The last validation target is row 9, normalised with the training statistics.
        #expect(abs(validation.targets[1] - Float((2000 - mean) / std)) < 1e-3)
        #expect(abs(z.denormalize(validation.targets[1], column: 0) - 2000) < 1e-3)
    }

    @Test func csvParsingAcceptsQuotesBlankLinesAndCRLF() throws {
        let series = try CSVSeries(parsing: "\"a\", b\r\n1, \"2.5\"\r\n\r\n-3,4e2\r\n", source: "q.csv")
        #expect(series.columns == ["a", "b"])
        #expect(series.rows == [[1, 2.5], [-3, 400]])
    }

    // MARK: - Resume

    @Test func resumeContinuesToTheRequestedEpochs() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = try Self.write(Self.seriesCSV(rows: 40), "series.csv", in: dir)
        let out = dir.appendingPathComponent("run")
        try Self.run(["train", "--csv", csv, "--epochs", "1", "--output", out.path] + Self.tinyCSV)
        #expect(try Self.restoredTrainer(in: out).completedEpochs == 1)

        let command = try #require(try RecurrentCommand.parseAsRoot(
            ["train", "--csv", csv, "--epochs", "3", "--resume", "--output", out.path] + Self.tinyCSV) as? Train)
        let outcome = try command.train()
        #expect(outcome.completedEpochs == 3)
        #expect(outcome.reports.map(\.epoch) == [2, 3])
        #expect(try Self.restoredTrainer(in: out).completedEpochs == 3)
        #expect(try Self.history(in: out).map(\.epoch) == [1, 2, 3])
        #expect(try Self.isXML(out.appendingPathComponent("loss.svg")))
    }

    @Test func checkpointEveryStepsThenResume() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = try Self.write(Self.text, "corpus.txt", in: dir)
        let out = dir.appendingPathComponent("run")
        // 35 training windows of 8 → 5 batches of 8 per epoch; a checkpoint every 2 steps.
        try Self.run(["train", "--text", text, "--stride", "8", "--epochs", "1", "--checkpoint-every", "2", "--output", out.path] + Self.tinyText)
        try Self.run(["train", "--text", text, "--epochs", "2", "--resume", "--output", out.path] + Self.tinyText)
        let trainer = try Self.restoredTrainer(in: out)
        #expect(trainer.completedEpochs == 2 && trainer.batchesDoneInEpoch == 0)
    }

    @Test func resumeRefusesWhatDoesNotMatchOrIsMissing() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = try Self.write(Self.seriesCSV(rows: 40), "series.csv", in: dir)
        let out = dir.appendingPathComponent("run")
        try Self.run(["train", "--csv", csv, "--epochs", "1", "--output", out.path] + Self.tinyCSV)

        let mismatch = try #require(Self.failure(["train", "--csv", csv, "--epochs", "2", "--resume", "--output", out.path,
                                                  "--layers", "2"] + Self.tinyCSV))
        #expect(mismatch.contains("--layers 2 (saved: 1)"), "\(mismatch)")

        let otherKind = try #require(Self.failure(["train", "--text", csv, "--resume", "--output", out.path] + Self.device))
        #expect(otherKind.contains("csv model"), "\(otherKind)")

        let otherColumns = try Self.write("a,b\n" + (0..<40).map { "\($0),\($0)" }.joined(separator: "\n"), "other.csv", in: dir)
        let columns = try #require(Self.failure(["train", "--csv", otherColumns, "--resume", "--epochs", "2", "--output", out.path] + Self.tinyCSV))
        #expect(columns.contains("\"a\", \"b\"") && columns.contains("\"time\", \"load\", \"temp\""), "\(columns)")

        let empty = dir.appendingPathComponent("empty")
        let nothing = try #require(Self.failure(["train", "--csv", csv, "--resume", "--output", empty.path] + Self.tinyCSV))
        #expect(nothing.contains("nothing to resume") && nothing.contains(empty.appendingPathComponent("model.json").path), "\(nothing)")

        try FileManager.default.removeItem(at: out.appendingPathComponent("checkpoint.safetensors"))
        let noCheckpoint = try #require(Self.failure(["train", "--csv", csv, "--resume", "--output", out.path] + Self.tinyCSV))
        #expect(noCheckpoint.contains("nothing to resume") && noCheckpoint.contains("checkpoint.safetensors"), "\(noCheckpoint)")
    }

    // MARK: - Text and sampling

    @Test func textTrainingThenSampling() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = try Self.write(Self.text, "corpus.txt", in: dir)
        let out = dir.appendingPathComponent("run")
        try Self.run(["train", "--text", text, "--epochs", "1", "--output", out.path] + Self.tinyText)

        let saved = try Self.savedModel(in: out)
        let vocabulary = Set(Self.text.unicodeScalars).map { String(Character($0)) }.sorted()
        #expect(saved.kind == .text && saved.vocabulary == vocabulary && saved.outputSize == vocabulary.count)
        #expect(saved.embeddingSize == 4 && saved.inputSize == 4 && saved.window == 8)
        #expect(try Self.restoredTrainer(in: out).completedEpochs == 1)
        #expect(try Self.isXML(out.appendingPathComponent("loss.svg")))

        for (prime, temperature) in [("the ", "0.8"), (nil, "0")] {
            let arguments = ["sample", "--model", out.path, "--length", "40", "--temperature", temperature, "--seed", "3"]
                + (prime.map { ["--prime", $0] } ?? []) + Self.device
            let sample = try #require(try RecurrentCommand.parseAsRoot(arguments) as? Sample)
            let result = try sample.generate()
            #expect(result.text.unicodeScalars.count == 40)
            #expect(result.text.unicodeScalars.allSatisfy { vocabulary.contains(String(Character($0))) }, "\(result.text)")
            if let prime { #expect(result.prime == prime) } else { #expect(result.prime.unicodeScalars.count == 1) }
            // The same seed gives the same text.
            #expect(try sample.generate() == result)
            try Self.run(arguments)   // prints it
        }
    }

    @Test func samplingRefusesCSVModelsAndUnknownCharacters() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = try Self.write(Self.seriesCSV(rows: 30), "series.csv", in: dir)
        let csvRun = dir.appendingPathComponent("csv-run")
        try Self.run(["train", "--csv", csv, "--epochs", "1", "--output", csvRun.path] + Self.tinyCSV)
        let refused = try #require(Self.failure(["sample", "--model", csvRun.path] + Self.device))
        #expect(refused.contains("CSV forecasting model") && refused.contains("--text"), "\(refused)")

        let text = try Self.write(Self.text, "corpus.txt", in: dir)
        let textRun = dir.appendingPathComponent("text-run")
        try Self.run(["train", "--text", text, "--epochs", "1", "--output", textRun.path] + Self.tinyText)
        let unknown = try #require(Self.failure(["sample", "--model", textRun.path, "--prime", "the Zoo?"] + Self.device))
        let named = try #require(unknown.components(separatedBy: "; the vocabulary is").first)
        #expect(named.contains("2 characters") && named.contains("\"Z\", \"?\"") && !named.contains("\"o\""), "\(unknown)")

        let missing = dir.appendingPathComponent("no-such-run").path
        #expect(Self.failure(["sample", "--model", missing] + Self.device)?.contains(missing) == true)
    }

    @Test func drawFollowsTheTemperature() {
        let logits: [Float] = [0, 2, 1]
        #expect(Sample.draw(logits, temperature: 0, uniform: 0.99) == 1)
        // softmax([0, 2, 1]) ≈ [0.090, 0.665, 0.245]
        #expect(Sample.draw(logits, temperature: 1, uniform: 0.05) == 0)
        #expect(Sample.draw(logits, temperature: 1, uniform: 0.5) == 1)
        #expect(Sample.draw(logits, temperature: 1, uniform: 0.9) == 2)
    }

    // MARK: - Bad input

    @Test func exactlyOneDataSource() throws {
        let neither = try #require(Self.failure(["train"] + Self.device))
        #expect(neither.contains("exactly one of --csv") && neither.contains("neither"), "\(neither)")
        let both = try #require(Self.failure(["train", "--csv", "a.csv", "--text", "b.txt"] + Self.device))
        #expect(both.contains("exactly one of --csv") && both.contains("both"), "\(both)")
    }

    @Test func missingFileNamesThePath() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("absent.csv").path
        let message = try #require(Self.failure(["train", "--csv", path, "--output", dir.appendingPathComponent("run").path] + Self.device))
        #expect(message.contains(path) && message.contains("no such file"), "\(message)")
        let textPath = dir.appendingPathComponent("absent.txt").path
        let textMessage = try #require(Self.failure(["train", "--text", textPath, "--output", dir.appendingPathComponent("run").path] + Self.device))
        #expect(textMessage.contains(textPath), "\(textMessage)")
    }

    @Test func nonNumericCellNamesLineAndColumn() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        var lines = ["time,load,temp"] + (0..<10).map { "\($0),1.5,2.5" }
        lines[6] = "6,1.5,abc"   // line 7 of the file
        let path = try Self.write(lines.joined(separator: "\n"), "data.csv", in: dir)
        let message = try #require(Self.failure(["train", "--csv", path, "--output", dir.appendingPathComponent("run").path] + Self.device))
        #expect(message.contains("\(path): line 7, column 3 (\"temp\"): expected a number, got \"abc\""), "\(message)")

        lines[6] = "6,,2.5"
        let empty = try Self.write(lines.joined(separator: "\n"), "empty-cell.csv", in: dir)
        let emptyMessage = try #require(Self.failure(["train", "--csv", empty] + Self.device))
        #expect(emptyMessage.contains("line 7, column 2 (\"load\"): expected a number, got \"\""), "\(emptyMessage)")
    }

    @Test func raggedRowNamesTheLine() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        var lines = ["time,load,temp"] + (0..<10).map { "\($0),1.5,2.5" }
        lines[3] = "3,1.5"   // line 4
        let path = try Self.write(lines.joined(separator: "\n"), "ragged.csv", in: dir)
        let message = try #require(Self.failure(["train", "--csv", path] + Self.device))
        #expect(message.contains("line 4: expected 3 cells (\"time\", \"load\", \"temp\"), got 2"), "\(message)")
    }

    @Test func windowLongerThanTheSeries() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try Self.write(Self.seriesCSV(rows: 30), "short.csv", in: dir)
        let message = try #require(Self.failure(["train", "--csv", path, "--window", "50"] + Self.device))
        #expect(message.contains("30 data rows") && message.contains("--window 50"), "\(message)")
    }

    @Test func unknownTargetListsTheColumns() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try Self.write(Self.seriesCSV(rows: 30), "series.csv", in: dir)
        let message = try #require(Self.failure(["train", "--csv", path, "--target", "pressure"] + Self.device))
        #expect(message.contains("\"pressure\"") && message.contains("\"time\", \"load\", \"temp\""), "\(message)")
    }

    @Test func tooFewRowsForAValidationSplit() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try Self.write(Self.seriesCSV(rows: 7), "tiny.csv", in: dir)
        // 7 rows, window 5: 2 windows; 20% of 2 rounds to 0 for validation.
        let message = try #require(Self.failure(["train", "--csv", path, "--window", "5"] + Self.device))
        #expect(message.contains("too few rows for a validation split") && message.contains("7 data rows")
                && message.contains("--window 5"), "\(message)")
    }

    @Test func textTooShortForTheWindow() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try Self.write("abcdefghij", "short.txt", in: dir)
        let message = try #require(Self.failure(["train", "--text", path] + Self.device))
        #expect(message.contains("10 characters") && message.contains("--window 64"), "\(message)")
    }
}
