// Exporting a model to an ONNX file (opset 17, standard operators only), for ONNX Runtime and
// other ONNX consumers. Each layer lowers itself (ONNXExportable); the batch and time dimensions
// stay dynamic.
import Foundation
import RecurrentProtos

/// What an ONNX export exposes besides the model's input and output.
public struct ONNXExportOptions: Sendable, Equatable {
    /// Adds the graph input `sequence_lens` (B) int32: each sequence's real steps, for padded batches
    /// (the recurrent operators' `sequence_lens`; attention masks the steps past it).
    public var sequenceLengths: Bool
    /// Adds, per recurrent layer, the graph inputs `h0` (and `c0` for LSTM), (L·D, B, H), and the
    /// outputs `h_n` (and `c_n`), named after the layer in a `Sequential` (`lstm.h0`).
    public var states: Bool
    /// The layout of the graph input and of per-step outputs: time-major (T, B, ·), or batch-major
    /// (B, T, ·) as the `SequenceBatch`es the model was run on.
    public var layout: SequenceLayout

    /// - Parameters:
    ///   - sequenceLengths: Whether the model takes per-sequence lengths (`sequence_lens`).
    ///   - states: Whether recurrent layers take initial states and return final states.
    ///   - layout: The input's layout (time-major by default).
    public init(sequenceLengths: Bool = false, states: Bool = false, layout: SequenceLayout = .timeMajor) {
        self.sequenceLengths = sequenceLengths
        self.states = states
        self.layout = layout
    }
}

/// Why a model could not be exported to ONNX.
public enum ONNXExportError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A layer that ONNX's standard operators cannot express as configured, by name, and why.
    case unsupportedLayer(layer: String, reason: String)

    /// "cannot export layer 'NAME' to ONNX: REASON".
    public var description: String {
        switch self {
        case let .unsupportedLayer(layer, reason):
            return "cannot export layer '\(layer)' to ONNX: \(reason)"
        }
    }
}

/// A layer that can write itself into an ONNX graph.
protocol ONNXExportable {
    /// Adds the layer's nodes and weights for `input` and returns its output. `name` is the layer's
    /// name in its `Sequential` ("" for a model that is the layer alone).
    func lowerToONNX(_ input: ONNXValue, name: String, into graph: inout ONNXGraphBuilder,
                     _ context: ONNXExportContext) throws -> ONNXValue
}

/// The ONNX versions written: opset 17 of the default domain, IR version 8 (the IR of opset 17).
enum ONNXVersions {
    static let opset: Int64 = 17
    static let ir: Int64 = 8
}

extension Layer {
    /// Writes the model as an ONNX file (opset 17) that ONNX Runtime runs with the same results.
    ///
    /// The graph input `input` has the model's input layout with dynamic `batch` and `time`
    /// dimensions: float (T, B, I) for a recurrent model ((B, T, I) with `options.layout` batch-major), int64
    /// token indices (T, B) for a model that starts with an `Embedding`. The graph output is
    /// `output`. Recurrent layers become ONNX's `LSTM`, `GRU` (`linear_before_reset = 1`, or 0 with `resetAfter` false) and
    /// `RNN` operators; `Linear` becomes `Gemm` or `MatMul`, `Embedding` `Gather`, attention a
    /// masked `Softmax` over time. Weights are stored in the file.
    ///
    /// - Parameters:
    ///   - url: Where to write the file (atomically: an existing file is replaced only when the
    ///     export succeeds).
    ///   - options: Whether to add `sequence_lens` and the recurrent states as inputs and outputs.
    /// - Throws: `ONNXExportError.unsupportedLayer` naming a layer ONNX's operators cannot express
    ///   (an LSTM with projections, a layer of a type without an ONNX form), or a file error.
    public func exportONNX(to url: URL, options: ONNXExportOptions = ONNXExportOptions()) throws {
        try AtomicFile.write(onnxModel(options: options).serializedData(), to: url)
    }

    /// The ONNX model message for this layer as a whole model.
    func onnxModel(options: ONNXExportOptions) throws -> Onnx_ModelProto {
        var graph = ONNXGraphBuilder(name: "RecurrentKit")
        let input = graph.addInput("input", ONNXInputLayout.elementType(of: self), ONNXInputLayout.shape(of: self, layout: options.layout))
        let lengths = options.sequenceLengths ? graph.addInput("sequence_lens", .int32, [.symbol("batch")]) : nil
        let context = ONNXExportContext(sequenceLengths: lengths, exposesStates: options.states, layout: options.layout)
        let output = try ONNXInputLayout.lower(self, input, name: "", into: &graph, context)
        graph.addOutput(output, as: "output")

        var model = Onnx_ModelProto()
        model.irVersion = ONNXVersions.ir
        var opset = Onnx_OperatorSetIdProto()
        opset.domain = ""
        opset.version = ONNXVersions.opset
        model.opsetImport = [opset]
        model.producerName = "RecurrentKit"
        model.graph = graph.graph
        return model
    }
}

/// The graph input a model takes, from its first layer, and the dispatch to each layer's lowering.
enum ONNXInputLayout {
    /// The first layer that is not a `Sequential`.
    static func firstLayer(_ layer: any Layer) -> any Layer {
        if let sequential = layer as? Sequential, let first = sequential.layers.first { return firstLayer(first.layer) }
        return layer
    }

    /// The first recurrent stack of a model, if any.
    static func firstRecurrent(_ layer: any Layer) -> RecurrentNetwork? {
        if let network = layer as? RecurrentNetwork { return network }
        if let sequential = layer as? Sequential {
            for entry in sequential.layers { if let found = firstRecurrent(entry.layer) { return found } }
        }
        return nil
    }

    static func elementType(of model: any Layer) -> Onnx_TensorProto.DataType {
        firstLayer(model) is Embedding ? .int64 : .float
    }

    static func shape(of model: any Layer, layout: SequenceLayout) -> [ONNXDimension] {
        let sequence: [ONNXDimension] = layout == .batchMajor ? [.symbol("batch"), .symbol("time")] : [.symbol("time"), .symbol("batch")]
        switch firstLayer(model) {
        case let network as RecurrentNetwork: return sequence + [.fixed(network.inputSize)]
        case is Embedding: return sequence
        case let linear as Linear: return [.symbol("batch"), .fixed(linear.inputSize)]
        case let attention as Attention: return [.symbol("time"), .symbol("batch"), .fixed(attention.featureSize)]
        default: return sequence
        }
    }

    /// Lowers `layer`, or throws naming it when it has no ONNX form.
    static func lower(_ layer: any Layer, _ input: ONNXValue, name: String, into graph: inout ONNXGraphBuilder,
                      _ context: ONNXExportContext) throws -> ONNXValue {
        guard let exportable = layer as? any ONNXExportable else {
            throw ONNXExportError.unsupportedLayer(layer: name.isEmpty ? "\(type(of: layer))" : name,
                                                   reason: "\(type(of: layer)) has no ONNX form")
        }
        return try exportable.lowerToONNX(input, name: name, into: &graph, context)
    }
}

extension Sequential: ONNXExportable {
    func lowerToONNX(_ input: ONNXValue, name: String, into graph: inout ONNXGraphBuilder,
                     _ context: ONNXExportContext) throws -> ONNXValue {
        var x = input
        for entry in layers {
            x = try ONNXInputLayout.lower(entry.layer, x, name: name.isEmpty ? entry.name : "\(name).\(entry.name)",
                                          into: &graph, context)
        }
        return x
    }
}
