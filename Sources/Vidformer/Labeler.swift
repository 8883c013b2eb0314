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
///
/// Long-range memory: frames leaving the context are not all forgotten. A bank of at most
/// `memoryFrames` earlier frames, evenly spread over everything seen so far, goes in front of
/// each window with its real frame indices, so attention can still find content from far
/// earlier (a replay, a looped feed). The bank keeps frames whose index is a multiple of a
/// stride; when it is full the stride doubles and every other frame goes, so its spacing
/// grows with the stream while its size stays fixed.
///
/// With the config's `blackLabel`, the contract's definition of black, measured on every
/// sampled frame, decides that label instead of the network (`applyBlackDefinition`).
public final class Labeler {
    public let model: VideoModel
    public let windowFrames: Int
    public let contextFrames: Int
    public let memoryFrames: Int
    private let tokenizer: PatchTokenizer
    private let width: Int
    private let tokensPerFrame: Int

    private var pendingTokens: [Float] = []
    private var pendingTimes: [Double] = []
    /// Whether each pending / windowed frame meets the black definition (`blackLabel` only).
    private var pendingBlack: [Bool] = []
    private var black: [Bool] = []
    private let blackIndex: Int?
    /// Embeddings of the current window: context frames, then new frames.
    private var embedded: [Float] = []
    private var times: [Double] = []
    private var contextCount = 0
    private var firstFrameIndex = 0
    private var memory: [Float] = []
    private(set) var memoryIndices: [Int] = []
    private(set) var memoryStride = 1
    /// The largest number of frames one model call has seen (bank + context + new).
    private(set) var largestInput = 0
    public private(set) var framesSeen = 0
    /// The last frame added (for motion tokens: the only picture ever kept).
    private var previousFrame: [UInt8]?
    public private(set) var tokensProcessed = 0

    static let embedBatch = 32

    public init(model: VideoModel, windowFrames: Int, contextFrames: Int, memoryFrames: Int = 0) {
        precondition(windowFrames > 0 && contextFrames >= 0 && memoryFrames >= 0)
        self.model = model
        self.windowFrames = windowFrames
        self.contextFrames = contextFrames
        self.memoryFrames = memoryFrames
        tokenizer = model.config.frames.tokenizer
        width = model.config.network.width
        tokensPerFrame = tokenizer.tokensPerFrame
        blackIndex = model.config.blackLabel.flatMap { model.config.labels.firstIndex(of: $0) }
    }

    /// Window sizes for a token budget: bank, context and new frames together hold at most
    /// `maxTokens` (20% bank, 20% context, 60% new frames).
    public static func windowSizes(maxTokens: Int, tokensPerFrame: Int) -> (window: Int, context: Int, memory: Int) {
        let frames = max(3, maxTokens / max(1, tokensPerFrame))
        let context = frames / 5, memory = frames / 5
        return (max(1, frames - context - memory), context, memory)
    }

    /// Adds a frame; returns frame labels that became final.
    public func add(_ frame: SampledFrame) -> [FrameLabel] {
        tokenizer.append(frame.rgb, previous: previousFrame, detail: frame.detail, to: &pendingTokens)
        if tokenizer.motion { previousFrame = frame.rgb }
        pendingTimes.append(frame.time)
        pendingBlack.append(blackIndex != nil && (frame.darkShare ?? 0) >= ModelConfig.blackShare)
        framesSeen += 1
        // Embed in batches, but never past the end of the current window.
        if pendingTimes.count >= min(Self.embedBatch, max(1, windowFrames - (times.count - contextCount))) { flushPending() }
        if times.count - contextCount >= windowFrames { return runWindow(final: false) }
        return []
    }

    /// The definition decides `black` both ways: a frame that meets it is black with probability
    /// 1; one that does not cannot be black, and the other labels share the network's probability.
    static func applyBlackDefinition(_ row: inout [Float], black b: Int, isBlack: Bool) {
        if isBlack {
            for j in row.indices { row[j] = j == b ? 1 : 0 }
        } else {
            let rest = 1 - row[b]
            row[b] = 0
            if rest > 0 {
                for j in row.indices { row[j] /= rest }
            } else {
                row[b == 0 ? 1 : 0] = 1  // all the network's mass was on black: the first other label
            }
        }
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
        black.append(contentsOf: pendingBlack)
        pendingTokens.removeAll(keepingCapacity: true)
        pendingTimes.removeAll(keepingCapacity: true)
        pendingBlack.removeAll(keepingCapacity: true)
    }

    private func runWindow(final: Bool) -> [FrameLabel] {
        let frames = times.count
        let banked = memoryIndices.count
        let frameFloats = tokensPerFrame * width
        let x = Tensor(shape: [(banked + frames) * tokensPerFrame, width], scalars: memory + embedded)
        let indices = memoryIndices + Array(firstFrameIndex..<(firstFrameIndex + frames))
        largestInput = max(largestInput, banked + frames)
        let (out, _) = model.classifier.forward(embedded: x, frameIndices: indices)
        tokensProcessed += (frames - contextCount) * tokensPerFrame
        let k = model.config.labels.count
        var labels: [FrameLabel] = []
        labels.reserveCapacity(frames - contextCount)
        out.frameLogits.withUnsafeBufferPointer { logits in
            var row = [Float](repeating: 0, count: k)
            for f in contextCount..<frames {
                for j in 0..<k { row[j] = logits[(banked + f) * k + j] }
                row.withUnsafeMutableBufferPointer { _ = Kernels.softmaxRow($0.baseAddress!, k) }
                if let b = blackIndex { Self.applyBlackDefinition(&row, black: b, isBlack: black[f]) }
                labels.append(FrameLabel(time: times[f], probabilities: row))
            }
        }
        // Keep the last `contextFrames` frames as the next window's context; frames leaving it
        // may enter the bank.
        let keep = final ? 0 : min(contextFrames, frames)
        let drop = frames - keep
        if memoryFrames > 0 && !final {
            for f in 0..<drop where (firstFrameIndex + f) % memoryStride == 0 {
                memoryIndices.append(firstFrameIndex + f)
                memory.append(contentsOf: embedded[(f * frameFloats)..<((f + 1) * frameFloats)])
            }
            while memoryIndices.count > memoryFrames {
                memoryStride *= 2
                var keptIndices: [Int] = [], kept: [Float] = []
                for (i, index) in memoryIndices.enumerated() where index % memoryStride == 0 {
                    keptIndices.append(index)
                    kept.append(contentsOf: memory[(i * frameFloats)..<((i + 1) * frameFloats)])
                }
                memoryIndices = keptIndices
                memory = kept
            }
        }
        embedded.removeFirst(drop * frameFloats)
        times.removeFirst(drop)
        black.removeFirst(drop)
        firstFrameIndex += drop
        contextCount = keep
        return labels
    }
}
