// The CPU backend's vectorised Adam update and squared error (CRecurrentGEMM's
// recurrent_training.h), every build this CPU runs (portable, AVX2, AVX-512) in one process,
// against the same expressions evaluated one element at a time in Swift: Adam bit for bit (no
// operation is fused in either), the squared error's gradient bit for bit and its sum against a
// Double sum. Counts end mid-vector; nothing past the end is written. N = elements.

import CRecurrentGEMM
import Foundation
import Testing

@Suite struct TrainingKernelTests {
    static let builds: [Int32] = Array(Int32(RK_ISA_PORTABLE)...rk_cpu_isa())
    static let counts = [1, 3, 8, 15, 17, 255, 256, 257, 1000]

    static func values(_ count: Int, seed: Int, scale: Float = 1) -> [Float] {
        (0..<count).map { Float(sin(Double($0 * 13 + seed) * 0.37)) * scale }
    }

    /// (weight decay, decoupled) cases: none, coupled L2, AdamW.
    static let decays: [(Float, Bool)] = [(0, false), (0.01, false), (0.01, true)]

    @Test(arguments: 0..<3)
    func adamMatchesScalarExpressions(decayCase: Int) {
        let (wd, decoupled) = Self.decays[decayCase]
        let (lr, beta1, beta2, eps): (Float, Float, Float, Float) = (0.003, 0.9, 0.999, 1e-8)
        let (bc1, bc2s): (Float, Float) = (1 - powf(beta1, 3), (1 - powf(beta2, 3)).squareRoot())
        var constants = rk_adam(step_size: lr / bc1, bias_correction2_sqrt: bc2s, beta1: beta1, beta2: beta2, epsilon: eps,
                                weight_decay: wd, decay: 1 - lr * wd, decoupled: decoupled ? 1 : 0)
        for build in Self.builds {
            for n in Self.counts {
                let p0 = Self.values(n, seed: 1), g = Self.values(n, seed: 2, scale: 3)
                let m0 = Self.values(n, seed: 3, scale: 0.1), v0 = Self.values(n, seed: 4, scale: 0.01).map { abs($0) }
                // The scalar expressions, in the order PyTorch's Adam applies them.
                var want = (p: p0, m: m0, v: v0)
                for i in 0..<n {
                    var gi = g[i]
                    if decoupled { want.p[i] *= 1 - lr * wd } else if wd != 0 { gi += wd * want.p[i] }
                    want.m[i] += (gi - want.m[i]) * (1 - beta1)
                    want.v[i] = want.v[i] * beta2 + (1 - beta2) * gi * gi
                    want.p[i] -= lr / bc1 * (want.m[i] / (want.v[i].squareRoot() / bc2s + eps))
                }
                // One guard element past the end of each buffer.
                var p = p0 + [.nan], m = m0 + [.nan], v = v0 + [.nan]
                rk_adam_update_build(build, &p, g, &m, &v, n, &constants)
                let label = "build \(build) N \(n) wd \(wd) decoupled \(decoupled)"
                #expect(Array(p.prefix(n)) == want.p, "\(label): parameters")
                #expect(Array(m.prefix(n)) == want.m, "\(label): m")
                #expect(Array(v.prefix(n)) == want.v, "\(label): v")
                #expect(p[n].isNaN && m[n].isNaN && v[n].isNaN, "\(label): wrote past the end")
            }
        }
    }

    @Test func squaredErrorMatchesDefinition() {
        for build in Self.builds {
            for n in Self.counts + [10_000] {
                let x = Self.values(n, seed: 5, scale: 2), t = Self.values(n, seed: 6)
                var grad = [Float](repeating: .nan, count: n + 1)
                let sum = rk_squared_error_build(build, &grad, x, t, n, 0.25)
                let want = zip(x, t).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
                #expect(abs(sum - want) <= 1e-6 * want, "build \(build) N \(n): sum \(sum), want \(want)")
                #expect(Array(grad.prefix(n)) == zip(x, t).map { 2 * Float(0.25) * ($0 - $1) }, "build \(build) N \(n): gradient")
                #expect(grad[n].isNaN, "build \(build) N \(n): wrote past the end")
            }
        }
    }
}
