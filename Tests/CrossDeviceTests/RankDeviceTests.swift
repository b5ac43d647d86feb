// One GPU per rank: which device `opencl` and `auto` mean for each local rank of an MPI job,
// on fake device lists (no GPU needed), and what the launchers' variables may hold.

import OpenCLBackend
import RecurrentKit
import Testing

@Suite struct RankDeviceTests {
    @Test func ranksTakeTheirNodesGPUsRoundRobin() {
        // A CPU platform listed first, then four GPUs: ranks 0…5 take GPUs 1, 2, 3, 4, 1, 2.
        let node: [OpenCLDeviceKind] = [.cpu, .gpu, .gpu, .gpu, .gpu]
        #expect((0..<6).map { OpenCLDevices.rankDeviceIndex(kinds: node, localRank: $0) } == [1, 2, 3, 4, 1, 2])
        // Accelerators count as GPUs; other kinds are skipped.
        #expect(OpenCLDevices.rankDeviceIndex(kinds: [.gpu, .other, .accelerator], localRank: 1) == 2)
        // One GPU, none, or no rank: the usual choice stands (nil).
        #expect(OpenCLDevices.rankDeviceIndex(kinds: [.cpu, .gpu], localRank: 1) == nil)
        #expect(OpenCLDevices.rankDeviceIndex(kinds: [.cpu, .cpu], localRank: 1) == nil)
        #expect(OpenCLDevices.rankDeviceIndex(kinds: node, localRank: nil) == nil)
        #expect(OpenCLDevices.rankDeviceIndex(kinds: [], localRank: 0) == nil)
    }

    @Test func localRankComesFromTheLauncher() throws {
        #expect(try OpenCLDevices.localRank(in: [:]) == nil)
        #expect(try OpenCLDevices.localRank(in: ["OMPI_COMM_WORLD_LOCAL_RANK": "3", "SLURM_LOCALID": "1"]) == 3)
        #expect(try OpenCLDevices.localRank(in: ["MPI_LOCALRANKID": "2"]) == 2)
        #expect(try OpenCLDevices.localRank(in: ["SLURM_LOCALID": "0"]) == 0)
        for bad in ["", "-1", "two"] {
            let error = try #require(throws: RecurrentError.self) {
                try OpenCLDevices.localRank(in: ["OMPI_COMM_WORLD_LOCAL_RANK": bad])
            }
            #expect("\(error)".contains("OMPI_COMM_WORLD_LOCAL_RANK") && "\(error)".contains("'\(bad)'"), "\(error)")
        }
    }
}
