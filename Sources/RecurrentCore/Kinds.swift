// Small enumerations the Backend protocol takes.

/// Pointwise activations (layers and the RNN cell).
public enum Activation: String, Sendable, CaseIterable, Codable {
    case identity, tanh, relu, sigmoid
}

/// Full reductions to a scalar.
public enum Reduction: Sendable, CaseIterable {
    /// Σ x
    case sum
    /// Σ x²
    case sumOfSquares
    /// Σ |x|
    case sumOfAbsolute
}
