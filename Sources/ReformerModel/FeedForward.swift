import TensorCore

/// `LayerNorm → Linear(d→dff) → GELU → Linear(dff→d)`, run over `chunk` rows at a time so only
/// `chunk x dff` scratch exists at once — in the forward and in the backward, where each chunk
/// is recomputed and differentiated before the next one starts.
public final class FeedForward: ParameterContainer {
    public let norm: LayerNorm
    public let up: Linear, down: Linear
    public let width: Int, hidden: Int, chunk: Int

    public init(_ name: String, width: Int, hidden: Int, chunk: Int, generator: inout SeededGenerator) {
        self.width = width
        self.hidden = hidden
        self.chunk = max(1, chunk)
        norm = LayerNorm("\(name).norm", width)
        up = Linear("\(name).up", width, hidden, generator: &generator)
        down = Linear("\(name).down", hidden, width, generator: &generator)
    }

    public var parameters: [Parameter] { norm.parameters + up.parameters + down.parameters }

    /// `x`: `[rows, d]`; writes `out` (or adds to it with `accumulate`: the residual form).
    public func forward(_ x: UnsafePointer<Float>, rows: Int, out: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let c = min(chunk, max(rows, 1))
        var normed = [Float](repeating: 0, count: c * width)
        var h = [Float](repeating: 0, count: c * hidden)
        var y = [Float](repeating: 0, count: c * width)
        normed.withUnsafeMutableBufferPointer { nb in
            h.withUnsafeMutableBufferPointer { hb in
                y.withUnsafeMutableBufferPointer { yb in
                    var start = 0
                    while start < rows {
                        let n = min(c, rows - start)
                        norm.forward(x + start * width, rows: n, out: nb.baseAddress!)
                        up.forward(nb.baseAddress!, rows: n, out: hb.baseAddress!)
                        Kernels.gelu(hb.baseAddress!, count: n * hidden)
                        let o = out + start * width
                        if accumulate {
                            down.forward(hb.baseAddress!, rows: n, out: yb.baseAddress!)
                            for i in 0..<(n * width) { o[i] += yb[i] }
                        } else {
                            down.forward(hb.baseAddress!, rows: n, out: o)
                        }
                        start += n
                    }
                }
            }
        }
    }

    /// Recomputes each chunk from `x`, accumulates parameter gradients, writes (or adds) `dx`.
    public func backward(_ x: UnsafePointer<Float>, dy: UnsafePointer<Float>, rows: Int,
                         dx: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let c = min(chunk, max(rows, 1))
        var normed = [Float](repeating: 0, count: c * width)
        var pre = [Float](repeating: 0, count: c * hidden)
        var act = [Float](repeating: 0, count: c * hidden)
        var dnormed = [Float](repeating: 0, count: c * width)
        normed.withUnsafeMutableBufferPointer { nb in
            pre.withUnsafeMutableBufferPointer { pb in
                act.withUnsafeMutableBufferPointer { ab in
                    dnormed.withUnsafeMutableBufferPointer { dnb in
                        var start = 0
                        while start < rows {
                            let n = min(c, rows - start)
                            let xs = x + start * width, gs = dy + start * width
                            norm.forward(xs, rows: n, out: nb.baseAddress!)
                            up.forward(nb.baseAddress!, rows: n, out: pb.baseAddress!)
                            ab.baseAddress!.update(from: pb.baseAddress!, count: n * hidden)
                            Kernels.gelu(ab.baseAddress!, count: n * hidden)
                            // dact = dy·W2ᵀ (into `ab` after using it for dW2), then through GELU.
                            down.backward(ab.baseAddress!, dy: gs, rows: n, dx: nil)
                            down.weight.value.withUnsafeBufferPointer { w in
                                BLAS.gemm(gs, w.baseAddress!, transB: true, ab.baseAddress!, m: n, n: hidden, k: width)
                            }
                            Kernels.geluBackward(pb.baseAddress!, ab.baseAddress!, count: n * hidden)
                            up.backward(nb.baseAddress!, dy: ab.baseAddress!, rows: n, dx: dnb.baseAddress!)
                            norm.backward(xs, dy: dnb.baseAddress!, rows: n, dx: dx + start * width, accumulate: accumulate)
                            start += n
                        }
                    }
                }
            }
        }
    }
}
