import Foundation
import ReformerModel
import TensorCore
import Vidformer
import VideoIO

enum ModelOptions {
    static let spec: OptionSpec = .option("model", "<dir>", "Model directory (config.json + model.safetensors).",
                                          default: "the default model")

    static func load(_ p: ParsedArguments) throws -> VideoModel {
        let path: String
        if let given = p.string("model") { path = given } else {
            guard let found = DefaultModel.locate() else {
                throw CLIError.failure("no default model found (looked in \(DefaultModel.candidates().joined(separator: ", "))); pass --model DIR")
            }
            path = found
        }
        do { return try VideoModel.load(path) } catch { throw CLIError.failure("\(error)") }
    }
}

extension Commands {
    static let classify = CommandSpec(
        name: "classify",
        abstract: "Label one video over time (a file, or - for a stream on stdin).",
        discussion: """
        Segments have PTS-exact start and end times in seconds and tile the analysed duration.
        Formats: table (default on a terminal), json (default otherwise), jsonl (one segment per
        line as soon as it is final, then a summary line: the natural format for stdin), csv, vtt, srt.
        """,
        arguments: [ArgumentSpec(name: "input", help: "A video file, - for standard input, or a URL libavformat opens.")],
        options: [
            ModelOptions.spec,
            .option("format", "<format>", "Output format.", default: "jsonl for stdin, table on a terminal, json otherwise; or from -o's extension",
                    allowed: OutputFormat.allCases.map(\.rawValue)),
            .option("output", short: "o", "<file>", "Write to this file (atomically) instead of stdout; repeat for several formats at once (each from its extension).",
                    repeatable: true),
            .flag("frames", "Add per-frame scores (json)."),
            .option("timeline", "<file.svg>", "Also draw an SVG timeline: one band per label over time."),
            .option("fps", "<rate>", "Sampling rate.", default: "the model's (4)"),
            .option("start", "<seconds>", "Start here (seeks).", default: "0"),
            .option("end", "<seconds>", "Stop here.", default: "the end"),
            .flag("keyframes-only", "Decode key frames only (fast scan)."),
            .option("threads", "<n>", "Decoder and model threads.", default: "the core count"),
            .option("max-tokens", "<n>", "Tokens the model sees at once (the memory ceiling); longer videos go in windows.", default: "160000"),
            .option("window", "<seconds>", "Seconds of video per window for streams (bounds label latency).", default: "30 for stdin"),
            .flag("progress", "Show a progress bar on stderr."),
            .flag("no-progress", "Never show a progress bar."),
            .flag("quiet", short: "q", "No progress and no warnings on stderr."),
            .flag("report", "Machine-readable progress ('progress <done> <total>') and a final 'summary <json>' line on stderr (annotate uses this)."),
        ] + InputOptions.specs,
        run: runClassify)

    static func runClassify(_ p: ParsedArguments) throws -> Int32 {
        let input = p.positionals[0]
        var options = ClassifyOptions()
        options.fps = try p.double("fps")
        if let fps = options.fps, fps <= 0 { throw CLIError.usage("--fps must be positive", command: "classify") }
        options.start = try p.double("start") ?? 0
        options.end = try p.double("end")
        guard options.start >= 0 else { throw CLIError.usage("--start must not be negative", command: "classify") }
        if let e = options.end, e <= options.start { throw CLIError.usage("--end must come after --start", command: "classify") }
        options.keyframesOnly = p.has("keyframes-only")
        options.stream = try p.int("stream")
        if let threads = try p.int("threads") {
            guard threads > 0 else { throw CLIError.usage("--threads must be positive", command: "classify") }
            options.threads = threads
            Parallel.workers = threads
        }
        options.maxTokens = try p.int("max-tokens") ?? 160_000
        guard options.maxTokens >= 64 else { throw CLIError.usage("--max-tokens must be at least 64", command: "classify") }
        options.windowSeconds = try p.double("window") ?? (input == "-" ? 30 : nil)
        if let w = options.windowSeconds, w <= 0 { throw CLIError.usage("--window must be positive", command: "classify") }
        options.keepFrames = p.has("frames")

        let outputPaths = p.strings("output")
        let outputPath = outputPaths.first
        if outputPaths.count > 1 {
            if p.string("format") != nil { throw CLIError.usage("--format applies to one output; with several -o each takes its format from its extension", command: "classify") }
            for o in outputPaths where OutputFormat(path: o) == nil {
                throw CLIError.usage("\(o): cannot tell the format from the extension (use .json, .jsonl, .csv, .vtt, .srt or .txt)", command: "classify")
            }
        }
        let format: OutputFormat
        if let f = p.string("format") { format = OutputFormat(rawValue: f)! }
        else if let o = outputPath, let f = OutputFormat(path: o) { format = f }
        else if input == "-" && outputPath == nil { format = .jsonl }   // a stream: segments as they become final
        else if outputPath == nil && isTerminal(1) { format = .table }
        else { format = .json }
        for o in outputPaths where !AtomicFile.isSpecial(o) {
            let dir = URL(fileURLWithPath: o).deletingLastPathComponent().path
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
                throw CLIError.failure("\(o): folder \(dir) does not exist")
            }
        }
        let report = p.has("report")
        // Run by annotate: stop when it dies (a killed run must not leave orphans writing outputs).
        let parent = getppid()
        let quiet = p.has("quiet")
        let showProgress = !quiet && (p.toggle("progress") ?? isTerminal(2))

        let spec = try InputOptions.inputSpec(input, p)
        let model = try ModelOptions.load(p)
        Parallel.configureBLAS()
        StopSignal.install()
        // JSON Lines to stdout stream segments as they become final, and keep none of them
        // (memory stays flat however long the stream runs), unless a timeline needs them.
        let streaming = format == .jsonl && outputPath == nil
        options.keepSegments = !streaming || p.string("timeline") != nil
        let classifier = VideoClassifier(model: model, options: options)
        let bar = ProgressBar(enabled: showProgress, label: spec.displayName)
        let reporter = ProgressReporter()
        var readerGone = false
        let result: ClassifyResult
        do {
            result = try classifier.run(spec, onSegment: { segment in
                guard streaming, !readerGone else { return }
                if !Stdout.write(ResultWriter.segmentLine(segment) + "\n") { readerGone = true; StopSignal.requested = 1 }
            }, onProgress: { done, total in
                bar.update(done: done, total: total)
                if report {
                    reporter.update(done: done, total: total)
                    if getppid() != parent { exit(1) }
                }
            })
        } catch let e as FFmpegError {
            bar.finish()
            throw CLIError.failure(e.message)
        } catch let e as ClassifyError {
            bar.finish()
            throw CLIError.failure(e.description)
        }
        bar.finish()
        if readerGone { return 0 }
        if let w = result.warning, !quiet { FileHandle.standardError.write(Data("vidformer: \(spec.displayName): \(w)\n".utf8)) }
        if let svgPath = p.string("timeline") {
            do { try AtomicFile.write(Data(Timeline.svg(result).utf8), to: svgPath) } catch { throw CLIError.failure("\(error)") }
        }
        if streaming {
            _ = Stdout.write(ResultWriter.summaryLine(result) + "\n")
            return 0
        }
        if outputPaths.isEmpty {
            _ = Stdout.write(ResultWriter.render(result, as: format))
        } else {
            for o in outputPaths {
                let text = ResultWriter.render(result, as: outputPaths.count > 1 ? OutputFormat(path: o)! : format)
                do { try AtomicFile.write(Data(text.utf8), to: o) } catch { throw CLIError.failure("\(error)") }
            }
        }
        if report { FileHandle.standardError.write(Data(("summary " + ResultWriter.summaryLine(result) + "\n").utf8)) }
        return 0
    }
}
