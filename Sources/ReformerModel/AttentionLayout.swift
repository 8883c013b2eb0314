import TensorCore

/// The order in which one head's tokens are attended: for each round, positions sorted by
/// bucket (then position), padded with empty slots (-1) to a whole number of chunks.
///
/// Items are addressed by *slot*: `round * paddedLength + rank`. `order[slot]` is the original
/// position (or -1), `slot(round, position)` the inverse; gathers in one direction are gathers by
/// the inverse in the other, so no scatter is ever needed.
///
/// Shifted keys (look-back heads with `LookBack.shiftKeys`): every token is in the order twice,
/// once as a query at its own group and once as a key at its group plus the look-back distance,
/// sorted by (bucket, that group, keys before queries, position). In each bucket the keys just
/// before a query are then exactly the ones it may see, the latest first, and the tokens it
/// may not see (its own recent past, which fills a bucket when a picture stays alike) sort
/// after it instead of taking its chunk. `order` holds the queries' positions (-1 at key
/// slots), `keyOrder` the keys' (-1 at query slots).
public struct AttentionLayout: Sendable {
    public let length: Int
    public let rounds: Int
    /// Keys are grouped in chunks of this many slots.
    public let chunk: Int
    /// Queries are processed this many slots at a time (`chunk` is a multiple of it).
    public let queryBlock: Int
    public let paddedLength: Int
    /// Chunk offsets each chunk takes its keys from (sorted ascending).
    public let neighbours: [Int]
    /// Offsets outside the sequence wrap around (LSH) or are dropped (local).
    public let wraps: Bool
    public private(set) var order: [Int32]
    public private(set) var slots: [Int32]
    /// The keys' positions by slot when they are ordered apart from the queries (nil: `order`).
    public private(set) var keyOrder: [Int32]?

    public var slotCount: Int { rounds * paddedLength }
    public var chunkCount: Int { slotCount / chunk }
    @inlinable public func slot(round: Int, position: Int) -> Int { Int(slots[round * length + position]) }

    /// The layout an attention kind uses; `buckets` (`rounds x length`, LSH only) must be given
    /// when hashing is in use.
    /// `shift` (LSH only): order keys apart, `distance` groups of `group` positions later.
    public static func make(config: AttentionConfig, length: Int, buckets: UnsafePointer<Int32>?,
                            shift: (distance: Int, group: Int)? = nil) -> AttentionLayout {
        let c = config.chunk
        if config.usesHashing(length: length) {
            let nb = config.bucketCount(length: length)
            if let shift {
                return AttentionLayout(length: length, rounds: config.rounds, chunk: c, buckets: buckets!, bucketCount: nb,
                                       shift: shift)
            }
            let padded = (length + c - 1) / c * c
            return AttentionLayout(length: length, rounds: config.rounds, chunk: c, queryBlock: c, padded: padded,
                                   neighbours: [-1, 0], wraps: true, buckets: buckets!, bucketCount: nb)
        }
        if config.kind == .local {
            let padded = (length + c - 1) / c * c
            return AttentionLayout(length: length, rounds: 1, chunk: c, queryBlock: c, padded: padded,
                                   neighbours: config.causal ? [-1, 0] : [-1, 0, 1], wraps: false, buckets: nil, bucketCount: 0)
        }
        // Exact attention: one chunk holding everything, queries in blocks of at most 64.
        let block = min(64, max(1, length))
        let padded = (length + block - 1) / block * block
        return AttentionLayout(length: length, rounds: 1, chunk: max(padded, 1), queryBlock: block, padded: padded,
                               neighbours: [0], wraps: false, buckets: nil, bucketCount: 0)
    }

    init(length: Int, rounds: Int, chunk: Int, queryBlock: Int, padded: Int, neighbours: [Int], wraps: Bool,
         buckets: UnsafePointer<Int32>?, bucketCount: Int) {
        self.length = length
        self.rounds = rounds
        self.chunk = chunk
        self.queryBlock = queryBlock
        self.paddedLength = padded
        self.neighbours = neighbours
        self.wraps = wraps
        order = [Int32](repeating: -1, count: rounds * padded)
        slots = [Int32](repeating: 0, count: rounds * length)
        guard let buckets else {
            for t in 0..<length { order[t] = Int32(t); slots[t] = Int32(t) }
            return
        }
        var starts = [Int](repeating: 0, count: bucketCount + 1)
        var sorted = [Int](repeating: 0, count: length)
        for r in 0..<rounds {
            Self.sortByBucket(buckets + r * length, length: length, sorted: &sorted, starts: &starts)
            for (rank, t) in sorted.enumerated() {
                let slot = r * padded + rank
                order[slot] = Int32(t)
                slots[r * length + t] = Int32(slot)
            }
        }
    }

    /// Counting sort of positions by bucket: O(L + nb), stable, so ties keep position order.
    /// `sorted` gets the positions, `starts[b]` where bucket `b` begins in it (`starts[nb] = L`).
    static func sortByBucket(_ b: UnsafePointer<Int32>, length: Int, sorted: inout [Int], starts: inout [Int]) {
        for i in starts.indices { starts[i] = 0 }
        for t in 0..<length { starts[Int(b[t]) + 1] += 1 }
        for i in 1..<starts.count { starts[i] += starts[i - 1] }
        var fill = starts
        for t in 0..<length {
            sorted[fill[Int(b[t])]] = t
            fill[Int(b[t])] += 1
        }
    }

    /// The shifted-key layout: `2 · length` items a round, padded to whole chunks.
    init(length: Int, rounds: Int, chunk: Int, buckets: UnsafePointer<Int32>, bucketCount: Int, shift: (distance: Int, group: Int)) {
        self.length = length
        self.rounds = rounds
        self.chunk = chunk
        queryBlock = chunk
        let padded = (2 * length + chunk - 1) / chunk * chunk
        paddedLength = padded
        neighbours = [-1, 0]
        wraps = true
        order = [Int32](repeating: -1, count: rounds * padded)
        var keys = [Int32](repeating: -1, count: rounds * padded)
        slots = [Int32](repeating: 0, count: rounds * length)
        let g = max(1, shift.group), d = shift.distance
        var starts = [Int](repeating: 0, count: bucketCount + 1)
        var sorted = [Int](repeating: 0, count: length)
        for r in 0..<rounds {
            // Sort by bucket, then merge each bucket's queries and keys.
            Self.sortByBucket(buckets + r * length, length: length, sorted: &sorted, starts: &starts)
            var slot = r * padded
            for bucket in 0..<bucketCount {
                var i = starts[bucket], j = starts[bucket]
                let end = starts[bucket + 1]
                while i < end || j < end {
                    if j < end && (i == end || sorted[j] / g + d <= sorted[i] / g) {
                        keys[slot] = Int32(sorted[j])
                        j += 1
                    } else {
                        order[slot] = Int32(sorted[i])
                        slots[r * length + sorted[i]] = Int32(slot)
                        i += 1
                    }
                    slot += 1
                }
            }
        }
        keyOrder = keys
    }

    /// Slot ranges (start slot of each key chunk) that a query block reads its keys from.
    @inlinable
    public func keyChunks(forBlock block: Int) -> [Int] {
        let chunkIndex = block * queryBlock / chunk
        var result: [Int] = []
        for o in neighbours {
            var j = chunkIndex + o
            if j < 0 || j >= chunkCount {
                guard wraps else { continue }
                j = (j % chunkCount + chunkCount) % chunkCount
            }
            if !result.contains(j) { result.append(j) }
        }
        return result
    }
}

/// Angular LSH: `bucket = argmax(concat(x·R, −x·R))` with seeded Gaussian rotations.
///
/// With many buckets the rotation product would cost `L·nb` per round, quadratic in `L` under
/// the `nb ∝ L` rule; so above 64 buckets the hash is factorised into two independent angular
/// hashes with `nb1·nb2 = nb` buckets (`bucket = b1 + nb1·b2`: two tokens share a bucket when
/// they agree on both), which costs `L·(nb1 + nb2)`.
public enum LSHHashing {
    /// The factor sizes for `bucketCount` buckets (the second is 1 when not factorised).
    public static func factors(_ bucketCount: Int) -> (Int, Int) {
        guard bucketCount > 64, bucketCount & (bucketCount - 1) == 0 else { return (bucketCount, 1) }
        var first = 2
        while first * first < bucketCount { first *= 2 }
        return (first, bucketCount / first)
    }

    /// Buckets for one head: `qk` is `[length, width]`; returns `rounds x length` ids in `0..<bucketCount`.
    public static func buckets(_ qk: UnsafePointer<Float>, length: Int, width: Int, rounds: Int,
                               bucketCount: Int, seed: UInt64) -> [Int32] {
        let (nb1, nb2) = factors(bucketCount)
        var generator = SeededGenerator(seed: seed)
        var result = [Int32](repeating: 0, count: rounds * length)
        var scale = 1
        for factor in [nb1, nb2] where factor > 1 {
            let half = factor / 2
            let rotations = Tensor(randomNormal: [width, rounds * half], std: 1, generator: &generator)
            var projected = [Float](repeating: 0, count: length * rounds * half)
            rotations.withUnsafeBufferPointer { rp in
                projected.withUnsafeMutableBufferPointer { pp in
                    BLAS.gemm(qk, rp.baseAddress!, pp.baseAddress!, m: length, n: rounds * half, k: width)
                }
            }
            let multiplier = Int32(scale)
            projected.withUnsafeBufferPointer { pp in
                result.withUnsafeMutableBufferPointer { out in
                    nonisolated(unsafe) let (p, o) = (pp.baseAddress!, out.baseAddress!)
                    Parallel.forEachChunk(length, minimumPerWorker: 1024) { range in
                        for t in range {
                            for r in 0..<rounds {
                                o[r * length + t] += multiplier * Int32(argmaxOfSignedPair(p + t * rounds * half + r * half, half))
                            }
                        }
                    }
                }
            }
            scale *= factor
        }
        return result
    }

    /// argmax of `concat(x, −x)` over `x[0..<half]`, the first maximum on ties: the largest x
    /// unless the smallest x is more negative than that is positive.
    @inline(__always)
    static func argmaxOfSignedPair(_ row: UnsafePointer<Float>, _ half: Int) -> Int {
        let (lo, hi) = Kernels.extremes(row, half)
        var bucket = 0
        if hi >= -lo {
            while row[bucket] != hi { bucket += 1 }
            return bucket
        }
        while row[bucket] != lo { bucket += 1 }
        return bucket + half
    }
}
