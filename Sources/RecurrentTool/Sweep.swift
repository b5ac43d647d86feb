// `recurrent sweep adding|copy|sine` or `sweep --csv FILE` / `--text FILE`: hyperparameter
// search. A grid, or a seeded random draw from it, over learning rate, batch size, layers, hidden
// size, dropout and cell; each trial a short training run with early stopping (on a CSV or text
// file, a `recurrent train --early-stopping` run). Results sorted by validation loss into a table
// and sweep.json (finished trials are not rerun), the best as the command that reproduces it
// (`recurrent demo … --early-stopping` or `recurrent train … --early-stopping`), and an
// SVG with a panel of validation loss against each hyperparameter. Under mpirun every rank runs
// its share of the trials and all of them get the whole table.
import ArgumentParser
import Foundation
import RecurrentDistributed
import RecurrentKit

struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Hyperparameter search (grid or seeded random) on a demo task or a CSV or text file, with early stopping; resumable, MPI-parallel.",
        discussion: """
            Each list flag (comma-separated) or the same keys in --config FILE.json ({"learning_rate": [0.001, 0.01], \
            "cell": ["lstm", "gru"], ...}) gives the values of one hyperparameter; the grid is their product, and \
            --trials N draws N of its points at random (seeded by --seed) instead. Every trial trains up to --epochs \
            with EarlyStopping(patience: --patience, restoring the best weights) and scores its best validation loss; on a \
            demo task a trial is `recurrent demo TASK … --early-stopping PATIENCE` (the demo's cosine schedule included). \
            Results go to DIR/sweep.json, sorted; a trial already there is not rerun. Under mpirun, trial i runs on \
            rank i mod size and every rank ends with the same table.

            With --csv FILE or --text FILE instead of a task, every trial is `recurrent train --csv FILE … \
            --early-stopping PATIENCE` (its run in DIR/trials/), further train options after `--` \
            (recurrent sweep --csv data.csv --cell lstm,gru -- --window 12 --difference), and the best is printed as \
            the `recurrent train` command that reproduces it.
            """)

    @Argument(help: "The demo task: adding, copy or sine (or give --csv or --text).") var task: String?
    @Option(help: ArgumentHelp("Sweep `recurrent train --csv FILE` instead of a demo task.", valueName: "file")) var csv: String?
    @Option(help: ArgumentHelp("Sweep `recurrent train --text FILE` instead of a demo task.", valueName: "file")) var text: String?
    @Argument(parsing: .postTerminator,
              help: ArgumentHelp("After --: `recurrent train` options every trial gets (--window, --target, --difference …).",
                                 valueName: "train-options"))
    var trainOptions: [String] = []
    @OptionGroup var common: CommonOptions
    @Option(help: "Learning rates.") var learningRate: String?
    @Option(help: "Batch sizes.") var batchSize: String?
    @Option(help: "Stacked layers.") var layers: String?
    @Option(help: "Hidden sizes.") var hiddenSize: String?
    @Option(help: "Dropout between layers.") var dropout: String?
    @Option(help: "Cells: lstm, gru, rnn, rnn-relu.") var cell: String?
    @Option(help: ArgumentHelp("A JSON object of value lists (keys learning_rate, batch_size, layers, hidden_size, dropout, cell).",
                               valueName: "file"))
    var config: String?
    @Option(help: "Random search: this many distinct points drawn from the grid (default: the whole grid).") var trials: Int?
    @Option(help: "Epochs per trial at most.") var epochs: Int = 5
    @Option(help: "Early-stopping patience in epochs.") var patience: Int = 2
    @Option(help: "Sequences generated (80% train, 20% validation).") var samples: Int = 2000
    @Option(help: "Time steps (adding, sine) or delay (copy).") var length: Int?
    @Option(help: "Directory for sweep.json and sweep.svg.") var output: String = "runs/sweep"

    /// One point of the search space.
    struct Trial: Codable, Equatable, Hashable {
        var cell: String, learningRate: Float, batchSize: Int, layers: Int, hiddenSize: Int, dropout: Float
    }

    /// A finished trial.
    struct Result: Codable, Equatable {
        var trial: Trial
        var validationLoss: Float
        var bestEpoch: Int, epochs: Int
        var seconds: Double
    }

    /// The value lists of the search space.
    struct Space: Equatable {
        var learningRate: [Float] = [0.005], batchSize: [Int] = [64], layers: [Int] = [1], hiddenSize: [Int] = [32]
        var dropout: [Float] = [0], cell: [String] = ["lstm"]

        /// Every combination, in a fixed order (cell slowest, learning rate fastest).
        var grid: [Trial] {
            var out: [Trial] = []
            for c in cell { for h in hiddenSize { for l in layers { for d in dropout { for b in batchSize { for r in learningRate {
                out.append(Trial(cell: c, learningRate: r, batchSize: b, layers: l, hiddenSize: h, dropout: d))
            } } } } } }
            return out
        }
    }

    /// What the trials train on.
    enum Source {
        case demo(DemoTask)
        /// `recurrent train` with these leading arguments (`--csv FILE` or `--text FILE`, then the options after `--`).
        case train([String])
    }

    /// The flags a sweep sets on every trial itself, which the options after `--` must leave out.
    static let flagsOfTheSweep = ["--cell", "--learning-rate", "--batch-size", "--layers", "--hidden-size", "--dropout", "--epochs",
                                  "--early-stopping", "--seed", "--output", "--resume", "--device", "--csv", "--text"]

    var source: Source {
        if let csv { return .train(["--csv", csv] + trainOptions) }
        if let text { return .train(["--text", text] + trainOptions) }
        return .demo(DemoTask(rawValue: (task ?? "").lowercased())!)
    }

    func validate() throws {
        let given = [task.map { "the task '\($0)'" }, csv.map { _ in "--csv" }, text.map { _ in "--text" }].compactMap { $0 }
        guard given.count == 1 else {
            throw ValidationError("expected one of a demo task (adding, copy or sine), --csv FILE or --text FILE, got "
                                  + (given.isEmpty ? "none" : given.joined(separator: " and ")))
        }
        if let task, DemoTask(rawValue: task.lowercased()) == nil {
            throw ValidationError("unknown task '\(task)': expected adding, copy or sine (or --csv FILE, --text FILE)")
        }
        if task != nil, !trainOptions.isEmpty {
            throw ValidationError("options after -- go to `recurrent train` (with --csv or --text); a demo task takes none, got \(trainOptions.joined(separator: " "))")
        }
        if let flag = trainOptions.first(where: { option in Self.flagsOfTheSweep.contains { option == $0 || option.hasPrefix($0 + "=") } }) {
            throw ValidationError("\(flag) after --: the sweep sets it on every trial (the swept lists, --epochs, --patience, --seed, "
                                  + "--output and --device are the sweep's own options)")
        }
        guard epochs >= 1, patience >= 0, samples >= 10 else {
            throw ValidationError("expected --epochs ≥ 1, --patience ≥ 0 and --samples ≥ 10; got \(epochs), \(patience), \(samples)")
        }
        if let trials, trials < 1 { throw ValidationError("expected --trials ≥ 1, got \(trials)") }
        _ = try space()
    }

    /// The search space from the flags over the file over the defaults.
    func space() throws -> Space {
        var space = Space()
        if let config {
            guard let data = FileManager.default.contents(atPath: config) else {
                throw RecurrentError.file(path: config, reason: "cannot be read (expected a JSON object of value lists)")
            }
            guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw RecurrentError.file(path: config, reason: "is not a JSON object (expected {\"learning_rate\": [0.001, 0.01], …})")
            }
            let known = ["learning_rate", "batch_size", "layers", "hidden_size", "dropout", "cell"]
            if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
                throw RecurrentError.file(path: config, reason: "unknown key \"\(unknown)\"; expected \(known.joined(separator: ", "))")
            }
            func numbers(_ key: String) throws -> [Double]? {
                guard let v = object[key] else { return nil }
                guard let list = v as? [NSNumber], !list.isEmpty else {
                    throw RecurrentError.file(path: config, reason: "\"\(key)\": expected a non-empty list of numbers, got \(v)")
                }
                return list.map(\.doubleValue)
            }
            if let v = try numbers("learning_rate") { space.learningRate = v.map(Float.init) }
            if let v = try numbers("batch_size") { space.batchSize = v.map { Int($0) } }
            if let v = try numbers("layers") { space.layers = v.map { Int($0) } }
            if let v = try numbers("hidden_size") { space.hiddenSize = v.map { Int($0) } }
            if let v = try numbers("dropout") { space.dropout = v.map(Float.init) }
            if let v = object["cell"] {
                guard let list = v as? [String], !list.isEmpty else {
                    throw RecurrentError.file(path: config, reason: "\"cell\": expected a non-empty list of names, got \(v)")
                }
                space.cell = list
            }
        }
        func list<T>(_ text: String?, _ flag: String, _ parse: (String) -> T?) throws -> [T]? {
            guard let text else { return nil }
            let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let values = items.compactMap(parse)
            guard !items.isEmpty, values.count == items.count else {
                throw ValidationError("--\(flag): expected a comma-separated list, got '\(text)'")
            }
            return values
        }
        if let v = try list(learningRate, "learning-rate", { Float($0).flatMap { $0 > 0 ? $0 : nil } }) { space.learningRate = v }
        if let v = try list(batchSize, "batch-size", { Int($0).flatMap { $0 >= 1 ? $0 : nil } }) { space.batchSize = v }
        if let v = try list(layers, "layers", { Int($0).flatMap { $0 >= 1 ? $0 : nil } }) { space.layers = v }
        if let v = try list(hiddenSize, "hidden-size", { Int($0).flatMap { $0 >= 1 ? $0 : nil } }) { space.hiddenSize = v }
        if let v = try list(dropout, "dropout", { Float($0).flatMap { $0 >= 0 && $0 < 1 ? $0 : nil } }) { space.dropout = v }
        if let v = try list(cell, "cell", { Gradients.cellNames[$0.lowercased()] }) { space.cell = v }
        return space
    }

    /// The trials to run: the grid, or `trials` distinct points of it in a seeded order.
    func plannedTrials() throws -> [Trial] {
        let grid = try space().grid
        guard let trials else { return grid }
        let order = SequenceDataset.permutation(grid.count, seed: common.seed, stream: 1 << 41)
        return order.prefix(min(trials, grid.count)).map { grid[$0] }
    }

    func run() throws { _ = try sweep() }

    /// Runs the sweep; returns the results, best first.
    @discardableResult
    func sweep() throws -> [Result] {
        try validate()
        let world = try MPIDataParallel.joinIfLaunched()
        defer { try? world?.finish() }
        let isRoot = world?.isRoot ?? true
        let say: (String) -> Void = { if isRoot { print($0); fflush(nil) } }
        let source = self.source
        let directory = try RunDirectory(output)
        let resultsURL = directory.file("sweep.json")
        var finished: [Result] = []
        if let data = FileManager.default.contents(atPath: resultsURL.path) {
            do {
                finished = try JSONDecoder().decode([Result].self, from: data)
            } catch {
                throw RecurrentError.file(path: resultsURL.path, reason: "is not a sweep's results (\(error)); move it away to start afresh")
            }
        }
        let planned = try plannedTrials()
        let todo = planned.filter { t in !finished.contains { $0.trial == t } }
        let name: String
        var runTrial: (Trial) throws -> Result
        switch source {
        case .demo(let task):
            let length = self.length ?? task.demoDefaults.length
            name = "\(task.rawValue) (length \(length))"
            let data = try task.data(samples: samples, length: length, seed: common.seed)
            runTrial = { try self.run($0, task: task, data: data) }
        case .train(let leading):
            name = "recurrent train " + Self.shellWords(leading)
            runTrial = { try self.runTrain($0, leading: leading, in: directory) }
        }
        // Every trial's sizes are checked before the first one runs: an absurd value in one list
        // is refused at once, not after the trials before it have trained.
        for trial in todo { try requireMemory(for: trial) }
        say("sweep: \(name), \(planned.count) trials (\(finished.count) done before, \(todo.count) to run)"
            + (world.map { " over \($0.size) MPI ranks" } ?? "") + "; each up to \(epochs) epochs, early stopping after \(patience)")
        // Trial k of `todo` runs on rank k mod size; the others leave zeros, and sums gather.
        let (rank, size) = (world?.rank ?? 0, world?.size ?? 1)
        var mine: [Int: Result] = [:]
        for (k, trial) in todo.enumerated() where k % size == rank {
            let r = try runTrial(trial)
            mine[k] = r
            if world == nil {
                say(String(format: "trial %d/%d: %@ → validation loss %.5f (best epoch %d of %d, %.1f s)", k + 1, todo.count,
                           Self.describe(trial), r.validationLoss, r.bestEpoch, r.epochs, r.seconds))
            }
        }
        var gathered: [Result] = []
        for (k, trial) in todo.enumerated() {
            let local = mine[k]
            func total(_ v: Double) throws -> Double { try world?.sum(v) ?? v }
            gathered.append(Result(trial: trial, validationLoss: Float(try total(Double(local?.validationLoss ?? 0))),
                                   bestEpoch: Int(try total(Double(local?.bestEpoch ?? 0))), epochs: Int(try total(Double(local?.epochs ?? 0))),
                                   seconds: try total(local?.seconds ?? 0)))
        }
        let results = (finished + gathered).sorted { ($0.validationLoss, Self.describe($0.trial)) < ($1.validationLoss, Self.describe($1.trial)) }
        if isRoot {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(try encoder.encode(results), to: resultsURL)
            let title: String
            switch source {
            case .demo(let task): title = "\(task.rawValue): validation loss by hyperparameter"
            case .train(let leading): title = "\(URL(fileURLWithPath: leading[1]).lastPathComponent): validation loss by hyperparameter"
            }
            try Self.plot(results, title: title).write(to: directory.file("sweep.svg"))
        }
        let header = ["#", "cell", "lr", "batch", "layers", "hidden", "dropout", "val loss", "best epoch", "seconds"]
        let rows = results.enumerated().map { i, r in
            [String(i + 1), r.trial.cell, String(format: "%g", r.trial.learningRate), String(r.trial.batchSize), String(r.trial.layers),
             String(r.trial.hiddenSize), String(format: "%g", r.trial.dropout), String(format: "%.5f", r.validationLoss),
             "\(r.bestEpoch)/\(r.epochs)", String(format: "%.1f", r.seconds)]
        }
        say("")
        for line in table(header: header, rows: rows) { say(line) }
        if let best = results.first {
            switch source {
            case .demo(let task):
                say("best (this command reproduces it): " + command(for: best.trial, task: task, length: self.length ?? task.demoDefaults.length))
            case .train(let leading):
                let bestOutput = output.hasSuffix("/") ? output + "best" : output + "/best"
                say("best (this command reproduces it): " + Self.shellWords(trainCommand(for: best.trial, leading: leading, output: bestOutput)))
            }
        }
        say("wrote \(resultsURL.path)\n      \(directory.file("sweep.svg").path)")
        return results
    }

    /// Throws the one-line memory error of `recurrent demo` or `recurrent train`, prefixed with the
    /// trial, when the trial's model and one batch of its activations cannot fit in the memory there
    /// is. On a demo task the sizes are the task's; on a CSV or text file, whose widths are known only
    /// once the file is read, the check counts one input, one output and one time step: a lower
    /// bound, which the trial's own check refines when it runs.
    func requireMemory(for trial: Trial) throws {
        let (input, steps, outputs): (Int, Int, Int)
        var options = [("--hidden-size", trial.hiddenSize), ("--layers", trial.layers), ("--batch-size", trial.batchSize)]
        switch source {
        case .demo(let task):
            (input, steps, outputs) = (task.inputSize, length ?? task.demoDefaults.length, task.inputSize)
            options.append(("--length", steps))
        case .train: (input, steps, outputs) = (1, 1, 1)
        }
        do {
            try MemoryCheck.requireTraining(
                cell: trial.cell, inputSize: input, hiddenSize: trial.hiddenSize, layers: trial.layers, batchSize: trial.batchSize,
                steps: steps, outputSize: outputs, options: options, on: nil)
        } catch let error as UserFacingError {
            throw UserFacingError(description: "sweep trial \(Self.describe(trial)): \(error.description)")
        }
    }

    /// The `recurrent demo` command that trains `trial` with the sweep's data, epochs and early stopping.
    func command(for trial: Trial, task: DemoTask, length: Int) -> String {
        (["recurrent", "demo", task.rawValue, "--cell", trial.cell, "--learning-rate", String(format: "%g", trial.learningRate),
          "--batch-size", String(trial.batchSize), "--layers", String(trial.layers), "--hidden-size", String(trial.hiddenSize),
          "--dropout", String(format: "%g", trial.dropout), "--samples", String(samples), "--length", String(length),
          "--epochs", String(epochs), "--early-stopping", String(patience), "--seed", String(common.seed)]
         + (common.device.map { ["--device", $0] } ?? [])).joined(separator: " ")
    }

    /// The `recurrent train` command line (from "recurrent") of one trial on a CSV or text file, its run in `output`.
    func trainCommand(for trial: Trial, leading: [String], output: String) -> [String] {
        ["recurrent", "train"] + leading
            + ["--cell", trial.cell, "--learning-rate", String(format: "%g", trial.learningRate), "--batch-size", String(trial.batchSize),
               "--layers", String(trial.layers), "--hidden-size", String(trial.hiddenSize), "--dropout", String(format: "%g", trial.dropout),
               "--epochs", String(epochs), "--early-stopping", String(patience), "--seed", String(common.seed), "--output", output]
            + (common.device.map { ["--device", $0] } ?? [])
    }

    /// Words joined into a command line a POSIX shell reads back as the same words.
    static func shellWords(_ words: [String]) -> String {
        let plain = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,/:=+@%")
        return words.map { word in
            !word.isEmpty && word.unicodeScalars.allSatisfy(plain.contains) ? word : "'" + word.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
        }.joined(separator: " ")
    }

    static func describe(_ t: Trial) -> String {
        String(format: "%@ lr %g batch %ld layers %ld hidden %ld dropout %g", t.cell, t.learningRate, t.batchSize, t.layers, t.hiddenSize, t.dropout)
    }

    /// One trial on a CSV or text file: `recurrent train` with the trial's settings and early
    /// stopping, quietly, its run in DIR/trials/; the score is its best validation loss.
    private func runTrain(_ trial: Trial, leading: [String], in directory: RunDirectory) throws -> Result {
        let started = Date()
        let folder = String(format: "%@-lr%g-b%ld-l%ld-h%ld-d%g", trial.cell, trial.learningRate, trial.batchSize, trial.layers,
                            trial.hiddenSize, trial.dropout)
        let arguments = Array(trainCommand(for: trial, leading: leading, output: directory.file("trials/" + folder).path).dropFirst(2))
        let train: Train
        do {
            train = try Train.parse(arguments)
        } catch {
            throw UserFacingError(description: "the options after -- do not make a `recurrent train` command: "
                                  + Train.message(for: error))
        }
        let outcome = try train.train(world: nil, quiet: true)
        let scored = outcome.reports.compactMap { r in r.validationLoss.map { (epoch: r.epoch, loss: $0) } }
        let best = scored.min { $0.loss < $1.loss }
        return Result(trial: trial, validationLoss: best?.loss ?? outcome.validationLoss, bestEpoch: best?.epoch ?? 0,
                      epochs: outcome.reports.count, seconds: Date().timeIntervalSince(started))
    }

    /// One trial on a demo task: `recurrent demo TASK` with the trial's settings and early
    /// stopping (its cosine schedule, Adam, clipping 1), quietly; the score is its best validation loss.
    private func run(_ trial: Trial, task: DemoTask, data: (train: SequenceDataset, validation: SequenceDataset)) throws -> Result {
        let started = Date()
        let words = command(for: trial, task: task, length: length ?? task.demoDefaults.length).split(separator: " ").map(String.init)
        // "recurrent demo TASK" first, "--length N" is the subcommand's own: DemoOptions takes the rest.
        var options = Array(words.dropFirst(3))
        if let at = options.firstIndex(of: "--length") { options.removeSubrange(at...(at + 1)) }
        let demo = try DemoOptions.parse(options)
        let result = try demo.run(task, cell: trial.cell, data: data, defaults: task.demoDefaults.0, world: nil, quiet: true, print: { _ in })
        let scored = result.reports.compactMap { r in r.validationLoss.map { (epoch: r.epoch, loss: $0) } }
        let best = scored.min { $0.loss < $1.loss }
        return Result(trial: trial, validationLoss: best?.loss ?? .nan, bestEpoch: best?.epoch ?? 0, epochs: result.reports.count,
                      seconds: Date().timeIntervalSince(started))
    }

    /// A panel per hyperparameter that takes more than one value (all six when none does): the
    /// validation loss of every trial (log axis) against it, on a log axis for the learning rate,
    /// batch and hidden sizes, whole numbers for layers, a linear one for dropout, the names for cells.
    static func plot(_ results: [Result], title: String) -> PanelPlot {
        // 0.2 as the Float's shortest decimal, not 0.200000003: ticks end at 0.2, not 0.3.
        func decimal(_ v: Float) -> Double { Double("\(v)") ?? Double(v) }
        var cells: [String] = []
        for r in results where !cells.contains(r.trial.cell) { cells.append(r.trial.cell) }
        typealias Axis = (name: String, value: (Trial) -> Double, logarithmic: Bool, integers: Bool, categories: [String]?)
        let axes: [Axis] = [
            ("learning rate", { decimal($0.learningRate) }, true, false, nil),
            ("batch size", { Double($0.batchSize) }, true, false, nil),
            ("layers", { Double($0.layers) }, false, true, nil),
            ("hidden size", { Double($0.hiddenSize) }, true, false, nil),
            ("dropout", { decimal($0.dropout) }, false, false, nil),
            ("cell", { t in Double(cells.firstIndex(of: t.cell) ?? 0) }, false, false, cells),
        ]
        let varying = axes.filter { axis in Set(results.map { axis.value($0.trial) }).count > 1 }
        let panels = (varying.isEmpty ? axes : varying).map { axis -> LinePlot in
            var panel = LinePlot(title: axis.name, xLabel: axis.name, yLabel: "validation loss", logarithmicY: true,
                                 logarithmicX: axis.logarithmic, integerX: axis.integers, xCategories: axis.categories)
            panel.series = [.init(name: "trials", points: results.map { (axis.value($0.trial), Double($0.validationLoss)) }, pointsOnly: true)]
            panel.showsLegend = false
            return panel
        }
        return PanelPlot(title: title, panels: panels)
    }
}
