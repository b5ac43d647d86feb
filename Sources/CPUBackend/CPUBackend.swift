// The CPU backend: OpenBLAS for GEMM, plain Swift loops over unsafe pointers for the rest.
import COpenBLAS
import Foundation
import RecurrentCore

/// Host memory owned by a `CPUBackend`, 64-byte aligned, returned to the backend's cache on release.
public final class CPUBuffer: DeviceBuffer, @unchecked Sendable {
    // @unchecked: the block is owned by this object alone and never reallocated; concurrent
    // access to the contents is the caller's business, as with any device memory.
    /// Number of floats.
    public let count: Int
    let base: UnsafeMutablePointer<Float>
    private let lease: BlockLease<HostBlock>
    private let cache: BufferCache

    init(count: Int, lease: BlockLease<HostBlock>, cache: BufferCache) {
        self.count = count
        self.base = lease.segment.pointer + lease.offset / MemoryLayout<Float>.stride
        self.lease = lease
        self.cache = cache
    }

    deinit { cache.recycle(lease, requested: count * MemoryLayout<Float>.stride) }
}

/// A host segment from `posix_memalign`.
public struct HostBlock: @unchecked Sendable {
    // @unchecked: a raw pointer owned by the cache, pieces of it by buffers.
    let pointer: UnsafeMutablePointer<Float>
}

/// The CPU backend's caching allocator: 64-byte aligned host segments.
typealias BufferCache = BlockCache<HostBlock>

extension BlockCache where Segment == HostBlock {
    /// A cache whose segments go back to the system with `free`, keeping at most
    /// `MemoryLimits.defaultCachedFraction` of physical memory cached.
    static func host() -> BlockCache<HostBlock> {
        let limits = MemoryLimits(cachedFraction: MemoryLimits.defaultCachedFraction,
                                  of: Int(clamping: ProcessInfo.processInfo.physicalMemory))
        return BlockCache(limits: limits, alignment: 64) { Foundation.free($0.pointer) }
    }

    /// A 64-byte aligned block of `bytes`, or nil when the system has no memory for it.
    func take(bytes: Int) -> BlockLease<HostBlock>? {
        take(bytes: bytes) { segmentBytes -> HostBlock? in
            var raw: UnsafeMutableRawPointer? = nil
            guard posix_memalign(&raw, 64, segmentBytes) == 0, let raw else { return nil }
            return HostBlock(pointer: raw.bindMemory(to: Float.self, capacity: segmentBytes / MemoryLayout<Float>.stride))
        }
    }
}

/// The CPU backend: OpenBLAS SGEMM and vectorisable Swift loops, fp32 throughout.
public final class CPUBackend: Backend {
    public let name = "cpu"
    let cache = BufferCache.host()
    /// The threads `runConcurrently` and large GEMMs split their work over.
    let workers = WorkerTeam(threads: coreCount)

    /// Whether the recurrent time loop multiplies by weights packed once per sequence (AVX2/FMA
    /// CPUs; `RECURRENT_PACKED_WEIGHTS=0` turns it off, for comparisons).
    public let usesPackedProducts: Bool

    /// Which SGEMM computes `gemm` (default: `RECURRENT_CPU_GEMM`, else per shape the faster one).
    public let gemmEngine: CPUGEMMEngine

    /// How the forward-only time loop shares a pass between the threads (default:
    /// `RECURRENT_FORWARD_SPLIT`, else by the weights' size).
    public let forwardSplit: CPUForwardSplit
    /// Forward passes whose time loop ran split by units (`unitSplitPasses`).
    let unitSplitCount = Locked(0)

    /// How many row blocks the fused time loops cut the batch into (StepQueue.swift).
    public let stepBlocks: CPUStepBlocks

    /// Creates a CPU backend. The backend runs its own threads (row blocks of large GEMMs, one per
    /// core, and of the recurrent time loop, one or two per core as `stepBlocks` says, by default `RECURRENT_STEP_BLOCKS`) and sets OpenBLAS to one thread per call, so that no idle
    /// OpenBLAS worker spins on a core the time loop needs.
    public init(gemmEngine: CPUGEMMEngine = .fromEnvironment, forwardSplit: CPUForwardSplit = .fromEnvironment,
                stepBlocks: CPUStepBlocks = .fromEnvironment) {
        _ = openBLASCore
        openblas_set_num_threads(1)
        usesPackedProducts = ProcessInfo.processInfo.environment["RECURRENT_PACKED_WEIGHTS"] != "0"
        self.gemmEngine = gemmEngine
        self.forwardSplit = forwardSplit
        self.stepBlocks = stepBlocks
    }

    public var deviceDescription: String {
        "CPU (\(ProcessInfo.processInfo.activeProcessorCount) cores, \(coreCount) threads, OpenBLAS \(openBLASCore) kernels, "
            + "cell kernels \(cellKernelBuild), GEMM \(gemmDescription)" + (usesPackedProducts && packedProductsAvailable ? ", recurrent weights packed)" : ")")
    }

    /// Frees the memory kept for reuse by released tensors; returns the number of bytes freed.
    @discardableResult
    public func releaseCachedMemory() -> Int { cache.drain() }

    public func allocate(count: Int) throws -> any DeviceBuffer {
        guard count >= 0 else {
            throw RecurrentError.invalidArgument(name: "allocation size", expected: "a non-negative element count", got: "\(count)")
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
        guard !overflow, let lease = cache.take(bytes: bytes) else {
            throw RecurrentError.outOfMemory(device: name, requestedBytes: overflow ? Int.max : bytes,
                                             availableBytes: cache.availableBytes(system: HostMemory.availableBytes))
        }
        return CPUBuffer(count: count, lease: lease, cache: cache)
    }

    public func memoryStatistics() -> MemoryStatistics? { cache.statistics }

    public var memoryLimits: MemoryLimits? { cache.limits }

    public func setMemoryLimits(_ limits: MemoryLimits) { cache.setLimits(limits) }

    /// Starts a new peak measurement from the bytes in use now.
    public func resetPeakMemory() { cache.resetPeak() }

    /// The first element of `tensor`'s view, after checking it lives on this backend.
    @inline(__always)
    func pointer(_ tensor: Tensor, _ operation: @autoclosure () -> String) throws -> UnsafeMutablePointer<Float> {
        guard tensor.backend === self, let buffer = tensor.buffer as? CPUBuffer else {
            throw RecurrentError.deviceMismatch(operation: operation(), expected: name, got: tensor.backend.name)
        }
        return buffer.base + tensor.offset
    }

    /// `pointer(_:_:)` after checking the element count.
    @inline(__always)
    func pointer(_ tensor: Tensor, count: Int, _ operation: @autoclosure () -> String) throws -> UnsafeMutablePointer<Float> {
        try RecurrentError.check(operation(), count: tensor.count, equals: count)
        return try pointer(tensor, operation())
    }

    public func upload(_ values: UnsafeBufferPointer<Float>, to destination: Tensor) throws {
        let p = try pointer(destination, count: values.count, "upload")
        if let src = values.baseAddress { p.update(from: src, count: values.count) }
    }

    public func download(_ source: Tensor, into values: UnsafeMutableBufferPointer<Float>) throws {
        let p = try pointer(source, count: values.count, "download")
        if let dst = values.baseAddress { dst.update(from: p, count: values.count) }
    }

    public func copy(_ source: Tensor, to destination: Tensor) throws {
        let src = try pointer(source, "copy source")
        let dst = try pointer(destination, count: source.count, "copy destination")
        dst.update(from: src, count: source.count)
    }

    public func fill(_ destination: Tensor, with value: Float) throws {
        try pointer(destination, "fill").update(repeating: value, count: destination.count)
    }

    public func synchronize() throws {}
}
