// Reference optimizer updates, PyTorch's torch.optim.SGD and torch.optim.Adam/AdamW (one step).
// p = parameter, g = gradient, buf = momentum buffer, m, v = Adam moments.

import RecurrentCore

extension ReferenceBackend {
    /// One SGD step, as `torch.optim.SGD`:
    /// `g += wd·p`; with momentum, `buf = g` on the first step, else `buf = momentum·buf + (1 − dampening)·g`,
    /// then `g = nesterov ? g + momentum·buf : buf`; finally `p -= lr·g`.
    public func sgdUpdate(_ param: Tensor, gradient: Tensor, momentumBuffer: Tensor?, _ h: SGDHyperparameters) throws {
        try RecurrentError.check("sgdUpdate gradient vs param", count: gradient.count, equals: param.count)
        var p = try read(param, "sgdUpdate param")
        let grad = try read(gradient, "sgdUpdate gradient")
        var buffer: [Float] = []
        if h.momentum != 0 {
            guard let momentumBuffer else {
                throw RecurrentError.invalidArgument(name: "sgdUpdate momentum buffer",
                                                     expected: "a buffer when momentum is \(h.momentum)", got: "nil")
            }
            try RecurrentError.check("sgdUpdate momentum buffer vs param", count: momentumBuffer.count, equals: param.count)
            buffer = try read(momentumBuffer, "sgdUpdate momentum buffer")
        }
        for e in 0..<p.count {
            var g = grad[e]
            if h.weightDecay != 0 { g += h.weightDecay * p[e] }
            if h.momentum != 0 {
                buffer[e] = h.isFirstStep ? g : h.momentum * buffer[e] + (1 - h.dampening) * g
                g = h.nesterov ? g + h.momentum * buffer[e] : buffer[e]
            }
            p[e] -= h.learningRate * g
        }
        try write(p, to: param, "sgdUpdate param")
        if h.momentum != 0, let momentumBuffer { try write(buffer, to: momentumBuffer, "sgdUpdate momentum buffer") }
    }

    /// One Adam (L2: `g += wd·p`) or AdamW (`p *= 1 − lr·wd` first) step:
    /// `m = β1·m + (1 − β1)·g`, `v = β2·v + (1 − β2)·g²`,
    /// `p -= (lr / bc1) · m / (sqrt(v) / bc2sqrt + ε)`.
    public func adamUpdate(_ param: Tensor, gradient: Tensor, m: Tensor, v: Tensor, _ h: AdamHyperparameters) throws {
        try RecurrentError.check("adamUpdate gradient vs param", count: gradient.count, equals: param.count)
        try RecurrentError.check("adamUpdate m vs param", count: m.count, equals: param.count)
        try RecurrentError.check("adamUpdate v vs param", count: v.count, equals: param.count)
        var p = try read(param, "adamUpdate param")
        let grad = try read(gradient, "adamUpdate gradient")
        var mv = try read(m, "adamUpdate m"), vv = try read(v, "adamUpdate v")
        let stepSize = h.learningRate / h.biasCorrection1
        for e in 0..<p.count {
            var g = grad[e]
            if h.weightDecay != 0 {
                if h.decoupledWeightDecay { p[e] *= 1 - h.learningRate * h.weightDecay } else { g += h.weightDecay * p[e] }
            }
            mv[e] = h.beta1 * mv[e] + (1 - h.beta1) * g
            vv[e] = h.beta2 * vv[e] + (1 - h.beta2) * g * g
            let denominator = vv[e].squareRoot() / h.biasCorrection2Sqrt + h.epsilon
            p[e] -= stepSize * mv[e] / denominator
        }
        try write(p, to: param, "adamUpdate param")
        try write(mv, to: m, "adamUpdate m")
        try write(vv, to: v, "adamUpdate v")
    }
}
