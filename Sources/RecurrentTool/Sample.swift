// `recurrent sample`: generates text from a character model trained by `recurrent train --text`,
// one character at a time, carrying the recurrent state forward.
import ArgumentParser
import Foundation
import RecurrentKit

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text from a character model trained by `recurrent train --text`.",
        discussion: "Reads DIR/model.json and the weights in DIR/checkpoint.safetensors, runs the prime through the model, "
            + "then draws each next character from the softmax of the logits divided by --temperature.")

    @Option(help: ArgumentHelp("The --output directory of `recurrent train --text`.", valueName: "dir")) var model: String = "recurrent-run"
    @Option(help: "Text to start from (default: a character of the vocabulary, drawn with --seed).") var prime: String?
    @Option(help: "Characters to generate after the prime.") var length: Int = 200
    @Option(help: "Softmax temperature: below 1 more conservative, above 1 more varied, 0 always the likeliest.") var temperature: Float = 0.8

    @OptionGroup var common: CommonOptions

    func validate() throws {
        if length < 0 { throw ValidationError("expected --length ≥ 0 characters, got \(length)") }
        if !(temperature >= 0) || !temperature.isFinite { throw ValidationError("expected --temperature ≥ 0, got \(temperature)") }
        if prime == "" { throw ValidationError("expected --prime to hold at least one character, got an empty string") }
    }

    func run() throws {
        try MemoryCheck.require([("the generated text", 8 * Double(length))], options: [("--length", length)],
                                available: MemoryCheck.availableBytes(on: nil))
        let result = try generate()
        print(result.prime + result.text)
    }

    /// The prime and the `length` characters generated after it (Unicode scalars), on `backend`
    /// (nil: the one `--device` names).
    func generate(on backend: (any Backend)? = nil) throws -> (prime: String, text: String) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: model, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RecurrentError.file(path: model, reason: "no such directory (expected the --output directory of `recurrent train --text`)")
        }
        let directory = try RunDirectory(model)
        let saved = try SavedModel.load(from: directory)
        let description = directory.file(SavedModel.fileName).path
        guard saved.kind == .text else {
            throw UserFacingError(description: "\(description) describes a CSV forecasting model (\(saved.summary)); `recurrent sample` "
                                  + "generates text from a model trained with `recurrent train --text`")
        }
        let corpus = try TextCorpus(saved: saved.vocabulary ?? [], source: description)
        guard corpus.count == saved.outputSize, corpus.count > 0 else {
            throw RecurrentError.file(path: description, reason: "expected a vocabulary of \(saved.outputSize) characters, got \(corpus.count)")
        }

        // The model, with the weights of the checkpoint.
        let backend = try backend ?? common.backend()
        let network = try saved.trainedModel(in: directory, on: backend)
        guard let embedding = network["embed"] as? Embedding, let recurrent = network["rnn"] as? RecurrentNetwork,
              let head = network["fc"] as? Linear else {
            throw RecurrentError.invalidState("the text model lacks its embed, rnn or fc layer")
        }

        let primeText = prime ?? {
            var pick = PhiloxStream(seed: common.seed, stream: 1)
            return String(Character(corpus.vocabulary[Int(pick.nextWord() % UInt32(corpus.count))]))
        }()
        let primeIndices = try corpus.encode(primeText, what: "--prime \(primeText.debugDescription)",
                                             vocabularyName: "the vocabulary in \(description)")

        // Runs `indices` from the current state; returns the logits after the last one.
        var state: RecurrentState? = nil
        func advance(_ indices: [Int]) throws -> [Float] {
            let input = try Tensor(shape: [indices.count, 1], indices: indices, on: backend)          // (T, 1)
            let embedded = try embedding.forward(SequenceBatch(input)).requireSequence("sample")      // (T, 1, E)
            let result = try recurrent(embedded, initialState: state)                                 // (T, 1, H)
            state = result.state
            return try head(result.output.data.row(indices.count - 1)).toArray()                      // (1, V)
        }
        var random = PhiloxStream(seed: common.seed, stream: 0)
        var generated: [Int] = []
        generated.reserveCapacity(length)
        var logits = try advance(primeIndices)
        for k in 0..<length {
            let next = Self.draw(logits, temperature: temperature, uniform: Double(random.nextWord()) * 0x1p-32)
            generated.append(next)
            if k + 1 < length { logits = try advance([next]) }
        }
        return (primeText, corpus.decode(generated))
    }

    /// A class drawn from softmax(logits / temperature) by inverting the cumulative sum at
    /// `uniform` ∈ [0, 1); temperature 0 takes the largest logit.
    static func draw(_ logits: [Float], temperature: Float, uniform: Double) -> Int {
        let best = logits.indices.max { logits[$0] < logits[$1] } ?? 0
        guard temperature > 0 else { return best }
        let top = Double(logits[best]), t = Double(temperature)
        let weights = logits.map { exp((Double($0) - top) / t) }
        var remaining = uniform * weights.reduce(0, +)
        for (i, w) in weights.enumerated() {
            remaining -= w
            if remaining < 0 { return i }
        }
        return best   // rounding left a sliver past the end
    }
}
