// An optimizer's state laid out flat: for the parameters that have state, a step count each and
// `slotCount` tensors shaped like the parameter (momentum; Adam's m and v), back to back in list
// order in one buffer per slot and device. A span of parameters that lie back to back in their
// flat buffer then has its slots back to back too, and one update covers the whole span.

/// Per-parameter optimizer state in flat slot buffers (see the file comment).
final class OptimizerSlots {
    /// The optimizer's parameters, in its order.
    let parameters: [Parameter]
    /// Slot tensors per parameter (0 for plain SGD, 1 for momentum, 2 for Adam).
    let slotCount: Int
    /// Updates applied so far, for each parameter that has state.
    private(set) var steps: [ObjectIdentifier: Int] = [:]
    /// Where each parameter with state lies: the index of its device's buffers and the offset in them.
    private var places: [ObjectIdentifier: (device: Int, offset: Int)] = [:]
    /// For each device, `slotCount` flat buffers.
    private var buffers: [[Tensor]] = []

    init(_ parameters: [Parameter], slotCount: Int) {
        self.parameters = parameters
        self.slotCount = slotCount
    }

    func hasState(_ p: Parameter) -> Bool { steps[ObjectIdentifier(p)] != nil }

    /// Slot `index` of `p` (which must have state), shaped like `p`.
    func slot(_ index: Int, of p: Parameter) throws -> Tensor {
        guard let place = places[ObjectIdentifier(p)] else {
            throw RecurrentError.invalidState("optimizer slot asked for a parameter without state")
        }
        return try buffers[place.device][index].slice(place.offset..<(place.offset + p.value.count)).reshaped(p.shape)
    }

    /// Gives state to exactly the parameters in `members` (of `parameters`): those that keep it
    /// keep their steps and slot values, new ones start at step 0 with zero slots, the others lose it.
    /// Allocates only when the set changes.
    func keepState(for members: Set<ObjectIdentifier>) throws {
        guard members != Set(steps.keys) else { return }
        var newPlaces: [ObjectIdentifier: (device: Int, offset: Int)] = [:]
        var devices: [(backend: any Backend, count: Int)] = []
        for p in parameters where members.contains(ObjectIdentifier(p)) && newPlaces[ObjectIdentifier(p)] == nil {
            let backend = p.value.backend
            let device = devices.firstIndex { $0.backend === backend } ?? {
                devices.append((backend, 0))
                return devices.count - 1
            }()
            newPlaces[ObjectIdentifier(p)] = (device, devices[device].count)
            devices[device].count += p.value.count
        }
        let newBuffers = try devices.map { device in
            try (0..<slotCount).map { _ in try Tensor.zeros([device.count], on: device.backend) }
        }
        var newSteps: [ObjectIdentifier: Int] = [:]
        for p in parameters {
            let id = ObjectIdentifier(p)
            guard let place = newPlaces[id], newSteps[id] == nil else { continue }
            newSteps[id] = steps[id] ?? 0
            guard steps[id] != nil, p.value.count > 0 else { continue }
            for i in 0..<slotCount {
                let target = try newBuffers[place.device][i].slice(place.offset..<(place.offset + p.value.count))
                try p.value.backend.copy(slot(i, of: p).reshaped([p.value.count]), to: target)
            }
        }
        (steps, places, buffers) = (newSteps, newPlaces, newBuffers)
    }

    /// Restores saved state: each `saved` entry (a parameter, its step count, its slot values in
    /// slot order, shapes already checked) is set; parameters of `named` without an entry lose
    /// their state; the others keep theirs. Entries for parameters of another optimizer are ignored.
    func restore(_ named: [Parameter], from saved: [(Parameter, Int, [HostTensor])]) throws {
        let mine = Set(parameters.map(ObjectIdentifier.init))
        let restored = saved.filter { mine.contains(ObjectIdentifier($0.0)) }
        try keepState(for: Set(steps.keys).subtracting(named.map(ObjectIdentifier.init))
                                          .union(restored.map { ObjectIdentifier($0.0) }))
        for (p, count, values) in restored {
            steps[ObjectIdentifier(p)] = count
            for (i, value) in values.enumerated() { try slot(i, of: p).assign(value) }
        }
    }

    /// One update of every parameter not frozen (frozen ones lose their state first): `update`
    /// runs once per span of parameters that lie back to back in their flat buffer and share a
    /// step count, with the span's slots and that step count (before this update); then each
    /// parameter's count goes up by one.
    func step(_ update: (ParameterSpan, [Tensor], Int) throws -> Void) throws {
        let trainable = parameters.filter { !$0.isFrozen }
        try keepState(for: Set(trainable.map(ObjectIdentifier.init)))
        let spans = try Parameter.runs(of: trainable) { a, b in
            let (pa, pb) = (places[ObjectIdentifier(a)]!, places[ObjectIdentifier(b)]!)
            return steps[ObjectIdentifier(a)] == steps[ObjectIdentifier(b)] && pa.device == pb.device
                && pb.offset == pa.offset + a.value.count
        }
        for span in spans {
            let first = places[ObjectIdentifier(span.parameters[0])]!
            let slots = try buffers[first.device].map { try $0.slice(first.offset..<(first.offset + span.count)) }
            try update(span, slots, steps[ObjectIdentifier(span.parameters[0])]!)
            for p in span.parameters { steps[ObjectIdentifier(p)]! += 1 }
        }
        for p in trainable where p.value.count == 0 { steps[ObjectIdentifier(p)]! += 1 }   // in no span
    }
}
