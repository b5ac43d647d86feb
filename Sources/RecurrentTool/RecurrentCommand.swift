import ArgumentParser
import Foundation
import RecurrentKit

/// The `recurrent` tool: demos, gradient measurements, training on the user's data, sampling.
public struct RecurrentCommand: ParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "recurrent",
        abstract: "Train recurrent networks (RNN, LSTM, GRU) on the CPU or an OpenCL device.",
        subcommands: [Demo.self, Gradients.self, Train.self, LRFind.self, Sweep.self, Sample.self, Export.self, Devices.self])
}

extension RecurrentCommand {
    /// Parses the process's arguments and runs the command. `--help` and `--version` print as
    /// usual; every error (a bad option value included) is one line on standard error, without
    /// the usage summary, and exit status 1.
    public static func runCommandLine() -> Never {
        do {
            var command = try parseAsRoot()
            try command.run()
            Foundation.exit(0)
        } catch {
            guard exitCode(for: error) != .success else { exit(withError: error) }
            FileHandle.standardError.write(Data(("Error: " + oneLine(message(for: error)) + "\n").utf8))
            Foundation.exit(1)
        }
    }

    /// `message` on one line: line breaks inside it become "; ".
    static func oneLine(_ message: String) -> String {
        message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            .joined(separator: "; ")
    }
}

/// A message for the user and a non-zero exit status, without a stack trace.
struct UserFacingError: Error, CustomStringConvertible {
    let description: String
}

struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the CPU backend and the OpenCL platforms and devices, and the one `auto` picks.")

    func run() throws {
        print("cpu          \(Device.cpu.deviceDescription)")
        let devices = try OpenCLDevices.all()
        var platform = -1
        for d in devices {
            if d.platformIndex != platform {
                platform = d.platformIndex
                print("OpenCL platform \(platform): \(d.platformName)")
            }
            print("  \(d.specification)  \(d.name) (\(d.kind.rawValue), \(d.version), \(d.computeUnits) compute units, "
                  + "\(d.globalMemoryBytes >> 20) MiB)")
            let tuning = try OpenCLTuning.for(d)
            print("              tuning: \(tuning.measured ? "measured" : "not measured on this device family"), "
                  + "time loop \(tuning.timeLoop.rawValue)")
            for set in tuning.clblast {
                let time = set.milliseconds.map { String(format: ", tuner %.3g ms", $0) } ?? ""
                let pairs: [String] = set.values.keys.sorted().map { name in "\(name)=\(set.values[name] ?? 0)" }
                print("              CLBlast \(set.kernel): \(pairs.joined(separator: " "))\(time)")
            }
        }
        if devices.isEmpty { print(OpenCLDevices.listing(devices)) }
        print(Device.automaticChoice.reason)
    }
}
