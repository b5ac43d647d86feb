// Flat parameter buffers: a model's values in one device buffer and its gradients in another,
// each parameter a view, so that zeroing, norms, clipping, penalties, optimizer updates and
// gradient all-reduces run once over a whole span instead of once per parameter.
// N = total elements of the flattened parameters.

/// One value buffer and one gradient buffer (both (N)) holding several parameters back to back.
public final class ParameterStorage {
    /// All values, (N).
    public let values: Tensor
    /// All gradients, (N), laid out as `values`.
    public let gradients: Tensor

    init(count: Int, on backend: any Backend) throws {
        values = try Tensor.empty([count], on: backend)
        gradients = try Tensor.empty([count], on: backend)
    }
}

/// Consecutive parameters of a list whose values (and gradients) lie next to each other in one
/// flat buffer, so one op over `value` or `gradient` covers them all.
public struct ParameterSpan {
    /// The parameters, in list order.
    public let parameters: [Parameter]
    /// Their values as one view, (n) with n the sum of their element counts.
    public let value: Tensor
    /// Their gradients as one view, (n).
    public let gradient: Tensor
    /// n.
    public var count: Int { value.count }
}

extension Parameter {
    /// Moves the parameters that are in no flat buffer yet into one new buffer per device, in list
    /// order, values and gradients copied unchanged; parameters already flattened stay where they
    /// are (a parameter moves at most once). Optimizers call this for their parameters.
    public static func flatten(_ parameters: [Parameter]) throws {
        var seen = Set<ObjectIdentifier>()
        let loose = parameters.filter { $0.storage == nil && seen.insert(ObjectIdentifier($0)).inserted }
        var groups: [(backend: any Backend, members: [Parameter])] = []
        for p in loose {
            if let i = groups.firstIndex(where: { $0.backend === p.value.backend }) {
                groups[i].members.append(p)
            } else {
                groups.append((p.value.backend, [p]))
            }
        }
        for (backend, members) in groups {
            let storage = try ParameterStorage(count: members.reduce(0) { $0 + $1.value.count }, on: backend)
            var offset = 0
            for p in members {
                let count = p.value.count
                if count > 0 {
                    let place = try storage.values.slice(offset..<(offset + count))
                    try backend.copy(p.value, to: place)
                    try backend.copy(p.gradient, to: storage.gradients.slice(offset..<(offset + count)))
                }
                try p.move(into: storage, at: offset)
                offset += count
            }
        }
    }

    /// The maximal runs of consecutive parameters of `parameters` that lie back to back in one
    /// flat buffer (a parameter not flattened is a run of its own), skipping empty runs. The same
    /// parameter listed twice is covered twice, as a loop over the list would.
    public static func spans(of parameters: [Parameter]) throws -> [ParameterSpan] {
        try runs(of: parameters, joining: { _, _ in true })
    }

    /// Zeroes the gradients of `parameters`, one fill per span.
    static func zeroGradients(of parameters: [Parameter]) throws {
        for span in try spans(of: parameters) { try span.gradient.backend.fill(span.gradient, with: 0) }
    }

    /// The spans of the parameters of `parameters` that are not frozen.
    static func trainableSpans(of parameters: [Parameter]) throws -> [ParameterSpan] {
        try spans(of: parameters.filter { !$0.isFrozen })
    }

    /// `spans(of:)` where `joined(a, b)` must also hold for neighbours a, b to share a run.
    static func runs(of parameters: [Parameter], joining joined: (Parameter, Parameter) -> Bool) throws -> [ParameterSpan] {
        var result: [ParameterSpan] = []
        var start = 0
        while start < parameters.count {
            var end = start + 1
            while end < parameters.count, let storage = parameters[end].storage, storage === parameters[end - 1].storage,
                  parameters[end].storageOffset == parameters[end - 1].storageOffset + parameters[end - 1].value.count,
                  joined(parameters[end - 1], parameters[end]) {
                end += 1
            }
            let members = Array(parameters[start..<end])
            let count = members.reduce(0) { $0 + $1.value.count }
            if count > 0 {
                if let storage = members[0].storage {
                    let range = members[0].storageOffset..<(members[0].storageOffset + count)
                    result.append(ParameterSpan(parameters: members, value: try storage.values.slice(range),
                                                gradient: try storage.gradients.slice(range)))
                } else {
                    result.append(ParameterSpan(parameters: members, value: try members[0].value.reshaped([count]),
                                                gradient: try members[0].gradient.reshaped([count])))
                }
            }
            start = end
        }
        return result
    }
}
