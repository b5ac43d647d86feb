// Parity of Linear, Embedding, MSELoss and CrossEntropyLoss with PyTorch, forward and backward.
// Fixtures: linear.json, embedding.json, loss_{mse,cross_entropy}_{mean,sum}.json.

import RecurrentKit
import Testing
import TestSupport

@Suite("Layers and losses match PyTorch")
struct LayerParityTests {
    /// nn.Linear(5, 3) on a (2, 4, 5) input: the leading dimensions are flattened.
    @Test("Linear on a 3-D input")
    func linear() throws {
        let fixture = try Fixture("linear.json")
        let backend = TestDevice.backend
        let layer = try Linear(fixture.int("in_features"), fixture.int("out_features"), on: backend, rng: RandomSource(seed: 1))
        try layer.loadStateDict(["weight": fixture.host("weight"), "bias": fixture.host("bias")], strict: true)

        let input = try fixture.upload("input", on: backend)                       // (2, 4, 5)
        let (result, gradient) = try forwardBackward(layer, .tensor(input), gradOutput: fixture.upload("grad_output", on: backend))
        let output = result.data                                                   // (2, 4, 3)
        #expect(output.shape == (try fixture.tensor("output").shape))
        expectClose(try output.toArray(), try fixture.data("output"), "linear output")

        let gradInput = try #require(gradient)
        #expect(gradInput.shape == input.shape)
        expectClose(try gradInput.toArray(), try fixture.data("grad.input"), "linear grad.input")
        expectClose(try layer.weight.gradient.toArray(), try fixture.data("grad.weight"), "linear grad.weight")
        let bias = try #require(layer.bias)
        expectClose(try bias.gradient.toArray(), try fixture.data("grad.bias"), "linear grad.bias")
    }

    /// nn.Embedding(7, 4) with repeated indices: the table gradient sums every occurrence.
    @Test("Embedding with repeated indices")
    func embedding() throws {
        let fixture = try Fixture("embedding.json")
        let backend = TestDevice.backend
        let layer = try Embedding(fixture.int("num_embeddings"), fixture.int("embedding_dim"), on: backend, rng: RandomSource(seed: 1))
        try layer.loadStateDict(["weight": fixture.host("weight")], strict: true)

        let indices = try fixture.upload("indices", on: backend)                   // (3, 5)
        let (result, gradInput) = try forwardBackward(layer, .tensor(indices), gradOutput: fixture.upload("grad_output", on: backend))
        let output = result.data                                                   // (3, 5, 4)
        #expect(output.shape == (try fixture.tensor("output").shape))
        expectClose(try output.toArray(), try fixture.data("output"), "embedding output")

        #expect(gradInput == nil, "indices have no gradient")
        expectClose(try layer.weight.gradient.toArray(), try fixture.data("grad.weight"), "embedding grad.weight")
    }

    @Test("MSELoss", arguments: ["loss_mse_mean.json", "loss_mse_sum.json"])
    func meanSquaredError(_ file: String) throws {
        let fixture = try Fixture(file)
        let backend = TestDevice.backend
        let reduction = try #require(LossReduction(rawValue: fixture.string("reduction")))
        let loss = MSELoss(reduction: reduction)
        let value = try loss.forward(fixture.upload("prediction", on: backend), fixture.upload("target", on: backend))
        #expect(value.shape == [])
        expectClose([try value.item()], try fixture.data("loss"), "\(file) loss")
        expectClose(try loss.backward().toArray(), try fixture.data("grad.prediction"), "\(file) grad.prediction")
    }

    /// Logits include 80, −90 (the target of row 1, a per-sample loss near 90+) and a row of 50s:
    /// the fused softmax must shift by the row maximum to stay finite and exact.
    @Test("CrossEntropyLoss with extreme logits", arguments: ["loss_cross_entropy_mean.json", "loss_cross_entropy_sum.json"])
    func crossEntropy(_ file: String) throws {
        let fixture = try Fixture(file)
        let backend = TestDevice.backend
        let reduction = try #require(LossReduction(rawValue: fixture.string("reduction")))
        let loss = CrossEntropyLoss(reduction: reduction)
        let value = try loss.forward(fixture.upload("logits", on: backend), fixture.upload("targets", on: backend))
        #expect(value.shape == [])
        expectClose([try value.item()], try fixture.data("loss"), "\(file) loss")
        let gradient = try loss.backward()
        #expect(gradient.shape == (try fixture.tensor("logits").shape))
        expectClose(try gradient.toArray(), try fixture.data("grad.logits"), "\(file) grad.logits")
    }
}
