// The GEMM speed of the machine, measured in the same run: the ceiling for GEMM-bound configs.
import Foundation
import RecurrentKit

/// Median GFLOP/s of `repeats` square SGEMMs of size `n` through the CPU backend (OpenBLAS).
func measureSGEMM(n: Int = 1024, repeats: Int = 7) throws -> Double {
    let backend = try Device.makeBackend("cpu")
    var random = PhiloxStream(seed: 5, stream: 0)
    let a = try Tensor(shape: [n, n], values: random.uniform(count: n * n, low: -1, high: 1), on: backend)
    let b = try Tensor(shape: [n, n], values: random.uniform(count: n * n, low: -1, high: 1), on: backend)
    let c = try Tensor.empty([n, n], on: backend)
    let shape = GEMMShape(m: n, n: n, k: n)
    try backend.gemm(c, a, b, shape)   // warm-up: OpenBLAS starts its threads
    let clock = ContinuousClock()
    var rates: [Double] = []
    for _ in 0..<repeats {
        let t = try clock.measure { try backend.gemm(c, a, b, shape) }
        let seconds = Double(t.components.seconds) + Double(t.components.attoseconds) / 1e18
        rates.append(2 * Double(n * n * n) / seconds / 1e9)
    }
    return rates.sorted()[repeats / 2]
}
