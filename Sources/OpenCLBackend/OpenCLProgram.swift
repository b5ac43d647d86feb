// The kernel program: built once per process and device (keyed by device, build options and
// source hash), shared by every backend opened on that device together with its context.
import COpenCL
import Kernels
import RecurrentCore

/// An OpenCL context on one device and the RecurrentKit program built for it.
final class OpenCLDeviceContext: @unchecked Sendable {
    // @unchecked: the context and program handles are immutable after creation, and OpenCL
    // allows using them from any thread.
    let info: OpenCLDeviceInfo
    let context: cl_context
    let program: cl_program
    let tuning: OpenCLTuning
    let buildOptions: String

    private init(info: OpenCLDeviceInfo, context: cl_context, program: cl_program, tuning: OpenCLTuning, buildOptions: String) {
        self.info = info
        self.context = context
        self.program = program
        self.tuning = tuning
        self.buildOptions = buildOptions
    }

    deinit {
        clReleaseProgram(program)
        clReleaseContext(context)
    }

    /// Built programs of this process, by device, options and source.
    private static let built = Locked<[String: OpenCLDeviceContext]>([:])

    /// The context and program for `info`: built on first use, then shared.
    static func shared(for info: OpenCLDeviceInfo) throws -> OpenCLDeviceContext {
        // The table's values alone: what the environment changes (time loop, packed products) is
        // the host's choice and needs no other program.
        let tuning = try OpenCLTuning.for(info, environment: [:])
        let options = buildOptions(for: info, tuning: tuning)
        let source = KernelSources.program
        let key = "\(info.specification)|\(info.name)|\(options)|\(fnv1a(source))"
        return try built.withLock { cache in
            if let existing = cache[key] { return existing }
            let context = try makeContext(info)
            do {
                let program = try build(source: source, options: options, context: context, device: info)
                let made = OpenCLDeviceContext(info: info, context: context, program: program, tuning: tuning, buildOptions: options)
                cache[key] = made
                return made
            } catch {
                clReleaseContext(context)
                throw error
            }
        }
    }

    /// `-D` tuning values, and correctly rounded division and square root where the device
    /// offers them (OpenCL's default allows 2.5 ulp, which would part the devices' results).
    static func buildOptions(for info: OpenCLDeviceInfo, tuning: OpenCLTuning) -> String {
        var options = tuning.defines
        if info.correctlyRoundedDivideSqrt { options.append("-cl-fp32-correctly-rounded-divide-sqrt") }
        return options.joined(separator: " ")
    }

    static func makeContext(_ info: OpenCLDeviceInfo) throws -> cl_context {
        var status: cl_int = 0
        var device: cl_device_id? = info.id
        let context = clCreateContext(nil, 1, &device, nil, nil, &status)
        try OpenCLStatus.check(status, "clCreateContext", device: info.specification)
        guard let context else {
            throw RecurrentError.deviceFailure(device: info.specification, operation: "clCreateContext", status: "no context")
        }
        return context
    }

    /// Compiles `source` for `device`; a failure throws `.kernelBuild` with the compiler's log.
    static func build(source: String, options: String, context: cl_context, device info: OpenCLDeviceInfo) throws -> cl_program {
        var status: cl_int = 0
        let program: cl_program? = source.withCString { text in
            var pointer: UnsafePointer<CChar>? = text
            var length = source.utf8.count
            return clCreateProgramWithSource(context, 1, &pointer, &length, &status)
        }
        try OpenCLStatus.check(status, "clCreateProgramWithSource", device: info.specification)
        guard let program else {
            throw RecurrentError.deviceFailure(device: info.specification, operation: "clCreateProgramWithSource", status: "no program")
        }
        var device: cl_device_id? = info.id
        let buildStatus = clBuildProgram(program, 1, &device, options, nil, nil)
        if buildStatus != CL_SUCCESS {
            let log = (try? buildLog(program, info)) ?? "(no build log)"
            clReleaseProgram(program)
            if buildStatus == CL_BUILD_PROGRAM_FAILURE || buildStatus == CL_INVALID_BUILD_OPTIONS {
                throw RecurrentError.kernelBuild(device: "\(info.specification) (\(info.name))", options: options,
                                                 log: "\(OpenCLStatus.name(buildStatus))\n\(log)")
            }
            try OpenCLStatus.check(buildStatus, "clBuildProgram", device: info.specification)
        }
        return program
    }

    private static func buildLog(_ program: cl_program, _ info: OpenCLDeviceInfo) throws -> String {
        var size = 0
        try OpenCLStatus.check(clGetProgramBuildInfo(program, info.id, cl_program_build_info(CL_PROGRAM_BUILD_LOG), 0, nil, &size),
                               "clGetProgramBuildInfo", device: info.specification)
        var bytes = [UInt8](repeating: 0, count: max(size, 1))
        try OpenCLStatus.check(clGetProgramBuildInfo(program, info.id, cl_program_build_info(CL_PROGRAM_BUILD_LOG), size, &bytes, nil),
                               "clGetProgramBuildInfo", device: info.specification)
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// The kernels of the program by function name, fresh objects for one backend (a kernel's
    /// arguments are state, so backends do not share kernel objects).
    func makeKernels() throws -> [String: cl_kernel] {
        var count: cl_uint = 0
        try OpenCLStatus.check(clCreateKernelsInProgram(program, 0, nil, &count), "clCreateKernelsInProgram",
                               device: info.specification)
        var kernels = [cl_kernel?](repeating: nil, count: Int(count))
        try OpenCLStatus.check(clCreateKernelsInProgram(program, count, &kernels, nil), "clCreateKernelsInProgram",
                               device: info.specification)
        var byName: [String: cl_kernel] = [:]
        for case let kernel? in kernels {
            var size = 0
            try OpenCLStatus.check(clGetKernelInfo(kernel, cl_kernel_info(CL_KERNEL_FUNCTION_NAME), 0, nil, &size),
                                   "clGetKernelInfo", device: info.specification)
            var bytes = [UInt8](repeating: 0, count: max(size, 1))
            try OpenCLStatus.check(clGetKernelInfo(kernel, cl_kernel_info(CL_KERNEL_FUNCTION_NAME), size, &bytes, nil),
                                   "clGetKernelInfo", device: info.specification)
            byName[String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)] = kernel
        }
        return byName
    }

    /// 64-bit FNV-1a of the source text: the cache key's source part.
    static func fnv1a(_ text: String) -> UInt64 {
        text.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01B3 }
    }
}
