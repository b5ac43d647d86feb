// Trainer callbacks: hooks `Trainer.fit` calls around every batch and after every epoch, each
// with a state that checkpoints carry, so a resumed run stops and schedules exactly as one that
// never stopped. EarlyStopping, ReduceLROnPlateau and LinearWarmup are built on it.
import Foundation

/// A callback's state for checkpoints: numbers (stored exactly) and tensors (weights it keeps).
public struct CallbackState: Sendable, Equatable {
    /// Numbers by name, stored exactly (counters, best values, learning rates).
    public var values: [String: Double]
    /// Tensors by name (for example the best weights EarlyStopping keeps).
    public var tensors: [String: HostTensor]

    /// A state with the given numbers and tensors.
    public init(values: [String: Double] = [:], tensors: [String: HostTensor] = [:]) {
        self.values = values
        self.tensors = tensors
    }

    /// The value called `name`; the error names the callback and what is missing.
    public func value(_ name: String, of callback: String) throws -> Double {
        guard let v = values[name] else {
            throw RecurrentError.invalidArgument(name: "\(callback) state", expected: "a value '\(name)'", got: "none")
        }
        return v
    }
}

/// Something `Trainer.fit` calls around every batch and after every epoch (Keras's `Callback`).
/// Callbacks run in the order of `Trainer.callbacks`; every hook has an empty default.
public protocol TrainingCallback: AnyObject {
    /// This callback's name in checkpoints, unique among a trainer's callbacks.
    var stateKey: String { get }
    /// Before each training step (a warm-up sets the step's learning rate here).
    func batchWillBegin(_ trainer: Trainer) throws
    /// After each training step, with the batch's loss (a device scalar: reading it costs a copy).
    func batchDidEnd(_ trainer: Trainer, loss: Tensor) throws
    /// After each epoch's validation and metrics; may call `trainer.requestStop()`.
    func epochDidEnd(_ trainer: Trainer, report: EpochReport) throws
    /// What a checkpoint keeps of this callback.
    func state() throws -> CallbackState
    /// Restores `state()` from a checkpoint.
    func restore(_ state: CallbackState) throws
}

extension TrainingCallback {
    public func batchWillBegin(_ trainer: Trainer) throws {}
    public func batchDidEnd(_ trainer: Trainer, loss: Tensor) throws {}
    public func epochDidEnd(_ trainer: Trainer, report: EpochReport) throws {}
}

/// Whether a monitored quantity should fall (losses) or rise (accuracy).
public enum MonitorMode: String, Sendable {
    /// Lower is better (losses).
    case min
    /// Higher is better (accuracy).
    case max
    /// Keras's "auto": max for names containing "acc", else min.
    public static func automatic(for monitor: String) -> MonitorMode { monitor.contains("acc") ? .max : .min }
}

extension EpochReport {
    /// The quantity a callback monitors, by Keras's names: "loss", "val_loss", or a metric
    /// ("val_accuracy", "val_mae", "val_rmse", "val_perplexity", "perplexity").
    public func value(_ name: String) -> Float? {
        switch name {
        case "loss": return trainLoss
        case "val_loss": return validationLoss
        default: return metrics[name]
        }
    }

    /// The monitored value; a clear error when the report has no such quantity.
    func monitored(_ name: String, by callback: String) throws -> Float {
        guard let v = value(name) else {
            let known = (["loss"] + (validationLoss == nil ? [] : ["val_loss"]) + metrics.keys.sorted()).joined(separator: ", ")
            throw RecurrentError.invalidArgument(
                name: "\(callback) monitor", expected: "a quantity the epoch reports (\(known))",
                got: "'\(name)'" + (name.hasPrefix("val_") && validationLoss == nil ? " (fit was given no validation set)" : ""))
        }
        return v
    }
}
