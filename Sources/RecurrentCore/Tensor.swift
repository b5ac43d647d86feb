/// A view of device memory with a row-major shape: the handle users and layers pass around.
///
/// A tensor is a value (shape, offset) over a reference-counted `DeviceBuffer`; views made
/// with `reshaped`, `slice` or `row` share memory with their base. Integer data (class
/// targets, token indices) is stored as exactly representable floats (below 2^24).
public struct Tensor: Sendable {
    /// The size of each dimension, outermost first. `[]` is a scalar.
    public let shape: [Int]
    /// The memory this tensor views.
    public let buffer: any DeviceBuffer
    /// The first element of this view, in elements from the start of `buffer`.
    public let offset: Int
    /// The backend that owns `buffer` and runs operations on it.
    public let backend: any Backend

    /// Number of elements (the product of `shape`; 1 for a scalar).
    public var count: Int { shape.reduce(1, *) }
    /// Number of dimensions.
    public var rank: Int { shape.count }

    /// Wraps existing device memory. Throws if the view would reach past the buffer.
    public init(shape: [Int], buffer: any DeviceBuffer, offset: Int = 0, backend: any Backend) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw RecurrentError.invalidArgument(name: "shape", expected: "non-negative sizes", got: "\(shape)")
        }
        let count = shape.reduce(1, *)
        guard offset >= 0, offset + count <= buffer.count else {
            throw RecurrentError.shapeMismatch(
                operation: "Tensor view", expected: "at most \(buffer.count - max(offset, 0)) elements after offset \(offset)",
                got: "shape \(shape) (\(count) elements)")
        }
        self.shape = shape
        self.buffer = buffer
        self.offset = offset
        self.backend = backend
    }

    /// Allocates an uninitialised tensor: only for results an operation overwrites entirely.
    public static func empty(_ shape: [Int], on backend: any Backend) throws -> Tensor {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw RecurrentError.invalidArgument(name: "shape", expected: "non-negative sizes", got: "\(shape)")
        }
        guard let count = HostMemory.product(shape) else {
            throw RecurrentError.outOfMemory(device: "\(backend.name) (a tensor of shape \(shape), more than \(Int.max) elements)",
                                             requestedBytes: .max)
        }
        return try Tensor(shape: shape, buffer: backend.allocate(count: count), backend: backend)
    }

    /// Allocates a tensor filled with `value` (zeros by default).
    public static func zeros(_ shape: [Int], on backend: any Backend, value: Float = 0) throws -> Tensor {
        let t = try empty(shape, on: backend)
        if t.count > 0 { try backend.fill(t, with: value) }
        return t
    }

    /// Uploads host values into a new tensor. Throws if `values.count` does not match `shape`.
    public init(shape: [Int], values: [Float], on backend: any Backend) throws {
        let expected = shape.reduce(1, *)
        guard values.count == expected else {
            throw RecurrentError.shapeMismatch(
                operation: "Tensor(shape:values:)", expected: "\(expected) values for shape \(shape)", got: "\(values.count) values")
        }
        self = try Tensor.empty(shape, on: backend)
        try values.withUnsafeBufferPointer { try backend.upload($0, to: self) }
    }

    /// Uploads integer labels or token indices (each in 0..<2^24) as floats.
    public init(shape: [Int], indices: [Int], on backend: any Backend) throws {
        if let bad = indices.first(where: { $0 < 0 || $0 >= 1 << 24 }) {
            throw RecurrentError.invalidArgument(name: "index", expected: "a value in 0..<16777216", got: "\(bad)")
        }
        try self.init(shape: shape, values: indices.map { Float($0) }, on: backend)
    }

    /// Downloads the elements in row-major order.
    public func toArray() throws -> [Float] {
        try [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 { try backend.download(self, into: buffer) }
            initialized = count
        }
    }

    /// Downloads a tensor with exactly one element.
    public func item() throws -> Float {
        guard count == 1 else {
            throw RecurrentError.shapeMismatch(operation: "item()", expected: "one element", got: "shape \(shape)")
        }
        return try toArray()[0]
    }

    /// A view with the same elements and another shape of the same element count.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        let newCount = newShape.reduce(1, *)
        guard newCount == count else {
            throw RecurrentError.shapeMismatch(
                operation: "reshaped", expected: "a shape with \(count) elements (from \(shape))", got: "\(newShape)")
        }
        return try Tensor(shape: newShape, buffer: buffer, offset: offset, backend: backend)
    }

    /// A view of rows `range` along the first dimension.
    public func slice(_ range: Range<Int>) throws -> Tensor {
        guard let first = shape.first, range.lowerBound >= 0, range.upperBound <= first else {
            throw RecurrentError.invalidArgument(
                name: "slice range", expected: "within 0..<\(shape.first ?? 0) of shape \(shape)", got: "\(range)")
        }
        let inner = shape.dropFirst().reduce(1, *)
        return try Tensor(shape: [range.count] + shape.dropFirst(), buffer: buffer,
                          offset: offset + range.lowerBound * inner, backend: backend)
    }

    /// The view `self[index]` along the first dimension (one rank less).
    public func row(_ index: Int) throws -> Tensor {
        try slice(index..<(index + 1)).reshaped(Array(shape.dropFirst()))
    }

    /// A new tensor with a copy of the elements.
    public func copy() throws -> Tensor {
        let t = try Tensor.empty(shape, on: backend)
        if count > 0 { try backend.copy(self, to: t) }
        return t
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String { "Tensor(shape: \(shape), device: \(backend.name))" }
}
