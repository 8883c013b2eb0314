import Foundation
import ReformerModel
import Vidformer
import VideoIO

/// What each fuzz target does with one input. Every input must end in a result or a thrown
/// error: a crash, a trap or a hang is a finding.
enum Harness {
    enum Target: String, CaseIterable { case demux, safetensors, labels }

    static let target: Target = {
        let name = ProcessInfo.processInfo.environment["VIDFORMER_FUZZ_TARGET"] ?? "demux"
        guard let t = Target(rawValue: name) else {
            FileHandle.standardError.write(Data("vidformer-fuzz: VIDFORMER_FUZZ_TARGET must be one of \(Target.allCases.map(\.rawValue))\n".utf8))
            exit(2)
        }
        return t
    }()

    /// A scratch file per process for the demuxer (libavformat reads files and pipes).
    static let scratch = (ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp") + "/vidformer-fuzz-\(getpid()).bin"

    static func run(_ data: Data) {
        switch target {
        case .demux: demux(data)
        case .safetensors: _ = try? Safetensors.decode(data)
        case .labels:
            _ = try? LabelFile.parse(data, path: "fuzz.csv", knownLabels: ["content", "black", "bars"])
            _ = try? LabelFile.parse(data, path: "fuzz.json")
        }
    }

    /// Opens the bytes as a video and samples up to 64 frames at 8 fps, as classify would.
    static func demux(_ data: Data) {
        guard FileManager.default.createFile(atPath: scratch, contents: data) else { return }
        var options = FrameSourceOptions()
        options.width = 32
        options.height = 32
        options.fps = 8
        options.threads = 1
        guard let source = try? FrameSource(InputSpec(scratch), options: options) else { return }
        var n = 0
        while n < 64, let frame = try? source.next() {
            precondition(frame.rgb.count == 32 * 32 * 3)
            n += 1
        }
    }
}
