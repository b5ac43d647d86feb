// GEMM through CLBlast, the tuned OpenCL BLAS. Row-major, offsets and leading dimensions as
// `GEMMShape` says; batched products through CLBlast's strided-batched routine.
import CCLBlast
import COpenCL
import RecurrentCore

extension Transpose {
    var clblast: CLBlastTranspose { self == .none ? CLBlastTransposeNo : CLBlastTransposeYes }
}

extension OpenCLBackend {
    public func gemm(_ c: Tensor, _ a: Tensor, _ b: Tensor, _ s: GEMMShape) throws {
        try s.validate(a: a, b: b, c: c)
        let ma = try memory(a, "gemm A"), mb = try memory(b, "gemm B"), mc = try memory(c, "gemm C")
        guard s.m > 0, s.n > 0, s.batchCount > 0 else { return }
        guard s.k > 0 else {
            // No products to sum: C = beta·C (CLBlast refuses k = 0).
            return try launch(.scaleMatrices, items: s.m * s.n * s.batchCount,
                              [.tensor(c), .size(s.m), .size(s.n), .size(s.ldc), .count(s.strideC), .size(s.batchCount),
                               .float(s.beta)])
        }
        let status: CLBlastStatusCode = try enqueue { queue in
            if s.batchCount == 1 {
                return CLBlastSgemm(CLBlastLayoutRowMajor, s.transA.clblast, s.transB.clblast, s.m, s.n, s.k,
                                    s.alpha, ma, a.offset, s.lda, mb, b.offset, s.ldb, s.beta, mc, c.offset, s.ldc, &queue, nil)
            }
            return CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, s.transA.clblast, s.transB.clblast, s.m, s.n, s.k,
                                              s.alpha, ma, a.offset, s.lda, s.strideA, mb, b.offset, s.ldb, s.strideB,
                                              s.beta, mc, c.offset, s.ldc, s.strideC, s.batchCount, &queue, nil)
        }
        try OpenCLStatus.check(status.rawValue,
                               "CLBlast SGEMM (m \(s.m), n \(s.n), k \(s.k), batch \(s.batchCount))", device: name)
    }
}

// Products with recurrent weights laid out once per sequence (Kernels/elementwise.cl
// packed_product), where the tuning table asks for them.
extension OpenCLBackend {
    public func packForRepeatedProducts(_ b: Tensor, k: Int, n: Int, transB: Transpose) throws -> PackedMatrix? {
        guard tuning.packedProducts, k > 0, n > 0, k <= Int(UInt32.max), n <= Int(UInt32.max) else { return nil }
        try RecurrentError.check("packForRepeatedProducts B (k × n)", count: b.count, equals: k * n)
        let storage = try Tensor.empty([k, n], on: self)                                        // (k, n) = op(B)
        if transB == .none {
            try copy(b, to: storage)
        } else {
            try launch(.transpose, items: k * n, [.tensor(storage), .tensor(b), .size(n), .size(k)])
        }
        return PackedMatrix(k: k, n: n, storage: storage, layout: Self.packedLayout)
    }

    /// The layout `packForRepeatedProducts` writes: op(B) row-major, as `packed_product` reads it.
    static let packedLayout = "op(B) row-major (OpenCL packed_product)"

    public func gemm(_ c: Tensor, _ a: Tensor, packed: PackedMatrix, accumulate: Bool) throws {
        let (k, n) = (packed.k, packed.n)
        try packed.check(layout: Self.packedLayout, count: k * n)
        let m = try packed.productRows(a: a, c: c)
        try launch(.packedProduct, items: (m + 7) / 8 * n,
                   [.tensor(c), .tensor(a), .tensor(packed.storage), .size(m), .size(n), .size(k), .flag(accumulate)])
    }
}
