// The demos on tiny sizes: they run, write a loss plot that parses, and refuse bad input.

import Foundation
import RecurrentKit
@testable import RecurrentTool
import Testing
import TestSupport

@Suite struct DemoTests {
    static let tiny = ["--samples", "120", "--epochs", "2", "--hidden-size", "6", "--batch-size", "16", "--device", TestDevice.specification]

    @Test func addingCompareTrainsThreeCellsAndPlotsThem() throws {
        let out = try freshDirectory()
        try runTool(["demo", "adding", "--compare", "--length", "8", "--output", out.path] + Self.tiny)
        // One validation curve per cell plus the baseline.
        #expect(try polylineCount(inSVG: out.appendingPathComponent("loss.svg")) == 4)
    }

    @Test(arguments: [["demo", "copy", "--length", "4"], ["demo", "sine", "--length", "10", "--threshold", "100"]])
    func singleDemosRunAndPlot(arguments: [String]) throws {
        let out = try freshDirectory()
        try runTool(arguments + ["--output", out.path, "--cell", "gru"] + Self.tiny)
        // Train and validation curves plus the baseline.
        #expect(try polylineCount(inSVG: out.appendingPathComponent("loss.svg")) == 3)
    }

    @Test func sineExitsWithAnErrorWhenItDoesNotLearn() throws {
        let out = try freshDirectory()
        let error = try #require(throws: UserFacingError.self) {
            try runTool(["demo", "sine", "--threshold", "1e-9", "--output", out.path] + Self.tiny)
        }
        #expect(error.description.contains("did not learn"))
    }

    @Test func badOptionsAreRefusedWithWhatWasExpected() throws {
        let device = try #require(throws: RecurrentError.self) { try runTool(["demo", "sine", "--device", "tpu:0"]) }
        #expect("\(device)".contains("'tpu:0'") && "\(device)".contains("auto, cpu, opencl"))
        #expect(throws: (any Error).self) { try runTool(["demo", "adding", "--cell", "transformer"] + Self.tiny) }
        #expect(throws: (any Error).self) { try runTool(["demo", "adding", "--optimizer", "lbfgs"] + Self.tiny) }
        #expect(throws: (any Error).self) { try runTool(["demo", "adding", "--length", "1"] + Self.tiny) }
    }

    @Test func tablesPadColumnsAndAlignNumbers() {
        let lines = table(header: ["cell", "loss"], rows: [["lstm", "0.5"], ["rnn", "12.25"]])
        #expect(lines == ["cell  loss", "----  -----", "lstm    0.5", "rnn   12.25"])
    }
}

@Test func devicesListsWhatAutoPicks() throws {
    try runTool(["devices"])
    #expect(Device.automaticChoice.reason.hasPrefix("auto picked "))
}
