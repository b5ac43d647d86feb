/// Updates parameters from their accumulated gradients. Frozen parameters are skipped and get no state.
public protocol Optimizer: AnyObject {
    /// The learning rate of the next `step()`; schedulers set it.
    var learningRate: Float { get set }
    /// The parameters this optimizer updates.
    var parameters: [Parameter] { get }
    /// Applies one update to every parameter that is not frozen; frozen parameters' state is dropped.
    func step() throws
    /// Whether the optimizer holds state (moments, momentum buffer) for `parameter`.
    func hasState(for parameter: Parameter) -> Bool
    /// The state of the named parameters, under PyTorch's slot names (`exp_avg`, `exp_avg_sq`,
    /// `momentum_buffer`), with their step counts.
    func state(of named: [(name: String, parameter: Parameter)]) throws -> OptimizerState
    /// Restores state saved by `state(of:)` for the same names and shapes.
    func restore(_ state: OptimizerState, for named: [(name: String, parameter: Parameter)]) throws
}

/// An optimizer's state on the host, for checkpoints.
public struct OptimizerState: Sendable, Equatable {
    /// The optimizer's kind ("sgd", "adam").
    public var kind: String
    public var learningRate: Float
    /// Updates applied to each parameter, by parameter name.
    public var steps: [String: Int]
    /// Slot tensors by "parameter name.slot".
    public var tensors: [String: HostTensor]

    public init(kind: String, learningRate: Float, steps: [String: Int], tensors: [String: HostTensor]) {
        self.kind = kind; self.learningRate = learningRate; self.steps = steps; self.tensors = tensors
    }

    /// The slot tensor for a parameter, checked against its shape.
    func slot(_ name: String, _ slot: String, shape: [Int]) throws -> HostTensor {
        guard let t = tensors["\(name).\(slot)"] else {
            throw RecurrentError.invalidArgument(name: "optimizer state", expected: "'\(name).\(slot)'", got: "no such tensor")
        }
        try RecurrentError.check("optimizer state \(name).\(slot)", shape: t.shape, equals: shape)
        return t
    }

    func checkKind(_ expected: String) throws {
        guard kind == expected else {
            throw RecurrentError.invalidArgument(name: "optimizer state", expected: "state of \(expected)", got: "state of \(kind)")
        }
    }
}

extension Optimizer {
    /// Zeroes the gradients of all parameters (PyTorch's `zero_grad`).
    public func zeroGradients() throws { try Parameter.zeroGradients(of: parameters) }
}

/// Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay
/// (PyTorch's `torch.optim.SGD`, same update order).
public final class SGD: Optimizer {
    public var learningRate: Float
    public let momentum: Float, dampening: Float, weightDecay: Float, nesterov: Bool

    public init(_ parameters: [Parameter], learningRate: Float, momentum: Float = 0, dampening: Float = 0,
                weightDecay: Float = 0, nesterov: Bool = false) throws {
        try checkHyperparameter("learning rate", learningRate, learningRate >= 0, "≥ 0")
        try checkHyperparameter("momentum", momentum, momentum >= 0, "≥ 0")
        try checkHyperparameter("weight decay", weightDecay, weightDecay >= 0, "≥ 0")
        if nesterov && (momentum <= 0 || dampening != 0) {
            throw RecurrentError.invalidArgument(name: "Nesterov momentum", expected: "momentum > 0 and dampening 0",
                                                 got: "momentum \(momentum), dampening \(dampening)")
        }
        try Parameter.flatten(parameters)
        self.learningRate = learningRate
        self.momentum = momentum; self.dampening = dampening; self.weightDecay = weightDecay; self.nesterov = nesterov
        // State is made now (for parameters frozen now: when first updated), so that the first
        // step sizes every buffer and later steps allocate nothing.
        slots = OptimizerSlots(parameters, slotCount: momentum != 0 ? 1 : 0)
        try slots.keepState(for: Set(parameters.filter { !$0.isFrozen }.map(ObjectIdentifier.init)))
    }

    /// Step counts and the momentum buffers, flat.
    private let slots: OptimizerSlots

    public var parameters: [Parameter] { slots.parameters }

    public func hasState(for parameter: Parameter) -> Bool { slots.hasState(parameter) }

    public func state(of named: [(name: String, parameter: Parameter)]) throws -> OptimizerState {
        var steps: [String: Int] = [:], tensors: [String: HostTensor] = [:]
        for (name, p) in named {
            guard let count = slots.steps[ObjectIdentifier(p)] else { continue }
            steps[name] = count
            if slots.slotCount > 0, count > 0 { tensors[name + ".momentum_buffer"] = try slots.slot(0, of: p).toHost() }
        }
        return OptimizerState(kind: "sgd", learningRate: learningRate, steps: steps, tensors: tensors)
    }

    public func restore(_ state: OptimizerState, for named: [(name: String, parameter: Parameter)]) throws {
        try state.checkKind("sgd")
        let buffers = try named.compactMap { name, p -> (Parameter, Int, HostTensor?)? in
            guard let steps = state.steps[name] else { return nil }
            return (p, steps, slots.slotCount > 0 && steps > 0 ? try state.slot(name, "momentum_buffer", shape: p.shape) : nil)
        }
        try slots.restore(named.map(\.parameter), from: buffers.map { ($0.0, $0.1, [$0.2].compactMap { $0 }) })
        learningRate = state.learningRate
    }

    public func step() throws {
        try slots.step { span, slots, steps in
            try span.value.backend.sgdUpdate(span.value, gradient: span.gradient, momentumBuffer: slots.first,
                                             SGDHyperparameters(learningRate: learningRate, momentum: momentum, dampening: dampening,
                                                                weightDecay: weightDecay, nesterov: nesterov, isFirstStep: steps == 0))
        }
    }
}

/// Adam (Kingma & Ba 2015) with PyTorch's `torch.optim.Adam` update and, with
/// `decoupledWeightDecay`, AdamW (Loshchilov & Hutter 2019).
public class Adam: Optimizer {
    public var learningRate: Float
    public let beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float
    /// AdamW's decay `p ← p·(1 − lr·wd)` instead of Adam's L2 term `g ← g + wd·p`.
    public let decoupledWeightDecay: Bool
    /// Step counts and the moments m and v, flat.
    private let slots: OptimizerSlots

    /// PyTorch's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.
    public init(_ parameters: [Parameter], learningRate: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
                epsilon: Float = 1e-8, weightDecay: Float = 0, decoupledWeightDecay: Bool = false) throws {
        try checkHyperparameter("learning rate", learningRate, learningRate >= 0, "≥ 0")
        try checkHyperparameter("beta1", betas.0, betas.0 >= 0 && betas.0 < 1, "in [0, 1)")
        try checkHyperparameter("beta2", betas.1, betas.1 >= 0 && betas.1 < 1, "in [0, 1)")
        try checkHyperparameter("epsilon", epsilon, epsilon >= 0, "≥ 0")
        try checkHyperparameter("weight decay", weightDecay, weightDecay >= 0, "≥ 0")
        try Parameter.flatten(parameters)
        self.learningRate = learningRate
        self.beta1 = betas.0; self.beta2 = betas.1; self.epsilon = epsilon
        self.weightDecay = weightDecay; self.decoupledWeightDecay = decoupledWeightDecay
        // State is made now (for parameters frozen now: when first updated), so that the first
        // step sizes every buffer and later steps allocate nothing.
        slots = OptimizerSlots(parameters, slotCount: 2)
        try slots.keepState(for: Set(parameters.filter { !$0.isFrozen }.map(ObjectIdentifier.init)))
    }

    public var parameters: [Parameter] { slots.parameters }

    public func hasState(for parameter: Parameter) -> Bool { slots.hasState(parameter) }

    public func state(of named: [(name: String, parameter: Parameter)]) throws -> OptimizerState {
        var steps: [String: Int] = [:], tensors: [String: HostTensor] = [:]
        for (name, p) in named {
            guard let count = slots.steps[ObjectIdentifier(p)] else { continue }
            steps[name] = count
            tensors[name + ".exp_avg"] = try slots.slot(0, of: p).toHost()
            tensors[name + ".exp_avg_sq"] = try slots.slot(1, of: p).toHost()
        }
        return OptimizerState(kind: "adam", learningRate: learningRate, steps: steps, tensors: tensors)
    }

    public func restore(_ state: OptimizerState, for named: [(name: String, parameter: Parameter)]) throws {
        try state.checkKind("adam")
        let moments = try named.compactMap { name, p -> (Parameter, Int, [HostTensor])? in
            guard let steps = state.steps[name] else { return nil }
            return (p, steps, [try state.slot(name, "exp_avg", shape: p.shape), try state.slot(name, "exp_avg_sq", shape: p.shape)])
        }
        try slots.restore(named.map(\.parameter), from: moments)
        learningRate = state.learningRate
    }

    public func step() throws {
        try slots.step { span, slots, steps in
            try span.value.backend.adamUpdate(span.value, gradient: span.gradient, m: slots[0], v: slots[1],
                                              AdamHyperparameters(learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
                                                                  weightDecay: weightDecay, decoupledWeightDecay: decoupledWeightDecay,
                                                                  step: steps + 1))
        }
    }
}

/// AdamW: Adam with decoupled weight decay; PyTorch's `torch.optim.AdamW` defaults (weight decay 0.01).
public final class AdamW: Adam {
    public init(_ parameters: [Parameter], learningRate: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
                epsilon: Float = 1e-8, weightDecay: Float = 1e-2) throws {
        try super.init(parameters, learningRate: learningRate, betas: betas, epsilon: epsilon, weightDecay: weightDecay,
                       decoupledWeightDecay: true)
    }
}

func checkHyperparameter(_ name: String, _ value: Float, _ ok: Bool, _ expected: String) throws {
    guard ok, value.isFinite else { throw RecurrentError.invalidArgument(name: name, expected: expected, got: "\(value)") }
}
