import Foundation
import ReformerModel
import TensorCore
import Vidformer
import VideoIO

extension Commands {
    static let train = CommandSpec(
        name: "train",
        abstract: "Train a model from labelled videos (each X.mp4 with an X.json or X.csv beside it).",
        discussion: "Decoded frames are cached (see --cache); --resume continues an interrupted run in --out.",
        arguments: [],
        options: [
            .option("data", "<dir>", "Folder of labelled videos (searched recursively)."),
            .option("out", "<dir>", "Where the model (config.json, model.safetensors) and training state go."),
            .option("val", "<dir>", "Validation videos.", default: "a --val-split of --data"),
            .option("val-split", "<fraction>", "Share of --data held out for validation when --val is absent.", default: "0.2"),
            .option("labels", "<a,b,…>", "Label names in order.", default: "the labels found, sorted"),
            .option("name", "<name>", "Model name.", default: "the --out folder's name"),
            .option("epochs", "<n>", "Passes over the training data.", default: "10"),
            .option("lr", "<rate>", "Peak learning rate (AdamW).", default: "0.001"),
            .option("warmup", "<steps>", "Linear warm-up steps.", default: "50"),
            .option("weight-decay", "<w>", "AdamW decoupled weight decay.", default: "0.01"),
            .option("tokens", "<n>", "Token budget per step; longer videos are randomly cropped.", default: "16384"),
            .option("seed", "<n>", "Seed for initialisation, data order, crops and hashing.", default: "1"),
            .option("layers", "<n>", "Reversible blocks.", default: "2"),
            .option("d-model", "<n>", "Model width.", default: "64"),
            .option("heads", "<n>", "Attention heads.", default: "4"),
            .option("hashes", "<n>", "LSH rounds.", default: "2"),
            .option("chunk", "<n>", "Attention chunk length.", default: "64"),
            .option("look-back-heads", "<n>", "Heads per layer that see only frames at least --look-back-seconds earlier (with a null key, so they can tell a picture seen long ago).", default: "0"),
            .option("look-back-seconds", "<s>", "How far back look-back heads start.", default: "16"),
            .flag("look-back-shift", "Look-back heads order their keys apart, as if the look-back distance later, so hashing finds the far past a query may see instead of its recent past (LSH only; other attention kinds ignore it)."),
            .option("local-heads", "<n>", "With LSH attention: heads per layer (the last ones) that attend to their neighbours in time instead of hashing.", default: "0"),
            .option("time-signal", "<x>", "Scale of the fixed time signal in the position embeddings (smaller: a picture shown twice looks more alike).", default: "1"),
            .flag("frame-context", "Each token also gets a learned summary of its whole frame, so attention compares pictures, not single patches."),
            .option("d-ff", "<n>", "Feed-forward width.", default: "256"),
            .option("attention", "<kind>", "Attention type.", default: "lsh", allowed: AttentionKind.allCases.map(\.rawValue)),
            .option("size", "<WxH>", "Frame size.", default: "64x64"),
            .option("patch", "<pixels>", "Patch size.", default: "16"),
            .option("fps", "<rate>", "Sampling rate.", default: "4"),
            .option("aspect", "<policy>", "How other shapes fill the frame.", default: "stretch", allowed: AspectPolicy.allCases.map(\.rawValue)),
            .option("scaling", "<filter>", "How decoded pictures shrink: bilinear averages each area; fast keeps per-pixel texture (snow).",
                    default: "bilinear", allowed: ScalingFilter.allCases.map(\.rawValue)),
            .flag("mirror", "Augment: mirror half of the training crops left to right."),
            .option("synthetic-repeats", "<share>", "Augment: paste 3–15 s of content over content at least 20 s later, labelled repeat, in this share of crops (needs the labels content and repeat).", default: "0"),
            .option("synthetic-holds", "<share>", "Augment: hold a content frame still over the next 2–10 s, labelled frozen, in this share of crops (needs the labels content and frozen).", default: "0"),
            .option("average-last", "<n>", "Average the weights of the last n epochs; the average is kept if it beats the best epoch on the held-out videos.", default: "0"),
            .option("repeats-per-crop", "<n>", "Synthetic repeats planned in each crop that gets them.", default: "1"),
            .flag("repeat-blend", "Augment: each synthetic repeat mixes in a random share of the next frame, as if sampled between the original's frames."),
            .flag("motion", "Tokens also carry the change since the previous sampled frame (helps held pictures and snow)."),
            .option("detail", "<scale>", "Tokens also carry per-patch change and texture measured on a grey picture this many times sharper than the frame (0: off).", default: "0"),
            .flag("detail-dark", "With --detail: a fourth statistic, each patch's share of pixels at the black level."),
            .option("detail-gain", "<x>", "With --detail: multiply the statistics' token values by this, so a few numbers weigh as much as the pixels beside them.", default: "1"),
            .flag("summary-token", "Each frame also gets a summary token: the whole picture shrunk to one patch, so attention can match whole pictures."),
            .option("cache", "<dir>", "Decoded-frame cache.", default: "<data>/.vidformer-cache"),
            .option("black-label", "<label>", "Let the contract's definition of black (>= 98% of pixels at or below 10% of the luma range), measured on every frame, decide this label when classifying: frames that meet it get it, no others do.", default: "none"),
            .option("min-segment", "<label=s,…>", "Shortest segment per label when classifying (shorter runs merge into neighbours).", default: "0.5 s each"),
            .flag("resume", "Continue the run saved in --out."),
            .option("threads", "<n>", "Worker threads.", default: "the core count"),
            .flag("progress", "Show progress on stderr."),
            .flag("no-progress", "No progress display."),
        ],
        run: runTrain)

    static func runTrain(_ p: ParsedArguments) throws -> Int32 {
        guard let data = p.string("data") else { throw CLIError.usage("--data <dir> is required", command: "train") }
        guard let out = p.string("out") else { throw CLIError.usage("--out <dir> is required", command: "train") }
        if let t = try p.int("threads") { guard t > 0 else { throw CLIError.usage("--threads must be positive", command: "train") }; Parallel.workers = t }
        Parallel.configureBLAS()
        var frames = FrameSettings()
        (frames.width, frames.height) = try parseSize(p.string("size") ?? "64x64", command: "train")
        frames.patch = try p.int("patch") ?? 16
        frames.fps = try p.double("fps") ?? 4
        frames.aspect = AspectPolicy(rawValue: p.string("aspect") ?? "stretch")!
        frames.scaling = ScalingFilter(rawValue: p.string("scaling") ?? "bilinear")!
        frames.motion = p.has("motion")
        frames.detail = try p.int("detail") ?? 0
        frames.detailDark = p.has("detail-dark")
        frames.summary = p.has("summary-token")
        guard !frames.detailDark || frames.detail > 0 else { throw CLIError.usage("--detail-dark needs --detail", command: "train") }
        guard (0...8).contains(frames.detail) else { throw CLIError.usage("--detail is a scale from 0 to 8", command: "train") }
        let gain = try p.double("detail-gain") ?? 1
        guard gain > 0, gain <= Double(FrameSettings.detailGainLimit) else {
            throw CLIError.usage("--detail-gain must be above 0 and at most \(Int(FrameSettings.detailGainLimit))", command: "train")
        }
        guard gain == 1 || frames.detail > 0 else { throw CLIError.usage("--detail-gain needs --detail", command: "train") }
        frames.detailGain = Float(gain)
        let d = try p.int("d-model") ?? 64, heads = try p.int("heads") ?? 4
        guard d > 0, heads > 0, d % heads == 0 else { throw CLIError.usage("--heads must divide --d-model", command: "train") }
        var network = NetworkConfig(width: d, layers: try p.int("layers") ?? 2, hidden: try p.int("d-ff") ?? 256, feedForwardChunk: 1024,
                                    attention: AttentionConfig(kind: AttentionKind(rawValue: p.string("attention") ?? "lsh")!, heads: heads,
                                                               headWidth: d / heads, rounds: try p.int("hashes") ?? 2, chunk: try p.int("chunk") ?? 64),
                                    seed: UInt64(try p.int("seed") ?? 1))
        let lookBackHeads = try p.int("look-back-heads") ?? 0, lookBackSeconds = try p.double("look-back-seconds") ?? 16
        guard (0...heads).contains(lookBackHeads), lookBackSeconds > 0, lookBackSeconds.isFinite else {
            throw CLIError.usage("--look-back-heads must be 0…--heads and --look-back-seconds positive", command: "train")
        }
        if lookBackHeads > 0 {
            network.attention.lookBack = AttentionConfig.LookBack(heads: lookBackHeads, distance: max(1, Int((lookBackSeconds * frames.fps).rounded())),
                                                                  group: frames.tokenizer.tokensPerFrame,
                                                                  shiftKeys: p.has("look-back-shift") ? true : nil)
        }
        guard !p.has("look-back-shift") || lookBackHeads > 0 else {
            throw CLIError.usage("--look-back-shift needs --look-back-heads", command: "train")
        }
        let localHeads = try p.int("local-heads") ?? 0
        if localHeads != 0 { network.attention.localHeads = localHeads }
        guard network.attention.headRolesFit else {
            throw CLIError.usage("--local-heads must be 0 or more and, with --look-back-heads, at most --heads", command: "train")
        }
        guard localHeads == 0 || network.attention.kind == .lsh else {
            throw CLIError.usage("--local-heads needs --attention lsh", command: "train")
        }
        let timeSignal = try p.double("time-signal") ?? 1
        let range = ModelConfig.timeSignalRange
        guard timeSignal.isFinite, range.contains(Float(timeSignal)) else {
            throw CLIError.usage("--time-signal must be \(Int(range.lowerBound))…\(Int(range.upperBound))", command: "train")
        }
        var options = TrainOptions()
        options.epochs = try p.int("epochs") ?? 10
        options.optimizer.learningRate = Float(try p.double("lr") ?? 1e-3)
        options.optimizer.warmupSteps = try p.int("warmup") ?? 50
        options.optimizer.weightDecay = Float(try p.double("weight-decay") ?? 0.01)
        options.tokenBudget = try p.int("tokens") ?? 16_384
        options.seed = UInt64(try p.int("seed") ?? 1)
        options.validationFraction = try p.double("val-split") ?? 0.2
        options.mirror = p.has("mirror")
        options.syntheticRepeats = try p.double("synthetic-repeats") ?? 0
        options.repeatsPerCrop = try p.int("repeats-per-crop") ?? 1
        options.syntheticHolds = try p.double("synthetic-holds") ?? 0
        options.averageLast = try p.int("average-last") ?? 0
        guard (0...options.epochs).contains(options.averageLast) else {
            throw CLIError.usage("--average-last must be 0…--epochs", command: "train")
        }
        guard (0...1).contains(options.syntheticHolds) else { throw CLIError.usage("--synthetic-holds is a share from 0 to 1", command: "train") }
        options.repeatBlend = p.has("repeat-blend")
        guard (1...8).contains(options.repeatsPerCrop) else { throw CLIError.usage("--repeats-per-crop is 1 to 8", command: "train") }
        guard (0...1).contains(options.syntheticRepeats) else { throw CLIError.usage("--synthetic-repeats is a share from 0 to 1", command: "train") }
        guard options.epochs >= 0, options.tokenBudget > 0, (0..<1).contains(options.validationFraction) else {
            throw CLIError.usage("--epochs, --tokens and --val-split are out of range", command: "train")
        }
        let showProgress = p.toggle("progress") ?? isTerminal(2)

        func fail(_ e: Error) -> CLIError { CLIError.failure("\(e)") }
        let found: [(video: String, labels: String)]
        do { found = try TrainingData.find(data) } catch { throw fail(error) }
        guard !found.isEmpty else { throw CLIError.failure("\(data): no videos with a label file (X.json or X.csv beside X.mp4)") }
        var labels: [String]
        if let given = p.string("labels") { labels = given.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        else {
            var set = Set<String>()
            for f in found { do { for s in try LabelFile.read(f.labels) { set.insert(s.label) } } catch { throw fail(error) } }
            labels = set.sorted()
        }
        guard labels.count >= 2 else { throw CLIError.failure("\(data): training needs at least two labels, found \(labels)") }
        if options.syntheticRepeats > 0 && !(labels.contains("content") && labels.contains("repeat")) {
            throw CLIError.usage("--synthetic-repeats needs the labels content and repeat; the labels are \(labels.joined(separator: ","))", command: "train")
        }
        if options.syntheticHolds > 0 && !(labels.contains("content") && labels.contains("frozen")) {
            throw CLIError.usage("--synthetic-holds needs the labels content and frozen; the labels are \(labels.joined(separator: ","))", command: "train")
        }
        var minimumSegment: [String: Double] = [:]
        for item in (p.string("min-segment") ?? "").split(separator: ",") {
            let parts = item.split(separator: "=")
            guard parts.count == 2, labels.contains(String(parts[0])), let s = Double(parts[1]), s >= 0, s.isFinite else {
                throw CLIError.usage("--min-segment takes label=seconds pairs for known labels; got '\(item)'", command: "train")
            }
            minimumSegment[String(parts[0])] = s
        }

        var trainItems = found, valItems: [(video: String, labels: String)] = []
        if let valDir = p.string("val") {
            do { valItems = try TrainingData.find(valDir) } catch { throw fail(error) }
        } else if found.count > 1 && options.validationFraction > 0 {
            // A deterministic split by a hash of each path and the seed.
            let scored = found.map { item -> (Double, (video: String, labels: String)) in
                var g = SeededGenerator(seed: options.seed ^ UInt64(truncatingIfNeeded: item.video.utf8.reduce(5381) { ($0 << 5) &+ $0 &+ Int($1) }))
                return (g.nextUniform(), item)
            }.sorted { $0.0 < $1.0 }
            let n = max(1, Int((Double(found.count) * options.validationFraction).rounded()))
            valItems = scored.prefix(n).map(\.1)
            trainItems = scored.dropFirst(n).map(\.1)
        }
        let cache = p.string("cache") ?? (data as NSString).appendingPathComponent(".vidformer-cache")
        func load(_ items: [(video: String, labels: String)], _ what: String) throws -> [DecodedVideo] {
            var out: [DecodedVideo] = []
            for (i, item) in items.enumerated() {
                if showProgress { FileHandle.standardError.write(Data("\rdecoding \(what) \(i + 1)/\(items.count) \u{1B}[K".utf8)) }
                do { out.append(try TrainingData.load(video: item.video, labelFile: item.labels, labels: labels, frames: frames, cacheDirectory: cache)) }
                catch { throw fail(error) }
            }
            if showProgress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            return out
        }
        let trainVideos = try load(trainItems, "training videos")
        let valVideos = try load(valItems, "validation videos")
        let name = p.string("name") ?? URL(fileURLWithPath: out).lastPathComponent
        var config = ModelConfig(name: name, labels: labels, frames: frames, network: network,
                                 minimumSegmentSeconds: minimumSegment,
                                 training: ["data": data, "videos": "\(trainVideos.count)", "validation_videos": "\(valVideos.count)",
                                            "epochs": "\(options.epochs)", "seed": "\(options.seed)",
                                            "augmentation": "mirror \(options.mirror), synthetic repeats \(options.syntheticRepeats)"
                                                + (options.repeatsPerCrop > 1 ? " x\(options.repeatsPerCrop)" : "") + (options.repeatBlend ? " blended" : "")
                                                + (options.syntheticHolds > 0 ? ", synthetic holds \(options.syntheticHolds)" : ""),
                                            "command": CommandLine.arguments.joined(separator: " ")])
        if timeSignal != 1 { config.timeSignal = Float(timeSignal) }
        if p.has("frame-context") { config.frameContext = true }
        if let b = p.string("black-label") {
            guard labels.contains(b) else {
                throw CLIError.usage("--black-label '\(b)' is not one of the labels (\(labels.joined(separator: ",")))", command: "train")
            }
            config.blackLabel = b
        }
        if options.averageLast > 1 { config.training["average_last"] = "\(options.averageLast)" }
        do { try config.validate() } catch { throw fail(error) }
        let model = VideoModel(config: config, location: out)
        let trainer = Trainer(model: model, train: trainVideos, validation: valVideos, options: options, outputDirectory: out)
        if p.has("resume") { do { try trainer.resume() } catch { throw fail(error) } }
        let log = FileHandle.standardError
        log.write(Data("vidformer: training on \(trainVideos.count) videos (\(trainVideos.map(\.frameCount).reduce(0, +)) frames), validating on \(valVideos.count); \(model.classifier.parameterCount) parameters\n".utf8))
        do {
            try trainer.run { event in
                switch event {
                case .step(let epoch, let step, let total, let loss, let tps, let eta):
                    if showProgress {
                        log.write(Data(String(format: "\repoch %d step %d/%d loss %.4f %.0f tokens/s ETA %dm%02ds\u{1B}[K",
                                              epoch, step, total, loss, tps, Int(eta) / 60, Int(eta) % 60).utf8))
                    }
                case .epoch(let epoch, let loss, let metrics, let best, let seconds):
                    if showProgress { log.write(Data("\r\u{1B}[K".utf8)) }
                    var line = String(format: "epoch %d: train loss %.4f", epoch, loss)
                    if let m = metrics { line += String(format: ", val accuracy %.2f%% macro F1 %.3f", m.accuracy * 100, m.macroF1) }
                    line += String(format: " (%.0f s)%@\n", seconds, best ? ", saved" : "")
                    log.write(Data(line.utf8))
                case .note(let text):
                    log.write(Data("vidformer: \(text)\n".utf8))
                }
            }
        } catch { throw fail(error) }
        return 0
    }

    static let evaluate = CommandSpec(
        name: "eval",
        abstract: "Score a model against labelled videos: accuracy, per-label F1, segmental F1, edit score, confusion.",
        arguments: [],
        options: [
            .option("data", "<dir>", "Folder of labelled videos."),
            ModelOptions.spec,
            .option("format", "<format>", "Output format.", default: "table on a terminal, json otherwise", allowed: ["table", "json"]),
            .option("threads", "<n>", "Worker threads.", default: "the core count"),
            .option("predictions", "<dir>", "Score label files from this folder (X.json or X.csv per video, e.g. a baseline's) instead of running the model; the model gives the labels and the sampling."),
            .option("cache", "<dir>", "Decoded-frame cache for --predictions.", default: "<data>/.vidformer-cache"),
            .option("max-tokens", "<n>", "As for classify: tokens the model sees at once (smaller values force windows).", default: "160000"),
        ],
        run: { p in
            guard let data = p.string("data") else { throw CLIError.usage("--data <dir> is required", command: "eval") }
            if let t = try p.int("threads") { guard t > 0 else { throw CLIError.usage("--threads must be positive", command: "eval") }; Parallel.workers = t }
            let model = try ModelOptions.load(p)
            Parallel.configureBLAS()
            let found: [(video: String, labels: String)]
            do { found = try TrainingData.find(data) } catch { throw CLIError.failure("\(error)") }
            guard !found.isEmpty else { throw CLIError.failure("\(data): no videos with a label file") }
            var options = ClassifyOptions()
            options.maxTokens = try p.int("max-tokens") ?? options.maxTokens
            guard options.maxTokens >= 64 else { throw CLIError.usage("--max-tokens must be at least 64", command: "eval") }
            let metrics: Metrics
            do {
                if let dir = p.string("predictions") {
                    metrics = try Evaluator.scoreFiles(labels: model.config.labels, frames: model.config.frames, data: found, predictions: dir,
                                                       cacheDirectory: p.string("cache") ?? (data as NSString).appendingPathComponent(".vidformer-cache"))
                } else {
                    metrics = try Evaluator.run(model: model, data: found, options: options)
                }
            } catch { throw CLIError.failure("\(error)") }
            let format = p.string("format") ?? (isTerminal(1) ? "table" : "json")
            writeStdout(format == "json" ? metrics.json.rendered(pretty: true) + "\n" : metrics.table)
            return 0
        })
}
