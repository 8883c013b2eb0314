import Foundation
import Testing
@testable import ReformerModel
import TensorCore
import _TestSupport

@Suite struct LayerTests {
    @Test(arguments: [(1, 3, 5), (7, 16, 4), (64, 8, 33)])
    func linearForwardAndBackward(rows: Int, inW: Int, outW: Int) {
        var g = SeededGenerator(seed: UInt64(rows * 100 + inW))
        let layer = Linear("l", inW, outW, generator: &g)
        layer.bias!.value = Tensor(randomNormal: [outW], std: 1, generator: &g)
        let x = Tensor(randomNormal: [rows, inW], std: 1, generator: &g)
        let G = Tensor(randomNormal: [rows, outW], std: 1, generator: &g).doubles
        let w = layer.weight.value.doubles, b = layer.bias!.value.doubles
        func ref(_ x: [Double], _ w: [Double], _ b: [Double]) -> [Double] {
            var y = Reference.matmul(x, w, m: rows, k: inW, n: outW)
            for r in 0..<rows { for j in 0..<outW { y[r * outW + j] += b[j] } }
            return y
        }
        #expect(relativeNormError(layer(x).doubles, ref(x.doubles, w, b)) < 1e-6)
        let dx = layer.backward(x, dy: Tensor(shape: [rows, outW], scalars: G.map(Float.init)))
        func loss(_ y: [Double]) -> Double { zip(y, G).map(*).reduce(0, +) }
        #expect(relativeNormError(dx.doubles, numericGradient(x.doubles, eps: 1e-6) { loss(ref($0, w, b)) }) < 1e-5)
        #expect(relativeNormError(layer.weight.grad.doubles, numericGradient(w, eps: 1e-6) { loss(ref(x.doubles, $0, b)) }) < 1e-5)
        #expect(relativeNormError(layer.bias!.grad.doubles, numericGradient(b, eps: 1e-6) { loss(ref(x.doubles, w, $0)) }) < 1e-5)
    }

    @Test(arguments: [(1, 3), (5, 7), (64, 16)])
    func layerNormForwardAndBackward(rows: Int, d: Int) {
        var g = SeededGenerator(seed: UInt64(rows + d))
        let ln = LayerNorm("n", d)
        ln.gamma.value = Tensor(randomNormal: [d], std: 1, generator: &g)
        ln.beta.value = Tensor(randomNormal: [d], std: 1, generator: &g)
        let x = Tensor(randomNormal: [rows, d], std: 2, generator: &g)
        let G = Tensor(randomNormal: [rows, d], std: 1, generator: &g)
        let gm = ln.gamma.value.doubles, bt = ln.beta.value.doubles
        #expect(relativeNormError(ln(x).doubles, Reference.layerNorm(x.doubles, gamma: gm, beta: bt, d: d)) < 1e-5)
        let dx = ln.backward(x, dy: G)
        func loss(_ y: [Double]) -> Double { zip(y, G.doubles).map(*).reduce(0, +) }
        let nx = numericGradient(x.doubles, eps: 1e-6) { loss(Reference.layerNorm($0, gamma: gm, beta: bt, d: d)) }
        #expect(relativeNormError(dx.doubles, nx) < 1e-4)
        let ng = numericGradient(gm, eps: 1e-6) { loss(Reference.layerNorm(x.doubles, gamma: $0, beta: bt, d: d)) }
        #expect(relativeNormError(ln.gamma.grad.doubles, ng) < 1e-4)
        let nb = numericGradient(bt, eps: 1e-6) { loss(Reference.layerNorm(x.doubles, gamma: gm, beta: $0, d: d)) }
        #expect(relativeNormError(ln.beta.grad.doubles, nb) < 1e-4)
    }

    /// Chunk sizes that divide the rows, do not, and exceed them all give the same gradients.
    @Test(arguments: [1, 3, 8, 100])
    func chunkedFeedForwardMatchesReference(chunk: Int) {
        let rows = 10, d = 6, hidden = 9
        var g = SeededGenerator(seed: 3)
        let ff = FeedForward("ff", width: d, hidden: hidden, chunk: chunk, generator: &g)
        for p in ff.parameters { p.value = Tensor(randomNormal: p.value.shape, std: 0.7, generator: &g) }
        let x = Tensor(randomNormal: [rows, d], std: 1, generator: &g)
        let G = Tensor(randomNormal: [rows, d], std: 1, generator: &g)
        let params = ff.parameters.map(\.value.doubles)
        func ref(_ x: [Double], _ p: [[Double]]) -> [Double] {
            let n = Reference.layerNorm(x, gamma: p[0], beta: p[1], d: d)
            var h = Reference.matmul(n, p[2], m: rows, k: d, n: hidden)
            for r in 0..<rows { for j in 0..<hidden { h[r * hidden + j] = Reference.gelu(h[r * hidden + j] + p[3][j]) } }
            var y = Reference.matmul(h, p[4], m: rows, k: hidden, n: d)
            for r in 0..<rows { for j in 0..<d { y[r * d + j] += p[5][j] } }
            return y
        }
        var y = Tensor(zeros: [rows, d])
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in ff.forward(xp.baseAddress!, rows: rows, out: yp.baseAddress!, accumulate: false) } }
        #expect(relativeNormError(y.doubles, ref(x.doubles, params)) < 1e-5)
        var dx = Tensor(zeros: [rows, d])
        x.withUnsafeBufferPointer { xp in G.withUnsafeBufferPointer { gp in dx.withUnsafeMutableBufferPointer { dp in
            ff.backward(xp.baseAddress!, dy: gp.baseAddress!, rows: rows, dx: dp.baseAddress!, accumulate: false)
        } } }
        func loss(_ y: [Double]) -> Double { zip(y, G.doubles).map(*).reduce(0, +) }
        #expect(relativeNormError(dx.doubles, numericGradient(x.doubles, eps: 1e-6) { loss(ref($0, params)) }) < 1e-4)
        for (i, p) in ff.parameters.enumerated() {
            let numeric = numericGradient(params[i], eps: 1e-6) { v in var q = params; q[i] = v; return loss(ref(x.doubles, q)) }
            #expect(relativeNormError(p.grad.doubles, numeric) < 1e-4, "\(p.name)")
        }
    }

    @Test func geluMatchesReferenceAndItsDerivative() {
        for i in -40...40 {
            let x = Double(i) / 8
            #expect(abs(Double(Kernels.gelu(Float(x))) - Reference.gelu(x)) < 1e-6)
            let numeric = (Reference.gelu(x + 1e-6) - Reference.gelu(x - 1e-6)) / 2e-6
            #expect(abs(Double(Kernels.geluDerivative(Float(x))) - numeric) < 1e-5)
        }
    }

    @Test func axialPositionsExtendAndTheirGradientSumsOverTime() {
        var g = SeededGenerator(seed: 4)
        let pos = AxialPositions("p", patches: 3, width: 8, generator: &g)
        var a = Tensor(zeros: [3 * 5, 8]), b = Tensor(zeros: [3 * 2, 8])
        pos.add(to: &a)
        pos.add(to: &b, firstFrame: 3)
        // Frames 3 and 4 of a window starting at frame 3 equal those of the whole sequence.
        #expect(Array(a.scalars[(9 * 8)...]) == b.scalars)
        let dy = Tensor(randomNormal: [15, 8], std: 1, generator: &g)
        pos.backward(dy)
        for q in 0..<3 { for j in 0..<8 {
            let want = (0..<5).map { Double(dy.scalars[($0 * 3 + q) * 8 + j]) }.reduce(0, +)
            #expect(abs(Double(pos.patch.grad.scalars[q * 8 + j]) - want) < 1e-5)
        } }
    }

    /// `timeScale` multiplies the sinusoid alone (against a Double reference); 0 leaves the
    /// learned patch rows, the same for every frame.
    @Test func timeScaleMultipliesOnlyTheTimeSignal() {
        for scale in [0, 0.25, 3] as [Float] {
            var g = SeededGenerator(seed: 5)
            let pos = AxialPositions("p", patches: 2, width: 6, timeScale: scale, generator: &g)
            var x = Tensor(zeros: [2 * 4, 6])
            pos.add(to: &x, firstFrame: 7)
            for f in 0..<4 { for q in 0..<2 { for j in 0..<6 {
                let pair = Double(j / 2 * 2) / 6, angle = Double(7 + f) / Foundation.pow(10_000, pair)
                let want = Double(scale) * (j % 2 == 0 ? Foundation.sin(angle) : Foundation.cos(angle)) + Double(pos.patch.value.scalars[q * 6 + j])
                #expect(abs(Double(x.scalars[(f * 2 + q) * 6 + j]) - want) < 1e-5)
            } } }
        }
    }
}

@Suite struct EmbeddingTests {
    @Test func lookupAndScatterAddGradient() {
        var g = SeededGenerator(seed: 12)
        let e = Embedding("tok", vocabulary: 5, width: 3, generator: &g)
        let ids = [4, 0, 4, 2]
        let y = e(ids)
        for (i, id) in ids.enumerated() { for j in 0..<3 { #expect(y.scalars[i * 3 + j] == e.table.value.scalars[id * 3 + j]) } }
        let G = Tensor(randomNormal: [4, 3], std: 1, generator: &g)
        e.backward(ids, dy: G)
        // loss = Σ y·G is linear in the table: its gradient is exact, so compare with differences of the loss.
        let table = e.table.value.doubles
        func loss(_ t: [Double]) -> Double {
            var s = 0.0
            for (i, id) in ids.enumerated() { for j in 0..<3 { s += t[id * 3 + j] * Double(G.scalars[i * 3 + j]) } }
            return s
        }
        #expect(relativeNormError(e.table.grad.doubles, numericGradient(table, eps: 1e-3, loss)) < 1e-6)
        // Symbols 1 and 3 were not looked up: their rows get no gradient.
        #expect(e.table.grad.scalars[3..<6].allSatisfy { $0 == 0 } && e.table.grad.scalars[9..<12].allSatisfy { $0 == 0 })
    }
}
