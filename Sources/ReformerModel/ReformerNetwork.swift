import TensorCore

/// Sizes of a Reformer stack.
public struct NetworkConfig: Codable, Sendable, Equatable {
    public var width = 128
    public var layers = 4
    public var hidden = 512
    /// Rows per feed-forward chunk.
    public var feedForwardChunk = 1024
    public var attention = AttentionConfig()
    /// Reversible backward (reconstruct inputs) or store every block's inputs (for comparison).
    public var reversible = true
    public var seed: UInt64 = 1

    public init(width: Int = 128, layers: Int = 4, hidden: Int = 512, feedForwardChunk: Int = 1024,
                attention: AttentionConfig = AttentionConfig(), reversible: Bool = true, seed: UInt64 = 1) {
        self.width = width
        self.layers = layers
        self.hidden = hidden
        self.feedForwardChunk = feedForwardChunk
        self.attention = attention
        self.reversible = reversible
        self.seed = seed
    }
}

/// What a training forward leaves for the backward: the top activations and the bucket ids —
/// plus every block's inputs only when the stack is not reversible.
public struct NetworkTrace {
    var y1: Tensor, y2: Tensor
    var caches: [AttentionCache]
    var storedInputs: [(Tensor, Tensor)]
}

/// Reversible blocks over the two-stream input `[x, x]`, read out as `LN((Y1 + Y2) / 2)`.
public final class ReformerNetwork: ParameterContainer {
    public let config: NetworkConfig
    public let blocks: [ReversibleBlock]
    public let finalNorm: LayerNorm

    public init(_ name: String, config: NetworkConfig, generator: inout SeededGenerator) {
        self.config = config
        var blocks: [ReversibleBlock] = []
        for i in 0..<config.layers {
            blocks.append(ReversibleBlock("\(name).\(i)", width: config.width, attention: config.attention, hidden: config.hidden,
                                          feedForwardChunk: config.feedForwardChunk,
                                          seed: SeededGenerator.derive(config.seed, UInt64(i)), generator: &generator))
        }
        self.blocks = blocks
        finalNorm = LayerNorm("\(name).norm", config.width)
    }

    public var parameters: [Parameter] { blocks.flatMap(\.parameters) + finalNorm.parameters }

    /// `x`: `[L, width]` → `[L, width]`; with `trace`, also what `backward` needs.
    public func forward(_ x: Tensor, hashSeed: UInt64 = 0, trace: Bool = false,
                        reuse: [AttentionCache]? = nil) -> (Tensor, NetworkTrace?) {
        var x1 = x, x2 = x
        var caches: [AttentionCache] = []
        var stored: [(Tensor, Tensor)] = []
        for (i, block) in blocks.enumerated() {
            if trace && !config.reversible { stored.append((x1, x2)) }
            let cache = block.forward(&x1, &x2, hashSeed: hashSeed, reuse: reuse?[i])
            if trace { caches.append(cache) }
        }
        let out = finalNorm(mean(x1, x2))
        return (out, trace ? NetworkTrace(y1: x1, y2: x2, caches: caches, storedInputs: stored) : nil)
    }

    /// Accumulates parameter gradients; returns `dx`. Consumes the trace.
    public func backward(_ dOut: Tensor, trace: NetworkTrace) -> Tensor {
        var y1 = trace.y1, y2 = trace.y2
        let m = mean(y1, y2)
        var dm = finalNorm.backward(m, dy: dOut)
        dm.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] *= 0.5 } }
        var dy1 = dm, dy2 = dm
        for i in stride(from: blocks.count - 1, through: 0, by: -1) {
            if !config.reversible {
                // Restore the stored inputs, recompute the outputs, then run the same backward.
                (y1, y2) = trace.storedInputs[i]
                _ = blocks[i].forward(&y1, &y2, hashSeed: 0, reuse: trace.caches[i])
            }
            blocks[i].backward(&y1, &y2, &dy1, &dy2, cache: trace.caches[i])
        }
        add(&dy1, dy2)
        return dy1
    }

    func mean(_ a: Tensor, _ b: Tensor) -> Tensor {
        var m = a
        m.withUnsafeMutableBufferPointer { x in b.withUnsafeBufferPointer { y in for i in 0..<x.count { x[i] = 0.5 * (x[i] + y[i]) } } }
        return m
    }
}
