// CLBlast's kernel parameters, set per device at run time: from the tuning table, and from the
// JSON files CLBlast's tuners write (`clblast_tuner_xgemm` and the others, run on the device by
// `scripts/device-check.sh --tune`), named in RECURRENT_CLBLAST_TUNING.
import CCLBlast
import COpenCL
import Foundation
import RecurrentCore

/// One CLBlast kernel's complete parameter set, as `CLBlastOverrideParameters` takes it.
///
/// CLBlast keeps a set per device, kernel and precision for the whole process: once applied, it
/// serves every later call of the routines that use the kernel on that device, whichever backend
/// makes them. A set must name every parameter of the kernel (CLBlast refuses it otherwise).
public struct CLBlastParameters: Sendable, Equatable {
    /// CLBlast's kernel name: `Xgemm`, `XgemmDirect`, `GemmRoutine` (the direct/indirect cut-off
    /// `XGEMM_MIN_INDIRECT_SIZE`), `Copy`, `Pad`, `Transpose`, `Padtranspose`, ...
    public var kernel: String
    /// Parameter name → value, such as `MWG` → 64.
    public var values: [String: Int]
    /// The tuner's time for these values, in milliseconds, where they came from a tuner file.
    public var milliseconds: Double?

    /// A parameter set for `kernel`.
    public init(kernel: String, values: [String: Int], milliseconds: Double? = nil) {
        self.kernel = kernel
        self.values = values
        self.milliseconds = milliseconds
    }

    /// The variable naming tuner files, or folders of them, separated by `:`.
    public static let environmentVariable = "RECURRENT_CLBLAST_TUNING"

    /// CLBlast's kernel name for a tuner's `kernel_family`: `xgemm_1` → `Xgemm`, `xgemm_direct_2` →
    /// `XgemmDirect`, `gemm_routine` → `GemmRoutine` (the parts in capitals, numbered variants dropped).
    public static func kernelName(family: String) -> String {
        family.split(separator: "_").filter { !$0.allSatisfy(\.isNumber) }
            .map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    /// The parameter set in one tuner file: its `kernel_family`, `best_parameters` (`"MWG=64 NWG=32
    /// ..."`, `PRECISION` dropped) and `best_time`. Throws naming the file and the field at fault.
    public static func read(tunerFile url: URL) throws -> CLBlastParameters {
        let file = url.path
        func bad(_ field: String, _ expected: String, _ got: String) -> RecurrentError {
            .invalidArgument(name: "\(file): \(field)", expected: expected, got: got)
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw RecurrentError.file(path: file, reason: "cannot read the CLBlast tuner file: \(error.localizedDescription)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data), let json = object as? [String: Any] else {
            throw bad("contents", "a JSON object written by a CLBlast tuner", "\(data.count) bytes that are not one")
        }
        guard let family = json["kernel_family"] as? String, !family.isEmpty else {
            throw bad("kernel_family", "a kernel family such as \"xgemm_1\"", "\(json["kernel_family"].map { "\($0)" } ?? "nothing")")
        }
        if let precision = json["precision"] as? String, precision != "32" {
            throw bad("precision", "32 (single precision, the only one RecurrentKit runs)", precision)
        }
        guard let best = json["best_parameters"] as? String else {
            throw bad("best_parameters", "a string of NAME=VALUE pairs", "\(json["best_parameters"].map { "\($0)" } ?? "nothing")")
        }
        var values: [String: Int] = [:]
        for pair in best.split(separator: " ") {
            let parts = pair.split(separator: "=", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, let value = Int(parts[1]), value >= 0 else {
                throw bad("best_parameters", "NAME=VALUE pairs with non-negative integer values", "'\(pair)'")
            }
            if parts[0] != "PRECISION" { values[String(parts[0])] = value }
        }
        guard !values.isEmpty else { throw bad("best_parameters", "at least one NAME=VALUE pair", "'\(best)'") }
        let time = (json["best_time"] as? String).flatMap(Double.init) ?? (json["best_time"] as? Double)
        return CLBlastParameters(kernel: kernelName(family: family), values: values, milliseconds: time)
    }

    /// The sets named by `RECURRENT_CLBLAST_TUNING`: each entry a tuner file or a folder whose
    /// `*.json` files are read. Where several files tune the same kernel (the tuners' numbered
    /// variants), the fastest set is kept. Empty when the variable is not set.
    public static func fromEnvironment(_ environment: [String: String]) throws -> [CLBlastParameters] {
        guard let list = environment[environmentVariable], !list.isEmpty else { return [] }
        var files: [URL] = []
        for entry in list.split(separator: ":").map(String.init) {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: entry, isDirectory: &isFolder) else {
                throw RecurrentError.invalidArgument(name: environmentVariable, expected: "CLBlast tuner files or folders of them",
                                                     got: "'\(entry)', which does not exist")
            }
            if isFolder.boolValue {
                let names = try FileManager.default.contentsOfDirectory(atPath: entry).filter { $0.hasSuffix(".json") }.sorted()
                guard !names.isEmpty else {
                    throw RecurrentError.invalidArgument(name: environmentVariable, expected: "a folder holding CLBlast tuner files (*.json)",
                                                         got: "'\(entry)', which holds none")
                }
                files += names.map { URL(fileURLWithPath: entry).appendingPathComponent($0) }
            } else {
                files.append(URL(fileURLWithPath: entry))
            }
        }
        var kept: [CLBlastParameters] = []   // one set per kernel, in the order first seen
        for file in files {
            let set = try read(tunerFile: file)
            if let i = kept.firstIndex(where: { $0.kernel == set.kernel }) {
                if (set.milliseconds ?? .infinity) < (kept[i].milliseconds ?? .infinity) { kept[i] = set }
            } else {
                kept.append(set)
            }
        }
        return kept
    }

    /// Hands the set to CLBlast for `device` (single precision). Throws naming the kernel, with
    /// CLBlast's reason: an unknown kernel, or a parameter of it left out.
    func apply(to device: cl_device_id, deviceName: String) throws {
        let names = values.keys.sorted()
        let sizes = names.map { values[$0]! }   // size_t
        let status: CLBlastStatusCode = names.withCStrings { pointers in
            var pointers = pointers
            return CLBlastOverrideParameters(device, kernel, CLBlastPrecisionSingle, names.count, &pointers, sizes)
        }
        switch status {
        case CLBlastSuccess: return
        case CLBlastInvalidOverrideKernel:
            throw RecurrentError.invalidArgument(name: "CLBlast parameters", expected: "a kernel CLBlast knows (Xgemm, XgemmDirect, ...)",
                                                 got: "'\(kernel)'")
        case CLBlastMissingOverrideParameter:
            throw RecurrentError.invalidArgument(name: "CLBlast parameters of \(kernel)", expected: "every parameter of the kernel",
                                                 got: "only \(names.joined(separator: ", "))")
        default:
            throw RecurrentError.deviceFailure(device: deviceName, operation: "CLBlastOverrideParameters(\(kernel))",
                                               status: OpenCLStatus.name(status.rawValue))
        }
    }
}

extension Array where Element == String {
    /// Calls `body` with C strings of the elements, valid for the call.
    fileprivate func withCStrings<R>(_ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        let copies = map { strdup($0) }
        defer { copies.forEach { free($0) } }
        return body(copies.map { UnsafePointer($0) })
    }
}
