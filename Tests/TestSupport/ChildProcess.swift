// Running a child process from a test: a checker script, or this test binary itself.
import Foundation

/// Runs `executable` with `arguments` (and `environment`, else this process's), waits for it,
/// and returns its exit status with its standard output and error together.
public func runProcess(_ executable: URL, _ arguments: [String],
                       environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if let environment { process.environment = environment }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, output)
}
