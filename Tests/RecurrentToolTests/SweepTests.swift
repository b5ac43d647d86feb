// `recurrent sweep`: the grid and the seeded random draw, the JSON config, sorting, resuming.
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
    }
}
