#if canImport(Glibc)
import Glibc
#endif

/// Row-wise kernels on raw row-major buffers. Each works on `rows x d` and is parallel over rows.
public enum Kernels {
    // MARK: Layer normalisation

    /// `out = (x - mean) / sqrt(var + eps) * gamma + beta`, per row.
    public static func layerNorm(_ x: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                                 out: UnsafeMutablePointer<Float>, rows: Int, d: Int, eps: Float = 1e-5) {
        nonisolated(unsafe) let (x, gamma, beta, out) = (x, gamma, beta, out)
        Parallel.forEachChunk(rows, minimumPerWorker: 64) { range in
            for r in range {
                let xr = x + r * d, o = out + r * d
                let (mean, rstd) = moments(xr, d, eps)
                for j in 0..<d { o[j] = (xr[j] - mean) * rstd * gamma[j] + beta[j] }
            }
        }
    }

    /// Backward of `layerNorm`: `dx (+)= …`; `dgamma`, `dbeta` accumulate (serially over rows,
    /// in two halves then summed, so the result does not depend on scheduling).
    public static func layerNormBackward(_ x: UnsafePointer<Float>, gamma: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                         dx: UnsafeMutablePointer<Float>, accumulate: Bool,
                                         dgamma: UnsafeMutablePointer<Float>, dbeta: UnsafeMutablePointer<Float>,
                                         rows: Int, d: Int, eps: Float = 1e-5) {
        let parts = max(1, min(Parallel.workers, rows / 64))
        var partial = [Float](repeating: 0, count: parts * 2 * d)
        partial.withUnsafeMutableBufferPointer { pbuf in
            nonisolated(unsafe) let (x, gamma, dy, dx, pg) = (x, gamma, dy, dx, pbuf.baseAddress!)
            Parallel.forEachChunk(parts) { partRange in
                for part in partRange {
                    let lo = rows * part / parts, hi = rows * (part + 1) / parts
                    let dg = pg + part * 2 * d, db = dg + d
                    for r in lo..<hi {
                        let xr = x + r * d, g = dy + r * d, o = dx + r * d
                        let (mean, rstd) = moments(xr, d, eps)
                        var sumG: Float = 0, sumGX: Float = 0
                        for j in 0..<d {
                            let xhat = (xr[j] - mean) * rstd
                            let gj = g[j] * gamma[j]
                            sumG += gj
                            sumGX += gj * xhat
                            dg[j] += g[j] * xhat
                            db[j] += g[j]
                        }
                        let invD = 1 / Float(d)
                        for j in 0..<d {
                            let xhat = (xr[j] - mean) * rstd
                            let v = rstd * (g[j] * gamma[j] - invD * sumG - xhat * invD * sumGX)
                            if accumulate { o[j] += v } else { o[j] = v }
                        }
                    }
                }
            }
            for part in 0..<parts {
                let dg = pg + part * 2 * d
                for j in 0..<d { dgamma[j] += dg[j]; dbeta[j] += dg[d + j] }
            }
        }
    }

    @inline(__always)
    static func moments(_ x: UnsafePointer<Float>, _ d: Int, _ eps: Float) -> (Float, Float) {
        var sum: Float = 0
        for j in 0..<d { sum += x[j] }
        let mean = sum / Float(d)
        var sq: Float = 0
        for j in 0..<d { let c = x[j] - mean; sq += c * c }
        return (mean, 1 / (sq / Float(d) + eps).squareRoot())
    }

    // MARK: Exponential

    /// `e^x` in Float without libm: `n` = `x·log2(e)` rounded to nearest with the 1.5·2²³ trick,
    /// `r = x − n·ln2` with ln2 split in two (Cody–Waite) so `r` keeps full precision, a degree-7
    /// Taylor polynomial of `e^r` on `|r| ≤ 0.35` (truncation ~6e-9, so Float rounding dominates),
    /// and `2^n` built from its bits. Branch-free, so loops over it vectorise; inputs are clamped
    /// to Float's normal range (e^-87.3 ≈ 1e-38 stands in for 0).
    @inlinable @inline(__always)
    public static func exp(_ x: Float) -> Float {
        let c = min(max(x, -87.3), 88.7)
        let magic: Float = 12582912          // 1.5 * 2^23
        let shifted = c * 1.442695041 + magic
        let n = shifted - magic
        let f = (c - n * 0.693359375) - n * -2.12194440e-4
        var p: Float = 1.0 / 5040
        p = p * f + 1.0 / 720
        p = p * f + 1.0 / 120
        p = p * f + 1.0 / 24
        p = p * f + 1.0 / 6
        p = p * f + 0.5
        p = p * f + 1
        p = p * f + 1
        let exponent = Int32(bitPattern: shifted.bitPattern) &- 0x4B40_0000
        return p * Float(bitPattern: UInt32(bitPattern: (exponent &+ 127) &<< 23))
    }

    // MARK: GELU (tanh approximation, as in the Reformer and BERT)

    /// `0.5·x·(1 + tanh(u))` with `u = √(2/π)(x + 0.044715x³)`, computed as `x·σ(2u)`
    /// (the same function) so it needs one exponential.
    @inlinable @inline(__always)
    public static func gelu(_ x: Float) -> Float {
        let u2 = 1.5957691216057308 * (x + 0.044715 * x * x * x)
        return x / (1 + exp(-u2))
    }

    @inlinable @inline(__always)
    public static func geluDerivative(_ x: Float) -> Float {
        let u2 = 1.5957691216057308 * (x + 0.044715 * x * x * x)
        let s = 1 / (1 + exp(-u2))
        let du2 = 1.5957691216057308 * (1 + 3 * 0.044715 * x * x)
        return s + x * s * (1 - s) * du2
    }

    /// `gelu` over a buffer, split across workers.
    public static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        nonisolated(unsafe) let x = x
        Parallel.forEachChunk(count, minimumPerWorker: 16_384) { r in
            for i in r { x[i] = gelu(x[i]) }
        }
    }

    /// `g *= gelu'(pre)` over a buffer, split across workers.
    public static func geluBackward(_ pre: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>, count: Int) {
        nonisolated(unsafe) let (pre, g) = (pre, g)
        Parallel.forEachChunk(count, minimumPerWorker: 16_384) { r in
            for i in r { g[i] *= geluDerivative(pre[i]) }
        }
    }

    // MARK: Softmax and log-sum-exp

    /// `exp` on eight lanes at once (the same arithmetic as the scalar version).
    @inlinable @inline(__always)
    public static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        var c = x
        c.replace(with: -87.3, where: c .< -87.3)
        c.replace(with: 88.7, where: c .> 88.7)
        let magic = SIMD8<Float>(repeating: 12582912)
        let shifted = c * 1.442695041 + magic
        let n = shifted - magic
        let f = (c - n * 0.693359375) - n * -2.12194440e-4
        var p = SIMD8<Float>(repeating: 1.0 / 5040)
        p = p * f + 1.0 / 720
        p = p * f + 1.0 / 120
        p = p * f + 1.0 / 24
        p = p * f + 1.0 / 6
        p = p * f + 0.5
        p = p * f + 1
        p = p * f + 1
        let exponent = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
        return p * unsafeBitCast((exponent &+ 127) &<< 23, to: SIMD8<Float>.self)
    }

    /// `x[j] = exp(x[j] - shift)` for `j < n`; returns the sum of the new values.
    @inlinable @discardableResult
    public static func expShifted(_ x: UnsafeMutablePointer<Float>, _ n: Int, shift: Float) -> Float {
        var sum = SIMD8<Float>(repeating: 0)
        var j = 0
        let raw = UnsafeMutableRawPointer(x)
        while j + 8 <= n {
            let e = exp(raw.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self) - shift)
            raw.storeBytes(of: e, toByteOffset: j * 4, as: SIMD8<Float>.self)
            sum += e
            j += 8
        }
        var total = sum.sum()
        while j < n { let e = exp(x[j] - shift); x[j] = e; total += e; j += 1 }
        return total
    }

    /// Largest of `x[0..<n]` (−greatestFiniteMagnitude when empty).
    @inlinable
    public static func maximum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var m8 = SIMD8<Float>(repeating: -.greatestFiniteMagnitude)
        var j = 0
        let raw = UnsafeRawPointer(x)
        while j + 8 <= n {
            let v = raw.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
            m8.replace(with: v, where: v .> m8)
            j += 8
        }
        var m = m8.max()
        while j < n { m = Swift.max(m, x[j]); j += 1 }
        return m
    }

    /// Smallest and largest of `x[0..<n]` in one pass (for the LSH argmax over `concat(x, −x)`).
    @inlinable
    public static func extremes(_ x: UnsafePointer<Float>, _ n: Int) -> (min: Float, max: Float) {
        var lo8 = SIMD8<Float>(repeating: .greatestFiniteMagnitude), hi8 = -lo8
        var j = 0
        let raw = UnsafeRawPointer(x)
        while j + 8 <= n {
            let v = raw.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
            lo8.replace(with: v, where: v .< lo8)
            hi8.replace(with: v, where: v .> hi8)
            j += 8
        }
        var lo = lo8.min(), hi = hi8.max()
        while j < n { lo = Swift.min(lo, x[j]); hi = Swift.max(hi, x[j]); j += 1 }
        return (lo, hi)
    }

    /// In place: the row becomes its softmax; returns the row's log-sum-exp.
    @inlinable
    public static func softmaxRow(_ x: UnsafeMutablePointer<Float>, _ n: Int) -> Float {
        let m = maximum(x, n)
        let s = expShifted(x, n, shift: m)
        let inv = 1 / s
        for j in 0..<n { x[j] *= inv }
        return m + logf(s)
    }

    /// Log-sum-exp of one row, without changing it.
    @inlinable
    public static func logSumExp(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        let m = maximum(x, n)
        var s: Float = 0
        for j in 0..<n { s += exp(x[j] - m) }
        return m + logf(s)
    }

    /// Cross-entropy of softmax(logits) against `target` for each row, with optional class
    /// weights; writes `dlogits = w * (softmax - onehot) * scale` and returns the summed weighted loss.
    public static func softmaxCrossEntropy(_ logits: UnsafePointer<Float>, targets: [Int], classes k: Int,
                                           weights: [Float]? = nil, scale: Float,
                                           dlogits: UnsafeMutablePointer<Float>) -> Double {
        var total = 0.0
        for (r, t) in targets.enumerated() {
            let row = logits + r * k, g = dlogits + r * k
            let lse = logSumExp(row, k)
            if t < 0 { for j in 0..<k { g[j] = 0 }; continue }   // unlabelled
            let w = weights?[t] ?? 1
            total += Double(w) * Double(lse - row[t])
            for j in 0..<k { g[j] = w * scale * exp(row[j] - lse) }
            g[t] -= w * scale
        }
        return total
    }
}
