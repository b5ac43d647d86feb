// Before timing: one training step's loss, outputs and every gradient must agree across
// the backends, and each backend must agree with the plain-Swift reference.
import RecurrentKit
import ReferenceBackend

/// The outcome of comparing backends on one configuration.
struct Agreement {
    /// Whether every compared tensor was within tolerance.
    var agrees: Bool
    /// The largest normwise difference seen, max|a − e| / max|e|.
    var worstRelative: Double
    /// What was compared, and the worst tensor.
    var summary: String
}

/// Compares one forward/backward of `config` on each device with the first device, and each
/// device with the reference backend on a shortened copy (T ≤ 3, B ≤ 4; the naive reference
/// would take minutes on the full size). A tensor agrees when max|a − e| ≤ 1e-5 + 1e-4·max|e|.
func checkAgreement(_ config: BenchConfig, devices: [String]) throws -> Agreement {
    var worst = (relative: 0.0, what: "")
    var agrees = true
    func compare(_ a: [String: [Float]], _ e: [String: [Float]], _ what: String) {
        for (name, expected) in e {
            guard let actual = a[name], actual.count == expected.count else {
                agrees = false
                worst = (.infinity, "\(what) \(name): missing or wrong size")
                continue
            }
            let scale = Double(expected.map { abs($0) }.max() ?? 0)
            let diff = Double(zip(actual, expected).map { abs($0 - $1) }.max() ?? 0)
            if !(diff <= 1e-5 + 1e-4 * scale) { agrees = false }
            let relative = diff / max(scale, 1e-30)
            if relative > worst.relative || relative.isNaN { worst = (relative, "\(what) \(name)") }
        }
    }
    var short = config
    short.t = min(config.t, config.minimumLength == nil ? 3 : 6)
    short.b = min(config.b, config.minimumLength == nil ? 4 : 6)
    if config.minimumLength != nil { short.minimumLength = 1 }
    let reference = try oneStep(short, on: ReferenceBackend())
    var first: [String: [Float]]? = nil
    for device in devices {
        let backend = try Device.named(device)
        compare(try oneStep(short, on: backend), reference, "\(device) vs reference (T\(short.t) B\(short.b))")
        let full = try oneStep(config, on: backend)
        if let first { compare(full, first, "\(device) vs \(devices[0])") } else { first = full }
    }
    let pairs = devices.count > 1 ? "\(devices.joined(separator: " vs ")) and each vs reference" : "\(devices[0]) vs reference"
    return Agreement(agrees: agrees, worstRelative: worst.relative,
                     summary: "\(pairs): worst \(String(format: "%.1e", worst.relative)) (\(worst.what))")
}

/// Loss, output, input gradient and every parameter gradient after one forward/backward.
private func oneStep(_ config: BenchConfig, on backend: any Backend) throws -> [String: [Float]] {
    let step = try TrainingStep(config, on: backend, needsInputGradient: true)
    let (loss, output, gradInput) = try step.forwardBackward()
    var result = ["loss": try loss.toArray(), "output": try output.toArray()]
    if let gradInput { result["grad.input"] = try gradInput.toArray() }
    for (name, p) in step.network.namedParameters { result["grad.\(name)"] = try p.gradient.toArray() }
    return result
}
