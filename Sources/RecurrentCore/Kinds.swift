import Foundation

/// The recurrent cells, with PyTorch's equations and gate orders.
public enum RecurrentCell: String, Sendable, CaseIterable, Codable {
    /// Elman RNN, `h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`.
    case rnnTanh = "rnn_tanh"
    /// Elman RNN with ReLU, `h' = relu(W_ih x + b_ih + W_hh h + b_hh)`.
    case rnnRelu = "rnn_relu"
    /// LSTM, gates i, f, g, o.
    case lstm
    /// GRU, gates r, z, n, reset applied after the recurrent product.
    case gru

    /// G: rows of `weight_ih` per hidden unit (1, 4 or 3).
    public var gateCount: Int {
        switch self {
        case .rnnTanh, .rnnRelu: return 1
        case .lstm: return 4
        case .gru: return 3
        }
    }

    /// Whether the cell carries a cell state `c` besides `h`.
    public var hasCellState: Bool { self == .lstm }

    /// Per-step values saved beside the gates for backward (LSTM: c_t, GRU: W_hn h + b_hn), in units of H.
    public var extraReserveWidth: Int {
        switch self {
        case .rnnTanh, .rnnRelu: return 0
        case .lstm, .gru: return 1
        }
    }
}

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

/// Hyperparameters of one SGD update, PyTorch's `torch.optim.SGD` semantics.
public struct SGDHyperparameters: Sendable, Equatable {
    public var learningRate: Float
    public var momentum: Float
    public var dampening: Float
    public var weightDecay: Float
    public var nesterov: Bool
    /// True on the first update of this parameter: the momentum buffer starts as the gradient.
    public var isFirstStep: Bool
    public init(learningRate: Float, momentum: Float = 0, dampening: Float = 0, weightDecay: Float = 0,
                nesterov: Bool = false, isFirstStep: Bool) {
        self.learningRate = learningRate; self.momentum = momentum; self.dampening = dampening
        self.weightDecay = weightDecay; self.nesterov = nesterov; self.isFirstStep = isFirstStep
    }
}

/// Hyperparameters of one Adam/AdamW update, PyTorch's `torch.optim.Adam(W)` semantics.
public struct AdamHyperparameters: Sendable, Equatable {
    public var learningRate: Float
    public var beta1: Float, beta2: Float, epsilon: Float
    public var weightDecay: Float
    /// AdamW: decay the weights directly (`p *= 1 - lr·wd`) instead of adding `wd·p` to the gradient.
    public var decoupledWeightDecay: Bool
    /// `1 - beta1^t` and `sqrt(1 - beta2^t)` for this step t (computed on the host in Double).
    public var biasCorrection1: Float, biasCorrection2Sqrt: Float

    public init(learningRate: Float, beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float,
                decoupledWeightDecay: Bool, step: Int) {
        self.learningRate = learningRate; self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
        self.weightDecay = weightDecay; self.decoupledWeightDecay = decoupledWeightDecay
        self.biasCorrection1 = Float(1 - Foundation.pow(Double(beta1), Double(step)))
        self.biasCorrection2Sqrt = Float((1 - Foundation.pow(Double(beta2), Double(step))).squareRoot())
    }
}
