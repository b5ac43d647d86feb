// A linear learning-rate warm-up over the first optimizer steps, composable with the callbacks
// that change the rate later (ReduceLROnPlateau).
import Foundation

/// Raises the learning rate linearly from `startFactor` × its value to its full value over the
/// first `steps` optimizer steps: the rate of step k (1-based) is base · (s + (1 − s)(k − 1)/n)
/// for k ≤ n + 1. It works as PyTorch's `LinearLR(start_factor=s, total_iters=n)` stepped after
/// every batch, in its chained form: each step multiplies the current rate by the factor's
/// ratio, so whatever else scales the rate (ReduceLROnPlateau) keeps its effect.
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

    /// Multiplies the optimizer's current rate by `startFactor` (the rate of the first step).
    public init(_ optimizer: any Optimizer, steps: Int, startFactor: Float = 0.1) throws {
        guard steps >= 1, startFactor > 0, startFactor <= 1 else {
            throw RecurrentError.invalidArgument(name: "LinearWarmup", expected: "steps ≥ 1 and start factor in (0, 1]",
                                                 got: "steps \(steps), start factor \(startFactor)")
        }
        self.optimizer = optimizer
        self.steps = steps
        self.startFactor = startFactor
        optimizer.learningRate *= startFactor
    }

    private func factor(_ k: Int) -> Double {
        Double(startFactor) + (1 - Double(startFactor)) * Double(min(k, steps)) / Double(steps)
    }

    public func batchDidEnd(_ trainer: Trainer, loss: Tensor) throws {
        guard stepsDone < steps else { return }
        stepsDone += 1
        optimizer.learningRate = Float(Double(optimizer.learningRate) * factor(stepsDone) / factor(stepsDone - 1))
    }

    public func state() throws -> CallbackState { CallbackState(values: ["steps_done": Double(stepsDone)]) }

    public func restore(_ state: CallbackState) throws { stepsDone = Int(try state.value("steps_done", of: "LinearWarmup")) }
}
