// Optimizer updates in place (Kernels/optimizer.cl), PyTorch's order of operations.
import RecurrentCore

extension OpenCLBackend {
    public func sgdUpdate(_ param: Tensor, gradient: Tensor, momentumBuffer: Tensor?, _ h: SGDHyperparameters) throws {
        let n = param.count
        try RecurrentError.check("sgdUpdate gradient", count: gradient.count, equals: n)
        if let momentumBuffer { try RecurrentError.check("sgdUpdate momentum buffer", count: momentumBuffer.count, equals: n) }
        if h.momentum != 0 && momentumBuffer == nil {
            throw RecurrentError.invalidArgument(name: "momentum buffer", expected: "a buffer when momentum ≠ 0", got: "nil")
        }
        try launch(.sgdUpdate, items: n,
                   [.tensor(param), .tensor(gradient), .optional(momentumBuffer), .count(n),
                    .float(h.learningRate), .float(h.momentum), .float(h.dampening), .float(h.weightDecay),
                    .flag(h.nesterov), .flag(h.isFirstStep)])
    }

    public func adamUpdate(_ param: Tensor, gradient: Tensor, m: Tensor, v: Tensor, _ h: AdamHyperparameters) throws {
        let n = param.count
        try RecurrentError.check("adamUpdate gradient", count: gradient.count, equals: n)
        try RecurrentError.check("adamUpdate m", count: m.count, equals: n)
        try RecurrentError.check("adamUpdate v", count: v.count, equals: n)
        // The same host arithmetic as the CPU backend.
        let stepSize = h.learningRate / h.biasCorrection1
        let decay = 1 - h.learningRate * h.weightDecay
        try launch(.adamUpdate, items: n,
                   [.tensor(param), .tensor(gradient), .tensor(m), .tensor(v), .count(n),
                    .float(stepSize), .float(decay), .float(h.beta1), .float(h.beta2), .float(h.epsilon),
                    .float(h.weightDecay), .flag(h.decoupledWeightDecay), .float(h.biasCorrection2Sqrt)])
    }
}
