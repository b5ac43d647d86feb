// Optimizer updates, in place, PyTorch's update order.
import RecurrentCore

extension CPUBackend {
    public func sgdUpdate(_ param: Tensor, gradient: Tensor, momentumBuffer: Tensor?, _ h: SGDHyperparameters) throws {
        let n = param.count
        let pp = try pointer(param, "sgdUpdate param"), pg = try pointer(gradient, count: n, "sgdUpdate gradient")
        let pm = try momentumBuffer.map { try pointer($0, count: n, "sgdUpdate momentum buffer") }
        if h.momentum != 0 && pm == nil {
            throw RecurrentError.invalidArgument(name: "momentum buffer", expected: "a buffer when momentum ≠ 0", got: "nil")
        }
        for i in 0..<n {
            var d = pg[i]
            if h.weightDecay != 0 { d += h.weightDecay * pp[i] }
            if h.momentum != 0, let pm {
                let buf = h.isFirstStep ? d : h.momentum * pm[i] + (1 - h.dampening) * d
                pm[i] = buf
                d = h.nesterov ? d + h.momentum * buf : buf
            }
            pp[i] -= h.learningRate * d
        }
    }

    public func adamUpdate(_ param: Tensor, gradient: Tensor, m: Tensor, v: Tensor, _ h: AdamHyperparameters) throws {
        let n = param.count
        let pp = try pointer(param, "adamUpdate param"), pg = try pointer(gradient, count: n, "adamUpdate gradient")
        let pm = try pointer(m, count: n, "adamUpdate m"), pv = try pointer(v, count: n, "adamUpdate v")
        let stepSize = h.learningRate / h.biasCorrection1
        let decay = 1 - h.learningRate * h.weightDecay
        for i in 0..<n {
            var g = pg[i]
            if h.decoupledWeightDecay { pp[i] *= decay } else if h.weightDecay != 0 { g += h.weightDecay * pp[i] }
            pm[i] += (g - pm[i]) * (1 - h.beta1)
            pv[i] = pv[i] * h.beta2 + (1 - h.beta2) * g * g
            let denom = pv[i].squareRoot() / h.biasCorrection2Sqrt + h.epsilon
            pp[i] -= stepSize * (pm[i] / denom)
        }
    }
}
