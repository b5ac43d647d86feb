// The reference backend: plain scalar loops over host memory, written to be obviously
// correct rather than fast. Every fast backend is tested op by op against it.
// T = time steps, B = batch, I = input size, H = hidden size, G = gates (1, 4, 3),
// R × C = rows × columns of a matrix, N = rows of logits/targets, V × D = embedding table.

import RecurrentCore

/// A `Backend` of naive Swift loops over host arrays: the yardstick for the fast backends.
///
/// Every op reads its operands into Swift arrays, computes the result element by element
/// straight from the formula in `Backend`'s documentation, and writes it back. Sums whose
/// order the protocol leaves open accumulate in `Double`, so the reference is the more
/// accurate side of any comparison; `reduce`, whose order the protocol fixes, follows it in `Float`.
/// Fresh buffers are filled with NaN so that reading memory nobody wrote shows up in tests.
public final class ReferenceBackend: Backend {
    /// `"reference"`.
    public let name = "reference"
    /// A one-line description of this backend.
    public let deviceDescription = "plain Swift reference loops (host memory)"

    /// Creates a reference backend. It holds no state; instances are interchangeable,
    /// but tensors are tied to the instance that allocated them.
    public init() {}

    // MARK: Memory

    /// Allocates `count` floats, initialised to NaN.
    public func allocate(count: Int) throws -> any DeviceBuffer {
        guard count >= 0 else {
            throw RecurrentError.invalidArgument(name: "allocation size", expected: "a non-negative count", got: "\(count)")
        }
        return ReferenceBuffer(count: count)
    }

    /// Copies host values into `destination`.
    public func upload(_ values: UnsafeBufferPointer<Float>, to destination: Tensor) throws {
        try RecurrentError.check("upload", count: values.count, equals: destination.count)
        try write(Array(values), to: destination, "upload")
    }

    /// Copies `source` into host memory.
    public func download(_ source: Tensor, into values: UnsafeMutableBufferPointer<Float>) throws {
        try RecurrentError.check("download", count: values.count, equals: source.count)
        let data = try read(source, "download")
        for e in 0..<data.count { values[e] = data[e] }
    }

    /// `destination = source`; overlapping views of one buffer behave like `memmove`.
    public func copy(_ source: Tensor, to destination: Tensor) throws {
        try RecurrentError.check("copy", count: destination.count, equals: source.count)
        try write(read(source, "copy source"), to: destination, "copy destination")
    }

    /// Sets every element of `destination` to `value`.
    public func fill(_ destination: Tensor, with value: Float) throws {
        try write([Float](repeating: value, count: destination.count), to: destination, "fill")
    }

    /// Does nothing: every op finishes before it returns.
    public func synchronize() throws {}

    // MARK: Host access (internal)

    /// The first element of `tensor`'s view, after checking that it lives on this backend.
    func pointer(_ tensor: Tensor, _ operation: @autoclosure () -> String) throws -> UnsafeMutablePointer<Float> {
        try checkDevice(tensor, operation())
        guard let buffer = tensor.buffer as? ReferenceBuffer else {
            throw RecurrentError.deviceMismatch(operation: operation(), expected: "a ReferenceBuffer",
                                                got: "\(type(of: tensor.buffer))")
        }
        return buffer.pointer + tensor.offset
    }

    /// The elements of `tensor` in row-major order.
    func read(_ tensor: Tensor, _ operation: @autoclosure () -> String) throws -> [Float] {
        let p = try pointer(tensor, operation())
        return Array(UnsafeBufferPointer(start: p, count: tensor.count))
    }

    /// The elements of an optional tensor, or `count` zeros when it is nil (after checking its count).
    func readOrZeros(_ tensor: Tensor?, count: Int, _ operation: @autoclosure () -> String) throws -> [Float] {
        guard let tensor else { return [Float](repeating: 0, count: count) }
        try RecurrentError.check(operation(), count: tensor.count, equals: count)
        return try read(tensor, operation())
    }

    /// The integer an index or class label stored as a float stands for, or nil unless it is an
    /// integer in `0..<limit` (NaN and fractional values count as out of range).
    static func integerIndex(_ value: Float, below limit: Int) -> Int? {
        guard value >= 0, value < Float(limit), value == value.rounded(.towardZero) else { return nil }
        return Int(value)
    }

    /// Overwrites the elements of `tensor` with `values` (same count).
    func write(_ values: [Float], to tensor: Tensor, _ operation: @autoclosure () -> String) throws {
        try RecurrentError.check(operation(), count: values.count, equals: tensor.count)
        let p = try pointer(tensor, operation())
        for e in 0..<values.count { p[e] = values[e] }
    }
}

/// Host memory of the reference backend: `count` floats behind a pointer it owns.
///
/// `@unchecked Sendable` is sound because the stored properties are immutable (`let`): the
/// pointer and count never change after `init`, and the memory is freed only in `deinit`,
/// when no reference remains. The floats themselves are mutated by backend ops; as with
/// memory on any device, ordering those writes against other uses of the same buffer is
/// the caller's job (the `Backend` contract), not something this class could check.
final class ReferenceBuffer: DeviceBuffer, @unchecked Sendable {
    /// Number of floats.
    let count: Int
    /// The start of the allocation (never nil; a zero-count buffer owns an empty allocation).
    let pointer: UnsafeMutablePointer<Float>

    /// Allocates `count` floats filled with NaN.
    init(count: Int) {
        self.count = count
        pointer = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        pointer.initialize(repeating: .nan, count: max(count, 1))
    }

    deinit {
        pointer.deinitialize(count: max(count, 1))
        pointer.deallocate()
    }
}
