// Plots people read: nice tick values (Heckbert 1990) on linear and count axes, decades with
// minor ticks on log axes, labels without spurious digits, a legend beside the lines.

import Foundation
import RecurrentKit
@testable import RecurrentTool
import Testing
import TestSupport

@Suite struct PlotTests {
    @Test func linearTicksAreNiceNumbers() {
        let unit = AxisTicks.linear(0, 1)
        #expect(zip(unit.major, [0, 0.2, 0.4, 0.6, 0.8, 1]).allSatisfy { abs($0 - $1) < 1e-12 } && unit.major.count == 6)
        #expect(unit.labels == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        let small = AxisTicks.linear(0.0012, 0.0087)
        #expect(small.labels == ["0.000", "0.002", "0.004", "0.006", "0.008", "0.010"])
        #expect(small.lower == 0 && abs(small.upper - 0.01) < 1e-15)
        let wide = AxisTicks.linear(-37, 112)
        #expect(wide.labels == ["-50", "0", "50", "100", "150"])
        let big = AxisTicks.linear(0, 3.2e6)
        #expect(big.labels == ["0", "1e6", "2e6", "3e6", "4e6"])
    }

    @Test func countAxesHaveWholeNumbers() {
        #expect(AxisTicks.linear(1, 20, integers: true).labels == ["0", "5", "10", "15", "20"])
        #expect(AxisTicks.linear(1, 10, integers: true).labels == ["0", "2", "4", "6", "8", "10"])
        #expect(AxisTicks.linear(1, 3, integers: true).labels == ["1", "2", "3"])
        #expect(AxisTicks.linear(1, 2, integers: true).major.allSatisfy { $0 == $0.rounded() })
        // One epoch: an axis around it, still whole numbers.
        #expect(AxisTicks.linear(1, 1, integers: true).labels == ["0", "1", "2"])
    }

    @Test func logAxesHaveDecadesAndMinorTicks() {
        let lr = AxisTicks.logarithmic(1.3e-5, 0.7)
        #expect(lr.labels == ["1e-5", "1e-4", "0.001", "0.01", "0.1", "1"])
        #expect(lr.minor.count == 5 * 8 && lr.minor.first! == 2e-5 && abs(lr.minor.last! - 0.9) < 1e-12)
        // Within one decade, 2 × and 5 × are labelled too.
        let loss = AxisTicks.logarithmic(0.15, 0.8)
        #expect(loss.labels == ["0.1", "0.2", "0.5", "1"])
        #expect(loss.minor.count == 6)
        // Many decades: every fifth labelled, the others minor.
        let huge = AxisTicks.logarithmic(1e-12, 3e6)
        #expect(huge.labels == ["1e-15", "1e-10", "1e-5", "1", "1e5", "1e10"])
        #expect(AxisTicks.logarithmic(20, 3000).labels == ["10", "100", "1000", "10000"])
        #expect(AxisTicks.exponentLabel(2.5e-7) == "2.5e-7" && AxisTicks.logLabel(0.002) == "0.002")
    }

    /// Today's loss plots put ticks at 1e-0.8 and epoch 4.8: no more.
    @Test func lossPlotLabelsAreReadableAndTheLegendSitsBeside() throws {
        let epochs: [(epoch: Int, train: Float, validation: Float?)] = (1...9).map { e in
            let t = 0.9 / Double(e)
            return (e, Float(t), Float(t + 0.02 * Double(e)))   // validation lowest at epoch 7
        }
        let plot = LinePlot.lossCurves(epochs, title: "t")
        let (x, y) = plot.axes()
        #expect(x.labels == ["0", "2", "4", "6", "8", "10"])
        #expect(y.labels == ["0.1", "0.2", "0.5", "1"] && y.minor.count == 6)
        #expect(plot.markers.map { $0.label } == ["best epoch 7"])
        let svg = plot.svg()
        #expect(!svg.contains("1e-0.") && !svg.contains(">4.8<"))
        // Legend entries (the series names) lie right of the plot area (x ≥ 540), where no line runs.
        for name in ["train", "validation"] {
            let range = svg.range(of: ">\(name)</text>")!
            let line = svg[..<range.lowerBound].split(separator: "\n").last!
            let xValue = try #require(line.split(separator: "\"").dropFirst().first.flatMap { Double($0) })
            #expect(xValue >= 540, "legend entry \(name) at x = \(xValue)")
        }
        #expect(LinePlot.colors.prefix(3) == ["#0072B2", "#D55E00", "#009E73"])
    }

    /// `train` prints the validation − train gap per epoch and marks the best epoch.
    @Test func progressTracksTheBestEpochAndTheGap() {
        let progress = ProgressReporter(totalEpochs: 4, live: false)
        for (e, (t, v)) in [(0.5, 0.6), (0.3, 0.4), (0.2, 0.45), (0.1, 0.5)].enumerated() {
            progress.epoch(EpochReport(epoch: e + 1, trainLoss: Float(t), validationLoss: Float(v), learningRate: 0.01, seconds: 1,
                                       sequencesPerSecond: 1))
        }
        #expect(progress.best?.epoch == 2)
        #expect(progress.bestSummary == "best epoch 2: validation loss 0.40000 (train 0.30000, gap +0.10000)")
    }
}

/// `recurrent lr-find` on a small adding problem: the plot on log axes with the suggestion marked.
@Suite struct LRFindTests {
    @Test func lrFindWritesThePlotAndRefusesALearningRate() throws {
        let dir = try freshDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try runTool(["lr-find", "adding", "--samples", "320", "--length", "12", "--hidden-size", "8", "--batch-size", "16",
                     "--output", dir.path, "--device", TestDevice.specification])
        let svg = try String(contentsOf: dir.appendingPathComponent("lr-find.svg"), encoding: .utf8)
        #expect(svg.contains("suggested ") && svg.contains("learning rate (log scale)") && svg.contains(">1e-6<"))
        #expect(try polylineCount(inSVG: dir.appendingPathComponent("lr-find.svg")) == 2)
        #expect(throws: (any Error).self) { try runTool(["lr-find", "adding", "--learning-rate", "0.1"]) }
        #expect(throws: (any Error).self) { try runTool(["lr-find", "parity"]) }
    }

    @Test func trainWithAutomaticRateSavesTheSuggestion() throws {
        let dir = try freshDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = try TrainTests.write(TrainTests.seriesCSV(rows: 60), "series.csv", in: dir)
        let out = dir.appendingPathComponent("run")
        try runTool(["train", "--csv", csv, "--epochs", "1", "--learning-rate", "auto", "--output", out.path] + TrainTests.tinyCSV)
        let saved = try TrainTests.savedModel(in: out)
        #expect(saved.training.learningRate >= 1e-6 && saved.training.learningRate <= 1 && saved.training.learningRate != 0.01)
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("lr-find.svg").path))
        #expect(TrainTests.failure(["train", "--csv", csv, "--learning-rate", "fast"]) != nil)
    }

    // MARK: - A sweep's panels

    private static func results(_ trials: [(String, Float, Float)]) -> [Sweep.Result] {
        trials.enumerated().map { k, t in
            Sweep.Result(trial: .init(cell: t.0, learningRate: t.1, batchSize: 32, layers: 1, hiddenSize: 16, dropout: t.2),
                         validationLoss: 0.02 + 0.01 * Float(k), bestEpoch: 1, epochs: 1, seconds: 0)
        }
    }

    @Test func sweepPlotHasAPanelPerVaryingHyperparameter() throws {
        let results = Self.results([("lstm", 0.001, 0), ("gru", 0.003, 0.1), ("lstm", 0.01, 0.2), ("gru", 0.001, 0.2)])
        let plot = Sweep.plot(results, title: "sweep")
        #expect(plot.panels.map(\.title) == ["learning rate", "dropout", "cell"])
        let (rate, dropout, cell) = (plot.panels[0].axes().x, plot.panels[1].axes().x, plot.panels[2].axes().x)
        #expect(rate.labels == ["0.001", "0.002", "0.005", "0.01"] && !rate.minor.isEmpty)
        #expect(dropout.labels == ["0.00", "0.05", "0.10", "0.15", "0.20"])
        #expect(cell.labels == ["lstm", "gru"] && cell.major == [0, 1])
        // The same validation-loss axis in every panel: a decade with 2 × and 5 ×.
        #expect(plot.panels.allSatisfy { $0.axes().y.labels == ["0.01", "0.02", "0.05", "0.1"] })
        let svg = plot.svg()
        #expect(svg.components(separatedBy: "<circle").count - 1 == 3 * results.count)
        for title in ["learning rate", "dropout", "cell"] { #expect(svg.contains(">\(title)</text>")) }
        // Layers and sizes on their own axes; nothing varies: all six panels.
        let layered = results.enumerated().map { k, r -> Sweep.Result in
            var r = r
            r.trial.layers = 1 + k % 2
            r.trial.batchSize = [16, 32, 64, 128][k]
            return r
        }
        let more = Sweep.plot(layered, title: "")
        #expect(more.panels.map(\.title) == ["learning rate", "batch size", "layers", "dropout", "cell"])
        #expect(more.panels[1].axes().x.labels == ["10", "100", "1000"] && more.panels[2].axes().x.labels == ["1", "2"])
        #expect(Sweep.plot(Array(results.prefix(1)), title: "").panels.count == 6)
    }
}
