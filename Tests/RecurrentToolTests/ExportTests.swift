// `recurrent export`: a trained text run and a CSV run become ONNX files (an ONNX model message:
// IR version 8 first), and a missing run is refused naming its path. What ONNX Runtime computes
// from such models is checked in RecurrentKitTests/ONNXExportTests.

import Foundation
import Testing
import TestSupport
@testable import RecurrentTool

@Suite struct ExportTests {
    @Test func trainedRunsExportToONNX() throws {
        let dir = try TrainTests.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = try TrainTests.write(TrainTests.text, "corpus.txt", in: dir)
        let textRun = dir.appendingPathComponent("text-run")
        try TrainTests.run(["train", "--text", text, "--epochs", "1", "--output", textRun.path] + TrainTests.tinyText)
        let csv = try TrainTests.write(TrainTests.seriesCSV(rows: 30), "series.csv", in: dir)
        let csvRun = dir.appendingPathComponent("csv-run")
        try TrainTests.run(["train", "--csv", csv, "--epochs", "1", "--output", csvRun.path] + TrainTests.tinyCSV)

        for (run, flags) in [(textRun, [String]()), (csvRun, ["--sequence-lengths", "--states"])] {
            let file = dir.appendingPathComponent(run.lastPathComponent + ".onnx")
            try TrainTests.run(["export", "--model", run.path, "--onnx", file.path] + flags + TrainTests.device)
            let bytes = try Data(contentsOf: file)
            // Field 1 (ir_version), varint 8: the first bytes of every model this library writes.
            #expect(bytes.count > 100 && Array(bytes.prefix(2)) == [0x08, 0x08], "\(file.path): \(bytes.prefix(8).map { $0 })")
        }

        let missing = dir.appendingPathComponent("no-such-run").path
        let message = try #require(TrainTests.failure(["export", "--model", missing, "--onnx", dir.appendingPathComponent("x.onnx").path]))
        #expect(message.contains(missing), "\(message)")
    }
}
