// Atomic writes: the temporary files a writer killed part-way leaves beside the file are removed
// by the next write; those of live writers stay.
import Foundation
import Testing
@testable import RecurrentKit

@Suite struct AtomicFileTests {
    /// The id of a process that has exited (a finished child).
    static func exitedProcessID() throws -> pid_t {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sh")
        child.arguments = ["-c", "exit 0"]
        try child.run()
        child.waitUntilExit()
        return child.processIdentifier
    }

    @Test func aWriteRemovesTheTemporariesOfKilledWriters() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("recurrentkit-atomic-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("checkpoint.safetensors")
        let dead = try Self.exitedProcessID()
        let stale = [".checkpoint.safetensors.\(dead).12345.tmp", ".checkpoint.safetensors.\(dead).7.tmp"]
        // Kept: this process's own (a write in progress on another thread), a live process's
        // (pid 1), another file's, and names not of this pattern.
        let kept = [".checkpoint.safetensors.\(getpid()).99.tmp", ".checkpoint.safetensors.1.5.tmp",
                    ".history.json.\(dead).3.tmp", ".checkpoint.safetensors.x.3.tmp", "notes.tmp"]
        for name in stale + kept { try Data("partial".utf8).write(to: directory.appendingPathComponent(name)) }

        try AtomicFile.write(Data("new".utf8), to: url)
        #expect(try Data(contentsOf: url) == Data("new".utf8))
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: directory.path))
        #expect(left == Set(kept + ["checkpoint.safetensors"]), "\(left.sorted())")
    }
}
