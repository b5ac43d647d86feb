// `recurrent demo seq2seq`: an attention encoder–decoder learns to reverse digit strings of
// different lengths (teacher forcing in training, greedy decoding with an end token to score),
// prints the accuracy and writes a heatmap of one validation example's attention weights.
// T = source steps, S = decoder steps (T + 1 with the end token), B = batch.
import ArgumentParser
import Foundation
import RecurrentKit

/// Digit strings and their reversals: sources of tokens 0…9, targets the reversed digits and
/// the end token, decoder inputs the start token and the reversed digits.
struct ReversalData {
    static let digits = 10
    static let start = 10, end = 11
    /// Target tokens: the digits, start and end.
    static let targetVocabulary = 12

    var strings: [[Int]]

    /// `count` strings of uniformly drawn lengths in `lengths` and uniform digits, from `seed`.
    init(count: Int, lengths: ClosedRange<Int>, seed: UInt64, stream: UInt64) {
        var random = PhiloxStream(seed: seed, stream: stream)
        func draw(_ n: Int) -> Int { min(Int(Philox.unitFloat(random.nextWord()) * Float(n)), n - 1) }
        strings = (0..<count).map { _ in
            let length = lengths.lowerBound + draw(lengths.count)
            return (0..<length).map { _ in draw(Self.digits) }
        }
    }

    /// One batch of `indices`, time-major and padded to its longest string: sources (T, B) with
    /// lengths, decoder inputs (T + 1, B), targets (T + 1, B) with lengths (length + 1: the end).
    func batch(_ indices: [Int], on backend: any Backend) throws -> (source: SequenceBatch, inputs: Tensor, targets: SequenceBatch) {
        let rows = indices.map { strings[$0] }
        let b = rows.count, t = rows.map(\.count).max() ?? 1
        var source = [Float](repeating: 0, count: t * b)
        var inputs = [Float](repeating: 0, count: (t + 1) * b), targets = [Float](repeating: -100, count: (t + 1) * b)
        for (column, digits) in rows.enumerated() {
            let reversed = Array(digits.reversed())
            for (step, digit) in digits.enumerated() { source[step * b + column] = Float(digit) }
            inputs[column] = Float(Self.start)
            for (step, digit) in reversed.enumerated() {
                inputs[(step + 1) * b + column] = Float(digit)
                targets[step * b + column] = Float(digit)
            }
            targets[reversed.count * b + column] = Float(Self.end)
        }
        let lengths = rows.map(\.count)
        return (try SequenceBatch(Tensor(shape: [t, b], values: source, on: backend), lengths: lengths),
                try Tensor(shape: [t + 1, b], values: inputs, on: backend),
                try SequenceBatch(Tensor(shape: [t + 1, b], values: targets, on: backend), lengths: lengths.map { $0 + 1 }))
    }
}

/// What a seq2seq demo run measured.
struct Seq2SeqResult {
    /// Validation strings decoded exactly (every digit and the end in the right place).
    var sequenceAccuracy: Float
    /// Validation digits right at their position (over the true length).
    var digitAccuracy: Float
    /// Mean training cross-entropy of each epoch.
    var losses: [Float]
    var seconds: Double
    /// The heatmap of the first validation string of the longest length.
    var heatmap: Heatmap
}

extension Demo {
    struct Seq2Seq: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "seq2seq",
            abstract: "An attention encoder–decoder learns to reverse digit strings.",
            discussion: "Sources are strings of digits of lengths --min-length…--max-length; the decoder emits them reversed and "
                + "then an end token. Training uses teacher forcing, scoring greedy decoding on held-out strings (guessing gets "
                + "a digit right one time in ten). Writes the attention weights of one validation string as attention.svg: "
                + "reversal shows as the anti-diagonal.")
        @OptionGroup var common: CommonOptions
        @Option(help: "Recurrent cell of encoder and decoder: lstm or gru.") var cell: String = "lstm"
        @Option(help: "Attention score: additive (Bahdanau), dot or general (Luong).") var score: String = "additive"
        @Option(help: "Hidden units of encoder and decoder.") var hiddenSize: Int = 64
        @Option(help: "Size of the token embeddings.") var embeddingSize: Int = 32
        @Option(help: "Strings generated (90% train, 10% validation).") var samples: Int = 6000
        @Option(help: "Shortest string.") var minLength: Int = 3
        @Option(help: "Longest string.") var maxLength: Int = 10
        @Option(help: "Epochs.") var epochs: Int = 8
        @Option(help: "Strings per batch.") var batchSize: Int = 64
        @Option(help: "Adam's learning rate.") var learningRate: Float = 0.005
        @Option(help: "Clip the global gradient norm to this (0: no clipping).") var clipNorm: Float = 1
        @Option(help: "Directory for attention.svg (default: runs/demo-seq2seq).") var output: String?

        func validate() throws {
            guard ["lstm", "gru"].contains(cell) else { throw ValidationError("--cell: expected lstm or gru, got '\(cell)'") }
            guard ["additive", "dot", "general"].contains(score) else {
                throw ValidationError("--score: expected additive, dot or general, got '\(score)'")
            }
            guard minLength >= 1, maxLength >= minLength else {
                throw ValidationError("--min-length and --max-length: expected 1 ≤ min ≤ max, got \(minLength) and \(maxLength)")
            }
            for (name, value) in [("--hidden-size", hiddenSize), ("--embedding-size", embeddingSize), ("--epochs", epochs),
                                  ("--batch-size", batchSize)] where value < 1 {
                throw ValidationError("\(name): expected at least 1, got \(value)")
            }
            guard samples >= 20 else { throw ValidationError("--samples: expected at least 20, got \(samples)") }
            guard learningRate > 0, learningRate.isFinite else { throw ValidationError("--learning-rate: expected a positive number") }
            guard clipNorm >= 0 else { throw ValidationError("--clip-norm: expected 0 or more, got \(clipNorm)") }
        }

        func run() throws {
            let result = try train { line in
                print(line)
                fflush(nil)
            }
            print(String(format: "reversal of %d…%d digits: %.1f%% of validation strings exact, %.1f%% of digits right "
                         + "(guessing: 10%% of digits), %.1f s", minLength, maxLength, 100 * result.sequenceAccuracy,
                         100 * result.digitAccuracy, result.seconds))
            let directory = try RunDirectory(output ?? "runs/demo-seq2seq")
            let url = directory.file("attention.svg")
            try result.heatmap.write(to: url)
            print("wrote \(url.path)")
        }

        /// Trains on the generated strings and scores greedy decoding on the validation ones.
        func train(print: (String) -> Void) throws -> Seq2SeqResult {
            let backend = try common.backend()
            // The strings (an Int per digit, up to --max-length each), then the two recurrent
            // layers (encoder, decoder), attention and embeddings over a batch of the longest strings.
            try MemoryCheck.require([("the generated strings", 8 * Double(samples) * (Double(maxLength) + 4))],
                                    options: [("--samples", samples), ("--max-length", maxLength)],
                                    available: MemoryCheck.availableBytes(on: nil))
            let h = Double(hiddenSize), e = Double(embeddingSize)
            try MemoryCheck.requireTraining(
                cell: cell, inputSize: embeddingSize, hiddenSize: hiddenSize, layers: 2, batchSize: min(batchSize, samples),
                steps: maxLength + 1, outputSize: ReversalData.targetVocabulary,
                extraParameters: e * Double(ReversalData.digits + ReversalData.targetVocabulary) + 3 * h * h,
                options: [("--hidden-size", hiddenSize), ("--embedding-size", embeddingSize), ("--batch-size", batchSize),
                          ("--max-length", maxLength)], on: backend)
            let validationCount = max(samples / 10, 1)
            let lengths = minLength...maxLength
            let train = ReversalData(count: samples - validationCount, lengths: lengths, seed: common.seed, stream: 0)
            let validation = ReversalData(count: validationCount, lengths: lengths, seed: common.seed, stream: 1)
            let scoring: CrossAttention.Score = score == "dot" ? .dot : score == "general" ? .general : .additive(attentionSize: hiddenSize)
            let model = try EncoderDecoder(sourceVocabularySize: ReversalData.digits, targetVocabularySize: ReversalData.targetVocabulary,
                                           embeddingSize: embeddingSize, hiddenSize: hiddenSize, cell: cell == "gru" ? .gru : .lstm,
                                           score: scoring, on: backend, rng: RandomSource(seed: common.seed))
            let optimizer = try Adam(model.parameters, learningRate: learningRate)
            let loss = try MaskedLoss(CrossEntropyLoss())
            print("seq2seq: \(cell) encoder–decoder, \(score) attention, hidden \(hiddenSize), \(model.parameterCount) parameters, on "
                  + "\(backend.name) (\(backend.deviceDescription)); \(train.strings.count) training and \(validation.strings.count) "
                  + "validation strings of \(minLength)…\(maxLength) digits")
            let started = Date()
            var losses: [Float] = []
            for epoch in 1...epochs {
                let order = SequenceDataset.permutation(train.strings.count, seed: common.seed, stream: UInt64(epoch))
                var total: Float = 0, batches = 0
                for first in stride(from: 0, to: order.count, by: batchSize) {
                    let (source, inputs, targets) = try train.batch(Array(order[first..<min(first + batchSize, order.count)]), on: backend)
                    try optimizer.zeroGradients()
                    let tape = Tape()
                    let (logits, _) = try model.teacherForcing(source: source, inputs: inputs, tape: tape)   // (S, B, V)
                    let value = try loss.forward(SequenceBatch(logits, lengths: targets.lengths), targets.data)
                    try tape.backward(logits, gradient: loss.backward())
                    if clipNorm > 0 { _ = try GradientClipping.clipNorm(model.parameters, maxNorm: clipNorm) }
                    try optimizer.step()
                    total += try value.item()
                    batches += 1
                }
                losses.append(total / Float(max(batches, 1)))
                let scored = try evaluate(model, validation, on: backend)
                print(String(format: "epoch %d: train cross-entropy %.4f, validation %.1f%% exact, %.1f%% digits", epoch, losses.last!,
                             100 * scored.sequences, 100 * scored.digits))
            }
            let scored = try evaluate(model, validation, on: backend)
            return Seq2SeqResult(sequenceAccuracy: scored.sequences, digitAccuracy: scored.digits, losses: losses,
                                 seconds: Date().timeIntervalSince(started), heatmap: try heatmap(model, validation, on: backend))
        }

        /// Greedy decoding of every validation string: the fraction decoded exactly and of digits right.
        func evaluate(_ model: EncoderDecoder, _ data: ReversalData, on backend: any Backend) throws -> (sequences: Float, digits: Float) {
            var exact = 0, right = 0, digits = 0
            for first in stride(from: 0, to: data.strings.count, by: 256) {
                let indices = Array(first..<min(first + 256, data.strings.count))
                let source = try data.batch(indices, on: backend).source
                let decoded = try model.greedyDecode(source: source, start: ReversalData.start, steps: source.steps + 1,
                                                     endToken: ReversalData.end).tokens
                for (column, index) in indices.enumerated() {
                    let truth = Array(data.strings[index].reversed())
                    if decoded[column] == truth { exact += 1 }
                    right += zip(decoded[column], truth).filter { $0 == $1 }.count
                    digits += truth.count
                }
            }
            return (Float(exact) / Float(max(data.strings.count, 1)), Float(right) / Float(max(digits, 1)))
        }

        /// The attention weights of the first longest validation string: a row per decoded token
        /// (the end token included), a column per source digit.
        func heatmap(_ model: EncoderDecoder, _ data: ReversalData, on backend: any Backend) throws -> Heatmap {
            let longest = data.strings.map(\.count).max() ?? 1
            let index = data.strings.firstIndex { $0.count == longest } ?? 0
            let digits = data.strings[index]
            let source = try data.batch([index], on: backend).source
            let (tokens, weights) = try model.greedyDecode(source: source, start: ReversalData.start, steps: digits.count + 1,
                                                           endToken: ReversalData.end)
            let w = try weights.toArray()                                      // (S, T, 1)
            let rows = weights.shape[0], t = digits.count
            let labels = (0..<rows).map { $0 < tokens[0].count ? String(tokens[0][$0]) : "end" }
            return Heatmap(title: "attention while reversing \(digits.map(String.init).joined())", rowTitle: "decoded token",
                           columnTitle: "source digit", rowLabels: labels, columnLabels: digits.map(String.init),
                           values: (0..<rows).map { r in Array(w[(r * t)..<((r + 1) * t)]) })
        }
    }
}
