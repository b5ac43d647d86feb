/// Freezing parameters for transfer learning: a frozen parameter keeps its values bit for bit,
/// is skipped by optimizers (which hold no state for it), clipping and penalties.
extension Module {
    /// Freezes the parameters whose names match `pattern` and returns their names. A pattern is a
    /// layer name (`"lstm"` matches `lstm.…`), a full name, or a glob with `*` (any run of
    /// characters) and `?` (one character): `"*.bias"`, `"lstm.*_l0"`. Throws when nothing matches.
    @discardableResult
    public func freeze(_ pattern: String = "*") throws -> [String] { try setFrozen(true, pattern) }

    /// Unfreezes the parameters whose names match `pattern` (as `freeze`) and returns their names.
    @discardableResult
    public func unfreeze(_ pattern: String = "*") throws -> [String] { try setFrozen(false, pattern) }

    private func setFrozen(_ frozen: Bool, _ pattern: String) throws -> [String] {
        let matching = namedParameters.filter { parameterName($0.name, matches: pattern) }
        guard !matching.isEmpty else {
            throw RecurrentError.invalidArgument(name: "parameter pattern", expected: "a pattern matching one of \(namedParameters.map(\.name))",
                                                 got: "'\(pattern)'")
        }
        for entry in matching { entry.parameter.isFrozen = frozen }
        return matching.map(\.name)
    }
}

/// Whether `name` matches `pattern`: the name itself, a dotted prefix of it, or a glob.
func parameterName(_ name: String, matches pattern: String) -> Bool {
    if name == pattern || name.hasPrefix(pattern + ".") { return true }
    return glob(Array(pattern.utf8)[...], Array(name.utf8)[...])
}

private func glob(_ p: ArraySlice<UInt8>, _ s: ArraySlice<UInt8>) -> Bool {
    guard let first = p.first else { return s.isEmpty }
    switch first {
    case UInt8(ascii: "*"):
        let rest = p.dropFirst()
        var tail = s
        while true {
            if glob(rest, tail) { return true }
            guard !tail.isEmpty else { return false }
            tail = tail.dropFirst()
        }
    case UInt8(ascii: "?"):
        return !s.isEmpty && glob(p.dropFirst(), s.dropFirst())
    default:
        return s.first == first && glob(p.dropFirst(), s.dropFirst())
    }
}
