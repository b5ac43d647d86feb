import Foundation

/// When `Trainer` steps a scheduler: once per epoch (StepLR, ExponentialLR …) or after every
/// optimizer step (OneCycleLR), as PyTorch's documentation has each one called.
public enum ScheduleInterval: String, Sendable {
    /// Once after every epoch.
    case epoch
    /// After every optimizer step.
    case step
}

/// Sets an optimizer's learning rate by epoch (or step: call `step()` as often as you like).
/// The rate at epoch e is a closed form of the base rate the optimizer had when the scheduler was made.
public protocol LearningRateScheduler: AnyObject {
    /// Epochs (calls of `step()`) so far.
    var epoch: Int { get }
    /// Whether `Trainer` calls `step()` per epoch or per optimizer step.
    var interval: ScheduleInterval { get }
    /// Advances one epoch and sets the optimizer's learning rate for it; throws past the end of a
    /// schedule that has one (OneCycleLR), as PyTorch raises.
    func step() throws
    /// Sets the position to `epoch` and the optimizer's learning rate to the one for it (resuming).
    func restore(epoch: Int) throws
}

extension LearningRateScheduler {
    /// Per epoch, unless a scheduler says otherwise.
    public var interval: ScheduleInterval { .epoch }
}

/// A schedule given by a closed form of (base rate, epoch): the shared machinery of the schedulers.
public class ClosedFormScheduler: LearningRateScheduler {
    /// The optimizer whose learning rate is scheduled.
    public let optimizer: any Optimizer
    /// Per epoch (default) or per optimizer step.
    public let interval: ScheduleInterval
    /// The optimizer's learning rate when the scheduler was made.
    public let baseLearningRate: Float
    /// Epochs stepped so far.
    public private(set) var epoch = 0
    /// The last position the schedule defines (nil: it goes on for ever).
    public let lastPosition: Int?
    private let rate: (Double, Int) -> Double

    init(_ optimizer: any Optimizer, interval: ScheduleInterval = .epoch, lastPosition: Int? = nil,
         rate: @escaping (_ base: Double, _ epoch: Int) -> Double) {
        self.optimizer = optimizer
        self.interval = interval
        self.lastPosition = lastPosition
        self.baseLearningRate = optimizer.learningRate
        self.rate = rate
    }

    /// Moves to the next epoch and sets its learning rate; throws past `lastPosition`.
    public func step() throws { try restore(epoch: epoch + 1) }

    /// Sets the learning rate of `epoch` (as after `epoch` calls to `step`), for resuming; throws
    /// (and changes nothing) when `epoch` lies past `lastPosition`.
    public func restore(epoch: Int) throws {
        if let lastPosition, epoch > lastPosition {
            let unit = interval == .step ? "steps" : "epochs"
            throw RecurrentError.invalidArgument(
                name: "\(type(of: self)) position", expected: "at most \(lastPosition) \(unit) (the schedule's length; make it longer to train on)",
                got: "step \(epoch)")
        }
        self.epoch = epoch
        optimizer.learningRate = Float(rate(Double(baseLearningRate), epoch))
    }
}

/// PyTorch's `StepLR`: lr = base · γ^⌊epoch / stepSize⌋.
public final class StepLR: ClosedFormScheduler {
    /// Epochs between decays.
    public let stepSize: Int
    /// The factor applied at each decay.
    public let gamma: Float

    /// Multiplies the learning rate by `gamma` every `stepSize` epochs (PyTorch's `StepLR`).
    public init(_ optimizer: any Optimizer, stepSize: Int, gamma: Float = 0.1) throws {
        guard stepSize >= 1 else { throw RecurrentError.invalidArgument(name: "step size", expected: "at least 1", got: "\(stepSize)") }
        self.stepSize = stepSize
        self.gamma = gamma
        super.init(optimizer) { base, epoch in base * Foundation.pow(Double(gamma), Double(epoch / stepSize)) }
    }
}

/// PyTorch's `CosineAnnealingLR` (Loshchilov & Hutter 2017, without restarts):
/// lr = η_min + (base − η_min)·(1 + cos(π·epoch / T_max)) / 2.
public final class CosineAnnealingLR: ClosedFormScheduler {
    /// T_max: epochs of one half cosine.
    public let maxEpochs: Int
    /// η_min: the learning rate at the end of the half cosine.
    public let minimumLearningRate: Float

    /// Anneals the learning rate along a cosine from its initial value to `minimumLearningRate` over
    /// `maxEpochs` epochs (PyTorch's `CosineAnnealingLR`).
    public init(_ optimizer: any Optimizer, maxEpochs: Int, minimumLearningRate: Float = 0) throws {
        guard maxEpochs >= 1 else { throw RecurrentError.invalidArgument(name: "T_max", expected: "at least 1", got: "\(maxEpochs)") }
        self.maxEpochs = maxEpochs
        self.minimumLearningRate = minimumLearningRate
        let low = Double(minimumLearningRate)
        super.init(optimizer) { base, epoch in
            low + (base - low) * (1 + Foundation.cos(Double.pi * Double(epoch) / Double(maxEpochs))) / 2
        }
    }
}
