// One forward and backward of a recurrent stack on a tape, from given gradients of its outputs
// and final states: what parity tests compare with PyTorch's autograd.
import RecurrentKit

/// What `forwardBackward` returns: the call's result and the gradients the tape reached.
public struct RecurrentGradients {
    public var result: RecurrentOutput
    /// dL/d(input), nil unless the input was watched.
    public var input: Tensor?
    /// dL/d(initial state), nil without an initial state.
    public var state: RecurrentState?
}

/// Runs `network` on `input` from `initialState` on a new tape and backward from `gradOutput`
/// and `gradState` (either may be nil: zero). Watches the input (when `inputGradient`) and the
/// initial state, so their gradients come back.
public func forwardBackward(_ network: RecurrentNetwork, _ input: SequenceBatch, initialState: RecurrentState? = nil,
                            gradOutput: Tensor?, gradState: RecurrentState? = nil,
                            inputGradient: Bool = true) throws -> RecurrentGradients {
    let tape = Tape()
    if inputGradient { tape.watch(input.data) }
    if let initialState {
        tape.watch(initialState.hidden)
        if let c = initialState.cell { tape.watch(c) }
    }
    let result = try network(input, initialState: initialState, tape: tape)
    var seeds: [(output: Tensor, gradient: Tensor)] = []
    if let gradOutput { seeds.append((result.output.data, gradOutput)) }
    if let gradState {
        seeds.append((result.state.hidden, gradState.hidden))
        if let c = gradState.cell, let cell = result.state.cell { seeds.append((cell, c)) }
    }
    try tape.backward(seeds)
    let state = try initialState.map { s in
        try tape.gradient(of: s.hidden).map { RecurrentState(hidden: $0, cell: try s.cell.flatMap { try tape.gradient(of: $0) }) }
    } ?? nil
    return RecurrentGradients(result: result, input: try tape.gradient(of: input.data), state: state)
}

/// Runs `layer` on `input` on a new tape and backward from `gradOutput`; returns the output and,
/// when `inputGradient`, dL/d(input's data) (nil if the input does not take one, like indices).
public func forwardBackward(_ layer: any Layer, _ input: LayerValue, gradOutput: Tensor,
                            inputGradient: Bool = true) throws -> (output: LayerValue, gradInput: Tensor?) {
    let tape = Tape()
    if inputGradient { tape.watch(input.data) }
    let output = try layer.forward(input, tape: tape)
    try tape.backward(output.data, gradient: gradOutput)
    return (output, try tape.gradient(of: input.data))
}

/// One training step's forward and backward of `model` on `input` under `loss`; returns the loss
/// (a device scalar). Parameter gradients accumulate.
@discardableResult
public func lossBackward(_ model: any Layer, _ input: LayerValue, _ target: Tensor, _ loss: any Loss) throws -> Tensor {
    let tape = Tape()
    let prediction = try model.forward(input, tape: tape)
    let value = try loss.forward(prediction, target)
    try tape.backward(prediction.data, gradient: loss.backward())
    return value
}
