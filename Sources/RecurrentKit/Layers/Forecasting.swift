// Forecasting by feeding predictions back: a recurrent stack and a head that maps its output
// to the next input, run over the history and then one step per predicted step.
// T = history steps, B = batch, F = features (input size = head output size), R = stack output size.

extension RecurrentNetwork {
    /// Predicts `steps` steps after each history sequence by feeding each prediction back as the
    /// next input (the seeds' time-series LSTM's `future`): the stack runs over `history`
    /// (T, B, F) or (B, T, F) with its lengths, `head` maps the last real step's output to the
    /// next values (B, F), and each prediction is stepped through the stack for the one after.
    /// Runs without a tape (nothing kept for backward). Returns the predictions (steps, B, F).
    /// Unidirectional stacks whose `head` maps the output (R) back to the input size (F).
    public func forecast(_ history: SequenceBatch, steps: Int, head: Linear) throws -> Tensor {
        guard steps >= 1 else {
            throw RecurrentError.invalidArgument(name: "forecast steps", expected: "at least 1", got: "\(steps)")
        }
        guard !bidirectional else {
            throw RecurrentError.invalidArgument(name: "forecast", expected: "a unidirectional stack",
                                                 got: "a bidirectional one (its reverse direction needs the future)")
        }
        guard head.inputSize == outputSize, head.outputSize == inputSize else {
            throw RecurrentError.shapeMismatch(operation: "forecast head", expected: "Linear(\(outputSize), \(inputSize)): output → next input",
                                               got: "Linear(\(head.inputSize), \(head.outputSize))")
        }
        let b = history.batchSize
        let pass = try self(history)
        var state = pass.state
        var next = try head(try LastTimeStep().forward(.sequence(pass.output), tape: nil).data)   // (B, F)
        let predictions = try Tensor.empty([steps, b, inputSize], on: backend)                    // (steps, B, F)
        for step in 0..<steps {
            try backend.copy(next, to: predictions.row(step))
            guard step + 1 < steps else { break }
            let (output, advanced) = try self.step(next, state: state)
            state = advanced
            next = try head(output)
        }
        return predictions
    }
}
