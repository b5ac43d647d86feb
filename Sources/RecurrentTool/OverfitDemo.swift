// `recurrent demo overfit`: a character model large for its small corpus, trained with the same
// seed plain and with each recurrent regulariser (recurrent dropout, weight drop, zoneout, and all
// three), so that the gap between training and validation loss each closes can be read off one
// plot (overfit.svg) and one table; the curves are also written as overfit.json.
import ArgumentParser
import Foundation
import RecurrentKit

/// One training run of the overfitting demo.
struct OverfitRun: Codable {
    /// "plain", "recurrent dropout 0.25", ….
    var name: String
    var recurrentDropout: Float, weightDrop: Float, zoneout: Float, cellZoneout: Float
    /// Mean training cross-entropy of each epoch (in training mode: masks drawn).
    var trainLoss: [Float]
    /// Validation cross-entropy after each epoch (evaluation mode).
    var validationLoss: [Float]
    /// Training-set cross-entropy of the final weights in evaluation mode (no masks), what the gap is measured from.
    var finalTrainLoss: Float
    var seconds: Double

    /// The lowest validation loss and its (1-based) epoch.
    var best: (epoch: Int, loss: Float) {
        let k = validationLoss.indices.min { validationLoss[$0] < validationLoss[$1] } ?? 0
        return (k + 1, validationLoss.isEmpty ? .nan : validationLoss[k])
    }
    /// Final validation loss minus the final weights' training loss (both in evaluation mode).
    var gap: Float { (validationLoss.last ?? .nan) - finalTrainLoss }
}

/// What `overfit.json` holds.
struct OverfitReport: Codable {
    var characters: Int, vocabulary: Int, window: Int, trainWindows: Int, validationWindows: Int
    var cell: String, hiddenSize: Int, epochs: Int
    var runs: [OverfitRun]
}

extension Demo {
    struct Overfit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Overfit a small character model, then close the gap with recurrent dropout, weight drop and zoneout.",
            discussion: "Trains the same model (embedding, recurrent stack, per-step linear) from the same seed five times: "
                + "plain, with each regulariser alone and with all three. The text is a small generated corpus of "
                + "grammatical sentences (or --text FILE); its last --validation-fraction validates. Prints each run's "
                + "training and validation cross-entropy and the validation gap it closes against the plain run, and "
                + "writes overfit.svg (every run's training and validation curves) and overfit.json.")
        @OptionGroup var common: CommonOptions
        @OptionGroup var model: ModelOptions
        @OptionGroup var optimization: OptimizationOptions
        @Option(help: ArgumentHelp("A UTF-8 text to train on instead of the generated corpus.", valueName: "file")) var text: String?
        @Option(help: "Characters of the generated corpus.") var characters: Int = 6000
        @Option(help: "Characters per training window.") var window: Int = 64
        @Option(help: "The last fraction of the text that validates.") var validationFraction: Double = 0.25
        @Option(help: "Recurrent dropout of the regularised runs.") var recurrentDropout: Float = 0.25
        @Option(help: "Weight drop on W_hh of the regularised runs.") var weightDrop: Float = 0.5
        @Option(help: "Zoneout on h of the regularised runs.") var zoneout: Float = 0.1
        @Option(help: "Zoneout on an LSTM's c of the regularised runs (GRU and RNN have no c: not used).") var cellZoneout: Float = 0.5
        @Option(help: "Directory for overfit.svg and overfit.json (default: runs/demo-overfit).") var output: String?

        static let defaults = (hiddenSize: 256, epochs: 30, batchSize: 16, learningRate: Float(0.003), embedding: 16)

        func validate() throws {
            guard characters >= 2 else { throw ValidationError("expected --characters ≥ 2, got \(characters)") }
            for (flag, p) in [("--recurrent-dropout", recurrentDropout), ("--weight-drop", weightDrop), ("--zoneout", zoneout),
                              ("--cell-zoneout", cellZoneout)] where !(p >= 0 && p < 1) {
                throw ValidationError("expected \(flag) in [0, 1), got \(p)")
            }
        }

        /// The runs: plain, each regulariser alone, all three.
        func settings() -> [(name: String, variants: RecurrentVariants)] {
            let cellZone = model.cell.lowercased() == "lstm" ? cellZoneout : 0
            let zoneName = cellZone > 0 ? "zoneout \(zoneout) (c \(cellZone))" : "zoneout \(zoneout)"
            return [("plain", RecurrentVariants()),
                    ("recurrent dropout \(recurrentDropout)", RecurrentVariants(recurrentDropout: recurrentDropout)),
                    ("weight drop \(weightDrop)", RecurrentVariants(weightDrop: weightDrop)),
                    (zoneName, RecurrentVariants(zoneout: zoneout, cellZoneout: cellZone)),
                    ("all three", RecurrentVariants(recurrentDropout: recurrentDropout, weightDrop: weightDrop, zoneout: zoneout,
                                                    cellZoneout: cellZone))]
        }

        func run() throws {
            let content = try text.map { try TextCorpus.read(path: $0) } ?? OverfitCorpus.text(characters: characters, seed: common.seed)
            let corpus = TextCorpus(text: content)
            let encoded = try corpus.encode(content, what: text ?? "the generated corpus")
            let windows = try TextWindows(count: encoded.count, window: window, stride: window, validationFraction: validationFraction,
                                          source: text ?? "the generated corpus (--characters \(characters))")
            let (train, validation) = try windows.datasets(encoded)
            let backend = try common.backend()
            let hidden = model.hiddenSize ?? Self.defaults.hiddenSize, epochs = optimization.epochs ?? Self.defaults.epochs
            let batch = optimization.batchSize ?? Self.defaults.batchSize
            print("overfit: \(encoded.count) characters (vocabulary \(corpus.count)), \(train.count) training and "
                  + "\(validation.count) validation windows of \(window); \(model.cell) \(model.layers)×\(hidden), "
                  + "\(epochs) epochs, batch \(batch), on \(backend.name)")
            var runs: [OverfitRun] = []
            for setting in settings() {
                runs.append(try trainRun(setting.name, setting.variants, train: train, validation: validation, vocabulary: corpus.count,
                                      hidden: hidden, epochs: epochs, batch: batch, on: backend))
                let r = runs[runs.count - 1]
                print(String(format: "  %@: validation %.4f (best %.4f, epoch %d), training %.4f, gap %.4f, %.1f s", r.name,
                             r.validationLoss.last ?? .nan, r.best.loss, r.best.epoch, r.finalTrainLoss, r.gap, r.seconds))
            }
            let report = OverfitReport(characters: encoded.count, vocabulary: corpus.count, window: window, trainWindows: train.count,
                                       validationWindows: validation.count, cell: model.cell.lowercased(), hiddenSize: hidden,
                                       epochs: epochs, runs: runs)
            print("")
            for line in Self.summary(report) { print(line) }
            let directory = try RunDirectory(output ?? "runs/demo-overfit")
            try Self.plot(report).write(to: directory.file("overfit.svg"))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(try encoder.encode(report), to: directory.file("overfit.json"))
            print("wrote \(directory.file("overfit.svg").path) and overfit.json")
        }

        /// Trains one run from the seed and returns its curves.
        private func trainRun(_ name: String, _ variants: RecurrentVariants, train: SequenceDataset, validation: SequenceDataset,
                           vocabulary: Int, hidden: Int, epochs: Int, batch: Int, on backend: any Backend) throws -> OverfitRun {
            let rng = RandomSource(seed: common.seed)
            let embedding = try Embedding(vocabulary, Self.defaults.embedding, on: backend, rng: rng)
            let recurrent = try makeRecurrent(cell: model.cell, inputSize: Self.defaults.embedding, hiddenSize: hidden, layers: model.layers,
                                              dropout: model.dropout, initialization: model.initialization, variants: variants,
                                              on: backend, rng: rng)
            let network = try Sequential([("indices", TokenIndices()), ("embed", embedding), ("rnn", recurrent),
                                          ("fc", Linear(hidden, vocabulary, on: backend, rng: rng))])
            let optimizer = try optimization.makeOptimizer(network.parameters, defaultLearningRate: Self.defaults.learningRate)
            let trainer = Trainer(model: network, loss: CrossEntropyLoss(), optimizer: optimizer, on: backend)
            optimization.configureClipping(trainer, defaultClipNorm: 5)
            let started = Date()
            let reports = try trainer.fit(train, validation: validation, epochs: epochs, batchSize: batch, shuffleSeed: common.seed)
            let finalTrain = try trainer.evaluate(train, batchSize: batch)
            return OverfitRun(name: name, recurrentDropout: variants.recurrentDropout, weightDrop: variants.weightDrop,
                              zoneout: variants.zoneout, cellZoneout: variants.cellZoneout, trainLoss: reports.map(\.trainLoss),
                              validationLoss: reports.compactMap(\.validationLoss), finalTrainLoss: finalTrain,
                              seconds: Date().timeIntervalSince(started))
        }

        /// The table: each run's final losses, its gap, and what it closes against the plain run (the first).
        static func summary(_ report: OverfitReport) -> [String] {
            guard let plain = report.runs.first else { return [] }
            let rows = report.runs.map { r in
                [r.name, String(format: "%.4f", r.finalTrainLoss), String(format: "%.4f", r.validationLoss.last ?? .nan),
                 String(format: "%.4f", r.best.loss), "\(r.best.epoch)", String(format: "%.4f", r.gap),
                 r.name == plain.name ? "" : String(format: "%.0f%%", 100 * (plain.gap - r.gap) / plain.gap),
                 r.name == plain.name ? "" : String(format: "%.4f", (plain.validationLoss.last ?? .nan) - (r.validationLoss.last ?? .nan))]
            }
            return table(header: ["run", "train CE", "validation CE", "best validation", "best epoch", "gap", "gap closed",
                                  "validation gain"], rows: rows)
                + ["CE: cross-entropy in nats/character, final weights, evaluation mode; gap = validation − train; "
                   + "gap closed and validation gain: against the plain run"]
        }

        /// Every run's training (dashed) and validation (solid) curves, one colour per run.
        static func plot(_ report: OverfitReport) -> LinePlot {
            var plot = LinePlot(title: "overfitting: \(report.cell) \(report.hiddenSize) on \(report.characters) characters",
                                xLabel: "epoch", yLabel: "cross-entropy (nats/char)", logarithmicY: true, integerX: true)
            for (k, r) in report.runs.enumerated() {
                plot.series.append(.init(name: r.name + " train", points: r.trainLoss.enumerated().map { (Double($0.offset + 1), Double($0.element)) },
                                         colorIndex: k, dash: "6 4"))
                plot.series.append(.init(name: r.name + " validation",
                                         points: r.validationLoss.enumerated().map { (Double($0.offset + 1), Double($0.element)) },
                                         colorIndex: k, dash: ""))
            }
            return plot
        }
    }
}
