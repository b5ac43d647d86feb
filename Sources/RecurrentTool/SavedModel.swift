// `model.json`: what a run of `recurrent train` trained, enough to rebuild the model (for
// `--resume` and `recurrent sample`) and to prepare data the way training did.
import Foundation
import RecurrentKit

/// The description of a trained model, written to `model.json` in the run directory.
struct SavedModel: Codable, Equatable {
    enum Kind: String, Codable {
        /// Forecasts the next value of a CSV column: recurrent stack → last step → Linear(H, 1).
        case csv
        /// Character-level language model: Embedding → recurrent stack → Linear(H, V) per step.
        case text
    }

    static let fileName = "model.json"
    static let checkpointFileName = "checkpoint.safetensors"
    static let lossPlotFileName = "loss.svg"
    static let historyFileName = "history.json"

    var format = 1
    var kind: Kind
    /// The data file it was trained on.
    var data: String

    // The network.
    var cell: String
    var layers: Int
    var hiddenSize: Int
    var dropout: Float
    var initialization: String
    /// Time steps per training sample.
    var window: Int
    /// Features per step of the recurrent stack's input (columns; the embedding size for text).
    var inputSize: Int
    /// Outputs per step (1; the vocabulary size for text).
    var outputSize: Int

    // CSV models.
    var columns: [String]?
    var target: String?
    /// Per-column scaling fitted on the training rows (`columns` order).
    var normalization: ColumnScaling?
    /// The model sees first differences and predicts the next change (`--difference`); nil in older files: false.
    var differenced: Bool?

    // Text models.
    /// One Unicode scalar per entry, sorted by scalar value; index i is class i.
    var vocabulary: [String]?
    var embeddingSize: Int?
    /// Characters between the starts of consecutive training windows.
    var stride: Int?

    // How it was trained (what `--resume` must keep).
    var training: Training

    struct Training: Codable, Equatable {
        var seed: UInt64
        var validationFraction: Double
        var optimizer: String
        var learningRate: Float
        var weightDecay: Float
        var batchSize: Int
        /// 0: no norm clipping.
        var clipNorm: Float
        var clipValue: Float?
        /// `--early-stopping`: patience in epochs (nil: none).
        var earlyStopping: Int? = nil
    }

    /// Reads `model.json` from `directory`.
    static func load(from directory: RunDirectory) throws -> SavedModel {
        try decode(try directory.read(fileName), file: directory.file(fileName).path)
    }

    var targetIndex: Int? { target.flatMap { columns?.firstIndex(of: $0) } }

    /// The untrained model this describes: layers `rnn`, `last`, `fc` (CSV) or `indices`,
    /// `embed`, `rnn`, `fc` (text), weights drawn from `rng`.
    func makeModel(on backend: any Backend, rng: RandomSource) throws -> Sequential {
        switch kind {
        case .csv:
            let recurrent = try makeRecurrent(cell: cell, inputSize: inputSize, hiddenSize: hiddenSize, layers: layers, dropout: dropout,
                                              initialization: initialization, on: backend, rng: rng)
            return try Sequential([("rnn", recurrent), ("last", LastTimeStep()),
                                   ("fc", Linear(hiddenSize, outputSize, on: backend, rng: rng))])
        case .text:
            let embedding = try Embedding(outputSize, inputSize, on: backend, rng: rng)
            let recurrent = try makeRecurrent(cell: cell, inputSize: inputSize, hiddenSize: hiddenSize, layers: layers, dropout: dropout,
                                              initialization: initialization, on: backend, rng: rng)
            return try Sequential([("indices", TokenIndices()), ("embed", embedding), ("rnn", recurrent),
                                   ("fc", Linear(hiddenSize, outputSize, on: backend, rng: rng))])
        }
    }

    /// The model with the weights of the run's checkpoint, in evaluation mode.
    func trainedModel(in directory: RunDirectory, on backend: any Backend) throws -> Sequential {
        let network = try makeModel(on: backend, rng: RandomSource(seed: 0))
        let checkpoint = directory.file(SavedModel.checkpointFileName)
        guard FileManager.default.fileExists(atPath: checkpoint.path) else {
            throw RecurrentError.file(path: checkpoint.path, reason: "not found: the run has no weights yet")
        }
        let contents = try SafeTensors.read(contentsOf: checkpoint)
        var weights: [String: HostTensor] = [:]
        for (name, tensor) in contents.tensors where name.hasPrefix("model.") { weights[String(name.dropFirst(6))] = tensor }
        do {
            try network.loadStateDict(weights, strict: true)
        } catch {
            throw RecurrentError.file(path: checkpoint.path, reason: "does not fit \(directory.file(SavedModel.fileName).path): \(error)")
        }
        network.eval()
        return network
    }

    /// One line: "csv lstm 1×32, window 24, 3 columns → "load"" and the like.
    var summary: String {
        switch kind {
        case .csv:
            return "\(cell) \(layers)×\(hiddenSize) over windows of \(window) rows of \(inputSize) columns, forecasting \"\(target ?? "?")\""
        case .text:
            return "character model: embedding \(inputSize), \(cell) \(layers)×\(hiddenSize), vocabulary \(outputSize), windows of \(window)"
        }
    }
}

/// One epoch of a run, as kept in `history.json` (across resumed runs).
struct EpochRecord: Codable, Equatable {
    var epoch: Int
    var trainLoss: Float
    var validationLoss: Float?
    var learningRate: Float
    var seconds: Double

    init(epoch: Int, trainLoss: Float, validationLoss: Float?, learningRate: Float, seconds: Double) {
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.validationLoss = validationLoss
        self.learningRate = learningRate
        self.seconds = seconds
    }

    init(_ r: EpochReport) {
        epoch = r.epoch
        trainLoss = r.trainLoss
        validationLoss = r.validationLoss.flatMap { $0.isFinite ? $0 : nil }   // JSON has no NaN
        learningRate = r.learningRate
        seconds = r.seconds
    }

    /// Train and validation loss per epoch, the best epoch marked.
    static func lossPlot(_ records: [EpochRecord], title: String) -> LinePlot {
        LinePlot.lossCurves(records.map { ($0.epoch, $0.trainLoss, $0.validationLoss) }, title: title)
    }
}
