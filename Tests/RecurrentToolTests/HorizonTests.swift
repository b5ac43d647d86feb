// `recurrent train --csv … --horizon N`: the multi-step forecast fed back from every validation
// origin, its RMSE per step beside persistence (recomputed here from the file), its first step
// equal to the trained model's one-step prediction, the plot, and the errors.

import Foundation
import RecurrentKit
@testable import RecurrentTool
import Testing
import TestSupport

@Suite struct HorizonTests {
    static let horizon = 4

    @Test func forecastsFromEveryValidationOriginAndBeatsPersistence() throws {
        let dir = try TrainTests.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = try TrainTests.write(TrainTests.seriesCSV(rows: 160), "series.csv", in: dir)
        let out = dir.appendingPathComponent("run")
        let command = try #require(try RecurrentCommand.parseAsRoot(
            ["train", "--csv", csv, "--horizon", String(Self.horizon), "--epochs", "12", "--window", "8", "--hidden-size", "16",
             "--batch-size", "16", "--learning-rate", "0.02", "--output", out.path] + TrainTests.device) as? Train)
        let outcome = try command.train()
        #expect(outcome.saved.columns == ["temp"] && outcome.saved.inputSize == 1)
        let forecast = try #require(outcome.horizon)
        #expect(forecast.rmse.count == Self.horizon && forecast.persistenceRMSE.count == Self.horizon)

        // Origins: every validation row with N known rows from it. The persistence baseline from the file itself.
        let values = (0..<160).map { sin(Double($0) * 0.5) }
        let rounded = values.map { Double(String(format: "%.4f", $0))! }
        let windows = try CSVWindows(series: CSVSeries(source: csv, columns: ["temp"], rows: rounded.map { [$0] }), window: 8,
                                     targetColumn: 0, validationFraction: 0.2)
        let origins = Array(windows.trainingRows...(160 - Self.horizon))
        #expect(forecast.origins == origins.count)
        for step in 0..<Self.horizon {
            let squares = origins.map { o in (rounded[o - 1] - rounded[o + step]) * (rounded[o - 1] - rounded[o + step]) }
            #expect(abs(forecast.persistenceRMSE[step] - (squares.reduce(0, +) / Double(origins.count)).squareRoot()) < 1e-9)
        }
        // Step 1 is the trained model's one-step prediction from each origin's window.
        let model = try outcome.saved.trainedModel(in: RunDirectory(out.path), on: TestDevice.backend)
        let z = try #require(outcome.saved.normalization)
        let input = origins.flatMap { o in rounded[(o - 8)..<o].map { z.normalize($0, column: 0) } }
        let oneStep = try model.forward(SequenceBatch(Tensor(shape: [origins.count, 8, 1], values: input, on: TestDevice.backend),
                                                      layout: .batchMajor)).data.toArray()
        let errors = zip(oneStep, origins).map { p, o in z.denormalize(p, column: 0) - rounded[o] }
        let rmse1 = (errors.map { $0 * $0 }.reduce(0, +) / Double(origins.count)).squareRoot()
        #expect(abs(forecast.rmse[0] - rmse1) < 1e-4 * max(rmse1, 1), "step 1 RMSE \(forecast.rmse[0]) vs one-step \(rmse1)")
        // A sine of 0.5 rad per row: repeating the last value errs more with every step; the model must not.
        #expect(forecast.rmse[Self.horizon - 1] < forecast.persistenceRMSE[Self.horizon - 1],
                "RMSE \(forecast.rmse) vs persistence \(forecast.persistenceRMSE)")
        #expect(try polylineCount(inSVG: out.appendingPathComponent("forecast.svg")) == 3)
    }

    @Test func badHorizonsAreRefused() throws {
        let dir = try TrainTests.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = try TrainTests.write(TrainTests.seriesCSV(rows: 40), "series.csv", in: dir)
        let text = try TrainTests.write(TrainTests.text, "corpus.txt", in: dir)
        let out = dir.appendingPathComponent("run").path
        let base = ["train", "--epochs", "1", "--output", out] + TrainTests.tinyCSV
        #expect(TrainTests.failure(base + ["--csv", csv, "--horizon", "0"])?.contains("--horizon ≥ 1") == true)
        #expect(TrainTests.failure(base + ["--text", text, "--horizon", "3"])?.contains("goes with --csv") == true)
        #expect(TrainTests.failure(base + ["--csv", csv, "--horizon", "3", "--difference"])?.contains("--difference") == true)
        // 40 rows, window 5: 7 validation rows, too few for 20 steps ahead.
        #expect(TrainTests.failure(base + ["--csv", csv, "--horizon", "20"])?.contains("needs at least 20 validation rows") == true)
    }
}
