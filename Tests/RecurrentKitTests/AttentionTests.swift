// The Attention layer: parity with PyTorch (attention_{dot,additive}.json, masked by lengths
// [5, 3, 1]), a sequence-classification run (LSTM → Attention → Linear) and its errors.
// T = time steps, B = batch, D = feature size, A = attention size, I = input size, C = classes.

import RecurrentKit
import Testing
import TestSupport

@Suite("Attention")
struct AttentionTests {
    /// Forward (weights, context) and backward (grad.values and every parameter's gradient) against
    /// PyTorch; padded steps have weight exactly 0 and no gradient.
    @Test("Attention matches PyTorch", arguments: ["attention_dot.json", "attention_additive.json"])
    func pytorchParity(_ file: String) throws {
        let fixture = try Fixture(file)
        let backend = TestDevice.backend
        let (t, b, d) = (try fixture.int("T"), try fixture.int("B"), try fixture.int("D"))
        let additive = try fixture.string("kind") == "additive"
        let kind: Attention.Kind = additive ? .additive(attentionSize: try fixture.int("attention_size")) : .dotProduct
        let layer = try Attention(featureSize: d, kind: kind, on: backend, rng: RandomSource(seed: 1))
        let names = additive ? ["weight", "bias", "vector"] : ["query"]
        #expect(layer.namedParameters.map(\.name) == names)
        var state: [String: HostTensor] = [:]
        for name in names { state[name] = try fixture.host(name) }
        try layer.loadStateDict(state, strict: true)
        let lengths = try fixture.data("lengths").map { Int($0) }

        let values = try SequenceBatch(fixture.upload("values", on: backend), lengths: lengths)   // (T, B, D)
        let (output, gradient) = try forwardBackward(layer, .sequence(values), gradOutput: fixture.upload("grad_context", on: backend))
        let context = output.data                                                  // (B, D)
        #expect(context.shape == [b, d])
        expectClose(try context.toArray(), try fixture.data("context"), "\(file) context")
        let weights = try #require(layer.weights)                                  // (T, B)
        #expect(weights.shape == [t, b])
        let w = try weights.toArray()
        expectClose(w, try fixture.data("weights"), "\(file) weights")

        let gradValues = try #require(gradient)
        #expect(gradValues.shape == [t, b, d])
        let gv = try gradValues.toArray()
        expectClose(gv, try fixture.data("grad.values"), "\(file) grad.values")
        for (name, parameter) in layer.namedParameters {
            expectClose(try parameter.gradient.toArray(), try fixture.data("grad." + name), "\(file) grad.\(name)")
        }
        for step in 0..<t {
            for column in 0..<b where step >= lengths[column] {
                #expect(w[step * b + column] == 0, "\(file): padded weight [\(step), \(column)] = \(w[step * b + column])")
                let row = gv[((step * b + column) * d)..<((step * b + column + 1) * d)]
                #expect(row.allSatisfy { $0 == 0 }, "\(file): padded grad.values [\(step), \(column)] = \(Array(row))")
            }
        }
    }

    /// Gradients accumulate across backward passes, as PyTorch's `.grad` does (like `Linear`).
    @Test func parameterGradientsAccumulate() throws {
        let fixture = try Fixture("attention_additive.json")
        let backend = TestDevice.backend
        let layer = try Attention(featureSize: fixture.int("D"), kind: .additive(attentionSize: fixture.int("attention_size")),
                                  on: backend, rng: RandomSource(seed: 1))
        try layer.loadStateDict(["weight": fixture.host("weight"), "bias": fixture.host("bias"), "vector": fixture.host("vector")])
        let values = try SequenceBatch(fixture.upload("values", on: backend), lengths: fixture.data("lengths").map { Int($0) })
        for _ in 0..<2 {
            _ = try forwardBackward(layer, .sequence(values), gradOutput: fixture.upload("grad_context", on: backend), inputGradient: false)
        }
        for (name, parameter) in layer.namedParameters {
            expectClose(try parameter.gradient.toArray(), try fixture.data("grad." + name).map { 2 * $0 }, "twice grad.\(name)")
        }
    }

    /// The class is the sign of feature 0 at step 1 of a sequence; every other input (and every
    /// padded step, which holds large junk) is noise. An LSTM with attention over its outputs must
    /// bring the cross-entropy well down in a few Adam steps, and the weights must respect the lengths.
    @Test("LSTM → Attention → Linear learns a sequence classification",
          arguments: [Attention.Kind.dotProduct, .additive(attentionSize: 8)])
    func sequenceClassification(_ kind: Attention.Kind) throws {
        let backend = TestDevice.backend
        let (t, b, i, h, classes) = (8, 16, 3, 12, 2)
        var random = TestRandom(seed: 77)
        let lengths = (0..<b).map { _ in 3 + random.int(in: 0..<(t - 2)) }           // 3...T
        let labels = (0..<b).map { $0 % classes }
        var input = random.uniform(count: t * b * i, low: -0.5, high: 0.5)          // (T, B, I)
        for column in 0..<b {
            input[(1 * b + column) * i] = labels[column] == 1 ? 1 : -1
            for step in lengths[column]..<t {
                for k in 0..<i { input[(step * b + column) * i + k] = 50 * (k % 2 == 0 ? 1 : -1) }
            }
        }
        let x = try SequenceBatch(Tensor(shape: [t, b, i], values: input, on: backend), lengths: lengths)
        let y = try Tensor(shape: [b], indices: labels, on: backend)

        let rng = RandomSource(seed: 5)
        let attention = try Attention(featureSize: h, kind: kind, on: backend, rng: rng)
        let model = try Sequential([("rnn", LSTM(inputSize: i, hiddenSize: h, on: backend, rng: rng)),
                                    ("attention", attention), ("fc", Linear(h, classes, on: backend, rng: rng))])
        let expectedNames = kind == .dotProduct ? ["attention.query"]
            : ["attention.weight", "attention.bias", "attention.vector"]
        #expect(model.namedParameters.map(\.name).filter { $0.hasPrefix("attention.") } == expectedNames)
        let optimizer = try Adam(model.parameters, learningRate: 0.03)
        let loss = CrossEntropyLoss()
        var losses: [Float] = []
        for _ in 0..<40 {
            try optimizer.zeroGradients()
            let value = try lossBackward(model, .sequence(x), y, loss)
            try optimizer.step()
            losses.append(try value.item())
        }
        #expect(losses.allSatisfy { $0.isFinite }, "losses \(losses)")
        #expect(losses.last! < 0.25 * losses.first!, "\(kind): loss \(losses.first!) → \(losses.last!)")

        let w = try #require(attention.weights).toArray()                            // (T, B)
        for column in 0..<b {
            let valid = (0..<lengths[column]).map { w[$0 * b + column] }
            let sum = valid.reduce(0, +)
            #expect(abs(sum - 1) < 1e-5, "column \(column): weights sum to \(sum) over \(lengths[column]) valid steps")
            #expect(valid.allSatisfy { $0 >= 0 })
            for step in lengths[column]..<t {
                #expect(w[step * b + column] == 0, "column \(column): padded step \(step) has weight \(w[step * b + column])")
            }
        }
    }

    /// The same seed gives the same initial parameters, within the documented bounds.
    @Test func initializationIsSeededAndBounded() throws {
        let backend = TestDevice.backend
        let (d, a) = (9, 4)
        let one = try Attention(featureSize: d, kind: .additive(attentionSize: a), on: backend, rng: RandomSource(seed: 3))
        let two = try Attention(featureSize: d, kind: .additive(attentionSize: a), on: backend, rng: RandomSource(seed: 3))
        #expect(try one.stateDict() == two.stateDict())
        let state = try one.stateDict()
        #expect(state["weight"]?.shape == [a, d] && state["bias"]?.shape == [a] && state["vector"]?.shape == [a])
        for name in ["weight", "bias"] { #expect(state[name]!.values.allSatisfy { abs($0) <= 1 / Float(d).squareRoot() }) }
        #expect(state["vector"]!.values.allSatisfy { abs($0) <= 1 / Float(a).squareRoot() })
        let dot = try Attention(featureSize: d, on: backend, rng: RandomSource(seed: 3))
        #expect(dot.namedParameters.map(\.name) == ["query"] && dot.query?.shape == [d])
        #expect(try dot.query!.value.toArray().allSatisfy { abs($0) <= 1 / Float(d).squareRoot() })
    }

    @Test func misuseThrowsClearErrors() throws {
        let backend = TestDevice.backend
        let layer = try Attention(featureSize: 4, on: backend, rng: RandomSource(seed: 1))
        var random = TestRandom(seed: 2)
        let values = try random.tensor([5, 3, 4], on: backend)
        #expect(throws: RecurrentError.self) { try layer.forward(SequenceBatch(random.tensor([5, 3, 5], on: backend))) }
        #expect(throws: RecurrentError.self) { try layer.forward(SequenceBatch(random.tensor([15, 4], on: backend))) }
        #expect(throws: RecurrentError.self) { try layer.forward(values) }   // a plain tensor has no time axis to attend over
        for bad in [[5, 3], [5, 3, 1, 1], [0, 3, 1], [5, 6, 1]] {
            #expect(performing: { try layer.forward(SequenceBatch(values, lengths: bad)) }, throws: { error in
                guard case let RecurrentError.invalidArgument(name, expected, _) = error else { return false }
                return name == "sequence lengths" && expected.contains("3 lengths") && expected.contains("1...5")
            })
        }
        let tape = Tape()
        let context = try layer.forward(SequenceBatch(values, lengths: [5, 1, 3]), tape: tape).data
        #expect(throws: RecurrentError.self) { try tape.backward(context, gradient: random.tensor([3, 5], on: backend)) }
        #expect(throws: RecurrentError.self) { try Attention(featureSize: 0, on: backend, rng: RandomSource(seed: 1)) }
        #expect(throws: RecurrentError.self) {
            try Attention(featureSize: 4, kind: .additive(attentionSize: 0), on: backend, rng: RandomSource(seed: 1))
        }
    }
}
