// Reference GEMM: the triple loop, straight from the definition.
// m × k = op(A), k × n = op(B), m × n = C; lda/ldb/ldc = row strides as stored.

import RecurrentCore

extension ReferenceBackend {
    /// Row-major `C[p] = alpha·op(A[p])·op(B[p]) + beta·C[p]` for every batch entry p.
    ///
    /// Follows BLAS conventions: `beta == 0` overwrites C without reading it (NaN in C does not
    /// propagate) and `alpha == 0` (or `k == 0`) does not read A or B. Dot products accumulate in Double.
    public func gemm(_ c: Tensor, _ a: Tensor, _ b: Tensor, _ s: GEMMShape) throws {
        try s.validate(a: a, b: b, c: c)
        let pa = try pointer(a, "gemm A"), pb = try pointer(b, "gemm B"), pc = try pointer(c, "gemm C")
        // Read A and B before writing C so that aliasing operands behave as if copied first.
        let av = Array(UnsafeBufferPointer(start: pa, count: a.count))
        let bv = Array(UnsafeBufferPointer(start: pb, count: b.count))
        var cv = Array(UnsafeBufferPointer(start: pc, count: c.count))

        for p in 0..<s.batchCount {
            let baseA = p * s.strideA, baseB = p * s.strideB, baseC = p * s.strideC
            for i in 0..<s.m {
                for j in 0..<s.n {
                    var sum: Double = 0
                    if s.alpha != 0 {
                        for l in 0..<s.k {
                            // op(A)[i, l] and op(B)[l, j]
                            let aIL = s.transA == .none ? av[baseA + i * s.lda + l] : av[baseA + l * s.lda + i]
                            let bLJ = s.transB == .none ? bv[baseB + l * s.ldb + j] : bv[baseB + j * s.ldb + l]
                            sum += Double(aIL) * Double(bLJ)
                        }
                    }
                    let index = baseC + i * s.ldc + j
                    let product = s.alpha == 0 ? 0 : Float(Double(s.alpha) * sum)
                    cv[index] = s.beta == 0 ? product : product + s.beta * cv[index]
                }
            }
        }
        try write(cv, to: c, "gemm C")
    }
}
