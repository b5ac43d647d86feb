// A caching allocator shared by the backends, after PyTorch's CUDA caching allocator: requests
// round up to a quantum (512 bytes or the device's alignment), small ones (≤ 1 MiB) are cut from
// 2 MiB segments, large ones from segments rounded up to 2 MiB; a request takes the smallest
// free block that fits (best fit) and leaves the rest as a free block; freed neighbours merge.
// Free bytes beyond `MemoryLimits.cachedBytes` go back to the system, whole free segments first.
// Glossary: segment = one allocation from the system; block = a piece of a segment (live or
// free); lease = a live block as the backend sees it.

/// Bounds on what a backend's allocator keeps.
public struct MemoryLimits: Sendable, Equatable {
    /// The most bytes of free blocks kept for reuse; whole free segments beyond it go back to the
    /// system as soon as a block is released.
    public var cachedBytes: Int
    /// The most bytes held from the system (live blocks plus cached ones); an allocation that
    /// would pass it (after the cache is emptied) fails with `RecurrentError.outOfMemory`.
    /// nil: only the device's memory limits it.
    public var heldBytes: Int?

    public init(cachedBytes: Int, heldBytes: Int? = nil) {
        self.cachedBytes = max(0, cachedBytes)
        self.heldBytes = heldBytes.map { max(0, $0) }
    }

    /// `fraction` (0…1) of `deviceBytes` kept cached.
    public init(cachedFraction fraction: Double, of deviceBytes: Int, heldBytes: Int? = nil) {
        self.init(cachedBytes: Int(Double(deviceBytes) * min(max(fraction, 0), 1)), heldBytes: heldBytes)
    }

    /// The fraction of device memory a new backend keeps cached at most.
    public static let defaultCachedFraction = 0.25
}

/// A live block: which segment, where in it, and how many bytes the block spans (the request
/// rounded up, or more when the remainder was too small to split off).
public struct BlockLease<Segment: Sendable>: Sendable {
    /// The system allocation the block lies in.
    public let segment: Segment
    /// Bytes from the start of the segment (a multiple of the quantum).
    public let offset: Int
    /// Bytes the block spans.
    public let bytes: Int
    /// The cache's handle for the block, passed back to `recycle`.
    let node: Int
}

/// Hands out pieces of system allocations (`Segment`: a host pointer, an OpenCL `cl_mem`) and
/// takes them back for reuse, holding at most `MemoryLimits.cachedBytes` free.
public final class BlockCache<Segment: Sendable>: Sendable {
    /// Requests up to this size come from the small pool.
    public static var smallRequestBytes: Int { 1 << 20 }
    /// The segment size of the small pool, and the rounding of large segments.
    public static var segmentQuantumBytes: Int { 2 << 20 }

    private struct Node {
        var segment: Int
        var offset: Int
        var bytes: Int
        var previous: Int?
        var next: Int?
        var isFree: Bool
        var isSmall: Bool
    }

    private struct SegmentRecord {
        let handle: Segment
        let bytes: Int
        let isSmall: Bool
    }

    /// A free block in a pool's list, ordered by size, then by node.
    private struct FreeKey: Comparable {
        let bytes: Int
        let node: Int
        static func < (a: FreeKey, b: FreeKey) -> Bool { (a.bytes, a.node) < (b.bytes, b.node) }
    }

    private struct State {
        var nodes: [Node] = []
        var unusedNodes: [Int] = []
        var segments: [Int: SegmentRecord] = [:]
        var nextSegment = 0
        var freeSmall: [FreeKey] = []
        var freeLarge: [FreeKey] = []
        /// Bytes of live blocks (rounded), so cached = reserved − live.
        var liveBlockBytes = 0
        var limits: MemoryLimits
        var statistics = MemoryStatistics(systemAllocations: 0, bytesInUse: 0, peakBytesInUse: 0, bytesReserved: 0)

        var cachedBytes: Int { statistics.bytesReserved - liveBlockBytes }

        mutating func newNode(_ node: Node) -> Int {
            if let index = unusedNodes.popLast() {
                nodes[index] = node
                return index
            }
            nodes.append(node)
            return nodes.count - 1
        }

        mutating func insertFree(_ index: Int) {
            let key = FreeKey(bytes: nodes[index].bytes, node: index)
            if nodes[index].isSmall { freeSmall.insert(key, at: Self.lowerBound(freeSmall, key)) } else { freeLarge.insert(key, at: Self.lowerBound(freeLarge, key)) }
        }

        mutating func removeFree(_ index: Int) {
            let key = FreeKey(bytes: nodes[index].bytes, node: index)
            if nodes[index].isSmall {
                let at = Self.lowerBound(freeSmall, key)
                precondition(at < freeSmall.count && freeSmall[at] == key, "BlockCache: free list out of step")
                freeSmall.remove(at: at)
            } else {
                let at = Self.lowerBound(freeLarge, key)
                precondition(at < freeLarge.count && freeLarge[at] == key, "BlockCache: free list out of step")
                freeLarge.remove(at: at)
            }
        }

        static func lowerBound(_ list: [FreeKey], _ key: FreeKey) -> Int {
            var low = 0, high = list.count
            while low < high {
                let mid = (low + high) / 2
                if list[mid] < key { low = mid + 1 } else { high = mid }
            }
            return low
        }

        /// The smallest free block of at least `bytes` in the pool, taken off its list.
        mutating func bestFit(_ bytes: Int, small: Bool) -> Int? {
            let probe = FreeKey(bytes: bytes, node: -1)
            if small {
                let at = Self.lowerBound(freeSmall, probe)
                guard at < freeSmall.count else { return nil }
                return freeSmall.remove(at: at).node
            }
            let at = Self.lowerBound(freeLarge, probe)
            guard at < freeLarge.count else { return nil }
            return freeLarge.remove(at: at).node
        }

        /// Marks free block `index` live with `bytes`, splitting off the rest when it is worth a
        /// block of its own (any quantum in the small pool, more than a small request in the large).
        mutating func lease(_ index: Int, bytes: Int, requested: Int, quantum: Int) -> BlockLease<Segment> {
            let node = nodes[index]
            let rest = node.bytes - bytes
            if node.isSmall ? rest >= quantum : rest > BlockCache.smallRequestBytes {
                let tail = newNode(Node(segment: node.segment, offset: node.offset + bytes, bytes: rest,
                                        previous: index, next: node.next, isFree: true, isSmall: node.isSmall))
                if let after = nodes[index].next { nodes[after].previous = tail }
                nodes[index].next = tail
                nodes[index].bytes = bytes
                insertFree(tail)
            }
            nodes[index].isFree = false
            liveBlockBytes += nodes[index].bytes
            statistics.bytesInUse += requested
            statistics.peakBytesInUse = max(statistics.peakBytesInUse, statistics.bytesInUse)
            return BlockLease(segment: segments[node.segment]!.handle, offset: nodes[index].offset, bytes: nodes[index].bytes, node: index)
        }

        /// Removes every segment that is one free block, while `goOn(cached bytes)` says so;
        /// returns their handles for release outside the lock.
        mutating func releaseFreeSegments(while goOn: (Int) -> Bool) -> [Segment] {
            var released: [Segment] = []
            // Largest first: the fewest segments to get under a limit.
            for key in (freeLarge + freeSmall).sorted(by: { $0.bytes > $1.bytes }) {
                guard goOn(cachedBytes) else { break }
                let node = nodes[key.node]
                guard node.previous == nil, node.next == nil, let record = segments[node.segment] else { continue }
                removeFree(key.node)
                segments[node.segment] = nil
                unusedNodes.append(key.node)
                statistics.bytesReserved -= record.bytes
                released.append(record.handle)
            }
            return released
        }
    }

    private let state: Locked<State>
    private let release: @Sendable (Segment) -> Void
    /// Every block's offset and size is a multiple of this many bytes.
    public let quantum: Int
    /// The largest segment the system gives (a device's largest buffer).
    private let largestSegment: Int

    /// - Parameters:
    ///   - limits: What the cache keeps (settable later with `setLimits`).
    ///   - alignment: Bytes every block's offset must be a multiple of (rounded up to 512).
    ///   - largestSegment: The largest single allocation the system allows.
    ///   - release: Returns a segment to the system (frees or releases it).
    public init(limits: MemoryLimits, alignment: Int = 64, largestSegment: Int = .max,
                release: @escaping @Sendable (Segment) -> Void) {
        state = Locked(State(limits: limits))
        var q = 512
        while q < alignment { q *= 2 }
        quantum = q
        self.largestSegment = largestSegment
        self.release = release
    }

    /// `bytes` rounded up to the quantum (at least one quantum), or nil on overflow.
    public func rounded(_ bytes: Int) -> Int? {
        let (sum, overflow) = max(bytes, 1).addingReportingOverflow(quantum - 1)
        return overflow ? nil : sum / quantum * quantum
    }

    /// A block of at least `bytes`: a cached one, else a piece of a new segment from `allocate`
    /// (called with the segment's size, outside the cache's lock). When the held-bytes limit or
    /// `allocate` (returning nil) refuses, the cache frees its whole free segments and asks once
    /// more; nil means there is no memory for it.
    public func take(bytes requested: Int, allocate: (Int) throws -> Segment?) rethrows -> BlockLease<Segment>? {
        guard let bytes = rounded(requested) else { return nil }
        let small = bytes <= Self.smallRequestBytes
        let quantum = self.quantum
        if let lease = state.withLock({ s -> BlockLease<Segment>? in
            s.bestFit(bytes, small: small).map { s.lease($0, bytes: bytes, requested: requested, quantum: quantum) }
        }) {
            return lease
        }
        var segmentBytes = small ? Self.segmentQuantumBytes : roundUp(bytes, to: Self.segmentQuantumBytes) ?? bytes
        segmentBytes = max(bytes, min(segmentBytes, largestSegment))
        var segment: Segment? = nil
        for attempt in 0..<2 {
            // Within the held-bytes limit, falling back to a segment of just the block.
            let room = state.withLock { s -> Int? in s.limits.heldBytes.map { $0 - s.statistics.bytesReserved } }
            if let room, room < segmentBytes { segmentBytes = bytes }
            if room.map({ $0 >= segmentBytes }) ?? true, let made = try allocate(segmentBytes) {
                segment = made
                break
            }
            if attempt == 0, drain() == 0 { break }
        }
        guard let segment else { return nil }
        return state.withLock { s in
            let id = s.nextSegment
            s.nextSegment += 1
            s.segments[id] = SegmentRecord(handle: segment, bytes: segmentBytes, isSmall: small)
            s.statistics.systemAllocations += 1
            s.statistics.bytesReserved += segmentBytes
            let node = s.newNode(Node(segment: id, offset: 0, bytes: segmentBytes, previous: nil, next: nil, isFree: true,
                                    isSmall: small))
            return s.lease(node, bytes: bytes, requested: requested, quantum: quantum)
        }
    }

    private func roundUp(_ bytes: Int, to multiple: Int) -> Int? {
        let (sum, overflow) = bytes.addingReportingOverflow(multiple - 1)
        return overflow ? nil : sum / multiple * multiple
    }

    /// Takes back `lease`, whose `requested` bytes were live; merges it with free neighbours and
    /// returns whole free segments to the system while the cache holds more than its limit.
    public func recycle(_ lease: BlockLease<Segment>, requested: Int) {
        let released = state.withLock { s -> [Segment] in
            var index = lease.node
            s.nodes[index].isFree = true
            s.liveBlockBytes -= s.nodes[index].bytes
            s.statistics.bytesInUse -= requested
            if let before = s.nodes[index].previous, s.nodes[before].isFree {
                s.removeFree(before)
                s.nodes[before].bytes += s.nodes[index].bytes
                s.nodes[before].next = s.nodes[index].next
                if let after = s.nodes[index].next { s.nodes[after].previous = before }
                s.unusedNodes.append(index)
                index = before
            }
            if let after = s.nodes[index].next, s.nodes[after].isFree {
                s.removeFree(after)
                s.nodes[index].bytes += s.nodes[after].bytes
                s.nodes[index].next = s.nodes[after].next
                if let further = s.nodes[after].next { s.nodes[further].previous = index }
                s.unusedNodes.append(after)
            }
            s.insertFree(index)
            let limit = s.limits.cachedBytes
            guard s.cachedBytes > limit else { return [] }
            return s.releaseFreeSegments { $0 > limit }
        }
        for segment in released { release(segment) }
    }

    /// What the cache has done so far.
    public var statistics: MemoryStatistics {
        state.withLock { s in
            var statistics = s.statistics
            statistics.bytesCached = s.cachedBytes
            return statistics
        }
    }

    /// Bytes a request could still get: within the held-bytes limit, and within `system` (what the
    /// system has free) plus what the cache holds free.
    public func availableBytes(system: Int) -> Int {
        state.withLock { s in
            let fromSystem = s.cachedBytes.addingReportingOverflow(system).overflow ? Int.max : s.cachedBytes + system
            guard let held = s.limits.heldBytes else { return fromSystem }
            return max(0, min(fromSystem, held - s.statistics.bytesReserved + s.cachedBytes))
        }
    }

    /// The limits the cache works under.
    public var limits: MemoryLimits { state.withLock { $0.limits } }

    /// Sets new limits; cached segments beyond the new `cachedBytes` go back at once.
    public func setLimits(_ limits: MemoryLimits) {
        let released = state.withLock { s -> [Segment] in
            s.limits = limits
            return s.releaseFreeSegments { $0 > limits.cachedBytes }
        }
        for segment in released { release(segment) }
    }

    /// Starts a new peak measurement from the bytes in use now.
    public func resetPeak() { state.withLock { $0.statistics.peakBytesInUse = $0.statistics.bytesInUse } }

    /// Gives every segment that holds no live block back to the system; returns the bytes released.
    @discardableResult
    public func drain() -> Int {
        let (released, bytes) = state.withLock { s -> ([Segment], Int) in
            let before = s.statistics.bytesReserved
            let released = s.releaseFreeSegments { _ in true }
            return (released, before - s.statistics.bytesReserved)
        }
        for segment in released { release(segment) }
        return bytes
    }

    deinit { drain() }
}
