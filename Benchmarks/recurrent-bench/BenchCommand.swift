// recurrent-bench: times full training steps per backend (and PyTorch), after checking that
// the backends agree.
import ArgumentParser
import Foundation
import RecurrentKit

@main
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recurrent-bench",
        abstract: "Time RNN/LSTM/GRU training steps on each backend and beside PyTorch.",
        discussion: """
            A training step is forward over the sequence, MSE against a fixed target, backward and an
            Adam update. Each configuration and backend runs in a process of its own: warm-up steps,
            then timed steps (median, min, max). GFLOP/s counts GEMM work only.
            """)

    @Option(help: "Cells of the default grid, comma-separated: lstm, gru, rnn_tanh, rnn_relu.")
    var cells = "lstm,gru,rnn_tanh"
    @Option(help: "Sizes of the default grid, comma-separated: small, medium, large, varlen (variable lengths 10…100 beside the same batch padded), variants (T50 B32 I32 H128 L1 and T100 B64 I128 H256 L1, plain and with recurrent dropout, zoneout, weight drop, layer norm; GRU also reset-before).")
    var sizes = "small,medium,large,varlen"
    @Option(help: "A configuration CELL[+VARIANT]:T:B:I:H:L[:MIN] instead of the grid (repeatable); VARIANT: rdrop, zoneout, wdrop, layernorm, lnzoneout, lnproj (LSTM; P = H/2), resetbefore (GRU); MIN: lengths uniform in MIN...T.")
    var config: [String] = []
    @Option(help: "Devices, comma-separated (default: every one available of cpu, opencl).")
    var backends: String?
    @Option(help: "Timed steps per configuration.") var steps = 10
    @Option(help: "Rounds per configuration, each timing every backend (and PyTorch) in turn; the best round counts.")
    var rounds = 2
    @Option(help: "Untimed warm-up steps.") var warmup = 3
    @Flag(help: "Small and medium sizes, 3 steps after 1 warm-up: a run under a minute.") var quick = false
    @Flag(help: "Print the results as JSON on standard output.") var json = false
    @Flag(help: "Also time the PyTorch twin in this run and print PyTorch/ours ratios.") var withPytorch = false
    @Option(help: "Path of the PyTorch twin.") var pytorchScript = "Benchmarks/pytorch_twin.py"
    @Option(help: "PyTorch threads (default: all cores).") var threads: Int?
    @Flag(help: "Skip the agreement check.") var noCheck = false
    @Option(help: "Only time GEMMs of these shapes, M:N:K[:TA:TB[:BETA]] (repeatable), on each device.")
    var gemm: [String] = []
    @Flag(help: "Instead of timing, show where each configuration's step time goes, phase by phase; the backend's own time loops are two phases.") var phases = false
    @Flag(help: "With --phases: run the shared per-step time loop through the profiler, so that its recurrent GEMMs and cell steps are timed one by one.")
    var perStepLoops = false
    @Flag(help: "Instead of training steps, time forward-only inference: streaming per-step latency at batch 1 (H = 128, 512) and a pass over T = 100, B = 64, beside PyTorch eager and ONNX Runtime running our exported model.")
    var inference = false
    @Option(help: "With --inference: timed streaming steps per engine and round (after 50 warm-up steps).") var streamSteps = 500
    @Option(help: "Train STEPS steps with new random lengths (1…T) every batch and print the memory held every 10% (default config lstm:60:32:8:64:2).")
    var soak: Int?
    @Flag(help: "With --soak: every sequence T steps (fixed lengths), for comparison.") var soakFixed = false
    @Flag(help: .hidden) var child = false
    /// With --child: time --config's steps alternating with this plain configuration's (PairedSteps.swift).
    @Option(help: .hidden) var pairedWith: String?

    mutating func run() throws {
        if quick { steps = min(steps, 3); warmup = min(warmup, 1); rounds = 1 }
        guard steps >= 1, warmup >= 0, rounds >= 1 else {
            throw ValidationError("--steps and --rounds must be at least 1 and --warmup at least 0")
        }
        let configs = try selectedConfigs()
        if child, let pairedWith {
            // One paired timing, one JSON line: the parent process reads it.
            let timing = try measurePair(configs[0], try BenchConfig(parsing: pairedWith), device: backends ?? "cpu",
                                         warmup: warmup, steps: steps)
            print(String(data: try JSONEncoder().encode(timing), encoding: .utf8)!)
            return
        }
        if child {
            // One measurement, one JSON line: the parent process reads it.
            let m = try measure(configs[0], device: backends ?? "cpu", warmup: warmup, steps: steps)
            print(String(data: try JSONEncoder().encode(m), encoding: .utf8)!)
            return
        }
        if inference {
            print("recurrent-bench --inference: 1-layer LSTM, input size = hidden size; our CPU backend, PyTorch eager "
                  + "(inference_mode) and ONNX Runtime (CPU EP) on our exported model, 1 and 2 threads; "
                  + "50 warm-up + \(streamSteps) timed steps (streaming), \(warmup) + \(steps) passes (throughput), "
                  + "best of \(rounds) interleaved rounds")
            let bench = InferenceBench(streamSteps: streamSteps, passes: steps, passWarmup: warmup, rounds: rounds, log: { print($0) })
            let timings = try bench.run()
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(data: try encoder.encode(timings), encoding: .utf8)!)
            } else {
                printInferenceTable(timings)
            }
            return
        }
        let devices = try selectedDevices()
        if let soak {
            guard soak >= 1 else { throw ValidationError("--soak needs at least 1 step, got \(soak)") }
            let c = config.isEmpty ? try BenchConfig(parsing: "lstm:60:32:8:64:2") : configs[0]
            for d in devices { _ = try runSoak(c, device: d, steps: soak, fixedLengths: soakFixed) }
            return
        }
        if phases {
            for c in configs { for d in devices { try profilePhases(c, device: d, warmup: warmup, steps: steps, perStepLoops: perStepLoops) } }
            return
        }
        if !gemm.isEmpty {
            for text in gemm {
                let shape = try parseGEMMShape(text)
                for d in devices {
                    print(String(format: "gemm %@ on %@: %.1f GFLOP/s", text, d, try measureGEMM(shape, device: d, repeats: max(steps, 5))))
                }
            }
            return
        }
        let jsonOutput = json
        let log: (String) -> Void = { line in
            if jsonOutput { FileHandle.standardError.write((line + "\n").data(using: .utf8)!) } else { print(line) }
        }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        log("recurrent-bench: \(configs.count) configurations on \(devices.joined(separator: ", "))"
            + (withPytorch ? " and PyTorch (\(threads ?? cores) threads)" : "")
            + "; \(warmup) warm-up + \(steps) timed steps, best of \(rounds) interleaved rounds")
        for d in devices { log("  \(d): \(try Device.named(d).deviceDescription)") }
        let sgemm = try measureSGEMM()
        log(String(format: "  OpenBLAS SGEMM 1024³: %.1f GFLOP/s (the ceiling for GEMM-bound configs)", sgemm))
        if devices.contains("cpu"), CPUBackend.blockedGEMMAvailable {
            log(String(format: "  blocked SGEMM 1024³: %.1f GFLOP/s (RECURRENT_CPU_GEMM=blocked)", try measureSGEMM(engine: .blocked)))
        }

        var results: [Measurement] = []
        var rows: [[String]] = []
        var pytorch: [String: Measurement] = [:]
        // Per "variant config|baseline config" and backend: the step-time ratios of the variant over
        // its baseline (the plain cell; also layer norm alone for layer norm with zoneout or a
        // projection) from paired children (PairedSteps.swift), one per round, pooled.
        var pairedRatios: [String: [String: [Double]]] = [:]
        for c in configs {
            var agrees: Bool? = nil
            if !noCheck {
                let a = try checkAgreement(c, devices: devices)
                agrees = a.agrees
                log("\(c.label): \(a.agrees ? "backends agree" : "BACKENDS DISAGREE"): \(a.summary)")
            }
            // Rounds interleave the backends and PyTorch so that all see the same machine; a
            // shared VM drifts by tens of percent over minutes. The fastest round of each counts.
            var best: [String: Measurement] = [:]
            func keep(_ m: Measurement) {
                if let b = best[m.backend], b.step_ms_median <= m.step_ms_median { return }
                best[m.backend] = m
            }
            let partners = c.variant == .plain ? [] : c.costBaselines.filter(configs.contains)
            for _ in 0..<max(rounds, 1) {
                for d in devices {
                    keep(try measureInChildProcess(c, device: d, warmup: warmup, steps: steps))
                    for partner in partners {
                        let timing = try measurePairInChildProcess(c, partner, device: d, warmup: warmup, steps: steps)
                        pairedRatios[c.text + "|" + partner.text, default: [:]][d, default: []] += timing.ratios
                    }
                }
                if withPytorch {
                    let p = try measurePyTorch([c], script: pytorchScript, warmup: warmup, steps: steps, threads: threads ?? cores)
                    if var m = p[c.text] {
                        m.config = c.text
                        keep(m)
                    }
                }
            }
            var ours: [Measurement] = devices.compactMap { best[$0] }
            for k in ours.indices { ours[k].agrees = agrees }
            if let p = best["pytorch"] { pytorch[c.text] = p }
            results += ours
            if let p = pytorch[c.text] { results.append(p) }
            for m in ours + (pytorch[c.text].map { [$0] } ?? []) {
                var row = [c.cellText + " " + c.size, m.backend,
                           String(format: "%.2f", m.step_ms_median),
                           String(format: "%.2f–%.2f", m.step_ms_min, m.step_ms_max),
                           String(format: "%.0f", m.sequences_per_s), String(format: "%.1f", m.gflops),
                           String(format: "%.0f", m.peak_mem_mb),
                           m.launches_per_step.map { String(format: "%.0f", $0) } ?? "n/a"]
                row.append(m.backend == ours[0].backend ? "" : String(format: "%.2f×", ours[0].step_ms_median / m.step_ms_median))
                if let p = pytorch[c.text], m.backend != "pytorch" {
                    row.append(String(format: "%.2f×", p.step_ms_median / m.step_ms_median))
                } else {
                    row.append("")
                }
                rows.append(row)
            }
        }
        if json {
            let report = BenchReport(sgemm_gflops: sgemm, cores: cores, results: results)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(data: try encoder.encode(report), encoding: .utf8)!)
        } else {
            printTable(header: ["config", "backend", "ms/step", "min–max", "seq/s", "GFLOP/s", "peak MB", "launches/step",
                                "\(devices[0])/this", "pytorch/this"], rows: rows)
        }
        // Variable lengths cost the real tokens: each varlen step against the same batch padded.
        for v in configs where v.minimumLength != nil {
            var padded = v
            padded.minimumLength = nil
            let ratios = (devices + ["pytorch"]).compactMap { d -> String? in
                guard let a = results.first(where: { $0.backend == d && $0.config == v.text }),
                      let p = results.first(where: { $0.backend == d && $0.config == padded.text }) else { return nil }
                return String(format: "%@ %.2f×", d, a.step_ms_median / p.step_ms_median)
            }
            if !ratios.isEmpty {
                log(String(format: "%@: step time over the same batch padded (%.0f%% real tokens): ", v.label, 100 * v.tokenFraction)
                    + ratios.joined(separator: ", "))
            }
        }
        printVariantCosts(configs, results, pairedRatios: pairedRatios, devices: devices, log: log)
    }

    private func selectedConfigs() throws -> [BenchConfig] {
        if !config.isEmpty { return try config.map(BenchConfig.init(parsing:)) }
        let cellList = try cells.split(separator: ",").map { name -> RecurrentCell in
            guard let cell = RecurrentCell(rawValue: String(name)) else {
                throw ValidationError("unknown cell '\(name)': expected lstm, gru, rnn_tanh or rnn_relu")
            }
            return cell
        }
        var sizeList = sizes.split(separator: ",").map(String.init)
        if let bad = sizeList.first(where: { !["small", "medium", "large", "varlen", "variants"].contains($0) }) {
            throw ValidationError("unknown size '\(bad)': expected small, medium, large, varlen or variants")
        }
        if quick { sizeList.removeAll { $0 == "large" } }
        let grid = BenchConfig.grid(cells: cellList, sizes: sizeList)
        guard !grid.isEmpty else { throw ValidationError("no configuration selected") }
        return grid
    }

    private func selectedDevices() throws -> [String] {
        if let backends {
            let names = backends.split(separator: ",").map(String.init)
            for n in names { _ = try Device.named(n) }   // a device that cannot open is an error here
            return names
        }
        return ["cpu", "opencl"].filter { (try? Device.named($0)) != nil }
    }
}

/// Everything `--json` prints.
struct BenchReport: Codable {
    var sgemm_gflops: Double
    var cores: Int
    var results: [Measurement]
}

/// Prints rows under a header, columns padded to their widest cell.
func printTable(header: [String], rows: [[String]]) {
    let all = [header] + rows
    let widths = header.indices.map { i in all.map { $0.indices.contains(i) ? $0[i].count : 0 }.max() ?? 0 }
    for (n, row) in all.enumerated() {
        print(row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
            .joined(separator: "  "))
        if n == 0 { print(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
    }
}
