// Attention over another sequence: parity with PyTorch for Luong's dot and general and Bahdanau's
// additive scores (cross_attention_*.json, lengths [5, 3, 1], random junk at padded steps), one
// memory read by several calls, either layout, and the errors.
// T = encoder steps, B = batch, Q = query size, D = key size, A = attention size.

import RecurrentKit
import Testing
import TestSupport

@Suite("CrossAttention")
struct CrossAttentionTests {
    static func layer(_ fixture: Fixture, on backend: any Backend) throws -> CrossAttention {
        let score: CrossAttention.Score
        switch try fixture.string("score") {
        case "dot": score = .dot
        case "general": score = .general
        default: score = .additive(attentionSize: try fixture.int("attention_size"))
        }
        let layer = try CrossAttention(querySize: fixture.int("Q"), keySize: fixture.int("D"), score: score, on: backend,
                                       rng: RandomSource(seed: 1))
        var state: [String: HostTensor] = [:]
        for (name, _) in layer.namedParameters { state[name] = try fixture.host(name) }
        try layer.loadStateDict(state, strict: true)
        return layer
    }

    /// Context, weights and every gradient (query, values, parameters) against PyTorch's autograd;
    /// padded steps get weight exactly 0 and no gradient.
    @Test("CrossAttention matches PyTorch",
          arguments: ["cross_attention_dot.json", "cross_attention_general.json", "cross_attention_additive.json"])
    func pytorchParity(_ file: String) throws {
        let fixture = try Fixture(file)
        let backend = TestDevice.backend
        let (t, b, d) = (try fixture.int("T"), try fixture.int("B"), try fixture.int("D"))
        let layer = try Self.layer(fixture, on: backend)
        let lengths = try fixture.data("lengths").map { Int($0) }
        let values = try SequenceBatch(fixture.upload("values", on: backend), lengths: lengths)   // (T, B, D)
        let query = try fixture.upload("query", on: backend)                                    // (B, Q)
        let tape = Tape()
        tape.watch(values.data)
        tape.watch(query)
        let memory = try layer.memory(values, tape: tape)
        let (context, weights) = try layer(query, memory: memory, tape: tape)
        try tape.backward(context, gradient: fixture.upload("grad_context", on: backend))
        #expect(context.shape == [b, d] && weights.shape == [t, b])
        expectClose(try context.toArray(), try fixture.data("context"), "\(file) context")
        let w = try weights.toArray()
        expectClose(w, try fixture.data("weights"), "\(file) weights")
        let gradValues = try #require(try tape.gradient(of: values.data)).toArray()
        expectClose(gradValues, try fixture.data("grad.values"), "\(file) grad.values")
        expectClose(try #require(try tape.gradient(of: query)).toArray(), try fixture.data("grad.query"), "\(file) grad.query")
        for (name, parameter) in layer.namedParameters {
            expectClose(try parameter.gradient.toArray(), try fixture.data("grad." + name), "\(file) grad.\(name)")
        }
        for step in 0..<t {
            for column in 0..<b where step >= lengths[column] {
                #expect(w[step * b + column] == 0, "\(file): padded weight [\(step), \(column)] = \(w[step * b + column])")
                let row = gradValues[((step * b + column) * d)..<((step * b + column + 1) * d)]
                #expect(row.allSatisfy { $0 == 0 }, "\(file): padded grad.values [\(step), \(column)] = \(Array(row))")
            }
        }
    }

    /// Two calls on one memory (as two decoder steps) give the sum of the two single calls'
    /// gradients, for the values, both queries and the parameters.
    @Test(arguments: ["cross_attention_general.json", "cross_attention_additive.json"])
    func oneMemoryTwoCallsSumsGradients(_ file: String) throws {
        let fixture = try Fixture(file)
        let backend = TestDevice.backend
        let layer = try Self.layer(fixture, on: backend)
        let values = try SequenceBatch(fixture.upload("values", on: backend), lengths: fixture.data("lengths").map { Int($0) })
        let q1 = try fixture.upload("query", on: backend)
        let q2 = try Tensor(shape: q1.shape, values: q1.toArray().map { -0.5 * $0 + 0.25 }, on: backend)
        let g = try fixture.upload("grad_context", on: backend)
        func run(_ queries: [Tensor]) throws -> (values: [Float], parameters: [[Float]]) {
            try layer.zeroGradients()
            let tape = Tape()
            tape.watch(values.data)
            let memory = try layer.memory(values, tape: tape)
            let contexts = try queries.map { try layer($0, memory: memory, tape: tape).context }
            try tape.backward(contexts.map { (output: $0, gradient: g) })
            return (try #require(try tape.gradient(of: values.data)).toArray(), try layer.parameters.map { try $0.gradient.toArray() })
        }
        let both = try run([q1, q2]), first = try run([q1]), second = try run([q2])
        expectClose(both.values, zip(first.values, second.values).map { $0 + $1 }, "\(file) grad.values of two calls")
        for (index, parameter) in both.parameters.enumerated() {
            expectClose(parameter, zip(first.parameters[index], second.parameters[index]).map { $0 + $1 }, "\(file) parameter \(index)")
        }
    }

    /// A batch-major memory gives the same context and value gradients (in its own layout).
    @Test func batchMajorEqualsTimeMajor() throws {
        let fixture = try Fixture("cross_attention_additive.json")
        let backend = TestDevice.backend
        let layer = try Self.layer(fixture, on: backend)
        let (t, b, d) = (try fixture.int("T"), try fixture.int("B"), try fixture.int("D"))
        let lengths = try fixture.data("lengths").map { Int($0) }
        let timeMajor = try fixture.data("values")
        var batchMajor = [Float](repeating: 0, count: t * b * d)
        for step in 0..<t {
            for column in 0..<b {
                for j in 0..<d { batchMajor[(column * t + step) * d + j] = timeMajor[(step * b + column) * d + j] }
            }
        }
        let values = try SequenceBatch(Tensor(shape: [b, t, d], values: batchMajor, on: backend), layout: .batchMajor, lengths: lengths)
        let query = try fixture.upload("query", on: backend)
        let tape = Tape()
        tape.watch(values.data)
        let (context, _) = try layer(query, memory: layer.memory(values, tape: tape), tape: tape)
        try tape.backward(context, gradient: fixture.upload("grad_context", on: backend))
        expectClose(try context.toArray(), try fixture.data("context"), "batch-major context")
        let gradValues = try #require(try tape.gradient(of: values.data))
        #expect(gradValues.shape == [b, t, d])
        let expected = try fixture.data("grad.values"), got = try gradValues.toArray()
        for step in 0..<t {
            for column in 0..<b {
                expectClose(Array(got[((column * t + step) * d)..<((column * t + step + 1) * d)]),
                            Array(expected[((step * b + column) * d)..<((step * b + column + 1) * d)]), "grad.values [\(step), \(column)]")
            }
        }
    }

    @Test func badInputsAreRefused() throws {
        let backend = TestDevice.backend
        #expect(throws: RecurrentError.self) { try CrossAttention(querySize: 4, keySize: 6, score: .dot, on: backend, rng: RandomSource(seed: 1)) }
        #expect(throws: RecurrentError.self) {
            try CrossAttention(querySize: 4, keySize: 6, score: .additive(attentionSize: 0), on: backend, rng: RandomSource(seed: 1))
        }
        let layer = try CrossAttention(querySize: 4, keySize: 6, score: .general, on: backend, rng: RandomSource(seed: 1))
        let memory = try layer.memory(SequenceBatch(Tensor.zeros([5, 3, 6], on: backend), lengths: [5, 3, 1]))
        #expect(throws: RecurrentError.self) { try layer(Tensor.zeros([3, 5], on: backend), memory: memory) }   // Q = 5
        #expect(throws: RecurrentError.self) { try layer(Tensor.zeros([2, 4], on: backend), memory: memory) }   // B = 2
        #expect(throws: RecurrentError.self) { try layer.memory(SequenceBatch(Tensor.zeros([5, 3, 7], on: backend))) }   // D = 7
        let additive = try CrossAttention(querySize: 4, keySize: 6, score: .additive(attentionSize: 3), on: backend, rng: RandomSource(seed: 1))
        #expect(throws: RecurrentError.self) { try additive(Tensor.zeros([3, 4], on: backend), memory: memory) }   // not its memory
    }
}
