import Testing
@testable import ReformerModel
import TensorCore
import _TestSupport

func smallNetwork(layers: Int, kind: AttentionKind = .lsh, rounds: Int = 2, causal: Bool = false, reversible: Bool = true,
                  seed: UInt64 = 1) -> ReformerNetwork {
    let config = NetworkConfig(width: 8, layers: layers, hidden: 16, feedForwardChunk: 5,
                               attention: AttentionConfig(kind: kind, heads: 2, headWidth: 4, rounds: rounds, chunk: 4, causal: causal),
                               reversible: reversible, seed: seed)
    var g = SeededGenerator(seed: seed)
    return ReformerNetwork("blocks", config: config, generator: &g)
}

/// Central differences (step 1e-2) of `loss` at about `samples` entries of each parameter
/// against the accumulated gradient: relative norm error below 1e-2.
func expectGradientsMatchDifferences(_ parameters: [Parameter], samples: Int, loss: () -> Double,
                                     sourceLocation: SourceLocation = #_sourceLocation) {
    let eps: Float = 1e-2
    for p in parameters {
        let saved = p.value
        var analytic: [Double] = [], fd: [Double] = []
        for i in stride(from: 0, to: p.value.count, by: max(1, p.value.count / samples)) {
            p.value[i] = saved[i] + eps; let a = loss()
            p.value[i] = saved[i] - eps; let b = loss()
            p.value = saved
            fd.append((a - b) / Double(2 * eps))
            analytic.append(Double(p.grad[i]))
        }
        #expect(relativeNormError(analytic, fd) < 1e-2, "\(p.name): \(relativeNormError(analytic, fd))", sourceLocation: sourceLocation)
    }
}

@Suite struct NetworkTests {
    @Test func reversibleBlocksReconstructTheirInputs() {
        let net = smallNetwork(layers: 12)
        var g = SeededGenerator(seed: 9)
        let x = Tensor(randomNormal: [37, 8], std: 1, generator: &g)
        var x1 = x, x2 = x
        var caches: [AttentionCache] = []
        for block in net.blocks { caches.append(block.forward(&x1, &x2, hashSeed: 5)) }
        var dy1 = Tensor(zeros: x.shape), dy2 = Tensor(zeros: x.shape)
        for i in stride(from: 11, through: 0, by: -1) { net.blocks[i].backward(&x1, &x2, &dy1, &dy2, cache: caches[i]) }
        let e1 = relativeNormError(x1.doubles, x.doubles), e2 = relativeNormError(x2.doubles, x.doubles)
        #expect(e1 < 1e-4 && e2 < 1e-4, "after 12 blocks: \(e1), \(e2)")
    }

    /// End to end through 3 blocks in Float: central differences with ε = 1e-2 on a loss summed
    /// in Double; the expected discretisation error is ~1e-4 of the gradient, so 1e-2 leaves room
    /// for Float rounding while a wrong term would show as O(1).
    @Test(arguments: [(AttentionKind.lsh, 1, false), (.lsh, 4, false), (.lsh, 2, true), (.local, 1, false), (.full, 1, false)])
    func threeBlockNetworkGradients(kind: AttentionKind, rounds: Int, causal: Bool) {
        for reversible in [true, false] {
            let net = smallNetwork(layers: 3, kind: kind, rounds: rounds, causal: causal, reversible: reversible)
            var g = SeededGenerator(seed: 21)
            let x = Tensor(randomNormal: [19, 8], std: 1, generator: &g)
            let G = Tensor(randomNormal: [19, 8], std: 1, generator: &g)
            let (_, trace) = net.forward(x, hashSeed: 2, trace: true)
            let caches = trace!.caches
            net.zeroGrads()
            let dx = net.backward(G, trace: trace!)
            func loss(_ input: Tensor) -> Double {
                zip(net.forward(input, reuse: caches).0.scalars, G.scalars).map { Double($0) * Double($1) }.reduce(0, +)
            }
            let eps: Float = 1e-2
            var numeric = [Double](repeating: 0, count: x.count)
            for i in 0..<x.count {
                var a = x, b = x
                a[i] += eps; b[i] -= eps
                numeric[i] = (loss(a) - loss(b)) / Double(2 * eps)
            }
            let err = relativeNormError(dx.doubles, numeric)
            #expect(err < 1e-2, "\(kind) r=\(rounds) causal=\(causal) reversible=\(reversible) dx: \(err)")
            // A sample of parameters from every block.
            for p in net.parameters where p.name.contains("wqk") || p.name.contains("up.weight") || p.name.hasPrefix("blocks.norm") {
                let saved = p.value
                var analytic: [Double] = [], fd: [Double] = []
                for i in stride(from: 0, to: p.value.count, by: max(1, p.value.count / 12)) {
                    p.value[i] = saved[i] + eps; let a = loss(x)
                    p.value[i] = saved[i] - eps; let b = loss(x)
                    p.value = saved
                    fd.append((a - b) / Double(2 * eps))
                    analytic.append(Double(p.grad[i]))
                }
                let perr = relativeNormError(analytic, fd)
                #expect(perr < 1e-2, "\(p.name): \(perr)")
            }
        }
    }

    @Test func reversibleAndStoredBackwardsAgree() {
        let a = smallNetwork(layers: 4, reversible: true), b = smallNetwork(layers: 4, reversible: false)
        var g = SeededGenerator(seed: 2)
        let x = Tensor(randomNormal: [40, 8], std: 1, generator: &g)
        let G = Tensor(randomNormal: [40, 8], std: 1, generator: &g)
        let (ya, ta) = a.forward(x, hashSeed: 1, trace: true)
        let (yb, tb) = b.forward(x, hashSeed: 1, trace: true)
        #expect(ya.scalars == yb.scalars)
        let da = a.backward(G, trace: ta!), db = b.backward(G, trace: tb!)
        #expect(relativeNormError(da.doubles, db.doubles) < 1e-4)
        for (p, q) in zip(a.parameters, b.parameters) { #expect(relativeNormError(p.grad.doubles, q.grad.doubles) < 1e-3, "\(p.name)") }
    }

    @Test func classifierHeadsGradients() {
        let config = ClassifierConfig(tokenWidth: 6, tokensPerFrame: 3, labels: ["a", "b", "c"],
                                      network: NetworkConfig(width: 8, layers: 2, hidden: 16, feedForwardChunk: 7,
                                                             attention: AttentionConfig(kind: .lsh, heads: 2, headWidth: 4, rounds: 2, chunk: 4)))
        let model = FrameClassifier(config: config)
        var g = SeededGenerator(seed: 8)
        let tokens = Tensor(randomNormal: [7 * 3, 6], std: 1, generator: &g)
        let GF = Tensor(randomNormal: [7, 3], std: 1, generator: &g), GV = Tensor(randomNormal: [3], std: 1, generator: &g)
        let (out, trace) = model.forward(tokens, hashSeed: 4, trace: true)
        #expect(out.frameLogits.shape == [7, 3] && out.videoLogits.shape == [3])
        model.zeroGrads()
        model.backward(dFrameLogits: GF, dVideoLogits: GV, trace: trace!)
        let caches = trace!.network.caches
        func loss() -> Double {
            let (o, _) = model.forward(tokens, reuse: caches)
            var total = 0.0
            for (a, b) in zip(o.frameLogits.scalars, GF.scalars) { total += Double(a) * Double(b) }
            for (a, b) in zip(o.videoLogits.scalars, GV.scalars) { total += Double(a) * Double(b) }
            return total
        }
        expectGradientsMatchDifferences([model.embed.weight, model.positions.patch, model.frameHead.weight, model.videoHead.bias!,
                                         model.network.blocks[0].attention.wv.weight], samples: 10, loss: loss)
    }

    /// Frame context: forward against a Double reference (each token plus `W`ᵀ times its frame's
    /// embeddings side by side), and every gradient, through the context map too, against finite differences.
    @Test func classifierFrameContext() {
        let network = NetworkConfig(width: 8, layers: 2, hidden: 16, feedForwardChunk: 7,
                                    attention: AttentionConfig(kind: .lsh, heads: 2, headWidth: 4, rounds: 2, chunk: 4))
        let config = ClassifierConfig(tokenWidth: 6, tokensPerFrame: 3, labels: ["a", "b", "c"], network: network, frameContext: true)
        let model = FrameClassifier(config: config)
        let plain = FrameClassifier(config: ClassifierConfig(tokenWidth: 6, tokensPerFrame: 3, labels: ["a", "b", "c"], network: network))
        // Made last from the seed: every other weight is the plain model's, and the map starts at zero.
        #expect(zip(plain.parameters, model.parameters).allSatisfy { $0.name == $1.name && $0.value == $1.value })
        #expect(model.frameContext!.weight.value.scalars.allSatisfy { $0 == 0 })
        var g = SeededGenerator(seed: 9)
        model.frameContext!.weight.value = Tensor(randomNormal: [3 * 8, 8], std: 0.3, generator: &g)
        let tokens = Tensor(randomNormal: [5 * 3, 6], std: 1, generator: &g)
        let e = model.embed(tokens), got = model.embedTokens(tokens)
        let w = model.frameContext!.weight.value.doubles, ed = e.doubles
        var want = [Double](repeating: 0, count: 5 * 3 * 8)
        for f in 0..<5 {
            for j in 0..<8 {
                var c = 0.0
                for i in 0..<(3 * 8) { c += ed[f * 24 + i] * w[i * 8 + j] }
                for q in 0..<3 { want[(f * 3 + q) * 8 + j] = ed[(f * 3 + q) * 8 + j] + c }
            }
        }
        #expect(relativeNormError(got.doubles, want) < 1e-5)
        let GF = Tensor(randomNormal: [5, 3], std: 1, generator: &g)
        let (_, trace) = model.forward(tokens, hashSeed: 4, trace: true)
        model.zeroGrads()
        model.backward(dFrameLogits: GF, dVideoLogits: nil, trace: trace!)
        let caches = trace!.network.caches
        func loss() -> Double {
            let (o, _) = model.forward(tokens, reuse: caches)
            return zip(o.frameLogits.scalars, GF.scalars).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        expectGradientsMatchDifferences([model.frameContext!.weight, model.embed.weight, model.embed.bias!, model.positions.patch],
                                        samples: 12, loss: loss)
    }

    @Test(arguments: [(AttentionKind.lsh, 2), (.full, 1)])
    func causalSequenceModelGradients(kind: AttentionKind, rounds: Int) {
        let config = SequenceModelConfig(vocabulary: 5, maxLength: 12,
                                         network: NetworkConfig(width: 8, layers: 1, hidden: 16, feedForwardChunk: 5,
                                                                attention: AttentionConfig(kind: kind, heads: 2, headWidth: 4, rounds: rounds,
                                                                                           chunk: 4, causal: true)))
        let model = SequenceModel(config: config)
        var g = SeededGenerator(seed: 21)
        let ids = (0..<11).map { _ in Int(g.next() % 5) }
        let G = Tensor(randomNormal: [11, 5], std: 1, generator: &g)
        let (logits, trace) = model.forward(ids, hashSeed: 3, trace: true)
        #expect(logits.shape == [11, 5])
        model.zeroGrads()
        model.backward(G, trace: trace!)
        let caches = trace!.network.caches
        func loss() -> Double {
            let (o, _) = model.forward(ids, reuse: caches)
            return zip(o.scalars, G.scalars).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        expectGradientsMatchDifferences([model.tokens.table, model.positions.table, model.head.weight,
                                         model.network.blocks[0].attention.wqk.weight], samples: 12, loss: loss)
        // Causal: changing the last symbol changes no earlier row's logits.
        var changed = ids
        changed[10] = (changed[10] + 1) % 5
        let (a, _) = model.forward(ids, reuse: caches), (b, _) = model.forward(changed, reuse: caches)
        #expect(a.scalars[0..<50] == b.scalars[0..<50])
        #expect(a.scalars[50..<55] != b.scalars[50..<55])
    }

    @Test func sequenceModelUnderAnotherAttentionKeepsItsWeights() {
        let config = SequenceModelConfig(vocabulary: 7, maxLength: 40,
                                         network: NetworkConfig(width: 8, layers: 1, hidden: 16, feedForwardChunk: 5,
                                                                attention: AttentionConfig(kind: .lsh, heads: 2, headWidth: 4, rounds: 4,
                                                                                           chunk: 64, causal: true)))
        let model = SequenceModel(config: config)
        let full = model.withAttention(AttentionConfig(kind: .full, heads: 2, headWidth: 4, causal: true))
        #expect(zip(model.parameters, full.parameters).allSatisfy { $0.name == $1.name && $0.value == $1.value })
        // Shorter than one chunk, LSH is exact attention: both give the same logits.
        let ids = Array(0..<30).map { $0 % 7 }
        let (a, _) = model.forward(ids), (b, _) = full.forward(ids)
        #expect(relativeNormError(a.doubles, b.doubles) < 1e-5)
    }

    @Test func parameterNamesAreStableAndUnique() {
        let net = smallNetwork(layers: 2)
        let names = net.parameters.map(\.name)
        #expect(Set(names).count == names.count)
        #expect(names.contains("blocks.1.attn.wqk.weight"))
        #expect(names.contains("blocks.0.ff.up.weight"))
        #expect(names.contains("blocks.norm.weight"))
    }
}
