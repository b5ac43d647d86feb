// TensorBoard event files: TFRecord framing with masked CRC-32C, the Event protobufs read back
// in Swift, and the same files read by TensorBoard's own EventAccumulator (scripts/
// tensorboard_check.py, run with the .venv of scripts/install-deps.sh; skipped with a notice
// when neither it nor a python3 with tensorboard is there).

import Foundation
import RecurrentProtos
import Testing
import TestSupport
@testable import RecurrentKit

@Suite struct TensorBoardTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func crc32cAndFraming() throws {
        #expect(TFRecord.crc32c(Array("123456789".utf8)) == 0xE306_9283)   // the CRC-32C check value
        #expect(TFRecord.crc32c([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)   // RFC 3720's all-zero vector
        let framed = TFRecord.frame(Data("abc".utf8))
        #expect(framed.count == 8 + 4 + 3 + 4 && framed.prefix(8) == Data([3, 0, 0, 0, 0, 0, 0, 0]))
        #expect(try TFRecord.records(in: framed + TFRecord.frame(Data()), source: "t") == [Data("abc".utf8), Data()])
        var corrupt = framed
        corrupt[13] ^= 1
        #expect(throws: RecurrentError.self) { try TFRecord.records(in: corrupt, source: "t") }
        #expect(throws: RecurrentError.self) { try TFRecord.records(in: framed.dropLast(), source: "t") }
    }

    /// Which python runs the check: the project's .venv, else python3 if it has tensorboard; nil (with a notice) otherwise.
    private static func python() -> URL? {
        let venv = root.appendingPathComponent(".venv/bin/python")
        for candidate in [venv.path, "/usr/bin/python3", "/usr/local/bin/python3"] where FileManager.default.isExecutableFile(atPath: candidate) {
            let probe = Process()
            probe.executableURL = URL(fileURLWithPath: candidate)
            probe.arguments = ["-c", "import tensorboard"]
            probe.standardOutput = FileHandle.nullDevice
            probe.standardError = FileHandle.nullDevice
            if (try? probe.run()) != nil {
                probe.waitUntilExit()
                if probe.terminationStatus == 0 { return URL(fileURLWithPath: candidate) }
            }
        }
        print("notice: no python with the tensorboard package (scripts/install-deps.sh puts it in .venv): skipping the EventAccumulator check")
        return nil
    }

    @Test func trainerWritesEventsTensorBoardReads() throws {
        let backend = TestDevice.backend
        let rng = RandomSource(seed: 4)
        let model = try Sequential([("rnn", LSTM(inputSize: 1, hiddenSize: 4, on: backend, rng: rng)), ("last", LastTimeStep()),
                                    ("fc", Linear(4, 1, on: backend, rng: rng))])
        let optimizer = try Adam(model.parameters, learningRate: 0.02)
        let trainer = Trainer(model: model, loss: MSELoss(), optimizer: optimizer, on: backend)
        trainer.clipNorm = 0.05   // small: some steps are clipped
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tensorboard-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let logger = try TensorBoardLogger(directory: dir, histogramEverySteps: 3)
        trainer.callbacks = [try LinearWarmup(optimizer, steps: 4), logger]
        let data = try SyntheticData.sineWaves(count: 40, length: 5, seed: 2)
        let (train, validation) = try data.split(validationFraction: 0.25)   // 30 training: 4 batches of 8
        var losses: [Float] = [], rates: [Float] = []
        let reports = try trainer.fit(train, validation: validation, epochs: 2, batchSize: 8,
                                      onBatch: { p in losses.append((try? p.loss.item()) ?? .nan) })
        rates = (0..<8).map { k in Float(0.02 * (0.1 + 0.9 * Double(min(k, 4)) / 4)) }

        // Read back in Swift: the file version first, then summaries.
        let records = try TFRecord.records(in: Data(contentsOf: logger.fileURL), source: logger.fileURL.path)
        let events = try records.map { try Tensorboard_Event(serializedBytes: $0) }
        #expect(events.first?.fileVersion == "brain.Event:2")
        var scalars: [String: [(Int, Float)]] = [:]
        var histograms: [String: [(Int, Tensorboard_HistogramProto)]] = [:]
        for e in events.dropFirst() {
            for v in e.summary.value {
                if case .simpleValue(let x)? = v.value { scalars[v.tag, default: []].append((Int(e.step), x)) }
                if case .histo(let h)? = v.value { histograms[v.tag, default: []].append((Int(e.step), h)) }
            }
        }
        #expect(scalars["train/loss"]?.map(\.1) == losses)
        #expect(scalars["train/loss"]?.map(\.0) == Array(1...8))
        #expect(zip(scalars["train/learning_rate"]!.map(\.1), rates).allSatisfy { abs($0 - $1) <= 1e-7 })
        #expect(scalars["train/grad_norm"]?.map(\.1) == trainer.gradientNorms)
        #expect(scalars["train/grad_norm_clipped"]!.allSatisfy { $0.1 <= 0.05 + 1e-6 })
        #expect(scalars["epoch/val_loss"]?.map(\.1) == reports.compactMap(\.validationLoss))
        #expect(scalars["epoch/val_loss"]?.map(\.0) == [4, 8])
        // Histograms at steps 3 and 6 of every parameter's weights and gradients.
        #expect(histograms.count == 2 * model.namedParameters.count)
        let weights = try #require(histograms["weights/fc.weight"])
        #expect(weights.map(\.0) == [3, 6] && weights.allSatisfy { $0.1.num == 4 && $0.1.bucket.reduce(0, +) == 4 })
        let final = try model.namedParameters.first { $0.name == "fc.bias" }!.parameter.value.toArray()
        #expect(final.count == 1)

        // The same file through TensorBoard's EventAccumulator.
        guard let python = Self.python() else { return }
        var expectedScalars: [String: [[Double]]] = [:]
        for tag in ["train/loss", "train/learning_rate", "train/grad_norm", "epoch/val_loss", "epoch/loss"] {
            expectedScalars[tag] = scalars[tag]!.map { [Double($0.0), Double($0.1)] }
        }
        var expectedHistograms: [String: [[Double]]] = [:]
        for (tag, entries) in histograms { expectedHistograms[tag] = entries.map { [Double($0.0), $0.1.num, $0.1.min, $0.1.max, $0.1.sum] } }
        let expected = dir.appendingPathComponent("expected.json")
        try JSONSerialization.data(withJSONObject: ["scalars": expectedScalars, "histograms": expectedHistograms]).write(to: expected)
        let (status, output) = try runProcess(python, [Self.root.appendingPathComponent("scripts/tensorboard_check.py").path,
                                                       dir.path, expected.path])
        #expect(status == 0, "tensorboard_check.py: \(output)")
        #expect(output.contains("0 mismatches"))
    }
}
