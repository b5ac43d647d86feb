/// Every error RecurrentKit throws. Each message names what was expected and what came.
public enum RecurrentError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A tensor had the wrong shape or element count for an operation.
    case shapeMismatch(operation: String, expected: String, got: String)
    /// An argument was out of its valid range.
    case invalidArgument(name: String, expected: String, got: String)
    /// A tensor lives on another device than the backend asked to use it.
    case deviceMismatch(operation: String, expected: String, got: String)
    /// The requested device could not be found or opened.
    case deviceUnavailable(requested: String, reason: String)
    /// The device (or host) could not provide the memory asked for: the bytes asked and, where
    /// known, the bytes that were available.
    case outOfMemory(device: String, requestedBytes: Int, availableBytes: Int? = nil)
    /// A call in the wrong state (for example backward before forward).
    case invalidState(String)
    /// A file could not be read, written or parsed.
    case file(path: String, reason: String)
    /// Training produced a NaN or infinity (the step and what was not finite).
    case nonFinite(step: Int, detail: String)
    /// A device API call failed: the call and its status by name (such as `CL_OUT_OF_RESOURCES`).
    case deviceFailure(device: String, operation: String, status: String)
    /// Device code failed to compile: the build options and the compiler's full log.
    case kernelBuild(device: String, options: String, log: String)

    public var description: String {
        switch self {
        case let .shapeMismatch(op, expected, got):
            return "\(op): expected \(expected), got \(got)"
        case let .invalidArgument(name, expected, got):
            return "invalid \(name): expected \(expected), got \(got)"
        case let .deviceMismatch(op, expected, got):
            return "\(op): expected a tensor on \(expected), got one on \(got)"
        case let .deviceUnavailable(requested, reason):
            return "device '\(requested)' is not available: \(reason)"
        case let .outOfMemory(device, bytes, available):
            return "out of memory on \(device): could not allocate \(bytes) bytes"
                + (available.map { " (\($0) bytes available)" } ?? "")
        case let .invalidState(message):
            return message
        case let .file(path, reason):
            return "\(path): \(reason)"
        case let .nonFinite(step, detail):
            return "step \(step): \(detail)"
        case let .deviceFailure(device, operation, status):
            return "\(operation) failed on \(device): \(status)"
        case let .kernelBuild(device, options, log):
            return "kernel build failed on \(device) (options: \(options)):\n\(log)"
        }
    }
}

extension RecurrentError {
    /// Throws `.shapeMismatch` unless `got == expected`.
    @inlinable
    public static func check(_ operation: @autoclosure () -> String, shape got: [Int], equals expected: [Int]) throws {
        if got != expected {
            throw RecurrentError.shapeMismatch(operation: operation(), expected: "shape \(expected)", got: "shape \(got)")
        }
    }

    /// Throws `.shapeMismatch` unless `got == expected` (an element count).
    @inlinable
    public static func check(_ operation: @autoclosure () -> String, count got: Int, equals expected: Int) throws {
        if got != expected {
            throw RecurrentError.shapeMismatch(operation: operation(), expected: "\(expected) elements", got: "\(got) elements")
        }
    }
}
