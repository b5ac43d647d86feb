// The attention encoder–decoder: 20 Adam steps with teacher forcing against PyTorch
// (seq2seq_bahdanau.json: losses, gradient norms, first-step gradients, final weights), teacher
// forcing equal to the decoder stepped by hand, greedy decoding equal to the argmax of each step,
// and padding that changes nothing. S = decoder steps, T = source steps, B = batch, V = target vocabulary.

import RecurrentKit
import Testing
import TestSupport

@Suite("EncoderDecoder")
struct EncoderDecoderTests {
    static func model(_ fixture: Fixture, on backend: any Backend) throws -> EncoderDecoder {
        let h = try fixture.int("hidden_size")
        let model = try EncoderDecoder(sourceVocabularySize: fixture.int("source_vocab"), targetVocabularySize: fixture.int("target_vocab"),
                                       embeddingSize: fixture.int("embedding_size"), hiddenSize: h,
                                       score: .additive(attentionSize: fixture.int("attention_size")), on: backend, rng: RandomSource(seed: 3))
        try model.loadStateDict(fixture.stateDict(prefix: "initial."), strict: true)
        return model
    }

    @Test func teacherForcingTrainingMatchesPyTorch() throws {
        let fixture = try Fixture("seq2seq_bahdanau.json")
        let backend = TestDevice.backend
        let model = try Self.model(fixture, on: backend)
        let source = try SequenceBatch(fixture.upload("source", on: backend), lengths: fixture.data("source_lengths").map { Int($0) })
        let inputs = try fixture.upload("decoder_inputs", on: backend)                            // (S, B)
        let targets = try fixture.upload("targets", on: backend)                                  // (S, B), −100 past the lengths
        let targetLengths = try fixture.data("target_lengths").map { Int($0) }
        let optimizer = try Adam(model.parameters, learningRate: fixture.float("lr"))
        let loss = try MaskedLoss(CrossEntropyLoss())
        var losses: [Float] = [], norms: [Float] = []
        for step in 0..<(try fixture.int("steps")) {
            try optimizer.zeroGradients()
            let tape = Tape()
            let (logits, _) = try model.teacherForcing(source: source, inputs: inputs, tape: tape)   // (S, B, V)
            let value = try loss.forward(SequenceBatch(logits, lengths: targetLengths), targets)
            try tape.backward(logits, gradient: loss.backward())
            if step == 0 {
                for (name, p) in model.namedParameters { expectClose(try p.gradient.toArray(), try fixture.data("grad." + name), "grad \(name)") }
            }
            norms.append(try GradientClipping.clipNorm(model.parameters, maxNorm: fixture.float("clip_norm")).value())
            try optimizer.step()
            losses.append(try value.item())
        }
        expectClose(losses, try fixture.data("losses"), "losses")
        expectClose(norms, try fixture.data("grad_norms"), "gradient norms")
        for (name, p) in model.namedParameters { expectClose(try p.value.toArray(), try fixture.data("final." + name), "final \(name)") }
        #expect(losses.last! < losses.first! * 0.8, "the loss fell only from \(losses.first!) to \(losses.last!)")
    }

    /// `teacherForcing` gives the logits and weights of `step` called by hand on the same tokens,
    /// and the same gradients.
    @Test func teacherForcingEqualsSteppingByHand() throws {
        let fixture = try Fixture("seq2seq_bahdanau.json")
        let backend = TestDevice.backend
        let model = try Self.model(fixture, on: backend)
        let source = try SequenceBatch(fixture.upload("source", on: backend), lengths: fixture.data("source_lengths").map { Int($0) })
        let inputs = try fixture.upload("decoder_inputs", on: backend)
        let s = inputs.shape[0]
        let tape = Tape()
        let (logits, weights) = try model.teacherForcing(source: source, inputs: inputs, tape: tape)
        let gradLogits = try Tensor(shape: logits.shape, values: (0..<logits.count).map { Float(($0 * 7) % 11) / 11 - 0.5 }, on: backend)
        try tape.backward(logits, gradient: gradLogits)
        let together = try model.parameters.map { try $0.gradient.toArray() }

        try model.zeroGradients()
        let byHand = Tape()
        let encoded = try model.encode(source, tape: byHand)
        var state = encoded.state
        var seeds: [(output: Tensor, gradient: Tensor)] = []
        for step in 0..<s {
            let result = try model.decoder.step(inputs.row(step), state: state, memory: encoded.memory, tape: byHand)
            expectClose(try result.logits.toArray(), try logits.row(step).toArray(), "logits of step \(step)")
            expectClose(try result.weights.toArray(), try weights.row(step).toArray(), "weights of step \(step)")
            seeds.append((result.logits, try gradLogits.row(step)))
            state = result.state
        }
        try byHand.backward(seeds)
        for (index, parameter) in model.parameters.enumerated() {
            expectClose(try parameter.gradient.toArray(), together[index], "gradient of \(model.namedParameters[index].name)")
        }
    }

    /// Greedy decoding feeds back the argmax of each step: stepping by hand on its tokens gives the
    /// same tokens; the weights of each step sum to 1 over the real source steps and are 0 on padding;
    /// a padded sequence decodes as it does alone.
    @Test func greedyDecodingFeedsBackTheArgmax() throws {
        let fixture = try Fixture("seq2seq_bahdanau.json")
        let backend = TestDevice.backend
        let model = try Self.model(fixture, on: backend)
        let sourceLengths = try fixture.data("source_lengths").map { Int($0) }
        let sourceValues = try fixture.data("source")
        let source = try SequenceBatch(fixture.upload("source", on: backend), lengths: sourceLengths)
        let (t, b, steps) = (source.steps, source.batchSize, 6)
        let (tokens, weights) = try model.greedyDecode(source: source, start: 0, steps: steps)
        #expect(tokens.count == b && tokens.allSatisfy { $0.count == steps })
        #expect(weights.shape == [steps, t, b])

        let memory = try model.encode(source).memory
        var state: RecurrentState? = try model.encode(source).state
        var previous = [Int](repeating: 0, count: b)
        for step in 0..<steps {
            let result = try model.decoder.step(Tensor(shape: [b], indices: previous, on: backend), state: state, memory: memory)
            let logits = try result.logits.toArray(), v = model.decoder.vocabularySize
            for column in 0..<b {
                let row = Array(logits[(column * v)..<((column + 1) * v)])
                let best = row.indices.max { row[$0] < row[$1] }!
                #expect(row[tokens[column][step]] == row[best], "step \(step), sequence \(column): token \(tokens[column][step]) is not the argmax")
                previous[column] = tokens[column][step]
            }
            state = result.state
        }
        let w = try weights.toArray()
        for step in 0..<steps {
            for column in 0..<b {
                let weightsOfColumn = (0..<t).map { w[(step * t + $0) * b + column] }
                #expect(abs(weightsOfColumn.prefix(sourceLengths[column]).reduce(0, +) - 1) < 1e-5)
                #expect(weightsOfColumn.dropFirst(sourceLengths[column]).allSatisfy { $0 == 0 })
            }
        }
        // Sequence 1 (length 2) alone, unpadded: the same tokens.
        let alone = try SequenceBatch(Tensor(shape: [sourceLengths[1], 1], values: (0..<sourceLengths[1]).map { sourceValues[$0 * b + 1] },
                                             on: backend))
        #expect(try model.greedyDecode(source: alone, start: 0, steps: steps).tokens[0] == tokens[1])
    }

    @Test func badInputsAreRefused() throws {
        let backend = TestDevice.backend
        let model = try EncoderDecoder(sourceVocabularySize: 5, targetVocabularySize: 4, embeddingSize: 3, hiddenSize: 4, on: backend,
                                       rng: RandomSource(seed: 1))
        let source = try SequenceBatch(Tensor(shape: [3, 2], values: [1, 2, 3, 4, 1, 2], on: backend))
        #expect(throws: RecurrentError.self) { try model.greedyDecode(source: source, start: 4, steps: 3) }     // start ∉ 0..<4
        #expect(throws: RecurrentError.self) { try model.greedyDecode(source: source, start: 0, steps: 0) }
        #expect(throws: RecurrentError.self) { try model.teacherForcing(source: source, inputs: Tensor.zeros([3, 5], on: backend)) }   // B = 5
        #expect(throws: RecurrentError.self) {
            try model.encode(SequenceBatch(Tensor.zeros([3, 2, 1], on: backend)))     // not token indices (T, B)
        }
    }
}
