// Building an ONNX graph: nodes, initializers (weights), graph inputs and outputs, with the
// messages of RecurrentProtos (generated from ONNX's onnx.proto). Shapes are tracked as symbolic
// dimensions so each layer knows the rank and sizes of what it receives.
import Foundation
import RecurrentProtos

/// One dimension of a tensor in an exported graph: a fixed size or a named dynamic one.
enum ONNXDimension: Equatable, CustomStringConvertible {
    case fixed(Int)
    case symbol(String)

    var description: String {
        switch self {
        case .fixed(let n): "\(n)"
        case .symbol(let name): name
        }
    }
}

/// A tensor flowing through the graph under construction: its name, element type and shape.
struct ONNXValue {
    var name: String
    var elementType: Onnx_TensorProto.DataType
    var shape: [ONNXDimension]

    var rank: Int { shape.count }
}

/// What an export is asked to expose, shared by every layer's lowering.
struct ONNXExportContext {
    /// The graph input `sequence_lens` (B) int32, when the export takes per-sequence lengths.
    var sequenceLengths: ONNXValue?
    /// Whether recurrent layers take initial states and return final states as graph inputs/outputs.
    var exposesStates: Bool
    /// The layout of the graph input and of recurrent layers' per-step outputs.
    var layout: SequenceLayout
}

/// Accumulates the nodes and tensors of one ONNX graph.
struct ONNXGraphBuilder {
    private(set) var graph = Onnx_GraphProto()
    private var names: Set<String> = []

    init(name: String) { graph.name = name }

    /// A name not used yet in the graph, from `base`.
    mutating func uniqueName(_ base: String) -> String {
        var name = base, index = 1
        while names.contains(name) {
            name = "\(base)_\(index)"
            index += 1
        }
        names.insert(name)
        return name
    }

    /// Adds a graph input.
    mutating func addInput(_ name: String, _ type: Onnx_TensorProto.DataType, _ shape: [ONNXDimension]) -> ONNXValue {
        let value = ONNXValue(name: uniqueName(name), elementType: type, shape: shape)
        graph.input.append(Self.valueInfo(value))
        return value
    }

    /// Declares `value` a graph output called `name` (through an Identity node when renamed).
    mutating func addOutput(_ value: ONNXValue, as name: String) {
        var output = value
        if value.name != name {
            output = node("Identity", [value], name: name, type: value.elementType, shape: value.shape, outputName: name)
        }
        graph.output.append(Self.valueInfo(output))
    }

    /// A float initializer (a constant weight) with `shape`.
    mutating func initializer(_ name: String, _ values: [Float], shape: [Int]) -> ONNXValue {
        var tensor = Onnx_TensorProto()
        tensor.name = uniqueName(name)
        tensor.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        tensor.dims = shape.map(Int64.init)
        tensor.rawData = values.withUnsafeBufferPointer { Data(buffer: $0) }   // little-endian on every supported host
        graph.initializer.append(tensor)
        return ONNXValue(name: tensor.name, elementType: .float, shape: shape.map { .fixed($0) })
    }

    /// An int64 initializer (axes, shapes, indices) with `shape` (empty for a scalar).
    mutating func integers(_ name: String, _ values: [Int64], shape: [Int]? = nil) -> ONNXValue {
        var tensor = Onnx_TensorProto()
        tensor.name = uniqueName(name)
        tensor.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
        let dims = shape ?? [values.count]
        tensor.dims = dims.map(Int64.init)
        tensor.int64Data = values
        graph.initializer.append(tensor)
        return ONNXValue(name: tensor.name, elementType: .int64, shape: dims.map { .fixed($0) })
    }

    /// Adds a node with one output and returns that output. `inputs` may hold nil for an omitted optional input.
    @discardableResult
    mutating func node(_ op: String, _ inputs: [ONNXValue?], name: String, type: Onnx_TensorProto.DataType,
                       shape: [ONNXDimension], attributes: [Onnx_AttributeProto] = [], outputName: String? = nil) -> ONNXValue {
        node(op, inputs, name: name, outputs: [(outputName ?? name, type, shape)], attributes: attributes)[0]
    }

    /// Adds a node with several outputs (an output named "" is omitted).
    mutating func node(_ op: String, _ inputs: [ONNXValue?], name: String,
                       outputs: [(name: String, type: Onnx_TensorProto.DataType, shape: [ONNXDimension])],
                       attributes: [Onnx_AttributeProto] = []) -> [ONNXValue] {
        var node = Onnx_NodeProto()
        node.opType = op
        node.name = uniqueName("\(name)/\(op)")
        node.input = inputs.map { $0?.name ?? "" }
        let values = outputs.map { output in
            output.name.isEmpty ? ONNXValue(name: "", elementType: output.type, shape: output.shape)
                : ONNXValue(name: uniqueName(output.name), elementType: output.type, shape: output.shape)
        }
        node.output = values.map(\.name)
        node.attribute = attributes
        graph.node.append(node)
        return values
    }

    static func valueInfo(_ value: ONNXValue) -> Onnx_ValueInfoProto {
        var info = Onnx_ValueInfoProto()
        info.name = value.name
        var tensorType = Onnx_TypeProto.Tensor()
        tensorType.elemType = Int32(value.elementType.rawValue)
        var shape = Onnx_TensorShapeProto()
        shape.dim = value.shape.map { dimension in
            var d = Onnx_TensorShapeProto.Dimension()
            switch dimension {
            case .fixed(let n): d.dimValue = Int64(n)
            case .symbol(let name): d.dimParam = name
            }
            return d
        }
        tensorType.shape = shape
        info.type.tensorType = tensorType
        return info
    }
}

/// Node attributes.
enum ONNXAttribute {
    static func int(_ name: String, _ value: Int) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .int
        a.i = Int64(value)
        return a
    }

    static func ints(_ name: String, _ values: [Int]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .ints
        a.ints = values.map(Int64.init)
        return a
    }

    static func float(_ name: String, _ value: Float) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .float
        a.f = value
        return a
    }

    static func string(_ name: String, _ value: String) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .string
        a.s = Data(value.utf8)
        return a
    }

    static func strings(_ name: String, _ values: [String]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .strings
        a.strings = values.map { Data($0.utf8) }
        return a
    }
}
