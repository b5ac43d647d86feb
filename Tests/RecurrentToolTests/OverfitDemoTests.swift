// `recurrent demo overfit` on a tiny corpus: the curves file holds every run with finite losses,
// the regularisers change the training, the plot draws every curve, and bad input is refused.

import Foundation
@testable import RecurrentTool
import Testing
import TestSupport

@Suite struct OverfitDemoTests {
    static let tiny = ["demo", "overfit", "--characters", "1200", "--window", "16", "--epochs", "2", "--hidden-size", "8",
                       "--batch-size", "8", "--device", TestDevice.specification]

    private func report(_ extra: [String] = []) throws -> (OverfitReport, URL) {
        let out = try freshDirectory()
        try runTool(Self.tiny + ["--output", out.path] + extra)
        let data = try Data(contentsOf: out.appendingPathComponent("overfit.json"))
        return (try JSONDecoder().decode(OverfitReport.self, from: data), out)
    }

    @Test func everyRunIsRecordedAndPlotted() throws {
        let (report, out) = try report()
        #expect(report.runs.map(\.name) == ["plain", "recurrent dropout 0.25", "weight drop 0.5", "zoneout 0.1 (c 0.5)", "all three"])
        for run in report.runs {
            #expect(run.trainLoss.count == 2 && run.validationLoss.count == 2, "\(run.name)")
            let losses = run.trainLoss + run.validationLoss + [run.finalTrainLoss, run.gap]
            #expect(losses.allSatisfy { $0.isFinite }, "\(run.name)")
            // Cross-entropy over the corpus's characters: positive, below ln(V) + a margin at 2 epochs.
            #expect(run.validationLoss.allSatisfy { $0 > 0 && $0 < log(Float(report.vocabulary)) + 1 }, "\(run.name)")
        }
        // The masks are drawn: every regularised run trains differently from the plain one.
        let plain = report.runs[0]
        for run in report.runs.dropFirst() { #expect(run.trainLoss != plain.trainLoss, "\(run.name)") }
        #expect(report.trainWindows > 0 && report.validationWindows > 0 && report.characters >= 1200)
        // Training and validation curves of each of the five runs.
        #expect(try polylineCount(inSVG: out.appendingPathComponent("overfit.svg")) == 10)
        let table = OverfitDemoCommand.summary(report)
        #expect(table.count == 2 + 5 + 1 && table[3].hasPrefix("recurrent dropout 0.25"))
    }

    @Test func zeroProbabilitiesReproduceThePlainRun() throws {
        // Same seed, same data order: with every probability 0 the five runs are the plain run bit for bit.
        let (report, _) = try report(["--recurrent-dropout", "0", "--weight-drop", "0", "--zoneout", "0", "--cell-zoneout", "0"])
        for run in report.runs.dropFirst() {
            #expect(run.trainLoss == report.runs[0].trainLoss && run.validationLoss == report.runs[0].validationLoss, "\(run.name)")
        }
    }

    @Test func badOptionsAreRefused() throws {
        #expect(throws: (any Error).self) { try runTool(Self.tiny + ["--zoneout", "1"]) }
        #expect(throws: (any Error).self) { try runTool(Self.tiny + ["--weight-drop", "-0.1"]) }
        let short = try #require(throws: (any Error).self) { try runTool(Self.tiny + ["--characters", "20"]) }
        #expect("\(short)".contains("too short for --window 16"))
    }
}

private typealias OverfitDemoCommand = Demo.Overfit
