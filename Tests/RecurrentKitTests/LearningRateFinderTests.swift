// The learning-rate range test: exponential rates over one pass, smoothing, stopping on
// divergence, the steepest-descent suggestion.

import Foundation
import Testing
import TestSupport
@testable import RecurrentKit

@Suite struct LearningRateFinderTests {
    private static func trainer(seed: UInt64 = 2) throws -> Trainer {
        let backend = TestDevice.backend
        let rng = RandomSource(seed: seed)
        let model = try Sequential([("rnn", GRU(inputSize: 1, hiddenSize: 8, on: backend, rng: rng)), ("last", LastTimeStep()),
                                    ("fc", Linear(8, 1, on: backend, rng: rng))])
        return Trainer(model: model, loss: MSELoss(), optimizer: try SGD(model.parameters, learningRate: 0.1), on: backend)
    }

    @Test func ratesRiseExponentiallyAndDivergenceStopsTheTest() throws {
        let data = try SyntheticData.sineWaves(count: 160, length: 8, seed: 1)   // 20 batches of 8
        let finder = try LearningRateFinder(startRate: 1e-4, endRate: 1e4)
        let result = try finder.run(Self.trainer(), on: data, batchSize: 8, shuffleSeed: 3)
        // SGD at rates up to 1e4 without clipping blows up before the end of the pass.
        #expect(result.diverged && result.rates.count < 20)
        for k in 0..<result.rates.count {
            let expected = 1e-4 * pow(1e8, Double(k) / 19)
            #expect(abs(Double(result.rates[k]) - expected) <= 1e-6 * expected, "rate \(k)")
        }
        // The smoothed loss is the bias-corrected running average of the step losses.
        var average = 0.0
        for (k, loss) in result.losses.enumerated() {
            average = 0.98 * average + 0.02 * Double(loss)
            #expect(abs(Double(result.smoothedLosses[k]) - average / (1 - pow(0.98, Double(k + 1)))) <= 1e-5 * average)
        }
        #expect(result.suggestedRate >= result.rates.first! && result.suggestedRate <= result.rates.last!)
        #expect(throws: RecurrentError.self) { try LearningRateFinder(startRate: 1, endRate: 0.1) }
    }

    /// A curve flat, then falling fastest around rate 1e-2, then rising: the suggestion is 1e-2.
    @Test func suggestionIsTheSteepestDescent() {
        let rates = (0..<41).map { Float(pow(10, -5 + Double($0) / 8)) }   // 1e-5 … 1e0
        let losses = rates.map { r -> Float in
            let x = log10(Double(r))
            return Float(2 - tanh(2 * (x + 2)) + (x > -0.5 ? 10 * (x + 0.5) * (x + 0.5) : 0))
        }
        let index = LearningRateFinder.steepestDescent(rates: rates, losses: losses)
        #expect(abs(log10(Double(rates[index])) + 2) < 0.13, "suggested \(rates[index])")
    }
}
