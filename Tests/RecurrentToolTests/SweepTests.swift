// `recurrent sweep`: the grid and the seeded random draw, the JSON config, sorting, resuming;
// sweeps of `train --csv` and `--text` whose best is the train command that reproduces it.
// (.ci/run checks that `mpirun -np 2` gives the same table as one process.)

import Foundation
import RecurrentKit
@testable import RecurrentTool
import Testing
import TestSupport

@Suite struct SweepTests {
    static let tiny = ["--samples", "120", "--length", "8", "--epochs", "2", "--patience", "1", "--hidden-size", "4",
                       "--device", TestDevice.specification]

    private static func parse(_ arguments: [String]) throws -> Sweep {
        try #require(try RecurrentCommand.parseAsRoot(["sweep", "adding"] + arguments) as? Sweep)
    }

    @Test func gridRandomDrawAndConfigFile() throws {
        let grid = try Self.parse(["--learning-rate", "0.001,0.01", "--cell", "lstm,gru", "--batch-size", "8,16,32"]).plannedTrials()
        #expect(grid.count == 12 && Set(grid).count == 12)
        let drawn = try Self.parse(["--learning-rate", "0.001,0.01", "--cell", "lstm,gru", "--batch-size", "8,16,32", "--trials", "5"])
            .plannedTrials()
        #expect(drawn.count == 5 && Set(drawn).isSubset(of: Set(grid)))
        #expect(try Self.parse(["--learning-rate", "0.001,0.01", "--cell", "lstm,gru", "--batch-size", "8,16,32", "--trials", "5"])
            .plannedTrials() == drawn)   // seeded
        let dir = try freshDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("space.json")
        try Data(#"{"learning_rate": [0.002, 0.02], "hidden_size": [4, 8], "cell": ["gru"]}"#.utf8).write(to: config)
        let fromFile = try Self.parse(["--config", config.path, "--hidden-size", "6"]).plannedTrials()
        #expect(fromFile.map(\.hiddenSize) == [6, 6] && fromFile.map(\.cell) == ["gru", "gru"])   // flags win over the file
        try Data(#"{"learning_rates": [0.1]}"#.utf8).write(to: config)
        #expect(throws: (any Error).self) { try Self.parse(["--config", config.path]).plannedTrials() }
        #expect(throws: (any Error).self) { try Self.parse(["--cell", "lstm,transformer"]).plannedTrials() }
    }

    @Test func resultsAreSortedSavedAndNotRerun() throws {
        let dir = try freshDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let arguments = ["--learning-rate", "0.003,0.03", "--cell", "gru,lstm", "--output", dir.path] + Self.tiny
        let results = try Self.parse(arguments).sweep()
        #expect(results.count == 4 && results.map(\.validationLoss) == results.map(\.validationLoss).sorted())
        #expect(results.allSatisfy { $0.validationLoss.isFinite && $0.epochs >= 1 && $0.epochs <= 2 })
        let saved = try JSONDecoder().decode([Sweep.Result].self, from: Data(contentsOf: dir.appendingPathComponent("sweep.json")))
        #expect(saved == results)
        #expect(try polylineCount(inSVG: dir.appendingPathComponent("sweep.svg")) == 0)   // points, not lines
        // A larger grid (batch 32 beside the default 64) reruns nothing already done: the old results come back unchanged.
        let more = try Self.parse(["--learning-rate", "0.003,0.03", "--cell", "gru,lstm", "--batch-size", "64,32", "--output", dir.path]
                                  + Self.tiny).sweep()
        #expect(more.count == 4 + 4)
        for r in results { #expect(more.contains(r), "\(Sweep.describe(r.trial)) was rerun or lost") }
        let best = results[0]
        let command = try Self.parse(arguments).command(for: best.trial, task: .adding, length: 8)
        #expect(command.hasPrefix("recurrent demo adding --cell \(best.trial.cell) --learning-rate "))
        // Run as printed, the demo ends at the trial's best validation loss, bit for bit.
        let demo = try #require(try RecurrentCommand.parseAsRoot(command.split(separator: " ").dropFirst().map(String.init)) as? Demo.Adding)
        let data = try DemoTask.adding.data(samples: 120, length: demo.length, seed: demo.options.common.seed)
        let again = try demo.options.run(.adding, cell: demo.options.model.cell, data: data, defaults: Demo.Adding.defaults, world: nil,
                                         quiet: true, print: { _ in })
        let bestAgain = try #require(again.reports.compactMap(\.validationLoss).min())
        #expect(bestAgain == best.validationLoss, "reproduced \(bestAgain), sweep \(best.validationLoss)")
    }

    // MARK: - CSV and text files

    private static func parseTool(_ arguments: [String]) throws -> Sweep {
        try #require(try RecurrentCommand.parseAsRoot(["sweep"] + arguments) as? Sweep)
    }

    @Test func csvSweepPrintsTheTrainCommandThatReproducesTheBest() throws {
        let dir = try freshDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = try TrainTests.write(TrainTests.seriesCSV(rows: 120), "series.csv", in: dir)
        let sweep = try Self.parseTool(["--csv", csv, "--learning-rate", "0.003,0.03", "--cell", "lstm,gru", "--hidden-size", "4",
                                        "--batch-size", "16", "--epochs", "3", "--patience", "1", "--output", dir.appendingPathComponent("sweep").path,
                                        "--device", TestDevice.specification, "--", "--window", "5", "--target", "temp"])
        let results = try sweep.sweep()
        #expect(results.count == 4 && results.map(\.validationLoss) == results.map(\.validationLoss).sorted())
        #expect(results.allSatisfy { $0.validationLoss.isFinite && $0.bestEpoch >= 1 && $0.epochs <= 3 })
        // Every trial is a `recurrent train` run with early stopping, kept in trials/.
        let trials = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("sweep/trials").path)
        #expect(trials.count == 4)
        // The best one's command, run as printed, ends at the same best validation loss, bit for bit.
        let best = results[0]
        guard case .train(let leading) = sweep.source else { Issue.record("expected a train source"); return }
        let words = sweep.trainCommand(for: best.trial, leading: leading, output: dir.appendingPathComponent("best").path)
        #expect(Array(words.prefix(4)) == ["recurrent", "train", "--csv", csv] && words.contains("--early-stopping") && words.contains("temp"))
        let train = try #require(try RecurrentCommand.parseAsRoot(Array(words.dropFirst())) as? Train)
        let outcome = try train.train(world: nil, quiet: true)
        let again = try #require(outcome.reports.compactMap { r in r.validationLoss.map { (r.epoch, $0) } }.min { $0.1 < $1.1 })
        #expect(again.1 == best.validationLoss && again.0 == best.bestEpoch,
                "reproduced: epoch \(again.0) loss \(again.1); sweep: epoch \(best.bestEpoch) loss \(best.validationLoss)")
        #expect(try TrainTests.savedModel(in: dir.appendingPathComponent("best")).training.earlyStopping == 1)
        // A second call reruns nothing.
        let more = try sweep.sweep()
        #expect(more == results)
    }

    @Test func textSweepAndItsRefusals() throws {
        let dir = try freshDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = try TrainTests.write(TrainTests.text, "corpus.txt", in: dir)
        let results = try Self.parseTool(["--text", text, "--learning-rate", "0.01,0.03", "--hidden-size", "8", "--batch-size", "8",
                                          "--epochs", "2", "--patience", "1", "--output", dir.path, "--device", TestDevice.specification,
                                          "--", "--window", "8", "--embedding-size", "4"]).sweep()
        #expect(results.count == 2 && results.allSatisfy { $0.validationLoss.isFinite && $0.validationLoss < log(Float(20)) })
        #expect(Sweep.shellWords(["recurrent", "train", "--text", "my book.txt", "it's"]) == #"recurrent train --text 'my book.txt' 'it'\''s'"#)
        func failure(_ arguments: [String]) -> String? {
            do { _ = try Self.parseTool(arguments); return nil } catch { return RecurrentCommand.message(for: error) }
        }
        #expect(failure(["--csv", "a.csv", "--", "--cell", "gru"])?.contains("--cell after --: the sweep sets it") == true)
        #expect(failure(["adding", "--csv", "a.csv"])?.contains("expected one of a demo task") == true)
        #expect(failure(["adding", "--", "--window", "3"])?.contains("a demo task takes none") == true)
        #expect(failure([])?.contains("got none") == true)
        // Options after -- that train refuses come back with train's own message.
        let bad = try Self.parseTool(["--text", text, "--epochs", "1", "--output", dir.appendingPathComponent("bad").path, "--", "--target", "x"])
        #expect(throws: (any Error).self) { try bad.sweep() }
    }
}
