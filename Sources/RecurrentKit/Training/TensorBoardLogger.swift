// TensorBoard event files written by a trainer callback: scalars per step (loss, learning
// rate, gradient norm before and after clipping, skipped steps) and per epoch (losses,
// metrics), and histograms of every parameter's weights and gradients every N steps —
// by layer, the picture of vanishing and exploding gradients.
import Foundation
import RecurrentProtos
import SwiftProtobuf

/// Writes `events.out.tfevents.*` files that TensorBoard reads (`tensorboard --logdir DIR`).
///
/// Step scalars: `train/loss`, `train/learning_rate`, `train/grad_norm` and
/// `train/grad_norm_clipped` (when the trainer checks gradients), `train/skipped_steps`. Epoch
/// scalars (at the step count): `epoch/loss`, `epoch/val_loss` and each metric. Histograms every
/// `histogramEverySteps` steps: `weights/<parameter>` and `gradients/<parameter>`. Records are
/// TFRecord-framed `Event` protobufs; the file is flushed after every epoch. A resumed run opens
/// a new file in the same directory, as TensorBoard expects.
public final class TensorBoardLogger: TrainingCallback {
    public var stateKey: String { "tensorboard" }
    /// The event file being written.
    public let fileURL: URL
    /// Optimizer steps between two sets of weight and gradient histograms.
    public let histogramEverySteps: Int
    private let handle: FileHandle
    private var pending = Data()
    private var stepRate: Float = 0

    /// Creates `directory` if needed and starts an event file in it.
    public init(directory: URL, histogramEverySteps: Int = 100) throws {
        guard histogramEverySteps >= 0 else {
            throw RecurrentError.invalidArgument(name: "histogram interval", expected: "≥ 0 steps (0: none)", got: "\(histogramEverySteps)")
        }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw RecurrentError.file(path: directory.path, reason: "cannot create the TensorBoard log directory (\(error.localizedDescription))")
        }
        let host = ProcessInfo.processInfo.hostName.replacingOccurrences(of: "/", with: "_")
        let stamp = Int(Date().timeIntervalSince1970)
        var url = directory.appendingPathComponent("events.out.tfevents.\(stamp).\(host).\(getpid())")
        var n = 1
        while FileManager.default.fileExists(atPath: url.path) {   // two loggers in one second
            url = directory.appendingPathComponent("events.out.tfevents.\(stamp).\(host).\(getpid()).\(n)")
            n += 1
        }
        guard FileManager.default.createFile(atPath: url.path, contents: nil), let handle = try? FileHandle(forWritingTo: url) else {
            throw RecurrentError.file(path: url.path, reason: "cannot create the TensorBoard event file")
        }
        self.fileURL = url
        self.handle = handle
        self.histogramEverySteps = histogramEverySteps
        var first = Tensorboard_Event()
        first.wallTime = Date().timeIntervalSince1970
        first.fileVersion = "brain.Event:2"
        try append(first)
        try flush()
    }

    deinit { try? flush(); try? handle.close() }

    /// Adds scalars at `step` (buffered until `flush`).
    public func scalars(_ values: [(tag: String, value: Float)], step: Int) throws {
        try append(summary(values.map { tag, value in
            var v = Tensorboard_Summary.Value()
            v.tag = tag
            v.simpleValue = value
            return v
        }, step: step))
    }

    /// Adds a histogram of `values` at `step`: 30 equal buckets between the minimum and maximum.
    public func histogram(_ tag: String, values: [Float], step: Int) throws {
        var h = Tensorboard_HistogramProto()
        let finite = values.filter(\.isFinite).map(Double.init)
        h.num = Double(finite.count)
        h.min = finite.min() ?? 0
        h.max = finite.max() ?? 0
        h.sum = finite.reduce(0, +)
        h.sumSquares = finite.reduce(0) { $0 + $1 * $1 }
        let buckets = 30
        let width = (h.max - h.min) / Double(buckets)
        if width > 0 {
            var counts = [Double](repeating: 0, count: buckets)
            for v in finite { counts[min(Int((v - h.min) / width), buckets - 1)] += 1 }
            h.bucketLimit = (1...buckets).map { h.min + Double($0) * width }
            h.bucketLimit[buckets - 1] = h.max
            h.bucket = counts
        } else {
            h.bucketLimit = [h.max]
            h.bucket = [h.num]
        }
        var v = Tensorboard_Summary.Value()
        v.tag = tag
        v.histo = h
        try append(summary([v], step: step))
    }

    /// Writes what is buffered to the file.
    public func flush() throws {
        guard !pending.isEmpty else { return }
        do {
            try handle.seekToEnd()
            try handle.write(contentsOf: pending)
        } catch {
            throw RecurrentError.file(path: fileURL.path, reason: "cannot write the TensorBoard event file (\(error.localizedDescription))")
        }
        pending.removeAll(keepingCapacity: true)
    }

    public func batchWillBegin(_ trainer: Trainer) throws { stepRate = trainer.optimizer.learningRate }

    public func batchDidEnd(_ trainer: Trainer, loss: Tensor) throws {
        let step = trainer.steps
        var values: [(String, Float)] = [("train/loss", try loss.item()), ("train/learning_rate", stepRate),
                                         ("train/skipped_steps", Float(trainer.skippedSteps))]
        if trainer.nonFinitePolicy != .ignore, let norm = trainer.gradientNorms.last {
            values.append(("train/grad_norm", norm))
            // clip_grad_norm_ scales by max / (norm + 1e-6) when the norm is above max.
            let clipped = trainer.clipNorm.map { norm * min(1, $0 / (norm + 1e-6)) } ?? norm
            values.append(("train/grad_norm_clipped", trainer.clipValue == nil ? clipped : .nan))
        }
        try scalars(values.filter { $0.1.isFinite || $0.0 == "train/loss" }, step: step)
        if histogramEverySteps > 0, step % histogramEverySteps == 0 {
            for (name, p) in trainer.model.namedParameters {
                try histogram("weights/\(name)", values: p.value.toArray(), step: step)
                if !p.isFrozen { try histogram("gradients/\(name)", values: p.gradient.toArray(), step: step) }
            }
        }
    }

    public func epochDidEnd(_ trainer: Trainer, report: EpochReport) throws {
        var values: [(String, Float)] = [("epoch/loss", report.trainLoss)]
        if let v = report.validationLoss { values.append(("epoch/val_loss", v)) }
        for (name, v) in report.metrics.sorted(by: { $0.key < $1.key }) { values.append(("epoch/\(name)", v)) }
        try scalars(values, step: trainer.steps)
        try flush()
    }

    public func state() throws -> CallbackState { CallbackState() }
    public func restore(_ state: CallbackState) throws {}

    private func summary(_ values: [Tensorboard_Summary.Value], step: Int) -> Tensorboard_Event {
        var event = Tensorboard_Event()
        event.wallTime = Date().timeIntervalSince1970
        event.step = Int64(step)
        var s = Tensorboard_Summary()
        s.value = values
        event.summary = s
        return event
    }

    private func append(_ event: Tensorboard_Event) throws {
        pending.append(TFRecord.frame(try event.serializedData()))
    }
}
