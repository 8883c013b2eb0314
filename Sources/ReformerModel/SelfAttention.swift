import TensorCore
#if canImport(Glibc)
import Glibc
#endif

/// What a forward pass must leave for its backward: the bucket ids (ints, `heads x rounds x L`),
/// nothing else — everything else is recomputed.
public struct AttentionCache: Sendable {
    public var buckets: [Int32]
    public var length: Int
    public init(buckets: [Int32] = [], length: Int = 0) { self.buckets = buckets; self.length = length }
}

/// Multi-head self-attention with a shared query-key projection and no biases:
/// `qk = x·Wqk`, `v = x·Wv`, per head attention over a layout, heads concatenated, `·Wo`.
public final class SelfAttention: ParameterContainer {
    public let config: AttentionConfig
    public let width: Int
    public let wqk: Linear, wv: Linear, wo: Linear
    /// Seeds this layer's hash rotations; combined with the per-call seed.
    public let seed: UInt64

    public init(_ name: String, width: Int, config: AttentionConfig, seed: UInt64, generator: inout SeededGenerator) {
        self.config = config
        self.width = width
        self.seed = seed
        let inner = config.heads * config.headWidth
        wqk = Linear("\(name).wqk", width, inner, bias: false, generator: &generator)
        wv = Linear("\(name).wv", width, inner, bias: false, generator: &generator)
        wo = Linear("\(name).wo", inner, width, bias: false, generator: &generator)
    }

    public var parameters: [Parameter] { [wqk.weight, wv.weight, wo.weight] }

    /// `x`: `[L, width]` (already normalised). Returns `[L, width]` and the cache for backward.
    /// `hashSeed` picks this call's rotations; pass `cache` to reuse earlier buckets instead.
    public func forward(_ x: Tensor, hashSeed: UInt64 = 0, reuse cache: AttentionCache? = nil) -> (Tensor, AttentionCache) {
        let length = x.rows
        let qk = wqk(x), v = wv(x)
        let buckets = cache?.buckets ?? computeBuckets(qk, length: length, hashSeed: hashSeed)
        var combined = Tensor(zeros: [length, config.heads * config.headWidth])
        for h in 0..<config.heads {
            var head = HeadState(self, head: h, qk: qk, v: v, length: length, buckets: buckets)
            head.forward()
            head.combine(into: &combined)
        }
        return (wo(combined), AttentionCache(buckets: buckets, length: length))
    }

    /// Accumulates parameter gradients; returns `dx` and, recomputed on the way, the forward's
    /// output (the reversible backward needs it). `x` is the same input the forward saw.
    @discardableResult
    public func backward(_ x: Tensor, dy: Tensor, cache: AttentionCache) -> (dx: Tensor, output: Tensor) {
        let length = x.rows
        let inner = config.heads * config.headWidth
        let qk = wqk(x), v = wv(x)
        var dqk = Tensor(zeros: [length, inner]), dv = Tensor(zeros: [length, inner])
        let dk = config.headWidth
        var combined = Tensor(zeros: [length, inner])
        for h in 0..<config.heads {
            var head = HeadState(self, head: h, qk: qk, v: v, length: length, buckets: cache.buckets)
            head.forward()
            head.combine(into: &combined)
            var out = Tensor(zeros: [length, dk])
            head.combine(into: &out, column: 0, stride: dk)
            // dWo[h] += out_hᵀ·dy ; dOut_h = dy·Wo[h]ᵀ
            var dOut = Tensor(zeros: [length, dk])
            out.withUnsafeBufferPointer { o in
                dy.withUnsafeBufferPointer { g in
                    wo.weight.grad.withUnsafeMutableBufferPointer { gw in
                        BLAS.gemm(o.baseAddress!, transA: true, g.baseAddress!, gw.baseAddress! + h * dk * width,
                                  m: dk, n: width, k: length, beta: 1)
                    }
                    wo.weight.value.withUnsafeBufferPointer { w in
                        dOut.withUnsafeMutableBufferPointer { d in
                            BLAS.gemm(g.baseAddress!, w.baseAddress! + h * dk * width, transB: true, d.baseAddress!,
                                      m: length, n: dk, k: width)
                        }
                    }
                }
            }
            head.backward(dOut: dOut, dqk: &dqk, dv: &dv)
        }
        var dx = Tensor(zeros: [length, width])
        x.withUnsafeBufferPointer { xp in
            dx.withUnsafeMutableBufferPointer { dxp in
                dqk.withUnsafeBufferPointer { g in wqk.backward(xp.baseAddress!, dy: g.baseAddress!, rows: length, dx: dxp.baseAddress!) }
                dv.withUnsafeBufferPointer { g in wv.backward(xp.baseAddress!, dy: g.baseAddress!, rows: length, dx: dxp.baseAddress!, accumulate: true) }
            }
        }
        return (dx, wo(combined))
    }

    /// Bucket ids for all heads (empty when this length needs no hashing).
    public func computeBuckets(_ qk: Tensor, length: Int, hashSeed: UInt64) -> [Int32] {
        guard config.usesHashing(length: length) else { return [] }
        let dk = config.headWidth, rounds = config.rounds
        let nb = config.bucketCount(length: length)
        var all = [Int32](repeating: 0, count: config.heads * rounds * length)
        for h in 0..<config.heads where config.forHead(h).usesHashing(length: length) {
            let head = Self.column(qk, head: h, width: dk)
            let ids = head.withUnsafeBufferPointer { p in
                LSHHashing.buckets(p.baseAddress!, length: length, width: dk, rounds: rounds, bucketCount: nb,
                                   seed: SeededGenerator.derive(SeededGenerator.derive(seed, UInt64(h)), hashSeed))
            }
            all.replaceSubrange((h * rounds * length)..<((h + 1) * rounds * length), with: ids)
        }
        return all
    }

    /// One head's columns as a contiguous `[L, width]` tensor.
    static func column(_ t: Tensor, head: Int, width: Int) -> Tensor {
        let rows = t.rows, stride = t.columns
        var out = Tensor(zeros: [rows, width])
        t.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for r in 0..<rows {
                    (dst.baseAddress! + r * width).update(from: src.baseAddress! + r * stride + head * width, count: width)
                }
            }
        }
        return out
    }
}

/// One head's working state: its vectors, unit keys, layout, and per-slot results.
struct HeadState {
    let config: AttentionConfig
    let head: Int
    let length: Int, width: Int
    var qk: Tensor, v: Tensor
    /// `k̂ = qk / sqrt(|qk|² + ε)` and the factor `1/sqrt(|qk|² + ε)`.
    var khat: Tensor
    var inverseNorm: [Float]
    var layout: AttentionLayout
    var out: [Float] = []
    var lse: [Float] = []

    static let normEpsilon: Float = 1e-12

    init(_ layer: SelfAttention, head: Int, qk allQK: Tensor, v allV: Tensor, length: Int, buckets: [Int32]) {
        config = layer.config.forHead(head)
        self.head = head
        self.length = length
        width = config.headWidth
        qk = SelfAttention.column(allQK, head: head, width: width)
        v = SelfAttention.column(allV, head: head, width: width)
        var unit = qk
        var inverse = [Float](repeating: 0, count: length)
        let w = width
        unit.withUnsafeMutableBufferPointer { k in
            inverse.withUnsafeMutableBufferPointer { inv in
                for t in 0..<length {
                    let row = k.baseAddress! + t * w
                    var s: Float = 0
                    for c in 0..<w { s += row[c] * row[c] }
                    let f = 1 / (s + HeadState.normEpsilon).squareRoot()
                    inv[t] = f
                    for c in 0..<w { row[c] *= f }
                }
            }
        }
        khat = unit
        inverseNorm = inverse
        let rounds = config.rounds
        let cfg = config
        if cfg.usesHashing(length: length) {
            layout = buckets.withUnsafeBufferPointer { b in
                AttentionLayout.make(config: cfg, length: length, buckets: b.baseAddress! + head * rounds * length,
                                     shift: layer.config.keyShift(head: head))
            }
        } else {
            layout = AttentionLayout.make(config: cfg, length: length, buckets: nil)
        }
    }

    mutating func forward() {
        out = [Float](repeating: 0, count: layout.slotCount * width)
        lse = [Float](repeating: 0, count: layout.slotCount)
        let (layout, width, mask) = (self.layout, self.width, config.mask(head: head))
        qk.withUnsafeBufferPointer { q in
            khat.withUnsafeBufferPointer { k in
                v.withUnsafeBufferPointer { vv in
                    out.withUnsafeMutableBufferPointer { o in
                        lse.withUnsafeMutableBufferPointer { l in
                            ChunkedAttention.forward(layout: layout, width: width, mask: mask, qk: q.baseAddress!,
                                                     khat: k.baseAddress!, v: vv.baseAddress!, out: o.baseAddress!, lse: l.baseAddress!)
                        }
                    }
                }
            }
        }
    }

    /// Unsorts and combines rounds with weights `softmax_r(lse)`, writing columns
    /// `column ..< column + width` of `target` (rows of `stride` floats).
    func combine(into target: inout Tensor, column: Int? = nil, stride: Int? = nil) {
        let col = column ?? head * width
        let rowStride = stride ?? target.columns
        let rounds = layout.rounds, w = width
        var weights = [Float](repeating: 0, count: rounds)
        target.withUnsafeMutableBufferPointer { dst in
            out.withUnsafeBufferPointer { o in
                lse.withUnsafeBufferPointer { l in
                    for t in 0..<length {
                        roundWeights(t, l.baseAddress!, &weights)
                        let d = dst.baseAddress! + t * rowStride + col
                        for c in 0..<w { d[c] = 0 }
                        for r in 0..<rounds {
                            let src = o.baseAddress! + layout.slot(round: r, position: t) * w
                            let wr = weights[r]
                            for c in 0..<w { d[c] += wr * src[c] }
                        }
                    }
                }
            }
        }
    }

    @inline(__always)
    func roundWeights(_ t: Int, _ l: UnsafePointer<Float>, _ weights: inout [Float]) {
        let rounds = layout.rounds
        if rounds == 1 { weights[0] = 1; return }
        var m = -Float.infinity
        for r in 0..<rounds { m = max(m, l[layout.slot(round: r, position: t)]) }
        var s: Float = 0
        for r in 0..<rounds { let e = Kernels.exp(l[layout.slot(round: r, position: t)] - m); weights[r] = e; s += e }
        for r in 0..<rounds { weights[r] /= s }
    }

    /// Backward through the round combination, the chunked attention and the key normalisation;
    /// adds this head's columns of `dqk` and `dv`.
    func backward(dOut: Tensor, dqk: inout Tensor, dv: inout Tensor) {
        let rounds = layout.rounds, w = width, n = layout.slotCount
        var dSlot = [Float](repeating: 0, count: n * w)
        var dLse = [Float](repeating: 0, count: n)
        var weights = [Float](repeating: 0, count: rounds)
        var g = [Float](repeating: 0, count: rounds)
        dOut.withUnsafeBufferPointer { dop in
            out.withUnsafeBufferPointer { o in
                lse.withUnsafeBufferPointer { l in
                    dSlot.withUnsafeMutableBufferPointer { ds in
                        dLse.withUnsafeMutableBufferPointer { dl in
                            for t in 0..<length {
                                roundWeights(t, l.baseAddress!, &weights)
                                let d = dop.baseAddress! + t * w
                                var mean: Float = 0
                                for r in 0..<rounds {
                                    let s = layout.slot(round: r, position: t)
                                    let src = o.baseAddress! + s * w
                                    var dot: Float = 0
                                    for c in 0..<w { dot += d[c] * src[c] }
                                    g[r] = dot
                                    mean += weights[r] * dot
                                    let dst = ds.baseAddress! + s * w
                                    for c in 0..<w { dst[c] = weights[r] * d[c] }
                                }
                                if rounds > 1 {
                                    for r in 0..<rounds { dl[layout.slot(round: r, position: t)] = weights[r] * (g[r] - mean) }
                                }
                            }
                        }
                    }
                }
            }
        }
        var dq = [Float](repeating: 0, count: length * w)
        var dk = [Float](repeating: 0, count: length * w)
        var dvh = [Float](repeating: 0, count: length * w)
        let (plan, mask) = (self.layout, config.mask(head: head))
        qk.withUnsafeBufferPointer { q in
            khat.withUnsafeBufferPointer { k in
                v.withUnsafeBufferPointer { vv in
                    lse.withUnsafeBufferPointer { l in
                        dSlot.withUnsafeBufferPointer { ds in
                            dLse.withUnsafeBufferPointer { dl in
                                dq.withUnsafeMutableBufferPointer { dqp in
                                    dk.withUnsafeMutableBufferPointer { dkp in
                                        dvh.withUnsafeMutableBufferPointer { dvp in
                                            ChunkedAttention.backward(layout: plan, width: w, mask: mask,
                                                                      qk: q.baseAddress!, khat: k.baseAddress!, v: vv.baseAddress!,
                                                                      lse: l.baseAddress!, dOut: ds.baseAddress!, dLse: dl.baseAddress!,
                                                                      dq: dqp.baseAddress!, dkhat: dkp.baseAddress!, dv: dvp.baseAddress!)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        // dqk = dq + (dk̂ − k̂ (k̂·dk̂)) / |qk|, into this head's columns.
        let stride = dqk.columns, col = head * w
        khat.withUnsafeBufferPointer { k in
            dqk.withUnsafeMutableBufferPointer { out in
                dv.withUnsafeMutableBufferPointer { outV in
                    for t in 0..<length {
                        let kr = k.baseAddress! + t * w
                        var dot: Float = 0
                        for c in 0..<w { dot += kr[c] * dk[t * w + c] }
                        let f = inverseNorm[t]
                        let o = out.baseAddress! + t * stride + col, ov = outV.baseAddress! + t * stride + col
                        for c in 0..<w {
                            o[c] += dq[t * w + c] + f * (dk[t * w + c] - kr[c] * dot)
                            ov[c] += dvh[t * w + c]
                        }
                    }
                }
            }
        }
    }
}
