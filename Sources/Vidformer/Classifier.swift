import Foundation
import ReformerModel
import TensorCore
import VideoIO

/// Settings of one `classify` run.
public struct ClassifyOptions: Sendable {
    public var fps: Double?
    public var start: Double = 0
    public var end: Double?
    public var keyframesOnly = false
    public var stream: Int?
    public var threads = 0
    /// Tokens (window plus context) the model sees at once: the memory ceiling.
    public var maxTokens = 160_000
    /// For streams: seconds of video per window (bounds the latency of final labels).
    public var windowSeconds: Double?
    /// Keep per-frame probabilities for `--frames`.
    public var keepFrames = false
    /// Keep every segment for the result (off for endless streams that print them as they go).
    public var keepSegments = true
    /// Shortest segment for labels the model's config does not name.
    public var defaultMinimumSegment = 0.5
    public init() {}
}

/// What `classify` found in one video.
public struct ClassifyResult {
    public var input: String
    public var duration: Double
    public var sampleRate: Double
    public var modelName: String
    public var labels: [String]
    public var segments: [Segment]
    public var seconds: [String: Double]
    public var frames: [FrameLabel]?
    public var stats: DecodeStats
    public var tokens: Int
    public var wallSeconds: Double
    public var peakRSSMegabytes: Double
    /// Set when input ended early (truncated, interrupted, timed out).
    public var warning: String?

    public var dominantLabel: String {
        seconds.max { a, b in a.value < b.value || (a.value == b.value && a.key > b.key) }?.key ?? labels.first ?? ""
    }
}

public struct ClassifyError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// Decodes, labels and segments one input, reporting progress and final segments as it goes.
public final class VideoClassifier {
    public let model: VideoModel
    public let options: ClassifyOptions

    public init(model: VideoModel, options: ClassifyOptions) {
        self.model = model
        self.options = options
    }

    /// - Parameters:
    ///   - onSegment: called with each segment as soon as it is final.
    ///   - onProgress: called after each sampled frame with (seconds of video done, duration if known).
    public func run(_ spec: InputSpec, onSegment: (Segment) -> Void = { _ in },
                    onProgress: (Double, Double?) -> Void = { _, _ in }) throws -> ClassifyResult {
        let started = ResourceUsage.now()
        let settings = model.config.frames
        var frameOptions = settings.sourceOptions
        frameOptions.fps = options.fps ?? settings.fps
        frameOptions.keyframesOnly = options.keyframesOnly
        frameOptions.start = options.start
        frameOptions.end = options.end
        frameOptions.stream = options.stream
        frameOptions.threads = options.threads
        frameOptions.darkShare = model.config.blackLabel != nil
        let source = try FrameSource(spec, options: frameOptions)
        let rate = frameOptions.fps!
        var (window, context, memory) = Labeler.windowSizes(maxTokens: options.maxTokens, tokensPerFrame: settings.tokenizer.tokensPerFrame)
        if let seconds = options.windowSeconds {
            // Short windows (streams) keep a context of three windows and a bank of four, so
            // each window costs a bounded multiple of its own frames whatever the stream's length.
            window = min(window, max(1, Int((seconds * rate).rounded())))
            context = min(context, 3 * window)
            memory = min(memory, 4 * window)
        }
        let labeler = Labeler(model: model, windowFrames: window, contextFrames: context, memoryFrames: memory)
        let builder = SegmentBuilder(labels: model.config.labels, minimumSeconds: model.config.minimumSegmentSeconds,
                                     defaultMinimum: options.defaultMinimumSegment, frameInterval: 1 / rate,
                                     start: options.start)
        builder.keepSegments = options.keepSegments
        var frames: [FrameLabel] = []
        var lastTime = options.start
        var total: Double?
        if let d = source.info.duration { total = min(d, options.end ?? d) - options.start }
        func take(_ labels: [FrameLabel]) {
            if options.keepFrames { frames.append(contentsOf: labels) }
            for s in builder.add(labels) { onSegment(s) }
        }
        // Decoding runs one thread ahead; the model's work here overlaps it.
        let decoding = DecodeAhead(source)
        do {
            defer { decoding.join() }
            while let frame = try decoding.next() {
                lastTime = frame.time
                take(labeler.add(frame))
                onProgress(frame.time - options.start, total)
            }
        }
        take(labeler.finish())
        guard labeler.framesSeen > 0 else {
            if let e = source.stats.readError { throw ClassifyError("\(spec.displayName): no frames could be read (\(e))") }
            throw ClassifyError("\(spec.displayName): no decodable video frames")
        }
        // The analysed span ends one sample interval after the last frame, within the known duration.
        var end = lastTime + 1 / rate
        if let d = source.info.duration, d > lastTime { end = min(end, d) }
        if let e = options.end, source.stats.readError == nil, source.info.duration.map({ $0 >= e }) ?? true { end = max(e, lastTime) }
        for s in builder.finish(end: end) { onSegment(s) }
        var warning: String?
        if let e = source.stats.readError { warning = "input ended early (\(e)); labelled what was read" }
        else if options.end == nil, !options.keyframesOnly, let d = source.info.duration, d - lastTime > 1 + 2 / rate {
            // The header promised more than the file holds: cut short (a copy or a recording that stopped).
            warning = String(format: "the video stops at %.2f s of the %.2f s its header announces (truncated?); labelled what was read", lastTime, d)
        }
        return ClassifyResult(
            input: spec.displayName, duration: end - options.start, sampleRate: rate, modelName: model.config.name,
            labels: model.config.labels, segments: builder.emitted, seconds: builder.seconds,
            frames: options.keepFrames ? frames : nil, stats: source.stats, tokens: labeler.tokensProcessed,
            wallSeconds: ResourceUsage.now() - started, peakRSSMegabytes: ResourceUsage.peakRSSMegabytes(), warning: warning)
    }
}
