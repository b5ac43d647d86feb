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

/// What flows between layers: a plain tensor, or a sequence batch that carries its layout and lengths.
public enum LayerValue: Sendable {
    /// A tensor without a time axis, such as (B, F) features or (B, C) logits.
    case tensor(Tensor)
    /// A batch of sequences (T, B, …) or (B, T, …) with its lengths.
    case sequence(SequenceBatch)

    /// The tensor, or the sequence batch's data.
    public var data: Tensor {
        switch self {
        case .tensor(let t): t
        case .sequence(let s): s.data
        }
    }

    /// The sequence batch, or nil for a plain tensor.
    public var sequence: SequenceBatch? {
        if case .sequence(let s) = self { return s }
        return nil
    }

    /// The sequence batch; throws, naming `operation`, for a plain tensor.
    public func requireSequence(_ operation: String) throws -> SequenceBatch {
        guard let s = sequence else {
            throw RecurrentError.invalidArgument(name: "\(operation) input", expected: "a SequenceBatch (data with its layout and lengths)",
                                                 got: "a plain tensor \(data.shape)")
        }
        return s
    }

    /// The same kind of value over other data (a layer's output): a sequence keeps its layout and
    /// lengths, and the new data must keep its (T, B) or (B, T) leading dimensions.
    public func replacingData(_ data: Tensor) throws -> LayerValue {
        switch self {
        case .tensor: return .tensor(data)
        case .sequence(let s):
            guard data.rank >= 2, Array(data.shape.prefix(2)) == Array(s.data.shape.prefix(2)) else {
                throw RecurrentError.shapeMismatch(operation: "sequence batch data", expected: "leading dimensions \(Array(s.data.shape.prefix(2)))",
                                                   got: "shape \(data.shape)")
            }
            return .sequence(SequenceBatch(sameAs: s, data: data))
        }
    }
}

/// A module that maps one value to another: a tensor or a sequence batch in, a tensor or a
/// sequence batch out. Given a `Tape`, a call records what its backward needs, so a layer can
/// be called several times in one step (its parameter gradients add up); without one, nothing
/// is kept (inference).
public protocol Layer: Module {
    /// Runs the layer on `input` and, when `tape` is given, records the call for backward.
    func forward(_ input: LayerValue, tape: Tape?) throws -> LayerValue
}

extension Layer {
    /// Runs the layer on a sequence batch (recording the call on `tape` when given).
    public func forward(_ input: SequenceBatch, tape: Tape? = nil) throws -> LayerValue {
        try forward(.sequence(input), tape: tape)
    }

    /// Runs the layer on a plain tensor (recording the call on `tape` when given).
    public func forward(_ input: Tensor, tape: Tape? = nil) throws -> LayerValue {
        try forward(.tensor(input), tape: tape)
    }
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
