// Data-parallel training over MPI: every rank holds the whole model, trains on its shard of
// each global batch, and the gradients are averaged with one MPI_Allreduce over a single fused
// host buffer before clipping and the (identical) optimizer step on every rank. The host buffer
// is filled with one download per flat span of parameters (one for a flattened model).
import CMPI
import Foundation
import RecurrentKit

/// The MPI world this process belongs to, as a `GradientReducer`.
///
/// Run the same program under `mpirun -np N`; every rank builds the same model, calls
/// `broadcastParameters` once, sets `trainer.gradientReducer` to this object, and trains on
/// `shard(of:)` of each global batch. Only rank 0 should write checkpoints (`isRoot`).
public final class MPIDataParallel: GradientReducer {
    /// This process's rank, 0..<size.
    public let rank: Int
    /// Number of ranks.
    public let size: Int
    /// Whether this is rank 0 (the one that writes checkpoints and prints).
    public var isRoot: Bool { rank == 0 }
    public var workerCount: Int { size }
    public var workerIndex: Int { rank }

    /// Joins the MPI world (MPI_Init once per process); errors become Swift errors.
    public init() throws {
        try MPIDataParallel.check(rk_mpi_init(), "MPI_Init")
        var rank: Int32 = 0, size: Int32 = 0
        try MPIDataParallel.check(rk_mpi_rank(&rank), "MPI_Comm_rank")
        try MPIDataParallel.check(rk_mpi_size(&size), "MPI_Comm_size")
        self.rank = Int(rank)
        self.size = Int(size)
    }

    /// Whether this process was started by `mpirun`/`mpiexec` (Open MPI's or a PMI launcher's
    /// environment) in a world of more than one process.
    public static var isLaunchedInParallel: Bool {
        let environment = ProcessInfo.processInfo.environment
        let size = environment["OMPI_COMM_WORLD_SIZE"] ?? environment["PMI_SIZE"] ?? environment["PMIX_SIZE"]
        return (size.flatMap { Int($0) } ?? 1) > 1
    }

    /// The MPI world when launched in parallel (see `isLaunchedInParallel`), else nil: lets one
    /// program run alone or under `mpirun` unchanged.
    public static func joinIfLaunched() throws -> MPIDataParallel? {
        isLaunchedInParallel ? try MPIDataParallel() : nil
    }

    /// Leaves the MPI world (MPI_Finalize). Call once, at the end of the program.
    public func finish() throws { try MPIDataParallel.check(rk_mpi_finalize(), "MPI_Finalize") }

    /// Waits for every rank.
    public func barrier() throws { try MPIDataParallel.check(rk_mpi_barrier(), "MPI_Barrier") }

    /// Copies rank 0's parameters to every rank (one broadcast of one fused buffer).
    public func broadcastParameters(_ module: any Module) throws {
        let spans = try Parameter.spans(of: module.parameters)
        var buffer = try pack(spans.map(\.value))
        try buffer.withUnsafeMutableBufferPointer { b in
            try forEachChunk(b) { try MPIDataParallel.check(rk_mpi_broadcast_float($0, $1, 0), "MPI_Bcast") }
        }
        try unpack(buffer, into: spans.map(\.value), scale: 1)
    }

    public func averageGradients(_ parameters: [Parameter]) throws {
        guard size > 1 else { return }
        let gradients = try Parameter.spans(of: parameters).map(\.gradient)
        var buffer = try pack(gradients)
        try buffer.withUnsafeMutableBufferPointer { b in
            try forEachChunk(b) { try MPIDataParallel.check(rk_mpi_allreduce_sum_float($0, $1), "MPI_Allreduce") }
        }
        try unpack(buffer, into: gradients, scale: 1 / Float(size))
    }

    public func sum(_ value: Double) throws -> Double {
        var v = value
        try MPIDataParallel.check(rk_mpi_allreduce_sum_double(&v, 1), "MPI_Allreduce")
        return v
    }

    /// This rank's contiguous share of `items` (a global batch): equal shares, so the average of
    /// the ranks' mean-loss gradients is the gradient of the global batch's mean loss. Throws
    /// unless the count divides evenly.
    public func shard<T>(of items: [T]) throws -> [T] {
        guard items.count % size == 0, !items.isEmpty else {
            throw RecurrentError.invalidArgument(name: "global batch", expected: "a positive multiple of \(size) items (one share per rank)",
                                                 got: "\(items.count) items")
        }
        let share = items.count / size
        return Array(items[(rank * share)..<((rank + 1) * share)])
    }

    // MARK: Fused host buffer

    private func pack(_ tensors: [Tensor]) throws -> [Float] {
        var buffer: [Float] = []
        buffer.reserveCapacity(tensors.reduce(0) { $0 + $1.count })
        for t in tensors { buffer += try t.toArray() }
        return buffer
    }

    private func unpack(_ buffer: [Float], into tensors: [Tensor], scale: Float) throws {
        var offset = 0
        for t in tensors {
            let part = buffer[offset..<(offset + t.count)]
            try t.assign(HostTensor(shape: t.shape, values: scale == 1 ? Array(part) : part.map { $0 * scale }))
            offset += t.count
        }
    }

    /// MPI counts are 32-bit: large buffers go in chunks.
    private func forEachChunk(_ b: UnsafeMutableBufferPointer<Float>, _ body: (UnsafeMutablePointer<Float>, Int32) throws -> Void) throws {
        var start = 0
        while start < b.count {
            let n = min(b.count - start, Int(Int32.max))
            try body(b.baseAddress! + start, Int32(n))
            start += n
        }
    }

    private static func check(_ status: Int32, _ call: String) throws {
        guard status != 0 else { return }
        var text = [CChar](repeating: 0, count: 512)
        var length: Int32 = 0
        rk_mpi_error_string(status, &text, &length)
        let message = String(decoding: text.prefix(Int(max(length, 0))).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw RecurrentError.invalidState("\(call) failed: \(message) (MPI error \(status))")
    }
}
