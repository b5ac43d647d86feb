// GEMM through OpenBLAS's CBLAS interface, row-major.
import COpenBLAS
import RecurrentCore

extension CPUBackend {
    public func gemm(_ c: Tensor, _ a: Tensor, _ b: Tensor, _ s: GEMMShape) throws {
        try s.validate(a: a, b: b, c: c)
        let pa = try pointer(a, "gemm A"), pb = try pointer(b, "gemm B"), pc = try pointer(c, "gemm C")
        guard s.m > 0, s.n > 0, s.batchCount > 0 else { return }
        let ta = s.transA == .none ? CblasNoTrans : CblasTrans
        let tb = s.transB == .none ? CblasNoTrans : CblasTrans
        for i in 0..<s.batchCount {
            cblas_sgemm(CblasRowMajor, ta, tb, Int32(s.m), Int32(s.n), Int32(s.k), s.alpha,
                        pa + i * s.strideA, Int32(s.lda), pb + i * s.strideB, Int32(s.ldb),
                        s.beta, pc + i * s.strideC, Int32(s.ldc))
        }
    }
}
