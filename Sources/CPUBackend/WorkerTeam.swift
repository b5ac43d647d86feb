// The CPU backend's threads for work split across cores (`runConcurrently`, the row parts of large
// GEMMs): the calling thread and coreCount − 1 workers of an rk_team (recurrent_stream.h) that
// persist for the backend's life. Part p of a call always runs on the same worker, so a core keeps
// the rows it had in the last call (the forward time loop's block is the backward loop's), and a
// worker still spinning from the last call starts the next within a microsecond. (Dispatch's
// concurrentPerform measured 80–450 µs before its second part started, on a new thread each
// time, and now and then ran both parts one after the other on the caller.) One call at a time:
// a call that finds the team busy (another thread's call, or one made from inside a part) runs
// on Dispatch instead.
import CRecurrentGEMM
import Dispatch
import RecurrentCore

/// The persistent worker threads of one CPU backend.
final class WorkerTeam: @unchecked Sendable {
    // @unchecked: `team` is only used by the one caller that holds `busy`; rk_team orders the
    // parts' memory with its own atomics (release when a part is done, acquire before returning).
    private let team: OpaquePointer?
    private let busy = Locked(false)

    /// A team of `threads` (the caller included); with 1, or when no worker thread starts, calls
    /// run on Dispatch.
    init(threads: Int) {
        team = threads > 1 ? rk_team_create(Int32(threads)) : nil
    }

    deinit { if let team { rk_team_destroy(team) } }

    /// Runs body(part) for every part in 0 ..< count, spread over the team's threads (part p on
    /// thread p mod size); returns false, having run nothing, when the team is busy or absent.
    func run(_ count: Int, _ body: @Sendable (Int) -> Void) -> Bool {
        guard let team, busy.withLock({ wasBusy in defer { wasBusy = true }; return !wasBusy }) else { return false }
        defer { busy.withLock { $0 = false } }
        withoutActuallyEscaping(body) { body in
            let task = Unmanaged.passRetained(TeamTask(count: count, body: body))
            defer { task.release() }
            rk_team_run(team, { context, part, parts in
                let task = Unmanaged<TeamTask>.fromOpaque(context!).takeUnretainedValue()
                var p = Int(part)
                while p < task.count {
                    task.body(p)
                    p += Int(parts)
                }
            }, task.toOpaque())
        }
        return true
    }
}

/// One call's parts, as the team's threads see it.
private final class TeamTask: Sendable {
    let count: Int
    let body: @Sendable (Int) -> Void
    init(count: Int, body: @escaping @Sendable (Int) -> Void) { (self.count, self.body) = (count, body) }
}
