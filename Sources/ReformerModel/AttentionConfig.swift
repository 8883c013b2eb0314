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
    /// Heads that look only far back (none when nil).
    public var lookBack: LookBack?
    /// With `kind == .lsh`, the last this-many heads attend in sliding chunks as `.local` does:
    /// exact near neighbourhoods beside the hashed long-range heads (none when nil or 0).
    public var localHeads: Int?

    public init(kind: AttentionKind = .lsh, heads: Int = 4, headWidth: Int = 32, rounds: Int = 2, chunk: Int = 64,
                buckets: Int? = nil, causal: Bool = false, lookBack: LookBack? = nil, localHeads: Int? = nil) {
        self.kind = kind
        self.heads = heads
        self.headWidth = headWidth
        self.rounds = rounds
        self.chunk = chunk
        self.buckets = buckets
        self.causal = causal
        self.lookBack = lookBack
        self.localHeads = localHeads
    }

    /// Look-back heads (the first ones) and local heads (the last ones) are distinct: together
    /// they fit in `heads`, and neither count is negative.
    public var headRolesFit: Bool {
        let back = lookBack?.heads ?? 0, local = localHeads ?? 0
        return back >= 0 && local >= 0 && back + local <= heads
    }

    /// The settings head `head` runs with: the layer's, with `kind` `.local` for a local head.
    public func forHead(_ head: Int) -> AttentionConfig {
        guard kind == .lsh, let n = localHeads, n > 0, head >= heads - n else { return self }
        var c = self
        c.kind = .local
        c.localHeads = nil
        return c
    }

    /// The first `heads` heads see only keys at least `distance` groups of `group` positions
    /// earlier (for video: frames of `group` patch tokens, `distance` frames back), and beside
    /// them a null key of score 0 and value 0: a query whose look-back finds nothing like itself
    /// attends mostly to nothing and returns about zero, so the size of the output says whether
    /// the past held a match. (This is how a head can tell that a picture was seen long ago.)
    ///
    /// With `shiftKeys` (LSH only; nil in older configs: off) these heads order their keys apart
    /// from their queries, `distance` groups later (`AttentionLayout`), so a query's chunk holds
    /// the keys it may see rather than its own recent past.
    public struct LookBack: Codable, Sendable, Equatable {
        public var heads: Int
        public var distance: Int
        public var group: Int
        public var shiftKeys: Bool?
        public init(heads: Int, distance: Int, group: Int = 1, shiftKeys: Bool? = nil) {
            self.heads = heads
            self.distance = distance
            self.group = group
            self.shiftKeys = shiftKeys
        }
    }

    /// The key shift head `head`'s layout uses (nil: keys and queries share one order).
    public func keyShift(head: Int) -> (distance: Int, group: Int)? {
        guard lookBack?.shiftKeys == true, forHead(head).kind == .lsh else { return nil }
        let m = mask(head: head)
        return m.lookBack > 0 ? (m.lookBack, m.group) : nil
    }

    /// The key mask head `head` uses.
    public func mask(head: Int) -> AttentionMask {
        if let l = lookBack, head < l.heads { return AttentionMask(causal: causal, lookBack: max(1, l.distance), group: max(1, l.group)) }
        return AttentionMask(causal: causal)
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

/// Which keys one head's queries may not see, and whether it has a null key.
public struct AttentionMask: Sendable, Equatable {
    public var causal: Bool
    /// 0: none. Otherwise keys must lie at least this many groups before the query's group, and
    /// a null key (score 0, value 0) is added to every softmax.
    public var lookBack: Int
    /// Positions per group (tokens per frame).
    public var group: Int
    public init(causal: Bool = false, lookBack: Int = 0, group: Int = 1) {
        self.causal = causal
        self.lookBack = lookBack
        self.group = group
    }
}
