// A caching allocator shared by the backends: released blocks are kept by size and handed out
// again, so a training step after the first allocates nothing from the system (PyTorch's
// caching allocator, in its simplest form: exact sizes, no splitting).
import Synchronization

/// Keeps released device or host blocks by element count and hands them out again.
///
/// `Block` is the backend's handle (a host pointer, an OpenCL `cl_mem`). The cache owns free
/// blocks and gives them back to the system with `release` when drained or destroyed.
public final class BlockCache<Block: Sendable>: Sendable {
    private struct State {
        var free: [Int: [Block]] = [:]
        var statistics = MemoryStatistics(systemAllocations: 0, bytesInUse: 0, peakBytesInUse: 0, bytesReserved: 0)
    }
    private let state = Mutex(State())
    private let release: @Sendable (Block) -> Void

    /// - Parameter release: Returns a block to the system (frees or releases it).
    public init(release: @escaping @Sendable (Block) -> Void) {
        self.release = release
    }

    /// A block of `count` floats: a cached one of that size, else a new one from `allocate`. When
    /// `allocate` finds no memory (returns nil), the cache frees its blocks and asks once more;
    /// nil means the system has no memory for it.
    public func take(count: Int, allocate: (Int) throws -> Block?) rethrows -> Block? {
        let bytes = count * MemoryLayout<Float>.stride
        if let cached = state.withLock({ $0.free[count]?.popLast() }) {
            account(bytes, fromSystem: false)
            return cached
        }
        var block = try allocate(count)
        if block == nil, drain() > 0 { block = try allocate(count) }
        guard let block else { return nil }
        account(bytes, fromSystem: true)
        return block
    }

    private func account(_ bytes: Int, fromSystem: Bool) {
        state.withLock { s in
            if fromSystem {
                s.statistics.systemAllocations += 1
                s.statistics.bytesReserved += bytes
            }
            s.statistics.bytesInUse += bytes
            s.statistics.peakBytesInUse = max(s.statistics.peakBytesInUse, s.statistics.bytesInUse)
        }
    }

    /// Takes back a block of `count` floats whose buffer died.
    public func recycle(_ block: Block, count: Int) {
        state.withLock {
            $0.free[count, default: []].append(block)
            $0.statistics.bytesInUse -= count * MemoryLayout<Float>.stride
        }
    }

    /// What the cache has done so far.
    public var statistics: MemoryStatistics { state.withLock { $0.statistics } }

    /// Starts a new peak measurement from the bytes in use now.
    public func resetPeak() { state.withLock { $0.statistics.peakBytesInUse = $0.statistics.bytesInUse } }

    /// Gives every cached block back to the system; returns the bytes released.
    @discardableResult
    public func drain() -> Int {
        let all = state.withLock { s -> [Int: [Block]] in
            defer { s.free = [:] }
            return s.free
        }
        var bytes = 0
        for (count, blocks) in all {
            for block in blocks { release(block) }
            bytes += count * blocks.count * MemoryLayout<Float>.stride
        }
        state.withLock { $0.statistics.bytesReserved -= bytes }
        return bytes
    }

    deinit { drain() }
}
