import Testing
import TestSupport
@testable import RecurrentKit

/// Runs `body`, expecting a `RecurrentError` whose message contains every fragment.
private func expectMessage(_ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected an error containing \(fragments)", sourceLocation: sourceLocation)
    } catch let error as RecurrentError {
        for f in fragments where !error.description.contains(f) {
            Issue.record("message '\(error.description)' lacks '\(f)'", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
    }
}

@Test func recurrentInputShapeErrors() throws {
    let backend = TestDevice.backend
    let lstm = try LSTM(inputSize: 4, hiddenSize: 6, numLayers: 2, on: backend, rng: RandomSource(seed: 1))
    expectMessage(["(T, B, 4)", "[5, 3, 5]"]) { _ = try lstm(SequenceBatch(Tensor.zeros([5, 3, 5], on: backend))) }
    expectMessage(["(T, B, 4)", "[15, 4]"]) { _ = try lstm(SequenceBatch(Tensor.zeros([15, 4], on: backend))) }
    expectMessage(["(B, T, 4)", "[3, 5, 5]", "batchMajor"]) {
        _ = try lstm(SequenceBatch(Tensor.zeros([3, 5, 5], on: backend), layout: .batchMajor))
    }
    expectMessage(["a SequenceBatch", "plain tensor [5, 3, 4]"]) { _ = try lstm.forward(Tensor.zeros([5, 3, 4], on: backend)) }
    let badState = RecurrentState(hidden: try Tensor.zeros([1, 3, 6], on: backend), cell: try Tensor.zeros([2, 3, 6], on: backend))
    expectMessage(["initial state hidden (L·D, B, H)", "[2, 3, 6]", "[1, 3, 6]"]) {
        _ = try lstm(SequenceBatch(Tensor.zeros([5, 3, 4], on: backend)), initialState: badState)
    }
    let gru = try GRU(inputSize: 4, hiddenSize: 6, on: backend, rng: RandomSource(seed: 1))
    let tape = Tape()
    let output = try gru(SequenceBatch(Tensor.zeros([5, 3, 4], on: backend)), tape: tape).output.data
    expectMessage(["Tape.backward gradient", "90", "15"]) { try tape.backward(output, gradient: Tensor.zeros([5, 3], on: backend)) }
    expectMessage(["Tape.backward called twice"]) { try tape.backward(output, gradient: Tensor.zeros([5, 3, 6], on: backend)) }
    expectMessage(["recorded after backward"]) { _ = try gru(SequenceBatch(Tensor.zeros([5, 3, 4], on: backend)), tape: tape) }
    expectMessage(["hidden size", "at least 1", "0"]) { _ = try GRU(inputSize: 4, hiddenSize: 0, on: backend, rng: RandomSource(seed: 1)) }
    expectMessage(["dropout probability", "[0, 1)", "1.0"]) {
        _ = try LSTM(inputSize: 4, hiddenSize: 6, numLayers: 2, dropout: 1, on: backend, rng: RandomSource(seed: 1))
    }
}

@Test func layerAndLossErrors() throws {
    let backend = TestDevice.backend
    let linear = try Linear(3, 2, on: backend, rng: RandomSource(seed: 1))
    expectMessage(["Linear", "(…, 3)", "[4, 5]"]) { _ = try linear(Tensor.zeros([4, 5], on: backend)) }
    expectMessage(["MSELoss target", "[4, 2]", "[4, 1]"]) {
        _ = try MSELoss().forward(Tensor.zeros([4, 2], on: backend), Tensor.zeros([4, 1], on: backend))
    }
    expectMessage(["CrossEntropyLoss", "logits [4, 3]", "targets [5]"]) {
        _ = try CrossEntropyLoss().forward(Tensor.zeros([4, 3], on: backend), Tensor.zeros([5], on: backend))
    }
    expectMessage(["Tensor(shape:values:)", "6 values", "5 values"]) { _ = try Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5], on: backend) }
    expectMessage(["Nesterov", "momentum > 0"]) { _ = try SGD(linear.parameters, learningRate: 0.1, nesterov: true) }
    expectMessage(["beta2", "[0, 1)"]) { _ = try Adam(linear.parameters, betas: (0.9, 1.5)) }
    expectMessage(["max norm", "positive"]) { try GradientClipping.clipNorm(linear.parameters, maxNorm: 0) }
}

@Test func stateDictErrors() throws {
    let backend = TestDevice.backend
    let model = try Sequential([("fc", Linear(3, 2, on: backend, rng: RandomSource(seed: 1)))])
    let weight = try HostTensor(shape: [2, 3], values: [Float](repeating: 0, count: 6))
    let bias = try HostTensor(shape: [2], values: [0, 0])
    expectMessage(["missing [\"fc.bias\"]", "unexpected [\"fc.b\"]"]) { try model.loadStateDict(["fc.weight": weight, "fc.b": bias]) }
    // A transposed weight has the right element count but the wrong shape: refused, nothing changed.
    let before = try model.stateDict()
    let transposed = try HostTensor(shape: [3, 2], values: [Float](repeating: 1, count: 6))
    expectMessage(["loadStateDict fc.weight", "[2, 3]", "[3, 2]"]) { try model.loadStateDict(["fc.weight": transposed, "fc.bias": bias]) }
    #expect(try model.stateDict() == before)
    expectMessage(["HostTensor", "6 values", "5 values"]) { _ = try HostTensor(shape: [2, 3], values: [1, 2, 3, 4, 5]) }
    // Non-strict loading takes what matches and leaves the rest.
    try model.loadStateDict(["fc.bias": try HostTensor(shape: [2], values: [1, 2])], strict: false)
    #expect(try model.stateDict()["fc.bias"]?.values == [1, 2])
}

@Test func deviceNames() throws {
    #expect(try Device.named("cpu").name == "cpu")
    #expect(try Device.named(" CPU ").name == "cpu")
    expectMessage(["'tpu'", "auto, cpu, opencl, opencl:P:D"]) { _ = try Device.named("tpu") }
    expectMessage(["RECURRENT_DEVICE", "'gpu0'"]) {
        do { _ = try Device.fromEnvironment(["RECURRENT_DEVICE": "gpu0"]) } catch let e as RecurrentError {
            throw RecurrentError.invalidArgument(name: "RECURRENT_DEVICE", expected: "", got: e.description)
        }
    }
    #expect(try Device.fromEnvironment([:]).name == Device.named("auto").name)
}

@Test func outOfMemoryIsAnErrorNotACrash() throws {
    let backend = try TestDevice.makeBackend()
    do {
        _ = try Tensor.empty([1 << 42], on: backend)   // 16 TiB
        Issue.record("a 16 TiB allocation succeeded")
    } catch let error as RecurrentError {
        guard case .outOfMemory = error else { Issue.record("unexpected error \(error)"); return }
        #expect(error.description.contains("could not allocate 17592186044416 bytes"), "\(error.description)")
    }
    do {
        _ = try Tensor.empty([Int.max / 2], on: backend)
        Issue.record("an allocation beyond the address space succeeded")
    } catch let error as RecurrentError {
        #expect(error.description.hasPrefix("out of memory on \(backend.name)"))
    }
    // The backend still works afterwards.
    #expect(try Tensor(shape: [2], values: [1, 2], on: backend).toArray() == [1, 2])
}
