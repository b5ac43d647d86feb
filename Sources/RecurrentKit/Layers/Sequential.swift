/// Layers applied in order (PyTorch's `nn.Sequential`). Parameter names are prefixed with
/// each layer's name: `lstm.weight_ih_l0`, `fc.weight` (or `0.…`, `1.…` for unnamed layers).
public final class Sequential: Layer {
    /// The layers with their names.
    public let layers: [(name: String, layer: any Layer)]

    /// Named layers: `Sequential([("lstm", lstm), ("last", LastTimeStep()), ("fc", fc)])`.
    public init(_ layers: [(String, any Layer)]) throws {
        let names = layers.map(\.0)
        if let dup = names.first(where: { n in names.filter { $0 == n }.count > 1 }) {
            throw RecurrentError.invalidArgument(name: "layer names", expected: "unique names", got: "'\(dup)' twice")
        }
        self.layers = layers.map { (name: $0.0, layer: $0.1) }
    }

    /// Layers named by position, "0", "1", …, as `nn.Sequential(a, b)`.
    public convenience init(_ layers: [any Layer]) throws {
        try self.init(layers.enumerated().map { ("\($0.offset)", $0.element) })
    }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        layers.flatMap { entry in entry.layer.namedParameters.map { (name: entry.name + "." + $0.name, parameter: $0.parameter) } }
    }

    public var isTraining: Bool {
        get { layers.first?.layer.isTraining ?? true }
        set { for entry in layers { entry.layer.isTraining = newValue } }
    }

    public var randomState: [String: UInt64] {
        get {
            var all: [String: UInt64] = [:]
            for entry in layers { for (k, v) in entry.layer.randomState { all[entry.name + "." + k] = v } }
            return all
        }
        set {
            for entry in layers {
                let prefix = entry.name + "."
                var mine: [String: UInt64] = [:]
                for (k, v) in newValue where k.hasPrefix(prefix) { mine[String(k.dropFirst(prefix.count))] = v }
                if !mine.isEmpty { entry.layer.randomState = mine }
            }
        }
    }

    /// The layer called `name`.
    public subscript(name: String) -> (any Layer)? { layers.first { $0.name == name }?.layer }

    /// Runs every layer in order on one tape.
    public func forward(_ input: LayerValue, tape: Tape?) throws -> LayerValue {
        var x = input
        for entry in layers { x = try entry.layer.forward(x, tape: tape) }
        return x
    }
}
