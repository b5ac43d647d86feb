// Reverse-mode gradients that follow the calls actually made: every layer call given a tape
// appends one entry (its inputs, its outputs and a closure holding what its backward needs);
// `backward` replays the entries in reverse, summing the gradients of tensors used more than
// once (a shared cell, encoder outputs read by every decoder step).

/// A record of layer calls for one training step, replayed in reverse by `backward` (PyTorch's
/// autograd graph, TensorFlow's `GradientTape`).
///
/// ```swift
/// let tape = Tape()
/// let prediction = try model(batch, tape: tape)
/// let value = try loss.forward(prediction, target)
/// try tape.backward(prediction.data, gradient: loss.backward())   // parameter gradients accumulate
/// ```
///
/// A layer may be called any number of times on one tape (its parameter gradients add up), take
/// several inputs and run in a loop. Input gradients are computed only for tensors that need them:
/// outputs of recorded calls, and tensors passed to `watch` (read them with `gradient(of:)`).
/// Data never needs a gradient, so the input GEMM of a first layer is skipped, as PyTorch skips
/// inputs that do not require grad. Everything stays on the device; the tape holds only handles.
/// A tape is used by one thread and replayed once; use a new tape for every step.
public final class Tape {
    /// What one recorded call needs for backward. `backward` receives the gradients of the outputs
    /// (nil: zero) and which inputs need a gradient, and returns one gradient per input (nil: none).
    struct Entry {
        let inputs: [Tensor?]
        let outputs: [Tensor?]
        let backward: ([Tensor?], [Bool]) throws -> [Tensor?]
    }

    private var entries: [Entry] = []
    /// Tensors whose gradient is wanted: outputs of recorded calls and watched tensors.
    private var tracked: Set<TensorKey> = []
    private var watched: Set<TensorKey> = []
    /// Gradients accumulated during `backward`; only watched ones survive it.
    private var gradients: [TensorKey: Tensor] = [:]
    private var replayed = false

    /// An empty tape.
    public init() {}

    /// Number of calls recorded so far.
    public var count: Int { entries.count }

    /// Asks for the gradient of `tensor` (an input the model reads), available after `backward`
    /// through `gradient(of:)`.
    public func watch(_ tensor: Tensor) {
        let key = TensorKey(tensor)
        tracked.insert(key)
        watched.insert(key)
    }

    /// Whether backward must compute a gradient for `tensor`.
    public func needsGradient(_ tensor: Tensor?) -> Bool {
        guard let tensor else { return false }
        return tracked.contains(TensorKey(tensor))
    }

    /// Records one call: its inputs and outputs (nil where absent) and its backward, which maps
    /// the gradients of the outputs (nil: zero) and the inputs' needs to the inputs' gradients.
    /// Layers call this; a custom layer does too.
    public func record(inputs: [Tensor?], outputs: [Tensor?],
                       backward: @escaping (_ gradOutputs: [Tensor?], _ needsInputGradient: [Bool]) throws -> [Tensor?]) throws {
        guard !replayed else { throw RecurrentError.invalidState("Tape: a call was recorded after backward (use a new tape per step)") }
        entries.append(Entry(inputs: inputs, outputs: outputs, backward: backward))
        for output in outputs.compactMap({ $0 }) { tracked.insert(TensorKey(output)) }
    }

    /// Backward from the gradient of one output (for example the model's prediction and the loss's
    /// gradient): replays every recorded call in reverse, accumulating parameter gradients.
    public func backward(_ output: Tensor, gradient: Tensor) throws {
        try backward([(output, gradient)])
    }

    /// Backward from the gradients of several outputs (each pair: a recorded output and dL/d it).
    public func backward(_ seeds: [(output: Tensor, gradient: Tensor)]) throws {
        guard !replayed else { throw RecurrentError.invalidState("Tape.backward called twice (use a new tape per step)") }
        replayed = true
        for (output, gradient) in seeds {
            try RecurrentError.check("Tape.backward gradient of \(output.shape)", count: gradient.count, equals: output.count)
            try output.backend.checkDevice(gradient, "Tape.backward gradient")
            try accumulate(gradient, into: output, owned: false)
        }
        for entry in entries.reversed() {
            let gradOutputs = try entry.outputs.map { output in try output.flatMap { try take($0) } }
            guard gradOutputs.contains(where: { $0 != nil }) else { continue }
            let needs = entry.inputs.map { needsGradient($0) }
            let gradInputs = try entry.backward(gradOutputs, needs)
            for (input, gradient) in zip(entry.inputs, gradInputs) {
                guard let input, let gradient, needsGradient(input) else { continue }
                try accumulate(gradient, into: input, owned: true)
            }
        }
        entries = []   // what backward needed goes back to the allocator, as PyTorch frees the graph
        gradients = gradients.filter { watched.contains($0.key) }
    }

    /// dL/d`tensor` of a watched tensor after `backward`, shaped as `tensor`; nil when no recorded
    /// call read it.
    public func gradient(of tensor: Tensor) throws -> Tensor? {
        try gradients[TensorKey(tensor)]?.reshaped(tensor.shape)
    }

    /// The accumulated gradient of `tensor`, shaped as it; removed from the store unless watched
    /// (then the caller gets a copy, so later accumulation cannot change what `gradient(of:)` reads).
    private func take(_ tensor: Tensor) throws -> Tensor? {
        let key = TensorKey(tensor)
        guard let g = gradients[key] else { return nil }
        if watched.contains(key) { return try g.copy().reshaped(tensor.shape) }
        gradients[key] = nil
        return try g.reshaped(tensor.shape)
    }

    /// Adds `gradient` to the gradient of `tensor`. The first gradient is kept as it is when the
    /// tape may write into it (`owned`: a layer's fresh result); a second one is added in place.
    private func accumulate(_ gradient: Tensor, into tensor: Tensor, owned: Bool) throws {
        let key = TensorKey(tensor)
        if let existing = gradients[key] {
            try existing.backend.axpy(existing, alpha: 1, gradient.reshaped(existing.shape))
        } else {
            gradients[key] = owned ? gradient : try gradient.copy()
        }
    }
}

/// A view's identity: its buffer, first element and element count (a reshaped view is the same
/// tensor; a slice is another one).
struct TensorKey: Hashable {
    let buffer: ObjectIdentifier
    let offset: Int
    let count: Int

    init(_ tensor: Tensor) {
        buffer = ObjectIdentifier(tensor.buffer)
        offset = tensor.offset
        count = tensor.count
    }
}
