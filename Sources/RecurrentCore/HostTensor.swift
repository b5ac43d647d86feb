/// Values on the host with their shape: what state dicts, checkpoints and fixtures hold.
public struct HostTensor: Sendable, Equatable {
    /// The size of each dimension, outermost first.
    public var shape: [Int]
    /// The elements in row-major order (`values.count` = product of `shape`).
    public var values: [Float]

    /// Checks that `values` fills `shape` exactly.
    public init(shape: [Int], values: [Float]) throws {
        let expected = shape.reduce(1, *)
        guard shape.allSatisfy({ $0 >= 0 }), values.count == expected else {
            throw RecurrentError.shapeMismatch(operation: "HostTensor", expected: "\(expected) values for shape \(shape)",
                                               got: "\(values.count) values")
        }
        self.shape = shape
        self.values = values
    }
}

extension Tensor {
    /// Uploads a host tensor.
    public init(_ host: HostTensor, on backend: any Backend) throws {
        try self.init(shape: host.shape, values: host.values, on: backend)
    }

    /// Overwrites the elements with host values of the same shape.
    public func assign(_ host: HostTensor) throws {
        try RecurrentError.check("Tensor.assign", shape: host.shape, equals: shape)
        try host.values.withUnsafeBufferPointer { try backend.upload($0, to: self) }
    }

    /// Downloads the values with their shape.
    public func toHost() throws -> HostTensor {
        try HostTensor(shape: shape, values: toArray())
    }
}
