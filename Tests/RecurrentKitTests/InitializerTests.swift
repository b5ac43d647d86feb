import Testing
import TestSupport
@testable import RecurrentKit

private func stats(_ v: [Float]) -> (mean: Float, std: Float, maxAbs: Float) {
    let mean = v.reduce(0, +) / Float(v.count)
    let variance = v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(v.count)
    return (mean, variance.squareRoot(), v.map(abs).max() ?? 0)
}

@Test func pytorchDefaultBounds() throws {
    let backend = TestDevice.backend
    let lstm = try LSTM(inputSize: 7, hiddenSize: 100, numLayers: 2, on: backend, rng: RandomSource(seed: 1))
    let bound = 1 / Float(100).squareRoot()
    for (name, p) in lstm.namedParameters {
        let v = try p.value.toArray()
        let s = stats(v)
        #expect(s.maxAbs <= bound, "\(name) outside U(-1/sqrt(H), 1/sqrt(H))")
        // A uniform on (-b, b) has std b/sqrt(3).
        #expect(abs(s.std - bound / Float(3).squareRoot()) < 0.1 * bound, "\(name) std \(s.std)")
    }
    let linear = try Linear(400, 3, on: backend, rng: RandomSource(seed: 1))
    #expect(try stats(linear.weight.value.toArray()).maxAbs <= 1 / 20)
    let embedding = try Embedding(100, 50, on: backend, rng: RandomSource(seed: 1))
    let e = try stats(embedding.weight.value.toArray())
    #expect(abs(e.mean) < 0.05 && abs(e.std - 1) < 0.05)
}

@Test func sameSeedSameWeightsDifferentSeedDifferent() throws {
    let backend = TestDevice.backend
    func weights(_ seed: UInt64) throws -> [String: HostTensor] {
        let rng = RandomSource(seed: seed)
        return try Sequential([("gru", GRU(inputSize: 3, hiddenSize: 5, numLayers: 2, on: backend, rng: rng)),
                               ("fc", Linear(5, 2, on: backend, rng: rng))]).stateDict()
    }
    let a = try weights(7), b = try weights(7), c = try weights(8)
    #expect(a == b)
    #expect(a["gru.weight_ih_l0"] != c["gru.weight_ih_l0"])
    // Every parameter has its own stream: no two tensors of equal size repeat each other.
    #expect(a["gru.bias_ih_l0"] != a["gru.bias_hh_l0"])
}

@Test func xavierMatchesItsVariance() throws {
    var s = PhiloxStream(seed: 3, stream: 0)
    let u = try Initializer.xavierUniform().values(shape: [300, 200], defaultBound: nil, stream: &s)
    let a = (6.0 / 500.0).squareRoot()
    #expect(stats(u).maxAbs <= Float(a))
    #expect(abs(stats(u).std - Float(a / 3.0.squareRoot())) < 0.01 * Float(a))
    let n = try Initializer.xavierNormal(gain: 2).values(shape: [300, 200], defaultBound: nil, stream: &s)
    #expect(abs(stats(n).std - 2 * Float((2.0 / 500.0).squareRoot())) < 0.002)
    // Per-gate blocks: a (4H, I) LSTM weight with H = 50 uses fan_out = 50, not 200.
    let g = try Initializer.xavierUniform().values(shape: [200, 30], blocks: 4, defaultBound: nil, stream: &s)
    #expect(stats(g).maxAbs > Float((6.0 / 230.0).squareRoot()))
    #expect(stats(g).maxAbs <= Float((6.0 / 80.0).squareRoot()))
}

@Test(arguments: [(8, 8), (5, 12), (12, 5), (1, 4)])
func orthogonalIsOrthogonal(rows: Int, cols: Int) throws {
    var s = PhiloxStream(seed: 11, stream: 2)
    let q = try Initializer.orthogonal(gain: 1.5).values(shape: [rows, cols], defaultBound: nil, stream: &s)
    // Q Qᵀ = gain² I for wide matrices, Qᵀ Q = gain² I for tall ones.
    let wide = rows <= cols
    let n = wide ? rows : cols
    for i in 0..<n {
        for j in 0..<n {
            var dot: Float = 0
            for k in 0..<(wide ? cols : rows) {
                dot += wide ? q[i * cols + k] * q[j * cols + k] : q[k * cols + i] * q[k * cols + j]
            }
            #expect(abs(dot - (i == j ? 2.25 : 0)) < 1e-4, "(\(i), \(j)) = \(dot)")
        }
    }
}

@Test func recurrentOrthogonalIsPerGate() throws {
    let gru = try GRU(inputSize: 4, hiddenSize: 6, on: TestDevice.backend, rng: RandomSource(seed: 5), recurrentInit: .orthogonal())
    let w = try gru.layerParameters[0].weightHH.value.toArray()   // (3·6, 6)
    for gate in 0..<3 {
        for i in 0..<6 {
            for j in 0..<6 {
                var dot: Float = 0
                for k in 0..<6 { dot += w[(gate * 6 + i) * 6 + k] * w[(gate * 6 + j) * 6 + k] }
                #expect(abs(dot - (i == j ? 1 : 0)) < 1e-4)
            }
        }
    }
}
