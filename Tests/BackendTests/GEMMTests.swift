// GEMM on the device under test vs the reference triple loop.
// m × k = op(A), k × n = op(B), m × n = C; lda/ldb/ldc = row strides as stored.

import RecurrentKit
import ReferenceBackend
import TestSupport
import Testing

/// One GEMM configuration.
struct GEMMCase: Sendable, CustomTestStringConvertible {
    var m: Int, n: Int, k: Int
    var transA: Transpose, transB: Transpose
    /// Extra elements per row beyond the minimum leading dimension (0 = contiguous).
    var ldPadding = 0
    var alpha: Float = 1, beta: Float = 0
    var batchCount = 1

    var testDescription: String {
        let t = { (x: Transpose) in x == .none ? "N" : "T" }
        return "m\(m) n\(n) k\(k) \(t(transA))\(t(transB)) pad\(ldPadding) α\(alpha) β\(beta) batch\(batchCount)"
    }

    static let all: [GEMMCase] = {
        let transposes: [(Transpose, Transpose)] = [(.none, .none), (.none, .transposed), (.transposed, .none),
                                                    (.transposed, .transposed)]
        // Every size in {1, 3, 17, 129} in every position, without paying for many 129³ products.
        let sizes = [(1, 1, 1), (3, 17, 129), (17, 129, 3), (129, 3, 17), (1, 129, 17), (17, 1, 129), (3, 3, 1)]
        var cases: [GEMMCase] = []
        for (transA, transB) in transposes {
            for (m, n, k) in sizes {
                cases.append(GEMMCase(m: m, n: n, k: k, transA: transA, transB: transB))
            }
            // Non-trivial leading dimensions, beta 0 over a NaN-filled C, alpha ≠ 1.
            cases.append(GEMMCase(m: 17, n: 3, k: 129, transA: transA, transB: transB, ldPadding: 5, alpha: 0.7, beta: 0))
            // Accumulation into C, with padding.
            cases.append(GEMMCase(m: 3, n: 17, k: 17, transA: transA, transB: transB, ldPadding: 2, alpha: -1.5, beta: 1.3))
            // Batched and strided.
            cases.append(GEMMCase(m: 17, n: 3, k: 17, transA: transA, transB: transB, ldPadding: 1, alpha: 1, beta: 0.5,
                                  batchCount: 3))
            // Large enough (m ≥ 256, ≥ 4 MFLOP) for the CPU backend to split the rows of C across
            // cores: uneven row blocks, padded leading dimensions, accumulation.
            cases.append(GEMMCase(m: 301, n: 129, k: 67, transA: transA, transB: transB, ldPadding: 3, alpha: 0.9, beta: 0.4))
        }
        cases.append(GEMMCase(m: 129, n: 129, k: 129, transA: .none, transB: .transposed, beta: 1))
        cases.append(GEMMCase(m: 3, n: 17, k: 0, transA: .none, transB: .none, alpha: 1, beta: 0.5))
        cases.append(GEMMCase(m: 3, n: 17, k: 0, transA: .transposed, transB: .none, alpha: 1, beta: 0))
        cases.append(GEMMCase(m: 17, n: 3, k: 17, transA: .none, transB: .none, alpha: 0, beta: 2))
        return cases
    }()
}

@Suite struct GEMMTests {
    @Test(arguments: GEMMCase.all)
    func gemmMatchesReference(_ c: GEMMCase) throws {
        let (rowsA, colsA) = c.transA == .none ? (c.m, c.k) : (c.k, c.m)
        let (rowsB, colsB) = c.transB == .none ? (c.k, c.n) : (c.n, c.k)
        let lda = max(1, colsA) + c.ldPadding, ldb = max(1, colsB) + c.ldPadding, ldc = c.n + c.ldPadding
        // Strides leave a gap of 7 elements between consecutive matrices.
        let strideA = rowsA * lda + 7, strideB = rowsB * ldb + 7, strideC = c.m * ldc + 7
        let shape = GEMMShape(m: c.m, n: c.n, k: c.k, transA: c.transA, transB: c.transB, alpha: c.alpha, beta: c.beta,
                              lda: lda, ldb: ldb, ldc: ldc, batchCount: c.batchCount,
                              strideA: strideA, strideB: strideB, strideC: strideC)
        let need = shape.requiredCounts
        var random = TestRandom(seed: 10, stream: UInt64(c.m * 1_000_000 + c.n * 1000 + c.k))
        let a = try Twin([max(need.a, 1)], &random)
        let b = try Twin([max(need.b, 1)], &random)
        // beta == 0: C holds NaN, which must not leak into the result.
        let cTwin = c.beta == 0 ? try Twin([need.c], filledWith: .nan) : try Twin([need.c], &random)
        try onBoth { backend, side in try backend.gemm(cTwin[side], a[side], b[side], shape) }
        try cTwin.expectClose("gemm \(c.testDescription)")
        if c.beta == 0 {
            // Every element of C inside the product was written (no NaN left there).
            let values = try cTwin.device.toArray()
            for p in 0..<c.batchCount {
                for i in 0..<c.m {
                    let row = values[(p * strideC + i * ldc)..<(p * strideC + i * ldc + c.n)]
                    #expect(!row.contains { $0.isNaN }, "C row \(i) of batch \(p) still holds NaN")
                }
            }
        }
    }
}

/// Products with a matrix packed once (the recurrent time loop's path on backends that pack)
/// against the reference GEMM, on odd shapes, both layouts of B, overwriting and accumulating.
@Suite struct PackedProductTests {
    static let shapes: [(m: Int, n: Int, k: Int)] = [(1, 1, 1), (5, 15, 3), (7, 16, 17), (13, 17, 300), (6, 40, 64), (19, 33, 5), (19, 70, 9)]

    @Test(arguments: shapes.indices)
    func packedProductsMatchReference(_ index: Int) throws {
        let (m, n, k) = Self.shapes[index]
        let backend = TestDevice.backend
        for transB in [Transpose.none, .transposed] {
            var random = TestRandom(seed: 71, stream: UInt64(index))
            let bShape = transB == .none ? [k, n] : [n, k]
            let b = try Twin(bShape, &random), a = try Twin([m, k], &random)
            guard let packed = try backend.packForRepeatedProducts(b.device, k: k, n: n, transB: transB) else {
                // A backend that packs nothing (or has packing turned off) refuses a matrix it did not pack.
                let error = #expect(throws: RecurrentError.self) {
                    try backend.gemm(Tensor.zeros([m, n], on: backend), a.device,
                                     packed: PackedMatrix(k: k, n: n, storage: b.device, layout: "unpacked"), accumulate: false)
                }
                #expect("\(error.map { "\($0)" } ?? "")".contains("gemm(packed:)"), "\(String(describing: error))")
                return
            }
            // The same floats under another layout's name are refused: they would be read wrongly.
            #expect(throws: RecurrentError.self) {
                try backend.gemm(Tensor.zeros([m, n], on: backend), a.device,
                                 packed: PackedMatrix(k: k, n: n, storage: packed.storage, layout: "unpacked"), accumulate: false)
            }
            for accumulate in [false, true] {
                let c = accumulate ? try Twin([m, n], &random) : try Twin([m, n], filledWith: .nan)
                try backend.gemm(c.device, a.device, packed: packed, accumulate: accumulate)
                try Side.referenceBackend.gemm(c.reference, a.reference, b.reference,
                                               GEMMShape(m: m, n: n, k: k, transB: transB, beta: accumulate ? 1 : 0))
                try c.expectClose("packed m\(m) n\(n) k\(k) \(transB) accumulate \(accumulate)")
            }
        }
    }
}
