import Testing
@testable import ReformerModel
import TensorCore
import _TestSupport

/// A random attention problem: layer, input, and an upstream gradient for `loss = Σ y·G`.
struct AttentionCase: CustomStringConvertible {
    var config: AttentionConfig
    var length: Int
    var width = 12
    var description: String {
        let back = config.lookBack.map { " lookBack=\($0.heads)h/\($0.distance)x\($0.group)\($0.shiftKeys == true ? " shifted" : "")" } ?? ""
        let local = config.localHeads.map { " localHeads=\($0)" } ?? ""
        return "\(config.kind) r=\(config.rounds) c=\(config.chunk) causal=\(config.causal)\(back)\(local) L=\(length)"
    }
}

func makeLayer(_ c: AttentionCase, seed: UInt64 = 7) -> (SelfAttention, Tensor, Tensor) {
    var g = SeededGenerator(seed: seed)
    let layer = SelfAttention("attn", width: c.width, config: c.config, seed: 99, generator: &g)
    // Larger weights than the default init so attention is sharp and every path matters.
    for p in layer.parameters { p.value = Tensor(randomNormal: p.value.shape, std: 0.6, generator: &g) }
    let x = Tensor(randomNormal: [c.length, c.width], std: 1, generator: &g)
    let upstream = Tensor(randomNormal: [c.length, c.width], std: 1, generator: &g)
    return (layer, x, upstream)
}

let attentionCases: [AttentionCase] = [
    AttentionCase(config: AttentionConfig(kind: .lsh, heads: 2, headWidth: 4, rounds: 1, chunk: 4, buckets: 4), length: 16),
    AttentionCase(config: AttentionConfig(kind: .lsh, heads: 2, headWidth: 4, rounds: 4, chunk: 4, buckets: 4), length: 16),
    AttentionCase(config: AttentionConfig(kind: .lsh, heads: 2, headWidth: 4, rounds: 1, chunk: 4, buckets: 4, causal: true), length: 16),
    AttentionCase(config: AttentionConfig(kind: .lsh, heads: 2, headWidth: 4, rounds: 4, chunk: 4, buckets: 6, causal: true), length: 13),
    AttentionCase(config: AttentionConfig(kind: .lsh, heads: 1, headWidth: 6, rounds: 2, chunk: 5, buckets: nil), length: 23),
    AttentionCase(config: AttentionConfig(kind: .local, heads: 2, headWidth: 4, chunk: 4), length: 15),
    AttentionCase(config: AttentionConfig(kind: .local, heads: 2, headWidth: 4, chunk: 4, causal: true), length: 15),
    AttentionCase(config: AttentionConfig(kind: .full, heads: 2, headWidth: 4), length: 9),
    AttentionCase(config: AttentionConfig(kind: .full, heads: 2, headWidth: 4, causal: true), length: 70),
    AttentionCase(config: AttentionConfig(kind: .lsh, heads: 2, headWidth: 4, rounds: 2, chunk: 64), length: 11),
    // Look-back heads (the first head of two, or both): keys at least 2 groups of 3 earlier, plus the null key.
    AttentionCase(config: AttentionConfig(kind: .lsh, heads: 2, headWidth: 4, rounds: 2, chunk: 4, buckets: 4,
                                          lookBack: .init(heads: 1, distance: 2, group: 3)), length: 18),
    AttentionCase(config: AttentionConfig(kind: .lsh, heads: 2, headWidth: 4, rounds: 3, chunk: 5, buckets: 2,
                                          lookBack: .init(heads: 2, distance: 1, group: 2)), length: 17),
    // The same with shifted keys (their own order, `distance` groups later), padded lengths too.
    AttentionCase(config: AttentionConfig(kind: .lsh, heads: 2, headWidth: 4, rounds: 2, chunk: 4, buckets: 4,
                                          lookBack: .init(heads: 1, distance: 2, group: 3, shiftKeys: true)), length: 18),
    AttentionCase(config: AttentionConfig(kind: .lsh, heads: 2, headWidth: 4, rounds: 3, chunk: 5, buckets: 2,
                                          lookBack: .init(heads: 2, distance: 1, group: 2, shiftKeys: true)), length: 17),
    AttentionCase(config: AttentionConfig(kind: .lsh, heads: 3, headWidth: 4, rounds: 2, chunk: 4, buckets: 4,
                                          lookBack: .init(heads: 1, distance: 3, group: 1, shiftKeys: true), localHeads: 1), length: 21),
    AttentionCase(config: AttentionConfig(kind: .local, heads: 2, headWidth: 4, chunk: 4,
                                          lookBack: .init(heads: 1, distance: 1, group: 3)), length: 15),
    AttentionCase(config: AttentionConfig(kind: .full, heads: 2, headWidth: 4, lookBack: .init(heads: 2, distance: 3, group: 2)), length: 14),
    // Mixed heads: a hashed look-back head, a hashed head and a local head; and a causal half-local layer.
    AttentionCase(config: AttentionConfig(kind: .lsh, heads: 3, headWidth: 4, rounds: 2, chunk: 4, buckets: 4,
                                          lookBack: .init(heads: 1, distance: 2, group: 3), localHeads: 1), length: 18),
    AttentionCase(config: AttentionConfig(kind: .lsh, heads: 2, headWidth: 4, rounds: 3, chunk: 4, buckets: 4, causal: true,
                                          localHeads: 1), length: 15),
]

@Suite struct AttentionTests {
    @Test(arguments: attentionCases)
    func forwardMatchesTheDoubleReference(c: AttentionCase) {
        let (layer, x, _) = makeLayer(c)
        let (y, cache) = layer.forward(x, hashSeed: 3)
        let want = Reference.attention(x: x.doubles, wqk: layer.wqk.weight.value.doubles, wv: layer.wv.weight.value.doubles,
                                       wo: layer.wo.weight.value.doubles, width: c.width, length: c.length,
                                       config: c.config, buckets: cache.buckets)
        let err = relativeNormError(y.doubles, want)
        #expect(err < 1e-5, "\(c): relative error \(err)")
    }

    /// The analytic Float gradients against central differences of the Double reference
    /// (buckets held fixed, as the backward holds them): tolerance 1e-3 in relative norm,
    /// far above Float rounding (~1e-6 here) and far below any real mistake (O(1)).
    @Test(arguments: attentionCases)
    func backwardMatchesFiniteDifferencesOfTheReference(c: AttentionCase) {
        let (layer, x, upstream) = makeLayer(c)
        let (_, cache) = layer.forward(x, hashSeed: 3)
        layer.zeroGrads()
        let (dx, _) = layer.backward(x, dy: upstream, cache: cache)
        let G = upstream.doubles
        let wqk = layer.wqk.weight.value.doubles, wv = layer.wv.weight.value.doubles, wo = layer.wo.weight.value.doubles
        let xd = x.doubles
        func loss(_ x: [Double], _ a: [Double], _ b: [Double], _ o: [Double]) -> Double {
            let y = Reference.attention(x: x, wqk: a, wv: b, wo: o, width: c.width, length: c.length, config: c.config, buckets: cache.buckets)
            return zip(y, G).map(*).reduce(0, +)
        }
        let eps = 1e-5
        // Every input coordinate, and a fixed random third of each weight matrix.
        var pick = SeededGenerator(seed: 1)
        func some(_ n: Int) -> [Int] { (0..<n).filter { _ in pick.next() % 3 == 0 } }
        let gx = numericGradient(xd, eps: eps) { loss($0, wqk, wv, wo) }
        #expect(relativeNormError(dx.doubles, gx) < 1e-3, "\(c) dx: \(relativeNormError(dx.doubles, gx))")
        func check(_ name: String, _ analytic: Tensor, _ values: [Double], _ f: ([Double]) -> Double) {
            let idx = some(values.count)
            let numeric = numericGradient(values, eps: eps, indices: idx, f)
            let a = idx.map { Double(analytic.scalars[$0]) }, n = idx.map { numeric[$0] }
            let err = relativeNormError(a, n)
            #expect(err < 1e-3, "\(c) \(name): \(err)")
        }
        check("dWqk", layer.wqk.weight.grad, wqk) { loss(xd, $0, wv, wo) }
        check("dWv", layer.wv.weight.grad, wv) { loss(xd, wqk, $0, wo) }
        check("dWo", layer.wo.weight.grad, wo) { loss(xd, wqk, wv, $0) }
    }

    /// An LSH layer whose heads are all local computes exactly what a local layer with the same
    /// weights does (bit for bit: same kernels, same layout), whatever the hash seed.
    @Test func allLocalHeadsEqualLocalAttention() {
        let lsh = AttentionCase(config: AttentionConfig(kind: .lsh, heads: 2, headWidth: 4, rounds: 2, chunk: 4, buckets: 4,
                                                        localHeads: 2), length: 17)
        var local = lsh
        local.config.kind = .local
        local.config.localHeads = nil
        let (a, x, _) = makeLayer(lsh), (b, _, _) = makeLayer(local)
        let (ya, cache) = a.forward(x, hashSeed: 5), (yb, _) = b.forward(x, hashSeed: 6)
        #expect(ya.scalars == yb.scalars)
        #expect(cache.buckets.allSatisfy { $0 == 0 }, "local heads hash nothing")
        // One local head of two: the hashed head still follows its buckets, so the outputs differ.
        var half = lsh
        half.config.localHeads = 1
        let (c, _, _) = makeLayer(half)
        #expect(c.forward(x, hashSeed: 5).0.scalars != yb.scalars)
    }

    @Test func bucketOrderEqualsAReferenceStableSort() {
        var g = SeededGenerator(seed: 11)
        for trial in 0..<100 {
            let length = [1, 2, 7, 64, 100, 333][trial % 6]
            let rounds = 1 + trial % 3
            let nb = [2, 4, 8, 16][trial % 4]
            let buckets = (0..<(rounds * length)).map { _ in Int32(g.next() % UInt64(nb)) }
            let config = AttentionConfig(kind: .lsh, heads: 1, headWidth: 4, rounds: rounds, chunk: 4, buckets: nb)
            let layout = buckets.withUnsafeBufferPointer { b in
                AttentionLayout(length: length, rounds: rounds, chunk: 4, queryBlock: 4, padded: (length + 3) / 4 * 4,
                                neighbours: [-1, 0], wraps: true, buckets: b.baseAddress!, bucketCount: config.bucketCount(length: length))
            }
            for r in 0..<rounds {
                let b = Array(buckets[(r * length)..<((r + 1) * length)])
                let want = (0..<length).sorted { (b[$0], $0) < (b[$1], $1) }
                let got = (0..<length).map { Int(layout.order[r * layout.paddedLength + $0]) }
                #expect(got == want, "trial \(trial)")
                for t in 0..<length { #expect(Int(layout.order[layout.slot(round: r, position: t)]) == t) }
            }
        }
    }

    /// Shifted keys: each round holds every position once as a query and once as a key, the
    /// inverse finds each query's slot, and within a bucket the keys before a query are exactly
    /// those it may see (at least `distance` groups earlier) — none of the others.
    @Test func shiftedKeysPrecedeExactlyTheQueriesThatMaySeeThem() {
        var g = SeededGenerator(seed: 5)
        for trial in 0..<60 {
            let length = [1, 5, 17, 64, 101][trial % 5], rounds = 1 + trial % 2, nb = [2, 4, 8][trial % 3]
            let (distance, group) = ([1, 2, 5][trial % 3], [1, 3, 16][trial % 3])
            let buckets = (0..<(rounds * length)).map { _ in Int32(g.next() % UInt64(nb)) }
            let layout = buckets.withUnsafeBufferPointer { b in
                AttentionLayout(length: length, rounds: rounds, chunk: 4, buckets: b.baseAddress!, bucketCount: nb,
                                shift: (distance, group))
            }
            let keys = layout.keyOrder!
            #expect(layout.paddedLength == (2 * length + 3) / 4 * 4)
            for r in 0..<rounds {
                let base = r * layout.paddedLength
                let q = (0..<layout.paddedLength).map { Int(layout.order[base + $0]) }
                let k = (0..<layout.paddedLength).map { Int(keys[base + $0]) }
                #expect(q.filter { $0 >= 0 }.sorted() == Array(0..<length) && k.filter { $0 >= 0 }.sorted() == Array(0..<length))
                #expect(zip(q, k).allSatisfy { $0 < 0 || $1 < 0 }, "a slot holds a query or a key, not both")
                for t in 0..<length { #expect(Int(layout.order[layout.slot(round: r, position: t)]) == t) }
                let bucket = { (p: Int) in Int(buckets[r * length + p]) }
                for (slot, pq) in q.enumerated() where pq >= 0 {
                    let before = Set(k[..<slot].filter { $0 >= 0 && bucket($0) == bucket(pq) })
                    let visible = Set((0..<length).filter { bucket($0) == bucket(pq) && $0 / group <= pq / group - distance })
                    #expect(before == visible, "trial \(trial) round \(r) query \(pq)")
                }
            }
        }
    }

    /// Why keys are shifted: one bucket holding 40 alike tokens, a look-back of 8. Sharing one
    /// order, the last query's two chunks hold only its recent past (nothing it may see); with
    /// shifted keys they hold the latest tokens it may see (four: in this steady bucket queries
    /// and keys alternate, so half of the eight slots are keys).
    @Test func shiftedKeysReachPastARecentCrowd() {
        let length = 40
        let buckets = [Int32](repeating: 0, count: length)
        let config = AttentionConfig(kind: .lsh, heads: 1, headWidth: 4, rounds: 1, chunk: 4, buckets: 2,
                                     lookBack: .init(heads: 1, distance: 8, group: 1))
        let mask = config.mask(head: 0)
        func visibleKeys(_ layout: AttentionLayout) -> [Int] {
            let slot = layout.slot(round: 0, position: length - 1)
            let keys = layout.keyOrder ?? layout.order
            return layout.keyChunks(forBlock: slot / layout.queryBlock).flatMap { j in
                (0..<layout.chunk).map { Int(keys[j * layout.chunk + $0]) }
            }.filter { $0 >= 0 && $0 <= length - 1 - mask.lookBack }.sorted()
        }
        let shared = buckets.withUnsafeBufferPointer { AttentionLayout.make(config: config, length: length, buckets: $0.baseAddress!) }
        var shiftedConfig = config
        shiftedConfig.lookBack?.shiftKeys = true
        let shifted = buckets.withUnsafeBufferPointer {
            AttentionLayout.make(config: shiftedConfig, length: length, buckets: $0.baseAddress!, shift: shiftedConfig.keyShift(head: 0))
        }
        #expect(visibleKeys(shared).isEmpty)
        #expect(visibleKeys(shifted) == Array(28...31))
    }

    @Test func oneRoundWithChunkCoveringTheSequenceEqualsFullAttention() {
        var g = SeededGenerator(seed: 5)
        for length in [1, 2, 7, 30] {
            let width = 4
            let qk = Tensor(randomNormal: [length, width], std: 1, generator: &g)
            let v = Tensor(randomNormal: [length, width], std: 1, generator: &g)
            var khat = qk
            khat.withUnsafeMutableBufferPointer { k in
                for t in 0..<length {
                    var s: Float = 0
                    for c in 0..<width { s += k[t * width + c] * k[t * width + c] }
                    for c in 0..<width { k[t * width + c] /= (s + 1e-12).squareRoot() }
                }
            }
            let buckets = (0..<length).map { _ in Int32(g.next() % 4) }
            let chunk = 32
            let hashed = buckets.withUnsafeBufferPointer { b in
                AttentionLayout(length: length, rounds: 1, chunk: chunk, queryBlock: chunk, padded: chunk,
                                neighbours: [-1, 0], wraps: true, buckets: b.baseAddress!, bucketCount: 4)
            }
            let full = AttentionLayout.make(config: AttentionConfig(kind: .full), length: length, buckets: nil)
            func run(_ layout: AttentionLayout) -> [Float] {
                var out = [Float](repeating: 0, count: layout.slotCount * width)
                var lse = [Float](repeating: 0, count: layout.slotCount)
                qk.withUnsafeBufferPointer { q in khat.withUnsafeBufferPointer { k in v.withUnsafeBufferPointer { vv in
                    ChunkedAttention.forward(layout: layout, width: width, mask: AttentionMask(), qk: q.baseAddress!, khat: k.baseAddress!,
                                             v: vv.baseAddress!, out: &out, lse: &lse)
                } } }
                var unsorted = [Float](repeating: 0, count: length * width)
                for t in 0..<length { for c in 0..<width { unsorted[t * width + c] = out[layout.slot(round: 0, position: t) * width + c] } }
                return unsorted
            }
            let a = run(hashed), b = run(full)
            #expect(relativeNormError(a.map(Double.init), b.map(Double.init)) < 1e-6, "L=\(length)")
        }
    }

    /// A look-back head's null key: queries with no key far enough back (the first two frames of
    /// three tokens) get exactly zero; with every far key visible (full attention) the rest do not.
    @Test(arguments: [AttentionKind.full, .lsh])
    func lookBackHeadsReturnZeroWithNothingFarEnoughBack(kind: AttentionKind) {
        let back = AttentionConfig.LookBack(heads: 1, distance: 2, group: 3)
        let c = AttentionCase(config: AttentionConfig(kind: kind, heads: 1, headWidth: 4, rounds: 2, chunk: 4, buckets: 2, lookBack: back),
                              length: 24)
        let (layer, x, _) = makeLayer(c)
        let (y, _) = layer.forward(x, hashSeed: 1)
        for t in 0..<c.length {
            let norm = (0..<c.width).map { Double(y.scalars[t * c.width + $0]) }.map { $0 * $0 }.reduce(0, +)
            if t < 6 { #expect(norm == 0, "position \(t) sees nothing yet must be zero, norm² \(norm)") }
        }
        // Full attention sees every far key: the output is exactly P·V with the null key in P.
        if kind == .full {
            let later = (6..<c.length).filter { t in (0..<c.width).contains { y.scalars[t * c.width + $0] != 0 } }
            #expect(later.count == c.length - 6)
        }
    }

    @Test func sameSeedSameOutputBitForBit() {
        let c = AttentionCase(config: AttentionConfig(kind: .lsh, heads: 2, headWidth: 8, rounds: 2, chunk: 8), length: 200, width: 16)
        let (layer, x, _) = makeLayer(c)
        let (a, ca) = layer.forward(x, hashSeed: 42)
        let (b, cb) = layer.forward(x, hashSeed: 42)
        #expect(a.scalars == b.scalars)
        #expect(ca.buckets == cb.buckets)
        let (_, cc) = layer.forward(x, hashSeed: 43)
        #expect(cc.buckets != ca.buckets, "another seed draws other rotations")
        let (layer2, _, _) = makeLayer(c)
        #expect(layer2.forward(x, hashSeed: 42).0.scalars == a.scalars, "a rebuilt layer with the same seeds agrees")
    }

    @Test func bucketsAreBalancedAndInRange() {
        let c = AttentionCase(config: AttentionConfig(kind: .lsh, heads: 1, headWidth: 16, rounds: 2, chunk: 16), length: 4096, width: 16)
        let (layer, x, _) = makeLayer(c)
        let (_, cache) = layer.forward(x)
        let nb = c.config.bucketCount(length: c.length)
        #expect(nb == 512)
        #expect(cache.buckets.allSatisfy { $0 >= 0 && Int($0) < nb })
        #expect(Set(cache.buckets).count > nb / 2, "random rotations spread tokens over most buckets")
    }
}
