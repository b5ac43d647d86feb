import Foundation

/// How a parameter's initial values are drawn (on the host, from its own Philox stream, so
/// every backend starts from the same bits).
public enum Initializer: Sendable, Equatable {
    /// PyTorch's default for the layer: U(−1/√H, 1/√H) for recurrent layers, U(−1/√fan_in, 1/√fan_in)
    /// for `Linear`, N(0, 1) for `Embedding`. The layer supplies the bound.
    case pytorchDefault
    /// U(low, high).
    case uniform(low: Float, high: Float)
    /// N(mean, std²).
    case normal(mean: Float, std: Float)
    /// Glorot & Bengio (2010): U(−a, a), a = gain·√(6 / (fan_in + fan_out)).
    case xavierUniform(gain: Float = 1)
    /// Glorot & Bengio (2010): N(0, σ²), σ = gain·√(2 / (fan_in + fan_out)).
    case xavierNormal(gain: Float = 1)
    /// Saxe et al. (2014): a (semi-)orthogonal matrix, the Q of a Gaussian matrix's QR
    /// decomposition with R's diagonal made positive (as `torch.nn.init.orthogonal_`), times `gain`.
    case orthogonal(gain: Float = 1)
    /// Every value `value`.
    case constant(Float)

    /// Zeros.
    public static let zeros = Initializer.constant(0)

    /// Values for a tensor of `shape`, treated as a matrix (rows = shape[0], fan_in = the rest)
    /// or, for recurrent weights, as `blocks` stacked gate matrices each initialised on its own
    /// (Xavier and orthogonal see one gate's (H, in) block, not the stacked (G·H, in) matrix).
    /// - Parameters:
    ///   - defaultBound: the bound `pytorchDefault` uses, U(−bound, bound); nil means N(0, 1).
    /// Throws `.outOfMemory` when the values would not fit in host memory.
    func values(shape: [Int], blocks: Int = 1, defaultBound: Float?, stream: inout PhiloxStream) throws -> [Float] {
        // The values on the host (and an orthogonal matrix's workspace, in Double).
        let count = try HostMemory.count(of: shape, Double.self, for: "initial values")
        let rows = shape.first ?? 1
        let blockRows = max(rows / max(blocks, 1), 1)
        let cols = rows > 0 ? count / rows : 0
        switch self {
        case .pytorchDefault:
            if let bound = defaultBound { return stream.uniform(count: count, low: -bound, high: bound) }
            return stream.normal(count: count)
        case let .uniform(low, high):
            return stream.uniform(count: count, low: low, high: high)
        case let .normal(mean, std):
            return stream.normal(count: count, mean: mean, std: std)
        case let .xavierUniform(gain):
            let a = gain * (6 / Float(blockRows + max(cols, 1))).squareRoot()
            return stream.uniform(count: count, low: -a, high: a)
        case let .xavierNormal(gain):
            let s = gain * (2 / Float(blockRows + max(cols, 1))).squareRoot()
            return stream.normal(count: count, std: s)
        case let .orthogonal(gain):
            guard shape.count >= 2 else { return stream.normal(count: count) }
            var out: [Float] = []
            out.reserveCapacity(count)
            for _ in 0..<max(blocks, 1) {
                out += Initializer.orthogonalMatrix(rows: blockRows, cols: cols, gain: gain, stream: &stream)
            }
            return out
        case let .constant(v):
            return [Float](repeating: v, count: count)
        }
    }

    /// A rows × cols matrix with orthonormal rows (rows ≤ cols) or columns (rows > cols).
    static func orthogonalMatrix(rows: Int, cols: Int, gain: Float, stream: inout PhiloxStream) -> [Float] {
        // QR of the taller orientation by modified Gram–Schmidt in Double: Q (tall × short).
        let tall = max(rows, cols), short = min(rows, cols)
        let a = stream.normal(count: tall * short).map(Double.init)   // (tall, short), column j = a[i*short + j]
        var q = [Double](repeating: 0, count: tall * short)
        for j in 0..<short {
            var v = (0..<tall).map { a[$0 * short + j] }
            for k in 0..<j {
                var dot = 0.0
                for i in 0..<tall { dot += q[i * short + k] * v[i] }
                for i in 0..<tall { v[i] -= dot * q[i * short + k] }
            }
            // Gram–Schmidt makes R's diagonal (these norms) positive: the sign fix-up is built in.
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            for i in 0..<tall { q[i * short + j] = norm > 0 ? v[i] / norm : 0 }
        }
        var out = [Float](repeating: 0, count: rows * cols)
        for r in 0..<rows {
            for c in 0..<cols {
                out[r * cols + c] = gain * Float(rows >= cols ? q[r * short + c] : q[c * short + r])
            }
        }
        return out
    }
}
