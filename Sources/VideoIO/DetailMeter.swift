import Foundation

/// Per-patch statistics measured on a grey picture `scale` times sharper than the model's
/// frame, so what the small frame averages away still reaches the model: whether a picture
/// is held or moving slowly, and whether it is snow or smooth.
///
/// The grey picture (the "canvas") is point-sampled from the decoded luma with the same
/// placement and rotation as the model's frame, `frameWidth * scale` by `frameHeight * scale`.
/// For each patch of the model's frame (row by row, as `PatchTokenizer` orders them) three
/// bytes, each a level `min(255, round(32 * log2(1 + x)))` of a mean absolute difference `x`:
/// 0. change: mean |Y - Y_previous| over the patch (0 without a previous canvas);
/// 1. peak change: the largest such mean over the patch's 4x4 blocks;
/// 2. texture: mean of |Y(x+1, y) - Y(x, y)| and |Y(x, y+1) - Y(x, y)| inside the patch;
/// and with `dark`, a fourth:
/// 3. dark share: round(255 * the share of the patch's pixels at or below `darkLevel`), the
///    contract's black threshold (10% of the luma range; the canvas is full range).
public struct DetailMeter: Sendable, Equatable, Codable {
    public let patch: Int, scale: Int
    public let frameWidth: Int, frameHeight: Int
    public let dark: Bool
    /// 10% of the full 0-255 range (swscale's grey output expands limited-range luma).
    public static let darkLevel: UInt8 = 25

    public init(patch: Int, scale: Int, frameWidth: Int, frameHeight: Int, dark: Bool = false) {
        precondition(patch > 0 && scale > 0 && frameWidth % patch == 0 && frameHeight % patch == 0)
        self.patch = patch
        self.scale = scale
        self.frameWidth = frameWidth
        self.frameHeight = frameHeight
        self.dark = dark
    }

    /// The share of a grey picture's pixels at or below `darkLevel` (0 for an empty picture).
    public static func darkShare(of grey: [UInt8]) -> Double {
        guard !grey.isEmpty else { return 0 }
        var n = 0
        for v in grey where v <= darkLevel { n += 1 }
        return Double(n) / Double(grey.count)
    }

    /// Bytes per patch.
    public var features: Int { dark ? 4 : 3 }

    public var canvasWidth: Int { frameWidth * scale }
    public var canvasHeight: Int { frameHeight * scale }
    public var patches: Int { (frameWidth / patch) * (frameHeight / patch) }
    /// Bytes `measure` returns per frame.
    public var bytesPerFrame: Int { patches * features }

    /// The level of a mean absolute difference.
    @inlinable public static func level(_ x: Double) -> UInt8 {
        UInt8(min(255, (32 * log2(1 + max(0, x))).rounded()))
    }

    public func measure(_ canvas: [UInt8], previous: [UInt8]?) -> [UInt8] {
        let w = canvasWidth, side = patch * scale
        precondition(canvas.count == w * canvasHeight && (previous == nil || previous!.count == canvas.count),
                     "canvas is not \(w)x\(canvasHeight)")
        let block = max(1, side / 4)
        var out = [UInt8](repeating: 0, count: bytesPerFrame)
        var i = 0
        canvas.withUnsafeBufferPointer { now in
            for py in 0..<(frameHeight / patch) {
                for px in 0..<(frameWidth / patch) {
                    let x0 = px * side, y0 = py * side
                    var texture = 0, darkPixels = 0
                    for y in y0..<(y0 + side) {
                        let row = y * w
                        for x in x0..<(x0 + side) {
                            let v = Int(now[row + x])
                            if v <= Int(Self.darkLevel) { darkPixels += 1 }
                            if x + 1 < x0 + side { texture += abs(Int(now[row + x + 1]) - v) }
                            if y + 1 < y0 + side { texture += abs(Int(now[row + w + x]) - v) }
                        }
                    }
                    let pairs = 2 * side * (side - 1)
                    out[i + 2] = Self.level(pairs > 0 ? Double(texture) / Double(pairs) : 0)
                    if dark { out[i + 3] = UInt8((255 * Double(darkPixels) / Double(side * side)).rounded()) }
                    if let previous {
                        previous.withUnsafeBufferPointer { before in
                            var total = 0, peak = 0.0
                            for by in stride(from: y0, to: y0 + side, by: block) {
                                for bx in stride(from: x0, to: x0 + side, by: block) {
                                    var sum = 0
                                    let ys = by..<min(by + block, y0 + side), xs = bx..<min(bx + block, x0 + side)
                                    for y in ys {
                                        let row = y * w
                                        for x in xs { sum += abs(Int(now[row + x]) - Int(before[row + x])) }
                                    }
                                    total += sum
                                    peak = max(peak, Double(sum) / Double(ys.count * xs.count))
                                }
                            }
                            out[i] = Self.level(Double(total) / Double(side * side))
                            out[i + 1] = Self.level(peak)
                        }
                    }
                    i += features
                }
            }
        }
        return out
    }
}
