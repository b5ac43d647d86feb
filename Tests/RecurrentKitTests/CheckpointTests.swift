import Foundation
import Testing
import TestSupport
@testable import RecurrentKit

/// A loss that fails on one call: the process "dies" there (also used by CallbackTests).
final class CrashingLoss: Loss {
    let inner = MSELoss()
    let crashAt: Int
    private var calls = 0
    init(crashAt: Int) { self.crashAt = crashAt }
    func forward(_ prediction: LayerValue, _ target: Tensor) throws -> Tensor {
        calls += 1
        if calls == crashAt { throw RecurrentError.invalidState("killed at call \(crashAt)") }
        return try inner.forward(prediction, target)
    }
    func backward() throws -> Tensor { try inner.backward() }
}

@Suite struct CheckpointTests {
    /// Model, optimizer, schedule and trainer; `seed` changes the initial weights only.
    private func make(seed: UInt64, loss: any Loss = MSELoss(), sgd: Bool = false, inputSize: Int = 2) throws -> Trainer {
        let backend = TestDevice.backend
        let rng = RandomSource(seed: seed)
        let model = try Sequential([
            ("rnn", LSTM(inputSize: inputSize, hiddenSize: 6, numLayers: 2, dropout: 0.3, on: backend, rng: rng)),
            ("last", LastTimeStep()), ("drop", Dropout(0.2, rng: rng)), ("fc", Linear(6, 1, on: backend, rng: rng)),
        ])
        let optimizer: any Optimizer = sgd
            ? try SGD(model.parameters, learningRate: 0.05, momentum: 0.9, nesterov: true)
            : try Adam(model.parameters, learningRate: 0.01)
        let trainer = Trainer(model: model, loss: loss, optimizer: optimizer, on: backend)
        trainer.clipNorm = 0.5
        trainer.scheduler = try StepLR(optimizer, stepSize: 2, gamma: 0.7)
        return trainer
    }

    private func url(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("recurrentkit-\(getpid())-\(UInt32.random(in: 0...UInt32.max))-\(name)")
    }

    /// Train 30 steps; separately train 15, checkpoint, resume in a fresh trainer (other initial
    /// weights) and train 15 more: steps 16–30 match the uninterrupted run bitwise.
    @Test(arguments: [false, true])
    func killAndResumeIsBitwise(sgd: Bool) throws {
        var random = TestRandom(seed: 5)
        let batches = try (0..<30).map { _ in
            (try SequenceBatch(random.tensor([7, 4, 2], on: TestDevice.backend)), try random.tensor([4, 1], on: TestDevice.backend))
        }
        func run(_ trainer: Trainer, _ range: Range<Int>) throws -> [UInt32] {
            try range.map { i in
                let loss = try trainer.trainStep(input: batches[i].0, target: batches[i].1).item()
                if (i + 1) % 5 == 0 { try trainer.scheduler?.step() }
                return loss.bitPattern
            }
        }
        let whole = try make(seed: 1, sgd: sgd)
        let expected = try run(whole, 0..<30)

        let file = url("checkpoint.safetensors")
        defer { try? FileManager.default.removeItem(at: file) }
        let first = try make(seed: 1, sgd: sgd)
        #expect(try run(first, 0..<15) == Array(expected[0..<15]))
        try first.saveCheckpoint(to: file)

        let resumed = try make(seed: 99, sgd: sgd)
        try resumed.loadCheckpoint(from: file)
        #expect(resumed.steps == 15 && resumed.gradientNorms == first.gradientNorms)
        #expect(try run(resumed, 15..<30) == Array(expected[15..<30]))
        let a = try whole.model.stateDict(), b = try resumed.model.stateDict()
        for name in a.keys { #expect(a[name]!.values.map(\.bitPattern) == b[name]!.values.map(\.bitPattern), "\(name)") }
    }

    /// `fit` with checkpoints every 4 steps dies in the middle of epoch 2; a new trainer resumes
    /// from the last checkpoint and finishes: same epoch losses and weights as never stopping.
    @Test func fitResumesMidEpoch() throws {
        let data = try SyntheticData.sineWaves(count: 40, length: 6, seed: 3)   // 10 batches of 4 per epoch
        let whole = try make(seed: 1, inputSize: 1)
        let expected = try whole.fit(data, epochs: 3, batchSize: 4, shuffleSeed: 8)

        let file = url("fit.safetensors")
        defer { try? FileManager.default.removeItem(at: file) }
        let dying = try make(seed: 1, loss: CrashingLoss(crashAt: 17), inputSize: 1)   // dies at step 17: epoch 2, batch 7
        dying.checkpointURL = file
        dying.checkpointEverySteps = 4
        #expect(throws: RecurrentError.invalidState("killed at call 17")) {
            try dying.fit(data, epochs: 3, batchSize: 4, shuffleSeed: 8)
        }
        let resumed = try make(seed: 42, inputSize: 1)
        try resumed.loadCheckpoint(from: file)
        #expect(resumed.steps == 16 && resumed.completedEpochs == 1 && resumed.batchesDoneInEpoch == 6)
        let reports = try resumed.fit(data, epochs: 3, batchSize: 4, shuffleSeed: 8)
        #expect(reports.map(\.epoch) == [2, 3])
        #expect(reports.map(\.trainLoss.bitPattern) == expected.dropFirst().map(\.trainLoss.bitPattern))
        #expect(reports.map(\.learningRate) == expected.dropFirst().map(\.learningRate))
        #expect(try resumed.model.stateDict() == whole.model.stateDict())
        // Resuming the same mid-epoch checkpoint with other batching is refused rather than silently wrong.
        let other = try make(seed: 1, inputSize: 1)
        try other.loadCheckpoint(from: file)
        #expect(throws: RecurrentError.self) { try other.fit(data, epochs: 3, batchSize: 5, shuffleSeed: 8) }
    }

    @Test func mismatchedCheckpointsAreRefused() throws {
        let file = url("mismatch.safetensors")
        defer { try? FileManager.default.removeItem(at: file) }
        let adam = try make(seed: 1)
        try adam.saveCheckpoint(to: file)
        let sgd = try make(seed: 1, sgd: true)
        let weightsBefore = try sgd.model.stateDict()
        do {
            try sgd.loadCheckpoint(from: file)
            Issue.record("an Adam checkpoint loaded into SGD")
        } catch let error as RecurrentError {
            #expect(error.description == "\(file.path): the checkpoint holds adam state; this trainer's optimizer is sgd")
        }
        #expect(try sgd.model.stateDict() == weightsBefore)
        // A weights-only file is not a checkpoint.
        try adam.model.saveWeights(to: file)
        do {
            try adam.loadCheckpoint(from: file)
            Issue.record("a weights file loaded as a checkpoint")
        } catch let error as RecurrentError {
            #expect(error.description.contains("not a RecurrentKit checkpoint"))
        }
    }
}
