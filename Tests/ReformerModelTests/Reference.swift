import Foundation
@testable import ReformerModel
import TensorCore

/// Straightforward Double implementations of the layers, written from the spec with plain
/// loops and a library sort, as the yardstick for the Float kernels and their gradients.
enum Reference {
    static func matmul(_ a: [Double], _ b: [Double], m: Int, k: Int, n: Int) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for p in 0..<k { let av = a[i * k + p]; if av == 0 { continue }; for j in 0..<n { c[i * n + j] += av * b[p * n + j] } } }
        return c
    }

    static func layerNorm(_ x: [Double], gamma: [Double], beta: [Double], d: Int, eps: Double = 1e-5) -> [Double] {
        var out = x
        for r in 0..<(x.count / d) {
            let row = Array(x[(r * d)..<((r + 1) * d)])
            let mean = row.reduce(0, +) / Double(d)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(d)
            for j in 0..<d { out[r * d + j] = (row[j] - mean) / (variance + eps).squareRoot() * gamma[j] + beta[j] }
        }
        return out
    }

    static func gelu(_ x: Double) -> Double { 0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x))) }

    /// Multi-head shared-QK attention exactly as reformer.md describes it, for given buckets.
    static func attention(x: [Double], wqk: [Double], wv: [Double], wo: [Double], width d: Int, length L: Int,
                          config: AttentionConfig, buckets: [Int32]) -> [Double] {
        let H = config.heads, dk = config.headWidth, inner = H * dk
        let qk = matmul(x, wqk, m: L, k: d, n: inner), v = matmul(x, wv, m: L, k: d, n: inner)
        var combined = [Double](repeating: 0, count: L * inner)
        for h in 0..<H {
            let qs = (0..<L).map { t in (0..<dk).map { qk[t * inner + h * dk + $0] } }
            let vs = (0..<L).map { t in (0..<dk).map { v[t * inner + h * dk + $0] } }
            let ks = qs.map { row in
                let n = (row.map { $0 * $0 }.reduce(0, +) + 1e-12).squareRoot(); return row.map { $0 / n }
            }
            func q(_ t: Int) -> [Double] { qs[t] }
            func val(_ t: Int) -> [Double] { vs[t] }
            func khat(_ t: Int) -> [Double] { ks[t] }
            let lookBack = config.lookBack.flatMap { h < $0.heads ? $0 : nil }
            // Build each round's order: a library stable sort by (bucket, position), padded to chunks.
            // The last `localHeads` heads of an LSH layer attend in sliding chunks.
            let localHead = config.kind == .lsh && h >= H - (config.localHeads ?? 0)
            let hashing = !localHead && config.usesHashing(length: L)
            let rounds = hashing ? config.rounds : 1
            var order: [Int] = []
            // Shifted keys: keys get their own order (queries' slots hold -1 there, and the other way round).
            var keyOrder: [Int]? = nil
            let c: Int
            var neighbours: [Int]
            var wraps = false
            if hashing, let back = lookBack, back.shiftKeys == true {
                // Every token twice: a query at its group, a key at its group plus the distance;
                // a library sort by (bucket, group, key before query, position).
                c = config.chunk
                let padded = (2 * L + c - 1) / c * c
                var keys: [Int] = []
                for r in 0..<rounds {
                    let b = (0..<L).map { Int(buckets[(h * rounds + r) * L + $0]) }
                    let items = (0..<L).map { (b[$0], $0 / back.group, 1, $0) } + (0..<L).map { (b[$0], $0 / back.group + back.distance, 0, $0) }
                    let sorted = items.sorted { ($0.0, $0.1, $0.2, $0.3) < ($1.0, $1.1, $1.2, $1.3) }
                    order += sorted.map { $0.2 == 1 ? $0.3 : -1 } + Array(repeating: -1, count: padded - 2 * L)
                    keys += sorted.map { $0.2 == 0 ? $0.3 : -1 } + Array(repeating: -1, count: padded - 2 * L)
                }
                keyOrder = keys
                neighbours = [-1, 0]; wraps = true
            } else if hashing {
                c = config.chunk
                let padded = (L + c - 1) / c * c
                for r in 0..<rounds {
                    let b = (0..<L).map { Int(buckets[(h * rounds + r) * L + $0]) }
                    let sorted = (0..<L).sorted { (b[$0], $0) < (b[$1], $1) }
                    order += sorted + Array(repeating: -1, count: padded - L)
                }
                neighbours = [-1, 0]; wraps = true
            } else if config.kind == .local || localHead {
                c = config.chunk
                let padded = (L + c - 1) / c * c
                order = Array(0..<L) + Array(repeating: -1, count: padded - L)
                neighbours = config.causal ? [-1, 0] : [-1, 0, 1]
            } else {
                c = L
                order = Array(0..<L)
                neighbours = [0]
            }
            let chunks = order.count / c
            var outSlot = [[Double]](repeating: [], count: order.count)
            var lseSlot = [Double](repeating: 0, count: order.count)
            for slot in 0..<order.count {
                let pq = order[slot]
                let chunk = slot / c
                var keyChunks: [Int] = []
                for o in neighbours {
                    var j = chunk + o
                    if j < 0 || j >= chunks { if !wraps { continue }; j = (j % chunks + chunks) % chunks }
                    if !keyChunks.contains(j) { keyChunks.append(j) }
                }
                let query = pq >= 0 ? q(pq) : [Double](repeating: 0, count: dk)
                var scores: [Double] = [], values: [[Double]] = []
                for j in keyChunks {
                    for i in 0..<c {
                        let pk = (keyOrder ?? order)[j * c + i]
                        let key = pk >= 0 ? khat(pk) : [Double](repeating: 0, count: dk)
                        var s = zip(query, key).map(*).reduce(0, +)
                        if let back = lookBack {
                            // Visible only when at least `distance` groups earlier.
                            if pk < 0 || pq < 0 || pk / back.group > pq / back.group - back.distance { s -= 1e9 }
                        } else if pk < 0 || (config.causal && pk > pq) { s -= 1e9 } else if pk == pq { s -= 1e5 }
                        scores.append(s)
                        values.append(pk >= 0 ? val(pk) : [Double](repeating: 0, count: dk))
                    }
                }
                if lookBack != nil {
                    // The null key: score 0, value 0.
                    scores.append(0)
                    values.append([Double](repeating: 0, count: dk))
                }
                let m = scores.max()!
                let lse = m + log(scores.map { exp($0 - m) }.reduce(0, +))
                var o = [Double](repeating: 0, count: dk)
                for (s, vv) in zip(scores, values) { let p = exp(s - lse); for i in 0..<dk { o[i] += p * vv[i] } }
                outSlot[slot] = o
                lseSlot[slot] = lse
            }
            let padded = order.count / rounds
            var slotOf = [[Int]](repeating: [Int](repeating: 0, count: L), count: rounds)
            for (slot, p) in order.enumerated() where p >= 0 { slotOf[slot / padded][p] = slot }
            for t in 0..<L {
                let slots = (0..<rounds).map { slotOf[$0][t] }
                let l = slots.map { lseSlot[$0] }
                let m = l.max()!
                let w = l.map { exp($0 - m) }
                let total = w.reduce(0, +)
                for (r, s) in slots.enumerated() {
                    for i in 0..<dk { combined[t * inner + h * dk + i] += w[r] / total * outSlot[s][i] }
                }
            }
        }
        return matmul(combined, wo, m: L, k: inner, n: d)
    }
}

extension Tensor {
    var doubles: [Double] { scalars.map(Double.init) }
}

/// Central differences of `f` at `x` for the listed coordinates.
func numericGradient(_ x: [Double], eps: Double, indices: [Int]? = nil, _ f: ([Double]) -> Double) -> [Double] {
    var g = [Double](repeating: 0, count: x.count)
    var xp = x
    for i in indices ?? Array(x.indices) {
        let v = xp[i]
        xp[i] = v + eps; let a = f(xp)
        xp[i] = v - eps; let b = f(xp)
        xp[i] = v
        g[i] = (a - b) / (2 * eps)
    }
    return g
}

func randomDoubles(_ n: Int, std: Double = 1, _ g: inout SeededGenerator) -> [Double] {
    (0..<n).map { _ in g.nextNormal() * std }
}
