// Options the training commands share: device and seed, the model, the optimisation.
import ArgumentParser
import Foundation
import RecurrentKit

/// `--device` and `--seed`.
struct CommonOptions: ParsableArguments {
    @Option(help: "Device: auto, cpu, opencl or opencl:P:D (default: $RECURRENT_DEVICE, else auto).")
    var device: String?

    @Option(help: "Seed for weights, dropout masks and data order.")
    var seed: UInt64 = 1

    /// The backend `--device` (or `RECURRENT_DEVICE`) names.
    func backend() throws -> any Backend {
        if let device { return try Device.named(device) }
        return try Device.fromEnvironment()
    }
}

/// The recurrent stack: `--cell`, `--layers`, `--hidden-size`, `--dropout`, `--init`. Commands
/// give their own defaults for the optional ones.
struct ModelOptions: ParsableArguments {
    @Option(help: "Recurrent cell: lstm, gru, rnn (tanh) or rnn-relu.")
    var cell: String = "lstm"
    @Option(help: "Hidden units per layer.") var hiddenSize: Int?
    @Option(help: "Stacked recurrent layers.") var layers: Int = 1
    @Option(help: "Dropout between stacked layers, in [0, 1).") var dropout: Float = 0
    @Option(name: [.customLong("init"), .customLong("initialization")],
            help: "Weight initialisation: pytorch (uniform ±1/√H), xavier, orthogonal (recurrent weights), or large (orthogonal × 2: gradients explode).")
    var initialization: String = "pytorch"

    func validate() throws {
        if let h = hiddenSize, h < 1 { throw ValidationError("expected --hidden-size ≥ 1, got \(h)") }
        if layers < 1 { throw ValidationError("expected --layers ≥ 1, got \(layers)") }
        if !(dropout >= 0 && dropout < 1) { throw ValidationError("expected --dropout in [0, 1), got \(dropout)") }
    }

    /// The stack these options describe.
    func makeRecurrent(inputSize: Int, defaultHiddenSize: Int, on backend: any Backend, rng: RandomSource) throws -> RecurrentNetwork {
        try RecurrentTool.makeRecurrent(cell: cell, inputSize: inputSize, hiddenSize: hiddenSize ?? defaultHiddenSize, layers: layers,
                                        dropout: dropout, initialization: initialization, on: backend, rng: rng)
    }
}

/// `--learning-rate`: a number, or `auto` for the learning-rate range test's suggestion.
enum LearningRateSetting: ExpressibleByArgument, Equatable {
    case fixed(Float)
    case auto

    init?(argument: String) {
        if argument.lowercased() == "auto" { self = .auto; return }
        guard let v = Float(argument), v > 0, v.isFinite else { return nil }
        self = .fixed(v)
    }
}

/// The optimisation: `--optimizer`, `--learning-rate`, `--batch-size`, `--epochs`, clipping.
struct OptimizationOptions: ParsableArguments {
    @Option(help: "Optimizer: adam, adamw or sgd (with momentum 0.9).") var optimizer: String = "adam"
    @Option(help: "Learning rate: a positive number, or auto (run the learning-rate range test first and use its suggestion).")
    var learningRate: LearningRateSetting?
    @Option(help: "Weight decay (L2 for adam and sgd, decoupled for adamw).") var weightDecay: Float = 0
    @Option(help: "Sequences per batch.") var batchSize: Int?
    @Option(help: "Epochs.") var epochs: Int?
    @Option(help: "Clip the global gradient norm to this (0: no clipping).") var clipNorm: Float?
    @Option(help: "Clip every gradient element to ±this.") var clipValue: Float?

    func validate() throws {
        if let e = epochs, e < 1 { throw ValidationError("expected --epochs ≥ 1, got \(e)") }
        if let b = batchSize, b < 1 { throw ValidationError("expected --batch-size ≥ 1, got \(b)") }
    }

    /// The rate `--learning-rate` gives as a number (nil: not given, or auto).
    var fixedLearningRate: Float? {
        if case .fixed(let rate) = learningRate { return rate }
        return nil
    }

    /// Whether `--learning-rate auto` asks for the range test.
    var wantsAutomaticRate: Bool { learningRate == .auto }

    /// The optimizer these options name over `parameters` (`defaultLearningRate` unless a number was given).
    func makeOptimizer(_ parameters: [Parameter], defaultLearningRate: Float) throws -> any Optimizer {
        let lr = fixedLearningRate ?? defaultLearningRate
        switch optimizer.lowercased() {
        case "adam": return try Adam(parameters, learningRate: lr, weightDecay: weightDecay)
        case "adamw": return try AdamW(parameters, learningRate: lr, weightDecay: weightDecay)
        case "sgd": return try SGD(parameters, learningRate: lr, momentum: 0.9, weightDecay: weightDecay)
        default: throw ValidationError("unknown optimizer '\(optimizer)': expected adam, adamw or sgd")
        }
    }

    /// Sets the trainer's clipping from these options (`defaultClipNorm` unless given; 0 turns it off).
    func configureClipping(_ trainer: Trainer, defaultClipNorm: Float?) {
        let norm = clipNorm ?? defaultClipNorm
        trainer.clipNorm = (norm ?? 0) > 0 ? norm : nil
        trainer.clipValue = clipValue
    }
}

/// The gain of `--init large`: orthogonal recurrent weights with singular values 2, so that in
/// the tanh's linear range a step can double the gradient (Pascanu et al. 2013: above 1, gradients
/// may explode).
let largeInitializationGain: Float = 2

/// The initialisations `--init` accepts.
let initializationNames = ["pytorch", "xavier", "orthogonal", "large"]

/// The recurrent stack named by `cell`, with PyTorch's default, Xavier, orthogonal or large initialisation.
func makeRecurrent(cell: String, inputSize: Int, hiddenSize: Int, layers: Int, dropout: Float, initialization: String = "pytorch",
                   variants: RecurrentVariants = RecurrentVariants(),
                   on backend: any Backend, rng: RandomSource) throws -> RecurrentNetwork {
    guard hiddenSize >= 1, layers >= 1, dropout >= 0, dropout < 1 else {
        throw ValidationError("expected --hidden-size ≥ 1, --layers ≥ 1 and --dropout in [0, 1); got \(hiddenSize), \(layers), \(dropout)")
    }
    let (weightInit, recurrentInit): (Initializer, Initializer)
    switch initialization.lowercased() {
    case "pytorch": (weightInit, recurrentInit) = (.pytorchDefault, .pytorchDefault)
    case "xavier": (weightInit, recurrentInit) = (.xavierUniform(), .xavierUniform())
    case "orthogonal": (weightInit, recurrentInit) = (.xavierUniform(), .orthogonal())
    case "large": (weightInit, recurrentInit) = (.xavierUniform(), .orthogonal(gain: largeInitializationGain))
    default: throw ValidationError("unknown initialisation '\(initialization)': expected pytorch, xavier, orthogonal or large")
    }
    switch cell.lowercased() {
    case "lstm":
        return try LSTM(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: layers, dropout: dropout, on: backend, rng: rng,
                        weightInit: weightInit, recurrentInit: recurrentInit, variants: variants)
    case "gru":
        return try GRU(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: layers, dropout: dropout, on: backend, rng: rng,
                       weightInit: weightInit, recurrentInit: recurrentInit, variants: variants)
    case "rnn", "rnn-tanh", "rnn_tanh":
        return try RNN(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: layers, dropout: dropout, on: backend, rng: rng,
                       weightInit: weightInit, recurrentInit: recurrentInit, variants: variants)
    case "rnn-relu", "rnn_relu":
        return try RNN(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: layers, nonlinearity: .relu, dropout: dropout,
                       on: backend, rng: rng, weightInit: weightInit, recurrentInit: recurrentInit, variants: variants)
    default:
        throw ValidationError("unknown cell '\(cell)': expected lstm, gru, rnn or rnn-relu")
    }
}
