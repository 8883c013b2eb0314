import Foundation
import Testing
@testable import Vidformer
import _TestSupport
import TensorCore
import VideoIO
import ReformerModel

/// Three 6-second videos, each black, bars and moving content for 2 s in a different order,
/// with CSV sidecars: made once with the ffmpeg CLI.
let labelledFolder: String = {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vidformer-labelled-\(getpid())").path
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let sources = ["black": "color=c=black:s=160x120:r=10:d=2", "bars": "smptebars=s=160x120:r=10:d=2",
                   "content": "mandelbrot=s=160x120:r=10:end_pts=2,trim=duration=2"]
    let orders = [["black", "bars", "content"], ["content", "black", "bars"], ["bars", "content", "black"]]
    for (i, order) in orders.enumerated() {
        let video = "\(dir)/v\(i).mp4"
        var args = ["-nostdin", "-v", "error", "-y"]
        for label in order { args += ["-f", "lavfi", "-i", sources[label]!] }
        args += ["-filter_complex", "[0][1][2]concat=n=3:v=1,format=yuv420p", "-c:v", "libx264", "-preset", "ultrafast", video]
        _ = try? run("ffmpeg", args)
        let csv = "start,end,label\n" + order.enumerated().map { "\($0.offset * 2),\($0.offset * 2 + 2),\($0.element)" }.joined(separator: "\n") + "\n"
        try? csv.write(toFile: "\(dir)/v\(i).csv", atomically: true, encoding: .utf8)
    }
    return dir
}()

let tinyModelArgs = ["--size", "32x32", "--patch", "8", "--d-model", "32", "--layers", "1", "--d-ff", "64",
                     "--tokens", "2048", "--warmup", "2", "--lr", "0.003", "--no-progress", "--threads", "2"]

@Suite(.enabled(if: haveTool("ffmpeg"), "needs the ffmpeg CLI to make labelled videos"), .serialized)
struct TrainingTests {
    @Test func trainSavesAModelThatEvalAndClassifyUseAndResumeContinues() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("vidformer-trained-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try run(vidformerBinary, ["train", "--data", labelledFolder, "--out", out, "--epochs", "4", "--val-split", "0"] + tinyModelArgs)
        #expect(r.status == 0, "\(r.stderr)")
        let epochs = r.stderr.split(separator: "\n").filter { $0.hasPrefix("epoch ") }
        #expect(epochs.count == 4)
        let losses = epochs.compactMap { line -> Double? in
            guard let range = line.range(of: "train loss ") else { return nil }
            return Double(line[range.upperBound...].prefix { $0 != "," && $0 != " " })
        }
        #expect(losses.count == 4 && losses.last! < losses.first!, "loss falls: \(losses)")
        for file in ["config.json", "model.safetensors", "training-state.json", "training-state.safetensors"] {
            #expect(FileManager.default.fileExists(atPath: "\(out)/\(file)"), "\(file)")
        }
        // Resume: two more epochs continue from epoch 5.
        let more = try run(vidformerBinary, ["train", "--data", labelledFolder, "--out", out, "--epochs", "6", "--val-split", "0", "--resume"] + tinyModelArgs)
        #expect(more.status == 0, "\(more.stderr)")
        #expect(more.stderr.split(separator: "\n").filter { $0.hasPrefix("epoch ") }.map { $0.prefix(8) } == ["epoch 5:", "epoch 6:"])
        // eval reads the same folder and reports every metric.
        let e = try run(vidformerBinary, ["eval", "--data", labelledFolder, "--model", out, "--format", "json"])
        #expect(e.status == 0, "\(e.stderr)")
        let doc = try #require(try JSONSerialization.jsonObject(with: e.stdout) as? [String: Any])
        #expect(doc["frames"] as? Int == 3 * 6 * 4, "3 videos, 6 s each, 4 samples a second")
        #expect((doc["accuracy"] as? Double ?? -1) >= 0)
        #expect((doc["segmental_f1"] as? [String: Double])?.keys.sorted() == ["0.10", "0.25", "0.50"])
        let c = try run(vidformerBinary, ["classify", "--model", out, "--format", "json", "\(labelledFolder)/v0.mp4"])
        #expect(c.status == 0)
        // Python's safetensors package reads the weights, when it is installed.
        let py = ProcessInfo.processInfo.environment["PEERS_PY"] ?? NSHomeDirectory() + "/.cache/vidformer-peers/venv/bin/python"
        if FileManager.default.isExecutableFile(atPath: py) {
            let check = try run(py, [repositoryRoot.appendingPathComponent("Tools/check_safetensors.py").path, out])
            #expect(check.status == 0 && check.text.hasPrefix("ok:"), "\(check.stderr)")
        }
    }

    @Test func sameSeedTrainsTheSameWeights() throws {
        var weights: [Data] = []
        for i in 0..<2 {
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("vidformer-seed-\(getpid())-\(i)").path
            defer { try? FileManager.default.removeItem(atPath: out) }
            let r = try run(vidformerBinary, ["train", "--data", labelledFolder, "--out", out, "--epochs", "1", "--val-split", "0",
                                              "--name", "seeded"] + tinyModelArgs)
            #expect(r.status == 0, "\(r.stderr)")
            weights.append(try Data(contentsOf: URL(fileURLWithPath: "\(out)/model.safetensors")))
        }
        #expect(weights[0] == weights[1])
    }

    /// The summary token and shifted look-back keys reach the model: recorded in the config, one
    /// more token a frame (so look-back groups are 17 tokens), and the saved model trains, loads
    /// and classifies every frame; shifted keys without look-back heads are a usage error.
    @Test func summaryTokenTrainsAndClassifies() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("vidformer-summary-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try run(vidformerBinary, ["train", "--data", labelledFolder, "--out", out, "--epochs", "1", "--val-split", "0",
                                          "--look-back-heads", "1", "--look-back-seconds", "1", "--motion", "--detail", "2",
                                          "--summary-token", "--mirror", "--look-back-shift"] + tinyModelArgs)
        #expect(r.status == 0, "\(r.stderr)")
        let config = try JSONDecoder().decode(ModelConfig.self, from: Data(contentsOf: URL(fileURLWithPath: "\(out)/config.json")))
        #expect(config.frames.summary && config.frames.tokenizer.tokensPerFrame == 17)
        #expect(config.classifierConfig.tokensPerFrame == 17 && config.network.attention.lookBack?.group == 17)
        // Shifted look-back keys: recorded, and used by the head that looks back (only it).
        #expect(config.network.attention.lookBack?.shiftKeys == true)
        #expect(config.network.attention.keyShift(head: 0)! == (4, 17) && config.network.attention.keyShift(head: 1) == nil)
        let c = try run(vidformerBinary, ["classify", "--model", out, "--format", "json", "--frames", "\(labelledFolder)/v1.mp4"])
        #expect(c.status == 0, "\(c.stderr)")
        let json = try JSONSerialization.jsonObject(with: c.stdout) as? [String: Any]
        let frames = json?["frames"] as? [[String: Any]] ?? []
        let probe = try run(vidformerBinary, ["probe", "--format", "json", "\(labelledFolder)/v1.mp4"])
        let sampling = (try JSONSerialization.jsonObject(with: probe.stdout) as? [String: Any])?["sampling"] as? [String: Any]
        let sampled = sampling?["frames"] as? Int
        #expect(!frames.isEmpty && frames.count == sampled, "\(frames.count) frames labelled, probe says \(String(describing: sampled))")
        let shift = try run(vidformerBinary, ["train", "--data", labelledFolder, "--out", out, "--look-back-shift"] + tinyModelArgs)
        #expect(shift.status == 64 && shift.stderr.contains("--look-back-shift needs --look-back-heads"), "\(shift.stderr)")
    }

    /// Look-back heads and augmentation reach the model: the config records them, the model
    /// trains and classifies; synthetic repeats need the labels they write.
    @Test func lookBackHeadsDetailAndAugmentationTrain() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("vidformer-lookback-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try run(vidformerBinary, ["train", "--data", labelledFolder, "--out", out, "--epochs", "1", "--val-split", "0",
                                          "--look-back-heads", "2", "--look-back-seconds", "1", "--mirror", "--detail", "2",
                                          "--detail-gain", "4", "--time-signal", "0.5", "--local-heads", "1",
                                          "--frame-context", "--black-label", "black"] + tinyModelArgs)
        #expect(r.status == 0, "\(r.stderr)")
        let config = try JSONDecoder().decode(ModelConfig.self, from: Data(contentsOf: URL(fileURLWithPath: "\(out)/config.json")))
        // 32x32 frames in 8x8 patches: 16 tokens a frame; 1 s at 4 samples a second.
        #expect(config.network.attention.lookBack == .init(heads: 2, distance: 4, group: 16))
        // Four heads: two look back, the last attends locally, one hashes over the whole sequence.
        #expect(config.network.attention.localHeads == 1 && config.network.attention.forHead(3).kind == .local)
        #expect(config.network.attention.forHead(2).kind == .lsh)
        #expect(config.training["augmentation"]?.hasPrefix("mirror true") == true)
        // Detail statistics: 3 more numbers in every token, and the saved model expects them.
        #expect(config.frames.detail == 2 && config.classifierConfig.tokenWidth == 8 * 8 * 3 + 3)
        #expect(config.frames.detailGain == 4 && config.frames.tokenizer.detailGain == 4)
        #expect(config.timeSignal == 0.5 && config.classifierConfig.timeSignal == 0.5)
        // Frame context: recorded, and its map (zero at the start) trained.
        #expect(config.frameContext == true && config.classifierConfig.frameContext)
        #expect(config.blackLabel == "black")
        let trained = try VideoModel.load(out)
        #expect(trained.classifier.frameContext?.weight.value.scalars.contains { $0 != 0 } == true)
        let c = try run(vidformerBinary, ["classify", "--model", out, "--format", "json", "\(labelledFolder)/v1.mp4"])
        #expect(c.status == 0, "\(c.stderr)")
        let detail = try run(vidformerBinary, ["train", "--data", labelledFolder, "--out", out, "--detail", "9"] + tinyModelArgs)
        #expect(detail.status == 64 && detail.stderr.contains("--detail"), "\(detail.stderr)")
        let gain = try run(vidformerBinary, ["train", "--data", labelledFolder, "--out", out, "--detail-gain", "3"] + tinyModelArgs)
        #expect(gain.status == 64 && gain.stderr.contains("--detail-gain needs --detail"), "\(gain.stderr)")
        let black = try run(vidformerBinary, ["train", "--data", labelledFolder, "--out", out, "--black-label", "dark"] + tinyModelArgs)
        #expect(black.status == 64 && black.stderr.contains("--black-label 'dark' is not one of the labels"), "\(black.stderr)")
        let bad = try run(vidformerBinary, ["train", "--data", labelledFolder, "--out", out, "--synthetic-repeats", "0.5"] + tinyModelArgs)
        #expect(bad.status == 64 && bad.stderr.contains("--synthetic-repeats needs the labels content and repeat"), "\(bad.stderr)")
        let heads = try run(vidformerBinary, ["train", "--data", labelledFolder, "--out", out, "--look-back-heads", "9"] + tinyModelArgs)
        #expect(heads.status == 64 && heads.stderr.contains("--look-back-heads"), "\(heads.stderr)")
        let local = try run(vidformerBinary, ["train", "--data", labelledFolder, "--out", out, "--look-back-heads", "2",
                                              "--local-heads", "3"] + tinyModelArgs)
        #expect(local.status == 64 && local.stderr.contains("--local-heads"), "\(local.stderr)")
        let kind = try run(vidformerBinary, ["train", "--data", labelledFolder, "--out", out, "--attention", "local",
                                             "--local-heads", "1"] + tinyModelArgs)
        #expect(kind.status == 64 && kind.stderr.contains("--local-heads needs --attention lsh"), "\(kind.stderr)")
        let average = try run(vidformerBinary, ["train", "--data", labelledFolder, "--out", out, "--epochs", "2",
                                                "--average-last", "3"] + tinyModelArgs)
        #expect(average.status == 64 && average.stderr.contains("--average-last"), "\(average.stderr)")
    }

    @Test func badSidecarsNameTheLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vidformer-badlabels-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.copyItem(atPath: "\(labelledFolder)/v0.mp4", toPath: "\(dir)/a.mp4")
        for (csv, message) in [("start,end,label\n0,2,black\n1,3,bars\n", "a.csv:3: overlaps"),
                               ("start,end,label\n-1,2,black\n", "a.csv:2: negative"),
                               ("start,end,label\n0,2,black\n3,2,bars\n", "a.csv:3: end 2.0 is not after start 3.0")] {
            try csv.write(toFile: "\(dir)/a.csv", atomically: true, encoding: .utf8)
            let r = try run(vidformerBinary, ["train", "--data", dir, "--out", "\(dir)/m"] + tinyModelArgs)
            #expect(r.status == 1)
            #expect(r.stderr.contains("\(dir)/a.csv") && r.stderr.contains(message), "\(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1)
        }
    }
}

@Suite struct MetricsTests {
    @Test func handWorkedExample() {
        var m = Metrics(labels: ["a", "b"])
        // truth  a a a b b b ; prediction a a b b b a  -> 4/6 right
        m.add(truth: [0, 0, 0, 1, 1, 1], prediction: [0, 0, 1, 1, 1, 0])
        #expect(abs(m.accuracy - 4.0 / 6) < 1e-12)
        #expect(abs(m.precision(0) - 2.0 / 3) < 1e-12 && abs(m.recall(0) - 2.0 / 3) < 1e-12)
        #expect(m.confusion == [[2, 1], [1, 2]])
        // Segments: truth [a 0-3][b 3-6]; prediction [a 0-2][b 2-5][a 5-6].
        // IoU(a 0-2, a 0-3) = 2/3; IoU(b 2-5, b 3-6) = 2/4; a 5-6 overlaps nothing left.
        // @0.10 and @0.25: 2 hits, 1 false positive, 0 misses -> P 2/3, R 1, F1 0.8; @0.50: same (0.5 >= 0.5).
        #expect(abs(m.segmentalF1(0.10) - 0.8) < 1e-12)
        #expect(abs(m.segmentalF1(0.50) - 0.8) < 1e-12)
        // Edit: [a b] vs [a b a] -> distance 1 over 3.
        #expect(abs(m.editScore - 2.0 / 3) < 1e-12)
        // Unlabelled frames count nowhere.
        var u = Metrics(labels: ["a", "b"])
        u.add(truth: [-1, 0, 1], prediction: [1, 0, 1])
        #expect(u.frames == 2 && u.accuracy == 1)
    }

    @Test func labelFilesParseBothFormats() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vidformer-labels-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "start,end,label,score\n0,1.5,black,0.9\n1.5,4,content,0.8\n".write(toFile: "\(dir)/x.csv", atomically: true, encoding: .utf8)
        try #"{"segments":[{"start":0,"end":1.5,"label":"black","score":1},{"start":1.5,"end":4,"label":"content"}]}"#
            .write(toFile: "\(dir)/y.json", atomically: true, encoding: .utf8)
        let a = try LabelFile.read("\(dir)/x.csv"), b = try LabelFile.read("\(dir)/y.json")
        #expect(a == b && a.count == 2)
        #expect(LabelFile.frameLabels(times: [0, 1.49, 1.5, 3.99, 4], spans: a, labels: ["content", "black"]) == [1, 1, 0, 0, -1])
        #expect(throws: LabelFile.ParseError.self) { try LabelFile.read("\(dir)/x.csv", knownLabels: ["content"]) }
    }
}

/// Training-time augmentation: what the model is shown must be exactly the described change.
@Suite struct AugmentationTests {
    /// A video of `frames` random 8x4 RGB frames and the given labels.
    /// With detail bytes: 3 for each of the two 4-pixel patches.
    func video(frames: Int, seed: UInt64 = 3) -> DecodedVideo {
        var g = SeededGenerator(seed: seed)
        let bytes = 8 * 4 * 3
        let rgb = (0..<(frames * bytes)).map { _ in UInt8(truncatingIfNeeded: g.next()) }
        let detail = (0..<(frames * 6)).map { _ in UInt8(truncatingIfNeeded: g.next()) }
        return DecodedVideo(path: "v", times: (0..<frames).map { Double($0) / 4 }, rgb: rgb,
                            labels: Array(repeating: 0, count: frames), frameBytes: bytes, detail: detail, detailBytes: 6)
    }

    @Test func mirrorEqualsTokenisingMirroredFrames() {
        let v = video(frames: 5)
        let tokenizer = PatchTokenizer(patch: 4, frameWidth: 8, frameHeight: 4, motion: true, detail: 3)
        var mirrored = v
        for f in 0..<5 {
            for y in 0..<4 {
                for x in 0..<8 {
                    for c in 0..<3 { mirrored.rgb[f * 96 + (y * 8 + x) * 3 + c] = v.rgb[f * 96 + (y * 8 + 7 - x) * 3 + c] }
                }
            }
            // The two patches trade their statistics.
            for k in 0..<3 { mirrored.detail[f * 6 + k] = v.detail[f * 6 + 3 + k]; mirrored.detail[f * 6 + 3 + k] = v.detail[f * 6 + k] }
        }
        let got = v.tokens(1..<5, tokenizer: tokenizer, augmentation: Augmentation(mirror: true))
        let want = mirrored.tokens(1..<5, tokenizer: tokenizer)
        #expect(got.scalars == want.scalars)
        #expect(got.scalars != v.tokens(1..<5, tokenizer: tokenizer).scalars)
    }

    @Test func pasteCopiesEarlierFramesWithinTheDither() {
        let v = video(frames: 12)
        let tokenizer = PatchTokenizer(patch: 4, frameWidth: 8, frameHeight: 4, detail: 3)
        // An exact copy: frames 6..<9 become frames 1..<4, statistics included.
        var copied = v
        for i in 0..<3 {
            for b in 0..<96 { copied.rgb[(6 + i) * 96 + b] = v.rgb[(1 + i) * 96 + b] }
            for b in 0..<6 { copied.detail[(6 + i) * 6 + b] = v.detail[(1 + i) * 6 + b] }
        }
        let exact = Augmentation(pastes: [.init(source: 1, target: 6, count: 3)])
        #expect(v.tokens(0..<12, tokenizer: tokenizer, augmentation: exact).scalars == copied.tokens(0..<12, tokenizer: tokenizer).scalars)
        // Shifted and dithered: every byte within brightness ± dither of the source (before clamping), others untouched.
        let soft = Augmentation(pastes: [.init(source: 1, target: 6, count: 3, brightness: 2, dither: 3, seed: 9)])
        var changed = 0
        for f in 0..<12 {
            let shown = soft.frame(f, of: v, width: 8)
            let from = (6..<9).contains(f) ? f - 5 : f
            for b in 0..<96 {
                let d = Int(shown[b]) - Int(v.rgb[from * 96 + b])
                if (6..<9).contains(f) {
                    let s = Int(v.rgb[from * 96 + b])
                    #expect(d >= max(-s, -1) && d <= min(255 - s, 5), "frame \(f) byte \(b) moved by \(d)")
                    if d != 0 { changed += 1 }
                } else {
                    #expect(d == 0)
                }
            }
        }
        #expect(changed > 200)
    }

    @Test func aHoldShowsOneFrameWithNoChange() {
        let v = video(frames: 12)
        let tokenizer = PatchTokenizer(patch: 4, frameWidth: 8, frameHeight: 4, motion: true, detail: 3)
        let hold = Augmentation(pastes: [.init(source: 4, target: 5, count: 3, still: true)])
        let tokens = v.tokens(0..<12, tokenizer: tokenizer, augmentation: hold).scalars
        let plain = v.tokens(0..<12, tokenizer: tokenizer).scalars
        let perFrame = 2 * tokenizer.tokenWidth
        for f in 0..<12 {
            for patch in 0..<2 {
                let at = f * perFrame + patch * tokenizer.tokenWidth
                let shown = (5..<8).contains(f) ? 4 : f
                // Pixels: frame 4's; motion: none inside the hold; detail: frame 4's texture, no change.
                for i in 0..<48 { #expect(tokens[at + i] == plain[shown * perFrame + patch * tokenizer.tokenWidth + i]) }
                if (6..<8).contains(f) || f == 5 { for i in 48..<96 { #expect(tokens[at + i] == 0) } }
                if (5..<8).contains(f) {
                    #expect(tokens[at + 96] == -1 && tokens[at + 97] == -1)
                    #expect(tokens[at + 98] == plain[4 * perFrame + patch * tokenizer.tokenWidth + 98])
                } else if f != 8 {
                    #expect(Array(tokens[at..<(at + tokenizer.tokenWidth)]) == Array(plain[at..<(at + tokenizer.tokenWidth)]))
                }
            }
        }
        // Planned holds freeze the content frame just before a run of content.
        var g = SeededGenerator(seed: 8)
        var planned = 0
        for trial in 0..<200 {
            var labels: [Int] = []
            while labels.count < 120 { labels += Array(repeating: [0, 0, 1, -1][Int(g.next() % 4)], count: 1 + Int(g.next() % 30)) }
            labels = Array(labels.prefix(20 + trial % 100))
            guard let p = Augmentation.planHold(labels: labels, content: 0, lengths: 8...40, generator: &g) else { continue }
            planned += 1
            #expect(p.still && p.source == p.target - 1 && (8...40).contains(p.count))
            #expect(labels[p.source...(p.target + p.count - 1)].allSatisfy { $0 == 0 }, "\(p)")
        }
        #expect(planned > 40)
    }

    @Test func aPhasedPasteMixesTheNextSourceFrame() {
        let v = video(frames: 12)
        // Frames 8..<12 shown over 0..<4.
        let p = Augmentation(pastes: [.init(source: 8, target: 0, count: 4, phase: 64)])
        for f in 0..<4 {
            let shown = p.frame(f, of: v, width: 8), from = f + 8
            for b in 0..<96 {
                let a = Int(v.rgb[from * 96 + b])
                // The last source frame of the video has no next frame: copied as it is.
                let next = from + 1 < 12 ? Int(v.rgb[(from + 1) * 96 + b]) : a
                let want = from + 1 < 12 ? (192 * a + 64 * next + 128) >> 8 : a
                #expect(Int(shown[b]) == want, "frame \(f) byte \(b)")
            }
        }
    }

    @Test func plannedRepeatsCopyContentAtLeastTheGapLaterOntoContent() {
        var g = SeededGenerator(seed: 5)
        var planned = 0
        for trial in 0..<300 {
            // Random runs of content (0) and two faults (1, 2), some unlabelled (-1).
            var labels: [Int] = []
            while labels.count < 200 { labels += Array(repeating: [0, 0, 0, 1, 2, -1][Int(g.next() % 6)], count: 1 + Int(g.next() % 40)) }
            labels = Array(labels.prefix(40 + trial % 160))
            guard let p = Augmentation.planRepeat(labels: labels, content: 0, gap: 20, lengths: 3...15, generator: &g) else { continue }
            planned += 1
            #expect((3...15).contains(p.count))
            #expect(p.target - p.source >= 20)
            #expect(p.target + p.count <= labels.count)
            #expect(labels[p.source..<(p.source + p.count)].allSatisfy { $0 == 0 }, "source \(p)")
            #expect(labels[p.target..<(p.target + p.count)].allSatisfy { $0 == 0 }, "target \(p)")
        }
        #expect(planned > 50)
        // No room: shorter than the gap plus a copy.
        #expect(Augmentation.planRepeat(labels: Array(repeating: 0, count: 22), content: 0, gap: 20, lengths: 3...15, generator: &g) == nil)
    }
}

/// `--average-last`: the kept weights are the mean of the last epochs' own weights.
@Suite struct WeightAveragingTests {
    /// Two labels on random 8x8 frames: black frames (all zero) and content (random bytes).
    func videos(_ n: Int) -> [DecodedVideo] {
        var g = SeededGenerator(seed: 21)
        return (0..<n).map { i in
            let frames = 24, bytes = 8 * 8 * 3
            var rgb: [UInt8] = [], labels: [Int] = []
            for f in 0..<frames {
                let black = (f / 6 + i) % 2 == 1
                labels.append(black ? 1 : 0)
                rgb += (0..<bytes).map { _ in black ? 0 : UInt8(truncatingIfNeeded: g.next()) }
            }
            return DecodedVideo(path: "v\(i)", times: (0..<frames).map { Double($0) / 4 }, rgb: rgb, labels: labels, frameBytes: bytes)
        }
    }

    func model() -> VideoModel {
        var frames = FrameSettings()
        frames.width = 8; frames.height = 8; frames.patch = 4
        let network = NetworkConfig(width: 16, layers: 1, hidden: 32, feedForwardChunk: 64,
                                    attention: AttentionConfig(kind: .lsh, heads: 2, headWidth: 8, rounds: 1, chunk: 8), seed: 5)
        return VideoModel(config: ModelConfig(name: "avg", labels: ["content", "black"], frames: frames, network: network,
                                              minimumSegmentSeconds: [:]))
    }

    @Test(arguments: [false, true])
    func theKeptWeightsAreTheMeanOfTheLastEpochs(heldOut: Bool) throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("vidformer-average-\(getpid())-\(heldOut)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        var options = TrainOptions()
        options.epochs = 4
        options.averageLast = 3
        options.tokenBudget = 64
        options.optimizer.warmupSteps = 2
        let m = model()
        let all = videos(4)
        let trainer = Trainer(model: m, train: Array(all.prefix(3)), validation: heldOut ? [all[3]] : [], options: options,
                              outputDirectory: out)
        var perEpoch: [[String: Tensor]] = [], notes: [String] = []
        try trainer.run { event in
            if case .epoch = event { perEpoch.append(m.classifier.namedTensors) }
            if case .note(let text) = event { notes.append(text) }
        }
        #expect(perEpoch.count == 4 && notes.count == 1)
        #expect(notes.first?.hasPrefix("weights averaged over the last 3 epochs") == true, "\(notes)")
        // The model after training holds the last epoch's own weights again.
        #expect(m.classifier.namedTensors == perEpoch[3])
        let saved = try VideoModel.load(out).classifier.namedTensors
        var worst = 0.0
        for (name, t) in saved {
            let mean = (0..<t.count).map { i in (1...3).map { Double(perEpoch[$0][name]!.scalars[i]) }.reduce(0, +) / 3 }
            let scale = max(1e-3, mean.map(abs).max() ?? 0)
            worst = max(worst, zip(t.scalars, mean).map { abs(Double($0) - $1) / scale }.max() ?? 0)
        }
        if notes.first?.hasSuffix("not kept") == true {
            // The held-out video preferred a single epoch: the saved weights are one of them.
            #expect(heldOut && perEpoch.contains(saved))
        } else {
            // Float running mean against the Double mean: well within 1e-5 of each tensor's scale.
            #expect(worst < 1e-5, "largest relative difference \(worst)")
            #expect(!perEpoch.contains(saved))
        }
    }
}
