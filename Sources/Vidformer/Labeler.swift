import ReformerModel
import TensorCore
import VideoIO

/// Runs a model over a stream of sampled frames in bounded memory.
///
/// Frames are embedded as they arrive (only `tokensPerFrame x width` floats are kept per frame,
/// never pictures). The model sees windows: up to `windowFrames` new frames after up to
/// `contextFrames` frames of the window before, so every label can depend on a long stretch of
/// the video; when the whole video fits in one window (the usual case for files within the
/// memory ceiling), attention covers all of it at once. Labels of a window's new frames are
/// final when the window runs.
public final class Labeler {
    public let model: VideoModel
    public let windowFrames: Int
    public let contextFrames: Int
    private let tokenizer: PatchTokenizer
    private let width: Int
    private let tokensPerFrame: Int

    private var pendingTokens: [Float] = []
    private var pendingTimes: [Double] = []
    /// Embeddings of the current window: context frames, then new frames.
    private var embedded: [Float] = []
    private var times: [Double] = []
    private var contextCount = 0
    private var firstFrameIndex = 0
    public private(set) var framesSeen = 0
    public private(set) var tokensProcessed = 0

    static let embedBatch = 32

    public init(model: VideoModel, windowFrames: Int, contextFrames: Int) {
        precondition(windowFrames > 0 && contextFrames >= 0)
        self.model = model
        self.windowFrames = windowFrames
        self.contextFrames = contextFrames
        tokenizer = model.config.frames.tokenizer
        width = model.config.network.width
        tokensPerFrame = tokenizer.tokensPerFrame
    }

    /// Window sizes for a token budget: the window plus its context holds at most `maxTokens`.
    public static func windowSizes(maxTokens: Int, tokensPerFrame: Int, contextFraction: Double = 0.25) -> (window: Int, context: Int) {
        let frames = max(2, maxTokens / max(1, tokensPerFrame))
        let context = Int(Double(frames) * contextFraction)
        return (max(1, frames - context), context)
    }

    /// Adds a frame; returns frame labels that became final.
    public func add(_ frame: SampledFrame) -> [FrameLabel] {
        tokenizer.append(frame.rgb, to: &pendingTokens)
        pendingTimes.append(frame.time)
        framesSeen += 1
        if pendingTimes.count >= Self.embedBatch { flushPending() }
        if times.count - contextCount >= windowFrames { return runWindow(final: false) }
        return []
    }

    /// Labels everything still waiting.
    public func finish() -> [FrameLabel] {
        flushPending()
        guard times.count > contextCount else { return [] }
        return runWindow(final: true)
    }

    private func flushPending() {
        guard !pendingTimes.isEmpty else { return }
        let tokens = Tensor(shape: [pendingTimes.count * tokensPerFrame, tokenizer.tokenWidth], scalars: pendingTokens)
        let e = model.classifier.embedTokens(tokens)
        embedded.append(contentsOf: e.scalars)
        times.append(contentsOf: pendingTimes)
        pendingTokens.removeAll(keepingCapacity: true)
        pendingTimes.removeAll(keepingCapacity: true)
        // A window can overfill by at most one batch; it runs on the next `add`.
    }

    private func runWindow(final: Bool) -> [FrameLabel] {
        let frames = times.count
        let x = Tensor(shape: [frames * tokensPerFrame, width], scalars: embedded)
        let (out, _) = model.classifier.forward(embedded: x, firstFrame: firstFrameIndex)
        tokensProcessed += (frames - contextCount) * tokensPerFrame
        let k = model.config.labels.count
        var labels: [FrameLabel] = []
        labels.reserveCapacity(frames - contextCount)
        out.frameLogits.withUnsafeBufferPointer { logits in
            var row = [Float](repeating: 0, count: k)
            for f in contextCount..<frames {
                for j in 0..<k { row[j] = logits[f * k + j] }
                row.withUnsafeMutableBufferPointer { _ = Kernels.softmaxRow($0.baseAddress!, k) }
                labels.append(FrameLabel(time: times[f], probabilities: row))
            }
        }
        // Keep the last `contextFrames` frames as the next window's context.
        let keep = final ? 0 : min(contextFrames, frames)
        let drop = frames - keep
        embedded.removeFirst(drop * tokensPerFrame * width)
        times.removeFirst(drop)
        firstFrameIndex += drop
        contextCount = keep
        return labels
    }
}
