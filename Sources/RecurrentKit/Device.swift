// Device selection by name and by the RECURRENT_DEVICE environment variable.
import CPUBackend
import Foundation

/// Picks the backend that runs a model.
///
/// Names: `auto` (the default: the first OpenCL GPU or accelerator when an OpenCL backend is
/// available, else the CPU), `cpu`, `opencl` (the first OpenCL device of any type) and
/// `opencl:P:D` (platform P, device D).
public enum Device {
    /// The environment variable that names the device.
    public static let environmentVariable = "RECURRENT_DEVICE"

    /// The shared CPU backend.
    public static let cpu: CPUBackend = CPUBackend()

    /// The shared backend for a device name (one per device and process). Throws
    /// `.deviceUnavailable` naming the request and the devices that exist.
    public static func named(_ spec: String) throws -> any Backend {
        try open(spec, shared: true)
    }

    /// A new backend of its own for a device name (its own memory cache and counters), for
    /// isolating measurements; otherwise as `named(_:)`.
    public static func makeBackend(_ spec: String) throws -> any Backend {
        try open(spec, shared: false)
    }

    private static func open(_ spec: String, shared: Bool) throws -> any Backend {
        let name = spec.trimmingCharacters(in: .whitespaces).lowercased()
        switch name {
        case "", "auto", "cpu":
            return shared ? cpu : CPUBackend()
        case _ where name == "opencl" || name.hasPrefix("opencl:"):
            throw RecurrentError.deviceUnavailable(
                requested: spec, reason: "this build has no OpenCL backend yet; available devices: cpu")
        default:
            throw RecurrentError.deviceUnavailable(
                requested: spec, reason: "expected one of auto, cpu, opencl, opencl:P:D")
        }
    }

    /// The backend named by `RECURRENT_DEVICE` (`auto` when unset).
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> any Backend {
        try named(environment[environmentVariable] ?? "auto")
    }
}
