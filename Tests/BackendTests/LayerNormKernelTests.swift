// The CPU backend's vectorised layer-norm rows (CRecurrentGEMM's recurrent_layer_norm.h), every
// build this CPU runs (portable, AVX2, AVX-512) in one process, against the definition summed one
// value at a time in Double: widths that end mid-vector, with and without the affine output, in
// place and not, forward and backward (backward's error measured against the row's terms × 1/σ,
// as a float kernel's bound is). R = rows, W = width.

import CRecurrentGEMM
import Foundation
import Testing

@Suite struct LayerNormKernelTests {
    static let builds: [Int32] = Array(Int32(RK_ISA_PORTABLE)...rk_cpu_isa())
    static let widths = [1, 2, 3, 5, 8, 17, 33, 64, 255, 1027]
    static let rows = 3

    /// Values with a large common offset (what the two-pass variance is for) and a spread.
    static func values(_ count: Int, seed: Int) -> [Float] {
        (0..<count).map { Float(sin(Double($0 * 7 + seed) * 0.61)) * 2.5 + 40 }
    }

    /// x̂ and 1/σ of one row, as nn.LayerNorm defines them, in Double.
    static func expected(_ x: ArraySlice<Float>) -> (normalized: [Float], inverse: Float) {
        let w = Double(x.count)
        let mean = x.reduce(0) { $0 + Double($1) } / w
        let variance = x.reduce(0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / w
        let inverse = 1 / (variance + 1e-5).squareRoot()
        return (x.map { Float((Double($0) - mean) * inverse) }, Float(inverse))
    }

    static func expectClose(_ a: [Float], _ e: [Float], _ what: String) {
        let worst = zip(a, e).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
        #expect(worst <= 4e-7, "\(what): worst relative difference \(worst)")
    }

    @Test(arguments: [false, true])
    func forwardMatchesDefinition(inPlace: Bool) {
        for build in Self.builds {
            for w in Self.widths {
                let x = Self.values(Self.rows * w, seed: w), gain = Self.values(w, seed: 3).map { $0 - 39 }
                let bias = Self.values(w, seed: 5).map { $0 - 40 }
                var normalized = [Float](repeating: .nan, count: Self.rows * w), inverse = [Float](repeating: .nan, count: Self.rows + 1)
                var y = inPlace ? x : [Float](repeating: .nan, count: Self.rows * w)
                if inPlace {
                    y.withUnsafeMutableBufferPointer { py in
                        rk_layer_norm_rows_build(build, &normalized, &inverse, py.baseAddress, py.baseAddress, gain, bias, Self.rows, Int32(w))
                    }
                } else {
                    rk_layer_norm_rows_build(build, &normalized, &inverse, &y, x, gain, bias, Self.rows, Int32(w))
                }
                var wantN: [Float] = [], wantI: [Float] = []
                for r in 0..<Self.rows {
                    let (n, i) = Self.expected(x[(r * w)..<((r + 1) * w)])
                    wantN += n
                    wantI.append(i)
                }
                let wantY = wantN.indices.map { wantN[$0] * gain[$0 % w] + bias[$0 % w] }
                Self.expectClose(normalized, wantN, "build \(build) W \(w) x̂")
                Self.expectClose(Array(inverse.prefix(Self.rows)), wantI, "build \(build) W \(w) 1/σ")
                Self.expectClose(y, wantY, "build \(build) W \(w) y\(inPlace ? " in place" : "")")
                #expect(inverse[Self.rows].isNaN, "build \(build) W \(w) wrote past the rows' 1/σ")
            }
        }
    }

    @Test(arguments: [false, true])
    func backwardMatchesDefinition(inPlace: Bool) {
        for build in Self.builds {
            for w in Self.widths {
                let x = Self.values(Self.rows * w, seed: w)
                var normalized: [Float] = [], inverse: [Float] = []
                for r in 0..<Self.rows {
                    let (n, i) = Self.expected(x[(r * w)..<((r + 1) * w)])
                    normalized += n
                    inverse.append(i)
                }
                let dy = Self.values(Self.rows * w, seed: 11).map { $0 - 40 }, gain = Self.values(w, seed: 13).map { $0 - 39 }
                var dx = inPlace ? dy : [Float](repeating: .nan, count: Self.rows * w)
                if inPlace {
                    dx.withUnsafeMutableBufferPointer { pdx in
                        rk_layer_norm_rows_backward_build(build, pdx.baseAddress, pdx.baseAddress, normalized, gain, inverse, Self.rows,
                                                          Int32(w))
                    }
                } else {
                    rk_layer_norm_rows_backward_build(build, &dx, dy, normalized, gain, inverse, Self.rows, Int32(w))
                }
                var want: [Float] = [], scale: [Float] = []
                for r in 0..<Self.rows {
                    let range = (r * w)..<((r + 1) * w)
                    let d = range.map { Double(dy[$0] * gain[$0 - r * w]) }
                    let meanD = d.reduce(0, +) / Double(w)
                    let meanDX = zip(d, range).reduce(0) { $0 + $1.0 * Double(normalized[$1.1]) } / Double(w)
                    want += zip(d, range).map { Float(Double(inverse[r]) * ($0 - meanD - Double(normalized[$1]) * meanDX)) }
                    // The row's terms times 1/σ: a float kernel's error is a few roundings of these,
                    // however far they cancel (a two-value row's dx is all cancellation).
                    let terms = zip(d, range).map { abs($0) + abs(meanD) + abs(Double(normalized[$1]) * meanDX) }.max() ?? 0
                    scale += Array(repeating: Float(Double(inverse[r]) * terms), count: w)
                }
                let worst = zip(zip(dx, want), scale).map { abs($0.0 - $0.1) / max(1, abs($0.1), $1) }.max() ?? 0
                #expect(worst <= 4e-7, "build \(build) W \(w) dx\(inPlace ? " in place" : ""): worst difference \(worst) of the row's terms")
            }
        }
    }
}
