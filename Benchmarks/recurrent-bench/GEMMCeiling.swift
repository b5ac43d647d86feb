// The GEMM speed of the machine, measured in the same run: the ceiling for GEMM-bound configs.
import Foundation
import RecurrentKit

/// The best GFLOP/s of `repeats` square SGEMMs of size `n` through the CPU backend with one
/// engine (OpenBLAS, or the backend's blocked SGEMM): a ceiling, so the best run rather than the median.
func measureSGEMM(n: Int = 1024, repeats: Int = 9, engine: CPUGEMMEngine = .openBLAS) throws -> Double {
    try measureGEMM(GEMMShape(m: n, n: n, k: n), on: CPUBackend(gemmEngine: engine), repeats: repeats, best: true)
}

/// Median (or best) GFLOP/s of `repeats` GEMMs of one shape on a device (after one warm-up call).
func measureGEMM(_ shape: GEMMShape, device: String, repeats: Int, best: Bool = false) throws -> Double {
    try measureGEMM(shape, on: Device.makeBackend(device), repeats: repeats, best: best)
}

/// Median (or best) GFLOP/s of `repeats` GEMMs of one shape on a backend (after one warm-up call).
func measureGEMM(_ shape: GEMMShape, on backend: any Backend, repeats: Int, best: Bool = false) throws -> Double {
    var random = PhiloxStream(seed: 5, stream: 0)
    let need = shape.requiredCounts
    let a = try Tensor(shape: [need.a], values: random.uniform(count: need.a, low: -1, high: 1), on: backend)
    let b = try Tensor(shape: [need.b], values: random.uniform(count: need.b, low: -1, high: 1), on: backend)
    let c = try Tensor.zeros([need.c], on: backend)
    try backend.gemm(c, a, b, shape)   // warm-up: OpenBLAS starts its threads
    try backend.synchronize()
    let clock = ContinuousClock()
    var rates: [Double] = []
    for _ in 0..<repeats {
        let t = try clock.measure {
            try backend.gemm(c, a, b, shape)
            try backend.synchronize()
        }
        let seconds = Double(t.components.seconds) + Double(t.components.attoseconds) / 1e18
        rates.append(2 * Double(shape.m) * Double(shape.n) * Double(shape.k) / seconds / 1e9)
    }
    return best ? rates.max()! : rates.sorted()[repeats / 2]
}

/// `M:N:K[:TA:TB[:BETA]]`, TA and TB being n or t.
func parseGEMMShape(_ text: String) throws -> GEMMShape {
    let p = text.split(separator: ":").map(String.init)
    guard p.count >= 3, let m = Int(p[0]), let n = Int(p[1]), let k = Int(p[2]), m > 0, n > 0, k > 0 else {
        throw BenchError("GEMM shape '\(text)': expected M:N:K[:TA:TB[:BETA]] with positive sizes, TA/TB n or t")
    }
    let ta: Transpose = p.count > 3 && p[3] == "t" ? .transposed : .none
    let tb: Transpose = p.count > 4 && p[4] == "t" ? .transposed : .none
    return GEMMShape(m: m, n: n, k: k, transA: ta, transB: tb, beta: p.count > 5 ? Float(p[5]) ?? 0 : 0)
}
