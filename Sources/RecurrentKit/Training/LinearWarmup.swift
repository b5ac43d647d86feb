// A linear learning-rate warm-up over the first optimizer steps, composable with the callbacks
// that change the rate later (ReduceLROnPlateau).
import Foundation

/// Raises the learning rate linearly from `startFactor` × its value to its full value over the
/// first `steps` optimizer steps: the rate of step k (1-based) is base · (s + (1 − s)(k − 1)/n)
/// for k ≤ n + 1. It works as PyTorch's `LinearLR(start_factor=s, total_iters=n)` stepped after
/// every batch, in its chained form: each step multiplies the current rate by the factor's
/// ratio, so whatever else scales the rate (ReduceLROnPlateau) keeps its effect.
///
/// With `Trainer.scheduler` (StepLR, ExponentialLR, OneCycleLR …) the rate is the product of the
/// two, as PyTorch's chained schedulers give (LinearLR stepped per batch, ExponentialLR per
/// epoch: lr = base · γ^epoch · warm-up factor): whenever the scheduler sets its closed form (at
/// an epoch's end, or after every step for OneCycleLR), the warm-up multiplies it by its current
/// factor. Make the scheduler first and the warm-up second: a scheduler made after the warm-up
/// would take the lowered rate as its base, and training refuses to start with a clear error.
public final class LinearWarmup: TrainingCallback {
    /// The optimizer whose learning rate is warmed up.
    public let optimizer: any Optimizer
    /// Optimizer steps the warm-up lasts.
    public let steps: Int
    /// The fraction of the full rate used at the first step, in (0, 1].
    public let startFactor: Float
    public var stateKey: String { "linear_warmup" }
    /// Warm-up steps done.
    public private(set) var stepsDone = 0
    /// The optimizer's rate when the warm-up was made: the rate it rises to.
    private let fullRate: Float

    /// Multiplies the optimizer's current rate by `startFactor` (the rate of the first step).
    public init(_ optimizer: any Optimizer, steps: Int, startFactor: Float = 0.1) throws {
        guard steps >= 1, startFactor > 0, startFactor <= 1 else {
            throw RecurrentError.invalidArgument(name: "LinearWarmup", expected: "steps ≥ 1 and start factor in (0, 1]",
                                                 got: "steps \(steps), start factor \(startFactor)")
        }
        self.optimizer = optimizer
        self.steps = steps
        self.startFactor = startFactor
        self.fullRate = optimizer.learningRate
        optimizer.learningRate *= startFactor
    }

    private func factor(_ k: Int) -> Double {
        Double(startFactor) + (1 - Double(startFactor)) * Double(min(k, steps)) / Double(steps)
    }

    /// Refuses an epoch scheduler whose base rate is the warmed-down one (made after the warm-up).
    public func batchWillBegin(_ trainer: Trainer) throws {
        guard stepsDone == 0, startFactor < 1, let scheduler = trainer.scheduler as? ClosedFormScheduler, scheduler.interval == .epoch,
              scheduler.baseLearningRate == fullRate * startFactor else { return }
        throw RecurrentError.invalidArgument(
            name: "LinearWarmup with \(type(of: scheduler))",
            expected: "the scheduler made before the warm-up (its base rate the full \(fullRate))",
            got: "a scheduler made after it, whose base rate is the warm-up's first rate \(scheduler.baseLearningRate)")
    }

    public func batchDidEnd(_ trainer: Trainer, loss: Tensor) throws {
        guard stepsDone < steps else { return }
        stepsDone += 1
        if trainer.scheduler?.interval == .step {
            // The scheduler has just set its closed form for this step: scale it.
            optimizer.learningRate = Float(Double(optimizer.learningRate) * factor(stepsDone))
        } else {
            optimizer.learningRate = Float(Double(optimizer.learningRate) * factor(stepsDone) / factor(stepsDone - 1))
        }
    }

    /// An epoch scheduler has set its closed form at the epoch's end: scale it while the warm-up lasts.
    public func epochDidEnd(_ trainer: Trainer, report: EpochReport) throws {
        guard stepsDone < steps, trainer.scheduler?.interval == .epoch else { return }
        optimizer.learningRate = Float(Double(optimizer.learningRate) * factor(stepsDone))
    }

    public func state() throws -> CallbackState { CallbackState(values: ["steps_done": Double(stepsDone)]) }

    public func restore(_ state: CallbackState) throws { stepsDone = Int(try state.value("steps_done", of: "LinearWarmup")) }
}
