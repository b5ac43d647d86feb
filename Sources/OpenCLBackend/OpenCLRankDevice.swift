// One GPU per rank: when several ranks of an MPI job share a node with several GPUs, a process
// that asks for `opencl` (or `auto`) without naming a device takes the GPU of its local rank.
import RecurrentCore

extension OpenCLDevices {
    /// The environment variables that carry a process's rank on its node, in the order they are
    /// read: Open MPI's `mpirun`, MPICH's and Intel MPI's, Slurm's `srun`.
    public static let localRankVariables = ["OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"]

    /// This process's rank on its node, from the first of `localRankVariables` that is set; nil
    /// when none is (not started by a parallel launcher). Throws `.deviceUnavailable` when the
    /// variable holds no non-negative integer.
    public static func localRank(in environment: [String: String]) throws -> Int? {
        for variable in localRankVariables {
            guard let text = environment[variable] else { continue }
            guard let rank = Int(text), rank >= 0 else {
                throw RecurrentError.deviceUnavailable(
                    requested: "opencl", reason: "\(variable) should be a local rank (an integer ≥ 0), got '\(text)'")
            }
            return rank
        }
        return nil
    }

    /// The index into `kinds` (the devices in listing order) of the device local rank
    /// `localRank` takes: with two or more GPUs or accelerators on the node, number
    /// `localRank % count` of them (ranks beyond the count share, round robin); nil when the rank
    /// is unknown or the node has fewer than two, so that the usual choice stands.
    public static func rankDeviceIndex(kinds: [OpenCLDeviceKind], localRank: Int?) -> Int? {
        guard let localRank else { return nil }
        let accelerators = kinds.indices.filter { kinds[$0] == .gpu || kinds[$0] == .accelerator }
        guard accelerators.count >= 2 else { return nil }
        return accelerators[localRank % accelerators.count]
    }

    /// `rankDeviceIndex` over real devices: the device of local rank `localRank`, or nil.
    public static func rankDevice(among devices: [OpenCLDeviceInfo], localRank: Int?) -> OpenCLDeviceInfo? {
        rankDeviceIndex(kinds: devices.map(\.kind), localRank: localRank).map { devices[$0] }
    }
}
