// `recurrent export`: writes a model trained by `recurrent train` as an ONNX file for ONNX Runtime
// and other ONNX consumers.
import ArgumentParser
import Foundation
import RecurrentKit

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export a model trained by `recurrent train` to ONNX (opset 17).",
        discussion: "Reads DIR/model.json and the weights in DIR/checkpoint.safetensors and writes an ONNX model with "
            + "dynamic batch and time dimensions: a CSV model takes float windows (time, batch, columns) z-scored as in "
            + "training; a text model takes int64 character indices (time, batch) and returns logits per step.")

    @Option(help: ArgumentHelp("The --output directory of `recurrent train`.", valueName: "dir")) var model: String = "recurrent-run"
    @Option(help: ArgumentHelp("The ONNX file to write.", valueName: "file")) var onnx: String
    @Flag(help: "Add the input sequence_lens (batch) int32 for padded batches of different lengths.") var sequenceLengths = false
    @Flag(help: "Add the recurrent states as inputs (rnn.h0, rnn.c0) and outputs (rnn.h_n, rnn.c_n).") var states = false

    @OptionGroup var common: CommonOptions

    func run() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: model, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RecurrentError.file(path: model, reason: "no such directory (expected the --output directory of `recurrent train`)")
        }
        let directory = try RunDirectory(model)
        let saved = try SavedModel.load(from: directory)
        let trained = try saved.trainedModel(in: directory, on: try common.backend())
        // Character indices feed the embedding directly: the tool's index-shaping layer has no ONNX form.
        let exported = try Sequential(trained.layers.filter { !($0.layer is TokenIndices) }.map { ($0.name, $0.layer) })
        let url = URL(fileURLWithPath: onnx)
        try exported.exportONNX(to: url, options: ONNXExportOptions(sequenceLengths: sequenceLengths, states: states))
        print("wrote \(url.path): \(saved.summary)")
    }
}
