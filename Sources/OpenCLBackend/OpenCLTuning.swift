// Tuning values of the kernels, per device (CLBlast's style): passed as -D defines when the
// program is built, never written into the kernels.
import Foundation

/// The tuning values one device's program is built with.
public struct OpenCLTuning: Sendable, Equatable {
    /// Work-items per group of the one-dimensional kernels (`-D WORK_GROUP_SIZE`).
    public var workGroupSize: Int
    /// Whether the time loop's per-step products with W_hh use our kernel over a copy laid out
    /// once per sequence (`packed_product`) instead of CLBlast. On PoCL's CPU devices CLBlast's
    /// time per call hardly shrinks with the active batch (its tiles pad the rows), so packed
    /// variable-length batches saved little; GPUs keep CLBlast until measured there.
    public var packedProducts: Bool = false

    /// The build options carrying these values.
    var defines: [String] { ["-D WORK_GROUP_SIZE=\(workGroupSize)"] }

    /// The table: the first entry whose vendor or name fragment matches the device, else the
    /// default entry. The values are the group sizes that keep every compute unit busy on
    /// each family: warps of 32 and wavefronts of 64 fill well at 256; PoCL's CPU devices
    /// vectorise work-item loops, where 64 is enough.
    static let table: [(fragment: String, kind: OpenCLDeviceKind?, tuning: OpenCLTuning)] = [
        ("NVIDIA", .gpu, OpenCLTuning(workGroupSize: 256)),
        ("Advanced Micro Devices", .gpu, OpenCLTuning(workGroupSize: 256)),
        ("Intel", .gpu, OpenCLTuning(workGroupSize: 128)),
        ("Portable Computing Language", .cpu, OpenCLTuning(workGroupSize: 64, packedProducts: true)),
    ]

    /// The default entry, for devices the table does not name.
    static let fallback = OpenCLTuning(workGroupSize: 128)

    /// The tuning for `device`, limited to what the device allows. `RECURRENT_PACKED_WEIGHTS=0` in
    /// `environment` turns `packedProducts` off, as it turns off the CPU backend's packed weights:
    /// the time loop then takes the per-step CLBlast `gemm` branch that GPUs take, on any device.
    public static func `for`(_ device: OpenCLDeviceInfo,
                             environment: [String: String] = ProcessInfo.processInfo.environment) -> OpenCLTuning {
        let entry = table.first { entry in
            (entry.kind == nil || entry.kind == device.kind)
                && [device.vendor, device.name, device.platformName].contains { $0.contains(entry.fragment) }
        }
        var tuning = entry?.tuning ?? fallback
        // The largest power of two the device allows, if the table asks for more.
        while tuning.workGroupSize > max(device.maxWorkGroupSize, 1) { tuning.workGroupSize /= 2 }
        if environment["RECURRENT_PACKED_WEIGHTS"] == "0" { tuning.packedProducts = false }
        return tuning
    }
}
