import Foundation
import Vidformer
import ReformerModel
import TensorCore
import VideoIO

/// Options shared by every command that reads a video.
enum InputOptions {
    static let specs: [OptionSpec] = [
        .option("stream", "<index>", "Video stream to read.", default: "FFmpeg's best video stream"),
        .option("input-format", "<name>", "Force a libavformat demuxer (rawvideo, matroska, mpegts, …).", default: "probe"),
        .option("video-size", "<WxH>", "Frame size of raw input (handed to libavformat)."),
        .option("pixel-format", "<name>", "Pixel format of raw input (handed to libavformat)."),
        .option("framerate", "<rate>", "Frame rate of raw input (handed to libavformat)."),
        .option("stdin-timeout", "<seconds>", "Give up when standard input sends nothing for this long.", default: "30"),
    ]

    static func inputSpec(_ location: String, _ p: ParsedArguments) throws -> InputSpec {
        var options: [String: String] = [:]
        for key in ["video-size", "pixel-format", "framerate"] {
            if let v = p.string(key) { options[key.replacingOccurrences(of: "-", with: "_")] = v }
        }
        let timeout = try p.double("stdin-timeout") ?? 30
        guard timeout > 0 else { throw CLIError.usage("--stdin-timeout must be positive", command: p.command) }
        return InputSpec(location, format: p.string("input-format"), options: options,
                         idleTimeout: location == "-" ? timeout : nil)
    }
}

/// Whether a file descriptor is a terminal (decides default formats and progress bars).
func isTerminal(_ fd: Int32) -> Bool { isatty(fd) != 0 }

func writeStdout(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}

enum Commands {
    static let probe = CommandSpec(
        name: "probe",
        abstract: "Show streams, duration, frame rate, codec and what would be sampled.",
        arguments: [ArgumentSpec(name: "input", help: "A video file, - for standard input, or a URL libavformat opens.")],
        options: InputOptions.specs + [
            .option("fps", "<rate>", "Sampling rate to estimate frames and tokens for.", default: "4"),
            .option("size", "<WxH>", "Model frame size.", default: "64x64"),
            .option("patch", "<pixels>", "Patch size.", default: "16"),
            .option("format", "<format>", "Output format.", default: "text on a terminal, json otherwise", allowed: ["text", "json"]),
        ],
        run: { p in
            let spec = try InputOptions.inputSpec(p.positionals[0], p)
            let fps = try p.double("fps") ?? 4
            guard fps > 0 else { throw CLIError.usage("--fps must be positive", command: "probe") }
            let (w, h) = try parseSize(p.string("size") ?? "64x64", command: "probe")
            let patch = try p.int("patch") ?? 16
            guard patch > 0, w % patch == 0, h % patch == 0 else {
                throw CLIError.usage("--patch \(patch) must divide the frame size \(w)x\(h)", command: "probe")
            }
            let command = ProbeCommand(spec: spec, stream: try p.int("stream"), fps: fps,
                                       tokenizer: PatchTokenizer(patch: patch, frameWidth: w, frameHeight: h))
            let report: ProbeReport
            do { report = try command.run() } catch let e as FFmpegError { throw CLIError.failure(e.message) }
            let format = p.string("format") ?? (isTerminal(1) ? "text" : "json")
            writeStdout(format == "json" ? try command.json(report) : command.text(report))
            return 0
        })

    static func parseSize(_ text: String, command: String) throws -> (Int, Int) {
        let parts = text.lowercased().split(separator: "x")
        guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), w > 0, h > 0, w <= 4096, h <= 4096 else {
            throw CLIError.usage("size must look like 64x64, got '\(text)'", command: command)
        }
        return (w, h)
    }
}

extension Commands {
    static let bench = CommandSpec(
        name: "bench",
        abstract: "Measure the Reformer or the frame pipeline on this machine; prints one JSON object.",
        discussion: """
        vidformer bench reformer --tokens N   forward (and --backward) time and peak memory of the Reformer
        vidformer bench decode <input>        decode + scale + tokenise throughput of the frame pipeline
        """,
        arguments: [ArgumentSpec(name: "what", help: "reformer or decode."),
                    ArgumentSpec(name: "input", help: "The video, for decode.", optional: true)],
        options: [
            .option("tokens", "<n>", "Sequence length.", default: "4096"),
            .option("layers", "<n>", "Reversible blocks.", default: "4"),
            .option("d-model", "<n>", "Model width.", default: "128"),
            .option("heads", "<n>", "Attention heads.", default: "4"),
            .option("hashes", "<n>", "LSH rounds.", default: "2"),
            .option("chunk", "<n>", "Attention chunk length.", default: "64"),
            .option("d-ff", "<n>", "Feed-forward width.", default: "512"),
            .option("attention", "<kind>", "Attention type.", default: "lsh", allowed: AttentionKind.allCases.map(\.rawValue)),
            .flag("backward", "Also run the backward pass (a training step without the optimiser)."),
            .flag("reversible", "Reconstruct block inputs in the backward (default)."),
            .flag("no-reversible", "Store every block's inputs instead (for comparison)."),
            .option("runs", "<n>", "Repetitions; the median is reported as seconds.", default: "1"),
            .option("threads", "<n>", "Worker threads.", default: "the core count"),
            .option("fps", "<rate>", "decode: sampling rate.", default: "every frame"),
            .option("size", "<WxH>", "decode: frame size.", default: "64x64"),
            .flag("keyframes-only", "decode: key frames only."),
        ] + InputOptions.specs,
        run: { p in
            if let threads = try p.int("threads") {
                guard threads > 0 else { throw CLIError.usage("--threads must be positive", command: "bench") }
                Parallel.workers = threads
            }
            switch p.positionals[0] {
            case "reformer":
                var o = Bench.ReformerOptions()
                o.tokens = try p.int("tokens") ?? 4096
                let d = try p.int("d-model") ?? 128, heads = try p.int("heads") ?? 4
                guard o.tokens > 0, d > 0, heads > 0, d % heads == 0 else {
                    throw CLIError.usage("--tokens, --d-model and --heads must be positive, with heads dividing d-model", command: "bench")
                }
                o.network.width = d
                o.network.layers = try p.int("layers") ?? 4
                o.network.hidden = try p.int("d-ff") ?? 512
                o.network.attention = AttentionConfig(kind: AttentionKind(rawValue: p.string("attention") ?? "lsh")!, heads: heads,
                                                      headWidth: d / heads, rounds: try p.int("hashes") ?? 2, chunk: try p.int("chunk") ?? 64)
                o.network.reversible = p.toggle("reversible") ?? true
                o.backward = p.has("backward")
                o.runs = try p.int("runs") ?? 1
                writeStdout(Bench.json(Bench.reformer(o)))
            case "decode":
                guard p.positionals.count > 1 else { throw CLIError.usage("bench decode needs an <input>", command: "bench") }
                var options = FrameSourceOptions()
                options.fps = try p.double("fps")
                let (w, h) = try parseSize(p.string("size") ?? "64x64", command: "bench")
                options.width = w; options.height = h
                options.keyframesOnly = p.has("keyframes-only")
                let spec = try InputOptions.inputSpec(p.positionals[1], p)
                do {
                    writeStdout(Bench.json(try Bench.decode(spec, options: options, patch: 16)))
                } catch let e as FFmpegError { throw CLIError.failure(e.message) }
            default:
                throw CLIError.usage("bench measures 'reformer' or 'decode', not '\(p.positionals[0])'", command: "bench")
            }
            return 0
        })
}
