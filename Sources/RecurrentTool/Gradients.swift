// `recurrent gradients`: how the gradient of the loss with respect to each input step shrinks
// (vanishes) or grows (explodes) with the step's distance from the loss, for RNN, LSTM and GRU
// on the adding problem; printed as a table and written as an SVG plot.
import ArgumentParser
import Foundation
import RecurrentKit

struct Gradients: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure how gradients shrink or grow with distance from the loss (vanishing and exploding gradients).",
        discussion: """
            Builds each cell (recurrent stack → last time step → Linear(H, 1)), runs one batch of the adding \
            problem (feature 0 uniform in [0, 1), feature 1 marks one step in each half; the target is the sum \
            of the two marked values) through it with an MSE loss, and measures ‖∂L/∂x_t‖, the L2 norm over batch \
            and features of the input gradient at step t, for every t. The table shows it relative to the norm at \
            distance 0 (the last step) for distances T−1−t; a ratio below 1e-3 counts as vanishing, above 1e3 as \
            exploding. With --train-steps the cells are first trained with Adam (and --clip-norm) on fresh batches. \
            --forget-bias sets the LSTM's forget-gate bias at initialisation (b_f in bias_ih, 0 in bias_hh).
            """)

    @OptionGroup var common: CommonOptions

    @Option(help: "Comma-separated cells to compare: rnn (tanh), rnn-relu, lstm, gru.")
    var cells: String = "rnn,lstm,gru"
    @Option(help: "Hidden units per layer.") var hiddenSize: Int = 64
    @Option(help: "Stacked recurrent layers.") var layers: Int = 1
    @Option(name: [.customLong("init"), .customLong("initialization")],
            help: "Weight initialisation: pytorch (uniform ±1/√H), xavier, orthogonal (recurrent weights), or large (orthogonal × 2: gradients explode).")
    var initialization: String = "pytorch"
    @Option(help: "LSTM forget-gate bias b_f at initialisation (Keras's unit_forget_bias is 1; default: the initialisation's).")
    var forgetBias: Float?
    @Option(help: "Time steps per sequence of the adding problem (at least 2).") var length: Int = 100
    @Option(help: "Sequences in the measured batch and in each training batch.") var batchSize: Int = 32
    @Option(help: "Adam steps on fresh adding-problem batches before measuring (0: measure at initialisation).")
    var trainSteps: Int = 0
    @Option(help: "Adam learning rate for --train-steps.") var learningRate: Float = 1e-3
    @Option(help: "Clip the global gradient norm to this during --train-steps (0: no clipping).") var clipNorm: Float = 1
    @Option(help: "Where to write the SVG plot of relative gradient norm against distance.")
    var output: String = "gradients.svg"

    func validate() throws {
        _ = try Self.parseCells(cells)
        guard length >= 2 else {
            throw ValidationError("expected --length ≥ 2 (the adding problem marks one step in each half); got \(length)")
        }
        guard batchSize >= 1 else { throw ValidationError("expected --batch-size ≥ 1; got \(batchSize)") }
        guard hiddenSize >= 1, layers >= 1 else {
            throw ValidationError("expected --hidden-size ≥ 1 and --layers ≥ 1; got \(hiddenSize) and \(layers)")
        }
        guard initializationNames.contains(initialization.lowercased()) else {
            throw ValidationError("unknown initialisation '\(initialization)': expected pytorch, xavier, orthogonal or large")
        }
        if let forgetBias, !forgetBias.isFinite {
            throw ValidationError("expected a finite --forget-bias; got \(forgetBias)")
        }
        guard trainSteps >= 0 else { throw ValidationError("expected --train-steps ≥ 0; got \(trainSteps)") }
        guard learningRate > 0, learningRate.isFinite else {
            throw ValidationError("expected a positive --learning-rate; got \(learningRate)")
        }
        guard clipNorm >= 0, clipNorm.isFinite else {
            throw ValidationError("expected --clip-norm ≥ 0 (0: no clipping); got \(clipNorm)")
        }
        guard !output.isEmpty else { throw ValidationError("expected an --output path; got an empty one") }
    }

    func run() throws {
        try validate()   // also when run() is called without parsing (tests)
        let names = try Self.parseCells(cells)
        let backend = try common.backend()
        try MemoryCheck.requireTraining(cell: "lstm", inputSize: 2, hiddenSize: hiddenSize, layers: layers, batchSize: batchSize, steps: length,
                                        outputSize: 1, options: [("--hidden-size", hiddenSize), ("--layers", layers),
                                                                 ("--batch-size", batchSize), ("--length", length)], on: backend)
        let experiment = Experiment(length: length, batchSize: batchSize, hiddenSize: hiddenSize, layers: layers,
                                    initialization: initialization, forgetBias: forgetBias, seed: common.seed, trainSteps: trainSteps,
                                    learningRate: learningRate, clipNorm: clipNorm)

        print("input-gradient norms ‖∂L/∂x_t‖ on the adding problem: \(length) steps, batch \(batchSize), "
              + "\(layers)×\(hiddenSize) cells, \(initialization) initialisation"
              + (forgetBias.map { String(format: ", LSTM forget-gate bias %g", $0) } ?? "") + ", seed \(common.seed), "
              + "on \(backend.name) (\(backend.deviceDescription))")
        if trainSteps == 0 {
            print("measured at initialisation")
        } else {
            let clipping = clipNorm > 0 ? String(format: "with clipping %g", clipNorm) : "without clipping"
            print(String(format: "measured after %d Adam steps (lr %g) %@", trainSteps, learningRate, clipping))
        }

        var measurements: [(cell: String, measurement: Measurement)] = []
        for name in names {
            let m = try experiment.measure(cell: name, on: backend)
            if let before = m.firstLoss, let after = m.lastLoss {
                print(String(format: "%@: training loss %.4f → %.4f", name, before, after))
            }
            measurements.append((name, m))
        }

        // The table: one row per selected distance, one column per cell, numbers right-aligned.
        let width = max(10, (names.map(\.count).max() ?? 0) + 2)
        func pad(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(width - text.count, 1)) + text }
        func row(_ label: String, _ values: [Double]) -> String {
            pad(label, 9) + values.map { pad(String(format: "%.2e", $0), width) }.joined()
        }
        print("")
        print("‖∂L/∂x_t‖ relative to distance 0 (distance = T−1−t, the steps between x_t and the loss)")
        print(pad("distance", 9) + names.map { pad($0, width) }.joined())
        for d in Self.distances(length: length) {
            print(row(String(d), measurements.map { $0.measurement.relativeNorms[d] }))
        }
        print(row("norm at 0", measurements.map { $0.measurement.normsByDistance[0] }))
        print("")
        for (name, m) in measurements {
            let ratio = m.relativeNorms[length - 1]
            print(String(format: "%@: ratio %.2e at distance %d: %@", name, ratio, length - 1, Self.verdict(ratio)))
        }

        var plot = LinePlot(title: "Input-gradient norm against distance from the loss (adding problem, T = \(length))",
                            xLabel: "distance from the loss (T − 1 − t)", yLabel: "‖∂L/∂x_t‖ / ‖∂L/∂x_T−1‖",
                            logarithmicY: true, integerX: true)
        for (name, m) in measurements {
            plot.series.append(LinePlot.Series(name: name, points: m.relativeNorms.enumerated().map { (Double($0.offset), $0.element) }))
        }
        let url = URL(fileURLWithPath: output)
        try plot.write(to: url)
        print("wrote \(url.path)")
        if trainSteps > 0 { try writeStepNorms(measurements) }
    }

    /// The gradient norm of every training step before and after clipping: a table of a few steps and a plot.
    private func writeStepNorms(_ measurements: [(cell: String, measurement: Measurement)]) throws {
        print("")
        print(clipNorm > 0 ? String(format: "global gradient norm per training step, before → after clipping to %g", clipNorm)
                           : "global gradient norm per training step (no clipping)")
        let steps = Array(Set([1, 2, 5, 10, 20, 50, 100, 200, 500, 1000].filter { $0 < trainSteps } + [trainSteps])).sorted()
        let width = 22
        func pad(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(width - text.count, 1)) + text }
        print(pad("step", 9) + measurements.map { pad($0.cell, width) }.joined())
        for step in steps {
            print(pad(String(step), 9) + measurements.map { m in
                let norm = m.measurement.stepNorms[step - 1]
                return pad(clipNorm > 0 ? String(format: "%.3g → %.3g", norm, Measurement.clipped(norm, maxNorm: clipNorm))
                                        : String(format: "%.3g", norm), width)
            }.joined())
        }
        for (cell, m) in measurements {
            let clippedSteps = clipNorm > 0 ? m.stepNorms.filter { $0 > clipNorm }.count : 0
            print(String(format: "%@: largest norm %.3g%@", cell, m.stepNorms.max() ?? .nan,
                         clipNorm > 0 ? String(format: ", clipped on %d of %d steps", clippedSteps, m.stepNorms.count) : ""))
        }
        var plot = LinePlot(title: "Global gradient norm per training step (\(initialization) initialisation)", xLabel: "training step",
                            yLabel: "‖∇θ L‖", logarithmicY: true, integerX: true)
        for (cell, m) in measurements {
            plot.series.append(.init(name: "\(cell) before", points: m.stepNorms.enumerated().map { (Double($0.offset + 1), Double($0.element)) }))
            if clipNorm > 0 {
                plot.series.append(.init(name: "\(cell) after", points: m.stepNorms.enumerated().map {
                    (Double($0.offset + 1), Double(Measurement.clipped($0.element, maxNorm: clipNorm)))
                }))
            }
        }
        let url = stepNormsURL
        try plot.write(to: url)
        print("wrote \(url.path)")
    }

    /// `--output` with "-steps" before the extension: the per-step plot.
    var stepNormsURL: URL {
        let url = URL(fileURLWithPath: output)
        let ext = url.pathExtension.isEmpty ? "svg" : url.pathExtension
        return url.deletingPathExtension().appendingPathExtension("steps").appendingPathExtension(ext)
    }
}

extension Gradients {
    /// The cell names `--cells` accepts, with the canonical name each stands for.
    static let cellNames: [String: String] = [
        "rnn": "rnn", "rnn-tanh": "rnn", "rnn_tanh": "rnn", "rnn-relu": "rnn-relu", "rnn_relu": "rnn-relu",
        "lstm": "lstm", "gru": "gru",
    ]

    /// The canonical cell names of a comma-separated `--cells` value, in order; throws a
    /// `ValidationError` for an empty list, an unknown name or a cell named twice.
    static func parseCells(_ text: String) throws -> [String] {
        let given = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
        guard !given.isEmpty else {
            throw ValidationError("expected --cells to name at least one of rnn, rnn-relu, lstm, gru; got '\(text)'")
        }
        var names: [String] = []
        for name in given {
            guard let canonical = cellNames[name] else {
                throw ValidationError("unknown cell '\(name)' in --cells: expected a comma-separated list of rnn, rnn-relu, lstm, gru")
            }
            guard !names.contains(canonical) else {
                throw ValidationError("expected each cell once in --cells; got '\(canonical)' twice in '\(text)'")
            }
            names.append(canonical)
        }
        return names
    }

    /// The distances the table shows: 0, 1, 2, 5, 10, 20, 50, 100, … below `length`, and the largest, `length − 1`.
    static func distances(length: Int) -> [Int] {
        var result: [Int] = [0]
        var decade = 1
        outer: while true {
            for step in [1, 2, 5] {
                let d = step * decade
                if d >= length - 1 { break outer }
                result.append(d)
            }
            decade *= 10
        }
        if length - 1 > 0 { result.append(length - 1) }
        return result
    }

    /// What a ratio at the largest distance says about the gradients.
    static func verdict(_ ratio: Double) -> String {
        if !ratio.isFinite { return "explode (not finite)" }
        if ratio < 1e-3 { return "vanish (< 1e-3)" }
        if ratio > 1e3 { return "explode (> 1e3)" }
        return "persist (between 1e-3 and 1e3)"
    }

    /// The Philox stream of the measured batch (weights take streams 0, 1, … of the same seed,
    /// so the data's streams sit far above them).
    static let measurementStream: UInt64 = 1 << 40
    /// The Philox stream the training batches are drawn from.
    static let trainingStream: UInt64 = (1 << 40) + 1

    /// A batch of the adding problem, time-major: inputs (T, B, 2) with feature 0 uniform in [0, 1)
    /// and feature 1 a marker that is 1 at one step of the first half (t < T/2) and one of the second,
    /// 0 elsewhere; targets (B, 1), the sum of the two marked values. Draws from `stream`.
    static func addingBatch(length: Int, batchSize: Int, stream: inout PhiloxStream) -> (input: [Float], target: [Float]) {
        let half = length / 2
        var input = [Float](repeating: 0, count: length * batchSize * 2)
        var target = [Float](repeating: 0, count: batchSize)
        func below(_ n: Int) -> Int { Int((UInt64(stream.nextWord()) &* UInt64(n)) >> 32) }   // uniform in 0..<n (Lemire)
        for b in 0..<batchSize {
            let values = stream.uniform(count: length, low: 0, high: 1)
            let first = below(half), second = half + below(length - half)
            for t in 0..<length {
                input[(t * batchSize + b) * 2] = values[t]
                if t == first || t == second { input[(t * batchSize + b) * 2 + 1] = 1 }
            }
            target[b] = values[first] + values[second]
        }
        return (input, target)
    }

    /// ‖∂L/∂x_t‖ for t = 0..<T: one forward and backward of `model` (input (T, B, F) → (B, 1)) under
    /// an MSE loss, the input watched on the tape; the L2 norm at step t is over the batch and the
    /// features. Leaves the parameter gradients zero.
    static func inputGradientNorms(of model: any Layer, input: Tensor, target: Tensor) throws -> [Float] {
        try model.zeroGradients()
        let loss = MSELoss()
        let tape = Tape()
        tape.watch(input)
        let prediction = try model.forward(SequenceBatch(input), tape: tape)
        _ = try loss.forward(prediction, target)
        try tape.backward(prediction.data, gradient: loss.backward())
        guard let gradient = try tape.gradient(of: input) else {
            throw RecurrentError.invalidState("the model's backward reached no gradient of its input")
        }
        try model.zeroGradients()
        try RecurrentError.check("input gradient (T, B, F)", shape: gradient.shape, equals: input.shape)
        let values = try gradient.toArray()
        let perStep = input.shape.dropFirst().reduce(1, *)
        return (0..<input.shape[0]).map { t in
            Float(values[(t * perStep)..<((t + 1) * perStep)].reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot())
        }
    }

    /// One gradient measurement's settings: the data, the model and the optional training first.
    struct Experiment {
        /// Time steps T and sequences per batch.
        var length = 100, batchSize = 32
        /// The recurrent stack: hidden units and layers.
        var hiddenSize = 64, layers = 1
        /// pytorch, xavier or orthogonal.
        var initialization = "pytorch"
        /// The LSTM's forget-gate bias at initialisation (nil: the initialisation's); other cells have no forget gate.
        var forgetBias: Float?
        /// Seed of the weights and of the data.
        var seed: UInt64 = 1
        /// Adam steps before measuring (0: at initialisation), their learning rate and the gradient-norm clipping (0: off).
        var trainSteps = 0
        var learningRate: Float = 1e-3
        var clipNorm: Float = 1

        /// Builds `cell`'s model (recurrent stack → LastTimeStep → Linear(H, 1)) from `seed`, trains it
        /// `trainSteps` steps and measures its input-gradient norms on the measurement batch. Every
        /// cell sees the same measurement batch and training batches.
        func measure(cell: String, on backend: any Backend) throws -> Measurement {
            let rng = RandomSource(seed: seed)
            let recurrent = try makeRecurrent(cell: cell, inputSize: 2, hiddenSize: hiddenSize, layers: layers, dropout: 0,
                                              initialization: initialization,
                                              variants: RecurrentVariants(forgetBias: cell == "lstm" ? forgetBias : nil),
                                              on: backend, rng: rng)
            let model = try Sequential([("rnn", recurrent), ("last", LastTimeStep()),
                                        ("fc", Linear(hiddenSize, 1, on: backend, rng: rng))])
            var losses: [Float] = [], stepNorms: [Float] = []
            if trainSteps > 0 {
                let trainer = Trainer(model: model, loss: MSELoss(),
                                      optimizer: try Adam(model.parameters, learningRate: learningRate), on: backend)
                trainer.clipNorm = clipNorm > 0 ? clipNorm : nil
                var stream = PhiloxStream(seed: seed, stream: Gradients.trainingStream)
                for step in 1...trainSteps {
                    let (x, y) = try upload(Gradients.addingBatch(length: length, batchSize: batchSize, stream: &stream), on: backend)
                    let value = try trainer.trainStep(input: SequenceBatch(x), target: y)
                    if step == 1 || step == trainSteps { losses.append(try value.item()) }   // one device read each
                }
                stepNorms = trainer.gradientNorms
            }
            var stream = PhiloxStream(seed: seed, stream: Gradients.measurementStream)
            let (x, y) = try upload(Gradients.addingBatch(length: length, batchSize: batchSize, stream: &stream), on: backend)
            let norms = try Gradients.inputGradientNorms(of: model, input: x, target: y)
            return Measurement(norms: norms, firstLoss: losses.first, lastLoss: losses.last, stepNorms: stepNorms)
        }

        private func upload(_ batch: (input: [Float], target: [Float]), on backend: any Backend) throws -> (Tensor, Tensor) {
            (try Tensor(shape: [length, batchSize, 2], values: batch.input, on: backend),
             try Tensor(shape: [batchSize, 1], values: batch.target, on: backend))
        }
    }

    /// What `Experiment.measure` found for one cell.
    struct Measurement {
        /// ‖∂L/∂x_t‖ by time step t = 0..<T.
        var norms: [Float]
        /// The training loss of the first and the last training step (nil without training).
        var firstLoss: Float?, lastLoss: Float?
        /// The global gradient norm of each training step, before clipping.
        var stepNorms: [Float] = []

        /// The norm after `clip_grad_norm_(max_norm)`: scaled by max / (norm + 1e-6) when above max.
        static func clipped(_ norm: Float, maxNorm: Float) -> Float {
            maxNorm > 0 ? norm * min(1, maxNorm / (norm + 1e-6)) : norm
        }

        /// ‖∂L/∂x_t‖ by distance d = T−1−t from the loss.
        var normsByDistance: [Double] { norms.reversed().map(Double.init) }

        /// The norm at each distance divided by the norm at distance 0.
        var relativeNorms: [Double] {
            let byDistance = normsByDistance
            let reference = byDistance.first ?? .nan
            return byDistance.map { $0 / reference }
        }
    }
}
