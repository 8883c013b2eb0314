import TensorCore

/// Shapes of a symbol-sequence model (the Reformer paper's synthetic tasks).
public struct SequenceModelConfig: Codable, Sendable, Equatable {
    /// Symbols `0..<vocabulary`.
    public var vocabulary: Int
    /// Longest sequence: one learned position row per index.
    public var maxLength: Int
    public var network: NetworkConfig

    public init(vocabulary: Int, maxLength: Int, network: NetworkConfig) {
        self.vocabulary = vocabulary
        self.maxLength = maxLength
        self.network = network
    }
}

/// Symbols → token embedding + learned absolute position embedding → Reformer → next-symbol
/// logits. With `network.attention.causal` it is a language model: row `t` sees `0...t`.
public final class SequenceModel: ParameterContainer {
    public let config: SequenceModelConfig
    public let tokens: Embedding
    /// Named `positions.*` so AdamW does not decay it (as with the video model's positions).
    public let positions: Embedding
    public let network: ReformerNetwork
    public let head: Linear

    public init(config: SequenceModelConfig) {
        self.config = config
        var g = SeededGenerator(seed: config.network.seed)
        let d = config.network.width
        tokens = Embedding("tokens", vocabulary: config.vocabulary, width: d, generator: &g)
        positions = Embedding("positions", vocabulary: config.maxLength, width: d, generator: &g)
        network = ReformerNetwork("blocks", config: config.network, generator: &g)
        head = Linear("head", d, config.vocabulary, generator: &g)
    }

    public var parameters: [Parameter] { tokens.parameters + positions.parameters + network.parameters + head.parameters }

    public struct Trace {
        var ids: [Int]
        var network: NetworkTrace
        var hidden: Tensor
    }

    /// `ids` → `[L, vocabulary]` logits. `reuse` holds bucket ids fixed (gradient checks).
    public func forward(_ ids: [Int], hashSeed: UInt64 = 0, trace: Bool = false,
                        reuse: [AttentionCache]? = nil) -> (Tensor, Trace?) {
        precondition(ids.count <= config.maxLength, "sequence of \(ids.count) is longer than the model's \(config.maxLength) positions")
        precondition(ids.allSatisfy { $0 >= 0 && $0 < config.vocabulary }, "symbol outside the vocabulary")
        var x = tokens(ids)
        add(&x, positions(Array(0..<ids.count)))
        let (h, netTrace) = network.forward(x, hashSeed: hashSeed, trace: trace, reuse: reuse)
        return (head(h), trace ? Trace(ids: ids, network: netTrace!, hidden: h) : nil)
    }

    /// Accumulates parameter gradients for `dLogits` (`[L, vocabulary]`).
    public func backward(_ dLogits: Tensor, trace: Trace) {
        let dh = head.backward(trace.hidden, dy: dLogits)
        let dx = network.backward(dh, trace: trace.network)
        tokens.backward(trace.ids, dy: dx)
        positions.backward(Array(0..<trace.ids.count), dy: dx)
    }

    /// The same weights under another attention setting (kind, rounds, chunk — the shapes and
    /// parameter names do not depend on them): for evaluating one trained model many ways.
    public func withAttention(_ attention: AttentionConfig) -> SequenceModel {
        var c = config
        c.network.attention = attention
        let other = SequenceModel(config: c)
        for (mine, theirs) in zip(parameters, other.parameters) {
            precondition(mine.name == theirs.name && mine.value.shape == theirs.value.shape)
            theirs.value = mine.value
        }
        return other
    }
}
