import Foundation

/// A one-line progress display on stderr: bar, percent, position, speed (x realtime), ETA.
/// Redraws at most ten times a second; silent when disabled.
final class ProgressBar {
    let enabled: Bool
    var label: String
    private var lastDraw = 0.0
    private let started = Date()
    private var drawn = false

    init(enabled: Bool, label: String) {
        self.enabled = enabled
        self.label = label
    }

    func update(done: Double, total: Double?) {
        guard enabled else { return }
        let now = Date().timeIntervalSince(started)
        guard now - lastDraw >= 0.1 else { return }
        lastDraw = now
        let speed = now > 0 ? done / now : 0
        var line = "\r\(label) "
        if let total, total > 0 {
            let fraction = min(1, max(0, done / total))
            let width = 24
            let filled = Int(fraction * Double(width))
            line += "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
            line += String(format: " %3.0f%% %@/%@", fraction * 100, Self.clock(done), Self.clock(total))
            let eta = speed > 0 ? (total - done) / speed : 0
            line += String(format: " %.1fx ETA %@", speed, Self.clock(eta))
        } else {
            line += String(format: "%@ %.1fx", Self.clock(done), speed)
        }
        FileHandle.standardError.write(Data((line + "\u{1B}[K").utf8))
        drawn = true
    }

    func finish() {
        guard enabled, drawn else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }

    static func clock(_ s: Double) -> String {
        let t = Int(max(0, s).rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }
}

/// Progress for a parent process: `progress <seconds done> <total or ->` lines on stderr, at
/// most twice a second.
final class ProgressReporter {
    private var last = -1.0
    private let started = Date()

    func update(done: Double, total: Double?) {
        let now = Date().timeIntervalSince(started)
        guard now - last >= 0.5 else { return }
        last = now
        let t = total.map { String(format: "%.3f", $0) } ?? "-"
        FileHandle.standardError.write(Data(String(format: "progress %.3f %@\n", done, t).utf8))
    }
}

/// Writes to stdout with plain `write(2)`; returns false once the reader has gone (EPIPE).
enum Stdout {
    static func write(_ text: String) -> Bool {
        var ok = true
        text.utf8CString.withUnsafeBufferPointer { p in
            var offset = 0
            let n = p.count - 1
            while offset < n {
                let r = Foundation.write(1, p.baseAddress! + offset, n - offset)
                if r < 0 { if errno == EINTR { continue }; ok = false; return }
                offset += r
            }
        }
        return ok
    }
}
