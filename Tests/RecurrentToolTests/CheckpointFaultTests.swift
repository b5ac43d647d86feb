import Foundation
import RecurrentKit
@testable import RecurrentTool
import Testing

/// Checkpoints survive what can happen to the process writing them: SIGKILL at any moment, a
/// file-size limit, a directory that turns read-only. `recurrent train` runs as a child process.
@Suite struct CheckpointFaultTests {
    /// A small CSV series in a fresh directory.
    private func dataDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("recurrent-faults-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let rows = (0..<40).map { i in "\(i % 7),\(Double(i % 5) * 0.5 - Double(i % 3))" }
        try (["a,b"] + rows).joined(separator: "\n").write(to: directory.appendingPathComponent("data.csv"), atomically: true, encoding: .utf8)
        return directory
    }

    /// The options of every run here: one step per window, a checkpoint after every step.
    private func trainArguments(_ directory: URL, run: String, epochs: Int, resume: Bool) -> [String] {
        ["train", "--csv", directory.appendingPathComponent("data.csv").path, "--output", directory.appendingPathComponent(run).path,
         "--device", "cpu", "--window", "4", "--hidden-size", "8", "--batch-size", "1", "--epochs", "\(epochs)",
         "--checkpoint-every", "1"] + (resume ? ["--resume"] : [])
    }

    private func launch(_ arguments: [String], prefix: [String] = []) throws -> (process: Process, errors: Pipe) {
        let process = Process()
        let tool = try OversizedOptionTests.tool
        if prefix.isEmpty {
            process.executableURL = tool
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: prefix[0])
            process.arguments = Array(prefix.dropFirst()) + [tool.path] + arguments
        }
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return (process, errors)
    }

    /// The trainer's step and epoch counts a checkpoint file records, after reading it whole.
    private func recorded(_ url: URL) throws -> (steps: Int, epochs: Int) {
        let file = try SafeTensors.read(contentsOf: url)
        let json = try #require(file.metadata["recurrentkit.checkpoint"])
        let info = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let trainer = try #require(info["trainer"] as? [String: Any])
        return (try #require(trainer["steps"] as? Int), try #require(trainer["completed_epochs"] as? Int))
    }

    /// 200 times: start training (resuming from the newest checkpoint once there is one), SIGKILL it
    /// at a random moment, and read the checkpoint it leaves. Then the run, resumed to the end, gives
    /// a checkpoint byte for byte equal to one of a run never interrupted.
    @Test func killedAtRandomMomentsTheNewestCheckpointLoadsAndResumesBitwise() throws {
        let directory = try dataDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = directory.appendingPathComponent("run/\(SavedModel.checkpointFileName)")
        var random = SystemRandomNumberGenerator()
        var kills = 0, lastSteps = 0, lastEpochs = 0, loads = 0
        let epochs = 1_000   // never reached while killing
        for _ in 0..<200 {
            let resume = FileManager.default.fileExists(atPath: checkpoint.path)
            let previous = Self.inode(checkpoint)
            // A CPU-time limit ends the child should this test die before killing it (prlimit execs
            // the tool, so the process killed below is the tool itself).
            let (process, _) = try launch(trainArguments(directory, run: "run", epochs: epochs, resume: resume),
                                          prefix: ["/usr/bin/env", "prlimit", "--cpu=120"])
            // Once the process has written a checkpoint (a new file renamed over the old), kill it
            // at a random moment of the steps and writes that follow.
            let started = Date()
            while Self.inode(checkpoint) == previous, process.isRunning, Date().timeIntervalSince(started) < 10 { usleep(1_000) }
            usleep(UInt32.random(in: 0...25_000, using: &random))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if process.terminationReason == .uncaughtSignal { kills += 1 }
            guard FileManager.default.fileExists(atPath: checkpoint.path) else { continue }
            let (steps, epochs) = try recorded(checkpoint)
            #expect(steps >= lastSteps, "the checkpoint went back from step \(lastSteps) to \(steps)")
            (lastSteps, lastEpochs) = (steps, epochs)
            loads += 1
        }
        print("checkpoint kill test: \(kills) processes killed, \(loads) checkpoints read back, last at step \(lastSteps)")
        #expect(kills >= 190 && loads >= 190, "\(kills) kills, \(loads) checkpoints")

        // Resume the killed run to two epochs past its last, and run the same from scratch.
        let done = lastEpochs + 2
        let (resumed, resumedErrors) = try launch(trainArguments(directory, run: "run", epochs: done, resume: true))
        resumed.waitUntilExit()
        #expect(resumed.terminationStatus == 0, "\(String(decoding: resumedErrors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))")
        let (fresh, freshErrors) = try launch(trainArguments(directory, run: "fresh", epochs: done, resume: false))
        fresh.waitUntilExit()
        #expect(fresh.terminationStatus == 0, "\(String(decoding: freshErrors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))")
        let a = try Data(contentsOf: checkpoint)
        let b = try Data(contentsOf: directory.appendingPathComponent("fresh/\(SavedModel.checkpointFileName)"))
        #expect(a == b, "the resumed run's checkpoint differs from the uninterrupted run's")
    }

    /// A file-size limit stops the next checkpoint part-way: the process exits with status 1 and an
    /// error naming the file, and the previous checkpoint is intact.
    @Test func aFileSizeLimitLeavesThePreviousCheckpointIntact() throws {
        let directory = try dataDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = directory.appendingPathComponent("run/\(SavedModel.checkpointFileName)")
        let (first, _) = try launch(trainArguments(directory, run: "run", epochs: 1, resume: false))
        first.waitUntilExit()
        #expect(first.terminationStatus == 0)
        let before = try Data(contentsOf: checkpoint)
        #expect(before.count > 4096)

        let (limited, errors) = try launch(trainArguments(directory, run: "run", epochs: 2, resume: true),
                                           prefix: ["/usr/bin/env", "prlimit", "--fsize=4096"])
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        limited.waitUntilExit()
        #expect(limited.terminationReason == .exit && limited.terminationStatus == 1, "\(limited.terminationStatus): \(message)")
        #expect(message.contains(checkpoint.path), "\(message)")
        #expect(try Data(contentsOf: checkpoint) == before)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: checkpoint.deletingLastPathComponent().path)
            .filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    /// A directory that turns read-only: saving throws an error naming the file, and the checkpoint
    /// already there still loads.
    @Test func aReadOnlyDirectoryLeavesThePreviousCheckpointIntact() throws {
        let directory = try dataDirectory()
        defer {
            _ = try? Self.makeWritable(directory.appendingPathComponent("run"))
            try? FileManager.default.removeItem(at: directory)
        }
        let run = directory.appendingPathComponent("run"), checkpoint = run.appendingPathComponent(SavedModel.checkpointFileName)
        let (first, _) = try launch(trainArguments(directory, run: "run", epochs: 1, resume: false))
        first.waitUntilExit()
        let before = try Data(contentsOf: checkpoint)
        try Self.makeReadOnly(run)
        let (again, errors) = try launch(trainArguments(directory, run: "run", epochs: 2, resume: true))
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        again.waitUntilExit()
        try Self.makeWritable(run)
        #expect(again.terminationReason == .exit && again.terminationStatus == 1, "\(again.terminationStatus): \(message)")
        #expect(message.contains(run.path), "\(message)")
        #expect(try Data(contentsOf: checkpoint) == before)
        #expect(try recorded(checkpoint).epochs == 1)
    }

    /// The inode of the file at `url` (a rename over it gives a new one), or nil.
    static func inode(_ url: URL) -> UInt64? {
        var info = stat()
        return stat(url.path, &info) == 0 ? UInt64(info.st_ino) : nil
    }

    /// Makes `directory` read-only: permissions, and for root (whom permissions do not stop) the
    /// immutable attribute. Fails unless creating a file there is then refused.
    static func makeReadOnly(_ directory: URL) throws {
        try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: directory.path)
        if geteuid() == 0 { try runQuietly("/usr/bin/env", ["chattr", "+i", directory.path]) }
        let probe = directory.appendingPathComponent("probe")
        if FileManager.default.createFile(atPath: probe.path, contents: Data()) {
            try? FileManager.default.removeItem(at: probe)
            Issue.record("could not make \(directory.path) read-only here")
        }
    }

    static func makeWritable(_ directory: URL) throws {
        if geteuid() == 0 { try runQuietly("/usr/bin/env", ["chattr", "-i", directory.path]) }
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.path)
    }

    private static func runQuietly(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
    }
}
