import Synchronization
import Testing
@testable import RecurrentCore

/// A system that hands out numbered segments and records what is alive.
private final class FakeSystem: Sendable {
    let live = Mutex<[Int: Int]>([:])   // segment id → bytes
    let next = Atomic<Int>(0)

    func allocate(_ bytes: Int) -> Int {
        let id = next.add(1, ordering: .relaxed).newValue
        live.withLock { $0[id] = bytes }
        return id
    }

    var heldBytes: Int { live.withLock { $0.values.reduce(0, +) } }

    func cache(_ limits: MemoryLimits) -> BlockCache<Int> {
        BlockCache(limits: limits) { [self] id in _ = live.withLock { $0.removeValue(forKey: id) } }
    }
}

@Test func requestsRoundUpAndSmallOnesShareASegment() throws {
    let system = FakeSystem()
    let cache = system.cache(MemoryLimits(cachedBytes: 1 << 30))
    let a = try #require(cache.take(bytes: 4) { system.allocate($0) })
    let b = try #require(cache.take(bytes: 513) { system.allocate($0) })
    #expect(a.bytes == 512 && b.bytes == 1024)
    #expect(a.segment == b.segment && a.offset == 0 && b.offset == 512)
    #expect(system.heldBytes == 2 << 20)   // one small segment of 2 MiB
    let s = cache.statistics
    #expect(s.systemAllocations == 1 && s.bytesInUse == 517 && s.bytesReserved == 2 << 20)
    #expect(s.bytesCached == (2 << 20) - 1536)
    cache.recycle(a, requested: 4)
    cache.recycle(b, requested: 513)
    #expect(cache.statistics.bytesInUse == 0 && cache.statistics.bytesCached == 2 << 20)
}

@Test func aFreedBlockIsSplitForSmallerRequestsAndNeighboursMerge() throws {
    let system = FakeSystem()
    let cache = system.cache(MemoryLimits(cachedBytes: 1 << 30))
    let big = try #require(cache.take(bytes: 6 << 20) { system.allocate($0) })   // large pool: 6 MiB segment
    #expect(big.bytes == 6 << 20)
    cache.recycle(big, requested: 6 << 20)
    // Two large requests fit in the freed segment: no new system allocation.
    let x = try #require(cache.take(bytes: 3 << 20) { system.allocate($0) })
    let y = try #require(cache.take(bytes: (2 << 20) + 100) { system.allocate($0) })
    #expect(x.segment == big.segment && y.segment == big.segment && y.offset == 3 << 20)
    #expect(cache.statistics.systemAllocations == 1)
    cache.recycle(x, requested: 3 << 20)
    cache.recycle(y, requested: (2 << 20) + 100)
    // Merged back into one block: the whole segment serves a 6 MiB request again.
    let whole = try #require(cache.take(bytes: 6 << 20) { system.allocate($0) })
    #expect(whole.segment == big.segment && whole.offset == 0)
    #expect(cache.statistics.systemAllocations == 1)
    cache.recycle(whole, requested: 6 << 20)
}

@Test func sizesThatVaryAllTheTimeStayBounded() throws {
    // Exact-size caching kept a block per distinct size: here that grew without bound.
    let system = FakeSystem()
    let cache = system.cache(MemoryLimits(cachedBytes: 1 << 30))
    var random = PhiloxStream(seed: 3, stream: 0)
    var peakHeld = 0
    for round in 0..<2_000 {
        let n = 1 + Int(random.nextWord() % 1_920)   // tokens in a batch
        let sizes = [n * 1024, n * 256, n * 4096 + 12, 32 * 256, n * 4]
        let leases = try sizes.map { try #require(cache.take(bytes: $0) { system.allocate($0) }) }
        for (lease, size) in zip(leases, sizes) { cache.recycle(lease, requested: size) }
        if round == 199 { peakHeld = system.heldBytes }
    }
    #expect(system.heldBytes <= peakHeld + (8 << 20), "held \(system.heldBytes) after 2000 rounds, \(peakHeld) after 200")
    #expect(cache.statistics.bytesReserved == system.heldBytes)
    #expect(cache.statistics.bytesInUse == 0)
}

@Test func cachedBytesBeyondTheLimitGoBack() throws {
    let system = FakeSystem()
    let cache = system.cache(MemoryLimits(cachedBytes: 5 << 20))
    let leases = try (0..<4).map { _ in try #require(cache.take(bytes: 4 << 20) { system.allocate($0) }) }
    #expect(system.heldBytes == 16 << 20)
    for lease in leases { cache.recycle(lease, requested: 4 << 20) }
    // At most 5 MiB stay cached: one 4 MiB segment.
    #expect(system.heldBytes == 4 << 20)
    #expect(cache.statistics.bytesReserved == 4 << 20 && cache.statistics.bytesCached == 4 << 20)
    cache.setLimits(MemoryLimits(cachedBytes: 0))
    #expect(system.heldBytes == 0 && cache.statistics.bytesReserved == 0)
}

@Test func theHeldLimitRefusesAfterEmptyingTheCache() throws {
    let system = FakeSystem()
    let cache = system.cache(MemoryLimits(cachedBytes: 1 << 30, heldBytes: 10 << 20))
    let a = try #require(cache.take(bytes: 6 << 20) { system.allocate($0) })
    #expect(cache.take(bytes: 6 << 20) { system.allocate($0) } == nil)   // 12 MiB would pass 10
    let small = try #require(cache.take(bytes: 1000) { system.allocate($0) })   // 2 MiB segment fits
    cache.recycle(small, requested: 1000)
    cache.recycle(a, requested: 6 << 20)
    // Free segments are given back to make room.
    let b = try #require(cache.take(bytes: 8 << 20) { system.allocate($0) })
    #expect(system.heldBytes == 8 << 20)
    cache.recycle(b, requested: 8 << 20)
    // nil from the system: the cache empties itself and asks once more.
    var calls = 0
    let c = cache.take(bytes: 1 << 20) { bytes -> Int? in
        calls += 1
        return calls == 1 ? nil : system.allocate(bytes)
    }
    #expect(c != nil && calls == 2 && system.heldBytes == 2 << 20)
}

@Test func sizesThatOverflowAreRefused() {
    let cache = FakeSystem().cache(MemoryLimits(cachedBytes: 0))
    #expect(cache.take(bytes: .max) { _ in 1 } == nil)
}
