import TensorCore
#if canImport(Glibc)
import Glibc
#endif

/// AdamW (decoupled weight decay) with linear warm-up and cosine decay, and global
/// gradient-norm clipping. Decay applies to matrices only (not norms, biases or position rows).
public final class AdamW {
    public struct Settings: Codable, Sendable, Equatable {
        public var learningRate: Float = 1e-3
        public var beta1: Float = 0.9
        public var beta2: Float = 0.98
        public var epsilon: Float = 1e-8
        public var weightDecay: Float = 0.01
        public var warmupSteps = 100
        public var totalSteps = 1000
        /// The schedule ends at this fraction of the peak rate.
        public var finalFraction: Float = 0.1
        public var clipNorm: Float = 1.0
        public init() {}
    }

    public let settings: Settings
    public let parameters: [Parameter]
    public private(set) var step = 0
    var m: [[Float]]
    var v: [[Float]]

    public init(_ parameters: [Parameter], settings: Settings) {
        self.parameters = parameters
        self.settings = settings
        m = parameters.map { [Float](repeating: 0, count: $0.value.count) }
        v = m
    }

    /// The learning rate at a step (1-based).
    public func learningRate(at step: Int) -> Float {
        let s = settings
        if step <= s.warmupSteps { return s.learningRate * Float(step) / Float(max(1, s.warmupSteps)) }
        let progress = min(1, Float(step - s.warmupSteps) / Float(max(1, s.totalSteps - s.warmupSteps)))
        let cosine = 0.5 * (1 + cosf(Float.pi * progress))
        return s.learningRate * (s.finalFraction + (1 - s.finalFraction) * cosine)
    }

    /// The global L2 norm of all gradients.
    public func gradientNorm() -> Double {
        var total = 0.0
        for p in parameters { p.grad.withUnsafeBufferPointer { g in for x in g { total += Double(x) * Double(x) } } }
        return total.squareRoot()
    }

    /// Clips, updates every parameter, and returns the gradient norm before clipping.
    @discardableResult
    public func update() -> Double {
        step += 1
        let norm = gradientNorm()
        let clip: Float = norm > Double(settings.clipNorm) ? Float(Double(settings.clipNorm) / norm) : 1
        let lr = learningRate(at: step)
        let s = settings
        let c1 = 1 - powf(s.beta1, Float(step)), c2 = 1 - powf(s.beta2, Float(step))
        for (i, p) in parameters.enumerated() {
            let decay = p.value.rank >= 2 && !p.name.contains("positions") ? s.weightDecay : 0
            m[i].withUnsafeMutableBufferPointer { mb in
                v[i].withUnsafeMutableBufferPointer { vb in
                    p.grad.withUnsafeBufferPointer { g in
                        p.value.withUnsafeMutableBufferPointer { w in
                            for j in 0..<w.count {
                                let gj = g[j] * clip
                                mb[j] = s.beta1 * mb[j] + (1 - s.beta1) * gj
                                vb[j] = s.beta2 * vb[j] + (1 - s.beta2) * gj * gj
                                let update = (mb[j] / c1) / ((vb[j] / c2).squareRoot() + s.epsilon)
                                w[j] -= lr * (update + decay * w[j])
                            }
                        }
                    }
                }
            }
        }
        return norm
    }

    /// Optimiser state as named tensors (`optimizer.m.<name>`, `optimizer.v.<name>`) for resuming.
    public var stateTensors: [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (i, p) in parameters.enumerated() {
            out["optimizer.m.\(p.name)"] = Tensor(shape: p.value.shape, scalars: m[i])
            out["optimizer.v.\(p.name)"] = Tensor(shape: p.value.shape, scalars: v[i])
        }
        return out
    }

    public func restore(_ tensors: [String: Tensor], step: Int) throws {
        for (i, p) in parameters.enumerated() {
            guard let tm = tensors["optimizer.m.\(p.name)"], let tv = tensors["optimizer.v.\(p.name)"],
                  tm.count == p.value.count, tv.count == p.value.count else {
                throw Safetensors.FormatError("optimizer state for '\(p.name)' is missing or has the wrong size")
            }
            m[i] = tm.scalars
            v[i] = tv.scalars
        }
        self.step = step
    }
}
