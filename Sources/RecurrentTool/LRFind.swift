// `recurrent lr-find adding|copy|sine`: the learning-rate range test on a demo task — one pass
// with the rate rising exponentially, the smoothed loss against the rate on a log axis, the
// suggested rate marked and printed. `--learning-rate auto` (train, demo) runs the same test.
import ArgumentParser
import Foundation
import RecurrentKit

struct LRFind: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lr-find",
        abstract: "The learning-rate range test: suggest a learning rate for a task and model.",
        discussion: """
            Trains one pass over the task's training set with the learning rate rising exponentially from \
            --start-rate to --end-rate (Smith 2017; fast.ai's lr_find), smooths the loss (running average, \
            weight 0.98, bias-corrected) and stops once it exceeds 4× its lowest value. The suggestion is the rate \
            where the smoothed loss falls fastest against log(rate). Writes lr-find.svg to --output and prints the \
            `recurrent demo` command that trains with the suggestion. The model, optimizer and clipping are the \
            demo's (defaults included), so the suggestion fits `recurrent demo TASK`.
            """)

    @Argument(help: "The demo task: adding, copy or sine.") var task: String
    @OptionGroup var options: DemoOptions
    @Option(help: "Time steps (adding, sine) or delay (copy); default: the demo's.") var length: Int?
    @Option(help: "Learning rate of the first step.") var startRate: Float = 1e-6
    @Option(help: "Learning rate the last step reaches.") var endRate: Float = 1
    @Option(help: "Steps of the test (default: one pass over the training set).") var steps: Int?

    func validate() throws {
        guard DemoTask(rawValue: task.lowercased()) != nil else {
            throw ValidationError("unknown task '\(task)': expected adding, copy or sine")
        }
        guard startRate > 0, endRate > startRate else {
            throw ValidationError("expected 0 < --start-rate < --end-rate, got \(startRate) and \(endRate)")
        }
        if let steps, steps < 2 { throw ValidationError("expected --steps ≥ 2, got \(steps)") }
        if options.optimization.learningRate != nil {
            throw ValidationError("--learning-rate is what lr-find finds: leave it out (use --start-rate and --end-rate)")
        }
    }

    func run() throws {
        try validate()
        let task = DemoTask(rawValue: self.task.lowercased())!
        let (defaults, defaultLength) = task.demoDefaults
        let length = self.length ?? defaultLength
        let data = try task.data(samples: options.samples ?? defaults.samples, length: length, seed: options.common.seed)
        let finder = try LearningRateFinder(startRate: startRate, endRate: endRate, steps: steps)
        let result = try options.rangeTest(task, cell: options.model.cell, data: data.train, defaults: defaults, finder: finder, print: { print($0) })
        let directory = try RunDirectory(options.output ?? "runs/lr-find-\(task.rawValue)")
        let url = directory.file("lr-find.svg")
        try LinePlot.rangeTest(result, title: "\(task.rawValue): \(options.model.cell) learning-rate range test").write(to: url)
        print("wrote \(url.path)")
        var command = ["recurrent", "demo", task.rawValue, "--cell", options.model.cell, "--learning-rate", String(format: "%.3g", result.suggestedRate)]
        if self.length != nil { command += ["--length", String(length)] }
        print("train with it: " + command.joined(separator: " "))
    }
}

extension DemoTask {
    /// The demo's defaults and default length for this task.
    var demoDefaults: (DemoDefaults, length: Int) {
        switch self {
        case .adding: return (Demo.Adding.defaults, 100)
        case .copy: return (Demo.Copy.defaults, 20)
        case .sine: return (Demo.Sine.defaults, 40)
        }
    }
}

extension DemoOptions {
    /// Runs the range test on a throwaway copy of the demo's model (same seed, optimizer and
    /// clipping) and prints the curve's summary and the suggestion.
    func rangeTest(_ task: DemoTask, cell: String, data: SequenceDataset, defaults: DemoDefaults, finder: LearningRateFinder,
                   print: (String) -> Void) throws -> LearningRateFinder.Result {
        let (backend, network) = try makeNetwork(task, cell: cell, defaults: defaults)
        let trainer = Trainer(model: network, loss: task.loss,
                              optimizer: try optimization.makeOptimizer(network.parameters, defaultLearningRate: finder.startRate), on: backend)
        optimization.configureClipping(trainer, defaultClipNorm: 1)
        return try runRangeTest(finder, trainer: trainer, data: data, batchSize: optimization.batchSize ?? defaults.batchSize,
                                seed: common.seed, print: print)
    }
}

/// Runs `finder` on `trainer` and prints what it found.
func runRangeTest(_ finder: LearningRateFinder, trainer: Trainer, data: SequenceDataset, batchSize: Int, seed: UInt64,
                  print: (String) -> Void) throws -> LearningRateFinder.Result {
    let started = Date()
    let result = try finder.run(trainer, on: data, batchSize: batchSize, shuffleSeed: seed)
    let last = result.rates.count - 1
    print(String(format: "learning-rate range test: %d steps, rate %.3g → %.3g, smoothed loss %.4g → lowest %.4g → %.4g%@ (%.1f s)",
                 result.rates.count, result.rates[0], result.rates[last], result.smoothedLosses[0],
                 result.smoothedLosses.min()!, result.smoothedLosses[last], result.diverged ? ", stopped: diverged" : "",
                 Date().timeIntervalSince(started)))
    print(String(format: "suggested learning rate: %.3g (steepest descent of the smoothed loss; lowest loss / 10: %.3g)",
                 result.suggestedRate, result.minimumOverTen))
    return result
}

extension LinePlot {
    /// Loss and smoothed loss against the learning rate, both axes logarithmic, the suggestion marked.
    static func rangeTest(_ result: LearningRateFinder.Result, title: String) -> LinePlot {
        var plot = LinePlot(title: title, xLabel: "learning rate", yLabel: "training loss", logarithmicY: true, logarithmicX: true)
        plot.series.append(Series(name: "smoothed", points: zip(result.rates, result.smoothedLosses).map { (Double($0), Double($1)) }))
        plot.series.append(Series(name: "per step", points: zip(result.rates, result.losses).map { (Double($0), Double($1)) }))
        plot.markers.append(Marker(x: Double(result.suggestedRate), label: "suggested " + AxisTicks.exponentLabel(Double(result.suggestedRate))))
        return plot
    }
}
