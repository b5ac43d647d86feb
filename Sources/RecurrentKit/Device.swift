// Device selection by name and by the RECURRENT_DEVICE environment variable.
import CPUBackend
import Foundation
import OpenCLBackend
import RecurrentCore

/// Picks the backend that runs a model.
///
/// Names: `auto` (the default: the first OpenCL GPU or accelerator, else the CPU backend),
/// `cpu`, `opencl` (the first OpenCL device of any type, PoCL's CPU device included) and
/// `opencl:P:D` (platform P, device D, as `recurrent devices` lists them).
///
/// One GPU per rank: a process started by `mpirun` (or MPICH, or `srun`) on a node with two or
/// more GPUs that asks for `opencl` or `auto` takes GPU number `local rank % GPUs`
/// (`OMPI_COMM_WORLD_LOCAL_RANK`, `MPI_LOCALRANKID`, `SLURM_LOCALID`); `opencl:P:D` is always
/// that device.
public enum Device {
    /// The environment variable that names the device.
    public static let environmentVariable = "RECURRENT_DEVICE"

    /// The shared CPU backend.
    public static let cpu: CPUBackend = CPUBackend()

    /// The shared OpenCL backends of this process, by `opencl:P:D`.
    private static let openCLBackends = Locked<[String: OpenCLBackend]>([:])

    /// What `auto` means on this machine, worked out once per process.
    public static let automaticChoice: (specification: String, reason: String) = {
        do {
            let devices = try OpenCLDevices.all()
            if let gpu = OpenCLDevices.preferred(among: devices, localRank: try localRank()) {
                return (gpu.specification, "auto picked \(gpu.specification): \(gpu.name) (OpenCL \(gpu.kind.rawValue))")
            }
            let seen = devices.isEmpty ? "no OpenCL devices" : "no OpenCL GPU or accelerator (\(devices.count) other OpenCL devices)"
            return ("cpu", "auto picked cpu: \(seen)")
        } catch {
            return ("cpu", "auto picked cpu: listing OpenCL devices failed (\(error))")
        }
    }()

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

    /// The `RECURRENT_DEVICE` name `spec` stands for: `cpu` or `opencl:P:D` (`auto` and `opencl`
    /// resolved to a device of this machine).
    public static func resolve(_ spec: String) throws -> String {
        let name = spec.trimmingCharacters(in: .whitespaces).lowercased()
        switch name {
        case "", "auto": return automaticChoice.specification
        case "cpu": return "cpu"
        case _ where name == "opencl" || name.hasPrefix("opencl:"):
            return try OpenCLDevices.resolve(name, among: OpenCLDevices.all(), localRank: localRank()).specification
        default:
            throw RecurrentError.deviceUnavailable(requested: spec, reason: "expected one of auto, cpu, opencl, opencl:P:D")
        }
    }

    /// This process's rank on its node when a parallel launcher started it, else nil.
    private static func localRank() throws -> Int? {
        try OpenCLDevices.localRank(in: ProcessInfo.processInfo.environment)
    }

    private static func open(_ spec: String, shared: Bool) throws -> any Backend {
        let resolved = try resolve(spec)
        if resolved == "cpu" { return shared ? cpu : CPUBackend() }
        let device = try OpenCLDevices.resolve(resolved, among: OpenCLDevices.all())
        guard shared else { return try OpenCLBackend(device: device) }
        return try openCLBackends.withLock { backends in
            if let existing = backends[resolved] { return existing }
            let backend = try OpenCLBackend(device: device)
            backends[resolved] = backend
            return backend
        }
    }

    /// The backend named by `RECURRENT_DEVICE` (`auto` when unset).
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> any Backend {
        try named(environment[environmentVariable] ?? "auto")
    }
}
