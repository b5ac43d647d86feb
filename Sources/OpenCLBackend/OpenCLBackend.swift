// The OpenCL backend: device memory, one in-order queue, kernel launches. The ops live in the
// files named like the CPU backend's (GEMM.swift, LSTM.swift, ...); their kernels in Kernels/*.cl.
import COpenCL
import Foundation
import RecurrentCore

/// A `cl_mem` handle owned by one live buffer or by the backend's cache.
struct DeviceBlock: @unchecked Sendable {
    // @unchecked: an OpenCL memory object handle; OpenCL allows its use from any thread.
    let memory: cl_mem
}

/// Device memory owned by an `OpenCLBackend`: a sub-buffer of one of the cache's segments,
/// returned to the cache on release.
public final class OpenCLBuffer: DeviceBuffer, @unchecked Sendable {
    // @unchecked: the handle is immutable; the contents are device memory, ordered by the queue.
    /// Number of floats.
    public let count: Int
    let memory: cl_mem
    private let lease: BlockLease<DeviceBlock>
    /// The cache of the backend that allocated it (and owns it).
    let cache: BlockCache<DeviceBlock>

    init(count: Int, memory: cl_mem, lease: BlockLease<DeviceBlock>, cache: BlockCache<DeviceBlock>) {
        self.count = count
        self.memory = memory
        self.lease = lease
        self.cache = cache
    }

    deinit {
        clReleaseMemObject(memory)
        cache.recycle(lease, requested: max(count, 1) * MemoryLayout<Float>.stride)
    }
}

/// Host↔device copies a backend has made: what a training step must not add to.
public struct TransferStatistics: Sendable, Equatable {
    /// Host-to-device copies (`upload`).
    public var uploads: Int
    /// Device-to-host copies (`download`, and so `toArray` and `item`).
    public var downloads: Int
}

/// One value a kernel takes, in the order the kernel declares its parameters.
enum KernelArgument {
    /// A tensor: its buffer, then its element offset (`ulong`).
    case tensor(Tensor)
    /// An optional tensor: buffer (a placeholder when nil), offset, then an `int` presence flag.
    case optional(Tensor?)
    /// A bare buffer of the backend's own (scratch space), no offset.
    case memory(cl_mem)
    /// Local memory of this many bytes, per work-group.
    case local(Int)
    case int(Int32)
    case uint(UInt32)
    case ulong(UInt64)
    case float(Float)

    static func count(_ n: Int) -> KernelArgument { .ulong(UInt64(n)) }
    static func size(_ n: Int) -> KernelArgument { .uint(UInt32(n)) }
    static func flag(_ value: Bool) -> KernelArgument { .int(value ? 1 : 0) }
}

/// The OpenCL backend: Kernels/*.cl for the cell steps and elementwise work, CLBlast for GEMM.
///
/// Every op is enqueued on one in-order queue and returns without waiting; `download` and
/// `synchronize` wait. Device memory comes from a caching allocator, released tensors return to
/// it, and `releaseCachedMemory()` hands it back to the driver.
public final class OpenCLBackend: Backend, @unchecked Sendable {
    // @unchecked: the queue and kernel handles are immutable after init; setting a kernel's
    // arguments and enqueueing it happen under `launchLock`, since OpenCL kernel objects are not
    // safe to configure from two threads at once.
    /// `opencl:P:D`
    public let name: String
    /// The device this backend runs on.
    public let device: OpenCLDeviceInfo
    /// The tuning values: the program's (`shared.tuning`) with the time loop and packed products
    /// the environment or the initializer chose.
    public let tuning: OpenCLTuning
    let shared: OpenCLDeviceContext
    private var queue: cl_command_queue?
    /// The program's kernels, indexed by `Kernel.rawValue`.
    private let kernels: [cl_kernel]
    /// Commands enqueued so far (kernels, CLBlast calls, fills, device copies), under `launchLock`.
    private let launchLock = Locked(0)
    let transfers = Locked(TransferStatistics(uploads: 0, downloads: 0))
    let cache: BlockCache<DeviceBlock>
    /// A one-float buffer passed for absent optional tensors (never read: their flag is 0).
    private let placeholder: cl_mem
    /// The most work-items a layer-norm group has (LayerNorm.swift): the tuning's
    /// `layerNormGroupSize`, or the initializer's, within what the device and the kernels allow.
    public let layerNormGroupLimit: Int

    /// Opens `device`: builds (or reuses) the program, creates a queue and the kernels. `timeLoop`
    /// overrides the tuning table and `RECURRENT_OPENCL_TIME_LOOP` (see `OpenCLTuning.for`);
    /// `layerNormGroupSize` the table's `layerNormGroupSize` (a power of two; the device and the
    /// kernels may allow less).
    public init(device: OpenCLDeviceInfo, timeLoop: OpenCLTimeLoop? = nil, layerNormGroupSize: Int? = nil) throws {
        self.device = device
        self.name = device.specification
        shared = try OpenCLDeviceContext.shared(for: device)
        var tuning = try OpenCLTuning.for(device, environment: ProcessInfo.processInfo.environment)
        if let timeLoop { tuning.timeLoop = timeLoop }
        self.tuning = tuning
        for set in tuning.clblast { try set.apply(to: device.id, deviceName: device.specification) }
        var status: cl_int = 0
        guard let queue = clCreateCommandQueue(shared.context, device.id, 0, &status), status == CL_SUCCESS else {
            throw RecurrentError.deviceFailure(device: name, operation: "clCreateCommandQueue", status: OpenCLStatus.name(status))
        }
        self.queue = queue
        // Resolved once: a launch indexes this array.
        let byName = try shared.makeKernels()
        let wanted = Set(Kernel.allCases.map(\.functionName))
        for (name, kernel) in byName where !wanted.contains(name) { clReleaseKernel(kernel) }
        if let missing = Kernel.allCases.first(where: { byName[$0.functionName] == nil }) {
            for (name, kernel) in byName where wanted.contains(name) { clReleaseKernel(kernel) }
            throw RecurrentError.deviceFailure(device: device.specification, operation: "kernel \(missing.functionName)",
                                               status: "not in the program")
        }
        kernels = Kernel.allCases.map { byName[$0.functionName]! }
        let normKernels = Self.layerNormKernels.map { byName[$0.functionName]! }
        layerNormGroupLimit = try LayerNormGroups.limit(tuned: layerNormGroupSize ?? tuning.layerNormGroupSize, kernels: normKernels,
                                                        device: device.id, deviceLimit: device.maxWorkGroupSize)
        guard let placeholder = clCreateBuffer(shared.context, cl_mem_flags(CL_MEM_READ_WRITE), 4, nil, &status),
              status == CL_SUCCESS else {
            throw RecurrentError.deviceFailure(device: name, operation: "clCreateBuffer (placeholder)", status: OpenCLStatus.name(status))
        }
        self.placeholder = placeholder
        // Sub-buffers start at multiples of the device's base-address alignment (given in bits).
        let alignmentBits: cl_uint = try OpenCLDevices.deviceValue(device.id, CL_DEVICE_MEM_BASE_ADDR_ALIGN)
        cache = BlockCache(limits: MemoryLimits(cachedFraction: MemoryLimits.defaultCachedFraction, of: device.globalMemoryBytes,
                                                heldBytes: device.globalMemoryBytes),
                           alignment: Int(alignmentBits) / 8, largestSegment: device.maxAllocationBytes) {
            clReleaseMemObject($0.memory)
        }
    }

    deinit {
        clFinish(queue)
        for kernel in kernels { clReleaseKernel(kernel) }
        clReleaseMemObject(placeholder)
        clReleaseCommandQueue(queue)
    }

    public var deviceDescription: String {
        "\(device.name) (OpenCL \(device.kind.rawValue), \(device.platformName), \(device.computeUnits) compute units, "
            + "\(device.globalMemoryBytes >> 20) MiB)"
    }

    // MARK: Memory

    public func allocate(count: Int) throws -> any DeviceBuffer {
        guard count >= 0 else {
            throw RecurrentError.invalidArgument(name: "allocation size", expected: "a non-negative element count", got: "\(count)")
        }
        let (bytes, overflow) = max(count, 1).multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
        guard !overflow, bytes <= device.maxAllocationBytes else {
            throw RecurrentError.outOfMemory(device: "\(name) (largest buffer \(device.maxAllocationBytes) bytes)",
                                             requestedBytes: overflow ? Int.max : bytes)
        }
        // Drivers may allocate lazily, so the cache keeps within the device's memory itself
        // (`MemoryLimits.heldBytes`).
        let lease = try cache.take(bytes: bytes) { segmentBytes -> DeviceBlock? in
            var status: cl_int = 0
            let memory = clCreateBuffer(shared.context, cl_mem_flags(CL_MEM_READ_WRITE), segmentBytes, nil, &status)
            if OpenCLStatus.isOutOfMemory(status) { return nil }
            try OpenCLStatus.check(status, "clCreateBuffer(\(segmentBytes) bytes)", device: name)
            return memory.map(DeviceBlock.init)
        }
        guard let lease else {
            let free = device.globalMemoryBytes - cache.statistics.bytesReserved
            throw RecurrentError.outOfMemory(device: name, requestedBytes: bytes, availableBytes: cache.availableBytes(system: free))
        }
        var region = cl_buffer_region(origin: lease.offset, size: bytes)
        var status: cl_int = 0
        let memory = clCreateSubBuffer(lease.segment.memory, cl_mem_flags(CL_MEM_READ_WRITE),
                                       cl_buffer_create_type(CL_BUFFER_CREATE_TYPE_REGION), &region, &status)
        guard let memory, status == CL_SUCCESS else {
            cache.recycle(lease, requested: bytes)
            throw RecurrentError.deviceFailure(device: name, operation: "clCreateSubBuffer(\(lease.offset), \(bytes))",
                                               status: OpenCLStatus.name(status))
        }
        return OpenCLBuffer(count: count, memory: memory, lease: lease, cache: cache)
    }

    public func memoryStatistics() -> MemoryStatistics? { cache.statistics }

    public var memoryLimits: MemoryLimits? { cache.limits }

    public func setMemoryLimits(_ limits: MemoryLimits) { cache.setLimits(limits) }

    /// Frees the device memory kept for reuse by released tensors; returns the bytes freed.
    @discardableResult
    public func releaseCachedMemory() -> Int { cache.drain() }

    /// Starts a new peak measurement from the bytes in use now.
    public func resetPeakMemory() { cache.resetPeak() }

    /// The host↔device copies made so far.
    public var transferStatistics: TransferStatistics { transfers.withLock { $0 } }

    /// The memory object of `tensor` after checking it lives on this backend.
    func memory(_ tensor: Tensor, _ operation: @autoclosure () -> String) throws -> cl_mem {
        guard tensor.backend === self, let buffer = tensor.buffer as? OpenCLBuffer else {
            throw RecurrentError.deviceMismatch(operation: operation(), expected: name, got: tensor.backend.name)
        }
        return buffer.memory
    }

    /// Runs `body` with the queue, holding the launch lock.
    func withQueue<R>(_ body: (inout cl_command_queue?) throws -> R) throws -> R {
        try launchLock.withLock { _ in try body(&queue) }
    }

    /// Runs `body` with the queue, holding the launch lock, and counts one enqueued command.
    func enqueue<R>(_ body: (inout cl_command_queue?) throws -> R) throws -> R {
        try launchLock.withLock { count in
            count += 1
            return try body(&queue)
        }
    }

    /// Commands enqueued on the device so far: our kernels, CLBlast calls (each counted once,
    /// whatever kernels CLBlast runs inside), fills and device-to-device copies; host transfers
    /// are in `transferStatistics`.
    public var launchCount: Int { launchLock.withLock { $0 } }

    /// Whether `buffer` was allocated by this backend.
    func owns(_ buffer: OpenCLBuffer) -> Bool { buffer.cache === cache }

    public func upload(_ values: UnsafeBufferPointer<Float>, to destination: Tensor) throws {
        try RecurrentError.check("upload", count: destination.count, equals: values.count)
        let mem = try memory(destination, "upload")
        guard let base = values.baseAddress, values.count > 0 else { return }
        transfers.withLock { $0.uploads += 1 }
        let status = try withQueue {
            clEnqueueWriteBuffer($0, mem, cl_bool(CL_TRUE), destination.offset * 4, values.count * 4, base, 0, nil, nil)
        }
        try OpenCLStatus.check(status, "clEnqueueWriteBuffer (upload of \(values.count) floats)", device: name)
    }

    public func download(_ source: Tensor, into values: UnsafeMutableBufferPointer<Float>) throws {
        try RecurrentError.check("download", count: source.count, equals: values.count)
        let mem = try memory(source, "download")
        guard let base = values.baseAddress, values.count > 0 else { return }
        transfers.withLock { $0.downloads += 1 }
        let status = try withQueue {
            clEnqueueReadBuffer($0, mem, cl_bool(CL_TRUE), source.offset * 4, values.count * 4, base, 0, nil, nil)
        }
        try OpenCLStatus.check(status, "clEnqueueReadBuffer (download of \(values.count) floats)", device: name)
    }

    public func copy(_ source: Tensor, to destination: Tensor) throws {
        try RecurrentError.check("copy destination", count: destination.count, equals: source.count)
        let src = try memory(source, "copy source"), dst = try memory(destination, "copy destination")
        let n = source.count
        guard n > 0, !(src == dst && source.offset == destination.offset) else { return }
        if src == dst && abs(source.offset - destination.offset) < n {
            // OpenCL refuses overlapping copies within one buffer: go through a temporary.
            let staging = try source.copy()
            return try copy(staging, to: destination)
        }
        let status = try enqueue {
            clEnqueueCopyBuffer($0, src, dst, source.offset * 4, destination.offset * 4, n * 4, 0, nil, nil)
        }
        try OpenCLStatus.check(status, "clEnqueueCopyBuffer (\(n) floats)", device: name)
    }

    public func fill(_ destination: Tensor, with value: Float) throws {
        let mem = try memory(destination, "fill")
        guard destination.count > 0 else { return }
        var pattern = value
        let status = try enqueue {
            clEnqueueFillBuffer($0, mem, &pattern, 4, destination.offset * 4, destination.count * 4, 0, nil, nil)
        }
        try OpenCLStatus.check(status, "clEnqueueFillBuffer (\(destination.count) floats)", device: name)
    }

    public func synchronize() throws {
        let status = try withQueue { clFinish($0) }
        try OpenCLStatus.check(status, "clFinish", device: name)
    }

    // MARK: Kernel launches

    /// Enqueues `kernel` over `items` work-items, rounded up to whole groups of the tuned size
    /// (kernels ignore the extra ones).
    func launch(_ kernel: Kernel, items: Int, _ arguments: [KernelArgument]) throws {
        guard items > 0 else { return }
        let group = tuning.workGroupSize
        try launch(kernel, global: [(items + group - 1) / group * group], local: [group], arguments, what: "\(items) work-items")
    }

    /// Enqueues `kernel` over an NDRange of `global` work-items in groups of `local` (one to three
    /// dimensions; each global size a multiple of its local size).
    func launch(_ kernel: Kernel, global: [Int], local: [Int], _ arguments: [KernelArgument], what: String) throws {
        let object = kernels[kernel.rawValue]
        let name = kernel.functionName
        var globalSizes = global, localSizes = local
        try launchLock.withLock { count in
            var index: cl_uint = 0
            func set<T>(_ value: T) throws {
                let status = withUnsafeBytes(of: value) { clSetKernelArg(object, index, $0.count, $0.baseAddress) }
                try OpenCLStatus.check(status, "clSetKernelArg(\(name), argument \(index))", device: self.name)
                index += 1
            }
            for argument in arguments {
                switch argument {
                case .tensor(let t):
                    try set(Optional(try memory(t, name)))
                    try set(UInt64(t.offset))
                case .optional(let t):
                    try set(Optional(try t.map { try memory($0, name) } ?? placeholder))
                    try set(UInt64(t?.offset ?? 0))
                    try set(Int32(t == nil ? 0 : 1))
                case .memory(let m): try set(Optional(m))
                case .local(let bytes):
                    let status = clSetKernelArg(object, index, bytes, nil)
                    try OpenCLStatus.check(status, "clSetKernelArg(\(name), local argument \(index))", device: self.name)
                    index += 1
                case .int(let v): try set(v)
                case .uint(let v): try set(v)
                case .ulong(let v): try set(v)
                case .float(let v): try set(v)
                }
            }
            count += 1
            let status = clEnqueueNDRangeKernel(queue, object, cl_uint(globalSizes.count), nil, &globalSizes, &localSizes, 0, nil, nil)
            try OpenCLStatus.check(status, "clEnqueueNDRangeKernel(\(name), \(what))", device: self.name)
        }
    }

    /// A scratch buffer of at least `count` floats from the cache, for partial sums.
    func scratch(_ count: Int) throws -> Tensor {
        try Tensor.empty([max(count, 1)], on: self)
    }
}
