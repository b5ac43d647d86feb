// `recurrent demo seq2seq` at a tiny size: greedy decoding beats guessing after a short run, the
// heatmap's rows are the decoder's attention weights (each sums to 1), the SVG parses, and bad
// options are refused.

import Foundation
import RecurrentKit
@testable import RecurrentTool
import Testing
import TestSupport
#if canImport(FoundationXML)
import FoundationXML
#endif

@Suite struct Seq2SeqDemoTests {
    /// 360 training strings of 2…4 digits, 4 epochs: about 55% of the validation digits right (release, CPU).
    static let tiny = ["demo", "seq2seq", "--samples", "400", "--epochs", "4", "--hidden-size", "16", "--embedding-size", "8",
                       "--min-length", "2", "--max-length", "4", "--batch-size", "20", "--learning-rate", "0.01",
                       "--device", TestDevice.specification]

    /// The weights in `data-weight` of every cell of an SVG heatmap, row by row (nil when it does not parse).
    static func heatmapWeights(_ url: URL) throws -> [Float]? {
        final class Reader: NSObject, XMLParserDelegate {
            var weights: [Float] = []
            func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                        attributes: [String: String] = [:]) {
                if name == "rect", let w = attributes["data-weight"].flatMap(Float.init) { weights.append(w) }
            }
        }
        let parser = XMLParser(data: try Data(contentsOf: url))
        let reader = Reader()
        parser.delegate = reader
        return parser.parse() ? reader.weights : nil
    }

    @Test func learnsAboveChanceAndDrawsTheAttention() throws {
        let command = try #require(try RecurrentCommand.parseAsRoot(Self.tiny) as? Demo.Seq2Seq)
        try command.validate()
        let result = try command.train { _ in }
        // Guessing gets one digit in ten; a few epochs of teacher forcing must do much better.
        #expect(result.digitAccuracy > 0.3, "digit accuracy \(result.digitAccuracy)")
        #expect(result.losses.last! < result.losses.first! * 0.8, "losses \(result.losses)")
        let heatmap = result.heatmap
        #expect(heatmap.columnLabels.count == 4 && heatmap.rowLabels.count >= 1)
        for (r, row) in heatmap.values.enumerated() {
            #expect(row.count == heatmap.columnLabels.count)
            #expect(abs(row.reduce(0, +) - 1) < 1e-4, "row \(r) of the heatmap sums to \(row.reduce(0, +))")
        }

        let out = try freshDirectory()
        try runTool(Self.tiny + ["--epochs", "1", "--output", out.path])
        let weights = try #require(try Self.heatmapWeights(out.appendingPathComponent("attention.svg")))
        #expect(weights.count % 4 == 0 && !weights.isEmpty)
        for row in stride(from: 0, to: weights.count, by: 4) {
            #expect(abs(weights[row..<(row + 4)].reduce(0, +) - 1) < 1e-4)
        }
    }

    @Test func badOptionsAreRefused() throws {
        for bad in [["--cell", "rnn"], ["--score", "cosine"], ["--min-length", "5", "--max-length", "3"], ["--samples", "3"]] {
            #expect(throws: (any Error).self) { try runTool(Self.tiny + bad) }
        }
    }

    @Test func batchesPadAndReverse() throws {
        let data = ReversalData(count: 2, lengths: 2...3, seed: 1, stream: 0)
        let (source, inputs, targets) = try data.batch([0, 1], on: TestDevice.backend)
        let t = source.steps, b = 2
        let (s, i, y) = (try source.data.toArray(), try inputs.toArray(), try targets.data.toArray())
        for (column, digits) in data.strings.enumerated() {
            #expect(source.effectiveLengths[column] == digits.count && targets.effectiveLengths[column] == digits.count + 1)
            #expect((0..<digits.count).map { Int(s[$0 * b + column]) } == digits)
            #expect(Int(i[column]) == ReversalData.start)
            #expect((0..<digits.count).map { Int(y[$0 * b + column]) } == digits.reversed())
            #expect(Int(y[digits.count * b + column]) == ReversalData.end)
            #expect((1...digits.count).map { Int(i[$0 * b + column]) } == digits.reversed())
        }
        #expect(inputs.shape == [t + 1, b])
    }
}
