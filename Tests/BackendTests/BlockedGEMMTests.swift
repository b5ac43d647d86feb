// The CPU backend's blocked SGEMM (forced for every product) against the reference triple loop,
// on shapes with a partial tile in every dimension: rows of A's micro-panels (14 with AVX-512, 6
// with AVX2) and of its 112-row blocks, columns of B's 16-wide panels, 32-wide register blocks
// and 1024-column blocks, depth of the 256-deep blocks. Both transposes, leading dimensions
// beyond the minimum, alpha ≠ 1, beta 0 (over NaN), 1 and other, batches. With
// RECURRENT_CPU_ISA=avx2 the AVX2 blocks run; with =portable the backend falls back to OpenBLAS.
// m × k = op(A), k × n = op(B), m × n = C.

import RecurrentKit
import ReferenceBackend
import TestSupport
import Testing

@Suite struct BlockedGEMMTests {
    /// A CPU backend that sends every product to the blocked SGEMM.
    static let blocked = CPUBackend(gemmEngine: .blocked)

    static let cases: [GEMMCase] = {
        let transposes: [(Transpose, Transpose)] = [(.none, .none), (.none, .transposed), (.transposed, .none),
                                                    (.transposed, .transposed)]
        var cases: [GEMMCase] = []
        for (transA, transB) in transposes {
            // Single elements, a partial micro-panel and panel, two blocks of depth with a short second.
            cases.append(GEMMCase(m: 1, n: 1, k: 1, transA: transA, transB: transB))
            cases.append(GEMMCase(m: 13, n: 17, k: 257, transA: transA, transB: transB))
            // Past a row block (112) and a 32-wide block, an odd number of 16-wide panels.
            cases.append(GEMMCase(m: 115, n: 49, k: 31, transA: transA, transB: transB, ldPadding: 3))
            // Accumulating into C, alpha ≠ 1, three blocks of depth.
            cases.append(GEMMCase(m: 29, n: 33, k: 600, transA: transA, transB: transB, ldPadding: 1, alpha: 0.75, beta: 1))
            // beta neither 0 nor 1, batched and strided.
            cases.append(GEMMCase(m: 15, n: 16, k: 40, transA: transA, transB: transB, ldPadding: 2, alpha: -1, beta: 0.5,
                                  batchCount: 2))
        }
        // Past a 1024-column block, with rows split across cores (m ≥ 256).
        cases.append(GEMMCase(m: 257, n: 1041, k: 19, transA: .none, transB: .transposed, beta: 1))
        cases.append(GEMMCase(m: 300, n: 37, k: 513, transA: .transposed, transB: .none, ldPadding: 5, beta: 0))
        // No depth: C = beta · C; alpha 0 likewise.
        cases.append(GEMMCase(m: 3, n: 17, k: 0, transA: .none, transB: .none, alpha: 1, beta: 0.5))
        cases.append(GEMMCase(m: 17, n: 3, k: 17, transA: .transposed, transB: .none, alpha: 0, beta: 2))
        return cases
    }()

    @Test(arguments: cases)
    func blockedMatchesReference(_ c: GEMMCase) throws {
        try Side.$deviceOverride.withValue(Self.blocked) {
            try GEMMTests().gemmMatchesReference(c)
        }
    }

    /// Each element of C is the same, bit for bit, whichever rows of C a call covers and however
    /// often it runs: the sum runs in one fixed order. (OpenBLAS, which runs instead on a CPU
    /// without the blocked SGEMM's kernels, promises no such thing.)
    @Test(.enabled(if: CPUBackend.blockedGEMMAvailable, "this CPU (or RECURRENT_CPU_ISA) has no blocked SGEMM kernels"))
    func resultsDoNotDependOnTheRowsComputed() throws {
        let backend = Self.blocked
        let (m, n, k) = (301, 70, 700)
        var random = TestRandom(seed: 31, stream: 0)
        let a = try Tensor(shape: [k, m], values: random.uniform(count: k * m, low: -1, high: 1), on: backend)
        let b = try Tensor(shape: [k, n], values: random.uniform(count: k * n, low: -1, high: 1), on: backend)
        let whole = try Tensor.zeros([m, n], on: backend), again = try Tensor.zeros([m, n], on: backend)
        let shape = GEMMShape(m: m, n: n, k: k, transA: .transposed)
        try backend.gemm(whole, a, b, shape)
        try backend.gemm(again, a, b, shape)
        #expect(try whole.toArray() == again.toArray(), "two runs of one product differ")
        // Rows 17..<120 alone: A's columns from 17 on, C's rows from 17 on.
        let rows = 17..<120
        let part = try Tensor.zeros([rows.count, n], on: backend)
        let aPart = try Tensor(shape: [k * m - rows.lowerBound], buffer: a.buffer, offset: rows.lowerBound, backend: backend)
        try backend.gemm(part, aPart, b, GEMMShape(m: rows.count, n: n, k: k, transA: .transposed, lda: m))
        let full = try whole.toArray()
        #expect(try part.toArray() == Array(full[(rows.lowerBound * n)..<(rows.upperBound * n)]),
                "rows \(rows) computed alone differ from the same rows of the whole product")
    }
}
