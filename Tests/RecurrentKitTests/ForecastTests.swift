// Forecasting by feeding predictions back: the predictions equal one pass over the history
// followed by the predictions themselves (prediction k+1 = head(output at the step that read
// prediction k)), for padded batches too. T = history, B = batch, F = features, H = hidden size.

import RecurrentKit
import Testing
import TestSupport

@Suite struct ForecastTests {
    @Test func predictionsAreFedBack() throws {
        let backend = TestDevice.backend
        let (t, b, f, h, steps) = (5, 3, 2, 6, 4)
        let rng = RandomSource(seed: 14)
        let lstm = try LSTM(inputSize: f, hiddenSize: h, numLayers: 2, on: backend, rng: rng)
        let head = try Linear(h, f, on: backend, rng: rng)
        var random = TestRandom(seed: 15)
        let history = random.uniform(count: t * b * f)                                           // (T, B, F)
        let predictions = try lstm.forecast(SequenceBatch(Tensor(shape: [t, b, f], values: history, on: backend)), steps: steps,
                                            head: head).toArray()                                // (steps, B, F)
        #expect(predictions.count == steps * b * f)
        // One pass over history + the first steps − 1 predictions; the head on the outputs from step T − 1 on.
        let whole = history + predictions.prefix((steps - 1) * b * f)
        let pass = try lstm(SequenceBatch(Tensor(shape: [t + steps - 1, b, f], values: whole, on: backend)))
        let outputs = try pass.output.data.slice((t - 1)..<(t + steps - 1))                      // (steps, B, H)
        expectClose(predictions, try head(outputs).toArray(), "forecast = one pass over history and fed-back predictions")
    }

    @Test func paddedHistoriesStartFromTheirOwnEnds() throws {
        let backend = TestDevice.backend
        let (t, f, h) = (6, 1, 4), lengths = [6, 3]
        let rng = RandomSource(seed: 16)
        let gru = try GRU(inputSize: f, hiddenSize: h, on: backend, rng: rng)
        let head = try Linear(h, f, on: backend, rng: rng)
        var random = TestRandom(seed: 17)
        let history = random.uniform(count: t * 2 * f)
        let both = try gru.forecast(SequenceBatch(Tensor(shape: [t, 2, f], values: history, on: backend), lengths: lengths),
                                    steps: 3, head: head).toArray()
        // Sequence 1 alone, cut to its length.
        let alone = (0..<3).map { history[$0 * 2 + 1] }
        let one = try gru.forecast(SequenceBatch(Tensor(shape: [3, 1, f], values: alone, on: backend)), steps: 3, head: head).toArray()
        expectClose((0..<3).map { both[$0 * 2 + 1] }, one, "a padded history forecasts from its own last step")
        let error = try #require(throws: RecurrentError.self) {
            try gru.forecast(SequenceBatch(Tensor.zeros([t, 2, f], on: backend)), steps: 2, head: Linear(h, 3, on: backend, rng: rng))
        }
        #expect("\(error)".contains("Linear(4, 1)"), "\(error)")
    }
}
