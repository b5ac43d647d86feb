/// Combines gradients across workers that each trained on a shard of the same global batch
/// (data parallelism). `Trainer` calls it after backward and the penalty, before the non-finite
/// check, clipping and the optimizer step, so clipping by global norm sees the averaged gradient.
public protocol GradientReducer: AnyObject {
    /// Replaces every gradient with its average over all workers.
    func averageGradients(_ parameters: [Parameter]) throws
    /// The sum of `value` over all workers (for metrics such as the loss).
    func sum(_ value: Double) throws -> Double
    /// Number of workers.
    var workerCount: Int { get }
    /// This worker's index, 0..<workerCount; worker 0 writes checkpoints.
    var workerIndex: Int { get }
}
