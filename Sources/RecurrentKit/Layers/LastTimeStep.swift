/// Takes the last time step of a sequence: input (T, B, F), output (B, F).
/// Use it between a recurrent layer and a head for sequence-to-one models.
public final class LastTimeStep: Layer {
    public var isTraining = true
    public var needsInputGradient = true
    private var lastShape: [Int]?

    public init() {}

    public var namedParameters: [(name: String, parameter: Parameter)] { [] }

    public func forward(_ input: Tensor) throws -> Tensor {
        guard input.rank == 3, input.shape[0] > 0 else {
            throw RecurrentError.shapeMismatch(operation: "LastTimeStep.forward", expected: "input (T, B, F) with T ≥ 1",
                                               got: "shape \(input.shape)")
        }
        lastShape = input.shape
        return try input.row(input.shape[0] - 1).copy()
    }

    public func backward(_ gradOutput: Tensor) throws -> Tensor? {
        guard let shape = lastShape else { throw RecurrentError.invalidState("LastTimeStep.backward called before forward") }
        try RecurrentError.check("LastTimeStep.backward grad output (B, F)", shape: gradOutput.shape, equals: Array(shape.dropFirst()))
        guard needsInputGradient else { return nil }
        let gradInput = try Tensor.zeros(shape, on: gradOutput.backend)
        try gradOutput.backend.copy(gradOutput, to: gradInput.row(shape[0] - 1))
        return gradInput
    }
}
