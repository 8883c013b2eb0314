import TensorCore
#if canImport(Glibc)
import Glibc
#endif

/// The attention arithmetic of one head over a layout, shared by LSH, local and full attention.
///
/// Queries are the shared-QK vectors as they are; keys are the same vectors at unit length
/// (`k̂`); scores `q·k̂` carry no extra scale (the query norm is a learned temperature).
/// A token's own key is penalised by `selfPenalty` (used only when nothing else is visible),
/// padding and (causal) future keys by `maskPenalty`. A look-back mask instead hides every key
/// less than `lookBack` groups before the query and adds a null key (score 0, value 0) to the
/// softmax, so `lse` includes it and a query with nothing visible returns zero.
public enum ChunkedAttention {
    public static let selfPenalty: Float = 1e5
    public static let maskPenalty: Float = 1e9

    /// Per-block scratch, gathered rows of one query block and its keys.
    struct Scratch {
        var q: [Float], k: [Float], v: [Float], s: [Float], dp: [Float], o: [Float], d: [Float]
        var qpos: [Int32], kpos: [Int32]
        init(layout: AttentionLayout, width: Int, backward: Bool) {
            let maxKeys = layout.neighbours.count * layout.chunk
            let qb = layout.queryBlock
            q = [Float](repeating: 0, count: qb * width)
            k = [Float](repeating: 0, count: maxKeys * width)
            v = [Float](repeating: 0, count: maxKeys * width)
            s = [Float](repeating: 0, count: qb * maxKeys)
            dp = backward ? [Float](repeating: 0, count: qb * maxKeys) : []
            o = backward ? [Float](repeating: 0, count: maxKeys * width) : []
            d = backward ? [Float](repeating: 0, count: maxKeys * width) : []
            qpos = [Int32](repeating: -1, count: qb)
            kpos = [Int32](repeating: -1, count: maxKeys)
        }
    }

    /// Gathers a block's queries and keys, and computes `P = softmax(masked q·k̂)` into `s`;
    /// returns the key count. With `lse` given, uses it instead of computing each row's.
    @inline(__always)
    static func scores(block: Int, layout: AttentionLayout, width: Int, mask: AttentionMask,
                       qk: UnsafePointer<Float>, khat: UnsafePointer<Float>, v: UnsafePointer<Float>,
                       scratch: inout Scratch, lseIn: UnsafePointer<Float>?, lseOut: UnsafeMutablePointer<Float>?) -> Int {
        let qb = layout.queryBlock
        let firstSlot = block * qb
        var nk = 0
        layout.order.withUnsafeBufferPointer { order in
            scratch.qpos.withUnsafeMutableBufferPointer { qpos in
                scratch.q.withUnsafeMutableBufferPointer { q in
                    for i in 0..<qb {
                        let p = order[firstSlot + i]
                        qpos[i] = p
                        let dst = q.baseAddress! + i * width
                        if p >= 0 { dst.update(from: qk + Int(p) * width, count: width) } else { dst.update(repeating: 0, count: width) }
                    }
                }
            }
        }
        // Keys come from the same order, or from their own when the layout shifts them.
        (layout.keyOrder ?? layout.order).withUnsafeBufferPointer { keyOrder in
            scratch.kpos.withUnsafeMutableBufferPointer { kpos in
                scratch.k.withUnsafeMutableBufferPointer { k in
                    scratch.v.withUnsafeMutableBufferPointer { vv in
                        for j in layout.keyChunks(forBlock: block) {
                            for i in 0..<layout.chunk {
                                let p = keyOrder[j * layout.chunk + i]
                                kpos[nk] = p
                                let kd = k.baseAddress! + nk * width, vd = vv.baseAddress! + nk * width
                                if p >= 0 {
                                    kd.update(from: khat + Int(p) * width, count: width)
                                    vd.update(from: v + Int(p) * width, count: width)
                                } else {
                                    kd.update(repeating: 0, count: width)
                                    vd.update(repeating: 0, count: width)
                                }
                                nk += 1
                            }
                        }
                    }
                }
            }
        }
        let keys = nk
        scratch.q.withUnsafeBufferPointer { q in
            scratch.k.withUnsafeBufferPointer { k in
                scratch.s.withUnsafeMutableBufferPointer { s in
                    BLAS.gemm(q.baseAddress!, k.baseAddress!, transB: true, s.baseAddress!,
                              m: qb, n: keys, k: width, parallel: false)
                    scratch.qpos.withUnsafeBufferPointer { qpos in
                        scratch.kpos.withUnsafeBufferPointer { kpos in
                            for i in 0..<qb {
                                let row = s.baseAddress! + i * keys
                                let pq = qpos[i]
                                let kp = kpos.baseAddress!
                                // Branch-free selects so the loop vectorises.
                                if mask.lookBack > 0 {
                                    // Visible: a real key whose group is at most the query's group minus lookBack.
                                    let g = Int32(mask.group)
                                    let limit = pq < 0 ? Int32(-1) : (pq / g - Int32(mask.lookBack) + 1) * g - 1
                                    for j in 0..<keys {
                                        let pk = kp[j]
                                        row[j] -= (pk < 0 || pk > limit) ? maskPenalty : 0
                                    }
                                } else if mask.causal {
                                    for j in 0..<keys {
                                        let pk = kp[j]
                                        row[j] -= (pk < 0 || pk > pq) ? maskPenalty : (pk == pq ? selfPenalty : 0)
                                    }
                                } else {
                                    for j in 0..<keys {
                                        let pk = kp[j]
                                        row[j] -= pk < 0 ? maskPenalty : (pk == pq ? selfPenalty : 0)
                                    }
                                }
                                if let lseIn {
                                    let l = lseIn[firstSlot + i]
                                    Kernels.expShifted(row, keys, shift: l)
                                } else {
                                    var l = Kernels.softmaxRow(row, keys)
                                    if mask.lookBack > 0 {
                                        // Fold in the null key: lse' = log(e^lse + e^0), P ← P·e^(lse − lse').
                                        let withNull = l > 0 ? l + log1pf(expf(-l)) : log1pf(expf(l))
                                        let scale = expf(l - withNull)
                                        for j in 0..<keys { row[j] *= scale }
                                        l = withNull
                                    }
                                    lseOut![firstSlot + i] = l
                                }
                            }
                        }
                    }
                }
            }
        }
        return keys
    }

    /// Forward over all slots: `out[slot] = Σ P·V` and `lse[slot]` (`slotCount x width`, `slotCount`).
    public static func forward(layout: AttentionLayout, width: Int, mask: AttentionMask,
                               qk: UnsafePointer<Float>, khat: UnsafePointer<Float>, v: UnsafePointer<Float>,
                               out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>) {
        let blocks = layout.slotCount / layout.queryBlock
        nonisolated(unsafe) let (qk, khat, v, out, lse) = (qk, khat, v, out, lse)
        Parallel.forEachChunk(blocks) { range in
            var scratch = Scratch(layout: layout, width: width, backward: false)
            for block in range {
                let keys = scores(block: block, layout: layout, width: width, mask: mask, qk: qk, khat: khat, v: v,
                                  scratch: &scratch, lseIn: nil, lseOut: lse)
                scratch.s.withUnsafeBufferPointer { s in
                    scratch.v.withUnsafeBufferPointer { vv in
                        BLAS.gemm(s.baseAddress!, vv.baseAddress!, out + block * layout.queryBlock * width,
                                  m: layout.queryBlock, n: width, k: keys, parallel: false)
                    }
                }
            }
        }
    }

    /// Backward: given `dOut` and `dLse` per slot, accumulates into position-indexed `dq`, `dkhat`,
    /// `dv` (`length x width`). Each worker sums into private buffers, added in a fixed order, so
    /// results do not depend on scheduling.
    public static func backward(layout: AttentionLayout, width: Int, mask: AttentionMask,
                                qk: UnsafePointer<Float>, khat: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                lse: UnsafePointer<Float>,
                                dOut: UnsafePointer<Float>, dLse: UnsafePointer<Float>,
                                dq: UnsafeMutablePointer<Float>, dkhat: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>) {
        let blocks = layout.slotCount / layout.queryBlock
        let parts = Parallel.partCount(blocks)
        let n = layout.length * width
        // Part 0 writes straight into the outputs; the others into private buffers.
        var privateBuffers = [[Float]](repeating: [], count: max(0, parts - 1))
        for i in privateBuffers.indices { privateBuffers[i] = [Float](repeating: 0, count: 3 * n) }
        let qb = layout.queryBlock
        privateBuffers.withUnsafeMutableBufferPointer { buffers in
            nonisolated(unsafe) let (qk, khat, v, lse, dOut, dLse, dq, dkhat, dv) = (qk, khat, v, lse, dOut, dLse, dq, dkhat, dv)
            nonisolated(unsafe) let buffers = buffers
            Parallel.forEachPart(blocks) { part, range in
                let (tq, tk, tv): (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>)
                if part == 0 {
                    (tq, tk, tv) = (dq, dkhat, dv)
                } else {
                    let base = buffers[part - 1].withUnsafeMutableBufferPointer { $0.baseAddress! }
                    (tq, tk, tv) = (base, base + n, base + 2 * n)
                }
                var scratch = Scratch(layout: layout, width: width, backward: true)
                for block in range {
                    let keys = scores(block: block, layout: layout, width: width, mask: mask, qk: qk, khat: khat, v: v,
                                      scratch: &scratch, lseIn: lse, lseOut: nil)
                    let first = block * qb
                    let dO = dOut + first * width
                    scratch.s.withUnsafeMutableBufferPointer { sb in
                        scratch.dp.withUnsafeMutableBufferPointer { dpb in
                            scratch.v.withUnsafeBufferPointer { vb in
                                scratch.k.withUnsafeBufferPointer { kb in
                                    scratch.q.withUnsafeBufferPointer { qbuf in
                                        scratch.o.withUnsafeMutableBufferPointer { ob in
                                            scratch.d.withUnsafeMutableBufferPointer { db in
                                                let p = sb.baseAddress!, dp = dpb.baseAddress!
                                                // dV = Pᵀ·dO, dP = dO·Vᵀ
                                                BLAS.gemm(p, transA: true, dO, db.baseAddress!, m: keys, n: width, k: qb, parallel: false)
                                                BLAS.gemm(dO, vb.baseAddress!, transB: true, dp, m: qb, n: keys, k: width, parallel: false)
                                                // dS = P ⊙ (dP − Σ_j P·dP + dlse)
                                                for i in 0..<qb {
                                                    let pr = p + i * keys, dr = dp + i * keys
                                                    var dot: Float = 0
                                                    for j in 0..<keys { dot += pr[j] * dr[j] }
                                                    let shift = dLse[first + i] - dot
                                                    for j in 0..<keys { dr[j] = pr[j] * (dr[j] + shift) }
                                                }
                                                // dQ = dS·K̂ (into ob's first rows), dK̂ = dSᵀ·Q
                                                BLAS.gemm(dp, kb.baseAddress!, ob.baseAddress!, m: qb, n: width, k: keys, parallel: false)
                                                scratch.qpos.withUnsafeBufferPointer { qpos in
                                                    for i in 0..<qb where qpos[i] >= 0 {
                                                        let dst = tq + Int(qpos[i]) * width, src = ob.baseAddress! + i * width
                                                        for c in 0..<width { dst[c] += src[c] }
                                                    }
                                                }
                                                BLAS.gemm(dp, transA: true, qbuf.baseAddress!, ob.baseAddress!, m: keys, n: width, k: qb, parallel: false)
                                                scratch.kpos.withUnsafeBufferPointer { kpos in
                                                    for j in 0..<keys where kpos[j] >= 0 {
                                                        let p = Int(kpos[j]) * width
                                                        let sk = ob.baseAddress! + j * width, sv = db.baseAddress! + j * width
                                                        for c in 0..<width { tk[p + c] += sk[c]; tv[p + c] += sv[c] }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        for buffer in privateBuffers {
            buffer.withUnsafeBufferPointer { b in
                let base = b.baseAddress!
                for i in 0..<n { dq[i] += base[i]; dkhat[i] += base[n + i]; dv[i] += base[2 * n + i] }
            }
        }
    }
}
