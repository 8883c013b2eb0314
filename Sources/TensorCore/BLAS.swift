import COpenBLAS

/// Matrix products on raw row-major buffers, through `cblas_sgemm`.
public enum BLAS {
    /// `C = alpha * op(A) * op(B) + beta * C` with `op(A)` of shape `m x k`, `op(B)` `k x n`.
    /// Large products are split by rows of C across workers (each a single-threaded sgemm).
    @inlinable
    public static func gemm(_ a: UnsafePointer<Float>, transA: Bool = false,
                            _ b: UnsafePointer<Float>, transB: Bool = false,
                            _ c: UnsafeMutablePointer<Float>,
                            m: Int, n: Int, k: Int, alpha: Float = 1, beta: Float = 0,
                            lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil, parallel: Bool = true) {
        let lda = lda ?? (transA ? m : k)
        let ldb = ldb ?? (transB ? k : n)
        let ldc = ldc ?? n
        guard m > 0, n > 0 else { return }
        if k == 0 {
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        let flops = m * n * k
        if parallel && Parallel.workers > 1 && flops >= 1 << 18 && m >= 2 * Parallel.workers {
            nonisolated(unsafe) let (pa, pb, pc) = (a, b, c)
            Parallel.forEachChunk(m) { rows in
                let aRow = transA ? pa + rows.lowerBound : pa + rows.lowerBound * lda
                sgemm(aRow, transA, pb, transB, pc + rows.lowerBound * ldc, rows.count, n, k, alpha, beta, lda, ldb, ldc)
            }
        } else {
            sgemm(a, transA, b, transB, c, m, n, k, alpha, beta, lda, ldb, ldc)
        }
    }

    @inlinable
    static func sgemm(_ a: UnsafePointer<Float>, _ transA: Bool, _ b: UnsafePointer<Float>, _ transB: Bool,
                      _ c: UnsafeMutablePointer<Float>, _ m: Int, _ n: Int, _ k: Int,
                      _ alpha: Float, _ beta: Float, _ lda: Int, _ ldb: Int, _ ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

extension Tensor {
    /// `op(self) · op(other)` for matrices (the last axis is columns; leading axes are rows).
    public func matmul(_ other: Tensor, transposeSelf: Bool = false, transposeOther: Bool = false) -> Tensor {
        let (m, k) = transposeSelf ? (columns, rows) : (rows, columns)
        let (k2, n) = transposeOther ? (other.columns, other.rows) : (other.rows, other.columns)
        precondition(k == k2, "matmul: inner sizes \(k) and \(k2) differ")
        var out = Tensor(zeros: [m, n])
        withUnsafeBufferPointer { a in
            other.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { c in
                    BLAS.gemm(a.baseAddress!, transA: transposeSelf, b.baseAddress!, transB: transposeOther,
                              c.baseAddress!, m: m, n: n, k: k)
                }
            }
        }
        return out
    }
}
