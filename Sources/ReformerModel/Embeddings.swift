import TensorCore
#if canImport(Glibc)
import Glibc
#endif

/// Axial position embeddings over (time, patch): `pos[t, p] = S(t) + E[p]`, where `S` is a fixed
/// sinusoid of the frame index (any number of frames, no parameters) and `E` a learned row per
/// patch position (`patches x width` parameters instead of `frames x patches x width`).
/// `timeScale` multiplies `S`: the time signal is the same size whatever the picture, so at
/// full scale two showings of one picture far apart in time differ by about as much as two
/// different pictures do; a smaller scale keeps order visible and lets repeats match.
public final class AxialPositions: ParameterContainer {
    public let patch: Parameter
    public let patches: Int, width: Int
    public let timeScale: Float

    public init(_ name: String, patches: Int, width: Int, timeScale: Float = 1, generator: inout SeededGenerator) {
        self.patches = patches
        self.width = width
        self.timeScale = timeScale
        patch = Parameter("\(name).patch", Tensor(randomNormal: [patches, width], std: 0.02, generator: &generator))
    }

    public var parameters: [Parameter] { [patch] }

    /// The fixed time component for frame `t` (sin on even, cos on odd columns, periods from 2π to 10⁴·2π).
    @inline(__always)
    public static func timeSignal(_ t: Int, column j: Int, width: Int) -> Float {
        let pair = Double(j / 2 * 2) / Double(width)
        let angle = Double(t) / pow(10_000, pair)
        return Float(j % 2 == 0 ? sin(angle) : cos(angle))
    }

    /// Adds position embeddings to `x` (`[frames * patches, width]`, frame-major); `firstFrame`
    /// offsets the time index (windows of a longer video keep their real frame numbers).
    public func add(to x: inout Tensor, firstFrame: Int = 0) {
        add(to: &x, frameIndices: nil, firstFrame: firstFrame)
    }

    /// As `add`, with each frame's own index (a window that carries sub-sampled frames from
    /// far earlier keeps their real positions in time).
    public func add(to x: inout Tensor, frameIndices: [Int]?, firstFrame: Int = 0) {
        let rows = x.rows, w = width, p = patches
        precondition(frameIndices == nil || frameIndices!.count * p == rows, "one index per frame")
        x.withUnsafeMutableBufferPointer { xb in
            patch.value.withUnsafeBufferPointer { e in
                nonisolated(unsafe) let (xp, ep) = (xb.baseAddress!, e.baseAddress!)
                let indices = frameIndices, scale = timeScale
                Parallel.forEachChunk(rows / p, minimumPerWorker: 64) { frames in
                    var signal = [Float](repeating: 0, count: w)
                    for f in frames {
                        let t = indices?[f] ?? firstFrame + f
                        for j in 0..<w { signal[j] = scale * Self.timeSignal(t, column: j, width: w) }
                        for q in 0..<p {
                            let row = xp + (f * p + q) * w, er = ep + q * w
                            for j in 0..<w { row[j] += signal[j] + er[j] }
                        }
                    }
                }
            }
        }
    }

    /// Gradient of `add`: the patch table collects `Σ_t dy[t, p]`.
    public func backward(_ dy: Tensor) {
        let rows = dy.rows, w = width, p = patches
        dy.withUnsafeBufferPointer { d in
            patch.grad.withUnsafeMutableBufferPointer { g in
                for r in 0..<rows {
                    let q = r % p
                    for j in 0..<w { g[q * w + j] += d[r * w + j] }
                }
            }
        }
    }
}

/// A lookup table of symbol vectors (for sequence tasks such as the paper's duplication task).
public final class Embedding: ParameterContainer {
    public let table: Parameter
    public let vocabulary: Int, width: Int

    public init(_ name: String, vocabulary: Int, width: Int, generator: inout SeededGenerator) {
        self.vocabulary = vocabulary
        self.width = width
        table = Parameter("\(name).weight", Tensor(randomNormal: [vocabulary, width], std: 1, generator: &generator))
    }

    public var parameters: [Parameter] { [table] }

    public func callAsFunction(_ ids: [Int]) -> Tensor {
        var out = Tensor(zeros: [ids.count, width])
        let w = width
        table.value.withUnsafeBufferPointer { t in
            out.withUnsafeMutableBufferPointer { o in
                for (i, id) in ids.enumerated() { (o.baseAddress! + i * w).update(from: t.baseAddress! + id * w, count: w) }
            }
        }
        return out
    }

    public func backward(_ ids: [Int], dy: Tensor) {
        let w = width
        dy.withUnsafeBufferPointer { d in
            table.grad.withUnsafeMutableBufferPointer { g in
                for (i, id) in ids.enumerated() { for j in 0..<w { g[id * w + j] += d[i * w + j] } }
            }
        }
    }
}
