import Foundation
import ReformerModel
import TensorCore
import VideoIO

/// `vidformer bench …`: measurements users can run on their own machine.
public enum Bench {
    public struct ReformerOptions {
        public var tokens = 4096
        public var network = NetworkConfig()
        public var backward = false
        public var runs = 1
        public init() {}
    }

    /// Times a forward (and optionally backward) pass over random embeddings of `tokens` rows.
    /// Returns one JSON object as a dictionary.
    public static func reformer(_ o: ReformerOptions) -> [String: Any] {
        Parallel.configureBLAS()
        var g = SeededGenerator(seed: 7)
        let net = ReformerNetwork("blocks", config: o.network, generator: &g)
        let x = Tensor(randomNormal: [o.tokens, o.network.width], std: 1, generator: &g)
        let upstream = o.backward ? Tensor(randomNormal: [o.tokens, o.network.width], std: 1, generator: &g) : nil
        let baseline = ResourceUsage.currentRSSMegabytes()
        var times: [Double] = []
        var forwardTimes: [Double] = []
        for run in 0..<max(1, o.runs) {
            let start = ResourceUsage.now()
            let (y, trace) = net.forward(x, hashSeed: UInt64(run), trace: o.backward)
            forwardTimes.append(ResourceUsage.now() - start)
            if let upstream, let trace {
                _ = net.backward(upstream, trace: trace)
            }
            times.append(ResourceUsage.now() - start)
            _ = y
        }
        let a = o.network.attention
        return [
            "benchmark": "reformer",
            "tokens": o.tokens, "layers": o.network.layers, "d_model": o.network.width, "heads": a.heads,
            "head_width": a.headWidth, "hashes": a.rounds, "chunk": a.chunk, "d_ff": o.network.hidden,
            "attention": a.kind.rawValue, "reversible": o.network.reversible, "backward": o.backward,
            "threads": Parallel.workers,
            "seconds": median(times), "min_seconds": times.min()!, "forward_seconds": median(forwardTimes), "runs": times,
            "peak_rss_mb": ResourceUsage.peakRSSMegabytes(), "baseline_rss_mb": baseline,
            "parameters": net.parameterCount,
        ]
    }

    /// Decodes, samples, scales and tokenises a whole input, as `classify` would before the model.
    public static func decode(_ spec: InputSpec, options: FrameSourceOptions, patch: Int) throws -> [String: Any] {
        let start = ResourceUsage.now()
        let source = try FrameSource(spec, options: options)
        let tokenizer = PatchTokenizer(patch: patch, frameWidth: options.width, frameHeight: options.height)
        var tokens: [Float] = []
        tokens.reserveCapacity(tokenizer.tokensPerFrame * tokenizer.tokenWidth)
        var checksum = 0.0
        while let frame = try source.next() {
            tokens.removeAll(keepingCapacity: true)
            tokenizer.append(frame.rgb, to: &tokens)
            checksum += Double(tokens[0])
        }
        let seconds = ResourceUsage.now() - start
        let s = source.stats
        return [
            "benchmark": "decode", "input": spec.displayName,
            "frames_decoded": s.framesDecoded, "frames_sampled": s.framesSampled, "decode_errors": s.decodeErrors,
            "tokens": s.framesSampled * tokenizer.tokensPerFrame,
            "seconds": seconds, "loop_s": seconds, "fps": Double(s.framesDecoded) / max(seconds, 1e-9),
            "peak_rss_mb": ResourceUsage.peakRSSMegabytes(), "checksum": checksum,
        ]
    }

    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    public static func json(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
