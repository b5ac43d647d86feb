// Keras's EarlyStopping: stop when a monitored quantity has not improved for `patience` epochs,
// optionally restoring the weights of the best epoch.
import Foundation

/// Stops training when `monitor` has stopped improving (Keras's `EarlyStopping`, same rules).
///
/// After each epoch: an improvement is `value + minDelta < best` (mode min) or `value − minDelta >
/// best` (mode max); it resets the wait (unless a `baseline` is set and not beaten). Otherwise the
/// wait grows, and once it reaches `patience` (never in the first epoch) training stops — and with
/// `restoreBestWeights` the model gets the weights of the best epoch back (those of the first
/// monitored epoch if none improved on the baseline). Epochs before `startFromEpoch` are not watched.
public final class EarlyStopping: TrainingCallback {
    /// The metric watched, such as `val_loss` or `loss` (Keras's `monitor`).
    public let monitor: String
    /// Whether lower (`.min`) or higher (`.max`) values of `monitor` are better.
    public let mode: MonitorMode
    /// The smallest change that counts as an improvement (Keras's `min_delta`), kept non-negative.
    public let minDelta: Float
    /// Epochs without improvement after which training stops.
    public let patience: Int
    /// A value the monitored metric must beat before an epoch counts as an improvement; nil: none.
    public let baseline: Float?
    /// Whether stopping puts back the weights of the best epoch.
    public let restoreBestWeights: Bool
    /// Epochs (0-based count) to train before the metric is watched (Keras's `start_from_epoch`).
    public let startFromEpoch: Int
    public var stateKey: String { "early_stopping" }

    /// Epochs without improvement so far.
    public private(set) var wait = 0
    /// The best value seen and its 1-based epoch (0: none yet).
    public private(set) var best: Float, bestEpoch = 0
    /// The 1-based epoch training stopped after (0: not stopped).
    public private(set) var stoppedEpoch = 0
    private var bestWeights: [String: HostTensor]?

    /// Makes the callback; `mode` nil picks `.max` for accuracy-like names and `.min` otherwise.
    /// Throws when `patience` or `startFromEpoch` is negative or `minDelta` is not finite.
    public init(monitor: String = "val_loss", minDelta: Float = 0, patience: Int = 0, mode: MonitorMode? = nil,
                baseline: Float? = nil, restoreBestWeights: Bool = false, startFromEpoch: Int = 0) throws {
        guard patience >= 0, startFromEpoch >= 0, minDelta.isFinite else {
            throw RecurrentError.invalidArgument(name: "EarlyStopping", expected: "patience ≥ 0, start epoch ≥ 0, finite min delta",
                                                 got: "patience \(patience), start epoch \(startFromEpoch), min delta \(minDelta)")
        }
        self.monitor = monitor
        self.mode = mode ?? .automatic(for: monitor)
        self.minDelta = abs(minDelta)
        self.patience = patience
        self.baseline = baseline
        self.restoreBestWeights = restoreBestWeights
        self.startFromEpoch = startFromEpoch
        best = self.mode == .min ? .infinity : -.infinity
    }

    private func isImprovement(_ value: Float, over reference: Float) -> Bool {
        mode == .min ? value + minDelta < reference : value - minDelta > reference
    }

    public func epochDidEnd(_ trainer: Trainer, report: EpochReport) throws {
        let current = try report.monitored(monitor, by: "EarlyStopping")
        let epoch = report.epoch - 1   // Keras counts from 0
        guard epoch >= startFromEpoch else { return }
        if restoreBestWeights && bestWeights == nil { bestWeights = try trainer.model.stateDict() }
        wait += 1
        if isImprovement(current, over: best) {
            best = current
            bestEpoch = report.epoch
            if restoreBestWeights { bestWeights = try trainer.model.stateDict() }
            if baseline.map({ isImprovement(current, over: $0) }) ?? true { wait = 0 }
            return
        }
        if wait >= patience && epoch > 0 {
            stoppedEpoch = report.epoch
            trainer.requestStop()
            if restoreBestWeights, let bestWeights { try trainer.model.loadStateDict(bestWeights, strict: true) }
        }
    }

    public func state() throws -> CallbackState {
        var tensors: [String: HostTensor] = [:]
        for (name, t) in bestWeights ?? [:] { tensors["best." + name] = t }
        return CallbackState(values: ["wait": Double(wait), "best": Double(best), "best_epoch": Double(bestEpoch),
                                      "stopped_epoch": Double(stoppedEpoch), "has_best_weights": bestWeights == nil ? 0 : 1],
                             tensors: tensors)
    }

    public func restore(_ state: CallbackState) throws {
        let name = "EarlyStopping"
        wait = Int(try state.value("wait", of: name))
        best = Float(try state.value("best", of: name))
        bestEpoch = Int(try state.value("best_epoch", of: name))
        stoppedEpoch = Int(try state.value("stopped_epoch", of: name))
        if try state.value("has_best_weights", of: name) != 0 {
            var weights: [String: HostTensor] = [:]
            for (key, t) in state.tensors where key.hasPrefix("best.") { weights[String(key.dropFirst(5))] = t }
            bestWeights = weights
        } else {
            bestWeights = nil
        }
    }
}
