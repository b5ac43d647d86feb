// A linear layer applied to the concatenation of several inputs along their last dimension,
// `fc(torch.cat([h, context], -1))` in PyTorch, without building the concatenation: each part
// multiplies its own columns of the weight. N = rows, P = a part's width, in = Σ P, out = outputs.

extension Linear {
    /// `[x₀, x₁, …] Wᵀ + b` for parts (…, P₀), (…, P₁), … with the same leading shape and widths
    /// summing to `inputSize`: the same values as the layer on their concatenation (…, in) → (…, out).
    /// Recorded on `tape` when given; each part gets its own gradient.
    public func callAsFunction(concatenating parts: [Tensor], tape: Tape? = nil) throws -> Tensor {
        guard let first = parts.first, first.rank >= 1,
              parts.allSatisfy({ $0.rank == first.rank && $0.shape.dropLast() == first.shape.dropLast() }),
              parts.reduce(0, { $0 + ($1.shape.last ?? 0) }) == inputSize else {
            throw RecurrentError.shapeMismatch(operation: "Linear(concatenating:)",
                                               expected: "parts (…, Pᵢ) with one leading shape and Σ Pᵢ = \(inputSize)",
                                               got: "shapes \(parts.map(\.shape))")
        }
        let backend = weight.value.backend
        for part in parts { try backend.checkDevice(part, "Linear(concatenating:) part") }
        let rows = first.count / max(first.shape.last ?? 1, 1)
        let widths = parts.map { $0.shape.last ?? 0 }
        let starts = widths.indices.map { widths[..<$0].reduce(0, +) }
        let out = try Tensor.empty(Array(first.shape.dropLast()) + [outputSize], on: backend)   // (N, out)
        for (index, part) in parts.enumerated() {
            // out (+)= part · W[:, start ..< start + P]ᵀ: the weight's columns read with row stride `in`.
            try backend.gemm(out, part, columns(of: weight.value, from: starts[index]),
                             GEMMShape(m: rows, n: outputSize, k: widths[index], transB: .transposed, beta: index == 0 ? 0 : 1,
                                       ldb: inputSize))
        }
        if let bias { try backend.addBias(out, bias.value) }
        try tape?.record(inputs: parts, outputs: [out]) { [self] gradOutputs, needs in
            guard let gradOutput = gradOutputs[0] else { return [Tensor?](repeating: nil, count: parts.count) }
            if let bias { try backend.sumColumns(bias.gradient, gradOutput, accumulate: true) }
            return try parts.indices.map { index in
                // dW[:, part] += dYᵀ part, (out, N) × (N, P); dPart = dY W[:, part], (N, out) × (out, P).
                let (start, width) = (starts[index], widths[index])
                try backend.gemm(columns(of: weight.gradient, from: start), gradOutput, parts[index],
                                 GEMMShape(m: outputSize, n: width, k: rows, transA: .transposed, beta: 1, ldc: inputSize))
                guard needs[index] else { return nil }
                let gradPart = try Tensor.empty(parts[index].shape, on: backend)
                try backend.gemm(gradPart, gradOutput, columns(of: weight.value, from: start),
                                 GEMMShape(m: rows, n: width, k: outputSize, ldb: inputSize))
                return gradPart
            }
        }
        return out
    }

    /// The weight (out, in) from column `start` on, as a flat view whose rows are `in` apart.
    private func columns(of matrix: Tensor, from start: Int) throws -> Tensor {
        try Tensor(shape: [matrix.count - start], buffer: matrix.buffer, offset: matrix.offset + start, backend: matrix.backend)
    }
}
