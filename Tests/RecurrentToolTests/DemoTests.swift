// The demos on tiny sizes: they run, write a loss plot that parses, and refuse bad input.

import Foundation
import RecurrentKit
@testable import RecurrentTool
import Testing
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A fresh temporary directory for one test's outputs.
func freshDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("recurrent-tool-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Parses `url` as XML; returns how many `polyline` elements it has (nil when it does not parse).
func polylineCount(inSVG url: URL) throws -> Int? {
    final class Counter: NSObject, XMLParserDelegate {
        var polylines = 0, sawSVG = false
        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            if name == "svg" { sawSVG = true }
            if name == "polyline" { polylines += 1 }
        }
    }
    let parser = XMLParser(data: try Data(contentsOf: url))
    let counter = Counter()
    parser.delegate = counter
    return parser.parse() && counter.sawSVG ? counter.polylines : nil
}

/// Parses and runs `recurrent` with `arguments`.
func runTool(_ arguments: [String]) throws {
    var command = try RecurrentCommand.parseAsRoot(arguments)
    try command.run()
}

@Suite struct DemoTests {
    static let tiny = ["--samples", "120", "--epochs", "2", "--hidden-size", "6", "--batch-size", "16", "--device", "cpu"]

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
