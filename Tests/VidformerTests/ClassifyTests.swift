import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import ReformerModel
@testable import Vidformer
import _TestSupport

/// A small random-initialised model saved once for the tests (the default model is trained
/// separately; these tests check the plumbing, not the labels).
let testModelDirectory: String = {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vidformer-test-model-\(getpid())").path
    var frames = FrameSettings()
    frames.width = 32; frames.height = 32; frames.patch = 8; frames.fps = 4
    let network = NetworkConfig(width: 32, layers: 2, hidden: 64, feedForwardChunk: 256,
                                attention: AttentionConfig(kind: .lsh, heads: 2, headWidth: 16, rounds: 2, chunk: 16), seed: 3)
    let config = ModelConfig(name: "test", labels: ["content", "black", "bars", "noise", "frozen", "repeat"],
                             frames: frames, network: network, minimumSegmentSeconds: ["black": 0.5])
    try! VideoModel(config: config).save(to: dir)
    return dir
}()

func classify(_ args: [String], stdinFile: String? = nil) throws -> ProcessResult {
    try run(vidformerBinary, ["classify", "--model", testModelDirectory] + args, stdinFile: stdinFile)
}

func segments(fromJSON data: Data) throws -> [[String: Any]] {
    let doc = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    return try #require(doc["segments"] as? [[String: Any]])
}

/// Segments tile [start, end] with no gaps or overlaps, in order.
func expectTiling(_ segs: [(Double, Double)], from start: Double, to end: Double, _ comment: Comment? = nil) {
    #expect(!segs.isEmpty, comment)
    guard let first = segs.first, let last = segs.last else { return }
    #expect(abs(first.0 - start) < 1e-6, comment)
    #expect(abs(last.1 - end) < 1e-3, comment)
    for (a, b) in zip(segs, segs.dropFirst()) { #expect(a.1 == b.0 && a.0 < a.1, comment) }
}

@Suite struct ClassifyTests {
    /// A model with the black definition (`blackLabel`) labels 2 s of black and then 2 s of
    /// dark grey by measurement: black exactly up to the first grey frame, never after.
    @Test func theBlackDefinitionFindsBlackExactly() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vidformer-black-rule-\(getpid())").path
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = dir + "/model"
        try FileManager.default.copyItem(atPath: testModelDirectory, toPath: model)
        let c = try String(contentsOfFile: model + "/config.json", encoding: .utf8)
        try c.replacingOccurrences(of: "\"labels\"", with: "\"blackLabel\" : \"black\", \"labels\"")
            .write(toFile: model + "/config.json", atomically: true, encoding: .utf8)
        let video = dir + "/v.mp4"
        _ = try run("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", "color=black:s=320x240:r=25:d=2",
                               "-f", "lavfi", "-i", "color=0x333333:s=320x240:r=25:d=2",
                               "-filter_complex", "[0][1]concat=n=2", "-c:v", "libx264", "-pix_fmt", "yuv420p", video])
        let r = try run(vidformerBinary, ["classify", "--model", model, "--format", "json", "--frames", video])
        #expect(r.status == 0, "\(r.stderr)")
        let segs = try segments(fromJSON: r.stdout)
        let first = try #require(segs.first)
        #expect(first["label"] as? String == "black" && first["end"] as? Double == 2.0, "\(segs)")
        #expect(segs.dropFirst().allSatisfy { $0["label"] as? String != "black" }, "\(segs)")
        let doc = try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        let frames = try #require(doc["frames"] as? [[String: Any]])
        #expect(frames.count == 16)
    }

    @Test func jsonDocumentHasTheContractsShape() throws {
        let r = try classify(["--format", "json", "--frames", sample("cfr_h264.mp4")])
        #expect(r.status == 0, "\(r.stderr)")
        let doc = try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        #expect(doc["input"] as? String == sample("cfr_h264.mp4"))
        #expect(abs((doc["duration"] as? Double ?? 0) - 4.0) < 1e-6)
        #expect(doc["sample_rate"] as? Double == 4)
        let model = try #require(doc["model"] as? [String: Any])
        #expect((model["labels"] as? [String])?.count == 6)
        let video = try #require(doc["video"] as? [String: Any])
        let seconds = try #require(video["seconds"] as? [String: Double])
        #expect(abs(seconds.values.reduce(0, +) - 4.0) < 1e-6)
        let segs = try segments(fromJSON: r.stdout)
        expectTiling(segs.map { ($0["start"] as! Double, $0["end"] as! Double) }, from: 0, to: 4)
        let frames = try #require(doc["frames"] as? [[String: Any]])
        #expect(frames.count == 16)
        let stats = try #require(doc["stats"] as? [String: Any])
        #expect(stats["frames_sampled"] as? Int == 16)
        #expect(stats["tokens"] as? Int == 16 * 16)
        #expect(stats["decode_errors"] as? Int == 0)
        #expect((stats["peak_rss_mb"] as? Int ?? 0) > 0)
    }

    @Test func everyFormatParses() throws {
        let path = sample("vfr_h264.mkv")
        let json = try segments(fromJSON: try classify(["--format", "json", path]).stdout)
        let csv = try classify(["--format", "csv", path]).text.split(separator: "\n")
        #expect(csv.first == "start,end,label,score")
        #expect(csv.count - 1 == json.count)
        for (line, seg) in zip(csv.dropFirst(), json) {
            let f = line.split(separator: ",")
            #expect(f.count == 4 && f[2] == (seg["label"] as! String)[...])
            #expect(abs(Double(f[0])! - (seg["start"] as! Double)) < 1e-3)
        }
        let vtt = try classify(["--format", "vtt", path]).text
        #expect(vtt.hasPrefix("WEBVTT\n\n"))
        #expect(vtt.components(separatedBy: " --> ").count - 1 == json.count)
        let srt = try classify(["--format", "srt", path]).text
        #expect(srt.hasPrefix("1\n00:00:00,000 --> "))
        let jsonl = try classify(["--format", "jsonl", path]).text.split(separator: "\n")
        #expect(jsonl.count == json.count + 1)
        let last = try #require(try JSONSerialization.jsonObject(with: Data(jsonl.last!.utf8)) as? [String: Any])
        #expect(last["type"] as? String == "summary")
        let table = try classify(["--format", "table", path]).text
        #expect(table.contains("START") && table.contains("Whole video:"))
    }

    @Test func stdinAndFileGiveTheSameSegments() throws {
        let path = sample("vfr_h264.mkv")
        let a = try segments(fromJSON: try classify(["--format", "json", path]).stdout)
        let r = try classify(["-"], stdinFile: path)   // JSON Lines is the default for stdin
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.text.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let b = lines.filter { $0["type"] as? String == "segment" }
        #expect(a.count == b.count)
        for (x, y) in zip(a, b) {
            #expect(x["label"] as? String == y["label"] as? String)
            #expect(abs((x["start"] as! Double) - (y["start"] as! Double)) < 1e-6)
            #expect(abs((x["end"] as! Double) - (y["end"] as! Double)) < 1e-6)
        }
    }

    @Test func startAndEndAreHonoured() throws {
        let r = try classify(["--format", "json", "--start", "1", "--end", "3", sample("longgop_h264.mp4")])
        #expect(r.status == 0, "\(r.stderr)")
        let segs = try segments(fromJSON: r.stdout)
        expectTiling(segs.map { ($0["start"] as! Double, $0["end"] as! Double) }, from: 1, to: 3)
    }

    @Test func outputFileIsWrittenAtomicallyAndFollowsTheExtension() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vf-out-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("labels.vtt").path
        let svg = dir.appendingPathComponent("timeline.svg").path
        let r = try classify(["-o", out, "--timeline", svg, sample("cfr_h264.mp4")])
        #expect(r.status == 0 && r.text.isEmpty, "\(r.stderr)")
        #expect(try String(contentsOfFile: out, encoding: .utf8).hasPrefix("WEBVTT"))
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(files == ["labels.vtt", "timeline.svg"], "no temporary files left")
        let xml = try XMLDocument(contentsOf: URL(fileURLWithPath: svg))
        #expect(xml.rootElement()?.name == "svg")
        #expect(try xml.nodes(forXPath: "//*[local-name()='rect']").count >= 7)
        let missing = try classify(["-o", "/nonexistent-dir/x.json", sample("cfr_h264.mp4")])
        #expect(missing.status == 1 && missing.stderr.contains("/nonexistent-dir/x.json"))
    }

    /// Starts `vidformer classify` reading an endless stream that ffmpeg generates.
    func startOnEndlessStream(_ extra: [String], stdout: Any?) throws -> (Process, Process) {
        let generator = Process()
        generator.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        generator.arguments = ["ffmpeg", "-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=30",
                               "-c:v", "mpeg4", "-flush_packets", "1", "-f", "mpegts", "-"]
        let pipe = Pipe()
        generator.standardOutput = pipe
        generator.standardError = FileHandle.nullDevice
        let process = Process()
        process.executableURL = URL(fileURLWithPath: vidformerBinary)
        process.arguments = ["classify", "--model", testModelDirectory] + extra + ["-"]
        process.standardInput = pipe
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try generator.run()
        try process.run()
        return (generator, process)
    }

    @Test(.enabled(if: haveTool("ffmpeg"))) func killedRunLeavesNoPartialOutput() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vf-kill-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("labels.json").path
        let (generator, process) = try startOnEndlessStream(["-o", out], stdout: FileHandle.nullDevice)
        Thread.sleep(forTimeInterval: 2)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        generator.terminate()
        generator.waitUntilExit()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test(.enabled(if: haveTool("ffmpeg"))) func sigintFlushesWhatItHas() throws {
        let out = Pipe()
        let (generator, process) = try startOnEndlessStream(["--format", "jsonl", "--window", "1"], stdout: out)
        Thread.sleep(forTimeInterval: 4)
        kill(process.processIdentifier, SIGINT)
        // The generator may hold a copy of the pipe's write end: stop it before reading to EOF.
        // (The output is far below a pipe's buffer, so waiting first cannot block.)
        process.waitUntilExit()
        generator.terminate()
        generator.waitUntilExit()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        #expect(process.terminationStatus == 0)
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        let last = try #require(try JSONSerialization.jsonObject(with: Data((lines.last ?? "").utf8)) as? [String: Any])
        #expect(last["type"] as? String == "summary")
        #expect(lines.count >= 2, "at least one segment before the summary")
    }
}

@Suite struct SegmentBuilderTests {
    func frames(_ labels: [Int], k: Int = 3, interval: Double = 0.25) -> [FrameLabel] {
        labels.enumerated().map { i, l in
            var p = [Float](repeating: 0.1, count: k); p[l] = 0.8
            return FrameLabel(time: Double(i) * interval, probabilities: p)
        }
    }

    /// The default-model search walks up from the binary; a binary near the root must not
    /// list one folder several times in the 'no default model' error.
    @Test func defaultModelCandidatesAreDistinct() {
        for exe in ["/tmp/vidformer", "/vidformer", "/work/repo/.build/release/vidformer",
                    "/work/repo/.build/x86_64-unknown-linux-gnu/release/vidformer"] {
            let list = DefaultModel.candidates(executable: exe)
            #expect(Set(list).count == list.count, "\(exe): \(list)")
        }
        let nested = DefaultModel.candidates(executable: "/work/repo/.build/x86_64-unknown-linux-gnu/release/vidformer")
        #expect(nested.contains("/work/repo/Media/models/default"))
    }

    @Test func shortRunsMergeAndSegmentsTile() {
        let b = SegmentBuilder(labels: ["a", "b", "c"], minimumSeconds: [:], defaultMinimum: 0.75, frameInterval: 0.25, start: 0)
        var out = b.add(frames([0, 0, 0, 0, 1, 0, 0, 0, 2, 2, 2, 2, 2, 1, 1, 1, 1]))
        out += b.finish(end: 17 * 0.25)
        #expect(out.map(\.label) == ["a", "c", "b"])
        expectTiling(out.map { ($0.start, $0.end) }, from: 0, to: 4.25)
        #expect(b.seconds["a"] == 2 && b.seconds["c"] == 1.25)
    }

    @Test func randomLabelsAlwaysTileAndRespectMinimums() {
        var state: UInt64 = 99
        for trial in 0..<100 {
            let n = [1, 2, 7, 64, 200][trial % 5]
            let labels = (0..<n).map { _ -> Int in state = state &* 6364136223846793005 &+ 1; return Int(state >> 62) % 3 }
            let b = SegmentBuilder(labels: ["a", "b", "c"], minimumSeconds: ["b": 1.0], defaultMinimum: 0.5, frameInterval: 0.25, start: 0)
            var out: [Segment] = []
            for chunk in stride(from: 0, to: n, by: 13) { out += b.add(Array(frames(labels)[chunk..<min(n, chunk + 13)])) }
            out += b.finish(end: Double(n) * 0.25)
            expectTiling(out.map { ($0.start, $0.end) }, from: 0, to: Double(n) * 0.25, "trial \(trial)")
            if out.count > 1 {
                for s in out { #expect(s.end - s.start >= (s.label == "b" ? 1.0 : 0.5) - 1e-9, "trial \(trial): \(s)") }
            }
            for (x, y) in zip(out, out.dropFirst()) { #expect(x.label != y.label) }
        }
    }
}
