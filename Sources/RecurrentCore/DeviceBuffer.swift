/// Memory on a device, holding `count` 32-bit floats. Released when the last reference dies.
///
/// Backends define their own buffer classes; a backend refuses buffers of another backend
/// with `RecurrentError.deviceMismatch`.
public protocol DeviceBuffer: AnyObject, Sendable {
    /// Number of `Float` elements the buffer holds.
    var count: Int { get }
}
