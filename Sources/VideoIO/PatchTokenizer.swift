/// Cuts a sampled RGB frame into square patches and flattens each into a token.
///
/// Order (fixed; models depend on it): patches row by row (top-left patch first, then to the
/// right), and inside a patch pixels row by row, each pixel R, G, B. A byte `b` becomes
/// `b / 127.5 - 1`, so black is -1 and full white is 1.
///
/// With `motion`, each token also carries the change since the previous sampled frame: after
/// the patch's pixel values come, in the same order, `(b - b_previous) / 127.5` (zeros for
/// the first frame). A held picture is then all zeros there and snow is random, whatever the
/// picture looks like.
///
/// With `detail` (the number of `DetailMeter` bytes per patch), each token ends with that
/// patch's detail bytes, `detailGain * (b / 127.5 - 1)` each. The gain lets a handful of
/// statistics weigh as much in the first linear layer as the hundreds of pixel values beside
/// them (the layer's initial weights scale with one over the square root of the token width).
///
/// With `summary`, one more token follows a frame's patches: the whole frame shrunk to one
/// patch (each pixel the mean of a `frameWidth/patch` x `frameHeight/patch` block, per
/// channel), laid out and scaled as a patch is, with its own change since the previous frame's
/// summary and the mean of the patches' detail bytes. Attention can then compare whole
/// pictures (a picture shown again) as well as single patches, which can look alike anywhere.
public struct PatchTokenizer: Sendable, Codable, Equatable {
    public let patch: Int
    public let frameWidth: Int, frameHeight: Int
    public let motion: Bool
    public let detail: Int
    public let detailGain: Float
    public let summary: Bool

    public init(patch: Int, frameWidth: Int, frameHeight: Int, motion: Bool = false, detail: Int = 0, detailGain: Float = 1,
                summary: Bool = false) {
        precondition(patch > 0 && frameWidth % patch == 0 && frameHeight % patch == 0,
                     "frame \(frameWidth)x\(frameHeight) is not a whole number of \(patch)-pixel patches")
        self.patch = patch
        self.frameWidth = frameWidth
        self.frameHeight = frameHeight
        self.motion = motion
        self.detail = detail
        self.detailGain = detailGain
        self.summary = summary
    }

    public var patchesAcross: Int { frameWidth / patch }
    public var patchesDown: Int { frameHeight / patch }
    /// Patches per frame (tokens without the summary).
    public var patchCount: Int { patchesAcross * patchesDown }
    public var tokensPerFrame: Int { patchCount + (summary ? 1 : 0) }
    public var tokenWidth: Int { patch * patch * 3 * (motion ? 2 : 1) + detail }

    /// Appends `tokensPerFrame * tokenWidth` floats for `rgb` (frameHeight rows of frameWidth RGB
    /// pixels); `previous` is the frame sampled before it (motion tokens only; nil: none);
    /// `detail` holds `self.detail` bytes per patch (detail tokens only).
    public func append(_ rgb: [UInt8], previous: [UInt8]? = nil, detail bytes: [UInt8] = [], to tokens: inout [Float]) {
        precondition(rgb.count == frameWidth * frameHeight * 3, "frame is not \(frameWidth)x\(frameHeight) RGB")
        precondition(previous == nil || previous!.count == rgb.count, "previous frame has another size")
        precondition(bytes.count == patchCount * detail, "frame has \(bytes.count) detail bytes, expected \(patchCount * detail)")
        let start = tokens.count
        tokens.append(contentsOf: repeatElement(0, count: patchCount * tokenWidth))
        let p = patch, w = frameWidth, across = patchesAcross, width = tokenWidth
        let gain = detailGain, detailScale = detailGain / 127.5
        rgb.withUnsafeBufferPointer { src in
            tokens.withUnsafeMutableBufferPointer { dst in
                var out = dst.baseAddress! + start
                for py in 0..<patchesDown {
                    for px in 0..<across {
                        for y in 0..<p {
                            let offset = ((py * p + y) * w + px * p) * 3
                            let row = src.baseAddress! + offset
                            for i in 0..<(p * 3) { out[y * p * 3 + i] = Float(row[i]) * (1 / 127.5) - 1 }
                            if motion, let previous {
                                let half = p * p * 3
                                previous.withUnsafeBufferPointer { prev in
                                    let before = prev.baseAddress! + offset
                                    for i in 0..<(p * 3) { out[half + y * p * 3 + i] = (Float(row[i]) - Float(before[i])) * (1 / 127.5) }
                                }
                            }
                        }
                        let patchIndex = py * across + px
                        for k in 0..<detail { out[width - detail + k] = Float(bytes[patchIndex * detail + k]) * detailScale - gain }
                        out += width
                    }
                }
            }
        }
        if summary { appendSummary(rgb, previous: previous, detail: bytes, to: &tokens) }
    }

    /// The whole frame as one patch: `frame` shrunk by block means (floats, RGB rows).
    func shrunk(_ rgb: [UInt8]) -> [Float] {
        let bx = frameWidth / patch, by = frameHeight / patch, w = frameWidth
        let scale = 1 / Float(bx * by)
        var out = [Float](repeating: 0, count: patch * patch * 3)
        for y in 0..<patch {
            for x in 0..<patch {
                for c in 0..<3 {
                    var sum = 0
                    for yy in (y * by)..<((y + 1) * by) {
                        for xx in (x * bx)..<((x + 1) * bx) { sum += Int(rgb[(yy * w + xx) * 3 + c]) }
                    }
                    out[(y * patch + x) * 3 + c] = Float(sum) * scale
                }
            }
        }
        return out
    }

    private func appendSummary(_ rgb: [UInt8], previous: [UInt8]?, detail bytes: [UInt8], to tokens: inout [Float]) {
        let half = patch * patch * 3
        let now = shrunk(rgb)
        tokens.append(contentsOf: now.map { $0 * (1 / 127.5) - 1 })
        if motion {
            if let previous {
                let before = shrunk(previous)
                tokens.append(contentsOf: (0..<half).map { (now[$0] - before[$0]) * (1 / 127.5) })
            } else {
                tokens.append(contentsOf: repeatElement(0, count: half))
            }
        }
        for k in 0..<detail {
            var sum = 0
            for p in 0..<patchCount { sum += Int(bytes[p * detail + k]) }
            tokens.append(Float(sum) / Float(patchCount) * (detailGain / 127.5) - detailGain)
        }
    }

    public func tokens(_ rgb: [UInt8], previous: [UInt8]? = nil, detail: [UInt8] = []) -> [Float] {
        var t: [Float] = []
        t.reserveCapacity(tokensPerFrame * tokenWidth)
        append(rgb, previous: previous, detail: detail, to: &t)
        return t
    }
}
