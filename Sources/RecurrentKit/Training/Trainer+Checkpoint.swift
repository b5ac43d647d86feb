import Foundation

/// Checkpoints: everything a resumed run needs to continue bitwise as if never stopped, in one
/// safetensors file written atomically — the weights (`model.…`), the optimizer's slots
/// (`optimizer.<parameter>.exp_avg` …), the gradient-norm history, and as JSON metadata the
/// optimizer's step counts and learning rate, the schedule position, the dropout streams'
/// positions, the trainer's cursor and each callback's state (its tensors as `callbacks.<key>.…`).
extension Trainer {
    static let checkpointKey = "recurrentkit.checkpoint"

    /// Writes a checkpoint (temporary file, fsync, rename: an older checkpoint survives a crash).
    public func saveCheckpoint(to url: URL) throws {
        let named = model.namedParameters
        var tensors: [String: HostTensor] = [:]
        for (name, t) in try model.stateDict() { tensors["model." + name] = t }
        let optimizerState = try optimizer.state(of: named)
        for (name, t) in optimizerState.tensors { tensors["optimizer." + name] = t }
        tensors["trainer.gradient_norms"] = try HostTensor(shape: [gradientNorms.count], values: gradientNorms)
        var callbackStates: [String: [String: String]] = [:]
        for callback in callbacks {
            let key = callback.stateKey
            guard callbackStates[key] == nil else {
                throw RecurrentError.invalidArgument(name: "callbacks", expected: "distinct state keys", got: "'\(key)' twice")
            }
            let state = try callback.state()
            callbackStates[key] = state.values.mapValues { String($0) }   // exact, and "inf" where JSON has no infinity
            for (name, t) in state.tensors { tensors["callbacks.\(key).\(name)"] = t }
        }
        let info: [String: Any] = [
            "version": 1,
            "optimizer": ["kind": optimizerState.kind, "learning_rate_bits": optimizerState.learningRate.bitPattern,
                          "steps": optimizerState.steps],
            "scheduler_epoch": scheduler?.epoch ?? -1,
            "random": model.randomState.mapValues { String($0) },
            "callbacks": callbackStates,
            "trainer": ["steps": steps, "skipped_steps": skippedSteps, "completed_epochs": completedEpochs,
                        "batches_done_in_epoch": batchesDoneInEpoch, "epoch_loss_sum_bits": epochLossSum.bitPattern,
                        "stop_requested": stopRequested,
                        "batch_size": cursorArguments?.batchSize ?? 0, "shuffle_seed": String(cursorArguments?.shuffleSeed ?? 0)],
        ]
        let json = String(data: try JSONSerialization.data(withJSONObject: info, options: [.sortedKeys]), encoding: .utf8)!
        try SafeTensors.write(tensors, metadata: ["format": "pt", Trainer.checkpointKey: json], to: url)
    }

    /// Restores a checkpoint written by `saveCheckpoint` for the same model, optimizer kind and
    /// (if any) scheduler. Names, shapes and kinds are checked before anything changes.
    public func loadCheckpoint(from url: URL) throws {
        func fail(_ reason: String) -> RecurrentError { .file(path: url.path, reason: reason) }
        let contents = try SafeTensors.read(contentsOf: url)
        guard let text = contents.metadata[Trainer.checkpointKey], let data = text.data(using: .utf8),
              let info = try? JSONSerialization.jsonObject(with: data) as? [String: Any], info["version"] as? Int == 1,
              let opt = info["optimizer"] as? [String: Any], let kind = opt["kind"] as? String,
              let lrBits = (opt["learning_rate_bits"] as? NSNumber)?.uint32Value, let optSteps = opt["steps"] as? [String: Int],
              let schedulerEpoch = info["scheduler_epoch"] as? Int, let random = info["random"] as? [String: String],
              let cursor = info["trainer"] as? [String: Any], let steps = cursor["steps"] as? Int,
              let skipped = cursor["skipped_steps"] as? Int, let epochs = cursor["completed_epochs"] as? Int,
              let batches = cursor["batches_done_in_epoch"] as? Int,
              let lossBits = (cursor["epoch_loss_sum_bits"] as? NSNumber)?.uint32Value,
              let batchSize = cursor["batch_size"] as? Int, let seedText = cursor["shuffle_seed"] as? String, let seed = UInt64(seedText)
        else { throw fail("not a RecurrentKit checkpoint (missing or unreadable '\(Trainer.checkpointKey)' metadata)") }
        let counters = try random.mapValues { value -> UInt64 in
            guard let n = UInt64(value) else { throw fail("random stream position '\(value)' is not a count") }
            return n
        }
        guard (schedulerEpoch >= 0) == (scheduler != nil) else {
            throw fail(scheduler == nil ? "the checkpoint has a learning-rate schedule; this trainer has none"
                                        : "the checkpoint has no learning-rate schedule; this trainer has one")
        }
        var weights: [String: HostTensor] = [:], slots: [String: HostTensor] = [:]
        for (name, t) in contents.tensors {
            if name.hasPrefix("model.") { weights[String(name.dropFirst(6))] = t }
            if name.hasPrefix("optimizer.") { slots[String(name.dropFirst(10))] = t }
        }
        let callbackStates = try Self.callbackStates(info["callbacks"], tensors: contents.tensors, fail: fail)
        // Callbacks that keep nothing (a TensorBoard logger) may come and go between runs.
        let stateless = Set(try callbacks.filter { try $0.state() == CallbackState() }.map(\.stateKey))
        let saved = callbackStates.filter { $0.value != CallbackState() }.keys.sorted()
        let mine = callbacks.map(\.stateKey).filter { !stateless.contains($0) }.sorted()
        guard saved == mine else {
            throw fail("the checkpoint holds the state of the callbacks [\(saved.joined(separator: ", "))]; "
                       + "this trainer has [\(mine.joined(separator: ", "))]")
        }
        let norms = contents.tensors["trainer.gradient_norms"]?.values ?? []
        let named = model.namedParameters
        // Check the optimizer's kind and every slot's shape before anything changes.
        let myKind = try optimizer.state(of: []).kind
        guard kind == myKind else { throw fail("the checkpoint holds \(kind) state; this trainer's optimizer is \(myKind)") }
        for (name, p) in named {
            for (slot, t) in slots where slot.hasPrefix(name + ".") && !slot.dropFirst(name.count + 1).contains(".") && t.shape != p.shape {
                throw fail("optimizer state \(slot): expected shape \(p.shape), got \(t.shape)")
            }
        }
        for (name, count) in optSteps where count > 0 && !slots.keys.contains(where: { $0.hasPrefix(name + ".") }) && kind == "adam" {
            throw fail("optimizer state for \(name) is missing")
        }
        let before = try model.stateDict()
        do {
            try scheduler?.restore(epoch: schedulerEpoch)   // first: it throws before changing anything
            try model.loadStateDict(weights, strict: true)
            for callback in callbacks { try callback.restore(callbackStates[callback.stateKey] ?? CallbackState()) }
            try optimizer.restore(OptimizerState(kind: kind, learningRate: Float(bitPattern: lrBits), steps: optSteps, tensors: slots),
                                  for: named)
        } catch let error as RecurrentError {
            try? model.loadStateDict(before, strict: true)
            throw fail(error.description)
        }
        optimizer.learningRate = Float(bitPattern: lrBits)
        model.randomState = counters
        self.steps = steps
        self.skippedSteps = skipped
        self.gradientNorms = norms
        self.completedEpochs = epochs
        self.batchesDoneInEpoch = batches
        self.epochLossSum = Float(bitPattern: lossBits)
        self.stopRequested = cursor["stop_requested"] as? Bool ?? false
        self.cursorArguments = batchSize > 0 ? (batchSize, seed) : nil
    }

    /// The callbacks' states of a checkpoint's metadata (none in checkpoints written before callbacks).
    private static func callbackStates(_ entry: Any?, tensors: [String: HostTensor],
                                       fail: (String) -> RecurrentError) throws -> [String: CallbackState] {
        guard let entry else { return [:] }
        guard let table = entry as? [String: [String: String]] else { throw fail("unreadable callback states") }
        var states: [String: CallbackState] = [:]
        for (key, values) in table {
            var state = CallbackState()
            for (name, text) in values {
                guard let v = Double(text) else { throw fail("callback \(key): value \(name) '\(text)' is not a number") }
                state.values[name] = v
            }
            let prefix = "callbacks.\(key)."
            for (name, t) in tensors where name.hasPrefix(prefix) { state.tensors[String(name.dropFirst(prefix.count))] = t }
            states[key] = state
        }
        return states
    }
}
