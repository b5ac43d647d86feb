import Foundation

/// Writes files so that a reader sees the old contents or the new, never a mixture, and a
/// crash never leaves a half-written file where a good one was.
public enum AtomicFile {
    /// Writes `data` to a temporary file beside `url`, flushes it to disk, renames it over `url`
    /// and flushes the directory. On failure the temporary file is removed and `url` is untouched.
    public static func write(_ data: Data, to url: URL) throws {
        let path = url.path
        let directory = url.deletingLastPathComponent().path
        let temporary = "\(directory)/.\(url.lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw fileError(path, "cannot create a temporary file in \(directory): \(errnoText())") }
        var written = 0
        let ok = data.withUnsafeBytes { raw -> Bool in
            while written < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 { if errno == EINTR { continue }; return false }
                written += n
            }
            return fsync(fd) == 0
        }
        let reason = ok ? nil : errnoText()
        close(fd)
        guard ok else {
            unlink(temporary)
            throw fileError(path, "writing failed after \(written) of \(data.count) bytes: \(reason ?? "unknown error")")
        }
        guard rename(temporary, path) == 0 else {
            let reason = errnoText()
            unlink(temporary)
            throw fileError(path, "cannot replace the file: \(reason)")
        }
        let dirFD = open(directory, O_RDONLY | O_CLOEXEC)
        if dirFD >= 0 {
            fsync(dirFD)
            close(dirFD)
        }
        removeStaleTemporaries(of: url)
    }

    /// Removes the temporary files of `url` that writers killed part-way left behind
    /// (`.NAME.PID.N.tmp` whose process no longer exists). Those of this process and of live
    /// processes (a writer at work) stay.
    static func removeStaleTemporaries(of url: URL) {
        let directory = url.deletingLastPathComponent().path, prefix = ".\(url.lastPathComponent)."
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasPrefix(prefix) && name.hasSuffix(".tmp") {
            let fields = name.dropFirst(prefix.count).dropLast(4).split(separator: ".")
            guard fields.count == 2, let pid = pid_t(fields[0]), pid > 0, UInt32(fields[1]) != nil, pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { unlink("\(directory)/\(name)") }
        }
    }

    /// The whole file; throws a `RecurrentError.file` naming the path when it cannot be read.
    static func read(_ url: URL) throws -> Data {
        do {
            return try Data(contentsOf: url)
        } catch {
            let exists = FileManager.default.fileExists(atPath: url.path)
            throw fileError(url.path, exists ? "cannot be read: \(error.localizedDescription)" : "no such file")
        }
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
    private static func fileError(_ path: String, _ reason: String) -> RecurrentError { .file(path: path, reason: reason) }
}
