/// Inverted dropout (PyTorch's `nn.Dropout`): in training, each element is zeroed with
/// probability p and the rest scaled by 1/(1−p); in evaluation, the identity.
/// Masks come from Philox (this layer's stream, a new offset per call), identical on every device.
public final class Dropout: Layer {
    /// p: the probability of zeroing each element in training.
    public let probability: Float
    /// Training mode: dropout is applied only while this is true.
    public var isTraining = true
    private let site: DropoutSite

    /// Creates a dropout layer.
    /// - Parameters:
    ///   - probability: p, in [0, 1).
    ///   - rng: Source of this layer's Philox stream.
    /// - Throws: For p outside [0, 1).
    public init(_ probability: Float, rng: RandomSource) throws {
        try DropoutSite.validate(probability)
        self.probability = probability
        self.site = DropoutSite(rng: rng)
    }

    /// None: dropout has no parameters.
    public var namedParameters: [(name: String, parameter: Parameter)] { [] }

    /// The mask stream (seed, stream and calls so far), for checkpoints.
    public var randomState: [String: UInt64] {
        get { site.state("dropout") }
        set { site.restore(newValue, "dropout") }
    }

    /// Drops elements in training mode (a sequence keeps its layout and lengths); the identity otherwise.
    public func forward(_ input: LayerValue, tape: Tape?) throws -> LayerValue {
        guard isTraining, probability > 0 else { return input }
        let x = input.data
        let (out, mask) = try site.apply(x, probability: probability)
        try tape?.record(inputs: [x], outputs: [out]) { gradOutputs, needs in
            guard let gradOutput = gradOutputs[0], needs[0] else { return [nil] }
            return [try DropoutSite.backward(gradOutput, mask: mask)]
        }
        return try input.replacingData(out)
    }
}

/// One place in a model where dropout masks are drawn: a Philox stream and a call counter.
final class DropoutSite {
    var seed: UInt64
    var stream: UInt64
    /// Calls so far; call k reads words from offset k·2^32 of the stream.
    var calls: UInt64 = 0

    init(rng: RandomSource) {
        let s = rng.makeStream()
        seed = s.seed
        stream = s.stream
    }

    /// seed, stream and calls under `prefix`.
    func state(_ prefix: String) -> [String: UInt64] {
        [prefix + ".seed": seed, prefix + ".stream": stream, prefix + ".calls": calls]
    }

    func restore(_ state: [String: UInt64], _ prefix: String) {
        if let v = state[prefix + ".seed"] { seed = v }
        if let v = state[prefix + ".stream"] { stream = v }
        if let v = state[prefix + ".calls"] { calls = v }
    }

    static func validate(_ p: Float) throws {
        guard p >= 0, p < 1 else {
            throw RecurrentError.invalidArgument(name: "dropout probability", expected: "a value in [0, 1)", got: "\(p)")
        }
    }

    /// (output, mask) for one call.
    func apply(_ x: Tensor, probability: Float) throws -> (Tensor, Tensor) {
        guard x.count < 1 << 32 else {
            throw RecurrentError.invalidArgument(name: "dropout input", expected: "fewer than 2^32 elements", got: "\(x.count)")
        }
        let backend = x.backend
        let out = try Tensor.empty(x.shape, on: backend), mask = try Tensor.empty(x.shape, on: backend)
        try backend.dropoutForward(out, mask: mask, x, probability: probability, seed: seed, stream: stream, offset: calls << 32)
        calls += 1
        return (out, mask)
    }

    /// Zoneout factors (`shape`) for one call: 1 where dropout with `probability` would drop, else 0.
    func indicator(_ shape: [Int], probability: Float, on backend: any Backend) throws -> Tensor {
        let count = shape.reduce(1, *)
        guard count < 1 << 32 else {
            throw RecurrentError.invalidArgument(name: "zoneout factors", expected: "fewer than 2^32 elements", got: "\(count)")
        }
        let d = try Tensor.empty(shape, on: backend)
        try backend.dropIndicator(d, probability: probability, seed: seed, stream: stream, offset: calls << 32)
        calls += 1
        return d
    }

    static func backward(_ gradOutput: Tensor, mask: Tensor) throws -> Tensor {
        let gradInput = try Tensor.empty(gradOutput.shape, on: gradOutput.backend)
        try gradOutput.backend.multiply(gradInput, gradOutput, mask)
        return gradInput
    }
}
