// PyTorch's ReduceLROnPlateau: lower the learning rate when a monitored quantity stalls.
import Foundation

/// Multiplies the learning rate by `factor` when `monitor` has not improved for more than
/// `patience` epochs (PyTorch's `torch.optim.lr_scheduler.ReduceLROnPlateau`, same rules).
///
/// Improvement (mode min): `value < best · (1 − threshold)` with the relative threshold mode,
/// `value < best − threshold` with the absolute one (mode max mirrors it). After a reduction
/// `cooldown` epochs pass in which bad epochs are not counted. The rate never goes below
/// `minimumLearningRate`, and a change smaller than `epsilon` is not made.
public final class ReduceLROnPlateau: TrainingCallback {
    /// How `threshold` is compared: relative to the best value or absolute.
    public enum ThresholdMode: String, Sendable {
        /// Improvement means beating best · (1 ∓ threshold) (PyTorch's `rel`).
        case relative = "rel"
        /// Improvement means beating best ∓ threshold (PyTorch's `abs`).
        case absolute = "abs"
    }

    /// The optimizer whose learning rate is lowered.
    public let optimizer: any Optimizer
    /// The metric watched, such as `val_loss`.
    public let monitor: String
    /// Whether lower (`.min`) or higher (`.max`) values of `monitor` are better.
    public let mode: MonitorMode
    /// The factor the rate is multiplied by on a plateau, in [0, 1).
    public let factor: Float
    /// Epochs without improvement tolerated before the rate is lowered.
    public let patience: Int
    /// How much better than the best a value must be to count as an improvement.
    public let threshold: Float
    /// Whether `threshold` is relative to the best value or absolute.
    public let thresholdMode: ThresholdMode
    /// Epochs after a reduction during which no further reduction is made.
    public let cooldown: Int
    /// The rate is never lowered below this.
    public let minimumLearningRate: Float
    /// A reduction smaller than this is not made (PyTorch's `eps`).
    public let epsilon: Float
    public var stateKey: String { "reduce_lr_on_plateau" }

    /// The best value of `monitor` seen so far (±infinity before the first epoch).
    public private(set) var best: Float
    /// Epochs without improvement, and epochs of cooldown left.
    public private(set) var badEpochs = 0, cooldownLeft = 0
    /// Epochs seen, and the reductions made so far.
    public private(set) var epochsSeen = 0, reductions = 0

    /// Makes the callback with PyTorch's defaults; throws when `factor` is outside [0, 1) or a
    /// count, threshold or minimum rate is negative.
    public init(_ optimizer: any Optimizer, monitor: String = "val_loss", mode: MonitorMode = .min, factor: Float = 0.1,
                patience: Int = 10, threshold: Float = 1e-4, thresholdMode: ThresholdMode = .relative, cooldown: Int = 0,
                minimumLearningRate: Float = 0, epsilon: Float = 1e-8) throws {
        guard factor < 1, factor >= 0 else {
            throw RecurrentError.invalidArgument(name: "ReduceLROnPlateau factor", expected: "in [0, 1)", got: "\(factor)")
        }
        guard patience >= 0, cooldown >= 0, threshold >= 0, minimumLearningRate >= 0 else {
            throw RecurrentError.invalidArgument(name: "ReduceLROnPlateau", expected: "patience, cooldown, threshold and min lr ≥ 0",
                                                 got: "patience \(patience), cooldown \(cooldown), threshold \(threshold), min lr \(minimumLearningRate)")
        }
        self.optimizer = optimizer
        self.monitor = monitor; self.mode = mode; self.factor = factor; self.patience = patience
        self.threshold = threshold; self.thresholdMode = thresholdMode; self.cooldown = cooldown
        self.minimumLearningRate = minimumLearningRate; self.epsilon = epsilon
        best = mode == .min ? .infinity : -.infinity
    }

    private func isBetter(_ a: Float, than best: Float) -> Bool {
        switch (mode, thresholdMode) {
        case (.min, .relative): return a < best * (1 - threshold)
        case (.min, .absolute): return a < best - threshold
        case (.max, .relative): return a > best * (threshold + 1)
        case (.max, .absolute): return a > best + threshold
        }
    }

    /// One epoch's value of the monitored quantity (what `epochDidEnd` passes on; also for use
    /// without `Trainer`, as PyTorch's `scheduler.step(metric)`).
    public func step(_ value: Float) {
        epochsSeen += 1
        if isBetter(value, than: best) {
            best = value
            badEpochs = 0
        } else {
            badEpochs += 1
        }
        if cooldownLeft > 0 {
            cooldownLeft -= 1
            badEpochs = 0
        }
        if badEpochs > patience {
            let old = optimizer.learningRate, new = max(old * factor, minimumLearningRate)
            if old - new > epsilon {
                optimizer.learningRate = new
                reductions += 1
            }
            cooldownLeft = cooldown
            badEpochs = 0
        }
    }

    public func epochDidEnd(_ trainer: Trainer, report: EpochReport) throws {
        step(try report.monitored(monitor, by: "ReduceLROnPlateau"))
    }

    public func state() throws -> CallbackState {
        CallbackState(values: ["best": Double(best), "bad_epochs": Double(badEpochs), "cooldown_left": Double(cooldownLeft),
                               "epochs_seen": Double(epochsSeen), "reductions": Double(reductions)])
    }

    public func restore(_ state: CallbackState) throws {
        let name = "ReduceLROnPlateau"
        best = Float(try state.value("best", of: name))
        badEpochs = Int(try state.value("bad_epochs", of: name))
        cooldownLeft = Int(try state.value("cooldown_left", of: name))
        epochsSeen = Int(try state.value("epochs_seen", of: name))
        reductions = Int(try state.value("reductions", of: name))
    }
}
