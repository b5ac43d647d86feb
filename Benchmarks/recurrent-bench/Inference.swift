// recurrent-bench --inference: forward-only timings of a 1-layer LSTM (input size = hidden size H)
// on our CPU backend, beside PyTorch eager (torch.inference_mode, 1 and 2 threads) and ONNX Runtime
// (CPU execution provider, 1 and 2 threads) running the model we export, in interleaved rounds.
// Streaming: batch 1 fed one step at a time, states carried (our RecurrentStream); throughput:
// one evaluation-mode pass over (T, B, H).
// T = time steps, B = batch, H = hidden size.
import Foundation
import RecurrentKit

/// One forward-only timing: µs per step (streaming) or ms per pass (throughput).
struct InferenceTiming: Codable {
    var engine: String
    var threads: Int? = nil
    var mode: String
    var T: Int? = nil, B: Int? = nil, H: Int
    var us_per_step_median: Double? = nil, us_per_step_min: Double? = nil
    var ms_per_pass_median: Double? = nil, ms_per_pass_min: Double? = nil

    /// The figure compared: µs per step or ms per pass (median).
    var value: Double { us_per_step_median ?? ms_per_pass_median ?? .nan }
    var key: String { mode == "stream" ? "stream H=\(H)" : "T=\(T ?? 0) B=\(B ?? 0) H=\(H)" }
    var engineLabel: String { threads.map { "\(engine) \($0)t" } ?? engine }
}

struct InferenceBench {
    var streamSizes = [128, 512]
    var throughputConfigs = [(t: 100, b: 64, h: 128), (t: 100, b: 64, h: 512)]
    var streamSteps: Int, streamWarmup = 50, passes: Int, passWarmup: Int, rounds: Int
    var twinScript = "Benchmarks/inference_twin.py"
    var log: (String) -> Void

    init(streamSteps: Int, passes: Int, passWarmup: Int, rounds: Int, log: @escaping (String) -> Void) {
        self.streamSteps = streamSteps
        self.passes = passes
        self.passWarmup = passWarmup
        self.rounds = rounds
        self.log = log
    }

    func run() throws -> [InferenceTiming] {
        let backend = try Device.named("cpu")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("recurrent-bench-onnx-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        // Our models, and the same weights exported for ONNX Runtime.
        var streamModels: [Int: LSTM] = [:], streamFiles: [Int: URL] = [:]
        for h in streamSizes {
            let lstm = try LSTM(inputSize: h, hiddenSize: h, on: backend, rng: RandomSource(seed: 1))
            lstm.eval()
            streamModels[h] = lstm
            streamFiles[h] = directory.appendingPathComponent("stream-\(h).onnx")
            try lstm.exportONNX(to: streamFiles[h]!, options: ONNXExportOptions(states: true))
        }
        var passModels: [String: LSTM] = [:], passFiles: [String: URL] = [:]
        for c in throughputConfigs {
            let key = "\(c.t):\(c.b):\(c.h)"
            let lstm = try LSTM(inputSize: c.h, hiddenSize: c.h, on: backend, rng: RandomSource(seed: 2))
            lstm.eval()
            passModels[key] = lstm
            passFiles[key] = directory.appendingPathComponent("pass-\(c.t)-\(c.b)-\(c.h).onnx")
            try lstm.exportONNX(to: passFiles[key]!)
        }

        let venvPython = "\(FileManager.default.currentDirectoryPath)/.venv/bin/python"
        let haveTorch = (try? runProcess("/usr/bin/env", ["python3", "-c", "import torch"])) != nil
        let haveORT = FileManager.default.isExecutableFile(atPath: venvPython)
            && (try? runProcess(venvPython, ["-c", "import onnxruntime"])) != nil
        if !haveTorch { log("  notice: python3 with torch not found: no PyTorch column") }
        if !haveORT { log("  notice: \(venvPython) with onnxruntime not found (scripts/install-deps.sh makes it): no ONNX Runtime column") }

        var best: [String: InferenceTiming] = [:]
        func keep(_ m: InferenceTiming) {
            let id = m.key + "|" + m.engineLabel
            if let b = best[id], b.value <= m.value { return }
            best[id] = m
        }
        for round in 1...rounds {
            log("  round \(round) of \(rounds)")
            for h in streamSizes { keep(try streamOurs(streamModels[h]!, h: h, on: backend)) }
            for c in throughputConfigs { keep(try passOurs(passModels["\(c.t):\(c.b):\(c.h)"]!, c, on: backend)) }
            for threads in [1, 2] {
                let common = ["--threads", "\(threads)", "--warmup", "\(streamWarmup)", "--steps", "\(streamSteps)",
                              "--passes", "\(passes)", "--pass-warmup", "\(passWarmup)"]
                if haveTorch {
                    let arguments = [twinScript, "--engine", "torch"] + common
                        + streamSizes.flatMap { ["--stream", "\($0)"] } + throughputConfigs.flatMap { ["--throughput", "\($0.t):\($0.b):\($0.h)"] }
                    try decode(runProcess("/usr/bin/env", ["python3"] + arguments)).forEach(keep)
                }
                if haveORT {
                    let arguments = [twinScript, "--engine", "onnxruntime"] + common
                        + streamSizes.flatMap { ["--stream", "\($0):\(streamFiles[$0]!.path)"] }
                        + throughputConfigs.flatMap { c in ["--throughput", "\(c.t):\(c.b):\(c.h):\(passFiles["\(c.t):\(c.b):\(c.h)"]!.path)"] }
                    try decode(runProcess(venvPython, arguments)).forEach(keep)
                }
            }
        }
        return best.values.sorted { ($0.key, $0.engineLabel) < ($1.key, $1.engineLabel) }
    }

    /// Median µs per step of our stream at batch 1, inputs already on the device.
    private func streamOurs(_ lstm: LSTM, h: Int, on backend: any Backend) throws -> InferenceTiming {
        let stream = try lstm.stream(batchSize: 1)
        var random = SystemRandomNumberGenerator()
        let inputs = try (0..<64).map { _ in
            try Tensor(shape: [1, h], values: (0..<h).map { _ in Float.random(in: -1...1, using: &random) }, on: backend)
        }
        for k in 0..<streamWarmup { _ = try stream.step(inputs[k % inputs.count]) }
        let clock = ContinuousClock()
        var times: [Double] = []
        for k in 0..<streamSteps {
            let elapsed = try clock.measure { _ = try stream.step(inputs[k % inputs.count]) }
            times.append(microseconds(elapsed))
        }
        times.sort()
        return InferenceTiming(engine: "ours (cpu)", mode: "stream", H: h, us_per_step_median: times[times.count / 2],
                               us_per_step_min: times[0])
    }

    /// Median ms per evaluation-mode pass over (T, B, H).
    private func passOurs(_ lstm: LSTM, _ c: (t: Int, b: Int, h: Int), on backend: any Backend) throws -> InferenceTiming {
        var random = SystemRandomNumberGenerator()
        let x = try SequenceBatch(Tensor(shape: [c.t, c.b, c.h],
                                         values: (0..<(c.t * c.b * c.h)).map { _ in Float.random(in: -1...1, using: &random) }, on: backend))
        // A pass ends when its output is finished on the device (synchronize), as PyTorch returns a
        // finished tensor; no copy of it into an array, which PyTorch's pass does not make either.
        func pass() throws {
            let y = try lstm(x)
            try backend.synchronize()
            withExtendedLifetime(y) {}
        }
        for _ in 0..<passWarmup { try pass() }
        let clock = ContinuousClock()
        var times: [Double] = []
        for _ in 0..<passes {
            let elapsed = try clock.measure { try pass() }
            times.append(microseconds(elapsed) / 1e3)
        }
        times.sort()
        return InferenceTiming(engine: "ours (cpu)", mode: "throughput", T: c.t, B: c.b, H: c.h,
                               ms_per_pass_median: times[times.count / 2], ms_per_pass_min: times[0])
    }

    private func microseconds(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12
    }

    private func decode(_ output: String) -> [InferenceTiming] {
        output.split(separator: "\n").compactMap { try? JSONDecoder().decode(InferenceTiming.self, from: Data($0.utf8)) }
    }
}

/// The --inference table: per configuration every engine's figure and its ratio to ours.
func printInferenceTable(_ timings: [InferenceTiming]) {
    var rows: [[String]] = []
    for key in Array(Set(timings.map(\.key))).sorted() {
        let group = timings.filter { $0.key == key }
        guard let ours = group.first(where: { $0.engine.hasPrefix("ours") }) else { continue }
        for m in group {
            let unit = m.mode == "stream" ? "µs/step" : "ms/pass"
            let throughput = m.mode == "stream" ? "" : String(format: "%.0f seq/s", Double(m.B ?? 0) / (m.value / 1e3))
            rows.append([key, m.engineLabel, String(format: "%.1f %@", m.value, unit), throughput,
                         m.engine.hasPrefix("ours") ? "" : String(format: "%.2f×", m.value / ours.value)])
        }
    }
    printTable(header: ["config", "engine", "median", "throughput", "this/ours"], rows: rows)
}
