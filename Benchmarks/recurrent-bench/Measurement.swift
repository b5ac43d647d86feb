// Timing one configuration on one backend, in a process of its own so that peak memory
// belongs to that configuration alone.
import Foundation
import RecurrentKit

/// The result for one configuration and backend (the JSON object `--json` prints).
struct Measurement: Codable, Sendable {
    var cell: String
    var T: Int, B: Int, I: Int, H: Int, layers: Int
    /// The configuration as `CELL:T:B:I:H:L[:MIN]` (MIN: variable lengths from MIN to T).
    var config: String?
    var backend: String
    var step_ms_median: Double, step_ms_min: Double, step_ms_max: Double
    var gflops: Double
    var sequences_per_s: Double
    /// Process peak RSS growth while building and training the model, MiB.
    var peak_mem_mb: Double
    /// The backend allocator's high-water mark of live tensors, MiB (nil for PyTorch).
    var tensor_peak_mb: Double?
    /// System allocations during the timed steps (after warm-up): 0 means none.
    var allocations_in_timed_steps: Int?
    var steps: Int?
    /// Commands enqueued per timed training step (kernels, CLBlast calls, fills, device copies) on
    /// OpenCL; nil for the CPU backend and PyTorch, which launch nothing (their ops are calls).
    var launches_per_step: Double?
    /// Whether the backends agreed on one training step before timing (nil: not checked).
    var agrees: Bool?
}

/// Times `config` on a new backend of device `device`: `warmup` untimed steps, then `steps` timed ones.
func measure(_ config: BenchConfig, device: String, warmup: Int, steps: Int) throws -> Measurement {
    let backend = try Device.makeBackend(device)
    var baseline = 0
    let step = try TrainingStep(config, on: backend) { baseline = residentBytes() }
    for _ in 0..<warmup { try step.step() }
    let allocationsBefore = backend.memoryStatistics()?.systemAllocations
    let launchesBefore = (backend as? OpenCLBackend)?.launchCount
    var times: [Double] = []
    let clock = ContinuousClock()
    for _ in 0..<steps {
        let elapsed = try clock.measure { try step.step() }
        times.append(milliseconds(elapsed))
    }
    let allocationsAfter = backend.memoryStatistics()?.systemAllocations
    let launches = launchesBefore.flatMap { before in (backend as? OpenCLBackend).map { $0.launchCount - before } }
    times.sort()
    let median = median(times)
    return Measurement(
        cell: config.cell.rawValue, T: config.t, B: config.b, I: config.i, H: config.h, layers: config.layers,
        config: config.text, backend: backend.name, step_ms_median: median, step_ms_min: times.first ?? .nan, step_ms_max: times.last ?? .nan,
        gflops: config.flopsPerStep / (median / 1e3) / 1e9, sequences_per_s: Double(config.b) / (median / 1e3),
        peak_mem_mb: Double(max(peakResidentBytes() - baseline, 0)) / 1_048_576,
        tensor_peak_mb: backend.memoryStatistics().map { Double($0.peakBytesInUse) / 1_048_576 },
        allocations_in_timed_steps: allocationsBefore.flatMap { before in allocationsAfter.map { $0 - before } },
        steps: steps, launches_per_step: launches.map { Double($0) / Double(steps) }, agrees: nil)
}

/// Resident set size now, from /proc/self/statm.
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
}

/// Peak resident set size of this process so far: VmHWM from /proc/self/status, which starts
/// afresh at exec (getrusage's ru_maxrss keeps the parent's high-water mark across exec on Linux).
func peakResidentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kB = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return 0 }
    return kB * 1024
}

/// Runs this executable again in `--child` mode for one measurement and decodes its JSON line.
func measureInChildProcess(_ config: BenchConfig, device: String, warmup: Int, steps: Int) throws -> Measurement {
    var m: Measurement = try runChild(["--config", config.text, "--backends", device, "--warmup", "\(warmup)", "--steps", "\(steps)"],
                                      what: "\(config.label) on \(device)")
    m.backend = device
    return m
}

/// Runs this executable again with `--child` and `arguments`, and decodes the JSON result that the
/// child prints as its last line of standard output; `what` names the measurement in the error.
func runChild<Result: Decodable>(_ arguments: [String], what: String) throws -> Result {
    let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    let output = try runProcess(executable, ["--child"] + arguments)
    guard let line = output.split(separator: "\n").last, let data = line.data(using: .utf8),
          let result = try? JSONDecoder().decode(Result.self, from: data) else {
        throw BenchError("\(what): the measuring process printed no result:\n\(output)")
    }
    return result
}

/// Runs a program and returns its standard output; throws with its standard error on failure.
/// Standard error goes to a file, not a second pipe: a child that filled a pipe's 64 KiB buffer
/// on standard error while this process waited on standard output would block both for good.
func runProcess(_ path: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("recurrent-bench-stderr-\(UUID().uuidString)")
    guard FileManager.default.createFile(atPath: errorFile.path, contents: nil) else {
        throw BenchError("could not create \(errorFile.path) for the standard error of \(path)")
    }
    defer { try? FileManager.default.removeItem(at: errorFile) }
    let errorHandle = try FileHandle(forWritingTo: errorFile)
    defer { try? errorHandle.close() }
    let out = Pipe()
    process.standardOutput = out
    process.standardError = errorHandle
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let stderr = (try? Data(contentsOf: errorFile)) ?? Data()
    guard process.terminationStatus == 0 else {
        throw BenchError("\(path) \(arguments.joined(separator: " ")) exited with status \(process.terminationStatus): "
                         + (String(data: stderr, encoding: .utf8) ?? ""))
    }
    return String(data: stdout, encoding: .utf8) ?? ""
}
