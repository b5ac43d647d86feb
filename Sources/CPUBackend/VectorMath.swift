// Eight-wide exp, sigmoid and tanh for the cell kernels, in portable Swift SIMD.
// Coefficients: the minimax polynomials of Cephes' expf and tanhf (S. L. Moshier), which are
// accurate to about 1 ulp in fp32; a vector of 8 floats maps to AVX (or two SSE registers).

import RecurrentCore

typealias Vec = SIMD8<Float>
let vectorWidth = 8

@inline(__always) func vexp(_ x: Vec) -> Vec {
    // exp(x) = 2^n · exp(r), n = round(x / ln 2), r = x − n·ln 2 (ln 2 split in two for exactness).
    // Clamp with masked selects: `clamped(lowerBound:upperBound:)` is not inlined and costs a call per vector.
    let low = Vec(repeating: -87.33654), high = Vec(repeating: 88.37626)
    let clamped = x.replacing(with: low, where: x .< low).replacing(with: high, where: x .> high)
    // Adding 1.5·2^23 rounds to the nearest integer and leaves it in the low mantissa bits,
    // with no float-to-int conversion (|x / ln 2| < 2^22).
    let shifted = clamped * 1.442_695_04 + 12_582_912
    let n = shifted - 12_582_912
    let r = clamped - n * 0.693_359_375 + n * 2.121_944_4e-4
    let r2 = r * r
    var p = Vec(repeating: 1.987_569_15e-4)
    p = p * r + 1.398_199_950_7e-3
    p = p * r + 8.333_451_907_3e-3
    p = p * r + 4.166_579_589_4e-2
    p = p * r + 1.666_666_545_9e-1
    p = p * r + 5.000_000_120_1e-1
    let er = p * r2 + r + 1
    // 2^n from the exponent bits; n ∈ [−126, 127] after the clamp.
    let bits = (unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    return er * unsafeBitCast(bits, to: Vec.self)
}

@inline(__always) func vsigmoid(_ x: Vec) -> Vec { 1 / (1 + vexp(-x)) }

@inline(__always) func vtanh(_ x: Vec) -> Vec {
    // |x| < 0.625: odd polynomial; otherwise 1 − 2/(e^{2|x|} + 1) with the sign restored.
    let z = x * x
    var p = Vec(repeating: -5.704_988_727_45e-3)
    p = p * z + 2.063_908_879_54e-2
    p = p * z - 5.373_971_555_31e-2
    p = p * z + 1.333_144_220_36e-1
    p = p * z - 3.333_328_194_22e-1
    let small = p * z * x + x
    let a = x.replacing(with: -x, where: x .< 0)
    let large = 1 - 2 / (vexp(a + a) + 1)
    let signed = large.replacing(with: -large, where: x .< 0)
    return signed.replacing(with: small, where: a .< 0.625)
}

@inline(__always) func vrelu(_ x: Vec) -> Vec { x.replacing(with: 0, where: x .< 0) }

@inline(__always) func vactivate(_ x: Vec, _ f: Activation) -> Vec {
    switch f {
    case .identity: return x
    case .tanh: return vtanh(x)
    case .relu: return vrelu(x)
    case .sigmoid: return vsigmoid(x)
    }
}

/// f'(x) through y = f(x), eight at a time.
@inline(__always) func vactivationDerivative(output y: Vec, _ f: Activation) -> Vec {
    switch f {
    case .identity: return Vec(repeating: 1)
    case .tanh: return 1 - y * y
    case .relu: return Vec(repeating: 1).replacing(with: 0, where: y .<= 0)
    case .sigmoid: return y * (1 - y)
    }
}

/// Loads up to eight floats from `p + j` (`lanes` of them; the rest are zero).
@inline(__always) func load(_ p: UnsafePointer<Float>, _ j: Int, _ lanes: Int) -> Vec {
    if lanes == vectorWidth { return UnsafeRawPointer(p + j).loadUnaligned(as: Vec.self) }
    var v = Vec(repeating: 0)
    for k in 0..<lanes { v[k] = p[j + k] }
    return v
}

/// Stores the first `lanes` floats of `v` at `p + j`.
@inline(__always) func store(_ v: Vec, _ p: UnsafeMutablePointer<Float>, _ j: Int, _ lanes: Int) {
    if lanes == vectorWidth {
        UnsafeMutableRawPointer(p + j).storeBytes(of: v, as: Vec.self)
        return
    }
    for k in 0..<lanes { p[j + k] = v[k] }
}

/// Calls `body(j, lanes)` over 0..<n in chunks of eight; the last chunk may be shorter. Every
/// element goes through the same vector arithmetic, whatever n is.
@inline(__always) func forEachChunk(_ n: Int, _ body: (Int, Int) -> Void) {
    var j = 0
    while j < n {
        body(j, min(vectorWidth, n - j))
        j += vectorWidth
    }
}
