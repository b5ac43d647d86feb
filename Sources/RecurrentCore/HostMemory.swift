// Host memory checks: sizes worked out with overflow checks and compared with the memory the
// system has, so an impossible host array throws `RecurrentError.outOfMemory` instead of trapping.
import Foundation

/// What the host can give, and checked sizes of host arrays.
public enum HostMemory {
    /// Bytes the system can give now: `MemAvailable` from `/proc/meminfo` where there is one,
    /// else the physical memory.
    public static var availableBytes: Int {
        if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
           let kib = Int(line.split(separator: " ").dropFirst().first ?? "") {
            return kib.multipliedReportingOverflow(by: 1024).overflow ? .max : kib * 1024
        }
        return Int(clamping: ProcessInfo.processInfo.physicalMemory)
    }

    /// The product of `factors` (element counts), or nil when it overflows `Int` or a factor is negative.
    public static func product(_ factors: [Int]) -> Int? {
        var total = 1
        for factor in factors {
            guard factor >= 0 else { return nil }
            let (next, overflow) = total.multipliedReportingOverflow(by: factor)
            if overflow { return nil }
            total = next
        }
        return total
    }

    /// Bytes of `count` elements of `T`, after checking they fit in the host's available memory;
    /// throws `.outOfMemory` naming `what` otherwise (overflow included).
    @discardableResult
    public static func check<T>(_ count: Int, of type: T.Type, for what: @autoclosure () -> String) throws -> Int {
        try check(bytes: count.multipliedReportingOverflow(by: MemoryLayout<T>.stride).overflow || count < 0
                  ? nil : count * MemoryLayout<T>.stride, for: what())
    }

    /// Throws `.outOfMemory` naming `what` unless `bytes` (nil: a size that overflowed) fit in the
    /// host's available memory; returns the bytes.
    @discardableResult
    public static func check(bytes: Int?, for what: @autoclosure () -> String) throws -> Int {
        let available = availableBytes
        guard let bytes, bytes <= available else {
            throw RecurrentError.outOfMemory(device: "host (\(what()))", requestedBytes: bytes ?? .max, availableBytes: available)
        }
        return bytes
    }
}
