// Scalar activation functions shared by the CPU kernels.
import Foundation
import RecurrentCore

@inline(__always) func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

@inline(__always) func activate(_ x: Float, _ f: Activation) -> Float {
    switch f {
    case .identity: return x
    case .tanh: return tanhf(x)
    case .relu: return x > 0 ? x : 0
    case .sigmoid: return sigmoid(x)
    }
}

/// f'(x) expressed through y = f(x).
@inline(__always) func activationDerivative(output y: Float, _ f: Activation) -> Float {
    switch f {
    case .identity: return 1
    case .tanh: return 1 - y * y
    case .relu: return y > 0 ? 1 : 0
    case .sigmoid: return y * (1 - y)
    }
}

/// Σ over `count` values of `term(i)` in fixed blocks of 1024, then the block sums: the order every
/// backend uses so that reductions agree to the last bit wherever the arithmetic does.
@inline(__always) func blockedSum(count: Int, _ term: (Int) -> Float) -> Float {
    let block = 1024
    var total: Float = 0
    var start = 0
    while start < count {
        var partial: Float = 0
        for i in start..<min(start + block, count) { partial += term(i) }
        total += partial
        start += block
    }
    return total
}
