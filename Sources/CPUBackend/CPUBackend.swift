// The CPU backend: OpenBLAS for GEMM, plain Swift loops over unsafe pointers for the rest.
import COpenBLAS
import Foundation
import RecurrentCore

/// Host memory owned by a `CPUBackend`, 64-byte aligned, returned to the backend's cache on release.
public final class CPUBuffer: DeviceBuffer, @unchecked Sendable {
    // @unchecked: the pointer is owned by this object alone and never reallocated; concurrent
    // access to the contents is the caller's business, as with any device memory.
    /// Number of floats.
    public let count: Int
    let base: UnsafeMutablePointer<Float>
    private let cache: BufferCache

    init(count: Int, base: UnsafeMutablePointer<Float>, cache: BufferCache) {
        self.count = count
        self.base = base
        self.cache = cache
    }

    deinit { cache.recycle(HostBlock(pointer: base), count: count) }
}

/// A host block from `posix_memalign`.
struct HostBlock: @unchecked Sendable {
    // @unchecked: a raw pointer owned by exactly one buffer or by the cache.
    let pointer: UnsafeMutablePointer<Float>
}

/// The CPU backend's caching allocator: 64-byte aligned host blocks.
typealias BufferCache = BlockCache<HostBlock>

extension BlockCache where Block == HostBlock {
    /// A cache whose blocks go back to the system with `free`.
    static func host() -> BlockCache<HostBlock> { BlockCache { Foundation.free($0.pointer) } }

    /// A 64-byte aligned block of `count` floats, or nil when the system has no memory for it.
    func take(count: Int) -> UnsafeMutablePointer<Float>? {
        take(count: count) { count -> HostBlock? in
            var raw: UnsafeMutableRawPointer? = nil
            guard posix_memalign(&raw, 64, max(count * MemoryLayout<Float>.stride, 1)) == 0, let raw else { return nil }
            return HostBlock(pointer: raw.bindMemory(to: Float.self, capacity: max(count, 1)))
        }?.pointer
    }
}

/// The CPU backend: OpenBLAS SGEMM and vectorisable Swift loops, fp32 throughout.
public final class CPUBackend: Backend {
    public let name = "cpu"
    let cache = BufferCache.host()

    /// Creates a CPU backend. The backend runs its own threads (row blocks of large GEMMs and of the
    /// recurrent time loop, one per core) and sets OpenBLAS to one thread per call, so that no idle
    /// OpenBLAS worker spins on a core the time loop needs.
    /// Whether the recurrent time loop multiplies by weights packed once per sequence (AVX2/FMA
    /// CPUs; `RECURRENT_PACKED_WEIGHTS=0` turns it off, for comparisons).
    public let usesPackedProducts: Bool

    public init() {
        openblas_set_num_threads(1)
        usesPackedProducts = ProcessInfo.processInfo.environment["RECURRENT_PACKED_WEIGHTS"] != "0"
    }

    public var deviceDescription: String {
        "CPU (\(ProcessInfo.processInfo.activeProcessorCount) cores, \(coreCount) threads, OpenBLAS"
            + (usesPackedProducts && packedProductsAvailable ? ", recurrent weights packed for AVX2/FMA)" : ")")
    }

    /// Frees the memory kept for reuse by released tensors; returns the number of bytes freed.
    @discardableResult
    public func releaseCachedMemory() -> Int { cache.drain() }

    public func allocate(count: Int) throws -> any DeviceBuffer {
        guard count >= 0 else {
            throw RecurrentError.invalidArgument(name: "allocation size", expected: "a non-negative element count", got: "\(count)")
        }
        guard count <= Int.max / MemoryLayout<Float>.stride, let base = cache.take(count: count) else {
            throw RecurrentError.outOfMemory(device: name, requestedBytes: count.multipliedReportingOverflow(by: 4).overflow ? Int.max : count * 4)
        }
        return CPUBuffer(count: count, base: base, cache: cache)
    }

    public func memoryStatistics() -> MemoryStatistics? { cache.statistics }

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
