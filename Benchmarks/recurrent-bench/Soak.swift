// Soak mode: many training steps whose batches have new random lengths every step, printing the
// memory the backend's allocator holds every 10% of the steps, so growth shows.
import Foundation
import RecurrentKit

/// What `--soak` measured on one backend.
struct SoakReport {
    /// (step, bytes held from the system, bytes cached free, bytes of live tensors) every 10%.
    var samples: [(step: Int, held: Int, cached: Int, live: Int)] = []
    /// The most bytes of live tensors at any time.
    var peakLive = 0
    /// Median milliseconds per step.
    var stepMilliseconds = 0.0
}

/// Trains `config`'s stack for `steps` steps on `device`; each batch draws every sequence's length
/// uniformly from 1...T (or, with `fixedLengths`, gives every sequence all T steps) and pads to its
/// longest. Prints a line every 10% of the steps and a summary.
func runSoak(_ config: BenchConfig, device: String, steps: Int, fixedLengths: Bool, seed: UInt64 = 0) throws -> SoakReport {
    let backend = try Device.makeBackend(device)
    let network = try makeNetwork(config, on: backend, rng: RandomSource(seed: seed))
    let optimizer = try Adam(network.parameters, learningRate: 1e-3)
    let loss = MSELoss()
    var data = PhiloxStream(seed: seed, stream: 2_000_000)
    var report = SoakReport()
    var times: [Double] = []
    let clock = ContinuousClock()
    print("soak: \(config.label) on \(backend.deviceDescription), \(steps) steps, "
          + (fixedLengths ? "every sequence \(config.t) steps" : "lengths uniform in 1…\(config.t) every batch"))
    print("  step      held MB   cached MB   live MB   peak live MB")
    for step in 1...steps {
        let lengths = (0..<config.b).map { _ in fixedLengths ? config.t : 1 + Int(data.nextWord() % UInt32(config.t)) }
        let t = lengths.max() ?? config.t
        let input = try SequenceBatch(Tensor(shape: [t, config.b, config.i], values: data.normal(count: t * config.b * config.i),
                                             on: backend), lengths: fixedLengths ? nil : lengths)
        let target = try Tensor(shape: [t, config.b, config.outputWidth], values: data.normal(count: t * config.b * config.outputWidth),
                                on: backend)
        let elapsed = try clock.measure {
            try optimizer.zeroGradients()
            let tape = Tape()
            let output = try network(input, tape: tape).output.data
            _ = try loss.forward(output, target)   // over the padded output, as the training step
            try tape.backward(output, gradient: loss.backward())
            try optimizer.step()
            try backend.synchronize()
        }
        times.append(Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) / 1e15)
        if step % max(steps / 10, 1) == 0 || step == steps, let m = backend.memoryStatistics() {
            report.peakLive = max(report.peakLive, m.peakBytesInUse)
            report.samples.append((step, m.bytesReserved, m.bytesCached, m.bytesInUse))
            print(String(format: "  %-8d %9.2f %11.2f %9.2f %14.2f", step, megabytes(m.bytesReserved), megabytes(m.bytesCached),
                         megabytes(m.bytesInUse), megabytes(m.peakBytesInUse)))
        }
    }
    report.stepMilliseconds = times.sorted()[times.count / 2]
    let held = report.samples.map(\.held)
    let first = report.samples.first?.held ?? 0, most = held.max() ?? 0
    print(String(format: "  median step %.3f ms; held at 10%%: %.2f MB, most held: %.2f MB (%.2f× the peak of live tensors, %.2f MB)",
                 report.stepMilliseconds, megabytes(first), megabytes(most),
                 Double(most) / Double(max(report.peakLive, 1)), megabytes(report.peakLive)))
    return report
}

private func megabytes(_ bytes: Int) -> Double { Double(bytes) / 1e6 }
