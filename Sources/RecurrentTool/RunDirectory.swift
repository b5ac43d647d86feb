// Where a training command writes what it makes: checkpoints, the model description, plots.
import Foundation
import RecurrentKit

/// An output directory of a run, created on demand; every file in it is written atomically.
struct RunDirectory {
    let url: URL

    /// Creates the directory (and its parents) if it is missing.
    init(_ path: String) throws {
        url = URL(fileURLWithPath: path, isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw RecurrentError.file(path: path, reason: "cannot create the output directory: \(error.localizedDescription)")
        }
    }

    /// The URL of `name` inside the directory.
    func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// Writes `value` as pretty-printed JSON to `name`, atomically.
    func writeJSON<T: Encodable>(_ value: T, to name: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(value), to: file(name))
    }

    /// The contents of `name`; the error names the file.
    func read(_ name: String) throws -> Data {
        let path = file(name).path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RecurrentError.file(path: path, reason: FileManager.default.fileExists(atPath: path)
                ? "cannot be read" : "not found (is \(url.path) a directory written by `recurrent train`?)")
        }
        return data
    }
}
