/// Whether a GEMM operand is used as stored or transposed.
public enum Transpose: Sendable {
    case none, transposed
}

/// Sizes and scalars of a (batched, strided) row-major GEMM:
/// `C[i] = alpha * op(A[i]) * op(B[i]) + beta * C[i]` for `i in 0..<batchCount`,
/// with `op(A)` of shape (m, k), `op(B)` (k, n), `C` (m, n).
public struct GEMMShape: Sendable, Equatable {
    public var m: Int, n: Int, k: Int
    public var transA: Transpose, transB: Transpose
    /// Leading dimensions (row strides) of A, B and C as stored.
    public var lda: Int, ldb: Int, ldc: Int
    public var alpha: Float, beta: Float
    /// Number of products and the element strides between consecutive A, B and C matrices.
    public var batchCount: Int, strideA: Int, strideB: Int, strideC: Int

    /// Contiguous operands: leading dimensions follow from the sizes and transposes.
    public init(m: Int, n: Int, k: Int, transA: Transpose = .none, transB: Transpose = .none,
                alpha: Float = 1, beta: Float = 0,
                lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil,
                batchCount: Int = 1, strideA: Int = 0, strideB: Int = 0, strideC: Int = 0) {
        self.m = m; self.n = n; self.k = k
        self.transA = transA; self.transB = transB
        self.alpha = alpha; self.beta = beta
        self.lda = lda ?? (transA == .none ? k : m)
        self.ldb = ldb ?? (transB == .none ? n : k)
        self.ldc = ldc ?? n
        self.batchCount = batchCount
        self.strideA = strideA; self.strideB = strideB; self.strideC = strideC
    }

    /// Elements of A, B and C (from each operand's start) the product touches; operands must hold at least these.
    public var requiredCounts: (a: Int, b: Int, c: Int) {
        func span(rows: Int, cols: Int, ld: Int, stride: Int) -> Int {
            guard rows > 0, cols > 0, batchCount > 0 else { return 0 }
            return (batchCount - 1) * stride + (rows - 1) * ld + cols
        }
        let (ar, ac) = transA == .none ? (m, k) : (k, m)
        let (br, bc) = transB == .none ? (k, n) : (n, k)
        return (span(rows: ar, cols: ac, ld: lda, stride: strideA),
                span(rows: br, cols: bc, ld: ldb, stride: strideB),
                span(rows: m, cols: n, ld: ldc, stride: strideC))
    }

    /// Throws unless the shape is well formed and each operand holds the elements it needs.
    public func validate(a: Tensor, b: Tensor, c: Tensor) throws {
        guard m >= 0, n >= 0, k >= 0, batchCount >= 0 else {
            throw RecurrentError.invalidArgument(name: "GEMM sizes", expected: "non-negative m, n, k, batchCount",
                                                 got: "m \(m), n \(n), k \(k), batch \(batchCount)")
        }
        let (ac, bc) = (transA == .none ? k : m, transB == .none ? n : k)
        guard lda >= max(1, ac), ldb >= max(1, bc), ldc >= max(1, n) else {
            throw RecurrentError.invalidArgument(name: "GEMM leading dimensions",
                                                 expected: "lda ≥ \(ac), ldb ≥ \(bc), ldc ≥ \(n)",
                                                 got: "lda \(lda), ldb \(ldb), ldc \(ldc)")
        }
        let limit = Int(Int32.max)
        guard [m, n, k, lda, ldb, ldc].allSatisfy({ $0 <= limit }) else {
            throw RecurrentError.invalidArgument(name: "GEMM sizes", expected: "m, n, k and leading dimensions below 2^31",
                                                 got: "m \(m), n \(n), k \(k), lda \(lda), ldb \(ldb), ldc \(ldc)")
        }
        let need = requiredCounts
        for (name, t, n) in [("A", a, need.a), ("B", b, need.b), ("C", c, need.c)] where t.count < n {
            throw RecurrentError.shapeMismatch(operation: "gemm operand \(name)", expected: "at least \(n) elements",
                                               got: "shape \(t.shape) (\(t.count) elements)")
        }
    }
}
