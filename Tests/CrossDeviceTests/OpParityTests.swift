// Every op of the Backend protocol on the CPU backend and on the OpenCL backend with the same
// inputs: results must agree within abs 1e-5 + rel 1e-4 (dropout masks and Philox words exactly).
// Every operand is a view at offset 3 inside a buffer padded with a sentinel, and every operand
// (outputs, in-place results and inputs that must stay untouched) and its padding is compared.
// B = batch, H = hidden size, T = time steps, I = input size, G = gates, N = elements.

import Foundation
import RecurrentKit
import TestSupport
import Testing

/// Host values of one op argument, uploaded identically to both devices.
struct Operand {
    var name: String
    var shape: [Int]
    var values: [Float]

    init(_ name: String, _ shape: [Int], _ values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "\(name): \(values.count) values for shape \(shape)")
        self.name = name; self.shape = shape; self.values = values
    }

    /// Uniform in [low, high).
    static func uniform(_ name: String, _ shape: [Int], _ random: inout TestRandom,
                        _ low: Float = -1, _ high: Float = 1) -> Operand {
        Operand(name, shape, random.uniform(count: shape.reduce(1, *), low: low, high: high))
    }

    /// Standard normal.
    static func normal(_ name: String, _ shape: [Int], _ random: inout TestRandom) -> Operand {
        Operand(name, shape, random.normal(count: shape.reduce(1, *)))
    }

    /// All NaN: an output every element of which must be overwritten.
    static func nan(_ name: String, _ shape: [Int]) -> Operand {
        Operand(name, shape, [Float](repeating: .nan, count: shape.reduce(1, *)))
    }
}

/// Elements of padding before and after each view, and the value they hold.
private let padding = 3
private let sentinel: Float = -12345.5

/// Runs `op` on both devices over the same operands (each a view at offset 3 inside a padded
/// buffer filled with a sentinel) and compares every operand afterwards (outputs, in-place
/// results, and untouched inputs), plus the padding. Returns each operand's values (cpu, gpu).
@discardableResult
func expectSameOnBothDevices(_ label: String, _ operands: [Operand], exact: Bool = false,
                             sourceLocation: SourceLocation = #_sourceLocation,
                             _ op: (any Backend, [Tensor]) throws -> Void) throws -> [(cpu: [Float], gpu: [Float])] {
    var results: [[[Float]]] = []  // [device][operand] whole padded buffers
    for backend in [Devices.cpu, Devices.gpu as any Backend] {
        let tensors = try operands.map { operand in
            let padded = [Float](repeating: sentinel, count: padding) + operand.values
                + [Float](repeating: sentinel, count: padding)
            let base = try Tensor(shape: [padded.count], values: padded, on: backend)
            return try Tensor(shape: operand.shape, buffer: base.buffer, offset: padding, backend: backend)
        }
        try op(backend, tensors)
        try backend.synchronize()
        results.append(try tensors.map { try Tensor(shape: [$0.buffer.count], buffer: $0.buffer, backend: backend).toArray() })
    }
    var views: [(cpu: [Float], gpu: [Float])] = []
    for (index, operand) in operands.enumerated() {
        let view = padding..<(padding + operand.values.count)
        let (cpu, gpu) = (Array(results[0][index][view]), Array(results[1][index][view]))
        expectClose(gpu, cpu, absolute: exact ? 0 : 1e-5, relative: exact ? 0 : 1e-4,
                    "\(label): \(operand.name) (OpenCL vs CPU)", sourceLocation: sourceLocation)
        if parityReport { reportLargestDifference("\(label): \(operand.name)", gpu, cpu) }
        for (device, whole) in zip(["CPU", "OpenCL"], [results[0][index], results[1][index]]) {
            let outside = whole[..<view.lowerBound] + whole[view.upperBound...]
            if !outside.allSatisfy({ $0 == sentinel }) {
                Issue.record("\(label): \(operand.name): \(device) wrote outside the view", sourceLocation: sourceLocation)
            }
        }
        views.append((cpu, gpu))
    }
    return views
}

/// `RECURRENT_PARITY_REPORT=1` prints each compared tensor's largest differences (the figures
/// Kernels/README.md quotes).
private let parityReport = ProcessInfo.processInfo.environment["RECURRENT_PARITY_REPORT"] == "1"

/// Prints the largest |OpenCL − CPU| of `label` and the largest of |OpenCL − CPU| / |CPU| (over
/// |CPU| ≥ 1e-3, where a relative figure means something), finite values only.
private func reportLargestDifference(_ label: String, _ gpu: [Float], _ cpu: [Float]) {
    var absolute: Float = 0, relative: Float = 0
    for (g, c) in zip(gpu, cpu) where g.isFinite && c.isFinite {
        absolute = max(absolute, abs(g - c))
        if abs(c) >= 1e-3 { relative = max(relative, abs(g - c) / abs(c)) }
    }
    print("parity \(label): max abs \(absolute) max rel \(relative)")
}

// MARK: - GEMM

/// One GEMM configuration; C starts NaN when beta is 0.
struct GEMMParity: Sendable, CustomTestStringConvertible {
    var m: Int, n: Int, k: Int
    var transA: Transpose = .none, transB: Transpose = .none
    var alpha: Float = 1, beta: Float = 0
    /// Extra elements per row beyond the minimum leading dimension.
    var ldPadding = 0
    var batchCount = 1

    var testDescription: String {
        let t = { (x: Transpose) in x == .none ? "N" : "T" }
        return "gemm m\(m) n\(n) k\(k) \(t(transA))\(t(transB)) α\(alpha) β\(beta) pad\(ldPadding) batch\(batchCount)"
    }

    static let all: [GEMMParity] = {
        var cases: [GEMMParity] = []
        for transA in [Transpose.none, .transposed] {
            for transB in [Transpose.none, .transposed] {
                cases.append(GEMMParity(m: 37, n: 19, k: 23, transA: transA, transB: transB))
                cases.append(GEMMParity(m: 37, n: 19, k: 23, transA: transA, transB: transB, alpha: 0.7, beta: 1, ldPadding: 3))
                cases.append(GEMMParity(m: 13, n: 5, k: 11, transA: transA, transB: transB, alpha: -1.5, beta: 0.5,
                                        ldPadding: 2, batchCount: 3))
            }
        }
        cases += [GEMMParity(m: 1, n: 1, k: 1), GEMMParity(m: 67, n: 65, k: 129, transB: .transposed, alpha: 0.3, beta: 0),
                  GEMMParity(m: 7, n: 9, k: 0, beta: 0), GEMMParity(m: 7, n: 9, k: 0, transA: .transposed, beta: 1),
                  GEMMParity(m: 9, n: 7, k: 5, alpha: 0, beta: 2)]
        return cases
    }()
}

@Suite(.enabled(if: Devices.haveOpenCL, "no OpenCL device on this machine"))
struct OpParityTests {
    @Test(arguments: GEMMParity.all)
    func gemm(_ c: GEMMParity) throws {
        let (rowsA, colsA) = c.transA == .none ? (c.m, c.k) : (c.k, c.m)
        let (rowsB, colsB) = c.transB == .none ? (c.k, c.n) : (c.n, c.k)
        let lda = max(1, colsA) + c.ldPadding, ldb = max(1, colsB) + c.ldPadding, ldc = c.n + c.ldPadding
        // Strides leave a gap of 5 elements between consecutive matrices.
        let shape = GEMMShape(m: c.m, n: c.n, k: c.k, transA: c.transA, transB: c.transB, alpha: c.alpha, beta: c.beta,
                              lda: lda, ldb: ldb, ldc: ldc, batchCount: c.batchCount,
                              strideA: rowsA * lda + 5, strideB: rowsB * ldb + 5, strideC: c.m * ldc + 5)
        let need = shape.requiredCounts
        var random = TestRandom(seed: 1000, stream: UInt64(c.m * 1_000_000 + c.n * 1000 + c.k))
        let a = Operand.uniform("A", [max(need.a, 1)], &random), b = Operand.uniform("B", [max(need.b, 1)], &random)
        let cOperand = c.beta == 0 ? Operand.nan("C", [need.c]) : Operand.uniform("C", [need.c], &random)
        let results = try expectSameOnBothDevices(c.testDescription, [cOperand, a, b]) { backend, t in
            try backend.gemm(t[0], t[1], t[2], shape)
        }
        if c.beta == 0 {
            for p in 0..<c.batchCount {
                for i in 0..<c.m {
                    let start = p * shape.strideC + i * ldc
                    #expect(!results[0].gpu[start..<(start + c.n)].contains { $0.isNaN },
                            "\(c.testDescription): OpenCL left NaN in row \(i) of C \(p)")
                }
            }
        }
    }

    // MARK: Memory, elementwise and reductions

    @Test func copyAndFill() throws {
        var random = TestRandom(seed: 1001)
        try expectSameOnBothDevices("copy", [.uniform("source", [1031], &random), .nan("destination", [1031])]) { backend, t in
            try backend.copy(t[0], to: t[1])
        }
        try expectSameOnBothDevices("fill", [.nan("destination", [37, 19])], exact: true) { backend, t in
            try backend.fill(t[0], with: -2.75)
        }
    }

    @Test(arguments: [(37, 19), (1, 1031), (1031, 3)])
    func addBiasAndSumColumns(rows: Int, columns: Int) throws {
        var random = TestRandom(seed: 1002, stream: UInt64(rows * 10_000 + columns))
        let x = Operand.uniform("x", [rows, columns], &random), bias = Operand.uniform("bias", [columns], &random)
        try expectSameOnBothDevices("addBias (\(rows), \(columns))", [x, bias]) { backend, t in try backend.addBias(t[0], t[1]) }
        for accumulate in [false, true] {
            let out = accumulate ? Operand.uniform("out", [columns], &random) : .nan("out", [columns])
            try expectSameOnBothDevices("sumColumns (\(rows), \(columns)) accumulate \(accumulate)",
                                        [out, .uniform("x", [rows, columns], &random)]) { backend, t in
                try backend.sumColumns(t[0], t[1], accumulate: accumulate)
            }
        }
    }

    @Test(arguments: Activation.allCases, [false, true])
    func activation(_ activation: Activation, accumulate: Bool) throws {
        var random = TestRandom(seed: 1003, stream: UInt64(accumulate ? 1 : 0))
        let n = 1031
        try expectSameOnBothDevices("\(activation) forward", [.nan("y", [n]), .uniform("x", [n], &random, -4, 4)]) { backend, t in
            try backend.activationForward(t[0], t[1], activation)
        }
        // y = f(x) must be a possible output: relu's has exact zeros, sigmoid's lies in (0, 1).
        let y: [Float]
        switch activation {
        case .identity: y = random.uniform(count: n, low: -3, high: 3)
        case .tanh: y = random.uniform(count: n, low: -0.99, high: 0.99)
        case .relu: y = random.uniform(count: n, low: -1, high: 2).map { max(0, $0) }
        case .sigmoid: y = random.uniform(count: n, low: 0.01, high: 0.99)
        }
        let dx = accumulate ? Operand.uniform("dx", [n], &random) : .nan("dx", [n])
        try expectSameOnBothDevices("\(activation) backward accumulate \(accumulate)",
                                    [dx, .uniform("dy", [n], &random), Operand("y", [n], y)]) { backend, t in
            try backend.activationBackward(t[0], t[1], t[2], activation, accumulate: accumulate)
        }
    }

    @Test func elementwise() throws {
        var random = TestRandom(seed: 1004)
        let n = 1031
        try expectSameOnBothDevices("axpy", [.uniform("y", [n], &random), .normal("x", [n], &random)]) { backend, t in
            try backend.axpy(t[0], alpha: -0.75, t[1])
        }
        try expectSameOnBothDevices("scale", [.normal("x", [n], &random)]) { backend, t in try backend.scale(t[0], by: 1.7) }
        try expectSameOnBothDevices("multiply", [.nan("out", [n]), .uniform("a", [n], &random), .uniform("b", [n], &random)]) {
            backend, t in try backend.multiply(t[0], t[1], t[2])
        }
        var param = random.uniform(count: n)
        for e in stride(from: 0, to: n, by: 5) { param[e] = 0 }  // sign(0) = 0
        try expectSameOnBothDevices("addPenaltyGradient", [.uniform("grad", [n], &random), Operand("param", [n], param)]) {
            backend, t in try backend.addPenaltyGradient(t[0], t[1], l1: 0.003, l2: 0.02)
        }
        // Sums of squares 9 (norm 3 > 1: clipped), 0.25 and 0 (norms below 1: unchanged).
        for sumOfSquares: Float in [9, 0.25, 0] {
            try expectSameOnBothDevices("scaleByClipCoefficient sumsq \(sumOfSquares)",
                                        [.uniform("x", [n], &random), Operand("sumOfSquares", [1], [sumOfSquares])]) {
                backend, t in try backend.scaleByClipCoefficient(t[0], sumOfSquares: t[1], maxNorm: 1)
            }
        }
    }

    @Test func clampKeepsNaN() throws {
        var random = TestRandom(seed: 1005)
        var x = random.uniform(count: 1031, low: -2, high: 2)
        let nanIndices = [0, 17, 1030]
        for e in nanIndices { x[e] = .nan }
        x[5] = .infinity; x[6] = -.infinity
        let results = try expectSameOnBothDevices("clamp", [Operand("x", [1031], x)], exact: true) { backend, t in
            try backend.clamp(t[0], low: -0.5, high: 1.25)
        }
        for e in nanIndices {
            #expect(results[0].cpu[e].isNaN && results[0].gpu[e].isNaN,
                    "clamp: x[\(e)] = NaN became cpu \(results[0].cpu[e]), OpenCL \(results[0].gpu[e])")
        }
    }

    @Test(arguments: Reduction.allCases, [1031, 3000])
    func reduce(_ reduction: Reduction, count: Int) throws {
        var random = TestRandom(seed: 1006, stream: UInt64(count))
        let x = Operand.uniform("x", [count], &random)
        for (scale, accumulate) in [(Float(1), false), (Float(1), true), (Float(-0.37), false), (Float(0.25), true)] {
            let out = accumulate ? Operand("out", [1], [0.5]) : .nan("out", [1])
            try expectSameOnBothDevices("reduce \(reduction) N \(count) scale \(scale) accumulate \(accumulate)", [out, x]) {
                backend, t in try backend.reduce(t[0], t[1], reduction, scale: scale, accumulate: accumulate)
            }
        }
    }

    // MARK: Losses

    @Test func meanSquaredError() throws {
        var random = TestRandom(seed: 1007)
        let n = 1031
        let prediction = Operand.normal("prediction", [n], &random), target = Operand.uniform("target", [n], &random)
        try expectSameOnBothDevices("meanSquaredError", [.nan("loss", [1]), .nan("gradient", [n]), prediction, target]) {
            backend, t in
            try backend.meanSquaredError(loss: t[0], gradient: t[1], prediction: t[2], target: t[3], scale: 1 / Float(n))
        }
    }

    /// Rows 1, 4 and 6 of the invalid case hold targets out of range or not integers: NaN loss and rows.
    @Test(arguments: [false, true])
    func softmaxCrossEntropy(withInvalidTargets: Bool) throws {
        var random = TestRandom(seed: 1008, stream: withInvalidTargets ? 1 : 0)
        let (rows, classes) = (9, 13)
        var targets = (0..<rows).map { _ in Float(random.int(in: 0..<classes)) }
        targets[2] = 0; targets[3] = Float(classes - 1)
        if withInvalidTargets { targets[1] = Float(classes); targets[4] = -1; targets[6] = 2.5 }
        var logits = random.uniform(count: rows * classes, low: -3, high: 3)
        for c in 0..<classes { logits[8 * classes + c] *= 1000 }  // huge logits need the max shift
        let label = "softmaxCrossEntropy invalid targets \(withInvalidTargets)"
        let results = try expectSameOnBothDevices(label, [.nan("loss", [1]), .nan("gradient", [rows, classes]),
                                                          Operand("logits", [rows, classes], logits),
                                                          Operand("targets", [rows], targets)]) { backend, t in
            try backend.softmaxCrossEntropy(loss: t[0], gradient: t[1], logits: t[2], targets: t[3], scale: 1 / Float(rows))
        }
        #expect(results[0].gpu[0].isNaN == withInvalidTargets, "\(label): OpenCL loss \(results[0].gpu[0])")
        for row in [1, 4, 6] where withInvalidTargets {
            #expect(results[1].gpu[(row * classes)..<((row + 1) * classes)].allSatisfy { $0.isNaN },
                    "\(label): OpenCL gradient row \(row) (target \(targets[row])) is not NaN")
        }
    }

    // MARK: Dropout, Philox and embeddings

    /// (seed, stream, offset): large values, high bits set, offsets crossing 2^32.
    static let philoxKeys: [(UInt64, UInt64, UInt64)] = [
        (0, 0, 0), (0xFEDC_BA98_7654_3210, 0x8000_0001_0000_0005, (1 << 32) - 517),
        (0xFFFF_FFFF_FFFF_FFFF, 0xFFFF_FFFF_0000_0000, (7 << 32) - 2), (12_345, 1 << 63, (1 << 33) + 3),
    ]

    @Test(arguments: philoxKeys)
    func dropoutMasksAreIdentical(seed: UInt64, stream: UInt64, offset: UInt64) throws {
        var random = TestRandom(seed: 1009)
        let n = 1031
        let results = try expectSameOnBothDevices("dropout p 0.3 seed \(seed) stream \(stream) offset \(offset)",
                                                  [.nan("y", [n]), .nan("mask", [n]), .uniform("x", [n], &random)],
                                                  exact: true) { backend, t in
            try backend.dropoutForward(t[0], mask: t[1], t[2], probability: 0.3, seed: seed, stream: stream, offset: offset)
        }
        let dropped = results[1].gpu.filter { $0 == 0 }.count
        #expect(dropped > n / 5 && dropped < n * 2 / 5, "dropout: \(dropped) of \(n) dropped for p = 0.3")
    }

    @Test(arguments: philoxKeys + [(42, 7, UInt64.max - 6)])
    func philoxWordsAreIdentical(seed: UInt64, stream: UInt64, offset: UInt64) throws {
        let count = 1031
        let device = try Devices.gpu.philoxWords(count: count, seed: seed, stream: stream, offset: offset)
        let host = (0..<UInt64(count)).map { Philox.word(seed: seed, stream: stream, index: offset &+ $0) }
        try #require(device.count == count, "philoxWords returned \(device.count) words, asked for \(count)")
        let differing = (0..<count).filter { device[$0] != host[$0] }
        #expect(differing.isEmpty, """
            philox words seed \(seed) stream \(stream) offset \(offset): \(differing.count) of \(count) words differ, \
            first at \(differing.first.map { "\($0): OpenCL \(device[$0]), Swift \(host[$0])" } ?? "-")
            """)
    }

    /// Repeated (3 three times, 0 twice) and invalid (V, 100, −1, 2.5, NaN) indices.
    static let embeddingIndices: [Float] = [3, 0, 6, 3, 7, 1, 100, 3, -1, 0, 5, 2.5, .nan]

    @Test(arguments: [1, 5, 37])
    func embedding(width: Int) throws {
        var random = TestRandom(seed: 1010, stream: UInt64(width))
        let (v, n) = (7, Self.embeddingIndices.count)
        let indices = Operand("indices", [n], Self.embeddingIndices)
        let results = try expectSameOnBothDevices("embeddingForward D \(width)",
                                                  [.uniform("out", [n, width], &random, 40, 50), indices,
                                                   .uniform("table", [v, width], &random)], exact: true) { backend, t in
            try backend.embeddingForward(t[0], indices: t[1], table: t[2])
        }
        let valid = { (index: Float) in index >= 0 && index < Float(v) && index.rounded() == index }
        for (row, index) in Self.embeddingIndices.enumerated() where !valid(index) {
            #expect(results[0].gpu[(row * width)..<((row + 1) * width)].allSatisfy { $0.isNaN },
                    "embeddingForward D \(width): OpenCL row \(row) (index \(index)) is not NaN")
        }
        try expectSameOnBothDevices("embeddingBackward D \(width)", [.uniform("gradTable", [v, width], &random), indices,
                                                                     .uniform("gradOut", [n, width], &random)]) { backend, t in
            try backend.embeddingBackward(t[0], indices: t[1], gradOut: t[2])
        }
    }

    /// A row map with repeats into 9 rows (rows 1, 5, 6 unused): gathers and in-order scatters
    /// add the same terms in the same order on both devices, so they agree bit for bit.
    @Test(arguments: [1, 5, 37])
    func rowGatherAndScatter(width: Int) throws {
        var random = TestRandom(seed: 1011, stream: UInt64(width))
        let rows = [8, 0, 3, 8, 2, 0, 7, 8, 4, 3], tableRows = 9
        try expectSameOnBothDevices("gatherRows D \(width)", [.uniform("out", [rows.count, width], &random, 40, 50),
                                                              .uniform("table", [tableRows, width], &random)],
                                    exact: true) { backend, t in
            try backend.gatherRows(t[0], t[1], rows: backend.makeRowIndices(rows, tableRows: tableRows))
        }
        try expectSameOnBothDevices("scatterAddRows D \(width)", [.uniform("out", [tableRows, width], &random),
                                                                  .uniform("x", [rows.count, width], &random)],
                                    exact: true) { backend, t in
            try backend.scatterAddRows(t[0], t[1], rows: backend.makeRowIndices(rows, tableRows: tableRows))
        }
    }

    // MARK: Optimizers

    static let sgdCases: [SGDHyperparameters] = [
        SGDHyperparameters(learningRate: 0.1, isFirstStep: true),
        SGDHyperparameters(learningRate: 0.05, momentum: 0.9, isFirstStep: true),
        SGDHyperparameters(learningRate: 0.05, momentum: 0.9, dampening: 0.1, isFirstStep: false),
        SGDHyperparameters(learningRate: 0.05, momentum: 0.9, nesterov: true, isFirstStep: false),
        SGDHyperparameters(learningRate: 0.05, momentum: 0.9, weightDecay: 0.01, nesterov: true, isFirstStep: true),
        SGDHyperparameters(learningRate: 0.1, weightDecay: 0.01, isFirstStep: false),
    ]

    @Test(arguments: sgdCases)
    func sgdUpdate(_ h: SGDHyperparameters) throws {
        var random = TestRandom(seed: 1011)
        let n = 1031
        // On a first step the buffer's old contents must not matter.
        let buffer = h.isFirstStep ? Operand.nan("momentumBuffer", [n]) : .uniform("momentumBuffer", [n], &random)
        try expectSameOnBothDevices("sgd \(h)", [.uniform("param", [n], &random), .uniform("gradient", [n], &random), buffer]) {
            backend, t in try backend.sgdUpdate(t[0], gradient: t[1], momentumBuffer: h.momentum > 0 ? t[2] : nil, h)
        }
    }

    static let adamCases: [AdamHyperparameters] = [false, true].flatMap { decoupled in
        [(Float(0), 1), (0.1, 1), (0.1, 7)].map { weightDecay, step in
            AdamHyperparameters(learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: weightDecay,
                                decoupledWeightDecay: decoupled, step: step)
        }
    }

    @Test(arguments: adamCases)
    func adamUpdate(_ h: AdamHyperparameters) throws {
        var random = TestRandom(seed: 1012)
        let n = 1031
        try expectSameOnBothDevices("\(h.decoupledWeightDecay ? "adamW" : "adam") wd \(h.weightDecay) bc1 \(h.biasCorrection1)",
                                    [.uniform("param", [n], &random), .uniform("gradient", [n], &random),
                                     .uniform("m", [n], &random, -0.1, 0.1), .uniform("v", [n], &random, 0, 0.01)]) {
            backend, t in
            try backend.adamUpdate(t[0], gradient: t[1], m: t[2], v: t[3], h)
        }
    }

    // MARK: Cell steps (B = 5, H = 7)

    @Test(arguments: [false, true], [false, true])
    func lstmSteps(withPrevious: Bool, withGradOutput: Bool) throws {
        var random = TestRandom(seed: 1013, stream: (withPrevious ? 1 : 0) + (withGradOutput ? 2 : 0))
        let (b, h) = (5, 7)
        try expectSameOnBothDevices("lstmForwardStep previousCell \(withPrevious)",
                                    [.nan("hidden", [b, h]), .nan("cell", [b, h]), .uniform("gates", [b, 4 * h], &random, -2, 2),
                                     .uniform("hiddenProjection", [b, 4 * h], &random), .uniform("biasIH", [4 * h], &random),
                                     .uniform("biasHH", [4 * h], &random), .uniform("previousCell", [b, h], &random, -2, 2)]) {
            backend, t in
            try backend.lstmForwardStep(hidden: t[0], cell: t[1], gates: t[2], hiddenProjection: t[3], biasIH: t[4],
                                        biasHH: t[5], previousCell: withPrevious ? t[6] : nil)
        }
        try expectSameOnBothDevices("lstmBackwardStep gradOutput \(withGradOutput) previousCell \(withPrevious)",
                                    [.nan("gradGates", [b, 4 * h]), .uniform("gradCell", [b, h], &random),
                                     .uniform("gradHidden", [b, h], &random), .uniform("gradOutput", [b, h], &random),
                                     .uniform("gates", [b, 4 * h], &random, 0.05, 0.95), .uniform("cell", [b, h], &random, -2, 2),
                                     .uniform("previousCell", [b, h], &random, -2, 2)]) { backend, t in
            try backend.lstmBackwardStep(gradGates: t[0], gradCell: t[1], gradHidden: t[2],
                                         gradOutput: withGradOutput ? t[3] : nil, gates: t[4], cell: t[5],
                                         previousCell: withPrevious ? t[6] : nil)
        }
    }

    @Test(arguments: [false, true], [false, true])
    func gruSteps(withPrevious: Bool, withGradOutput: Bool) throws {
        var random = TestRandom(seed: 1014, stream: (withPrevious ? 1 : 0) + (withGradOutput ? 2 : 0))
        let (b, h) = (5, 7)
        try expectSameOnBothDevices("gruForwardStep previousHidden \(withPrevious)",
                                    [.nan("hidden", [b, h]), .nan("newGateHidden", [b, h]),
                                     .uniform("gates", [b, 3 * h], &random, -2, 2),
                                     .uniform("hiddenProjection", [b, 3 * h], &random),
                                     .uniform("biasIH", [3 * h], &random), .uniform("biasHH", [3 * h], &random),
                                     .uniform("previousHidden", [b, h], &random)]) { backend, t in
            try backend.gruForwardStep(hidden: t[0], newGateHidden: t[1], gates: t[2], hiddenProjection: t[3], biasIH: t[4],
                                       biasHH: t[5], previousHidden: withPrevious ? t[6] : nil)
        }
        try expectSameOnBothDevices("gruBackwardStep gradOutput \(withGradOutput) previousHidden \(withPrevious)",
                                    [.nan("gradGatesInput", [b, 3 * h]), .nan("gradGatesHidden", [b, 3 * h]),
                                     .uniform("gradHidden", [b, h], &random), .uniform("gradOutput", [b, h], &random),
                                     .uniform("gates", [b, 3 * h], &random, 0.05, 0.95),
                                     .uniform("newGateHidden", [b, h], &random),
                                     .uniform("previousHidden", [b, h], &random)]) { backend, t in
            try backend.gruBackwardStep(gradGatesInput: t[0], gradGatesHidden: t[1], gradHidden: t[2],
                                        gradOutput: withGradOutput ? t[3] : nil, gates: t[4], newGateHidden: t[5],
                                        previousHidden: withPrevious ? t[6] : nil)
        }
    }

    @Test(arguments: [Activation.tanh, .relu], [false, true])
    func rnnSteps(activation: Activation, withGradOutput: Bool) throws {
        var random = TestRandom(seed: 1015, stream: withGradOutput ? 1 : 0)
        let (b, h) = (5, 7)
        try expectSameOnBothDevices("rnnForwardStep \(activation)",
                                    [.nan("hidden", [b, h]), .uniform("gates", [b, h], &random, -2, 2),
                                     .uniform("hiddenProjection", [b, h], &random), .uniform("biasIH", [h], &random),
                                     .uniform("biasHH", [h], &random)]) { backend, t in
            try backend.rnnForwardStep(hidden: t[0], gates: t[1], hiddenProjection: t[2], biasIH: t[3], biasHH: t[4],
                                       activation: activation)
        }
        // gates hold h_t = f(pre-activation): relu's with exact zeros.
        let hT = activation == .relu ? random.uniform(count: b * h, low: -1, high: 2).map { max(0, $0) }
            : random.uniform(count: b * h, low: -0.99, high: 0.99)
        try expectSameOnBothDevices("rnnBackwardStep \(activation) gradOutput \(withGradOutput)",
                                    [.nan("gradGates", [b, h]), .uniform("gradHidden", [b, h], &random),
                                     .uniform("gradOutput", [b, h], &random), Operand("gates", [b, h], hT)]) { backend, t in
            try backend.rnnBackwardStep(gradGates: t[0], gradHidden: t[1], gradOutput: withGradOutput ? t[2] : nil, gates: t[3],
                                        activation: activation)
        }
    }

    // MARK: Whole layers (T = 6, B = 5, I = 3, H = 7)

    /// (initial states given, final-state gradients given, gradOutput given, input gradients requested).
    static let layerOptions: [(Bool, Bool, Bool, Bool)] = [(false, false, true, true), (true, false, true, true),
                                                           (false, true, true, false), (true, true, false, true)]

    @Test(arguments: RecurrentCell.allCases, layerOptions)
    func recurrentLayer(_ cell: RecurrentCell, options: (Bool, Bool, Bool, Bool)) throws {
        let (initial, finalGradients, withGradOutput, inputGradients) = options
        let s = RecurrentLayerShape(cell: cell, sequenceLength: 6, batchSize: 5, inputSize: 3, hiddenSize: 7)
        let (t, b, i, h, gh) = (6, 5, 3, 7, s.gateWidth)
        let lstm = cell == .lstm
        var random = TestRandom(seed: 1016, stream: UInt64(RecurrentCell.allCases.firstIndex(of: cell)!))
        let bound = 1.5 / Float(h).squareRoot()
        let operands: [Operand] = [
            .uniform("weight_ih", [gh, i], &random, -bound, bound), .uniform("weight_hh", [gh, h], &random, -bound, bound),
            .uniform("bias_ih", [gh], &random, -bound, bound), .uniform("bias_hh", [gh], &random, -bound, bound),
            .uniform("input", [t, b, i], &random), .uniform("h0", [b, h], &random), .uniform("c0", [b, h], &random),
            .nan("output", [t, b, h]), .nan("reserve", [s.reserveCount]), .nan("finalHidden", [b, h]), .nan("finalCell", [b, h]),
            // Backward: parameter gradients accumulate (start non-zero), the others are overwritten.
            .uniform("grad weight_ih", [gh, i], &random), .uniform("grad weight_hh", [gh, h], &random),
            .uniform("grad bias_ih", [gh], &random), .uniform("grad bias_hh", [gh], &random),
            .nan("gradInput", [t, b, i]), .nan("grad h0", [b, h]), .nan("grad c0", [b, h]),
            .uniform("gradOutput", [t, b, h], &random), .uniform("grad hT", [b, h], &random),
            .uniform("grad cT", [b, h], &random),
        ]
        let label = "\(cell.rawValue) layer initial \(initial) finalGradients \(finalGradients) "
            + "gradOutput \(withGradOutput) inputGradients \(inputGradients)"
        try expectSameOnBothDevices(label, operands) { backend, x in
            let weights = RecurrentWeights(weightIH: x[0], weightHH: x[1], biasIH: x[2], biasHH: x[3])
            let h0 = initial ? x[5] : nil, c0 = initial && lstm ? x[6] : nil
            try backend.recurrentForward(RecurrentForwardIO(output: x[7], finalHidden: x[9], finalCell: lstm ? x[10] : nil,
                                                            reserve: x[8], input: x[4], initialHidden: h0, initialCell: c0),
                                         weights, s)
            let io = RecurrentBackwardIO(gradInput: inputGradients ? x[15] : nil, gradInitialHidden: inputGradients ? x[16] : nil,
                                         gradInitialCell: inputGradients && lstm ? x[17] : nil,
                                         gradOutput: withGradOutput ? x[18] : nil, gradFinalHidden: finalGradients ? x[19] : nil,
                                         gradFinalCell: finalGradients && lstm ? x[20] : nil, input: x[4], output: x[7],
                                         initialHidden: h0, initialCell: c0, reserve: x[8])
            try backend.recurrentBackward(io, weights, RecurrentWeights(weightIH: x[11], weightHH: x[12], biasIH: x[13],
                                                                        biasHH: x[14]), s)
        }
    }

    // MARK: Attention (T = 7, B = 5, D = 3, and T = 1)

    /// Lengths T, 1 and in between; in the invalid case 0, T + 1 and 2.5 as well (NaN columns).
    @Test(arguments: [(7, false, false), (7, true, false), (7, true, true), (1, false, false), (1, true, false)])
    func attention(steps t: Int, withLengths: Bool, withInvalidLengths: Bool) throws {
        let (b, d) = (5, 3)
        var random = TestRandom(seed: 1017, stream: UInt64(t * 4 + (withLengths ? 1 : 0) + (withInvalidLengths ? 2 : 0)))
        var lengths: [Float] = t == 1 ? [1, 1, 1, 1, 1] : [7, 1, 4, 7, 2]
        if withInvalidLengths { lengths[2] = 0; lengths[3] = 8; lengths[4] = 2.5 }
        var scores = random.uniform(count: t * b, low: -3, high: 3)
        if t > 1 { for column in 0..<b { scores[b + column] *= 1000 } }  // huge scores need the max shift
        let label = "attention T \(t) lengths \(withLengths) invalid \(withInvalidLengths)"
        let softmax = try expectSameOnBothDevices("sequenceSoftmax \(label)",
                                                  [.nan("weights", [t, b]), Operand("scores", [t, b], scores),
                                                   Operand("lengths", [b], lengths)]) { backend, x in
            try backend.sequenceSoftmax(x[0], scores: x[1], lengths: withLengths ? x[2] : nil)
        }
        let weights = softmax[0].cpu
        for column in 2..<b where withInvalidLengths {
            #expect((0..<t).allSatisfy { softmax[0].gpu[$0 * b + column].isNaN },
                    "\(label): OpenCL column \(column) (length \(lengths[column])) is not NaN")
        }
        try expectSameOnBothDevices("sequenceSoftmaxBackward \(label)",
                                    [.nan("gradScores", [t, b]), .uniform("gradWeights", [t, b], &random),
                                     Operand("weights", [t, b], weights)]) { backend, x in
            try backend.sequenceSoftmaxBackward(gradScores: x[0], gradWeights: x[1], weights: x[2])
        }
        try expectSameOnBothDevices("weightedSum \(label)",
                                    [.nan("context", [b, d]), .uniform("values", [t, b, d], &random, -3, 3),
                                     Operand("weights", [t, b], weights)]) { backend, x in
            try backend.weightedSum(x[0], values: x[1], weights: x[2])
        }
        try expectSameOnBothDevices("weightedSumBackward \(label)",
                                    [.nan("gradValues", [t, b, d]), .nan("gradWeights", [t, b]),
                                     .uniform("gradContext", [b, d], &random), .uniform("values", [t, b, d], &random, -3, 3),
                                     Operand("weights", [t, b], weights)]) { backend, x in
            try backend.weightedSumBackward(gradValues: x[0], gradWeights: x[1], gradContext: x[2], values: x[3], weights: x[4])
        }
        try expectSameOnBothDevices("batchedDot \(label)",
                                    [.nan("scores", [t, b]), .uniform("keys", [t, b, d], &random, -3, 3),
                                     .uniform("query", [b, d], &random)]) { backend, x in
            try backend.batchedDot(x[0], keys: x[1], query: x[2])
        }
        try expectSameOnBothDevices("batchedDotBackward \(label)",
                                    [.nan("gradKeys", [t, b, d]), .nan("gradQuery", [b, d]), .uniform("gradScores", [t, b], &random),
                                     .uniform("keys", [t, b, d], &random, -3, 3), .uniform("query", [b, d], &random)]) { backend, x in
            try backend.batchedDotBackward(gradKeys: x[0], gradQuery: x[1], gradScores: x[2], keys: x[3], query: x[4])
        }
    }
}
