/// Which keys each query may see.
public enum AttentionKind: String, Codable, Sendable, CaseIterable {
    /// Locality-sensitive hashing: shared-QK vectors hashed into buckets by random rotations,
    /// sorted by bucket, attending within a chunk and the previous one.
    case lsh
    /// Sliding chunks in time order: each chunk sees itself and its neighbours (the baseline
    /// with the same cost as LSH but no long-range reach).
    case local
    /// Every token sees every other (exact, quadratic).
    case full
}

/// Shapes and hashing settings of one attention layer.
public struct AttentionConfig: Codable, Sendable, Equatable {
    public var kind: AttentionKind = .lsh
    public var heads = 4
    public var headWidth = 32
    /// Hash rounds `r` (LSH only).
    public var rounds = 2
    /// Chunk length `c`: queries per chunk, keys come from the chunk and its neighbours.
    public var chunk = 64
    /// Buckets per round (even); nil picks `2·L/c` rounded up to a power of two.
    public var buckets: Int?
    /// Mask keys after each query.
    public var causal = false

    public init(kind: AttentionKind = .lsh, heads: Int = 4, headWidth: Int = 32, rounds: Int = 2, chunk: Int = 64,
                buckets: Int? = nil, causal: Bool = false) {
        self.kind = kind
        self.heads = heads
        self.headWidth = headWidth
        self.rounds = rounds
        self.chunk = chunk
        self.buckets = buckets
        self.causal = causal
    }

    /// The bucket count used at sequence length `length`.
    public func bucketCount(length: Int) -> Int {
        if let buckets { return max(2, buckets + buckets % 2) }
        var n = 2
        let want = 2 * max(1, (length + chunk - 1) / chunk)
        while n < want { n *= 2 }
        return n
    }

    /// Whether hashing is actually used at this length (short sequences get exact attention).
    public func usesHashing(length: Int) -> Bool { kind == .lsh && length > chunk }
}
