// Elementwise ops. R × C = rows × columns.
import CRecurrentGEMM
import Dispatch
import RecurrentCore

extension CPUBackend {
    public func addBias(_ x: Tensor, _ bias: Tensor) throws {
        let c = bias.count
        guard c > 0, x.count % c == 0 else {
            throw RecurrentError.shapeMismatch(operation: "addBias", expected: "x with a multiple of \(c) elements",
                                               got: "shape \(x.shape)")
        }
        let px = try pointer(x, "addBias x"), pb = try pointer(bias, "addBias bias")
        for r in 0..<(x.count / c) {
            let row = px + r * c
            for j in 0..<c { row[j] += pb[j] }
        }
    }

    public func sumColumns(_ out: Tensor, _ x: Tensor, accumulate: Bool) throws {
        let c = out.count
        guard c > 0, c <= Int(Int32.max), x.count % c == 0 else {
            throw RecurrentError.shapeMismatch(operation: "sumColumns", expected: "x with a multiple of \(c) elements (1 ≤ columns < 2³¹)",
                                               got: "shape \(x.shape)")
        }
        let po = try pointer(out, "sumColumns out"), px = try pointer(x, "sumColumns x")
        if !accumulate { po.update(repeating: 0, count: c) }
        // Large sums split by blocks of 64 columns across cores, each column summed whole by one worker.
        let rows = x.count / c
        let parts = rows * c >= 1 << 20 ? max(1, min(coreCount, c / 64)) : 1
        let (o, input) = (SendablePointer(po), SendablePointer(px))
        let sum: @Sendable (Int) -> Void = { part in
            let first = c / 64 * part / parts * 64, end = part + 1 == parts ? c : c / 64 * (part + 1) / parts * 64
            rk_sum_columns(o.pointer + first, input.pointer + first, rows, Int32(c), Int32(end - first))
        }
        if parts > 1 { DispatchQueue.concurrentPerform(iterations: parts, execute: sum) } else { sum(0) }
    }

    public func activationForward(_ y: Tensor, _ x: Tensor, _ activation: Activation) throws {
        let n = x.count
        let py = try pointer(y, count: n, "activationForward y"), px = try pointer(x, "activationForward x")
        forEachChunk(n) { i, lanes in store(vactivate(load(px, i, lanes), activation), py, i, lanes) }
    }

    public func activationBackward(_ dx: Tensor, _ dy: Tensor, _ y: Tensor, _ activation: Activation,
                                   accumulate: Bool) throws {
        let n = y.count
        let pdx = try pointer(dx, count: n, "activationBackward dx")
        let pdy = try pointer(dy, count: n, "activationBackward dy"), py = try pointer(y, "activationBackward y")
        forEachChunk(n) { i, lanes in
            let g = load(pdy, i, lanes) * vactivationDerivative(output: load(py, i, lanes), activation)
            store(accumulate ? load(pdx, i, lanes) + g : g, pdx, i, lanes)
        }
    }

    public func axpy(_ y: Tensor, alpha: Float, _ x: Tensor) throws {
        let n = y.count
        let py = try pointer(y, "axpy y"), px = try pointer(x, count: n, "axpy x")
        for i in 0..<n { py[i] += alpha * px[i] }
    }

    public func scale(_ x: Tensor, by alpha: Float) throws {
        let px = try pointer(x, "scale")
        for i in 0..<x.count { px[i] *= alpha }
    }

    public func multiply(_ out: Tensor, _ a: Tensor, _ b: Tensor) throws {
        let n = out.count
        let po = try pointer(out, "multiply out")
        let pa = try pointer(a, count: n, "multiply a"), pb = try pointer(b, count: n, "multiply b")
        for i in 0..<n { po[i] = pa[i] * pb[i] }
    }

    public func clamp(_ x: Tensor, low: Float, high: Float) throws {
        guard low <= high else {
            throw RecurrentError.invalidArgument(name: "clamp bounds", expected: "low ≤ high", got: "low \(low), high \(high)")
        }
        let px = try pointer(x, "clamp")
        for i in 0..<x.count { px[i] = min(max(px[i], low), high) }
    }

    public func addPenaltyGradient(_ grad: Tensor, _ param: Tensor, l1: Float, l2: Float) throws {
        let n = grad.count
        let pg = try pointer(grad, "addPenaltyGradient grad"), pp = try pointer(param, count: n, "addPenaltyGradient param")
        for i in 0..<n {
            let p = pp[i]
            let sign: Float = p > 0 ? 1 : (p < 0 ? -1 : 0)
            pg[i] += l1 * sign + 2 * l2 * p
        }
    }

    public func scaleByClipCoefficient(_ x: Tensor, sumOfSquares: Tensor, maxNorm: Float) throws {
        let total = try pointer(sumOfSquares, count: 1, "scaleByClipCoefficient sumOfSquares")[0]
        let coefficient = min(1, maxNorm / (total.squareRoot() + 1e-6))
        let px = try pointer(x, "scaleByClipCoefficient x")
        for i in 0..<x.count { px[i] *= coefficient }
    }
}
