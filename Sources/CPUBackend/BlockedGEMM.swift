// The backend's own cache-blocked SGEMM (rk_sgemm in Sources/CRecurrentGEMM/sgemm.c) and the
// products it computes instead of OpenBLAS. m × k = op(A), k × n = op(B), m × n = C.
import CRecurrentGEMM
import Foundation
import RecurrentCore

/// Which SGEMM computes the CPU backend's general products (`Backend.gemm`).
public enum CPUGEMMEngine: String, Sendable, CaseIterable {
    /// Per shape, whichever was measured faster on this CPU kind. On the 2-core AVX-512 Xeon the
    /// products of the benchmark grid's configurations all ran faster in OpenBLAS's SkylakeX
    /// kernels, so automatic is OpenBLAS for now.
    case automatic = "auto"
    /// OpenBLAS for every product.
    case openBLAS = "openblas"
    /// The blocked SGEMM for every product on a CPU it has kernels for (AVX2/FMA or AVX-512),
    /// OpenBLAS on others.
    case blocked

    /// `RECURRENT_CPU_GEMM` (auto, openblas, blocked); automatic when it is unset. Another value
    /// is named on standard error and automatic is used.
    public static let fromEnvironment: CPUGEMMEngine = {
        guard let text = ProcessInfo.processInfo.environment["RECURRENT_CPU_GEMM"] else { return .automatic }
        if let engine = CPUGEMMEngine(rawValue: text.lowercased()) { return engine }
        FileHandle.standardError.write(Data("RECURRENT_CPU_GEMM=\(text): expected auto, openblas or blocked; using auto\n".utf8))
        return .automatic
    }()
}

/// The blocked SGEMM's register blocks this process runs: AVX-512 or AVX2/FMA (nil: none, portable build).
let blockedGEMMBuild: String? = rk_cpu_isa() >= RK_ISA_AVX2 ? cellKernelBuild : nil

extension CPUGEMMEngine {
    /// Whether the blocked SGEMM computes a product of this shape.
    func usesBlocked(_ s: GEMMShape) -> Bool { self == .blocked && blockedGEMMBuild != nil && s.k > 0 }
}

/// `rk_sgemm` on rows of C: `a`, `b` and `c` point at the first row's operands; false when it
/// computed nothing (no kernel for this CPU, or no memory for its packing buffers).
func blockedGEMM(_ s: GEMMShape, rows: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                 _ c: UnsafeMutablePointer<Float>) -> Bool {
    rk_sgemm(s.transA == .none ? 0 : 1, s.transB == .none ? 0 : 1, Int32(rows), Int32(s.n), Int32(s.k), s.alpha,
             a, Int32(s.lda), b, Int32(s.ldb), s.beta, c, Int32(s.ldc)) == 0
}

extension CPUBackend {
    /// Whether this CPU runs the blocked SGEMM (AVX2/FMA or AVX-512, within RECURRENT_CPU_ISA).
    public static var blockedGEMMAvailable: Bool { blockedGEMMBuild != nil }

    /// The engine in words, for `deviceDescription`.
    var gemmDescription: String {
        guard gemmEngine == .blocked, let build = blockedGEMMBuild else { return "OpenBLAS" }
        return "blocked \(build)"
    }
}
