import TensorCore

/// `y = x·W + b`. `W` is `[in, out]`, initialised N(0, 1/in) (LeCun), `b` zero.
public final class Linear: ParameterContainer {
    public let weight: Parameter
    public let bias: Parameter?
    public let inputWidth: Int, outputWidth: Int

    public init(_ name: String, _ inputWidth: Int, _ outputWidth: Int, bias: Bool = true, std: Float? = nil,
                generator: inout SeededGenerator) {
        self.inputWidth = inputWidth
        self.outputWidth = outputWidth
        let s = std ?? (1 / Float(inputWidth)).squareRoot()
        weight = Parameter("\(name).weight", Tensor(randomNormal: [inputWidth, outputWidth], std: s, generator: &generator))
        self.bias = bias ? Parameter("\(name).bias", Tensor(zeros: [outputWidth])) : nil
    }

    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }

    /// `x`: `[rows, in]` → `[rows, out]`.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var y = Tensor(zeros: [x.rows, outputWidth])
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in forward(xp.baseAddress!, rows: x.rows, out: yp.baseAddress!) }
        }
        return y
    }

    /// Pointer form for chunked callers: `out[rows, out] = x[rows, in]·W + b`.
    public func forward(_ x: UnsafePointer<Float>, rows: Int, out: UnsafeMutablePointer<Float>) {
        let (n, k) = (outputWidth, inputWidth)
        if let bias {
            bias.value.withUnsafeBufferPointer { b in
                for r in 0..<rows { (out + r * n).update(from: b.baseAddress!, count: n) }
            }
        }
        weight.value.withUnsafeBufferPointer { w in
            BLAS.gemm(x, w.baseAddress!, out, m: rows, n: n, k: k, beta: bias == nil ? 0 : 1)
        }
    }

    /// Accumulates `dW += xᵀ·dy`, `db += Σ dy`; writes (or adds, with `accumulate`) `dx = dy·Wᵀ`.
    public func backward(_ x: UnsafePointer<Float>, dy: UnsafePointer<Float>, rows: Int,
                         dx: UnsafeMutablePointer<Float>?, accumulate: Bool = false) {
        let (n, k) = (outputWidth, inputWidth)
        weight.grad.withUnsafeMutableBufferPointer { g in
            BLAS.gemm(x, transA: true, dy, g.baseAddress!, m: k, n: n, k: rows, beta: 1)
        }
        if let bias {
            bias.grad.withUnsafeMutableBufferPointer { g in
                let gb = g.baseAddress!
                for r in 0..<rows { let row = dy + r * n; for j in 0..<n { gb[j] += row[j] } }
            }
        }
        if let dx {
            weight.value.withUnsafeBufferPointer { w in
                BLAS.gemm(dy, w.baseAddress!, transB: true, dx, m: rows, n: k, k: n, beta: accumulate ? 1 : 0)
            }
        }
    }

    /// Tensor form of `backward`; returns `dx`.
    public func backward(_ x: Tensor, dy: Tensor) -> Tensor {
        var dx = Tensor(zeros: [x.rows, inputWidth])
        x.withUnsafeBufferPointer { xp in
            dy.withUnsafeBufferPointer { dp in
                dx.withUnsafeMutableBufferPointer { dxp in
                    backward(xp.baseAddress!, dy: dp.baseAddress!, rows: x.rows, dx: dxp.baseAddress!)
                }
            }
        }
        return dx
    }
}

/// Per-row normalisation with a learned scale (ones) and shift (zeros).
public final class LayerNorm: ParameterContainer {
    public let gamma: Parameter, beta: Parameter
    public let width: Int

    public init(_ name: String, _ width: Int) {
        self.width = width
        gamma = Parameter("\(name).weight", Tensor(repeating: 1, shape: [width]))
        beta = Parameter("\(name).bias", Tensor(zeros: [width]))
    }

    public var parameters: [Parameter] { [gamma, beta] }

    public func forward(_ x: UnsafePointer<Float>, rows: Int, out: UnsafeMutablePointer<Float>) {
        gamma.value.withUnsafeBufferPointer { g in
            beta.value.withUnsafeBufferPointer { b in
                Kernels.layerNorm(x, gamma: g.baseAddress!, beta: b.baseAddress!, out: out, rows: rows, d: width)
            }
        }
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        var y = Tensor(zeros: x.shape)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in forward(xp.baseAddress!, rows: x.rows, out: yp.baseAddress!) }
        }
        return y
    }

    public func backward(_ x: UnsafePointer<Float>, dy: UnsafePointer<Float>, rows: Int,
                         dx: UnsafeMutablePointer<Float>, accumulate: Bool = false) {
        gamma.value.withUnsafeBufferPointer { g in
            gamma.grad.withUnsafeMutableBufferPointer { dg in
                beta.grad.withUnsafeMutableBufferPointer { db in
                    Kernels.layerNormBackward(x, gamma: g.baseAddress!, dy: dy, dx: dx, accumulate: accumulate,
                                              dgamma: dg.baseAddress!, dbeta: db.baseAddress!, rows: rows, d: width)
                }
            }
        }
    }

    public func backward(_ x: Tensor, dy: Tensor) -> Tensor {
        var dx = Tensor(zeros: x.shape)
        x.withUnsafeBufferPointer { xp in
            dy.withUnsafeBufferPointer { dp in
                dx.withUnsafeMutableBufferPointer { dxp in
                    backward(xp.baseAddress!, dy: dp.baseAddress!, rows: x.rows, dx: dxp.baseAddress!)
                }
            }
        }
        return dx
    }
}
