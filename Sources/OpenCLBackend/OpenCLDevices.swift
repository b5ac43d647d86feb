// Discovery of OpenCL platforms and devices, and the names `RECURRENT_DEVICE` uses for them.
import COpenCL
import RecurrentCore

/// The kind of an OpenCL device, from `CL_DEVICE_TYPE`.
public enum OpenCLDeviceKind: String, Sendable {
    case gpu = "GPU", accelerator = "accelerator", cpu = "CPU", other = "other"
}

/// What the host knows of one OpenCL device before opening it.
public struct OpenCLDeviceInfo: Sendable, CustomStringConvertible {
    /// Index of the platform in `clGetPlatformIDs` order.
    public let platformIndex: Int
    /// Index of the device within its platform.
    public let deviceIndex: Int
    public let platformName: String
    public let name: String
    public let vendor: String
    public let kind: OpenCLDeviceKind
    /// `CL_DEVICE_VERSION`, such as "OpenCL 3.0 CUDA".
    public let version: String
    public let computeUnits: Int
    public let globalMemoryBytes: Int
    /// The largest single buffer the device allows (`CL_DEVICE_MAX_MEM_ALLOC_SIZE`).
    public let maxAllocationBytes: Int
    public let maxWorkGroupSize: Int
    /// Local memory per work-group (`CL_DEVICE_LOCAL_MEM_SIZE`).
    public let localMemoryBytes: Int
    /// Whether the device divides and takes square roots correctly rounded when asked.
    public let correctlyRoundedDivideSqrt: Bool
    let handle: DeviceHandle
    var id: cl_device_id { handle.id }

    /// The `RECURRENT_DEVICE` name of this device: `opencl:P:D`.
    public var specification: String { "opencl:\(platformIndex):\(deviceIndex)" }

    public var description: String {
        "\(specification)  \(name) (\(kind.rawValue), \(platformName), \(computeUnits) compute units, "
            + "\(globalMemoryBytes >> 20) MiB)"
    }
}

/// The OpenCL devices of this machine.
public enum OpenCLDevices {
    /// Every device of every platform, in platform then device order. Empty when no OpenCL
    /// platform is installed (no ICD); throws only when a query fails.
    public static func all() throws -> [OpenCLDeviceInfo] {
        var platformCount: cl_uint = 0
        let status = clGetPlatformIDs(0, nil, &platformCount)
        if status == -1001 /* CL_PLATFORM_NOT_FOUND_KHR: no ICD installed */ || platformCount == 0 { return [] }
        try OpenCLStatus.check(status, "clGetPlatformIDs", device: "OpenCL")
        var platforms = [cl_platform_id?](repeating: nil, count: Int(platformCount))
        try OpenCLStatus.check(clGetPlatformIDs(platformCount, &platforms, nil), "clGetPlatformIDs", device: "OpenCL")

        var found: [OpenCLDeviceInfo] = []
        for (p, platform) in platforms.enumerated() {
            let platformName = try platformString(platform, cl_platform_info(CL_PLATFORM_NAME))
            var deviceCount: cl_uint = 0
            let s = clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &deviceCount)
            if s == CL_DEVICE_NOT_FOUND || deviceCount == 0 { continue }
            try OpenCLStatus.check(s, "clGetDeviceIDs (platform \(p))", device: platformName)
            var devices = [cl_device_id?](repeating: nil, count: Int(deviceCount))
            try OpenCLStatus.check(clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), deviceCount, &devices, nil),
                                   "clGetDeviceIDs (platform \(p))", device: platformName)
            for (d, device) in devices.enumerated() {
                guard let device else { continue }
                found.append(try describe(device, platformIndex: p, deviceIndex: d, platformName: platformName))
            }
        }
        return found
    }

    /// A line per device, or a sentence saying there are none: for error messages and listings.
    public static func listing(_ devices: [OpenCLDeviceInfo]) -> String {
        guard !devices.isEmpty else {
            return "no OpenCL devices found (no OpenCL platform is installed; on Debian, "
                + "`apt-get install ocl-icd-opencl-dev pocl-opencl-icd` gives one on the CPU)"
        }
        return devices.map(\.description).joined(separator: "\n")
    }

    /// The device an `opencl` or `opencl:P:D` name means. `opencl` is the first device, or, for
    /// local rank `localRank` of a node with several GPUs, that rank's GPU (`rankDevice`).
    /// Throws `.deviceUnavailable` listing the devices found when there is no such device.
    public static func resolve(_ specification: String, among devices: [OpenCLDeviceInfo],
                               localRank: Int? = nil) throws -> OpenCLDeviceInfo {
        let fields = specification.split(separator: ":", omittingEmptySubsequences: false)
        func unavailable(_ reason: String) -> RecurrentError {
            .deviceUnavailable(requested: specification, reason: "\(reason); devices found:\n\(listing(devices))")
        }
        if fields.count == 1 {
            guard let first = devices.first else { throw unavailable("no OpenCL device") }
            return rankDevice(among: devices, localRank: localRank) ?? first
        }
        guard fields.count == 3, let p = Int(fields[1]), let d = Int(fields[2]) else {
            throw RecurrentError.deviceUnavailable(
                requested: specification, reason: "expected opencl or opencl:P:D with platform and device numbers, such as opencl:0:0")
        }
        guard let match = devices.first(where: { $0.platformIndex == p && $0.deviceIndex == d }) else {
            throw unavailable("there is no device \(d) on platform \(p)")
        }
        return match
    }

    /// The device `auto` prefers: the first GPU or accelerator (for local rank `localRank` of a
    /// node with several, that rank's: `rankDevice`), or nil.
    public static func preferred(among devices: [OpenCLDeviceInfo], localRank: Int? = nil) -> OpenCLDeviceInfo? {
        rankDevice(among: devices, localRank: localRank) ?? devices.first { $0.kind == .gpu || $0.kind == .accelerator }
    }

    private static func describe(_ device: cl_device_id, platformIndex: Int, deviceIndex: Int,
                                 platformName: String) throws -> OpenCLDeviceInfo {
        let type: cl_device_type = try deviceValue(device, CL_DEVICE_TYPE)
        let kind: OpenCLDeviceKind =
            type & cl_device_type(CL_DEVICE_TYPE_GPU) != 0 ? .gpu
            : type & cl_device_type(CL_DEVICE_TYPE_ACCELERATOR) != 0 ? .accelerator
            : type & cl_device_type(CL_DEVICE_TYPE_CPU) != 0 ? .cpu : .other
        let fp: cl_device_fp_config = try deviceValue(device, CL_DEVICE_SINGLE_FP_CONFIG)
        let units: cl_uint = try deviceValue(device, CL_DEVICE_MAX_COMPUTE_UNITS)
        let memory: cl_ulong = try deviceValue(device, CL_DEVICE_GLOBAL_MEM_SIZE)
        let maxAllocation: cl_ulong = try deviceValue(device, CL_DEVICE_MAX_MEM_ALLOC_SIZE)
        let workGroup: Int = try deviceValue(device, CL_DEVICE_MAX_WORK_GROUP_SIZE)
        let localMemory: cl_ulong = try deviceValue(device, CL_DEVICE_LOCAL_MEM_SIZE)
        return OpenCLDeviceInfo(
            platformIndex: platformIndex, deviceIndex: deviceIndex, platformName: platformName,
            name: try deviceString(device, CL_DEVICE_NAME), vendor: try deviceString(device, CL_DEVICE_VENDOR),
            kind: kind, version: try deviceString(device, CL_DEVICE_VERSION),
            computeUnits: Int(units), globalMemoryBytes: Int(memory), maxAllocationBytes: Int(maxAllocation),
            maxWorkGroupSize: workGroup, localMemoryBytes: Int(localMemory),
            correctlyRoundedDivideSqrt: fp & cl_device_fp_config(CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) != 0,
            handle: DeviceHandle(id: device))
    }

    static func deviceValue<T>(_ device: cl_device_id, _ parameter: Int32) throws -> T {
        let size = MemoryLayout<T>.size
        let raw = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: MemoryLayout<T>.alignment)
        defer { raw.deallocate() }
        try OpenCLStatus.check(clGetDeviceInfo(device, cl_device_info(parameter), size, raw, nil),
                               "clGetDeviceInfo(\(parameter))", device: "OpenCL device")
        return raw.load(as: T.self)
    }

    static func deviceString(_ device: cl_device_id, _ parameter: Int32) throws -> String {
        try string { size, buffer, written in clGetDeviceInfo(device, cl_device_info(parameter), size, buffer, written) }
    }

    static func platformString(_ platform: cl_platform_id?, _ parameter: cl_platform_info) throws -> String {
        try string { size, buffer, written in clGetPlatformInfo(platform, parameter, size, buffer, written) }
    }

    /// Runs a two-call OpenCL string query (size, then contents).
    private static func string(_ query: (Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?) -> cl_int) throws -> String {
        var size = 0
        try OpenCLStatus.check(query(0, nil, &size), "OpenCL info query (size)", device: "OpenCL")
        var bytes = [UInt8](repeating: 0, count: max(size, 1))
        try OpenCLStatus.check(bytes.withUnsafeMutableBytes { query(size, $0.baseAddress, nil) },
                               "OpenCL info query", device: "OpenCL")
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self).trimmingCharacters(in: .whitespaces)
    }
}

/// An OpenCL device id: a handle OpenCL allows on any thread.
struct DeviceHandle: @unchecked Sendable {
    let id: cl_device_id
}
