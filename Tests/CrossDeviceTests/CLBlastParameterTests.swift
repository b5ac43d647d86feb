// CLBlast's kernel parameters from tuner files (RECURRENT_CLBLAST_TUNING): how the files are read,
// what a bad one says, and GEMMs run with the parameters set. CLBlast keeps parameters per device
// for the whole process, so the runs with them happen in a child process of this test binary (the
// `CLBlastParameterChild` suite, enabled only there), leaving the other tests' GEMMs untouched.
// M, N, K: GEMM sizes.

import Foundation
@testable import OpenCLBackend
import RecurrentKit
import TestSupport
import Testing

/// Writes tuner files in the format CLBlast's tuners write (one `"key": "value"` per line).
enum TunerFiles {
    /// Xgemm's sixteen parameters: small 32 × 32 tiles, unlike CLBlast's defaults.
    static let xgemm = "GEMMK=0 KREG=1 KWG=16 KWI=2 MDIMA=8 MDIMC=8 MWG=32 NDIMB=8 NDIMC=8 NWG=32 PRECISION=32 SA=0 SB=1 "
        + "STRM=0 STRN=0 VWM=2 VWN=1"

    static func json(family: String, parameters: String, time: String = "0.5", precision: String = "32") -> String {
        """
        {
          "kernel_family": "\(family)",
          "precision": "\(precision)",
          "best_kernel": "Xgemm",
          "best_time": "\(time)",
          "best_parameters": "\(parameters)",
          "arg_m": "256",
          "arg_n": "256",
          "arg_k": "256"
        }
        """
    }

    /// A fresh folder holding `files` (name → contents).
    static func folder(_ files: [String: String]) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("clblast-tuning-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (name, contents) in files {
            try contents.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return folder
    }
}

@Suite struct CLBlastParameterTests {
    @Test func kernelNamesFollowCLBlastsDatabase() {
        #expect(CLBlastParameters.kernelName(family: "xgemm_1") == "Xgemm")
        #expect(CLBlastParameters.kernelName(family: "xgemm_direct_2") == "XgemmDirect")
        #expect(CLBlastParameters.kernelName(family: "gemm_routine") == "GemmRoutine")
        #expect(CLBlastParameters.kernelName(family: "copy") == "Copy")
    }

    /// Each file's best parameters, PRECISION dropped; of two files for one kernel the faster wins.
    @Test func foldersAndFilesAreRead() throws {
        let folder = try TunerFiles.folder([
            "xgemm_1.json": TunerFiles.json(family: "xgemm_1", parameters: TunerFiles.xgemm, time: "0.80"),
            "xgemm_2.json": TunerFiles.json(family: "xgemm_2", parameters: TunerFiles.xgemm.replacingOccurrences(of: "KWG=16", with: "KWG=32"),
                                            time: "0.25"),
            "routine.json": TunerFiles.json(family: "gemm_routine", parameters: "XGEMM_MIN_INDIRECT_SIZE=64"),
            "notes.txt": "not a tuner file",
        ])
        defer { try? FileManager.default.removeItem(at: folder) }
        let sets = try CLBlastParameters.fromEnvironment([CLBlastParameters.environmentVariable: folder.path])
        #expect(sets.map(\.kernel).sorted() == ["GemmRoutine", "Xgemm"])
        let xgemm = try #require(sets.first { $0.kernel == "Xgemm" })
        #expect(xgemm.values.count == 16 && xgemm.values["KWG"] == 32 && xgemm.values["PRECISION"] == nil)
        #expect(xgemm.milliseconds == 0.25)
        #expect(sets.first { $0.kernel == "GemmRoutine" }?.values == ["XGEMM_MIN_INDIRECT_SIZE": 64])
        // One file by name; nothing without the variable.
        let one = try CLBlastParameters.fromEnvironment(
            [CLBlastParameters.environmentVariable: folder.appendingPathComponent("routine.json").path])
        #expect(one.map(\.kernel) == ["GemmRoutine"])
        #expect(try CLBlastParameters.fromEnvironment([:]).isEmpty)
    }

    /// A bad file or entry is an error that names it and the field at fault.
    @Test(arguments: [
        ("bad.json", "{ not json", "a JSON object written by a CLBlast tuner"),
        ("bad.json", TunerFiles.json(family: "", parameters: "MWG=64"), "kernel_family"),
        ("bad.json", TunerFiles.json(family: "xgemm_1", parameters: "MWG=64 NWG=x"), "'NWG=x'"),
        ("bad.json", TunerFiles.json(family: "xgemm_1", parameters: "MWG=64", precision: "16"), "precision"),
        ("bad.json", "{\"kernel_family\": \"xgemm_1\"}", "best_parameters"),
    ])
    func badFilesAreNamed(_ name: String, _ contents: String, _ expected: String) throws {
        let folder = try TunerFiles.folder([name: contents])
        defer { try? FileManager.default.removeItem(at: folder) }
        let error = #expect(throws: RecurrentError.self) {
            try CLBlastParameters.fromEnvironment([CLBlastParameters.environmentVariable: folder.path])
        }
        let message = "\(error.map { "\($0)" } ?? "")"
        #expect(message.contains(folder.appendingPathComponent(name).path) && message.contains(expected), "\(message)")
    }

    @Test func missingAndEmptyEntriesAreNamed() throws {
        let empty = try TunerFiles.folder([:])
        defer { try? FileManager.default.removeItem(at: empty) }
        for (entry, expected) in [("/nonexistent/tuning", "does not exist"), (empty.path, "holds none")] {
            let error = #expect(throws: RecurrentError.self) {
                try CLBlastParameters.fromEnvironment([CLBlastParameters.environmentVariable: entry])
            }
            let message = "\(error.map { "\($0)" } ?? "")"
            #expect(message.contains(CLBlastParameters.environmentVariable) && message.contains(entry) && message.contains(expected),
                    "\(message)")
        }
    }

    /// Runs this test binary's `CLBlastParameterChild` suite with `tuning` as the tuner folder.
    private func child(_ mode: String, tuning: URL) throws -> (status: Int32, output: String) {
        var environment = ProcessInfo.processInfo.environment
        environment[CLBlastParameters.environmentVariable] = tuning.path
        environment[ChildMode.variable] = mode
        return try runProcess(URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL,
                              ["--testing-library", "swift-testing", "--filter", "CLBlastParameterChild"], environment: environment)
    }

    /// GEMMs of many shapes with tuned Xgemm tiles, and the indirect kernel forced for every size,
    /// against the CPU backend; an incomplete set is refused when the backend opens the device.
    @Test(.enabled(if: Devices.haveOpenCL, "no OpenCL device on this machine"))
    func gemmsWithTunedParametersInAChildProcess() throws {
        let tuned = try TunerFiles.folder([
            "xgemm_1.json": TunerFiles.json(family: "xgemm_1", parameters: TunerFiles.xgemm),
            "routine.json": TunerFiles.json(family: "gemm_routine", parameters: "XGEMM_MIN_INDIRECT_SIZE=1"),
        ])
        let incomplete = try TunerFiles.folder(["xgemm_1.json": TunerFiles.json(family: "xgemm_1", parameters: "MWG=64 NWG=64")])
        defer {
            try? FileManager.default.removeItem(at: tuned)
            try? FileManager.default.removeItem(at: incomplete)
        }
        for (mode, folder) in [("tuned", tuned), ("incomplete", incomplete)] {
            let run = try child(mode, tuning: folder)
            #expect(run.status == 0 && run.output.contains("CLBlastParameterChild") && run.output.contains("passed"),
                    "child (\(mode)) exited \(run.status):\n\(run.output.suffix(3000))")
        }
    }
}

/// What the child process runs: `tuned` or `incomplete` parameters.
enum ChildMode {
    static let variable = "RECURRENT_CLBLAST_TEST_CHILD"
    static var value: String? { ProcessInfo.processInfo.environment[variable] }
}

/// Runs only in the child process `CLBlastParameterTests` starts, with its tuner folder set.
@Suite(.enabled(if: ChildMode.value != nil && Devices.haveOpenCL, "runs only in a child process of CLBlastParameterTests"))
struct CLBlastParameterChild {

    @Test func gemmsMatchTheCPU() throws {
        let device = Devices.gpu.device
        guard ChildMode.value == "tuned" else {
            // The set names 2 of Xgemm's 16 parameters: CLBlast refuses it, and the error says so.
            let error = #expect(throws: RecurrentError.self) { _ = try OpenCLBackend(device: device) }
            let message = "\(error.map { "\($0)" } ?? "")"
            #expect(message.contains("Xgemm") && message.contains("every parameter") && message.contains("MWG, NWG"), "\(message)")
            return
        }
        let backend = try OpenCLBackend(device: device)
        #expect(backend.tuning.clblast.map(\.kernel).sorted() == ["GemmRoutine", "Xgemm"])
        var random = TestRandom(seed: 7, stream: 1)
        let shapes: [(m: Int, n: Int, k: Int, ta: Transpose, tb: Transpose)] = [
            (1, 1, 1, .none, .none), (3, 5, 7, .none, .transposed), (33, 65, 17, .transposed, .none),
            (64, 256, 64, .none, .transposed), (100, 37, 129, .transposed, .transposed), (130, 130, 130, .none, .none),
        ]
        for s in shapes {
            let a = random.uniform(count: s.m * s.k, low: -1, high: 1), b = random.uniform(count: s.k * s.n, low: -1, high: 1)
            let c = random.uniform(count: s.m * s.n, low: -1, high: 1)
            let shape = GEMMShape(m: s.m, n: s.n, k: s.k, transA: s.ta, transB: s.tb, alpha: 0.75, beta: 0.5)
            var results: [[Float]] = []
            for on in [backend as any Backend, Devices.cpu] {
                let out = try Tensor(shape: [s.m, s.n], values: c, on: on)
                try on.gemm(out, try Tensor(shape: [s.m * s.k], values: a, on: on), try Tensor(shape: [s.k * s.n], values: b, on: on), shape)
                results.append(try out.toArray())
            }
            expectClose(results[0], results[1], absolute: 1e-5, relative: 1e-4, "GEMM \(s) with tuned CLBlast parameters")
        }
    }
}
