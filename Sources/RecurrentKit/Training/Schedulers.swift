// More of PyTorch's learning-rate schedulers, as closed forms of the position (epochs, or
// optimizer steps for OneCycleLR): ExponentialLR, LinearLR and OneCycleLR. Each sets the
// optimizer's rate for position 0 when made, as PyTorch's constructors do.
import Foundation

/// PyTorch's `ExponentialLR`: lr = base · γ^epoch.
public final class ExponentialLR: ClosedFormScheduler {
    /// The factor applied per epoch, > 0.
    public let gamma: Float

    /// Sets `optimizer`'s rate for epoch 0; throws unless `gamma` is positive and finite.
    public init(_ optimizer: any Optimizer, gamma: Float) throws {
        guard gamma > 0, gamma.isFinite else { throw RecurrentError.invalidArgument(name: "gamma", expected: "> 0", got: "\(gamma)") }
        self.gamma = gamma
        super.init(optimizer) { base, epoch in base * Foundation.pow(Double(gamma), Double(epoch)) }
        try restore(epoch: 0)
    }
}

/// PyTorch's `LinearLR`: the rate's factor moves linearly from `startFactor` to `endFactor` over
/// `totalIterations` positions, then stays: lr = base · (s + (e − s) · min(epoch, n) / n).
/// With `interval: .step` it is a linear warm-up over the first n optimizer steps.
public final class LinearLR: ClosedFormScheduler {
    /// The factor at position 0, in (0, 1].
    public let startFactor: Float
    /// The factor from position `totalIterations` on, in [0, 1].
    public let endFactor: Float
    /// Positions (epochs, or steps with `interval: .step`) over which the factor moves.
    public let totalIterations: Int

    /// Sets `optimizer`'s rate for position 0; throws when a factor or the count is out of range.
    public init(_ optimizer: any Optimizer, startFactor: Float = 1.0 / 3, endFactor: Float = 1, totalIterations: Int = 5,
                interval: ScheduleInterval = .epoch) throws {
        guard startFactor > 0, startFactor <= 1, endFactor >= 0, endFactor <= 1 else {
            throw RecurrentError.invalidArgument(name: "LinearLR factors", expected: "start in (0, 1] and end in [0, 1]",
                                                 got: "start \(startFactor), end \(endFactor)")
        }
        guard totalIterations >= 1 else {
            throw RecurrentError.invalidArgument(name: "total iterations", expected: "at least 1", got: "\(totalIterations)")
        }
        self.startFactor = startFactor
        self.endFactor = endFactor
        self.totalIterations = totalIterations
        let (s, e, n) = (Double(startFactor), Double(endFactor), Double(totalIterations))
        super.init(optimizer, interval: interval) { base, epoch in base * (s + (e - s) * min(Double(epoch), n) / n) }
        try restore(epoch: 0)
    }
}

/// PyTorch's `OneCycleLR` (Smith & Topin 2018), stepped after every optimizer step: from
/// maxRate / divFactor up to `maxRate` over the first `percentStart` of `totalSteps`, then down
/// to maxRate / (divFactor · finalDivFactor), by cosine (default) or linear annealing; with
/// `threePhase` it comes back to the initial rate before the final descent. The momentum is not
/// cycled (PyTorch's `cycle_momentum=False`). Stepping past `totalSteps` throws, as PyTorch raises
/// ("Tried to step N times"): a cycle sized for fewer steps than the training has is a mistake.
public final class OneCycleLR: ClosedFormScheduler {
    /// How the rate moves between a phase's ends.
    public enum Annealing: String, Sendable {
        /// Half a cosine between the phase's ends (PyTorch's `cos`).
        case cosine = "cos"
        /// A straight line between the phase's ends.
        case linear
    }

    /// The peak learning rate.
    public let maxRate: Float
    /// Optimizer steps in the whole cycle.
    public let totalSteps: Int
    /// The fraction of `totalSteps` spent rising to `maxRate`, in (0, 1).
    public let percentStart: Float
    /// How the rate moves within a phase.
    public let annealing: Annealing
    /// The initial rate is maxRate / divFactor.
    public let divFactor: Float
    /// The final rate is the initial rate / finalDivFactor.
    public let finalDivFactor: Float
    /// Whether the rate comes back to the initial rate before the final descent.
    public let threePhase: Bool

    /// Sets `optimizer`'s rate for step 0; throws when a size or factor is out of range.
    public init(_ optimizer: any Optimizer, maxRate: Float, totalSteps: Int, percentStart: Float = 0.3,
                annealing: Annealing = .cosine, divFactor: Float = 25, finalDivFactor: Float = 1e4, threePhase: Bool = false) throws {
        guard maxRate > 0, totalSteps >= 1, percentStart > 0, percentStart < 1, divFactor > 0, finalDivFactor > 0 else {
            throw RecurrentError.invalidArgument(
                name: "OneCycleLR", expected: "max rate > 0, total steps ≥ 1, percent start in (0, 1), div factors > 0",
                got: "max rate \(maxRate), total steps \(totalSteps), percent start \(percentStart), div \(divFactor), final div \(finalDivFactor)")
        }
        self.maxRate = maxRate; self.totalSteps = totalSteps; self.percentStart = percentStart; self.annealing = annealing
        self.divFactor = divFactor; self.finalDivFactor = finalDivFactor; self.threePhase = threePhase
        let top = Double(maxRate), initial = top / Double(divFactor), low = initial / Double(finalDivFactor)
        let total = Double(totalSteps), pct = Double(percentStart)
        // (end step, start rate, end rate) of each phase, as PyTorch's `_schedule_phases`.
        let phases: [(end: Double, from: Double, to: Double)] = threePhase
            ? [(pct * total - 1, initial, top), (2 * pct * total - 2, top, initial), (total - 1, initial, low)]
            : [(pct * total - 1, initial, top), (total - 1, top, low)]
        super.init(optimizer, interval: .step, lastPosition: totalSteps) { _, step in
            let s = Double(min(step, totalSteps))
            var start = 0.0
            for (k, phase) in phases.enumerated() {
                if s <= phase.end || k == phases.count - 1 {
                    let fraction = (s - start) / (phase.end - start)
                    switch annealing {
                    case .cosine: return phase.to + (phase.from - phase.to) / 2 * (Foundation.cos(Double.pi * fraction) + 1)
                    case .linear: return (phase.to - phase.from) * fraction + phase.from
                    }
                }
                start = phase.end
            }
            return low
        }
        try restore(epoch: 0)
    }
}
