// Reference elementwise ops: bias add, column sums, activations, axpy, scale, multiply, clamp.
// R × C = rows × columns of a matrix (row-major).

import Foundation
import RecurrentCore

extension ReferenceBackend {
    /// Rows and columns of x (R, C) given a per-column vector of `columns` elements.
    func matrixRows(_ x: Tensor, columns: Int, _ operation: String) throws -> Int {
        guard columns > 0 ? x.count % columns == 0 : x.count == 0 else {
            throw RecurrentError.shapeMismatch(operation: operation,
                                               expected: "a multiple of \(columns) elements (R, \(columns))",
                                               got: "shape \(x.shape) (\(x.count) elements)")
        }
        return columns > 0 ? x.count / columns : 0
    }

    /// `x[r, c] += bias[c]` for x (R, C), bias (C).
    public func addBias(_ x: Tensor, _ bias: Tensor) throws {
        let rows = try matrixRows(x, columns: bias.count, "addBias x (R, C)")
        var xv = try read(x, "addBias x")
        let bv = try read(bias, "addBias bias")
        for r in 0..<rows {
            for c in 0..<bv.count { xv[r * bv.count + c] += bv[c] }
        }
        try write(xv, to: x, "addBias x")
    }

    /// `out[c] (+)= Σ_r x[r, c]` for out (C), x (R, C); sums accumulate in Double.
    public func sumColumns(_ out: Tensor, _ x: Tensor, accumulate: Bool) throws {
        let columns = out.count
        let rows = try matrixRows(x, columns: columns, "sumColumns x (R, C)")
        let xv = try read(x, "sumColumns x")
        var ov = try read(out, "sumColumns out")
        for c in 0..<columns {
            var sum: Double = 0
            for r in 0..<rows { sum += Double(xv[r * columns + c]) }
            ov[c] = accumulate ? ov[c] + Float(sum) : Float(sum)
        }
        try write(ov, to: out, "sumColumns out")
    }

    /// f(x) for one element.
    static func activate(_ x: Float, _ activation: Activation) -> Float {
        switch activation {
        case .identity: return x
        case .tanh: return Foundation.tanh(x)
        case .relu: return x > 0 ? x : 0
        case .sigmoid: return 1 / (1 + Foundation.exp(-x))
        }
    }

    /// f'(x) written in terms of the output y = f(x).
    static func derivative(output y: Float, _ activation: Activation) -> Float {
        switch activation {
        case .identity: return 1
        case .tanh: return 1 - y * y
        case .relu: return y > 0 ? 1 : 0
        case .sigmoid: return y * (1 - y)
        }
    }

    /// `y = f(x)`.
    public func activationForward(_ y: Tensor, _ x: Tensor, _ activation: Activation) throws {
        try RecurrentError.check("activationForward y vs x", count: y.count, equals: x.count)
        let xv = try read(x, "activationForward x")
        try write(xv.map { Self.activate($0, activation) }, to: y, "activationForward y")
    }

    /// `dx (+)= dy ⊙ f'(x)`, with f' taken from the output `y = f(x)`.
    public func activationBackward(_ dx: Tensor, _ dy: Tensor, _ y: Tensor, _ activation: Activation,
                                   accumulate: Bool) throws {
        try RecurrentError.check("activationBackward dy vs dx", count: dy.count, equals: dx.count)
        try RecurrentError.check("activationBackward y vs dx", count: y.count, equals: dx.count)
        let dyv = try read(dy, "activationBackward dy"), yv = try read(y, "activationBackward y")
        var dxv = try read(dx, "activationBackward dx")
        for e in 0..<dxv.count {
            let term = dyv[e] * Self.derivative(output: yv[e], activation)
            dxv[e] = accumulate ? dxv[e] + term : term
        }
        try write(dxv, to: dx, "activationBackward dx")
    }

    /// `y += alpha · x`.
    public func axpy(_ y: Tensor, alpha: Float, _ x: Tensor) throws {
        try RecurrentError.check("axpy x vs y", count: x.count, equals: y.count)
        let xv = try read(x, "axpy x")
        var yv = try read(y, "axpy y")
        for e in 0..<yv.count { yv[e] += alpha * xv[e] }
        try write(yv, to: y, "axpy y")
    }

    /// `x *= alpha`.
    public func scale(_ x: Tensor, by alpha: Float) throws {
        let xv = try read(x, "scale x")
        try write(xv.map { $0 * alpha }, to: x, "scale x")
    }

    /// `out = a ⊙ b`.
    public func multiply(_ out: Tensor, _ a: Tensor, _ b: Tensor) throws {
        try RecurrentError.check("multiply a vs out", count: a.count, equals: out.count)
        try RecurrentError.check("multiply b vs out", count: b.count, equals: out.count)
        let av = try read(a, "multiply a"), bv = try read(b, "multiply b")
        try write((0..<av.count).map { av[$0] * bv[$0] }, to: out, "multiply out")
    }

    /// `x = min(max(x, low), high)`.
    public func clamp(_ x: Tensor, low: Float, high: Float) throws {
        let xv = try read(x, "clamp x")
        try write(xv.map { Swift.min(Swift.max($0, low), high) }, to: x, "clamp x")
    }
}
