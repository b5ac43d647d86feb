// The OpenCL C sources of Kernels/*.cl, embedded into the binary at build time, so a linked
// program needs no files at run time.

/// The OpenCL kernel sources, in the order they are concatenated into one program.
public enum KernelSources {
    /// (file name, source text): common definitions and Philox first, then the op families.
    public static let files: [(name: String, source: String)] = [
        ("common.cl", PackageResources.common_cl),
        ("philox.cl", PackageResources.philox_cl),
        ("elementwise.cl", PackageResources.elementwise_cl),
        ("reduction.cl", PackageResources.reduction_cl),
        ("loss.cl", PackageResources.loss_cl),
        ("optimizer.cl", PackageResources.optimizer_cl),
        ("dropout.cl", PackageResources.dropout_cl),
        ("embedding.cl", PackageResources.embedding_cl),
        ("attention.cl", PackageResources.attention_cl),
        ("lstm.cl", PackageResources.lstm_cl),
        ("gru.cl", PackageResources.gru_cl),
        ("gru_reset_before.cl", PackageResources.gru_reset_before_cl),
        ("layer_norm_cell.cl", PackageResources.layer_norm_cell_cl),
        ("rnn.cl", PackageResources.rnn_cl),
        ("time_loop.cl", PackageResources.time_loop_cl),
        ("time_loop_reset_before.cl", PackageResources.time_loop_reset_before_cl),
        ("persistent.cl", PackageResources.persistent_cl),
    ].map { ($0.0, String(decoding: $0.1, as: UTF8.self)) }

    /// All sources as one program text, each file introduced by a `// file:` line.
    public static var program: String {
        files.map { "// file: \($0.name)\n\($0.source)" }.joined(separator: "\n")
    }
}
