// Optimizer updates, in place, PyTorch's update order; Adam's in C (recurrent_training.h).
import CRecurrentGEMM
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
        let pp = SendablePointer(try pointer(param, "adamUpdate param"))
        let pg = SendablePointer(try pointer(gradient, count: n, "adamUpdate gradient"))
        let pm = SendablePointer(try pointer(m, count: n, "adamUpdate m")), pv = SendablePointer(try pointer(v, count: n, "adamUpdate v"))
        let c = rk_adam(step_size: h.learningRate / h.biasCorrection1, bias_correction2_sqrt: h.biasCorrection2Sqrt,
                                beta1: h.beta1, beta2: h.beta2, epsilon: h.epsilon, weight_decay: h.weightDecay,
                                decay: 1 - h.learningRate * h.weightDecay, decoupled: h.decoupledWeightDecay ? 1 : 0)
        // Elementwise (rk_adam_update, recurrent_training.h): split across cores when large.
        try splitRows(n, width: 1) { r in
            var k = c
            rk_adam_update(pp.pointer + r.lowerBound, pg.pointer + r.lowerBound, pm.pointer + r.lowerBound,
                           pv.pointer + r.lowerBound, r.count, &k)
        }
    }
}
