#if canImport(Glibc)
import Glibc
#endif

/// Set from a SIGINT/SIGTERM handler; readers stop at the next packet and callers flush what
/// they have. A plain word written by the handler and polled by the reading thread.
public enum StopSignal {
    /// The signal number of the last SIGINT/SIGTERM received (0: none).
    nonisolated(unsafe) public static var requested: Int32 = 0
    /// How many SIGINT/SIGTERM have arrived (a second Ctrl-C can mean "now").
    nonisolated(unsafe) public static var count: Int32 = 0

    /// Installs handlers for SIGINT and SIGTERM that set `requested`, and ignores SIGPIPE so a
    /// closed output shows up as a write error instead of killing the process.
    public static func install() {
        signal(SIGINT) { n in StopSignal.requested = n; StopSignal.count &+= 1 }
        signal(SIGTERM) { n in StopSignal.requested = n; StopSignal.count &+= 1 }
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
