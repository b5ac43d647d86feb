/// Anything that owns parameters: layers, stacks of layers, whole models.
public protocol Module: AnyObject {
    /// Parameters with their names relative to this module, in PyTorch's `state_dict` order
    /// (`weight_ih_l0`, `0.weight`, `lstm.bias_hh_l1`, …).
    var namedParameters: [(name: String, parameter: Parameter)] { get }
    /// Training mode: dropout is active only while this is true. New modules start in training mode.
    var isTraining: Bool { get set }
    /// The module's random streams by name (each dropout site's Philox seed, stream and calls so
    /// far): what a checkpoint saves so that a resumed run draws the same masks. Empty for modules
    /// without randomness.
    var randomState: [String: UInt64] { get set }
}

extension Module {
    public var randomState: [String: UInt64] {
        get { [:] }
        set {}
    }
}

/// A module with a forward pass from one tensor to one tensor and its backward pass.
///
/// `forward` keeps what `backward` needs; `backward` takes dL/d(output of the last forward),
/// accumulates parameter gradients and returns dL/d(input) (nil when the input is not
/// differentiable, like token indices, or not asked for).
public protocol Layer: Module {
    /// Runs the layer and remembers what backward needs.
    func forward(_ input: Tensor) throws -> Tensor
    /// Gradient of the input of the last `forward`, given the gradient of its output.
    func backward(_ gradOutput: Tensor) throws -> Tensor?
    /// Whether `backward` computes the input gradient (true by default). Turn it off for a layer
    /// whose input is data, as PyTorch skips gradients of inputs that do not require grad;
    /// `backward` then returns nil and saves the work (for a recurrent layer, a whole GEMM).
    var needsInputGradient: Bool { get set }
}

extension Module {
    /// The parameters in `namedParameters` order.
    public var parameters: [Parameter] { namedParameters.map(\.parameter) }

    /// The parameters not frozen, in order.
    public var trainableParameters: [Parameter] { parameters.filter { !$0.isFrozen } }

    /// Total number of scalar parameters.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// Switches to training mode (dropout on).
    public func train() { isTraining = true }
    /// Switches to evaluation mode (dropout off).
    public func eval() { isTraining = false }

    /// Zeroes every parameter gradient: one fill per flat span (`Parameter.spans(of:)`).
    public func zeroGradients() throws { try Parameter.zeroGradients(of: parameters) }

    /// Moves this module's parameters into one flat value buffer and one gradient buffer
    /// (`Parameter.flatten`); optimizers do this for their parameters when made.
    public func flattenParameters() throws { try Parameter.flatten(parameters) }

    /// Downloads every parameter with its shape, by name, as PyTorch's `state_dict()`.
    public func stateDict() throws -> [String: HostTensor] {
        var result: [String: HostTensor] = [:]
        for (name, p) in namedParameters { result[name] = try p.value.toHost() }
        return result
    }

    /// Loads parameters by name, as PyTorch's `load_state_dict`: shapes must match exactly, and
    /// with `strict` so must the set of names.
    public func loadStateDict(_ state: [String: HostTensor], strict: Bool = true) throws {
        let named = namedParameters
        if strict {
            let mine = Set(named.map(\.name)), theirs = Set(state.keys)
            if mine != theirs {
                throw RecurrentError.invalidArgument(
                    name: "state dict", expected: "exactly the parameters \(mine.sorted())",
                    got: "missing \(mine.subtracting(theirs).sorted()), unexpected \(theirs.subtracting(mine).sorted())")
            }
        }
        // Check everything before changing anything, so a failed load leaves the model as it was.
        for (name, p) in named {
            guard let host = state[name] else { continue }
            try RecurrentError.check("loadStateDict \(name)", shape: host.shape, equals: p.shape)
        }
        for (name, p) in named {
            guard let host = state[name] else { continue }
            try p.value.assign(host)
        }
    }

    /// Parameters whose names match `prefix` (the name itself or a dotted prefix).
    public func parameters(under prefix: String) -> [Parameter] {
        namedParameters.filter { $0.name == prefix || $0.name.hasPrefix(prefix + ".") }.map(\.parameter)
    }
}
