// Reading model.json and history.json back (for `recurrent sample`, `export` and `train --resume`):
// every field is checked for its type, its range and its agreement with the others, and the
// error names the file and the field, so a damaged or hand-edited file never gets as far as
// building a model it does not describe.
import Foundation
import RecurrentKit

extension SavedModel {
    /// The cells `makeRecurrent` builds.
    static let cells = ["lstm", "gru", "rnn", "rnn-tanh", "rnn_tanh", "rnn-relu", "rnn_relu"]
    static let initializations = ["pytorch", "xavier", "orthogonal", "large"]
    static let optimizers = ["adam", "adamw", "sgd"]

    /// Parses and checks the contents of a model.json; `file` names it in errors.
    static func decode(_ data: Data, file: String) throws -> SavedModel {
        let f = try JSONFields.object(data, file: file)
        let positive = 1...Int.max
        let format = try f.int("format", in: 0...Int.max)
        guard format == 1 else { throw f.failure("format", "expected 1 (the format this version writes), got \(format)") }
        let kind = Kind(rawValue: try f.choice("kind", Kind.allNames))!
        let t = try f.object("training")
        let training = Training(
            seed: try t.uint64("seed"),
            validationFraction: try t.double("validationFraction", expected: "a number between 0 and 1 (exclusive)") { $0 > 0 && $0 < 1 },
            optimizer: try t.choice("optimizer", optimizers),
            learningRate: try t.float("learningRate", expected: "a positive number") { $0 > 0 },
            weightDecay: try t.float("weightDecay", expected: "a number ≥ 0") { $0 >= 0 },
            batchSize: try t.int("batchSize", in: positive),
            clipNorm: try t.float("clipNorm", expected: "a number ≥ 0") { $0 >= 0 },
            clipValue: try t.optionalFloat("clipValue", expected: "a positive number") { $0 > 0 })
        var saved = SavedModel(
            format: format, kind: kind, data: try f.string("data"), cell: try f.choice("cell", cells),
            layers: try f.int("layers", in: positive), hiddenSize: try f.int("hiddenSize", in: positive),
            dropout: try f.float("dropout", expected: "a number in [0, 1)") { $0 >= 0 && $0 < 1 },
            initialization: try f.choice("initialization", initializations), window: try f.int("window", in: positive),
            inputSize: try f.int("inputSize", in: positive), outputSize: try f.int("outputSize", in: positive), training: training)
        switch kind {
        case .csv:
            let columns = try f.strings("columns")
            guard columns.count == saved.inputSize else {
                throw f.failure("columns", "expected \(saved.inputSize) names (inputSize), got \(columns.count)")
            }
            if let duplicate = columns.first(where: { c in columns.filter { $0 == c }.count > 1 }) {
                throw f.failure("columns", "expected distinct names, got \(duplicate.debugDescription) more than once")
            }
            let target = try f.string("target")
            guard columns.contains(target) else {
                throw f.failure("target", "expected one of the columns (\(columns.map(\.debugDescription).joined(separator: ", "))), got \(target.debugDescription)")
            }
            guard saved.outputSize == 1 else { throw f.failure("outputSize", "expected 1 (one forecast value), got \(saved.outputSize)") }
            saved.columns = columns
            saved.target = target
            saved.normalization = try ColumnScaling(fields: try f.object("normalization"), width: columns.count)
            saved.differenced = try f.optionalBool("differenced")
        case .text:
            let vocabulary = try f.array("vocabulary") { place, item in
                guard let entry = item as? String, entry.unicodeScalars.count == 1 else {
                    throw RecurrentError.file(path: file, reason: "field \(place): expected one character, got \(JSONFields.describe(item))")
                }
                return entry
            }
            let corpus = try TextCorpus(saved: vocabulary, source: file)
            guard corpus.count == saved.outputSize, Set(corpus.vocabulary).count == corpus.count else {
                throw f.failure("vocabulary", "expected \(saved.outputSize) distinct characters (outputSize), got \(vocabulary.count)"
                                + (Set(corpus.vocabulary).count == corpus.count ? "" : " with repeats"))
            }
            let embedding = try f.int("embeddingSize", in: positive)
            guard embedding == saved.inputSize else {
                throw f.failure("embeddingSize", "expected \(saved.inputSize) (inputSize, the embedding feeds the recurrent stack), got \(embedding)")
            }
            saved.vocabulary = vocabulary
            saved.embeddingSize = embedding
            saved.stride = try f.int("stride", in: positive)
        }
        try saved.checkSize(file: file)
        // The numbers training reproduces bit for bit (the scaling, the split, the optimizer's),
        // exactly as JSONEncoder wrote them.
        if let exact = try? JSONDecoder().decode(SavedModel.self, from: data) {
            if saved.normalization != nil, let scaling = exact.normalization { saved.normalization = scaling }
            saved.dropout = exact.dropout
            saved.training = exact.training
        }
        return saved
    }

    /// The weights (and their host copy) must fit in memory: a hidden size or layer count
    /// edited to an absurd value is an error naming them, before anything is allocated.
    func checkSize(file: String) throws {
        let gates: Double = switch cell { case "lstm": 4; case "gru": 3; default: 1 }
        let h = Double(hiddenSize)
        let parameters = Double(layers) * gates * h * (max(Double(inputSize), h) + h + 2)
            + Double(outputSize) * (h + 1 + Double(embeddingSize ?? 0))
        let bytes = 2 * 4 * parameters, available = Double(HostMemory.availableBytes)
        guard bytes <= available else {
            throw RecurrentError.file(path: file, reason: String(
                format: "fields hiddenSize %d, layers %d, inputSize %d and outputSize %d describe %.3g weights, which would need "
                    + "%.3g bytes, but %.3g bytes of memory are available", hiddenSize, layers, inputSize, outputSize, parameters, bytes, available))
        }
    }
}

extension SavedModel.Kind {
    static let allNames = ["csv", "text"]
}

extension ColumnScaling {
    /// The scaling of `width` columns in model.json: `method`, `offset`, `scale` (or the
    /// `mean` and `std` of older files); every scale must be a positive finite number.
    init(fields n: JSONFields, width: Int) throws {
        let method: NormalizationMethod, offset: [Double], scale: [Double], offsetKey: String, scaleKey: String
        if n.optionalValue("offset") != nil || n.optionalValue("mean") == nil {
            method = NormalizationMethod(rawValue: try n.choice("method", NormalizationMethod.allCases.map(\.rawValue)))!
            (offsetKey, scaleKey) = ("offset", "scale")
        } else {
            method = .zscore
            (offsetKey, scaleKey) = ("mean", "std")
        }
        offset = try n.doubles(offsetKey)
        scale = try n.doubles(scaleKey)
        for (key, values) in [(offsetKey, offset), (scaleKey, scale)] where values.count != width {
            throw n.failure(key, "expected \(width) numbers (one per column), got \(values.count)")
        }
        if let k = scale.firstIndex(where: { !($0 > 0) }) {
            throw RecurrentError.file(path: n.file, reason: "field \(n.place(scaleKey))[\(k)]: expected a positive number, got \(scale[k])")
        }
        self.init(method: method, offset: offset, scale: scale)
    }
}

extension EpochRecord {
    /// More epochs than any run trains: a bound that keeps epoch arithmetic far from overflow.
    static let largestEpoch = 1_000_000_000

    /// Parses and checks the contents of a history.json: an array of epochs, numbered upwards.
    static func decodeHistory(_ data: Data, file: String) throws -> [EpochRecord] {
        guard let items = try JSONFields.parse(data, file: file) as? [Any] else {
            throw RecurrentError.file(path: file, reason: "the top level: expected an array of epochs")
        }
        var records: [EpochRecord] = []
        for (i, item) in items.enumerated() {
            let f = try JSONFields(value: item, file: file, path: "[\(i)]")
            let epoch = try f.int("epoch", in: (records.last.map { $0.epoch + 1 } ?? 1)...Self.largestEpoch)
            records.append(EpochRecord(
                epoch: epoch, trainLoss: try f.float("trainLoss"), validationLoss: try f.optionalFloat("validationLoss"),
                learningRate: try f.float("learningRate", expected: "a number ≥ 0") { $0 >= 0 },
                seconds: try f.double("seconds", expected: "a number ≥ 0") { $0 >= 0 }))
        }
        return records
    }

    /// The epochs of the history file at `url`; none when there is no file.
    static func readHistory(_ url: URL) throws -> [EpochRecord] {
        guard FileManager.default.fileExists(atPath: url.path) else { return [] }
        do {
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw RecurrentError.file(path: url.path, reason: "cannot be read")
            }
            return try decodeHistory(data, file: url.path)
        } catch let RecurrentError.file(path, reason) {
            throw RecurrentError.file(path: path, reason: reason + " (move the file away to resume without the earlier epochs' history)")
        }
    }
}
