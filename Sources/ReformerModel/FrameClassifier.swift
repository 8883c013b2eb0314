import TensorCore

/// Everything that fixes a video model's shapes.
public struct ClassifierConfig: Codable, Sendable, Equatable {
    /// Floats per token (`patch * patch * 3`).
    public var tokenWidth: Int
    /// Tokens per sampled frame.
    public var tokensPerFrame: Int
    public var labels: [String]
    public var network: NetworkConfig
    /// Scale of the fixed time signal in the positions (`AxialPositions.timeScale`).
    public var timeSignal: Float
    /// Each token also gets a learned linear summary of its whole frame (`FrameClassifier.frameContext`).
    public var frameContext: Bool

    public init(tokenWidth: Int, tokensPerFrame: Int, labels: [String], network: NetworkConfig, timeSignal: Float = 1,
                frameContext: Bool = false) {
        self.tokenWidth = tokenWidth
        self.tokensPerFrame = tokensPerFrame
        self.labels = labels
        self.network = network
        self.timeSignal = timeSignal
        self.frameContext = frameContext
    }
}

/// Output of the video model for one token sequence.
public struct ClassifierOutput {
    /// `[frames, labels]`.
    public var frameLogits: Tensor
    /// `[labels]`, from the mean over frames.
    public var videoLogits: Tensor
}

/// Patch tokens → linear embedding (+ frame context) + axial positions → Reformer → per-frame
/// mean over patch tokens → frame logits; the mean over frames → video logits.
///
/// Frame context (optional): the embeddings of a frame's patches, side by side (`[patches · width]`),
/// go through one more linear map to a `width`-vector that is added to every token of that frame.
/// A patch token then also carries what the whole picture looks like, in its layout, so attention
/// that compares tokens (the look-back heads finding a picture shown before) compares pictures
/// rather than single patches that may look alike. The map starts at zero: the model begins as
/// one without it.
public final class FrameClassifier: ParameterContainer {
    public let config: ClassifierConfig
    public let embed: Linear
    public let positions: AxialPositions
    public let network: ReformerNetwork
    public let frameHead: Linear, videoHead: Linear
    /// `[patches · width] → [width]`, no bias; nil without frame context.
    public let frameContext: Linear?

    public init(config: ClassifierConfig) {
        self.config = config
        var g = SeededGenerator(seed: config.network.seed)
        let d = config.network.width
        embed = Linear("embed", config.tokenWidth, d, generator: &g)
        positions = AxialPositions("positions", patches: config.tokensPerFrame, width: d, timeScale: config.timeSignal, generator: &g)
        network = ReformerNetwork("blocks", config: config.network, generator: &g)
        frameHead = Linear("head.frame", d, config.labels.count, generator: &g)
        videoHead = Linear("head.video", d, config.labels.count, generator: &g)
        // Made last, so the other weights are those of the same seed without it.
        frameContext = config.frameContext
            ? Linear("frame.context", config.tokensPerFrame * d, d, bias: false, std: 0, generator: &g) : nil
    }

    public var parameters: [Parameter] {
        embed.parameters + positions.parameters + network.parameters + frameHead.parameters + videoHead.parameters
            + (frameContext?.parameters ?? [])
    }

    /// What the backward needs.
    public struct Trace {
        var tokens: Tensor
        /// The embeddings before frame context is added (nil without it).
        var patchEmbeddings: Tensor?
        var network: NetworkTrace
        var pooled: Tensor
        var videoPooled: Tensor
    }

    /// Token vectors → model width (no positions): `[rows, tokenWidth]` → `[rows, width]`.
    /// Streaming callers embed frames as they arrive and keep only this (8 KB a frame at width
    /// 128 with 16 tokens) instead of the raw tokens.
    public func embedTokens(_ tokens: Tensor) -> Tensor {
        precondition(tokens.columns == config.tokenWidth, "tokens are \(tokens.columns) wide, the model takes \(config.tokenWidth)")
        return withFrameContext(embed(tokens))
    }

    /// `e` plus, on every token, its frame's context (`e` itself without frame context).
    func withFrameContext(_ e: Tensor) -> Tensor {
        guard let frameContext else { return e }
        let p = config.tokensPerFrame, d = config.network.width
        precondition(e.rows % p == 0, "token buffer does not hold whole frames")
        let frames = e.rows / p
        var out = e
        Self.addToFrameTokens(frameContext(e.reshaped([frames, p * d])), to: &out, tokensPerFrame: p)
        return out
    }

    /// Per-frame sums of token rows, each row times `scale`: `[frames · p, d]` → `[frames, d]`.
    static func frameSums(_ x: Tensor, tokensPerFrame p: Int, scale: Float = 1) -> Tensor {
        let d = x.columns, frames = x.rows / p
        var sums = Tensor(zeros: [frames, d])
        x.withUnsafeBufferPointer { xb in
            sums.withUnsafeMutableBufferPointer { sb in
                for f in 0..<frames {
                    for q in 0..<p { for j in 0..<d { sb[f * d + j] += xb[(f * p + q) * d + j] * scale } }
                }
            }
        }
        return sums
    }

    /// Adds row `f` of `v` (`[frames, d]`), times `scale`, to every token row of frame `f` in `x`.
    static func addToFrameTokens(_ v: Tensor, scale: Float = 1, to x: inout Tensor, tokensPerFrame p: Int) {
        let d = v.columns, frames = v.rows
        precondition(x.rows == frames * p && x.columns == d, "one row of v per frame of x")
        x.withUnsafeMutableBufferPointer { xb in
            v.withUnsafeBufferPointer { vb in
                for f in 0..<frames {
                    for q in 0..<p { for j in 0..<d { xb[(f * p + q) * d + j] += vb[f * d + j] * scale } }
                }
            }
        }
    }

    /// `tokens`: `[frames * tokensPerFrame, tokenWidth]`, frame-major.
    /// `reuse` holds earlier bucket ids fixed (gradient checks).
    public func forward(_ tokens: Tensor, firstFrame: Int = 0, hashSeed: UInt64 = 0, trace: Bool = false,
                        reuse: [AttentionCache]? = nil) -> (ClassifierOutput, Trace?) {
        precondition(tokens.rows % config.tokensPerFrame == 0 && tokens.columns == config.tokenWidth, "token buffer does not hold whole frames")
        let e = embed(tokens)
        let (output, traced) = forward(embedded: withFrameContext(e), tokens: trace ? tokens : nil, firstFrame: firstFrame,
                                       hashSeed: hashSeed, trace: trace, reuse: reuse)
        var t = traced
        if frameContext != nil { t?.patchEmbeddings = e }
        return (output, t)
    }

    /// The rest of `forward` from `embedTokens`' output; `tokens` is needed only to train.
    public func forward(embedded: Tensor, tokens: Tensor? = nil, firstFrame: Int = 0, frameIndices: [Int]? = nil,
                        hashSeed: UInt64 = 0, trace: Bool = false, reuse: [AttentionCache]? = nil) -> (ClassifierOutput, Trace?) {
        let p = config.tokensPerFrame, d = config.network.width
        let frames = embedded.rows / p
        var x = embedded
        positions.add(to: &x, frameIndices: frameIndices, firstFrame: firstFrame)
        let (h, netTrace) = network.forward(x, hashSeed: hashSeed, trace: trace, reuse: reuse)
        let pooled = Self.frameSums(h, tokensPerFrame: p, scale: 1 / Float(p))
        var videoPooled = Tensor(zeros: [1, d])
        pooled.withUnsafeBufferPointer { pb in
            videoPooled.withUnsafeMutableBufferPointer { vb in
                for f in 0..<frames { for j in 0..<d { vb[j] += pb[f * d + j] / Float(max(frames, 1)) } }
            }
        }
        let output = ClassifierOutput(frameLogits: frameHead(pooled), videoLogits: videoHead(videoPooled).reshaped([config.labels.count]))
        let t = trace ? Trace(tokens: tokens!, network: netTrace!, pooled: pooled, videoPooled: videoPooled) : nil
        return (output, t)
    }

    /// Accumulates parameter gradients for `dFrameLogits` (`[frames, labels]`) and `dVideoLogits`.
    public func backward(dFrameLogits: Tensor, dVideoLogits: Tensor?, trace: Trace) {
        let p = config.tokensPerFrame, d = config.network.width
        let frames = trace.pooled.rows
        var dPooled = frameHead.backward(trace.pooled, dy: dFrameLogits)
        if let dVideoLogits {
            let dv = videoHead.backward(trace.videoPooled, dy: dVideoLogits.reshaped([1, config.labels.count]))
            dPooled.withUnsafeMutableBufferPointer { dp in
                for f in 0..<frames { for j in 0..<d { dp[f * d + j] += dv[j] / Float(max(frames, 1)) } }
            }
        }
        var dh = Tensor(zeros: [frames * p, d])
        Self.addToFrameTokens(dPooled, scale: 1 / Float(p), to: &dh, tokensPerFrame: p)
        var dx = network.backward(dh, trace: trace.network)
        positions.backward(dx)
        if let frameContext {
            // Every token of a frame received the context: its gradient is the frame's sum.
            guard let e = trace.patchEmbeddings else { preconditionFailure("a trace from forward(tokens:) is needed to train frame context") }
            let dContext = Self.frameSums(dx, tokensPerFrame: p)
            e.withUnsafeBufferPointer { eb in
                dContext.withUnsafeBufferPointer { cb in
                    dx.withUnsafeMutableBufferPointer { xb in
                        frameContext.backward(eb.baseAddress!, dy: cb.baseAddress!, rows: frames, dx: xb.baseAddress!, accumulate: true)
                    }
                }
            }
        }
        trace.tokens.withUnsafeBufferPointer { t in
            dx.withUnsafeBufferPointer { g in embed.backward(t.baseAddress!, dy: g.baseAddress!, rows: t.count / config.tokenWidth, dx: nil) }
        }
    }
}
