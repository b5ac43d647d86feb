// `recurrent demo adding|copy|sine`: classic long-range-dependency tasks generated in code, and
// sine forecasting (`demo seq2seq` is in Seq2SeqDemo.swift, `demo overfit` in OverfitDemo.swift). `--compare` trains RNN, LSTM and GRU on the same data and tabulates them.
import ArgumentParser
import Foundation
import RecurrentDistributed
import RecurrentKit

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Demos that train small recurrent models on generated data.",
        subcommands: [Adding.self, Copy.self, Sine.self, Seq2Seq.self, Overfit.self])
}

/// The three demo tasks: data, head, loss and score.
enum DemoTask: String {
    case adding, copy, sine

    /// Train and validation sets of `samples` sequences (80% / 20%); sizes beyond the memory there
    /// is are a one-line error naming --samples and --length (the options of every command that
    /// generates them), before anything is allocated.
    func data(samples: Int, length: Int, seed: UInt64) throws -> (train: SequenceDataset, validation: SequenceDataset) {
        try MemoryCheck.require([("the generated sequences", 8 * Double(samples) * Double(length) * Double(inputSize + 1))],
                                options: [("--samples", samples), ("--length", length)], available: MemoryCheck.availableBytes(on: nil))
        let all: SequenceDataset
        switch self {
        case .adding: all = try SyntheticData.addingProblem(count: samples, length: length, seed: seed)
        case .copy: all = try SyntheticData.copyMemory(count: samples, delay: length, seed: seed)
        case .sine: all = try SyntheticData.sineWaves(count: samples, length: length, noise: 0.05, seed: seed)
        }
        return try all.split(validationFraction: 0.2)
    }

    /// The loss of always giving the best constant answer: what a model without memory scores.
    func baseline(_ validation: SequenceDataset) -> Float {
        switch self {
        case .adding, .sine:
            let y = validation.targets, mean = y.reduce(0, +) / Float(y.count)
            return y.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(y.count)
        case .copy:
            let t = Float(validation.sequenceLength)
            return Float(SyntheticData.copySymbolCount) * log(8) / t
        }
    }

    /// The recurrent stack followed by the task's head.
    func model(_ recurrent: RecurrentNetwork, hiddenSize: Int, on backend: any Backend, rng: RandomSource) throws -> Sequential {
        switch self {
        case .adding, .sine:
            return try Sequential([("rnn", recurrent), ("last", LastTimeStep()), ("fc", Linear(hiddenSize, 1, on: backend, rng: rng))])
        case .copy:
            return try Sequential([("rnn", recurrent), ("fc", Linear(hiddenSize, SyntheticData.copyOutputClasses, on: backend, rng: rng))])
        }
    }

    var loss: any Loss { self == .copy ? CrossEntropyLoss() : MSELoss() }
    var inputSize: Int {
        switch self {
        case .adding: return 2
        case .copy: return SyntheticData.copyInputCategories
        case .sine: return 1
        }
    }
    var lossName: String { self == .copy ? "cross-entropy" : "MSE" }

    /// What `accuracy` counts, for the table.
    var accuracyMeaning: String {
        switch self {
        case .adding: return "sums within 0.04"
        case .copy: return "recalled symbols"
        case .sine: return "next values within 0.05"
        }
    }

    /// The fraction of validation answers that count as right.
    func accuracy(_ model: Sequential, _ data: SequenceDataset, on backend: any Backend) throws -> Float {
        model.eval()
        defer { model.train() }
        var right = 0, total = 0
        for start in stride(from: 0, to: data.count, by: 256) {
            let b = data.batch(Array(start..<min(start + 256, data.count)))
            let output = try model.forward(SequenceBatch(Tensor(shape: b.inputShape, values: b.input, on: backend), lengths: b.lengths)).data.toArray()
            switch self {
            case .adding, .sine:
                let tolerance: Float = self == .adding ? 0.04 : 0.05
                right += zip(output, b.target).filter { abs($0 - $1) < tolerance }.count
                total += b.target.count
            case .copy:
                // output (T, B, C), targets (T, B): the last ten steps carry the symbols.
                let (t, batch, c) = (b.inputShape[0], b.inputShape[1], SyntheticData.copyOutputClasses)
                for step in (t - SyntheticData.copySymbolCount)..<t {
                    for column in 0..<batch {
                        let row = output[((step * batch + column) * c)..<((step * batch + column + 1) * c)]
                        let guess = row.indices.max { row[$0] < row[$1] }! - row.startIndex
                        if Float(guess) == b.target[step * batch + column] { right += 1 }
                        total += 1
                    }
                }
            }
        }
        return Float(right) / Float(max(total, 1))
    }
}

/// The outcome of one demo training run.
struct DemoResult {
    var cell: String
    var reports: [EpochReport]
    var accuracy: Float
    var seconds: Double
    /// The validation loss of the final weights: the last epoch's, or the best one's when early
    /// stopping restored it.
    var validationLoss: Float
}

/// Options every demo shares, and the training run they describe.
struct DemoOptions: ParsableArguments {
    @OptionGroup var common: CommonOptions
    @OptionGroup var model: ModelOptions
    @OptionGroup var optimization: OptimizationOptions
    @Option(help: "Sequences generated (80% train, 20% validation).") var samples: Int?
    @Option(help: "Directory for the loss-curve SVG (default: runs/demo-<task>).") var output: String?
    @Option(help: ArgumentHelp("Stop once the validation loss has not improved for this many epochs, and keep the best epoch's weights (Keras's EarlyStopping with restore_best_weights).",
                               valueName: "epochs"))
    var earlyStopping: Int?

    /// The backend these options name and the demo's model for `cell` on it, from the seed.
    func makeNetwork(_ task: DemoTask, cell: String, defaults: DemoDefaults) throws -> (any Backend, Sequential) {
        let backend = try common.backend()
        let rng = RandomSource(seed: common.seed)
        let hidden = model.hiddenSize ?? defaults.hiddenSize
        let recurrent = try makeRecurrent(cell: cell, inputSize: task.inputSize, hiddenSize: hidden, layers: model.layers,
                                          dropout: model.dropout, initialization: model.initialization, on: backend, rng: rng)
        let network = try task.model(recurrent, hiddenSize: hidden, on: backend, rng: rng)
        return (backend, network)
    }

    /// Trains `cell` on `task` and reports each epoch through `print` (`quiet`: no epoch lines, a sweep's trials).
    func run(_ task: DemoTask, cell: String, data: (train: SequenceDataset, validation: SequenceDataset),
             defaults: DemoDefaults, world: MPIDataParallel?, quiet: Bool = false, print: @escaping (String) -> Void) throws -> DemoResult {
        if let p = earlyStopping, p < 0 { throw ValidationError("expected --early-stopping ≥ 0 epochs of patience, got \(p)") }
        let (backend, network) = try makeNetwork(task, cell: cell, defaults: defaults)
        var defaultRate = defaults.learningRate
        if optimization.wantsAutomaticRate {
            print("--learning-rate auto: \(cell) on \(task.rawValue)")
            defaultRate = try rangeTest(task, cell: cell, data: data.train, defaults: defaults, finder: LearningRateFinder(), print: print).suggestedRate
        }
        let optimizer = try optimization.makeOptimizer(network.parameters, defaultLearningRate: defaultRate)
        let trainer = Trainer(model: network, loss: task.loss, optimizer: optimizer, on: backend)
        optimization.configureClipping(trainer, defaultClipNorm: 1)
        let epochs = optimization.epochs ?? defaults.epochs
        trainer.scheduler = try CosineAnnealingLR(optimizer, maxEpochs: epochs, minimumLearningRate: optimizer.learningRate / 20)
        let stopping = try earlyStopping.map { try EarlyStopping(patience: $0, restoreBestWeights: true) }
        if let stopping { trainer.callbacks.append(stopping) }
        if let world {
            try world.broadcastParameters(network)
            trainer.gradientReducer = world
        }
        print("\(task.rawValue): \(cell) \(model.layers)×\(model.hiddenSize ?? defaults.hiddenSize), \(network.parameterCount) parameters, on \(backend.name) "
              + "(\(backend.deviceDescription)); \(data.train.count) training and \(data.validation.count) validation "
              + "sequences of \(data.train.sequenceLength) steps")
        let progress = ProgressReporter(totalEpochs: epochs, live: !quiet && world == nil && isatty(STDOUT_FILENO) == 1)
        let started = Date()
        let reports = try trainer.fit(data.train, validation: data.validation, epochs: epochs,
                                      batchSize: optimization.batchSize ?? defaults.batchSize, shuffleSeed: common.seed,
                                      onBatch: progress.live ? progress.batch : nil,
                                      onEpoch: { r in if !quiet && world?.isRoot ?? true { progress.epoch(r) } })
        var validationLoss = reports.last?.validationLoss ?? .nan
        if let stopping, stopping.stoppedEpoch > 0 {
            validationLoss = stopping.best
            print(String(format: "early stopping: no improvement for %d epochs after epoch %d; the weights are epoch %d's again",
                         stopping.patience, stopping.bestEpoch, stopping.bestEpoch))
        }
        let accuracy = try task.accuracy(network, data.validation, on: backend)
        return DemoResult(cell: cell, reports: reports, accuracy: accuracy, seconds: Date().timeIntervalSince(started),
                          validationLoss: validationLoss)
    }

    /// Writes the loss curves of `results` (validation loss per cell, or train and validation of one).
    func writePlot(_ task: DemoTask, _ results: [DemoResult], baseline: Float) throws -> URL {
        let directory = try RunDirectory(output ?? "runs/demo-\(task.rawValue)")
        var plot: LinePlot
        if results.count == 1, let only = results.first {
            plot = LinePlot.lossCurves(only.reports, title: "\(task.rawValue): \(only.cell) \(task.lossName)")
        } else {
            plot = LinePlot(title: "\(task.rawValue): validation \(task.lossName) by cell", xLabel: "epoch",
                            yLabel: task.lossName, logarithmicY: true, integerX: true)
            for r in results {
                plot.series.append(.init(name: r.cell, points: r.reports.compactMap { e in
                    e.validationLoss.map { (Double(e.epoch), Double($0)) } }))
            }
        }
        let epochs = Double(results.map(\.reports.count).max() ?? 1)
        plot.series.append(.init(name: "baseline", points: [(1, Double(baseline)), (max(epochs, 2), Double(baseline))]))
        let url = directory.file("loss.svg")
        try plot.write(to: url)
        return url
    }
}

/// Per-task defaults of the demo options.
struct DemoDefaults {
    var hiddenSize: Int, learningRate: Float, epochs: Int, batchSize: Int, samples: Int
}

/// Runs a demo for one cell or, with `compare`, for RNN, LSTM and GRU, and prints the table.
/// With `failUnlessLearned`, a single run that ends above `solvedBelow` exits with an error.
func runDemo(_ task: DemoTask, options: DemoOptions, length: Int, compare: Bool, defaults: DemoDefaults,
             solvedBelow: Float, failUnlessLearned: Bool = false) throws {
    let world = try MPIDataParallel.joinIfLaunched()
    defer { try? world?.finish() }
    let print: (String) -> Void = { line in
        guard world?.isRoot ?? true else { return }
        Swift.print(line)
        fflush(nil)
    }
    let samples = options.samples ?? defaults.samples, hidden = options.model.hiddenSize ?? defaults.hiddenSize
    let batch = options.optimization.batchSize ?? defaults.batchSize
    try MemoryCheck.requireTraining(
        cell: "lstm", inputSize: task.inputSize, hiddenSize: hidden, layers: options.model.layers, batchSize: batch, steps: length,
        outputSize: task.inputSize, extraParameters: 0,
        options: [("--length", length), ("--samples", samples), ("--hidden-size", hidden), ("--layers", options.model.layers),
                  ("--batch-size", batch)], on: nil)
    let data = try task.data(samples: samples, length: length, seed: options.common.seed)
    let baseline = task.baseline(data.validation)
    print(String(format: "%@ (length %d): a model without memory scores validation %@ %.4f", task.rawValue, length,
                 task.lossName, baseline))
    let cells = compare ? ["rnn", "lstm", "gru"] : [options.model.cell]
    var results: [DemoResult] = []
    for cell in cells {
        results.append(try options.run(task, cell: cell, data: data, defaults: defaults, world: world, print: print))
    }
    print("")
    let header = ["cell", "train \(task.lossName)", "validation \(task.lossName)", "accuracy", "seconds", "verdict"]
    let rows = results.map { r in
        [r.cell, String(format: "%.5f", r.reports.last?.trainLoss ?? .nan), String(format: "%.5f", r.validationLoss),
         String(format: "%.1f%%", 100 * r.accuracy), String(format: "%.1f", r.seconds),
         r.validationLoss < solvedBelow ? String(format: "learned (below %.3g)", solvedBelow)
                                        : String(format: "did not learn (baseline %.4f)", baseline)]
    }
    for line in table(header: header, rows: rows) { print(line) }
    print("accuracy: \(task.accuracyMeaning), on the validation set")
    if world?.isRoot ?? true {
        let url = try options.writePlot(task, results, baseline: baseline)
        print("wrote \(url.path)")
    }
    if failUnlessLearned, !compare, let only = results.first, !(only.validationLoss < solvedBelow) {
        throw UserFacingError(description: String(format: "did not learn: validation %@ %.5f ≥ %.3g", task.lossName,
                                                  only.validationLoss, solvedBelow))
    }
}

extension Demo {
    struct Adding: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The adding problem: sum the two marked values of a long sequence.",
            discussion: "Each step carries a value in [0, 1) and a marker; the target is the sum of the two marked values, "
                + "one in each half. Always answering 1 scores MSE 0.167. Try --compare --length 100: LSTM and GRU learn it, "
                + "the vanilla RNN's gradients vanish over the distance.")
        @OptionGroup var options: DemoOptions
        @Option(help: "Time steps per sequence.") var length: Int = 100
        @Flag(help: "Train RNN, LSTM and GRU on the same data and print a table.") var compare = false

        func run() throws {
            try runDemo(.adding, options: options, length: length, compare: compare, defaults: Self.defaults, solvedBelow: 0.05)
        }

        static let defaults = DemoDefaults(hiddenSize: 64, learningRate: 0.005, epochs: 20, batchSize: 64, samples: 10_000)
    }

    struct Copy: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The copy-memory task: repeat ten symbols after a long blank delay.",
            discussion: "Ten symbols from 1…8, a delay of blanks, a delimiter, then the model must output the ten symbols. "
                + "Guessing scores cross-entropy 10·ln 8 / T.")
        @OptionGroup var options: DemoOptions
        @Option(help: "The delay, in time steps, between the symbols and their recall.") var length: Int = 20
        @Flag(help: "Train RNN, LSTM and GRU on the same data and print a table.") var compare = false

        func run() throws {
            let t = Float(length + 2 * SyntheticData.copySymbolCount)
            try runDemo(.copy, options: options, length: length, compare: compare, defaults: Self.defaults,
                        solvedBelow: 0.25 * Float(SyntheticData.copySymbolCount) * log(8) / t)
        }

        static let defaults = DemoDefaults(hiddenSize: 64, learningRate: 0.005, epochs: 15, batchSize: 64, samples: 5000)
    }

    struct Sine: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Forecast the next value of noisy sine waves of unknown frequency.")
        @OptionGroup var options: DemoOptions
        @Option(help: "Time steps per sequence.") var length: Int = 40
        @Flag(help: "Train RNN, LSTM and GRU on the same data and print a table.") var compare = false
        @Option(help: "Validation MSE the demo must reach to count as learned (the exit status says).") var threshold: Float = 0.01

        func run() throws {
            try runDemo(.sine, options: options, length: length, compare: compare, defaults: Self.defaults, solvedBelow: threshold,
                        failUnlessLearned: true)
        }

        static let defaults = DemoDefaults(hiddenSize: 32, learningRate: 0.01, epochs: 15, batchSize: 32, samples: 2000)
    }
}

/// Lines of a plain-text table: columns padded to their widest cell, numbers right-aligned.
func table(header: [String], rows: [[String]]) -> [String] {
    let widths = header.indices.map { c in ([header] + rows).map { $0[c].count }.max() ?? 0 }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { c, text in
            let pad = String(repeating: " ", count: widths[c] - text.count)
            return Double(text.trimmingCharacters(in: CharacterSet(charactersIn: "%"))) != nil ? pad + text : text + pad
        }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
    }
    return [line(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")] + rows.map(line)
}
