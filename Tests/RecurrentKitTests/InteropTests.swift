import Foundation
import Testing
import TestSupport
@testable import RecurrentKit

/// Weights that travel both ways between PyTorch and RecurrentKit as safetensors files.
@Suite struct InteropTests {
    /// The fixture model: `lstm = nn.LSTM(3, 5, num_layers=2)`, `fc = nn.Linear(5, 2)` on the last step.
    static func model(on backend: any Backend, seed: UInt64 = 9) throws -> Sequential {
        let rng = RandomSource(seed: seed)
        return try Sequential([("lstm", LSTM(inputSize: 3, hiddenSize: 5, numLayers: 2, on: backend, rng: rng)),
                               ("last", LastTimeStep()), ("fc", Linear(5, 2, on: backend, rng: rng))])
    }

    @Test func pytorchFileLoadsAndGivesPyTorchsOutputs() throws {
        let backend = TestDevice.backend
        let io = try Fixture("interop_lstm")
        let file = try #require(Fixture.directory).appendingPathComponent("interop_lstm.safetensors")
        let contents = try SafeTensors.read(contentsOf: file)
        #expect(contents.metadata == ["format": "pt"])
        let model = try Self.model(on: backend)
        try model.loadWeights(from: file)
        model.eval()
        expectClose(try model.forward(SequenceBatch(io.upload("input", on: backend))).data.toArray(), try io.data("output"), "interop_lstm output")
    }

    @Test func storedTypesConvertExactly() throws {
        let expected = try Fixture("dtypes")
        let file = try #require(Fixture.directory).appendingPathComponent("dtypes.safetensors")
        let contents = try SafeTensors.read(contentsOf: file)
        #expect(contents.storedTypes == ["f32": .f32, "f16": .f16, "bf16": .bf16, "f64": .f64])
        for name in ["f32", "f16", "bf16", "f64"] {
            let t = try #require(contents.tensors[name])
            #expect(t.shape == (try expected.tensor(name).shape))
            // Bit for bit, signed zeros and subnormals included.
            #expect(t.values.map(\.bitPattern) == (try expected.data(name)).map(\.bitPattern), "\(name)")
        }
    }

    /// A file written here loads into PyTorch with `load_state_dict(strict=True)` and gives our
    /// outputs. Runs the fixture script's check mode when Python with torch and safetensors is
    /// present; otherwise prints a notice and checks nothing.
    @Test func fileWrittenHereLoadsIntoPyTorch() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let script = root.appendingPathComponent("scripts/generate_fixtures.py").path
        guard pythonHasTorch() else {
            print("notice: python3 with torch and safetensors not found; skipping the PyTorch check of a RecurrentKit-written file")
            return
        }
        let backend = TestDevice.backend
        let model = try Self.model(on: backend, seed: 77)
        model.eval()
        var random = TestRandom(seed: 8)
        let x = try random.tensor([6, 2, 3], on: backend)
        let y = try model.forward(SequenceBatch(x)).data
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("recurrentkit-interop-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let weights = directory.appendingPathComponent("model.safetensors"), io = directory.appendingPathComponent("io.json")
        try model.saveWeights(to: weights)
        let json: [String: Any] = ["meta": [String: Any](), "tensors": [
            "input": ["shape": x.shape, "data": try x.toArray().map(Double.init)],
            "output": ["shape": y.shape, "data": try y.toArray().map(Double.init)],
        ]]
        try JSONSerialization.data(withJSONObject: json).write(to: io)
        let (status, output) = try run("/usr/bin/env", ["python3", script, "--check-interop", weights.path, io.path])
        #expect(status == 0, "PyTorch check failed (status \(status)):\n\(output)")
    }

    private func pythonHasTorch() -> Bool {
        (try? run("/usr/bin/env", ["python3", "-c", "import torch, safetensors"]).status) == 0
    }

    private func run(_ path: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(data: data, encoding: .utf8) ?? "")
    }
}
