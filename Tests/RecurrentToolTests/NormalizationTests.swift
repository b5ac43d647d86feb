// `train --csv` scaling choices (z-score, min–max to [0, 1] or [−1, 1], none; statistics from the
// training rows, saved with the model) and `--difference` on a series that trends.

import Foundation
import RecurrentKit
@testable import RecurrentTool
import Testing
import TestSupport

@Suite struct NormalizationTests {
    @Test func scalingMethodsOnKnownRows() throws {
        let rows: [[Double]] = [[0, 3], [5, 3], [10, 3]]
        let minmax = ColumnScaling.fit(rows, method: .minmax)
        #expect(minmax.offset == [0, 3] && minmax.scale == [10, 1])
        #expect([0.0, 5, 10].map { minmax.normalize($0, column: 0) } == [0, 0.5, 1])
        let symmetric = ColumnScaling.fit(rows, method: .symmetric)
        #expect([0.0, 5, 10].map { symmetric.normalize($0, column: 0) } == [-1, 0, 1])
        #expect(symmetric.normalize(3, column: 1) == 0)   // a constant column stays finite
        let none = ColumnScaling.fit(rows, method: .none)
        #expect(none.offset == [0, 0] && none.scale == [1, 1] && none.normalize(7.5, column: 0) == 7.5)
        let z = ColumnScaling.fit(rows, method: .zscore)
        #expect(z.offset[0] == 5 && abs(z.scale[0] - (50.0 / 3).squareRoot()) < 1e-12)
        #expect(abs(z.denormalize(z.normalize(8, column: 0), column: 0) - 8) < 1e-6)
        // model.json files written before the choice hold z-score statistics as mean and std.
        let legacy = try JSONDecoder().decode(ColumnScaling.self, from: Data(#"{"mean":[1,2],"std":[3,4]}"#.utf8))
        #expect(legacy == ColumnScaling(method: .zscore, offset: [1, 2], scale: [3, 4]))
        let roundTrip = try JSONDecoder().decode(ColumnScaling.self, from: JSONEncoder().encode(minmax))
        #expect(roundTrip == minmax)
    }

    @Test(arguments: [NormalizationMethod.minmax, .symmetric, .none])
    func trainSavesTheChosenScaling(_ method: NormalizationMethod) throws {
        let dir = try freshDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = try TrainTests.write(TrainTests.seriesCSV(rows: 40), "series.csv", in: dir)
        let out = dir.appendingPathComponent("run")
        try TrainTests.run(["train", "--csv", csv, "--epochs", "1", "--normalization", method.rawValue, "--output", out.path]
                           + TrainTests.tinyCSV)
        let saved = try TrainTests.savedModel(in: out)
        let scaling = try #require(saved.normalization)
        #expect(scaling.method == method)
        // Statistics of the training rows: 40 rows, window 5 → 35 windows, 28 train → rows 0..<33.
        let series = try CSVSeries.read(path: csv)
        #expect(scaling == ColumnScaling.fit(series.rows[0..<33], method: method))
        // Resuming with another scaling is refused.
        let message = TrainTests.failure(["train", "--csv", csv, "--epochs", "2", "--resume", "--normalization", "zscore",
                                          "--output", out.path] + TrainTests.tinyCSV)
        #expect(message?.contains("--normalization zscore does not match the saved model's \(method.rawValue)") == true, "\(message ?? "no error")")
        #expect(TrainTests.failure(["train", "--text", csv, "--normalization", "minmax"])?.contains("goes with --csv") == true)
    }

    /// sin(2πt/20) + 0.04 t over 300 rows: the validation fifth lies above everything the training
    /// part saw. Predicting changes, the model beats repeating the last value.
    static func trendingCSV() -> String {
        var lines = ["t,value"]
        for t in 0..<300 { lines.append(String(format: "%d,%.6f", t, sin(2 * Double.pi * Double(t) / 20) + 0.04 * Double(t))) }
        return lines.joined(separator: "\n") + "\n"
    }

    static let trendOptions = ["--window", "12", "--hidden-size", "16", "--batch-size", "16", "--epochs", "8",
                               "--learning-rate", "0.01", "--target", "value"] + TrainTests.device

    @Test func differencingBeatsPersistenceOnATrend() throws {
        let dir = try freshDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = try TrainTests.write(Self.trendingCSV(), "trend.csv", in: dir)
        let series = try CSVSeries.read(path: csv)
        let windows = try CSVWindows(series: series, window: 12, targetColumn: 1, validationFraction: 0.2)
        let trainingMax = series.rows[0..<windows.trainingRows].map { $0[1] }.max()!
        let validationMin = series.rows[(windows.trainCount + 12)...].map { $0[1] }.min()!
        #expect(validationMin > trainingMax - 0.9 && series.rows.last![1] > trainingMax + 1.5)   // 9.2 … 11.65 against ≤ 10

        func train(_ extra: [String], _ name: String) throws -> Train.Outcome {
            let command = try #require(try RecurrentCommand.parseAsRoot(
                ["train", "--csv", csv, "--output", dir.appendingPathComponent(name).path] + extra + Self.trendOptions) as? Train)
            return try command.train()
        }
        // On the values, the tanh network cannot reach the validation range: it loses to persistence
        // (measured: 1.56× worse).
        let plain = try train([], "plain")
        let plainRMSE = try #require(plain.rmse), plainPersistence = try #require(plain.persistenceRMSE)
        #expect(plainRMSE > plainPersistence, "without --difference: RMSE \(plainRMSE), persistence \(plainPersistence)")

        let outcome = try train(["--difference"], "diff")
        let rmse = try #require(outcome.rmse), persistence = try #require(outcome.persistenceRMSE)
        #expect(outcome.saved.differenced == true)
        // Persistence errs by the whole change: the sine's step (RMS 2 sin(π/20)/√2) and the slope 0.04.
        #expect(abs(persistence - 0.218) < 0.005, "persistence RMSE \(persistence)")
        // The margin: at least 20× better than persistence (measured: RMSE 0.00098, 221× better).
        #expect(rmse * 20 < persistence, "--difference: RMSE \(rmse) against persistence \(persistence)")
    }
}
