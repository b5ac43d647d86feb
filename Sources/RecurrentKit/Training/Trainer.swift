import Foundation

/// What one epoch of `Trainer.fit` measured.
public struct EpochReport: Sendable {
    /// 1-based epoch number.
    public var epoch: Int
    /// Mean training loss over the epoch's samples (batches weighted by size).
    public var trainLoss: Float
    /// Mean validation loss, when a validation set was given.
    public var validationLoss: Float?
    /// Learning rate used during the epoch.
    public var learningRate: Float
    /// Wall-clock seconds of the epoch (training and validation).
    public var seconds: Double
    /// Training sequences per second.
    public var sequencesPerSecond: Double
    /// The trainer's `metrics` on the validation set, by `Metric.reportName` ("val_mae" …).
    public var metrics: [String: Float] = [:]

    /// A report with the given figures; `seconds`, `sequencesPerSecond` and `metrics` default to none.
    public init(epoch: Int, trainLoss: Float, validationLoss: Float? = nil, learningRate: Float, seconds: Double = 0,
                sequencesPerSecond: Double = 0, metrics: [String: Float] = [:]) {
        self.epoch = epoch; self.trainLoss = trainLoss; self.validationLoss = validationLoss; self.learningRate = learningRate
        self.seconds = seconds; self.sequencesPerSecond = sequencesPerSecond; self.metrics = metrics
    }
}

/// Where `Trainer.fit` is within an epoch, after each batch: for progress bars.
public struct BatchProgress {
    /// 1-based epoch number.
    public var epoch: Int
    /// Batches done in this epoch (1-based) and batches per epoch.
    public var batch: Int, batchesPerEpoch: Int
    /// Training sequences of this epoch so far.
    public var sequences: Int
    /// Seconds since the epoch started.
    public var seconds: Double
    /// This batch's loss, a device scalar: reading it (`item()`) costs one device-to-host copy.
    public var loss: Tensor
}

/// What `Trainer` does when a step's loss or gradients are NaN or infinite.
public enum NonFinitePolicy: Sendable, Equatable {
    /// Throw `RecurrentError.nonFinite` naming the step and the loss or first parameter at fault (default).
    case stop
    /// Leave the parameters and optimizer untouched for this step, count it and go on.
    case skipStep
    /// Do not check (saves one device-to-host read of two scalars per step).
    case ignore
}

/// A thin training loop: mini-batches of a `SequenceDataset` in a seeded order (optionally
/// bucketed by length), uploaded as sequence batches with their lengths; forward on a tape,
/// loss, backward, optional penalty and clipping, optimizer step, per-epoch scheduler step and
/// validation. Everything it does is public API, so writing your own loop is the same few calls.
public final class Trainer {
    /// The model being trained.
    public let model: any Layer
    /// The loss it is trained on.
    public let loss: any Loss
    /// The optimizer that updates its parameters.
    public let optimizer: any Optimizer
    /// The backend batches are uploaded to.
    public let backend: any Backend
    /// Clip the global gradient norm to this before each step (PyTorch's `clip_grad_norm_`).
    public var clipNorm: Float?
    /// Clamp every gradient element to ±this before each step.
    public var clipValue: Float?
    /// L1/L2 penalty added to the loss and gradients.
    public var penalty: WeightPenalty?
    /// Stepped once per epoch, or after every optimizer step when its `interval` is `.step`.
    public var scheduler: (any LearningRateScheduler)?
    /// Called by `fit` around every batch and after every epoch, in this order; checkpoints carry their state.
    public var callbacks: [any TrainingCallback] = []
    /// Measured on the validation set after every epoch, into `EpochReport.metrics`.
    public var metrics: [Metric] = []
    /// Set by `requestStop()` (EarlyStopping): `fit` returns after the epoch under way. Checkpoints
    /// keep it, so a resumed run that had stopped stays stopped; set it to false to train on.
    public var stopRequested = false
    /// Averages gradients across data-parallel workers (RecurrentDistributed's MPI reducer), or nil.
    public var gradientReducer: (any GradientReducer)?
    /// What to do with a non-finite loss or gradient; checked every step unless `.ignore`.
    public var nonFinitePolicy: NonFinitePolicy = .stop
    /// Training steps run so far (`trainStep` calls), skipped ones included.
    public internal(set) var steps = 0
    /// Steps skipped by `.skipStep`.
    public internal(set) var skippedSteps = 0
    /// The global L2 norm of the gradients of each checked step, before clipping: the first thing
    /// to look at when training diverges (exploding gradients show as a climbing curve).
    public internal(set) var gradientNorms: [Float] = []
    /// Epochs `fit` has finished.
    public internal(set) var completedEpochs = 0
    /// Batches `fit` has finished in the epoch under way (0 between epochs).
    public internal(set) var batchesDoneInEpoch = 0
    /// The layout batches are uploaded in (time-major by default); the model reads it from each batch.
    public var batchLayout: SequenceLayout = .timeMajor
    /// Whether `fit` batches samples of similar length together (`SequenceDataset.batchIndices`).
    public var bucketByLength = false
    /// Where `fit` writes checkpoints (atomically), or nil for none.
    public var checkpointURL: URL?
    /// `fit` writes a checkpoint after every this many steps (0: only at the end of each epoch).
    public var checkpointEverySteps = 0

    /// Σ batch loss × batch size of the epoch under way, and the `fit` arguments the cursor belongs to.
    var epochLossSum: Float = 0
    var cursorArguments: (batchSize: Int, shuffleSeed: UInt64)?

    /// A trainer of `model` against `loss`; batches are uploaded to `backend`.
    public init(model: any Layer, loss: any Loss, optimizer: any Optimizer, on backend: any Backend) {
        self.model = model
        self.loss = loss
        self.optimizer = optimizer
        self.backend = backend
    }

    /// One optimisation step on a batch of sequences; returns the loss (a device scalar, not read back).
    @discardableResult
    public func trainStep(input: SequenceBatch, target: Tensor) throws -> Tensor {
        try trainStep(input: .sequence(input), target: target)
    }

    /// One optimisation step on any model input; returns the loss (a device scalar, not read back).
    /// A step that fails before the update (device memory ran out, a shape was wrong) leaves the
    /// counters and dropout streams as they were, so it can be retried as if never begun.
    @discardableResult
    public func trainStep(input: LayerValue, target: Tensor) throws -> Tensor {
        let (stepsBefore, randomBefore) = (steps, model.randomState)
        do {
            return try step(input: input, target: target)
        } catch let error as RecurrentError {
            if case .nonFinite = error { throw error }
            steps = stepsBefore
            model.randomState = randomBefore
            throw error
        }
    }

    private func step(input: LayerValue, target: Tensor) throws -> Tensor {
        steps += 1
        try optimizer.zeroGradients()
        let tape = Tape()
        let prediction = try model.forward(input, tape: tape)
        let value = try loss.forward(prediction, target)
        try tape.backward(prediction.data, gradient: loss.backward())
        if let penalty { try penalty.apply(to: model.parameters, loss: value) }
        if let gradientReducer { try gradientReducer.averageGradients(model.trainableParameters) }
        var norm: GradientNorm? = nil
        if nonFinitePolicy != .ignore {
            let checked = try GradientClipping.norm(of: model.parameters)
            if let problem = try nonFiniteProblem(loss: value, norm: checked) {
                if nonFinitePolicy == .stop { throw RecurrentError.nonFinite(step: steps, detail: problem) }
                skippedSteps += 1
                try optimizer.zeroGradients()
                return value
            }
            norm = checked
        }
        if let clipValue {
            try GradientClipping.clipValue(model.parameters, clipValue: clipValue)
            norm = nil   // the gradients changed
        }
        if let clipNorm { try GradientClipping.clipNorm(model.parameters, maxNorm: clipNorm, norm: norm) }
        try optimizer.step()
        return value
    }

    /// Asks `fit` to stop after the epoch under way (Keras's `model.stop_training = True`).
    public func requestStop() { stopRequested = true }

    /// Mean loss over `data` in evaluation mode (dropout off), in batches of `batchSize`.
    public func evaluate(_ data: SequenceDataset, batchSize: Int) throws -> Float {
        try evaluate(data, batchSize: batchSize, metrics: []).loss
    }

    /// Mean loss and `metrics` over `data` in evaluation mode, in batches of `batchSize`; the
    /// predictions are read back only when a metric needs them.
    public func evaluate(_ data: SequenceDataset, batchSize: Int, metrics: [Metric]) throws -> (loss: Float, metrics: [String: Float]) {
        let wasTraining = model.isTraining
        model.eval()
        defer { model.isTraining = wasTraining }
        let total = try Tensor.zeros([], on: backend)
        var accumulator = MetricAccumulator()
        let needsPredictions = metrics.contains { $0 != .perplexity }
        for start in stride(from: 0, to: data.count, by: batchSize) {
            let (input, target) = try data.upload(Array(start..<min(start + batchSize, data.count)), layout: batchLayout, on: backend)
            let prediction = try model.forward(input)
            let value = try loss.forward(prediction, target)
            try backend.axpy(total, alpha: Float(input.batchSize), value)
            if needsPredictions {
                try accumulator.add(prediction: prediction.data.toArray(), shape: prediction.data.shape, target: target.toArray(), metrics: metrics)
            }
        }
        let mean = try total.item() / Float(data.count)
        return (mean, accumulator.results(metrics, loss: mean))
    }

    /// Trains until `epochs` epochs are complete in all (as Keras's `epochs`: after resuming from a
    /// checkpoint taken in epoch 3, `fit(epochs: 5)` finishes epoch 3, then runs 4 and 5). The sample
    /// order of epoch e is a Philox permutation of (`shuffleSeed`, e). Writes checkpoints to
    /// `checkpointURL` if set. Calls `onBatch` after each batch and `onEpoch` after each epoch, and
    /// returns the reports of this call. Around every batch and after every epoch's validation it
    /// calls the `callbacks`; it stops early once one calls `requestStop()`.
    ///
    /// With a `gradientReducer`, `batchSize` is the global batch: each of the W workers trains on its
    /// equal share (a batch's last `count % W` samples are left out), only worker 0 writes
    /// checkpoints, and the reported losses are over all workers.
    @discardableResult
    public func fit(_ train: SequenceDataset, validation: SequenceDataset? = nil, epochs: Int, batchSize: Int,
                    shuffleSeed: UInt64 = 0, onBatch: ((BatchProgress) -> Void)? = nil,
                    onEpoch: ((EpochReport) -> Void)? = nil) throws -> [EpochReport] {
        guard epochs >= 1, batchSize >= 1 else {
            throw RecurrentError.invalidArgument(name: "epochs and batch size", expected: "at least 1 each",
                                                 got: "epochs \(epochs), batch size \(batchSize)")
        }
        if let previous = cursorArguments, batchesDoneInEpoch > 0, previous != (batchSize, shuffleSeed) {
            throw RecurrentError.invalidArgument(
                name: "fit arguments", expected: "batch size \(previous.batchSize) and shuffle seed \(previous.shuffleSeed) to resume the epoch under way",
                got: "batch size \(batchSize), shuffle seed \(shuffleSeed)")
        }
        cursorArguments = (batchSize, shuffleSeed)
        var reports: [EpochReport] = []
        while completedEpochs < epochs && !stopRequested {
            let epoch = completedEpochs + 1
            let started = Date()
            let learningRate = optimizer.learningRate
            model.train()
            let batches = train.batchIndices(batchSize: batchSize, shuffleSeed: shuffleSeed, epoch: epoch, bucketByLength: bucketByLength)
            // Σ batch loss × batch size, read once per epoch (and at checkpoints).
            let total = try Tensor.zeros([], on: backend, value: batchesDoneInEpoch > 0 ? epochLossSum : 0)
            var samplesSeen = 0
            for (index, global) in batches.enumerated().dropFirst(batchesDoneInEpoch) {
                batchesDoneInEpoch = index + 1
                guard let indices = share(of: global) else { continue }
                samplesSeen += indices.count
                let (input, target) = try train.upload(indices, layout: batchLayout, on: backend)
                for callback in callbacks { try callback.batchWillBegin(self) }
                let value = try trainStep(input: input, target: target)
                try backend.axpy(total, alpha: Float(input.batchSize), value)
                if let scheduler, scheduler.interval == .step { try scheduler.step() }
                for callback in callbacks { try callback.batchDidEnd(self, loss: value) }
                onBatch?(BatchProgress(epoch: epoch, batch: index + 1, batchesPerEpoch: batches.count, sequences: samplesSeen,
                                       seconds: Date().timeIntervalSince(started), loss: value))
                if checkpointEverySteps > 0, steps % checkpointEverySteps == 0, index + 1 < batches.count {
                    epochLossSum = try total.item()
                    try writeCheckpointIfWorkerZero()
                }
            }
            var trainLoss = try total.item() / Float(train.count)
            if let gradientReducer {
                let seen = try gradientReducer.sum(Double(samplesSeen))
                trainLoss = Float(try gradientReducer.sum(Double(try total.item())) / max(seen, 1))
            }
            if let scheduler, scheduler.interval == .epoch { try scheduler.step() }
            completedEpochs += 1
            batchesDoneInEpoch = 0
            epochLossSum = 0
            let trainSeconds = Date().timeIntervalSince(started)
            let evaluation = try validation.map { try evaluate($0, batchSize: batchSize, metrics: metrics) }
            var report = EpochReport(epoch: epoch, trainLoss: trainLoss, validationLoss: evaluation?.loss, learningRate: learningRate,
                                     seconds: Date().timeIntervalSince(started),
                                     sequencesPerSecond: Double(train.count) / max(trainSeconds, 1e-9), metrics: evaluation?.metrics ?? [:])
            if metrics.contains(.perplexity) { report.metrics["perplexity"] = Float(Foundation.exp(Double(trainLoss))) }
            // Callbacks see the epoch before the checkpoint, so the checkpoint holds what they decided.
            for callback in callbacks { try callback.epochDidEnd(self, report: report) }
            try writeCheckpointIfWorkerZero()
            reports.append(report)
            onEpoch?(report)
        }
        return reports
    }

    /// This worker's equal share of a global batch (all of it without a reducer); nil when the
    /// batch has fewer samples than workers.
    private func share(of global: [Int]) -> [Int]? {
        guard let r = gradientReducer, r.workerCount > 1 else { return global }
        let each = global.count / r.workerCount
        guard each > 0 else { return nil }
        return Array(global[(r.workerIndex * each)..<((r.workerIndex + 1) * each)])
    }

    private func writeCheckpointIfWorkerZero() throws {
        guard let checkpointURL, (gradientReducer?.workerIndex ?? 0) == 0 else { return }
        try saveCheckpoint(to: checkpointURL)
    }

    /// Records the gradient norm; returns what is not finite (the loss, or the first parameter
    /// in `namedParameters` order whose gradient holds a NaN or infinity), or nil.
    private func nonFiniteProblem(loss value: Tensor, norm gradientNorm: GradientNorm) throws -> String? {
        let trainable = model.namedParameters.filter { !$0.parameter.isFrozen }
        let lossValue = try value.item(), norm = try gradientNorm.value()
        gradientNorms.append(norm)
        if !lossValue.isFinite { return "the loss is \(lossValue)" }
        guard !norm.isFinite else { return nil }
        for (name, p) in trainable {
            let g = try p.gradient.toArray()
            if let i = g.firstIndex(where: { !$0.isFinite }) {
                return "the gradient of \(name) is not finite (element \(i) of \(g.count) is \(g[i]))"
            }
        }
        return nil   // every element finite: the sum of squares overflowed, the norm is just huge
    }
}
