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

    // MARK: GELU (tanh approximation, as in the Reformer and BERT)

    @inline(__always) static let geluC: Float = 0.7978845608028654   // sqrt(2/pi)

    @inlinable @inline(__always)
    public static func gelu(_ x: Float) -> Float {
        let u = 0.7978845608028654 * (x + 0.044715 * x * x * x)
        return 0.5 * x * (1 + tanhf(u))
    }

    @inlinable @inline(__always)
    public static func geluDerivative(_ x: Float) -> Float {
        let u = 0.7978845608028654 * (x + 0.044715 * x * x * x)
        let t = tanhf(u)
        let du = 0.7978845608028654 * (1 + 3 * 0.044715 * x * x)
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du
    }

    // MARK: Softmax and log-sum-exp

    /// In place: each row of `x` becomes its softmax; returns nothing, writes each row's
    /// log-sum-exp into `lse` when given.
    @inlinable
    public static func softmaxRow(_ x: UnsafeMutablePointer<Float>, _ n: Int) -> Float {
        var m = -Float.infinity
        for j in 0..<n where x[j] > m { m = x[j] }
        var s: Float = 0
        for j in 0..<n { let e = expf(x[j] - m); x[j] = e; s += e }
        let inv = 1 / s
        for j in 0..<n { x[j] *= inv }
        return m + logf(s)
    }

    /// Log-sum-exp of one row, without changing it.
    @inlinable
    public static func logSumExp(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var m = -Float.infinity
        for j in 0..<n where x[j] > m { m = x[j] }
        var s: Float = 0
        for j in 0..<n { s += expf(x[j] - m) }
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
            for j in 0..<k { g[j] = w * scale * expf(row[j] - lse) }
            g[t] -= w * scale
        }
        return total
    }
}
