#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Set from a SIGINT/SIGTERM handler; readers stop at the next packet and callers flush what
/// they have. Lock-free atomic words: written by the handler (or the main thread on a broken
/// pipe) and polled by the decoding thread.
public enum StopSignal {
    private static let requestedWord = Atomic<Int32>(0)
    private static let countWord = Atomic<Int32>(0)

    /// The signal number of the last SIGINT/SIGTERM received (0: none).
    public static var requested: Int32 {
        get { requestedWord.load(ordering: .acquiring) }
        set { requestedWord.store(newValue, ordering: .releasing) }
    }
    /// How many SIGINT/SIGTERM have arrived (a second Ctrl-C can mean "now").
    public static var count: Int32 { countWord.load(ordering: .acquiring) }

    /// What the handlers do (async-signal-safe: two atomic operations).
    private static func received(_ n: Int32) {
        requestedWord.store(n, ordering: .releasing)
        countWord.wrappingAdd(1, ordering: .acquiringAndReleasing)
    }

    /// Installs handlers for SIGINT and SIGTERM that set `requested`, and ignores SIGPIPE so a
    /// closed output shows up as a write error instead of killing the process.
    public static func install() {
        _ = (requested, count)   // initialise the words before a handler can touch them
        signal(SIGINT) { n in StopSignal.received(n) }
        signal(SIGTERM) { n in StopSignal.received(n) }
        signal(SIGPIPE, SIG_IGN)
        // A parent may have started us with these blocked (the mask is inherited): unblock them.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    public static var isRequested: Bool { requested != 0 }
}
