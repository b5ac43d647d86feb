// GEMM through OpenBLAS's CBLAS interface or the backend's blocked SGEMM (BlockedGEMM.swift), row-major.
import COpenBLAS
import Dispatch
import Foundation
import RecurrentCore

/// Threads the CPU backend uses: `RECURRENT_THREADS` if set (for example 1 per MPI rank), else
/// every core available to the process.
let coreCount: Int = {
    let requested = ProcessInfo.processInfo.environment["RECURRENT_THREADS"].flatMap { Int($0) }
    return max(1, requested ?? ProcessInfo.processInfo.activeProcessorCount)
}()

extension CPUBackend {
    /// One row block per core: the recurrent time loop then runs the blocks' per-step GEMMs and
    /// cell kernels side by side, instead of splitting each small GEMM across OpenBLAS threads
    /// while the cell kernels wait on one core.
    public var batchParallelism: Int { coreCount }

    /// Runs the parts on the backend's worker team (WorkerTeam.swift), or on Dispatch's threads
    /// when the team is busy; rethrows the first error.
    public func runConcurrently(_ count: Int, _ body: @Sendable (Int) throws -> Void) throws {
        guard count > 1 else {
            for part in 0..<count { try body(part) }
            return
        }
        let errors = Locked<[any Error]>([])
        let run: @Sendable (Int) -> Void = { part in
            do { try body(part) } catch { errors.withLock { $0.append(error) } }
        }
        if !workers.run(count, run) { DispatchQueue.concurrentPerform(iterations: count, execute: run) }
        if let first = errors.withLock({ $0.first }) { throw first }
    }

    /// Runs `body` over row ranges of `rows` rows of `width` values: one range per core when there
    /// are 2^15 values or more, else one.
    func splitRows(_ rows: Int, width: Int, _ body: @Sendable (Range<Int>) -> Void) throws {
        let parts = rows * width >= 1 << 15 ? max(1, min(coreCount, rows)) : 1
        try runConcurrently(parts) { part in body((rows * part / parts)..<(rows * (part + 1) / parts)) }
    }

    public func gemm(_ c: Tensor, _ a: Tensor, _ b: Tensor, _ s: GEMMShape) throws {
        try s.validate(a: a, b: b, c: c)
        let pa = try pointer(a, "gemm A"), pb = try pointer(b, "gemm B"), pc = try pointer(c, "gemm C")
        guard s.m > 0, s.n > 0, s.batchCount > 0 else { return }
        let ta = s.transA == .none ? CblasNoTrans : CblasTrans
        let tb = s.transB == .none ? CblasNoTrans : CblasTrans
        // Large products are split by rows of C across cores, one single-threaded OpenBLAS (or
        // blocked SGEMM) call each (the backend keeps OpenBLAS to one thread: see `init`). Per-step products (few rows)
        // run whole; the time loop already runs one row block of the batch per core.
        let parts = s.m >= 256 && 2 * s.m * s.n * s.k >= 4_000_000 ? min(coreCount, s.m / 64) : 1
        let (a, b, c) = (SendablePointer(pa), SendablePointer(pb), SendablePointer(pc))
        let engine = gemmEngine
        let call: @Sendable (Int) -> Void = { part in
            let rows = (s.m * part / parts)..<(s.m * (part + 1) / parts)
            let aOffset = s.transA == .none ? rows.lowerBound * s.lda : rows.lowerBound
            let blocked = engine.usesBlocked(s)
            for i in 0..<s.batchCount {
                let (pa, pb, pc) = (a.pointer + i * s.strideA + aOffset, b.pointer + i * s.strideB,
                                    c.pointer + i * s.strideC + rows.lowerBound * s.ldc)
                if blocked, blockedGEMM(s, rows: rows.count, pa, pb, pc) { continue }
                cblas_sgemm(CblasRowMajor, ta, tb, Int32(rows.count), Int32(s.n), Int32(s.k), s.alpha,
                            pa, Int32(s.lda), pb, Int32(s.ldb), s.beta, pc, Int32(s.ldc))
            }
        }
        if parts > 1 {
            if !workers.run(parts, call) { DispatchQueue.concurrentPerform(iterations: parts, execute: call) }
        } else {
            call(0)
        }
    }
}

/// A pointer handed to worker threads that each write their own rows of it.
struct SendablePointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    init(_ pointer: UnsafeMutablePointer<Float>) { self.pointer = pointer }
}
