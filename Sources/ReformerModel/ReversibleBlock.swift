import TensorCore

/// `Y1 = X1 + Attention(LN(X2))`, `Y2 = X2 + FeedForward(Y1)` (the feed-forward carries its own
/// LayerNorm). The backward recomputes each half from the block's outputs, so a stack of
/// blocks needs only its top activations.
public final class ReversibleBlock: ParameterContainer {
    public let attentionNorm: LayerNorm
    public let attention: SelfAttention
    public let feedForward: FeedForward
    public let width: Int

    public init(_ name: String, width: Int, attention config: AttentionConfig, hidden: Int, feedForwardChunk: Int,
                seed: UInt64, generator: inout SeededGenerator) {
        self.width = width
        attentionNorm = LayerNorm("\(name).attn.norm", width)
        attention = SelfAttention("\(name).attn", width: width, config: config, seed: seed, generator: &generator)
        feedForward = FeedForward("\(name).ff", width: width, hidden: hidden, chunk: feedForwardChunk, generator: &generator)
    }

    public var parameters: [Parameter] { attentionNorm.parameters + attention.parameters + feedForward.parameters }

    /// `F(x2) = Attention(LN(x2))`.
    func f(_ x2: Tensor, hashSeed: UInt64, reuse: AttentionCache?) -> (Tensor, AttentionCache) {
        attention.forward(attentionNorm(x2), hashSeed: hashSeed, reuse: reuse)
    }

    /// In place: `(x1, x2)` become `(y1, y2)`. Returns the buckets the backward needs.
    public func forward(_ x1: inout Tensor, _ x2: inout Tensor, hashSeed: UInt64, reuse: AttentionCache? = nil) -> AttentionCache {
        let (fx, cache) = f(x2, hashSeed: hashSeed, reuse: reuse)
        add(&x1, fx)
        let rows = x1.rows
        x1.withUnsafeBufferPointer { y1 in
            x2.withUnsafeMutableBufferPointer { y2 in
                feedForward.forward(y1.baseAddress!, rows: rows, out: y2.baseAddress!, accumulate: true)
            }
        }
        return cache
    }

    /// Given outputs `(y1, y2)` and their gradients, reconstructs the inputs in place and turns
    /// the gradients into the inputs' gradients, accumulating parameter gradients on the way.
    public func backward(_ y1: inout Tensor, _ y2: inout Tensor, _ dy1: inout Tensor, _ dy2: inout Tensor,
                         cache: AttentionCache) {
        let rows = y1.rows
        // 1-2. G(Y1): backprop dY2 into dY1; X2 = Y2 − G(Y1).
        var g = Tensor(zeros: y1.shape)
        y1.withUnsafeBufferPointer { a in
            g.withUnsafeMutableBufferPointer { o in feedForward.forward(a.baseAddress!, rows: rows, out: o.baseAddress!, accumulate: false) }
            dy2.withUnsafeBufferPointer { d in
                dy1.withUnsafeMutableBufferPointer { dx in
                    feedForward.backward(a.baseAddress!, dy: d.baseAddress!, rows: rows, dx: dx.baseAddress!, accumulate: true)
                }
            }
        }
        subtract(&y2, g)                       // y2 now holds X2
        // 3-4. F(X2) with the cached buckets: backprop dX1 (= dy1) into dX2; X1 = Y1 − F(X2).
        let normed = attentionNorm(y2)
        let (dNormed, fx) = attention.backward(normed, dy: dy1, cache: cache)
        y2.withUnsafeBufferPointer { x in
            dNormed.withUnsafeBufferPointer { d in
                dy2.withUnsafeMutableBufferPointer { dx in
                    attentionNorm.backward(x.baseAddress!, dy: d.baseAddress!, rows: rows, dx: dx.baseAddress!, accumulate: true)
                }
            }
        }
        subtract(&y1, fx)                      // y1 now holds X1
    }
}

@inline(__always)
func add(_ a: inout Tensor, _ b: Tensor) {
    a.withUnsafeMutableBufferPointer { x in b.withUnsafeBufferPointer { y in for i in 0..<x.count { x[i] += y[i] } } }
}

@inline(__always)
func subtract(_ a: inout Tensor, _ b: Tensor) {
    a.withUnsafeMutableBufferPointer { x in b.withUnsafeBufferPointer { y in for i in 0..<x.count { x[i] -= y[i] } } }
}
