import Foundation
import Vidformer
#if canImport(Glibc)
import Glibc
#endif

/// A child process of our own binary, in its own process group (a Ctrl-C at the terminal
/// reaches only us; we decide what the children get), with stdout and stderr on pipes that
/// the caller drains without blocking.
final class Subprocess {
    let pid: pid_t
    let stdoutFD: Int32
    let stderrFD: Int32
    private(set) var stdoutData = Data()
    private var stderrBuffer = Data()
    private(set) var exitStatus: Int32?
    /// Set when the child died of a signal.
    private(set) var signal: Int32?

    /// The running binary, for spawning ourselves.
    static let selfPath = DefaultModel.runningExecutable

    init(_ executable: String, _ arguments: [String]) throws {
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard pipe(&outPipe) == 0, pipe(&errPipe) == 0 else { throw SubprocessError("pipe: \(String(cString: strerror(errno)))") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        for fd in [outPipe[0], outPipe[1], errPipe[0], errPipe[1]] { posix_spawn_file_actions_addclose(&actions, fd) }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var defaults = sigset_t(), empty = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGINT, SIGTERM, SIGPIPE] { sigaddset(&defaults, s) }
        sigemptyset(&empty)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, &attr, argv, environ)
        close(outPipe[1])
        close(errPipe[1])
        guard rc == 0 else {
            close(outPipe[0])
            close(errPipe[0])
            throw SubprocessError("cannot start \(executable): \(String(cString: strerror(rc)))")
        }
        pid = child
        stdoutFD = outPipe[0]
        stderrFD = errPipe[0]
        for fd in [stdoutFD, stderrFD] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
    }

    /// Reads what is available; returns complete stderr lines received since the last call.
    func drain() -> [String] {
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(stdoutFD, &buf, buf.count)
            if n <= 0 { break }
            stdoutData.append(buf, count: n)
        }
        while true {
            let n = read(stderrFD, &buf, buf.count)
            if n <= 0 { break }
            stderrBuffer.append(buf, count: n)
        }
        var lines: [String] = []
        while let nl = stderrBuffer.firstIndex(of: 10) {
            lines.append(String(decoding: stderrBuffer[stderrBuffer.startIndex..<nl], as: UTF8.self))
            stderrBuffer.removeSubrange(stderrBuffer.startIndex...nl)
        }
        return lines
    }

    /// True once the child has exited (reaped); drains its pipes one last time first.
    func poll() -> Bool {
        if exitStatus != nil || signal != nil { return true }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        guard r == pid else { return false }
        if status & 0x7f == 0 { exitStatus = (status >> 8) & 0xff } else { signal = status & 0x7f }
        return true
    }

    /// The rest of stderr after exit (a last line without a newline included).
    func finalLines() -> [String] {
        var lines = drain()
        if !stderrBuffer.isEmpty {
            lines.append(String(decoding: stderrBuffer, as: UTF8.self))
            stderrBuffer.removeAll()
        }
        close(stdoutFD)
        close(stderrFD)
        return lines
    }

    func kill(_ sig: Int32) { _ = Glibc.kill(pid, sig) }

    /// Runs to completion, returning (exit status or 128+signal, stdout, stderr lines).
    static func run(_ executable: String, _ arguments: [String]) throws -> (Int32, Data, [String]) {
        let p = try Subprocess(executable, arguments)
        var lines: [String] = []
        while !p.poll() {
            lines += p.drain()
            var fds = [pollfd(fd: p.stdoutFD, events: Int16(POLLIN), revents: 0), pollfd(fd: p.stderrFD, events: Int16(POLLIN), revents: 0)]
            _ = Glibc.poll(&fds, 2, 50)
        }
        lines += p.finalLines()
        return (p.exitStatus ?? (128 + (p.signal ?? 0)), p.stdoutData, lines)
    }
}

struct SubprocessError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
