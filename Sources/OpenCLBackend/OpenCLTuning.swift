// Tuning values of the kernels, per device (CLBlast's style): passed as -D defines when the
// program is built, never written into the kernels, plus the time-loop choices the host makes.
import Foundation
import RecurrentCore

/// How the OpenCL backend runs the time steps of a recurrent layer.
public enum OpenCLTimeLoop: String, Sendable, CaseIterable {
    /// The shared per-step loop: per step a product with W_hh (CLBlast, or `packed_product` where the
    /// table says) and the cell kernel; two launches per step and more with projections.
    case gemm
    /// One launch per step (Kernels/time_loop.cl): the recurrent product fused with the cell.
    case fused
    /// One launch per layer and direction (Kernels/persistent.cl) where `OpenCLBackend.persistentChoice`
    /// allows it, otherwise `fused`.
    case persistent

    /// The variable that overrides the table's choice: `gemm`, `fused` or `persistent`.
    public static let environmentVariable = "RECURRENT_OPENCL_TIME_LOOP"
}

/// The tuning values one device's program is built with.
public struct OpenCLTuning: Sendable, Equatable {
    /// Work-items per group of the one-dimensional kernels (`-D WORK_GROUP_SIZE`).
    public var workGroupSize: Int
    /// Whether the per-step loop's products with W_hh use our kernel over a copy laid out
    /// once per sequence (`packed_product`) instead of CLBlast. On PoCL's CPU devices CLBlast's
    /// time per call hardly shrinks with the active batch (its tiles pad the rows), so packed
    /// variable-length batches saved little; GPUs keep CLBlast until measured there.
    public var packedProducts: Bool = false
    /// The time loop recurrent layers use.
    public var timeLoop: OpenCLTimeLoop = .fused
    /// Fused step kernels: hidden units × batch rows per work-group, and the length of the chunks
    /// of a dot product staged in local memory (`-D STEP_UNITS`, `STEP_ROWS`, `STEP_K`).
    public var stepUnits = 16, stepRows = 4, stepK = 32
    /// Persistent kernels: work-items per group and W_hh floats a group keeps in local memory
    /// (`-D PERSIST_GROUP`, `PERSIST_LOCAL_FLOATS`).
    public var persistentGroupSize = 128, persistentLocalFloats = 6144
    /// The persistent mode's cut-offs: the largest batch and hidden size it runs.
    public var persistentMaxBatch = 0, persistentMaxHidden = 0
    /// Work-groups of the persistent kernels each compute unit is taken to hold at once; 0 where
    /// the device does not guarantee that groups of one launch make progress together (PoCL runs
    /// groups on a pool of threads), which leaves a single group, needing no device-wide barrier.
    public var residentGroupsPerComputeUnit = 0
    /// Whether every group must hold its whole W_hh slice in local memory (GPUs: otherwise the mode
    /// is not worth it); where false, what does not fit is read from global memory.
    public var persistentNeedsWholeSlice = true
    /// Inline-PTX `membar.gl` in the device-wide barrier's fences (`-D RECURRENT_PTX_FENCES`): only on NVIDIA.
    public var ptxFences = false
    /// CLBlast kernel parameters set for the device when a backend opens it, before any GEMM:
    /// the table's, then those of the tuner files `RECURRENT_CLBLAST_TUNING` names (later sets of
    /// a kernel replace earlier ones). Empty: CLBlast's own database.
    public var clblast: [CLBlastParameters] = []
    /// Whether these values were measured on the device family; false: chosen from the hardware's
    /// documented limits and not yet timed there.
    public var measured = false
    /// Layer-norm kernels: the most work-items of a group, which holds one row (or several narrow
    /// ones) and strides over its units (Kernels/layer_norm_cell.cl); a power of two, at most 256.
    public var layerNormGroupSize = 128

    /// The build options carrying these values.
    var defines: [String] {
        ["-D WORK_GROUP_SIZE=\(workGroupSize)", "-D STEP_UNITS=\(stepUnits)", "-D STEP_ROWS=\(stepRows)",
         "-D STEP_K=\(stepK)", "-D PERSIST_GROUP=\(persistentGroupSize)", "-D PERSIST_LOCAL_FLOATS=\(persistentLocalFloats)"]
            + (ptxFences ? ["-D RECURRENT_PTX_FENCES"] : [])
    }

    /// The table: the first entry whose vendor or name fragment matches the device, else the
    /// default entry. One-dimensional groups: warps of 32 and wavefronts of 64 fill well at 256;
    /// PoCL's CPU devices vectorise work-item loops, where 64 is enough. Step tiles: 32 units × 8
    /// rows (256 work-items, 9 KiB of local memory) on NVIDIA; the persistent mode there for
    /// batches up to 8 with a whole W_hh slice in 40 KiB of a group's local memory (48 KiB static
    /// limit), one group per SM, barrier fences with `membar.gl` (Sorensen et al. 2016 found that
    /// combination free of deadlock on NVIDIA when the groups are all resident). Layer-norm groups
    /// of up to 256 on GPUs (a row of H = 128 per group of 128); 16 on PoCL, where 1 to 16 time
    /// alike and 64 and 256 cost 12% and 34% more on a layer-normalised LSTM's training step. The
    /// GPU entries are not measured yet.
    public static let table: [(fragment: String, kind: OpenCLDeviceKind?, tuning: OpenCLTuning)] = [
        ("NVIDIA", .gpu, OpenCLTuning(workGroupSize: 256, timeLoop: .persistent, stepUnits: 32, stepRows: 8, stepK: 16,
                                      persistentGroupSize: 256, persistentLocalFloats: 10240, persistentMaxBatch: 8,
                                      persistentMaxHidden: 1024, residentGroupsPerComputeUnit: 1, ptxFences: true,
                                      layerNormGroupSize: 256)),
        ("Advanced Micro Devices", .gpu, OpenCLTuning(workGroupSize: 256, stepUnits: 32, stepRows: 8, stepK: 16,
                                                      layerNormGroupSize: 256)),
        ("Intel", .gpu, OpenCLTuning(workGroupSize: 128)),
        ("Portable Computing Language", .cpu,
         OpenCLTuning(workGroupSize: 64, packedProducts: true, timeLoop: .fused, stepUnits: 16, stepRows: 4, stepK: 64,
                      persistentGroupSize: 64, persistentLocalFloats: 1 << 18, persistentMaxBatch: 64, persistentMaxHidden: 1024,
                      persistentNeedsWholeSlice: false, measured: true, layerNormGroupSize: 16)),
    ]

    /// The default entry, for devices the table does not name: small groups and tiles any GPU
    /// holds (9 KiB and 24 KiB of local memory), no persistent mode.
    public static let fallback = OpenCLTuning(workGroupSize: 128)

    /// The variable that overrides the table's `layerNormGroupSize`: a power of two from 1 to 256.
    public static let layerNormGroupVariable = "RECURRENT_OPENCL_LAYER_NORM_GROUP"

    /// The tuning for `device`, limited to what the device allows, with the time loop and packed
    /// products as `environment` asks. `RECURRENT_PACKED_WEIGHTS=0` turns `packedProducts` off, as it
    /// turns off the CPU backend's packed weights, and takes the per-step `gemm` loop: the time loop
    /// then takes the per-step CLBlast branch, on any device. `RECURRENT_OPENCL_TIME_LOOP` (gemm, fused
    /// or persistent) chooses the loop over both the table and that; another value is an error.
    /// `RECURRENT_CLBLAST_TUNING` adds CLBlast parameter sets (see `CLBlastParameters`);
    /// `RECURRENT_OPENCL_LAYER_NORM_GROUP` sets `layerNormGroupSize`.
    public static func `for`(_ device: OpenCLDeviceInfo,
                             environment: [String: String] = ProcessInfo.processInfo.environment) throws -> OpenCLTuning {
        let entry = table.first { entry in
            (entry.kind == nil || entry.kind == device.kind)
                && [device.vendor, device.name, device.platformName].contains { $0.contains(entry.fragment) }
        }
        var tuning = entry?.tuning ?? fallback
        // The largest power of two the device allows, if the table asks for more.
        let largest = max(device.maxWorkGroupSize, 1)
        while tuning.workGroupSize > largest { tuning.workGroupSize /= 2 }
        while tuning.persistentGroupSize > largest { tuning.persistentGroupSize /= 2 }
        while tuning.layerNormGroupSize > largest { tuning.layerNormGroupSize /= 2 }
        while tuning.stepUnits * tuning.stepRows > largest {
            if tuning.stepRows > 1 { tuning.stepRows /= 2 } else { tuning.stepUnits /= 2 }
        }
        // Where the persistent kernels' local block only caches part of W_hh (PoCL, whose local
        // memory is the CPU's L2: 1 MB and more on a Xeon, 512 KB on an AMD EPYC), half as many
        // floats until the block fits the device.
        if !tuning.persistentNeedsWholeSlice {
            while tuning.persistentLocalFloats > 1024 && tuning.persistentLocalFloats * 4 > device.localMemoryBytes {
                tuning.persistentLocalFloats /= 2
            }
        }
        if environment["RECURRENT_PACKED_WEIGHTS"] == "0" {
            tuning.packedProducts = false
            tuning.timeLoop = .gemm
        }
        tuning.clblast += try CLBlastParameters.fromEnvironment(environment)
        if let value = environment[layerNormGroupVariable] {
            guard let size = Int(value), size >= 1, size <= 256, size & (size - 1) == 0 else {
                throw RecurrentError.invalidArgument(name: layerNormGroupVariable, expected: "a power of two from 1 to 256",
                                                     got: "'\(value)'")
            }
            tuning.layerNormGroupSize = size
        }
        if let name = environment[OpenCLTimeLoop.environmentVariable] {
            guard let loop = OpenCLTimeLoop(rawValue: name) else {
                throw RecurrentError.invalidArgument(name: OpenCLTimeLoop.environmentVariable,
                                                     expected: "gemm, fused or persistent", got: "'\(name)'")
            }
            tuning.timeLoop = loop
        }
        return tuning
    }
}
