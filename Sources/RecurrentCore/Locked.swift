// A value shared between threads behind a POSIX mutex.
// Glossary: lock = the pthread mutex; body = the closure run while it is held.
//
// Not Synchronization.Mutex: on Linux that mutex locks with futex calls inside the Swift
// runtime's own (uninstrumented) library, which ThreadSanitizer cannot see, so every access it
// guards reads to the sanitizer as a data race. ThreadSanitizer intercepts pthread_mutex_lock
// and pthread_mutex_unlock, so `.ci/run`'s ThreadSanitizer pass checks what these locks guard.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A value that threads read and change only while holding its lock.
package final class Locked<Value> {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    /// Shares `value` behind a new lock.
    package init(_ value: Value) {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let status = pthread_mutex_init(mutex, nil)
        precondition(status == 0, "pthread_mutex_init failed with \(status)")
        self.value = value
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` on the value while holding the lock; returns what `body` returns. Not
    /// reentrant: `body` must not take this lock again.
    package func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}

// @unchecked: `value` is touched only between pthread_mutex_lock and pthread_mutex_unlock of
// `mutex`, which lives at a fixed address for the object's whole life.
extension Locked: @unchecked Sendable where Value: Sendable {}
