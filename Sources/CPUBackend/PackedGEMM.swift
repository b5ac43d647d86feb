// Products with a weight matrix packed once per sequence (Sources/CRecurrentGEMM): the recurrent
// GEMMs of the time loop, where OpenBLAS would pack W_hh again on every step's call.
// k × n = op(B), m = rows of A and C.
import CRecurrentGEMM
import RecurrentCore

/// Whether this CPU runs the packed kernels (AVX2 and FMA), checked once per process.
let packedProductsAvailable: Bool = rk_packed_gemm_available() != 0

/// The build of the C kernels this process runs (`rk_cpu_isa`, capped by RECURRENT_CPU_ISA).
let cellKernelBuild: String = {
    switch rk_cpu_isa() {
    case RK_ISA_AVX512: return "AVX-512"
    case RK_ISA_AVX2: return "AVX2/FMA"
    default: return "portable"
    }
}()

/// The kernel set OpenBLAS runs, after `rk_openblas_select_core` has replaced an older one than
/// the CPU's (done once, before the backend's first BLAS call).
let openBLASCore: String = String(cString: rk_openblas_select_core())

extension CPUBackend {
    public func packForRepeatedProducts(_ b: Tensor, k: Int, n: Int, transB: Transpose) throws -> PackedMatrix? {
        guard packedProductsAvailable, usesPackedProducts, k > 0, n > 0, k <= Int(Int32.max), n <= Int(Int32.max) else { return nil }
        try RecurrentError.check("packForRepeatedProducts B (k × n)", count: b.count, equals: k * n)
        let storage = try Tensor.empty([rk_packed_size(Int32(k), Int32(n))], on: self)       // (⌈n/16⌉, k, 16)
        rk_pack_b(try pointer(storage, "packForRepeatedProducts"), try pointer(b, "packForRepeatedProducts B"),
                  Int32(k), Int32(n), Int32(transB == .none ? n : k), transB == .none ? 0 : 1)
        return PackedMatrix(k: k, n: n, storage: storage, layout: Self.packedLayout)
    }

    /// The layout `packForRepeatedProducts` writes: panels of 16 columns, (⌈n/16⌉, k, 16).
    static let packedLayout = "panels of 16 columns (CPU rk_pack_b)"

    public func gemm(_ c: Tensor, _ a: Tensor, packed: PackedMatrix, accumulate: Bool) throws {
        let (k, n) = (packed.k, packed.n)
        guard packedProductsAvailable, k > 0, n > 0, k <= Int(Int32.max), n <= Int(Int32.max) else {
            throw RecurrentError.invalidArgument(name: "gemm(packed:) B", expected: "a matrix this CPU packs (AVX2/FMA, 0 < k, n < 2³¹)",
                                                 got: "k \(k), n \(n)" + (packedProductsAvailable ? "" : " on a CPU without AVX2/FMA"))
        }
        try packed.check(layout: Self.packedLayout, count: Int(rk_packed_size(Int32(k), Int32(n))))
        let m = try packed.productRows(a: a, c: c)
        guard m > 0 else { return }
        rk_gemm_packed(Int32(m), Int32(n), Int32(k), try pointer(a, "gemm(packed:) A"), Int32(k),
                       try pointer(packed.storage, "gemm(packed:) packed B"), try pointer(c, "gemm(packed:) C"), Int32(n),
                       accumulate ? 1 : 0)
    }
}
