// Elementwise ops (Kernels/elementwise.cl). R × C = rows × columns, N = elements.
import RecurrentCore

extension Activation {
    /// The code the kernels use (Kernels/common.cl).
    var kernelCode: Int32 {
        switch self {
        case .identity: return 0
        case .tanh: return 1
        case .relu: return 2
        case .sigmoid: return 3
        }
    }
}

extension OpenCLBackend {
    public func addBias(_ x: Tensor, _ bias: Tensor) throws {
        let c = bias.count
        guard c > 0, x.count % c == 0 else {
            throw RecurrentError.shapeMismatch(operation: "addBias", expected: "x with a multiple of \(c) elements",
                                               got: "shape \(x.shape)")
        }
        try launch(.addBias, items: x.count, [.tensor(x), .tensor(bias), .count(x.count), .size(c)])
    }

    public func activationForward(_ y: Tensor, _ x: Tensor, _ activation: Activation) throws {
        try RecurrentError.check("activationForward y", count: y.count, equals: x.count)
        try launch(.activationForward, items: x.count, [.tensor(y), .tensor(x), .count(x.count), .int(activation.kernelCode)])
    }

    public func activationBackward(_ dx: Tensor, _ dy: Tensor, _ y: Tensor, _ activation: Activation,
                                   accumulate: Bool) throws {
        let n = y.count
        try RecurrentError.check("activationBackward dx", count: dx.count, equals: n)
        try RecurrentError.check("activationBackward dy", count: dy.count, equals: n)
        try launch(.activationBackward, items: n,
                   [.tensor(dx), .tensor(dy), .tensor(y), .count(n), .int(activation.kernelCode), .flag(accumulate)])
    }

    public func axpy(_ y: Tensor, alpha: Float, _ x: Tensor) throws {
        try RecurrentError.check("axpy x", count: x.count, equals: y.count)
        try launch(.axpy, items: y.count, [.tensor(y), .tensor(x), .count(y.count), .float(alpha)])
    }

    public func scale(_ x: Tensor, by alpha: Float) throws {
        try launch(.scale, items: x.count, [.tensor(x), .count(x.count), .float(alpha)])
    }

    public func multiply(_ out: Tensor, _ a: Tensor, _ b: Tensor) throws {
        let n = out.count
        try RecurrentError.check("multiply a", count: a.count, equals: n)
        try RecurrentError.check("multiply b", count: b.count, equals: n)
        try launch(.multiply, items: n, [.tensor(out), .tensor(a), .tensor(b), .count(n)])
    }

    public func clamp(_ x: Tensor, low: Float, high: Float) throws {
        guard low <= high else {
            throw RecurrentError.invalidArgument(name: "clamp bounds", expected: "low ≤ high", got: "low \(low), high \(high)")
        }
        try launch(.clampValues, items: x.count, [.tensor(x), .count(x.count), .float(low), .float(high)])
    }

    public func addPenaltyGradient(_ grad: Tensor, _ param: Tensor, l1: Float, l2: Float) throws {
        try RecurrentError.check("addPenaltyGradient param", count: param.count, equals: grad.count)
        try launch(.addPenaltyGradient, items: grad.count,
                   [.tensor(grad), .tensor(param), .count(grad.count), .float(l1), .float(l2)])
    }

    public func scaleByClipCoefficient(_ x: Tensor, sumOfSquares: Tensor, maxNorm: Float) throws {
        try RecurrentError.check("scaleByClipCoefficient sumOfSquares", count: sumOfSquares.count, equals: 1)
        try launch(.scaleByClipCoefficient, items: x.count,
                   [.tensor(x), .count(x.count), .tensor(sumOfSquares), .float(maxNorm)])
    }
}
