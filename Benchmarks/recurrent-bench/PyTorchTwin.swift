// Runs the PyTorch twin (Benchmarks/pytorch_twin.py) on the same configurations.
import Foundation

/// The twin's measurements, keyed by config text. Throws with the twin's message when Python or
/// PyTorch is missing.
func measurePyTorch(_ configs: [BenchConfig], script: String, warmup: Int, steps: Int, threads: Int) throws -> [String: Measurement] {
    guard FileManager.default.fileExists(atPath: script) else {
        throw BenchError("PyTorch twin not found at '\(script)': run from the repository root or pass --pytorch-script PATH")
    }
    var arguments = [script, "--warmup", "\(warmup)", "--steps", "\(steps)", "--threads", "\(threads)"]
    for c in configs { arguments += ["--config", c.text] }
    let output = try runProcess("/usr/bin/env", ["python3"] + arguments)
    var results: [String: Measurement] = [:]
    for line in output.split(separator: "\n") {
        guard let data = line.data(using: .utf8), let m = try? JSONDecoder().decode(Measurement.self, from: data) else { continue }
        results[m.config ?? "\(m.cell):\(m.T):\(m.B):\(m.I):\(m.H):\(m.layers)"] = m
    }
    return results
}
