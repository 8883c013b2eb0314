import Foundation
import Testing
@testable import VideoIO
import _TestSupport

/// The statistics written out the long way, in Double, one patch at a time.
private func referenceDetail(_ m: DetailMeter, _ now: [UInt8], _ before: [UInt8]?) -> [UInt8] {
    let side = m.patch * m.scale, w = m.canvasWidth, block = max(1, side / 4)
    func px(_ c: [UInt8], _ x: Int, _ y: Int) -> Double { Double(c[y * w + x]) }
    func level(_ x: Double) -> UInt8 { UInt8(min(255, (32 * log2(1 + x)).rounded())) }
    var out: [UInt8] = []
    for py in 0..<(m.frameHeight / m.patch) {
        for qx in 0..<(m.frameWidth / m.patch) {
            let xs = (qx * side)..<((qx + 1) * side), ys = (py * side)..<((py + 1) * side)
            var change = 0.0, peak = 0.0
            if let before {
                for y in ys { for x in xs { change += abs(px(now, x, y) - px(before, x, y)) } }
                change /= Double(side * side)
                for by in stride(from: ys.lowerBound, to: ys.upperBound, by: block) {
                    for bx in stride(from: xs.lowerBound, to: xs.upperBound, by: block) {
                        var sum = 0.0, n = 0.0
                        for y in by..<min(by + block, ys.upperBound) { for x in bx..<min(bx + block, xs.upperBound) {
                            sum += abs(px(now, x, y) - px(before, x, y)); n += 1
                        } }
                        peak = max(peak, sum / n)
                    }
                }
            }
            var texture = 0.0, pairs = 0.0
            for y in ys { for x in xs {
                if x + 1 < xs.upperBound { texture += abs(px(now, x + 1, y) - px(now, x, y)); pairs += 1 }
                if y + 1 < ys.upperBound { texture += abs(px(now, x, y + 1) - px(now, x, y)); pairs += 1 }
            } }
            out += [level(change), level(peak), level(pairs > 0 ? texture / pairs : 0)]
            if m.dark {
                var dark = 0.0
                for y in ys { for x in xs where now[y * w + x] <= 25 { dark += 1 } }
                out.append(UInt8((255 * dark / Double(side * side)).rounded()))
            }
        }
    }
    return out
}

@Suite struct DetailMeterTests {
    @Test(arguments: [(2, 2, 4, 2, false), (4, 4, 8, 8, true), (3, 3, 6, 3, true), (16, 1, 32, 16, false)])
    func matchesTheLongWayOnRandomPictures(patch: Int, scale: Int, width: Int, height: Int, dark: Bool) {
        let m = DetailMeter(patch: patch, scale: scale, frameWidth: width, frameHeight: height, dark: dark)
        var g = SystemRandomNumberGenerator()
        let n = m.canvasWidth * m.canvasHeight
        // Mixed: smooth ramps with a few specks, so every level range is used (and some dark pixels).
        func picture(_ amplitude: Int) -> [UInt8] {
            (0..<n).map { i in UInt8(clamping: (i % 200) + Int.random(in: -amplitude...amplitude, using: &g)) }
        }
        #expect(m.bytesPerFrame == m.patches * (dark ? 4 : 3))
        for amplitude in [0, 2, 40] {
            let a = picture(amplitude), b = picture(amplitude)
            #expect(m.measure(a, previous: b) == referenceDetail(m, a, b), "amplitude \(amplitude)")
            #expect(m.measure(a, previous: nil) == referenceDetail(m, a, nil))
        }
    }

    @Test func aHeldPictureHasNoChangeAndAFlatOneNoTexture() {
        let m = DetailMeter(patch: 2, scale: 4, frameWidth: 4, frameHeight: 4)
        var g = SystemRandomNumberGenerator()
        let a = (0..<(m.canvasWidth * m.canvasHeight)).map { _ in UInt8.random(in: 0...255, using: &g) }
        let held = m.measure(a, previous: a)
        #expect(held.count == m.bytesPerFrame && held.count == 12)
        for p in 0..<4 { #expect(held[p * 3] == 0 && held[p * 3 + 1] == 0 && held[p * 3 + 2] > 150) }
        let flat = m.measure([UInt8](repeating: 90, count: a.count), previous: nil)
        #expect(flat.allSatisfy { $0 == 0 })
        // One changed pixel: too little for the patch mean to reach a level, plain in its block's peak.
        var speck = a
        speck[0] = a[0] &+ 128
        let one = m.measure(speck, previous: a)
        #expect(one[0] > 0 && one[1] > one[0] && one[3] == 0 && one[4] == 0)
    }

    @Test func tokensEndWithTheDetailBytes() {
        let t = PatchTokenizer(patch: 2, frameWidth: 4, frameHeight: 2, motion: true, detail: 3)
        #expect(t.tokenWidth == 12 * 2 + 3)
        let rgb = [UInt8](repeating: 255, count: 4 * 2 * 3)
        let tokens = t.tokens(rgb, detail: [0, 255, 51, 10, 20, 30])
        #expect(tokens.count == 2 * 27)
        let want: [Float] = [-1, 1, 51 / 127.5 - 1, 10 / 127.5 - 1, 20 / 127.5 - 1, 30 / 127.5 - 1]
        for p in 0..<2 { for k in 0..<3 { #expect(abs(tokens[p * 27 + 24 + k] - want[p * 3 + k]) < 1e-6) } }
        #expect(abs(tokens[0] - 1) < 1e-6 && tokens[12] == 0)
    }

    /// The gain multiplies the statistics alone: pixels and motion stay as they were.
    @Test func detailGainScalesOnlyTheStatistics() {
        let plain = PatchTokenizer(patch: 2, frameWidth: 4, frameHeight: 2, motion: true, detail: 3)
        let loud = PatchTokenizer(patch: 2, frameWidth: 4, frameHeight: 2, motion: true, detail: 3, detailGain: 6)
        var rng = SystemRandomNumberGenerator()
        let rgb = (0..<24).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let before = (0..<24).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let bytes = (0..<6).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let a = plain.tokens(rgb, previous: before, detail: bytes), b = loud.tokens(rgb, previous: before, detail: bytes)
        for p in 0..<2 {
            for i in 0..<24 { #expect(a[p * 27 + i] == b[p * 27 + i]) }
            for k in 0..<3 {
                let want = 6 * (Double(bytes[p * 3 + k]) / 127.5 - 1)
                #expect(abs(Double(b[p * 27 + 24 + k]) - want) < 1e-5)
            }
        }
    }
}

@Suite(.enabled(if: ffmpegAvailable, "needs the ffmpeg CLI to make videos"))
struct DetailFromVideoTests {
    /// A 640x480 mandelbrot: held 2 s, panned a third of a pixel a frame for
    /// 2 s, then snow for 2 s; detail is measured on a 256x256 grey picture.
    @Test func heldSlowPanAndSnowTellApart() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vidformer-detail-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("v.mkv").path
        let graph = "[0]split[a][b];[a]crop=640:480:0:0,trim=end=2[held];" +
                    "[b]crop=640:480:'floor(n/3)':0,trim=start=2:end=4,setpts=PTS-STARTPTS[pan];" +
                    "[1]trim=end=2,setpts=PTS-STARTPTS[snow];[held][pan][snow]concat=n=3"
        _ = try run("ffmpeg", ["-v", "error", "-y",
                               "-f", "lavfi", "-i", "mandelbrot=s=840x480:r=25,trim=end_frame=1,loop=loop=150:size=1,setpts=N/25/TB",
                               "-f", "lavfi", "-i", "color=gray:s=640x480:r=25,noise=alls=60:allf=t+u",
                               "-filter_complex", graph, "-c:v", "ffv1", path])
        let (frames, _) = try decodeAll(InputSpec(path)) {
            $0.fps = 4
            $0.scaling = .fast
            $0.detail = DetailMeter(patch: 16, scale: 4, frameWidth: 64, frameHeight: 64)
        }
        #expect(frames.count == 24)
        func mean(_ range: Range<Int>, _ k: Int) -> Double {
            let v = frames[range].flatMap { f in stride(from: k, to: f.detail.count, by: 3).map { Double(f.detail[$0]) } }
            return v.reduce(0, +) / Double(v.count)
        }
        let held = 1..<7, pan = 10..<15, snow = 18..<24
        #expect(mean(held, 0) == 0 && mean(held, 1) == 0, "lossless hold: nothing changes")
        #expect(mean(pan, 0) > 20, "a slow pan changes the sharp picture: \(mean(pan, 0))")
        #expect(mean(snow, 2) > mean(pan, 2) + 40, "snow: texture \(mean(snow, 2)) vs picture \(mean(pan, 2))")
        #expect(mean(snow, 0) > mean(pan, 0) + 40)
        #expect(mean(held, 2) > 20 && mean(pan, 2) > 20, "a fractal is textured")
    }

    /// Black (limited-range luma 16) reads as all dark, a 20% grey as none, whatever the codec does.
    @Test func blackIsDarkAndGreyIsNot() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vidformer-dark-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("v.mp4").path
        _ = try run("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", "color=black:s=320x240:r=25:d=1",
                               "-f", "lavfi", "-i", "color=0x333333:s=320x240:r=25:d=1",
                               "-filter_complex", "[0][1]concat=n=2", "-c:v", "libx264", "-pix_fmt", "yuv420p", path])
        let (frames, _) = try decodeAll(InputSpec(path)) {
            $0.fps = 4
            $0.detail = DetailMeter(patch: 16, scale: 4, frameWidth: 64, frameHeight: 64, dark: true)
        }
        #expect(frames.count == 8)
        for f in frames {
            let dark = stride(from: 3, to: f.detail.count, by: 4).map { f.detail[$0] }
            #expect(dark.count == 16)
            #expect(dark.allSatisfy { $0 == (f.time < 1 ? 255 : 0) }, "\(f.time): \(dark)")
        }
    }

    /// The whole-frame dark share (the black definition's measure): black with a white box of 1%
    /// and of 4% of the picture, then a 20% grey; the same on the detail canvas and on a grey
    /// picture of its own, and never counting letterbox padding.
    @Test func darkShareOfTheWholePicture() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vidformer-darkshare-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("v.mkv").path
        _ = try run("ffmpeg", ["-v", "error", "-y",
                               "-f", "lavfi", "-i", "color=black:s=320x240:r=25:d=1,drawbox=x=100:y=50:w=32:h=24:color=white:t=fill",
                               "-f", "lavfi", "-i", "color=black:s=320x240:r=25:d=1,drawbox=x=10:y=100:w=64:h=48:color=white:t=fill",
                               "-f", "lavfi", "-i", "color=0x333333:s=320x240:r=25:d=1",
                               "-filter_complex", "[0][1][2]concat=n=3", "-c:v", "ffv1", "-pix_fmt", "yuv420p", path])
        let expected = [0.99, 0.96, 0.0]
        for useCanvas in [false, true] {
            let (frames, _) = try decodeAll(InputSpec(path)) {
                $0.fps = 4
                $0.darkShare = true
                if useCanvas { $0.detail = DetailMeter(patch: 16, scale: 4, frameWidth: 64, frameHeight: 64, dark: true) }
            }
            #expect(frames.count == 12)
            for f in frames {
                let share = try #require(f.darkShare)
                let want = expected[min(2, Int(f.time))]
                #expect(abs(share - want) < 0.002, "canvas \(useCanvas), \(f.time) s: \(share) vs \(want)")
            }
        }
        let (plain, _) = try decodeAll(InputSpec(path)) { $0.fps = 4 }
        #expect(plain.allSatisfy { $0.darkShare == nil }, "not measured unless asked")

        // A wide white picture letterboxed into a square frame: the padding is black, the picture is not.
        let wide = dir.appendingPathComponent("wide.mkv").path
        _ = try run("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", "color=white:s=640x240:r=25:d=1", "-c:v", "ffv1", wide])
        let (boxed, _) = try decodeAll(InputSpec(wide)) {
            $0.fps = 4
            $0.aspect = .letterbox
            $0.darkShare = true
            $0.detail = DetailMeter(patch: 16, scale: 4, frameWidth: 64, frameHeight: 64, dark: true)
        }
        let first = try #require(boxed.first)
        #expect(first.detail[3] == 255, "the top patches are padding, dark in the detail statistics")
        #expect(boxed.allSatisfy { $0.darkShare == 0 }, "\(boxed.map(\.darkShare))")
    }
}
