import Foundation
import Testing
@testable import VideoIO
import _TestSupport

/// Frame times as ffprobe reports them (best-effort timestamps), relative to the stream start.
func ffprobeTimes(_ path: String, keyOnly: Bool = false) throws -> [Double] {
    func values(_ entries: String, _ extra: [String] = []) throws -> [Double] {
        let r = try run("ffprobe", ["-v", "error", "-select_streams", "v:0"] + extra + ["-show_entries", entries, "-of", "csv=p=0", path])
        return r.text.split(separator: "\n").compactMap { Double($0.trimmingCharacters(in: .init(charactersIn: ", "))) }
    }
    let start = try values("stream=start_time").first ?? 0
    return try values("frame=best_effort_timestamp_time", keyOnly ? ["-skip_frame", "nokey"] : []).map { $0 - start }
}

func decodeAll(_ spec: InputSpec, _ configure: (inout FrameSourceOptions) -> Void = { _ in }) throws -> (frames: [SampledFrame], stats: DecodeStats) {
    var options = FrameSourceOptions()
    configure(&options)
    let source = try FrameSource(spec, options: options)
    var frames: [SampledFrame] = []
    while let f = try source.next() { frames.append(f) }
    return (frames, source.stats)
}

func meanAbsoluteDifference(_ a: [UInt8], _ b: [UInt8]) -> Double {
    precondition(a.count == b.count)
    var s = 0
    for i in a.indices { s += abs(Int(a[i]) - Int(b[i])) }
    return Double(s) / Double(a.count)
}

/// ffmpeg's own 64x64 RGB rendering of the first frame (with its autorotation).
func ffmpegFirstFrame(_ path: String, size: Int = 64) throws -> [UInt8] {
    let r = try run("ffmpeg", ["-v", "error", "-i", path, "-frames:v", "1", "-vf", "scale=\(size):\(size):flags=bilinear",
                               "-pix_fmt", "rgb24", "-f", "rawvideo", "-"])
    return [UInt8](r.stdout)
}

let ffmpegAvailable = haveTool("ffprobe") && haveTool("ffmpeg")

@Suite(.enabled(if: ffmpegAvailable, "needs the ffmpeg and ffprobe CLIs as references"))
struct FrameSourceTests {
    @Test(arguments: ["cfr_h264.mp4", "vfr_h264.mkv", "offset.ts", "mpeg4.avi", "vp9.webm"])
    func timestampsMatchFFprobe(name: String) throws {
        let path = sample(name)
        let want = try ffprobeTimes(path)
        let (frames, stats) = try decodeAll(InputSpec(path)) { $0.skipNonReference = false }
        #expect(frames.count == want.count)
        #expect(stats.framesDecoded == want.count)
        for (f, t) in zip(frames, want) { #expect(abs(f.time - t) < 1e-6, "frame \(f.index): \(f.time) vs \(t)") }
        #expect(frames.first.map { abs($0.time) < 1e-6 } ?? false, "time starts at zero even when PTS does not")
    }

    @Test(arguments: [0.5, 1.0, 2.0, 4.0, 10.0, 30.0])
    func sampleCountsFollowTheGrid(fps: Double) throws {
        let path = sample("vfr_h264.mkv")
        let times = try ffprobeTimes(path)
        let want = referenceSample(times, fps: fps, nominal: 1.0 / 30).map { times[$0] }
        let (frames, stats) = try decodeAll(InputSpec(path)) { $0.fps = fps; $0.skipNonReference = false }
        #expect(frames.map(\.time).count == want.count, "fps \(fps)")
        for (f, t) in zip(frames, want) { #expect(abs(f.time - t) < 1e-6) }
        #expect(stats.framesSampled == frames.count)
        #expect(frames.map(\.index) == Array(0..<frames.count))
    }

    @Test func sparseSamplingSkipsNonReferenceFramesAndStillCoversTheGrid() throws {
        let (all, _) = try decodeAll(InputSpec(sample("cfr_h264.mp4"))) { $0.skipNonReference = false }
        let (frames, stats) = try decodeAll(InputSpec(sample("cfr_h264.mp4"))) { $0.fps = 2 }
        #expect(stats.framesDecoded < all.count, "B-frames were skipped")
        #expect(frames.count == 8)
        for (k, f) in frames.enumerated() { #expect(abs(f.time - Double(k) * 0.5) <= 2.0 / 30 + 1e-9) }
    }

    @Test func keyframesOnlyYieldsExactlyTheKeyFrames() throws {
        let path = sample("longgop_h264.mp4")
        let want = try ffprobeTimes(path, keyOnly: true)
        #expect(want.count == 3)
        let (frames, _) = try decodeAll(InputSpec(path)) { $0.keyframesOnly = true }
        #expect(frames.map(\.time).count == want.count)
        for (f, t) in zip(frames, want) { #expect(abs(f.time - t) < 1e-6) }
        #expect(frames.allSatisfy { $0.isKeyFrame })
    }

    @Test func startAndEndTrim() throws {
        let (frames, _) = try decodeAll(InputSpec(sample("longgop_h264.mp4"))) { $0.start = 2.5; $0.end = 4.0; $0.fps = 2; $0.skipNonReference = false }
        #expect(frames.map(\.time).map { ($0 * 1000).rounded() / 1000 } == [2.52, 3.0, 3.48], "ties go to the earlier frame; frames before --start are dropped")
    }

    @Test func pipeGivesTheSameFramesAsTheFile() throws {
        let path = sample("vfr_h264.mkv")
        let (fromFile, _) = try decodeAll(InputSpec(path)) { $0.fps = 4 }
        let pipe = Pipe()
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let writer = Thread {
            pipe.fileHandleForWriting.write(data)
            try? pipe.fileHandleForWriting.close()
        }
        writer.start()
        let spec = InputSpec("pipe:\(pipe.fileHandleForReading.fileDescriptor)", idleTimeout: 10)
        let (fromPipe, _) = try decodeAll(spec) { $0.fps = 4 }
        #expect(fromPipe.count == fromFile.count)
        for (a, b) in zip(fromPipe, fromFile) {
            #expect(a.time == b.time)
            #expect(a.rgb == b.rgb)
        }
    }

    @Test func tenBitDecodesLikeItsEightBitTwin() throws {
        let (ten, _) = try decodeAll(InputSpec(sample("tenbit_h264.mp4"))) { $0.fps = 2 }
        let (eight, _) = try decodeAll(InputSpec(sample("eightbit_h264.mp4"))) { $0.fps = 2 }
        #expect(ten.count == eight.count && ten.count == 4)
        for (a, b) in zip(ten, eight) {
            let d = meanAbsoluteDifference(a.rgb, b.rgb)
            #expect(d < 4, "mean |10-bit - 8-bit| = \(d) levels at t=\(a.time)")
        }
    }

    @Test func rotationFollowsTheDisplayMatrixLikeFFmpeg() throws {
        let path = sample("rotated.mp4")
        let source = try FrameSource(InputSpec(path))
        #expect(source.info.rotation != .none)
        let ours = try #require(try source.next()).rgb
        let reference = try ffmpegFirstFrame(path)
        let (plain, _) = try decodeAll(InputSpec(sample("eightbit_h264.mp4"))) { $0.fps = 1 }
        let matching = meanAbsoluteDifference(ours, reference)
        let unrotated = meanAbsoluteDifference(plain[0].rgb, reference)
        #expect(matching < 10, "ours vs ffmpeg's autorotated frame: \(matching)")
        #expect(unrotated > 4 * matching, "the unrotated picture differs clearly: \(unrotated)")
    }

    @Test(arguments: ["cfr_h264.mp4", "tenbit_h264.mp4", "vfr_h264.mkv", "rotated.mp4", "longgop_h264.mp4",
                      "vp9.webm", "mpeg2.ts", "mpeg4.avi", "mjpeg.mov", "ffv1_444.mkv", "offset.ts", "odd_17x13.mkv"])
    func everySampleDecodesAndMatchesFFmpegsPicture(name: String) throws {
        let path = sample(name)
        let want = try ffprobeTimes(path)
        let (frames, stats) = try decodeAll(InputSpec(path)) { $0.skipNonReference = false }
        #expect(frames.count == want.count && !frames.isEmpty)
        #expect(stats.decodeErrors == 0)
        let d = meanAbsoluteDifference(frames[0].rgb, try ffmpegFirstFrame(path))
        #expect(d < (name == "rotated.mp4" ? 10 : 6), "\(name): first frame differs from ffmpeg's by \(d) levels")
    }

    @Test func letterboxKeepsTheAspectRatio() throws {
        let (frames, _) = try decodeAll(InputSpec(sample("cfr_h264.mp4"))) { $0.fps = 1; $0.aspect = .letterbox }
        // 320x240 in 64x64: a 64x48 picture with 8-pixel black bars above and below.
        let rgb = frames[0].rgb
        let top = rgb[0..<(64 * 8 * 3)], bottom = rgb[(64 * 56 * 3)...]
        #expect(top.allSatisfy { $0 == 0 } && bottom.allSatisfy { $0 == 0 })
        #expect(rgb[(64 * 8 * 3)..<(64 * 56 * 3)].contains { $0 > 40 })
    }

    @Test func missingFileAndNonVideoAreTypedErrors() throws {
        #expect(throws: FFmpegError.self) { try FrameSource(InputSpec("/nonexistent/x.mp4")) }
        let text = FileManager.default.temporaryDirectory.appendingPathComponent("vidformer-not-video.mp4")
        try Data("hello, this is not a video\n".utf8).write(to: text)
        defer { try? FileManager.default.removeItem(at: text) }
        do {
            _ = try FrameSource(InputSpec(text.path))
            Issue.record("opened a text file")
        } catch let e as FFmpegError {
            #expect(e.message.hasPrefix(text.path))
        }
    }
}

@Suite struct PatchTokenizerTests {
    @Test func knownPatternGivesTokensInTheDocumentedOrder() {
        // 4x4 frame, 2-pixel patches: pixel (x, y) has R = x, G = y, B = 10*y + x.
        var rgb: [UInt8] = []
        for y in 0..<4 { for x in 0..<4 { rgb += [UInt8(x), UInt8(y), UInt8(10 * y + x)] } }
        let t = PatchTokenizer(patch: 2, frameWidth: 4, frameHeight: 4)
        let tokens = t.tokens(rgb)
        #expect(t.tokensPerFrame == 4 && t.tokenWidth == 12 && tokens.count == 48)
        for patchIndex in 0..<4 {
            let py = patchIndex / 2, px = patchIndex % 2
            for y in 0..<2 { for x in 0..<2 { for c in 0..<3 {
                let gx = px * 2 + x, gy = py * 2 + y
                let byte = [gx, gy, 10 * gy + gx][c]
                let v = tokens[patchIndex * 12 + (y * 2 + x) * 3 + c]
                #expect(abs(Double(v) - (Double(byte) / 127.5 - 1)) < 1e-6)
            } } }
        }
    }

    @Test func motionTokensCarryTheChangeSinceThePreviousFrame() {
        var a: [UInt8] = [], b: [UInt8] = []
        var g = SystemRandomNumberGenerator()
        for _ in 0..<(4 * 4 * 3) { a.append(UInt8.random(in: 0...255, using: &g)); b.append(UInt8.random(in: 0...255, using: &g)) }
        let plain = PatchTokenizer(patch: 2, frameWidth: 4, frameHeight: 4)
        let t = PatchTokenizer(patch: 2, frameWidth: 4, frameHeight: 4, motion: true)
        #expect(t.tokenWidth == 24)
        let first = t.tokens(a), second = t.tokens(b, previous: a)
        let pa = plain.tokens(a), pb = plain.tokens(b)
        for k in 0..<4 {
            for i in 0..<12 {
                // First half: the pixels as without motion; second half: (b - a) / 127.5, zero with no previous frame.
                #expect(first[k * 24 + i] == pa[k * 12 + i] && first[k * 24 + 12 + i] == 0)
                #expect(second[k * 24 + i] == pb[k * 12 + i])
                #expect(abs(Double(second[k * 24 + 12 + i]) - Double(pb[k * 12 + i] - pa[k * 12 + i])) < 1e-5)
            }
        }
        // A held picture has no motion at all.
        #expect(t.tokens(a, previous: a).enumerated().allSatisfy { $0.offset % 24 < 12 || $0.element == 0 })
    }

    /// The summary token against a Double reference: a 12x8 frame with 4-pixel patches shrinks
    /// by 3x2 block means to one 4x4 patch; its motion half is the change of that shrunk picture,
    /// its detail the mean of the six patches' bytes with the gain; the patch tokens before it
    /// are exactly those of the tokenizer without a summary.
    @Test func summaryTokenIsTheWholeFrameShrunkToOnePatch() {
        var rng = SystemRandomNumberGenerator()
        let (w, h, p, k) = (12, 8, 4, 2)
        let a = (0..<(w * h * 3)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let b = (0..<(w * h * 3)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let bytes = (0..<(6 * k)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let plain = PatchTokenizer(patch: p, frameWidth: w, frameHeight: h, motion: true, detail: k, detailGain: 3)
        let t = PatchTokenizer(patch: p, frameWidth: w, frameHeight: h, motion: true, detail: k, detailGain: 3, summary: true)
        #expect(t.patchCount == 6 && t.tokensPerFrame == 7 && t.tokenWidth == plain.tokenWidth)
        let tokens = t.tokens(b, previous: a, detail: bytes)
        let width = t.tokenWidth
        #expect(tokens.count == 7 * width)
        #expect(Array(tokens[..<(6 * width)]) == plain.tokens(b, previous: a, detail: bytes))
        func shrunk(_ rgb: [UInt8], _ x: Int, _ y: Int, _ c: Int) -> Double {
            var sum = 0.0
            for yy in (2 * y)..<(2 * y + 2) { for xx in (3 * x)..<(3 * x + 3) { sum += Double(rgb[(yy * w + xx) * 3 + c]) } }
            return sum / 6
        }
        let summary = Array(tokens[(6 * width)...])
        var worst = 0.0
        for y in 0..<p { for x in 0..<p { for c in 0..<3 {
            let i = (y * p + x) * 3 + c
            worst = max(worst, abs(Double(summary[i]) - (shrunk(b, x, y, c) / 127.5 - 1)))
            worst = max(worst, abs(Double(summary[48 + i]) - (shrunk(b, x, y, c) - shrunk(a, x, y, c)) / 127.5))
        } } }
        for f in 0..<k {
            let mean = (0..<6).map { Double(bytes[$0 * k + f]) }.reduce(0, +) / 6
            worst = max(worst, abs(Double(summary[96 + f]) - 3 * (mean / 127.5 - 1)))
        }
        #expect(worst < 1e-5, "largest difference from the reference: \(worst)")
        // Without a previous frame the change is zero, as for patches.
        let first = t.tokens(b, detail: bytes)
        #expect(first[(6 * width + 48)..<(6 * width + 96)].allSatisfy { $0 == 0 })
    }

    @Test func blackAndWhiteMapToMinusOneAndOne() {
        let t = PatchTokenizer(patch: 4, frameWidth: 8, frameHeight: 4)
        #expect(t.tokens([UInt8](repeating: 0, count: 96)).allSatisfy { $0 == -1 })
        #expect(t.tokens([UInt8](repeating: 255, count: 96)).allSatisfy { abs($0 - 1) < 1e-6 })
    }
}

@Suite struct GeometryTests {
    @Test func rotationFromDisplayMatrixAngle() {
        #expect(Rotation(displayMatrixDegrees: 0) == .none)
        #expect(Rotation(displayMatrixDegrees: -90) == .clockwise90)
        #expect(Rotation(displayMatrixDegrees: 90) == .counterClockwise90)
        #expect(Rotation(displayMatrixDegrees: 180) == .upsideDown)
        #expect(Rotation(displayMatrixDegrees: -180) == .upsideDown)
    }

    @Test func letterboxPlacement() {
        let p = FramePlacement(sourceWidth: 1920, sourceHeight: 1080, outWidth: 64, outHeight: 64, rotation: .none, aspect: .letterbox)
        #expect(p.scaledWidth == 64 && p.scaledHeight == 36 && p.x == 0 && p.y == 14)
        let r = FramePlacement(sourceWidth: 1920, sourceHeight: 1080, outWidth: 64, outHeight: 64, rotation: .clockwise90, aspect: .letterbox)
        #expect(r.scaledWidth == 64 && r.scaledHeight == 36 && r.x == 14 && r.y == 0)
    }
}
