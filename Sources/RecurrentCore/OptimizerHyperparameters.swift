import Foundation

/// Hyperparameters of one SGD update, PyTorch's `torch.optim.SGD` semantics.
public struct SGDHyperparameters: Sendable, Equatable {
    public var learningRate: Float
    public var momentum: Float
    public var dampening: Float
    public var weightDecay: Float
    public var nesterov: Bool
    /// True on the first update of this parameter: the momentum buffer starts as the gradient.
    public var isFirstStep: Bool
    public init(learningRate: Float, momentum: Float = 0, dampening: Float = 0, weightDecay: Float = 0,
                nesterov: Bool = false, isFirstStep: Bool) {
        self.learningRate = learningRate; self.momentum = momentum; self.dampening = dampening
        self.weightDecay = weightDecay; self.nesterov = nesterov; self.isFirstStep = isFirstStep
    }
}

/// Hyperparameters of one Adam/AdamW update, PyTorch's `torch.optim.Adam(W)` semantics.
public struct AdamHyperparameters: Sendable, Equatable {
    public var learningRate: Float
    public var beta1: Float, beta2: Float, epsilon: Float
    public var weightDecay: Float
    /// AdamW: decay the weights directly (`p *= 1 - lr·wd`) instead of adding `wd·p` to the gradient.
    public var decoupledWeightDecay: Bool
    /// `1 - beta1^t` and `sqrt(1 - beta2^t)` for this step t (computed on the host in Double).
    public var biasCorrection1: Float, biasCorrection2Sqrt: Float

    public init(learningRate: Float, beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float,
                decoupledWeightDecay: Bool, step: Int) {
        self.learningRate = learningRate; self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
        self.weightDecay = weightDecay; self.decoupledWeightDecay = decoupledWeightDecay
        self.biasCorrection1 = Float(1 - Foundation.pow(Double(beta1), Double(step)))
        self.biasCorrection2Sqrt = Float((1 - Foundation.pow(Double(beta2), Double(step))).squareRoot())
    }
}
