// `recurrent train`: a one-step-ahead forecaster on a CSV time series (with --horizon, also
// forecasts N rows ahead by feeding predictions back), or a character-level language model on a
// text file; checkpoints, model description and loss curves in --output, and --resume from them.
import ArgumentParser
import Foundation
import RecurrentDistributed
import RecurrentKit

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train on a CSV time series (--csv) or a text file (--text).",
        discussion: """
            --csv FILE: a header row of column names, then rows of numbers, oldest first. Each sample is \
            --window consecutive rows of every column (scaled by --normalization with the training rows' \
            statistics); the target is the --target column of the next row. The last --validation-fraction of \
            the windows validate. With --difference the model sees the changes from row to row and predicts the \
            next change, which the tool adds to the last value: for series that trend beyond the training range.
            With --horizon N the model reads the --target column alone; after training it forecasts N rows ahead \
            from every validation origin by feeding each prediction back as the next input, prints the RMSE of \
            each horizon step beside persistence (repeating the last value) and plots the last origin's history, \
            truth and forecast in forecast.svg.

            --text FILE: a character-level language model (Embedding → recurrent stack → Linear per step, \
            cross-entropy) over windows of --window characters; the last --validation-fraction of the text validates.

            --output DIR receives model.json (what the model is), checkpoint.safetensors (weights, optimizer \
            state and position; --resume continues from it), history.json and loss.svg.

            Defaults by kind: --csv hidden size 32, 20 epochs, learning rate 0.01, clip norm 1; --text hidden \
            size 128, 10 epochs, learning rate 0.003, clip norm 5; both batch size 32. With --resume, options \
            left out take the saved run's values.
            """)

    @Option(help: ArgumentHelp("CSV file to forecast a column of.", valueName: "file")) var csv: String?
    @Option(help: ArgumentHelp("Text file to train a character-level language model on.", valueName: "file")) var text: String?
    @Option(help: "CSV: the column to forecast (default: the last).") var target: String?
    @Option(help: "Time steps per sample: rows (--csv, default 24) or characters (--text, default 64).") var window: Int?
    @Option(help: "Text: characters between the starts of consecutive windows (default: the window).") var stride: Int?
    @Option(help: "Text: size of the character embedding (default 32).") var embeddingSize: Int?
    @Option(help: "The last fraction of the data held out for validation (default 0.2).") var validationFraction: Double?
    @Option(help: ArgumentHelp("Directory for model.json, checkpoint.safetensors, history.json and loss.svg.", valueName: "dir"))
    var output: String = "recurrent-run"
    @Option(help: "Write the checkpoint every this many steps (0: at the end of every epoch).") var checkpointEvery: Int = 0
    @Flag(help: "Continue the run in --output from its checkpoint, up to --epochs in all.") var resume = false
    @Option(help: "CSV: scale each column by zscore, minmax ([0, 1]), minmax-symmetric ([−1, 1]) or none, with statistics of the training rows (default zscore).")
    var normalization: NormalizationMethod?
    @Flag(help: "CSV: model the first differences (the change from the last value) instead of the values.")
    var difference = false
    @Option(help: "CSV: after training, forecast this many rows ahead by feeding predictions back (the model reads the --target column alone).")
    var horizon: Int?
    @Option(help: ArgumentHelp("Write TensorBoard event files (scalars per step and epoch, weight and gradient histograms) to this directory.",
                               valueName: "dir"))
    var tensorboard: String?
    @Option(help: "With --tensorboard: histograms every this many steps (0: none).") var histogramEvery: Int = 100
    @Option(help: ArgumentHelp("Stop once the validation loss has not improved for this many epochs, and keep the best epoch's weights (Keras's EarlyStopping with restore_best_weights).",
                               valueName: "epochs"))
    var earlyStopping: Int?

    @OptionGroup var common: CommonOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var optimization: OptimizationOptions

    /// What a run did: for callers and tests.
    struct Outcome {
        var directory: URL
        var saved: SavedModel
        /// Epochs trained in all (with the resumed ones) and those of this call.
        var completedEpochs: Int
        var reports: [EpochReport]
        /// Final validation loss (normalised MSE or cross-entropy in nats).
        var validationLoss: Float
        /// CSV: the validation RMSE in the target's units, and the persistence baseline's.
        var rmse: Double?
        var persistenceRMSE: Double?
        /// CSV with --horizon: the multi-step forecast's scores.
        var horizon: HorizonForecast?
    }

    /// Defaults that differ between the kinds.
    private struct Defaults {
        var window: Int, hiddenSize: Int, epochs: Int, learningRate: Float, clipNorm: Float
        static let csv = Defaults(window: 24, hiddenSize: 32, epochs: 20, learningRate: 0.01, clipNorm: 1)
        static let text = Defaults(window: 64, hiddenSize: 128, epochs: 10, learningRate: 0.003, clipNorm: 5)
    }
    /// Where `--learning-rate auto` draws its range test.
    static let rangeTestPlotFileName = "lr-find.svg"
    /// Where `--horizon` plots the history, truth and forecast.
    static let forecastPlotFileName = "forecast.svg"
    static let defaultBatchSize = 32, defaultValidationFraction = 0.2, defaultEmbeddingSize = 32

    mutating func validate() throws {
        if (csv == nil) == (text == nil) {
            throw ValidationError("expected exactly one of --csv FILE (forecast a column of a time series) or --text FILE "
                                  + "(a character-level language model), got \(csv == nil ? "neither" : "both")")
        }
        if text != nil, target != nil { throw ValidationError("--target names a CSV column: it goes with --csv, not --text") }
        if csv != nil, let flag = stride != nil ? "--stride" : embeddingSize != nil ? "--embedding-size" : nil {
            throw ValidationError("\(flag) is for character models: it goes with --text, not --csv")
        }
        if text != nil, let flag = normalization != nil ? "--normalization" : difference ? "--difference" : nil {
            throw ValidationError("\(flag) is for time series: it goes with --csv, not --text")
        }
        if let h = horizon {
            if text != nil { throw ValidationError("--horizon forecasts a time series: it goes with --csv, not --text") }
            if h < 1 { throw ValidationError("expected --horizon ≥ 1 rows, got \(h)") }
            if difference { throw ValidationError("--horizon feeds the model's values back as inputs: it cannot be combined with --difference") }
        }
        if let p = earlyStopping, p < 0 { throw ValidationError("expected --early-stopping ≥ 0 epochs of patience, got \(p)") }
        if histogramEvery < 0 { throw ValidationError("expected --histogram-every ≥ 0 steps, got \(histogramEvery)") }
        if checkpointEvery < 0 { throw ValidationError("expected --checkpoint-every ≥ 0 steps, got \(checkpointEvery)") }
        if let w = window, w < 1 { throw ValidationError("expected --window ≥ 1, got \(w)") }
        if let s = stride, s < 1 { throw ValidationError("expected --stride ≥ 1, got \(s)") }
        if let f = validationFraction, !(f > 0 && f < 1) {
            throw ValidationError("expected --validation-fraction between 0 and 1 (exclusive), got \(f)")
        }
        if let e = embeddingSize, e < 1 { throw ValidationError("expected --embedding-size ≥ 1, got \(e)") }
    }

    func run() throws {
        do {
            try train()
        } catch let error as RecurrentError {
            // Host arrays sized by the options (windows of the data, weights) that do not fit.
            guard case .outOfMemory = error else { throw error }
            throw UserFacingError(description: "\(error); --window, --batch-size, --hidden-size and --layers size memory: pass smaller values")
        }
    }

    /// Trains as the options say; prints progress (rank 0 under mpirun) and returns what happened.
    @discardableResult
    func train() throws -> Outcome {
        let world = try MPIDataParallel.joinIfLaunched()
        defer { try? world?.finish() }
        return try train(world: world, quiet: false)
    }

    /// Trains as the options say over `world` (nil: this process alone); `quiet` prints nothing
    /// (a sweep's trials).
    func train(world: MPIDataParallel?, quiet: Bool) throws -> Outcome {
        let isRoot = world?.isRoot ?? true
        let say: (String) -> Void = { if isRoot && !quiet { Swift.print($0) } }

        // The output directory is made only once the data has passed its checks.
        let previous = try resume ? savedRun() : nil
        if let previous, previous.kind != (csv != nil ? .csv : .text) {
            throw UserFacingError(description: "--resume: \(descriptionPath) describes a \(previous.kind.rawValue) model "
                                  + "(\(previous.summary)); resume it with --\(previous.kind.rawValue), or train afresh into another --output")
        }
        if let csv {
            return try trainCSV(csv, previous: previous, world: world, quiet: quiet, say: say)
        }
        return try trainText(text!, previous: previous, world: world, quiet: quiet, say: say)
    }

    /// The saved model of a run to resume; the errors say what is missing.
    private func savedRun() throws -> SavedModel {
        let description = URL(fileURLWithPath: descriptionPath)
        guard FileManager.default.fileExists(atPath: description.path) else {
            throw RecurrentError.file(path: description.path, reason: "nothing to resume: not found (train without --resume first, "
                                      + "or point --output at the directory of an earlier run)")
        }
        let directory = try RunDirectory(output)
        let saved = try SavedModel.load(from: directory), checkpoint = directory.file(SavedModel.checkpointFileName)
        guard FileManager.default.fileExists(atPath: checkpoint.path) else {
            throw RecurrentError.file(path: checkpoint.path, reason: "nothing to resume: no checkpoint (the run stopped before "
                                      + "its first one); train again without --resume")
        }
        return saved
    }

    /// `model.json` in `--output`.
    private var descriptionPath: String { URL(fileURLWithPath: output).appendingPathComponent(SavedModel.fileName).path }

    // MARK: - CSV

    private func trainCSV(_ path: String, previous: SavedModel?, world: MPIDataParallel?, quiet: Bool,
                          say: @escaping (String) -> Void) throws -> Outcome {
        let defaults = Defaults.csv
        let levels = try CSVSeries.read(path: path)
        let differencing = difference || (previous?.differenced ?? false)
        var series = differencing ? try levels.differenced() : levels
        func checkResumedColumns() throws {
            if let previous, let columns = previous.columns, columns != series.columns {
                throw UserFacingError(description: "--resume: \(path) has the columns \(series.columnList), but the saved model was trained on "
                                      + columns.map { "\"\($0)\"" }.joined(separator: ", "))
            }
        }
        if horizon == nil { try checkResumedColumns() }
        var targetIndex = try series.columnIndex(named: target ?? previous?.target)
        if horizon != nil {
            if series.columns.count > 1 {
                // Fed-back predictions are the next inputs: the model reads the target alone.
                say("--horizon: the model reads only \"\(series.columns[targetIndex])\" (its predictions become its next inputs)")
                series = CSVSeries(source: series.source, columns: [series.columns[targetIndex]], rows: series.rows.map { [$0[targetIndex]] })
                targetIndex = 0
            }
            try checkResumedColumns()
        }
        let windowLength = window ?? previous?.window ?? defaults.window
        let fraction = validationFraction ?? previous?.training.validationFraction ?? Self.defaultValidationFraction
        let windows = try CSVWindows(series: series, window: windowLength, targetColumn: targetIndex, validationFraction: fraction)
        if let previous, let method = self.normalization, let saved = previous.normalization?.method, method != saved {
            throw UserFacingError(description: "--resume: --normalization \(method.rawValue) does not match the saved model's "
                                  + "\(saved.rawValue); pass --normalization \(saved.rawValue), or train afresh into another --output")
        }
        let normalization = previous?.normalization
            ?? windows.fitNormalization(series, method: self.normalization ?? previous?.normalization?.method ?? .zscore)
        let (train, validation) = try windows.datasets(series, normalization: normalization)
        let saved = try describe(.csv, data: path, previous: previous, defaults: defaults, window: windowLength, fraction: fraction) {
            $0.inputSize = series.columns.count
            $0.outputSize = 1
            $0.columns = series.columns
            $0.target = series.columns[targetIndex]
            $0.normalization = normalization
            $0.differenced = differencing ? true : nil
        }
        let targetName = series.columns[targetIndex]
        say("csv: \(path), \(levels.rows.count) rows × \(series.columns.count) columns (\(series.columnList)); "
            + "forecasting \"\(targetName)\" one row ahead from windows of \(windowLength) rows"
            + (differencing ? " of first differences (the model predicts the change from the last value)" : ""))
        let scaling: String
        switch normalization.method {
        case .zscore: scaling = "z-scored with the mean and std"
        case .minmax: scaling = "scaled to [0, 1] with the min and max"
        case .symmetric: scaling = "scaled to [−1, 1] with the min and max"
        case .none: scaling = "left unscaled (no statistics taken)"
        }
        say("\(train.count) training and \(validation.count) validation windows; every column \(scaling) "
            + "of \(differencing ? "differences" : "rows") 1–\(windows.trainingRows) (the training windows')")
        let result = try fit(saved, train: train, validation: validation, loss: MSELoss(), defaults: defaults,
                             previous: previous, world: world, quiet: quiet, say: say, extra: { _ in "" })
        // Predicting a change Δ̂ and adding it to the last value errs by Δ̂ − Δ: the RMSE of the
        // changes is the RMSE of the values.
        let rmse = Double(result.validationLoss).squareRoot() * normalization.scale[targetIndex]
        let persistence = differencing ? windows.noChangeRMSE(series) : windows.persistenceRMSE(series)
        say(String(format: "validation MSE %.5f (normalised); RMSE %.5g in the units of \"%@\" (persistence baseline: %.5g, %@)",
                   result.validationLoss, rmse, targetName, persistence,
                   rmse < persistence ? String(format: "%.2f× better", persistence / rmse) : String(format: "%.2f× worse", rmse / persistence)))
        if rmse >= persistence && !differencing {
            say("the forecast loses to repeating the last value: if the series trends (validation values beyond the training "
                + "range), try --difference, which models the change from the last value")
        }
        var outcome = result
        outcome.rmse = rmse
        outcome.persistenceRMSE = persistence
        if let horizon {
            let backend = try common.backend(), directory = try RunDirectory(output)
            let model = try result.saved.trainedModel(in: directory, on: backend)
            guard let network = model["rnn"] as? RecurrentNetwork, let head = model["fc"] as? Linear else {
                throw RecurrentError.invalidState("the CSV model has no recurrent stack \"rnn\" and head \"fc\" to forecast with")
            }
            let forecast = try HorizonForecast(network: network, head: head, series: series, windows: windows, scaling: normalization,
                                               horizon: horizon, on: backend)
            say("forecast \(horizon) rows ahead from each of \(forecast.origins) validation origins, predictions fed back:")
            for line in forecast.tableLines(target: targetName) { say(line) }
            if world?.isRoot ?? true {
                try forecast.plot(target: targetName).write(to: directory.file(Self.forecastPlotFileName))
                say("wrote \(directory.file(Self.forecastPlotFileName).path)")
            }
            outcome.horizon = forecast
        }
        report(say: say)
        return outcome
    }

    // MARK: - Text

    private func trainText(_ path: String, previous: SavedModel?, world: MPIDataParallel?, quiet: Bool,
                           say: @escaping (String) -> Void) throws -> Outcome {
        let defaults = Defaults.text
        let content = try TextCorpus.read(path: path)
        let corpus = try previous.map { try TextCorpus(saved: $0.vocabulary ?? [], source: descriptionPath) }
            ?? TextCorpus(text: content)
        let encoded = try previous == nil ? corpus.encode(content, what: path)
            : corpus.encode(content, what: "--resume: \(path)", vocabularyName: "the vocabulary in \(descriptionPath)")
        let windowLength = window ?? previous?.window ?? defaults.window
        let step = stride ?? previous?.stride ?? windowLength
        let fraction = validationFraction ?? previous?.training.validationFraction ?? Self.defaultValidationFraction
        let windows = try TextWindows(count: encoded.count, window: windowLength, stride: step, validationFraction: fraction, source: path)
        let (train, validation) = try windows.datasets(encoded)
        let saved = try describe(.text, data: path, previous: previous, defaults: defaults, window: windowLength, fraction: fraction) {
            $0.inputSize = embeddingSize ?? previous?.embeddingSize ?? Self.defaultEmbeddingSize
            $0.embeddingSize = $0.inputSize
            $0.outputSize = corpus.count
            $0.vocabulary = corpus.saved
            $0.stride = step
        }
        say("text: \(path), \(encoded.count) characters, vocabulary of \(corpus.count); windows of \(windowLength) "
            + "every \(step) characters: \(train.count) from the first \(windows.trainCharacters) characters train, "
            + "\(validation.count) from the last \(windows.validationCharacters) validate")
        let result = try fit(saved, train: train, validation: validation, loss: CrossEntropyLoss(), defaults: defaults,
                             previous: previous, world: world, quiet: quiet, say: say, extra: { r in
            String(format: "  perplexity %.2f", exp(Double(r.trainLoss))) + (r.validationLoss.map { String(format: " / %.2f", exp(Double($0))) } ?? "")
        })
        say(String(format: "validation cross-entropy %.4f nats/character, perplexity %.2f (uniform guessing: %d)",
                   result.validationLoss, exp(Double(result.validationLoss)), corpus.count))
        report(say: say)
        return result
    }

    // MARK: - Shared

    /// The model these options describe (`previous` fills in what they leave out); on resume,
    /// refuses options that contradict the saved model.
    private func describe(_ kind: SavedModel.Kind, data: String, previous: SavedModel?, defaults: Defaults, window: Int, fraction: Double,
                          _ fill: (inout SavedModel) -> Void) throws -> SavedModel {
        let training = SavedModel.Training(
            seed: common.seed, validationFraction: fraction, optimizer: optimization.optimizer.lowercased(),
            learningRate: optimization.fixedLearningRate ?? previous?.training.learningRate ?? defaults.learningRate,
            weightDecay: optimization.weightDecay, batchSize: optimization.batchSize ?? previous?.training.batchSize ?? Self.defaultBatchSize,
            clipNorm: max(optimization.clipNorm ?? previous?.training.clipNorm ?? defaults.clipNorm, 0),
            clipValue: optimization.clipValue ?? previous?.training.clipValue,
            earlyStopping: earlyStopping ?? previous?.training.earlyStopping)
        var saved = SavedModel(kind: kind, data: data, cell: modelOptions.cell.lowercased(), layers: modelOptions.layers,
                               hiddenSize: modelOptions.hiddenSize ?? previous?.hiddenSize ?? defaults.hiddenSize,
                               dropout: modelOptions.dropout, initialization: previous?.initialization ?? modelOptions.initialization.lowercased(),
                               window: window, inputSize: 0, outputSize: 0, training: training)
        fill(&saved)
        guard let previous else { return saved }
        // Anything that changes the model or the data it sees must match; the learning rate and
        // clipping may change.
        var differences: [String] = []
        func compare<T: Equatable>(_ flag: String, _ mine: T, _ theirs: T) {
            if mine != theirs { differences.append("\(flag) \(mine) (saved: \(theirs))") }
        }
        compare("--cell", saved.cell, previous.cell)
        compare("--layers", saved.layers, previous.layers)
        compare("--hidden-size", saved.hiddenSize, previous.hiddenSize)
        compare("--dropout", saved.dropout, previous.dropout)
        compare("--window", saved.window, previous.window)
        compare("--embedding-size", saved.embeddingSize ?? 0, previous.embeddingSize ?? 0)
        compare("--stride", saved.stride ?? 0, previous.stride ?? 0)
        compare("--target", saved.target ?? "", previous.target ?? "")
        compare("--difference", saved.differenced ?? false, previous.differenced ?? false)
        compare("--validation-fraction", saved.training.validationFraction, previous.training.validationFraction)
        compare("--seed", saved.training.seed, previous.training.seed)
        compare("--optimizer", saved.training.optimizer, previous.training.optimizer)
        compare("--weight-decay", saved.training.weightDecay, previous.training.weightDecay)
        compare("--batch-size", saved.training.batchSize, previous.training.batchSize)
        guard differences.isEmpty else {
            throw UserFacingError(description: "--resume: the options do not match the model saved in \(output)/\(SavedModel.fileName): "
                                  + differences.joined(separator: ", ") + "; pass the saved values, or train afresh into another --output")
        }
        return saved
    }

    /// Builds the model, trains it to `--epochs` (after restoring the checkpoint when resuming),
    /// writing the checkpoint, history and loss plot as it goes.
    private func fit(_ description: SavedModel, train: SequenceDataset, validation: SequenceDataset, loss: any Loss, defaults: Defaults,
                     previous: SavedModel?, world: MPIDataParallel?, quiet: Bool, say: @escaping (String) -> Void,
                     extra: @escaping (EpochReport) -> String) throws -> Outcome {
        let isRoot = world?.isRoot ?? true, showsProgress = isRoot && !quiet
        let directory = try RunDirectory(output)
        let backend = try common.backend()
        try MemoryCheck.requireTraining(
            cell: description.cell, inputSize: description.inputSize, hiddenSize: description.hiddenSize, layers: description.layers,
            batchSize: description.training.batchSize, steps: description.window, outputSize: description.outputSize,
            extraParameters: Double(description.embeddingSize ?? 0) * Double(description.outputSize),
            options: [("--hidden-size", description.hiddenSize), ("--layers", description.layers), ("--batch-size", description.training.batchSize),
                      ("--window", description.window)] + (description.embeddingSize.map { [("--embedding-size", $0)] } ?? []),
            on: backend)
        var saved = description
        if optimization.wantsAutomaticRate && previous != nil {
            say("--learning-rate auto: resuming keeps the saved learning rate \(saved.training.learningRate)")
        } else if optimization.wantsAutomaticRate {
            // The range test trains a throwaway copy of the model (same seed): the run itself starts fresh.
            let probe = try saved.makeModel(on: backend, rng: RandomSource(seed: common.seed))
            let probeTrainer = Trainer(model: probe, loss: loss,
                                       optimizer: try optimization.makeOptimizer(probe.parameters, defaultLearningRate: 1e-6), on: backend)
            optimization.configureClipping(probeTrainer, defaultClipNorm: saved.training.clipNorm)
            let result = try runRangeTest(LearningRateFinder(), trainer: probeTrainer, data: train, batchSize: saved.training.batchSize,
                                          seed: common.seed, print: say)
            saved.training.learningRate = result.suggestedRate
            if isRoot {
                try LinePlot.rangeTest(result, title: "learning-rate range test").write(to: directory.file(Self.rangeTestPlotFileName))
            }
        }
        let model = try saved.makeModel(on: backend, rng: RandomSource(seed: common.seed))
        let optimizer = try optimization.makeOptimizer(model.parameters, defaultLearningRate: saved.training.learningRate)
        let trainer = Trainer(model: model, loss: loss, optimizer: optimizer, on: backend)
        optimization.configureClipping(trainer, defaultClipNorm: saved.training.clipNorm)
        trainer.clipValue = saved.training.clipValue
        let checkpoint = directory.file(SavedModel.checkpointFileName), historyURL = directory.file(SavedModel.historyFileName)
        let epochs = optimization.epochs ?? defaults.epochs

        var history: [EpochRecord] = []
        if previous != nil {
            try trainer.loadCheckpoint(from: checkpoint)
            if let rate = optimization.fixedLearningRate { optimizer.learningRate = rate }
            history = try EpochRecord.readHistory(historyURL).filter { $0.epoch <= trainer.completedEpochs }
            say("resuming \(output): \(trainer.completedEpochs) epoch\(trainer.completedEpochs == 1 ? "" : "s") done"
                + (trainer.batchesDoneInEpoch > 0 ? " and \(trainer.batchesDoneInEpoch) batches of the next" : "")
                + ", \(trainer.steps) steps; training to epoch \(epochs)")
        } else if isRoot {
            // A fresh run: an older run's checkpoint and history must not be mistaken for this one's.
            if FileManager.default.fileExists(atPath: directory.file(SavedModel.fileName).path) {
                say("replacing the run in \(output) (--resume would have continued it)")
            }
            for url in [checkpoint, historyURL] where FileManager.default.fileExists(atPath: url.path) {
                try FileManager.default.removeItem(at: url)
            }
        }
        if isRoot { try directory.writeJSON(saved, to: SavedModel.fileName) }
        if let world {
            try world.broadcastParameters(model)
            trainer.gradientReducer = world
            say("data-parallel over \(world.size) MPI ranks: each trains on 1/\(world.size) of every batch of \(saved.training.batchSize)")
        }
        trainer.checkpointURL = checkpoint
        trainer.checkpointEverySteps = checkpointEvery
        var stopping: EarlyStopping?
        if let patience = saved.training.earlyStopping {
            stopping = try EarlyStopping(patience: patience, restoreBestWeights: true)
            trainer.callbacks.append(stopping!)
        }
        if let tensorboard, isRoot {
            let logger = try TensorBoardLogger(directory: URL(fileURLWithPath: tensorboard), histogramEverySteps: histogramEvery)
            trainer.callbacks.append(logger)
            say("TensorBoard: \(logger.fileURL.path) (tensorboard --logdir \(tensorboard))")
        }
        say("model: \(saved.summary); \(model.parameterCount) parameters on \(backend.name) (\(backend.deviceDescription)); "
            + "\(saved.training.optimizer) lr \(optimizer.learningRate), batch \(saved.training.batchSize)")

        let title = saved.kind == .csv ? "\(saved.cell) forecasting \(saved.target ?? "")" : "\(saved.cell) character model"
        let progress = ProgressReporter(totalEpochs: epochs)
        var writeError: Error?
        let reports: [EpochReport]
        if trainer.completedEpochs >= epochs {
            say("already trained for \(trainer.completedEpochs) epochs: nothing to do (pass a larger --epochs to train on)")
            reports = []
        } else {
            reports = try trainer.fit(train, validation: validation, epochs: epochs, batchSize: saved.training.batchSize,
                                      shuffleSeed: common.seed, onBatch: showsProgress ? progress.batch : nil, onEpoch: { r in
                guard isRoot else { return }
                if showsProgress { progress.epoch(r, extra: extra(r)) }
                history.append(EpochRecord(r))
                do {
                    try directory.writeJSON(history, to: SavedModel.historyFileName)
                    try EpochRecord.lossPlot(history, title: title).write(to: directory.file(SavedModel.lossPlotFileName))
                } catch {
                    writeError = writeError ?? error
                }
            })
        }
        if let writeError { throw writeError }
        if isRoot { try EpochRecord.lossPlot(history, title: title).write(to: directory.file(SavedModel.lossPlotFileName)) }
        if let best = history.filter({ $0.validationLoss != nil }).min(by: { $0.validationLoss! < $1.validationLoss! }),
           let v = best.validationLoss {
            say(String(format: "best epoch %d of %d: validation loss %.5f (train %.5f, gap %+.5f)%@", best.epoch, history.count, v,
                       best.trainLoss, v - best.trainLoss, best.epoch < history.count ? "; later epochs did not improve on it" : ""))
        }
        var validationLoss = try reports.last?.validationLoss ?? trainer.evaluate(validation, batchSize: saved.training.batchSize)
        if let stopping, stopping.stoppedEpoch > 0 {
            // The weights are the best epoch's again.
            validationLoss = stopping.best
            say(String(format: "early stopping: no improvement for %d epochs after epoch %d; the weights are epoch %d's again",
                       stopping.patience, stopping.bestEpoch, stopping.bestEpoch))
        }
        return Outcome(directory: directory.url, saved: saved, completedEpochs: trainer.completedEpochs, reports: reports,
                       validationLoss: validationLoss, rmse: nil)
    }

    /// Prints where the run's files are.
    private func report(say: (String) -> Void) {
        let directory = URL(fileURLWithPath: output)
        let names = [SavedModel.fileName, SavedModel.checkpointFileName, SavedModel.historyFileName, SavedModel.lossPlotFileName]
        say("wrote " + names.map { directory.appendingPathComponent($0).path }.joined(separator: "\n      "))
    }
}
