// Callbacks and schedulers: EarlyStopping on scripted loss sequences (Keras's rules),
// ReduceLROnPlateau, ExponentialLR, LinearLR and OneCycleLR against PyTorch (schedulers.json),
// a training run with warm-up and ReduceLROnPlateau against PyTorch (train_plateau_warmup.json),
// metrics, and kill-and-resume with callbacks, bitwise.
// N = sequences, T = time steps, F = features.

import Foundation
import Testing
import TestSupport
@testable import RecurrentKit

@Suite struct CallbackTests {
    /// A one-layer model and trainer for driving callbacks by hand.
    private static func tinyTrainer() throws -> Trainer {
        let backend = TestDevice.backend
        let model = try Sequential([("fc", Linear(2, 1, on: backend, rng: RandomSource(seed: 1)))])
        return Trainer(model: model, loss: MSELoss(), optimizer: try SGD(model.parameters, learningRate: 0.1), on: backend)
    }

    private static func report(_ epoch: Int, _ value: Float, monitor: String = "val_loss") -> EpochReport {
        var r = EpochReport(epoch: epoch, trainLoss: monitor == "loss" ? value : 0, validationLoss: monitor == "val_loss" ? value : nil,
                            learningRate: 0, seconds: 0, sequencesPerSecond: 0)
        if monitor != "loss" && monitor != "val_loss" { r.metrics[monitor] = value; r.validationLoss = 0 }
        return r
    }

    /// Feeds `values` (epochs 1, 2, …) until the callback stops training; returns the epoch it stopped after (0: never).
    private static func stopEpoch(_ stopping: EarlyStopping, _ values: [Float], monitor: String = "val_loss") throws -> Int {
        let trainer = try tinyTrainer()
        for (k, v) in values.enumerated() {
            try stopping.epochDidEnd(trainer, report: report(k + 1, v, monitor: monitor))
            if trainer.stopRequested { return k + 1 }
        }
        return 0
    }

    // MARK: - EarlyStopping (Keras's rules)

    @Test func earlyStoppingFollowsKeras() throws {
        // patience 2: best at epoch 2, two epochs without improvement, stop after epoch 4.
        let a = try EarlyStopping(patience: 2)
        #expect(try Self.stopEpoch(a, [1.0, 0.8, 0.85, 0.9, 0.7]) == 4)
        #expect(a.bestEpoch == 2 && a.best == 0.8 && a.stoppedEpoch == 4)
        // min delta 0.1: 0.95 is no improvement on 1.0, 0.85 is (0.85 + 0.1 < 1.0); then two epochs without.
        let b = try EarlyStopping(minDelta: 0.1, patience: 2)
        #expect(try Self.stopEpoch(b, [1.0, 0.95, 0.85, 0.84, 0.83, 0.5]) == 5)
        #expect(b.bestEpoch == 3)
        // patience 0 stops at the first epoch without improvement (never in the first epoch).
        #expect(try Self.stopEpoch(try EarlyStopping(patience: 0), [1.0, 1.1, 0.5]) == 2)
        #expect(try Self.stopEpoch(try EarlyStopping(patience: 0), [1.0, 0.9, 0.8]) == 0)
        // "auto" watches accuracy upwards.
        let up = try EarlyStopping(monitor: "val_accuracy", patience: 1)
        #expect(up.mode == .max)
        #expect(try Self.stopEpoch(up, [0.5, 0.6, 0.6, 0.7], monitor: "val_accuracy") == 3)
        // A baseline not beaten: improvements do not reset the wait, but an improving epoch never stops.
        let base = try EarlyStopping(patience: 2, baseline: 0.5)
        #expect(try Self.stopEpoch(base, [0.9, 0.8, 0.8, 0.8]) == 3)
        // Epochs before startFromEpoch are not watched.
        let late = try EarlyStopping(patience: 1, startFromEpoch: 2)
        #expect(try Self.stopEpoch(late, [1.0, 2.0, 3.0, 4.0, 5.0]) == 4)
        #expect(late.bestEpoch == 3)
    }

    @Test func earlyStoppingRestoresTheBestWeights() throws {
        let trainer = try Self.tinyTrainer()
        let stopping = try EarlyStopping(patience: 1, restoreBestWeights: true)
        var snapshots: [[String: HostTensor]] = []
        for (k, v) in [Float(0.9), 0.5, 0.7, 0.6].enumerated() {
            // Each epoch leaves other weights: fc.weight = [k, −k].
            try trainer.model.loadStateDict(["fc.weight": try HostTensor(shape: [1, 2], values: [Float(k), -Float(k)]),
                                             "fc.bias": try HostTensor(shape: [1], values: [Float(k)])])
            snapshots.append(try trainer.model.stateDict())
            try stopping.epochDidEnd(trainer, report: Self.report(k + 1, v))
            if trainer.stopRequested { break }
        }
        #expect(stopping.stoppedEpoch == 3 && stopping.bestEpoch == 2)
        #expect(try trainer.model.stateDict() == snapshots[1])
    }

    @Test func monitorsThatDoNotExistAreNamed() throws {
        let trainer = try Self.tinyTrainer()
        let stopping = try EarlyStopping(monitor: "val_los")
        do {
            try stopping.epochDidEnd(trainer, report: Self.report(1, 1))
            Issue.record("an unknown monitor was accepted")
        } catch let error as RecurrentError {
            #expect(error.description.contains("'val_los'") && error.description.contains("val_loss"))
        }
        #expect(throws: RecurrentError.self) { try ReduceLROnPlateau(trainer.optimizer, factor: 1.5) }
        #expect(throws: RecurrentError.self) { try EarlyStopping(patience: -1) }
    }

    // MARK: - Schedulers against PyTorch

    @Test func schedulersMatchPyTorch() throws {
        let fixture = try Fixture("schedulers.json")
        let cases = try #require(fixture.meta["cases"] as? [String: [String: Any]])
        #expect(cases.count == 8)
        for (name, c) in cases.sorted(by: { $0.key < $1.key }) {
            let expected = try #require(c["lrs"] as? [Double])
            let optimizer = try Self.tinyTrainer().optimizer
            func number(_ key: String) throws -> Float { Float(try #require(c[key] as? Double ?? (c[key] as? Int).map(Double.init))) }
            var lrs: [Float] = []
            if name.hasPrefix("plateau") {
                let metrics = try #require(c["metrics"] as? [Double])
                let plateau = try ReduceLROnPlateau(
                    optimizer, mode: try #require(MonitorMode(rawValue: c["mode"] as? String ?? "")), factor: number("factor"),
                    patience: Int(number("patience")), threshold: number("threshold"),
                    thresholdMode: try #require(ReduceLROnPlateau.ThresholdMode(rawValue: c["threshold_mode"] as? String ?? "")),
                    cooldown: Int(number("cooldown")), minimumLearningRate: number("min_lr"))
                lrs.append(optimizer.learningRate)
                for m in metrics { plateau.step(Float(m)); lrs.append(optimizer.learningRate) }
            } else {
                let scheduler: any LearningRateScheduler
                switch name {
                case "exponential": scheduler = try ExponentialLR(optimizer, gamma: number("gamma"))
                case "linear":
                    scheduler = try LinearLR(optimizer, startFactor: number("start_factor"), endFactor: number("end_factor"),
                                             totalIterations: Int(number("total_iters")))
                default:
                    let annealing = try #require(OneCycleLR.Annealing(rawValue: c["anneal_strategy"] as? String ?? ""))
                    scheduler = try OneCycleLR(optimizer, maxRate: number("max_lr"), totalSteps: Int(number("total_steps")),
                                               percentStart: number("pct_start"), annealing: annealing, divFactor: number("div_factor"),
                                               finalDivFactor: number("final_div_factor"), threePhase: c["three_phase"] as? Bool ?? false)
                    #expect(scheduler.interval == .step)
                }
                lrs.append(optimizer.learningRate)
                for _ in 1..<expected.count { try scheduler.step(); lrs.append(optimizer.learningRate) }
                if let allowed = c["steps_allowed"] as? Int {
                    // PyTorch takes `allowed` steps and raises on the next one; so does this, naming the limit,
                    // and a refused step changes nothing.
                    while scheduler.epoch < allowed { try scheduler.step() }
                    let rate = optimizer.learningRate
                    #expect(throws: RecurrentError.self, "\(name)") { try scheduler.step() }
                    do { try scheduler.step() } catch { #expect("\(error)".contains("at most \(allowed) steps"), "\(error)") }
                    #expect(scheduler.epoch == allowed && optimizer.learningRate == rate, "\(name)")
                }
            }
            #expect(lrs.count == expected.count, "\(name)")
            for (k, (mine, theirs)) in zip(lrs, expected).enumerated() {
                #expect(abs(Double(mine) - theirs) <= 1e-7 + 1e-5 * abs(theirs), "\(name) position \(k): \(mine) vs PyTorch \(theirs)")
            }
        }
    }

    // MARK: - A trajectory against PyTorch

    /// Records the learning rate of every step (runs first among the callbacks).
    private final class RateRecorder: TrainingCallback {
        var stateKey: String { "rate_recorder" }
        var rates: [Float] = []
        func batchWillBegin(_ trainer: Trainer) throws { rates.append(trainer.optimizer.learningRate) }
        func state() throws -> CallbackState { CallbackState() }
        func restore(_ state: CallbackState) throws {}
    }

    @Test func warmupAndPlateauTrajectoryMatchesPyTorch() throws {
        let fixture = try Fixture("train_plateau_warmup.json")
        let backend = TestDevice.backend
        let rng = RandomSource(seed: 5)
        let rnn = try fixture.makeRecurrentNetwork(on: backend, rng: rng)
        let model = try Sequential([("rnn", rnn), ("last", LastTimeStep()), ("fc", Linear(rnn.hiddenSize, 1, on: backend, rng: rng))])
        try model.loadStateDict(try fixture.stateDict(prefix: "initial."), strict: true)
        func dataset(_ x: String, _ y: String) throws -> SequenceDataset {
            let input = try fixture.tensor(x)   // (N, T, F)
            return try SequenceDataset(inputs: input.data, targets: fixture.data(y), count: input.shape[0], sequenceLength: input.shape[1],
                                       featureCount: input.shape[2], targetLayout: .perSequence([1]))
        }
        let train = try dataset("train_x", "train_y"), validation = try dataset("val_x", "val_y")
        let optimizer = try Adam(model.parameters, learningRate: fixture.float("lr"))
        let trainer = Trainer(model: model, loss: MSELoss(), optimizer: optimizer, on: backend)
        trainer.clipNorm = try fixture.float("clip_norm")
        let recorder = RateRecorder()
        trainer.callbacks = [recorder,
                             try LinearWarmup(optimizer, steps: fixture.int("warmup_steps"), startFactor: fixture.float("warmup_start_factor")),
                             try ReduceLROnPlateau(optimizer, factor: fixture.float("plateau_factor"), patience: fixture.int("plateau_patience"),
                                                   threshold: fixture.float("plateau_threshold"))]
        var losses: [Float] = []
        let reports = try trainer.fit(train, validation: validation, epochs: fixture.int("epochs"), batchSize: fixture.int("batch"),
                                      onBatch: { losses.append((try? $0.loss.item()) ?? .nan) })
        func close(_ mine: [Float], _ theirs: [Float], _ what: String) {
            #expect(mine.count == theirs.count, "\(what): \(mine.count) values, PyTorch \(theirs.count)")
            for (k, (a, b)) in zip(mine, theirs).enumerated() {
                #expect(abs(a - b) <= 1e-5 + 1e-4 * abs(b), "\(what) at step \(k + 1): \(a) vs PyTorch \(b)")
            }
        }
        close(recorder.rates, try fixture.data("learning_rates"), "learning rate")
        close(losses, try fixture.data("losses"), "loss")
        close(reports.compactMap(\.validationLoss), try fixture.data("val_losses"), "validation loss")
    }

    // MARK: - Warm-up with a scheduler

    /// A linear head over the last step of 12 sequences (3 steps, 2 features): 3 batches of 4 per epoch.
    private static func warmupRun(_ configure: (Trainer) throws -> Void, epochs: Int = 3) throws -> [Float] {
        let backend = TestDevice.backend
        let model = try Sequential([("last", LastTimeStep()), ("fc", Linear(2, 1, on: backend, rng: RandomSource(seed: 3)))])
        let x = (0..<72).map { Float(($0 * 7) % 11) / 11 - 0.5 }, y = (0..<12).map { Float($0 % 3) / 3 }
        let data = try SequenceDataset(inputs: x, targets: y, count: 12, sequenceLength: 3, featureCount: 2, targetLayout: .perSequence([1]))
        let trainer = Trainer(model: model, loss: MSELoss(), optimizer: try SGD(model.parameters, learningRate: 0.1), on: backend)
        let recorder = RateRecorder()
        trainer.callbacks = [recorder]
        try configure(trainer)
        _ = try trainer.fit(data, epochs: epochs, batchSize: 4)
        return recorder.rates
    }

    @Test func warmupMultipliesAnEpochScheduler() throws {
        // PyTorch's chained LinearLR (per batch) and ExponentialLR (per epoch): lr = 0.1 · 0.5^epoch · (0.2 + 0.8 min(k, 5) / 5).
        let rates = try Self.warmupRun { trainer in
            trainer.scheduler = try ExponentialLR(trainer.optimizer, gamma: 0.5)
            trainer.callbacks.append(try LinearWarmup(trainer.optimizer, steps: 5, startFactor: 0.2))
        }
        #expect(rates.count == 9)
        for (j, rate) in rates.enumerated() {
            let expected = 0.1 * pow(0.5, Double(j / 3)) * (0.2 + 0.8 * Double(min(j, 5)) / 5)
            #expect(abs(Double(rate) - expected) <= 1e-6 * expected, "step \(j + 1): \(rate) vs \(expected)")
        }
    }

    @Test func warmupMultipliesOneCycle() throws {
        let reference = try Self.tinyTrainer().optimizer
        let cycle = try OneCycleLR(reference, maxRate: 0.5, totalSteps: 9)
        var cycleRates = [Double(reference.learningRate)]
        for _ in 1..<9 { try cycle.step(); cycleRates.append(Double(reference.learningRate)) }
        let rates = try Self.warmupRun { trainer in
            trainer.scheduler = try OneCycleLR(trainer.optimizer, maxRate: 0.5, totalSteps: 9)
            trainer.callbacks.append(try LinearWarmup(trainer.optimizer, steps: 4, startFactor: 0.5))
        }
        #expect(rates.count == 9)
        for (j, rate) in rates.enumerated() {
            let expected = cycleRates[j] * (0.5 + 0.5 * Double(min(j, 4)) / 4)
            #expect(abs(Double(rate) - expected) <= 1e-6 * expected, "step \(j + 1): \(rate) vs \(expected)")
        }
    }

    @Test func schedulerMadeAfterTheWarmupIsRefused() throws {
        do {
            _ = try Self.warmupRun { trainer in
                trainer.callbacks.append(try LinearWarmup(trainer.optimizer, steps: 5, startFactor: 0.2))
                trainer.scheduler = try ExponentialLR(trainer.optimizer, gamma: 0.5)
            }
            Issue.record("expected an error for a scheduler made after the warm-up")
        } catch {
            #expect("\(error)".contains("made before the warm-up"), "\(error)")
        }
    }

    // MARK: - Metrics

    @Test func metricsOfAKnownBatch() throws {
        var accumulator = MetricAccumulator()
        // 3 rows of 2 class scores; targets 1, 0, −100 (ignored): the first is right, the second wrong.
        try accumulator.add(prediction: [0.1, 0.9, 0.2, 0.8, 5, 1], shape: [3, 2], target: [1, 0, -100], metrics: [.accuracy])
        #expect(accumulator.results([.accuracy], loss: 0)["val_accuracy"] == 0.5)
        var regression = MetricAccumulator()
        try regression.add(prediction: [1, 2, 3, 4], shape: [4, 1], target: [1, 0, 3, 8], metrics: [.meanAbsoluteError, .rootMeanSquaredError])
        let r = regression.results([.meanAbsoluteError, .rootMeanSquaredError, .perplexity], loss: 1)
        #expect(r["val_mae"] == 1.5 && abs(r["val_rmse"]! - Float(5).squareRoot()) < 1e-6 && abs(r["val_perplexity"]! - Float(M_E)) < 1e-6)
        #expect(throws: RecurrentError.self) {
            try regression.add(prediction: [1, 2], shape: [2, 1], target: [1, 0], metrics: [.accuracy])
        }
    }

    @Test func fitReportsMetrics() throws {
        let data = try SyntheticData.sineWaves(count: 24, length: 6, seed: 3)
        let (train, validation) = try data.split(validationFraction: 0.25)
        let trainer = try CheckpointedRun.make(seed: 1)
        trainer.metrics = [.meanAbsoluteError, .rootMeanSquaredError]
        let report = try #require(try trainer.fit(train, validation: validation, epochs: 1, batchSize: 6).last)
        let mse = try #require(report.validationLoss)
        // Dropout is off in evaluation, so the RMSE is the root of the validation MSE.
        #expect(abs(report.metrics["val_rmse"]! - mse.squareRoot()) <= 1e-5 * max(1, mse.squareRoot()))
        #expect(report.metrics["val_mae"]! <= report.metrics["val_rmse"]! + 1e-6)
    }

    // MARK: - Kill and resume

    /// A run with warm-up, OneCycle-free plateau schedule and early stopping with restored weights.
    enum CheckpointedRun {
        static func make(seed: UInt64, loss: any Loss = MSELoss()) throws -> Trainer {
            let backend = TestDevice.backend
            let rng = RandomSource(seed: seed)
            let model = try Sequential([("rnn", GRU(inputSize: 1, hiddenSize: 5, numLayers: 2, dropout: 0.2, on: backend, rng: rng)),
                                        ("last", LastTimeStep()), ("fc", Linear(5, 1, on: backend, rng: rng))])
            let optimizer = try Adam(model.parameters, learningRate: 0.05)
            let trainer = Trainer(model: model, loss: loss, optimizer: optimizer, on: backend)
            trainer.clipNorm = 1
            trainer.callbacks = [try LinearWarmup(optimizer, steps: 7, startFactor: 0.2),
                                 try ReduceLROnPlateau(optimizer, factor: 0.5, patience: 0, threshold: 0.05),
                                 try EarlyStopping(minDelta: 0.001, patience: 2, restoreBestWeights: true)]
            return trainer
        }
    }

    /// A run dies in epoch 3 (checkpoints every 3 steps); a fresh trainer with other initial weights
    /// resumes from the last checkpoint: same epochs, losses, learning rates, stopping epoch and final
    /// (restored) weights, bit for bit.
    @Test func killAndResumeWithCallbacksIsBitwise() throws {
        let data = try SyntheticData.sineWaves(count: 48, length: 6, seed: 4)
        let (train, validation) = try data.split(validationFraction: 0.25)   // 36 training: 6 batches of 6 per epoch
        let whole = try CheckpointedRun.make(seed: 1)
        let expected = try whole.fit(train, validation: validation, epochs: 30, batchSize: 6, shuffleSeed: 2)
        let stopping = try #require(whole.callbacks.last as? EarlyStopping)
        #expect(stopping.stoppedEpoch > 0 && stopping.stoppedEpoch < 30, "the run should stop early (stopped: \(stopping.stoppedEpoch))")
        #expect(Set(expected.map(\.learningRate)).count >= 2, "the plateau schedule should lower the rate")

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("callbacks-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: file) }
        let dying = try CheckpointedRun.make(seed: 1, loss: CrashingLoss(crashAt: 6 * 2 + 5 + 2 * 2 + 1))   // step 17, after two validations
        dying.checkpointURL = file
        dying.checkpointEverySteps = 3
        #expect(throws: RecurrentError.self) { try dying.fit(train, validation: validation, epochs: 30, batchSize: 6, shuffleSeed: 2) }

        let resumed = try CheckpointedRun.make(seed: 77)
        try resumed.loadCheckpoint(from: file)
        #expect(resumed.completedEpochs == 2 && resumed.batchesDoneInEpoch == 3)
        resumed.checkpointURL = file
        let rest = try resumed.fit(train, validation: validation, epochs: 30, batchSize: 6, shuffleSeed: 2)
        #expect(rest.map(\.epoch) == expected.dropFirst(2).map(\.epoch))
        #expect(rest.map(\.trainLoss.bitPattern) == expected.dropFirst(2).map(\.trainLoss.bitPattern))
        #expect(rest.map { $0.validationLoss!.bitPattern } == expected.dropFirst(2).map { $0.validationLoss!.bitPattern })
        #expect(rest.map(\.learningRate.bitPattern) == expected.dropFirst(2).map(\.learningRate.bitPattern))
        #expect((resumed.callbacks.last as? EarlyStopping)?.stoppedEpoch == stopping.stoppedEpoch)
        let a = try whole.model.stateDict(), b = try resumed.model.stateDict()
        for name in a.keys { #expect(a[name]!.values.map(\.bitPattern) == b[name]!.values.map(\.bitPattern), "\(name)") }
        // A stopped run stays stopped when resumed from its last checkpoint.
        let final = try CheckpointedRun.make(seed: 3)
        try final.loadCheckpoint(from: file)
        #expect(final.stopRequested)
        #expect(try final.fit(train, validation: validation, epochs: 30, batchSize: 6, shuffleSeed: 2).isEmpty)
        // A trainer with other callbacks is refused, naming both sets.
        let plain = try CheckpointedRun.make(seed: 1)
        plain.callbacks.removeLast()
        #expect(throws: RecurrentError.self) { try plain.loadCheckpoint(from: file) }
    }
}
