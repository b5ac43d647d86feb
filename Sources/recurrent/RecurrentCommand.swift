import ArgumentParser
import Foundation
import RecurrentKit

@main
struct RecurrentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recurrent",
        abstract: "Train recurrent networks (RNN, LSTM, GRU) on the CPU or an OpenCL device.",
        subcommands: [Demo.self, Devices.self])
}

/// Options every training command shares.
struct CommonOptions: ParsableArguments {
    @Option(help: "Device: auto, cpu, opencl or opencl:P:D (default: $RECURRENT_DEVICE, else auto).")
    var device: String?

    @Option(help: "Seed for weights, dropout masks and data order.")
    var seed: UInt64 = 1

    func backend() throws -> any Backend {
        if let device { return try Device.named(device) }
        return try Device.fromEnvironment()
    }
}

/// A message for the user and a non-zero exit status, without a stack trace.
struct UserFacingError: Error, CustomStringConvertible {
    let description: String
}

struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the devices and the one `auto` picks.")

    func run() throws {
        let auto = try Device.named("auto")
        print("cpu: \(Device.cpu.deviceDescription)")
        print("auto picks: \(auto.name) (\(auto.deviceDescription))")
    }
}
