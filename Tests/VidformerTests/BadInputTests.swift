import Foundation
import Testing
import _TestSupport

/// The corpus of Tools/make_bad_inputs.sh, made once per test run.
let badInputs: String? = {
    guard haveTool("ffmpeg"), haveTool("python3") else { return nil }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vidformer-bad-inputs-\(getpid())").path
    let r = try? run("bash", [repositoryRoot.appendingPathComponent("Tools/make_bad_inputs.sh").path, dir])
    return r?.status == 0 ? dir : nil
}()

/// Every bad input: a one-line error naming the file and the reason and a non-zero exit, or a
/// result where a partial one makes sense; never a crash signal, a hang or a partial file.
@Suite(.enabled(if: badInputs != nil)) struct BadInputTests {
    var dir: String { badInputs! }

    /// Runs classify with `-o` into an empty folder; checks the rules every case shares.
    func classifyInto(_ input: String, extra: [String] = [], stdinFile: String? = nil) throws -> (ProcessResult, [String: Any]?) {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("vf-bad-out-\(getpid())-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try run(vidformerBinary, ["classify", "--model", testModelDirectory, "-o", out + "/labels.json"] + extra + [input],
                        stdinFile: stdinFile)
        #expect(!r.signalled, "\(input): crashed")
        let files = try FileManager.default.contentsOfDirectory(atPath: out)
        if r.status != 0 {
            #expect(files.isEmpty, "\(input): failed run left \(files)")
            return (r, nil)
        }
        #expect(files == ["labels.json"], "\(input): exactly the output, no temporaries")
        let doc = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/labels.json"))) as? [String: Any]
        return (r, doc)
    }

    @Test(arguments: [
        ("missing.mp4", "No such file or directory"),
        ("folder.mp4", "Is a directory"),
        ("empty.mp4", "empty file (0 bytes)"),
        ("text.mp4", "not a video file libavformat can read"),
        ("image.jpg", "a still image"),
        ("audio.mp4", "no video stream"),
        ("noframes.mkv", "no video data"),
        ("truncated_moov.mp4", "no moov atom"),
        ("random.bin", "not a video"),
        ("random.mp4", "not a video file libavformat can read"),
    ])
    func rejectedWithOneLineNamingFileAndReason(name: String, reason: String) throws {
        let path = dir + "/" + name
        let (r, _) = try classifyInto(path)
        #expect(r.status == 1, "\(name): \(r.stderr)")
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.hasPrefix("vidformer: \(path): ") && r.stderr.contains(reason), "\(name): \(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1, "\(name): one line: \(r.stderr)")
    }

    /// Readable in part or unusual but valid: labelled, with the duration covered.
    @Test(arguments: ["truncated.mkv", "truncated.ts", "flipped.ts", "huge_4096.mp4", "uhd_8k.mp4", "tiny_2x2.mkv",
                      "odd_17x13.mkv", "tenbit.mp4", "yuv444.mkv", "interlaced.ts", "backwards.ts", "repeated.ts"])
    func handledGracefully(name: String) throws {
        let (r, doc) = try classifyInto(dir + "/" + name)
        #expect(r.status == 0, "\(name): \(r.stderr)")
        let d = try #require(doc)
        let segs = try #require(d["segments"] as? [[String: Any]])
        let duration = try #require(d["duration"] as? Double)
        expectTiling(segs.map { ($0["start"] as! Double, $0["end"] as! Double) }, from: 0, to: duration, "\(name)")
        let stats = try #require(d["stats"] as? [String: Any])
        switch name {
        case "truncated.mkv":
            #expect(r.stderr.contains("truncated?"), "the cut is reported: \(r.stderr)")
            #expect((stats["warning"] as? String)?.contains("truncated?") == true)
            #expect(duration > 8 && duration < 11, "what was readable is labelled")
        case "flipped.ts":
            #expect((stats["decode_errors"] as? Int ?? 0) > 0, "corrupt packets are counted")
            #expect(duration > 19, "and the rest is classified")
        default:
            #expect(r.stderr.isEmpty, "\(name): \(r.stderr)")
        }
    }

    @Test func stdinClosedAfterAFewFramesGivesWhatWasRead() throws {
        let part = dir + "/part.ts"
        let whole = try Data(contentsOf: URL(fileURLWithPath: sample("mpeg2.ts")))
        try whole.prefix(60_000).write(to: URL(fileURLWithPath: part))
        let (r, doc) = try classifyInto("-", stdinFile: part)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(((doc?["segments"] as? [Any])?.count ?? 0) >= 1)
    }

    @Test func silentStdinTimesOut() throws {
        // A pipe whose writer never writes and never closes.
        let p = Pipe()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: vidformerBinary)
        process.arguments = ["classify", "--model", testModelDirectory, "--stdin-timeout", "1", "-"]
        process.standardInput = p
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        let started = Date()
        try process.run()
        process.waitUntilExit()
        let elapsed = Date().timeIntervalSince(started)
        try p.fileHandleForWriting.close()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 1)
        #expect(text == "vidformer: <stdin>: no data within 1.0 s\n", "\(text)")
        #expect(elapsed < 10)
    }

    /// Copies the test model and spoils one thing about it.
    func spoiledModel(_ name: String, _ spoil: (String) throws -> Void) throws -> String {
        let m = dir + "/model-" + name
        try? FileManager.default.removeItem(atPath: m)
        try FileManager.default.copyItem(atPath: testModelDirectory, toPath: m)
        try spoil(m)
        return m
    }

    @Test func corruptModelsAreRejectedNamingTheFile() throws {
        let header = try spoiledModel("header") { m in try Data("garbage!".utf8).write(to: URL(fileURLWithPath: m + "/model.safetensors")) }
        let shapes = try spoiledModel("shapes") { m in
            // Same tensors, one shape changed in the header.
            let raw = try Data(contentsOf: URL(fileURLWithPath: m + "/model.safetensors"))
            let n = Int(raw.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
            var text = String(decoding: raw[8..<(8 + n)], as: UTF8.self)
            let range = try #require(text.range(of: "\"shape\":[32]") ?? text.range(of: "\"shape\": [32]"))
            text.replaceSubrange(range, with: "\"shape\":[31]")
            var h = Data(text.utf8)
            while h.count < n { h.append(0x20) }
            try (raw.prefix(8) + h + raw[(8 + n)...]).write(to: URL(fileURLWithPath: m + "/model.safetensors"))
        }
        let labels = try spoiledModel("labels") { m in
            // A seventh label the weights have no output for.
            let c = try String(contentsOfFile: m + "/config.json", encoding: .utf8)
            try c.replacingOccurrences(of: "\"repeat\"", with: "\"repeat\", \"sparkle\"").write(toFile: m + "/config.json", atomically: true, encoding: .utf8)
        }
        let config = try spoiledModel("config") { m in try Data("{\"format\": 3".utf8).write(to: URL(fileURLWithPath: m + "/config.json")) }
        let missing = try spoiledModel("missing") { m in try FileManager.default.removeItem(atPath: m + "/model.safetensors") }
        let clock = try spoiledModel("clock") { m in
            // A hand-edited time signal below zero.
            let c = try String(contentsOfFile: m + "/config.json", encoding: .utf8)
            try c.replacingOccurrences(of: "\"labels\"", with: "\"timeSignal\" : -3, \"labels\"")
                .write(toFile: m + "/config.json", atomically: true, encoding: .utf8)
        }
        let heads = try spoiledModel("heads") { m in
            // More local heads than the layer has.
            let c = try String(contentsOfFile: m + "/config.json", encoding: .utf8)
            try c.replacingOccurrences(of: "\"rounds\"", with: "\"localHeads\" : 3, \"rounds\"")
                .write(toFile: m + "/config.json", atomically: true, encoding: .utf8)
        }
        let context = try spoiledModel("context") { m in
            // Frame context switched on by hand: the weights have no map for it.
            let c = try String(contentsOfFile: m + "/config.json", encoding: .utf8)
            try c.replacingOccurrences(of: "\"labels\"", with: "\"frameContext\" : true, \"labels\"")
                .write(toFile: m + "/config.json", atomically: true, encoding: .utf8)
        }
        let blackLabel = try spoiledModel("black-label") { m in
            // The black definition pointed at a label the model does not have.
            let c = try String(contentsOfFile: m + "/config.json", encoding: .utf8)
            try c.replacingOccurrences(of: "\"labels\"", with: "\"blackLabel\" : \"dark\", \"labels\"")
                .write(toFile: m + "/config.json", atomically: true, encoding: .utf8)
        }
        let bl = try run(vidformerBinary, ["classify", "--model", blackLabel, sample("cfr_h264.mp4")])
        #expect(bl.status == 1 && bl.stderr.contains("black label 'dark' is not one of the labels"), "\(bl.stderr)")
        let r = try run(vidformerBinary, ["classify", "--model", clock, sample("cfr_h264.mp4")])
        #expect(r.status == 1 && r.stderr.contains("time signal -3.0 is out of range"), "\(r.stderr)")
        let fc = try run(vidformerBinary, ["classify", "--model", context, sample("cfr_h264.mp4")])
        #expect(fc.status == 1 && fc.stderr.contains("frame.context.weight"), "\(fc.stderr)")
        let h = try run(vidformerBinary, ["classify", "--model", heads, sample("cfr_h264.mp4")])
        #expect(h.status == 1 && h.stderr.contains("local heads (3) exceed the 2 heads"), "\(h.stderr)")
        for m in [header, shapes, labels, config, missing, clock, heads, context, blackLabel] {
            let r = try run(vidformerBinary, ["classify", "--model", m, sample("cfr_h264.mp4")])
            #expect(r.status == 1 && !r.signalled)
            #expect(r.stderr.hasPrefix("vidformer: \(m)/"), "names the model file: \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        }
    }

    @Test func sidecarsWithBadSegmentsNameTheLine() throws {
        for (name, message) in [("overlap", "overlap.csv:3: overlaps"), ("negative", "negative.csv:2: negative"),
                                ("unknown", "unknown.csv:3: unknown label 'sparkles'")] {
            let data = dir + "/labels-" + name
            try? FileManager.default.removeItem(atPath: data)
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: dir + "/labelled.mp4", toPath: data + "/\(name).mp4")
            try FileManager.default.copyItem(atPath: dir + "/\(name).csv", toPath: data + "/\(name).csv")
            for command in [["eval", "--model", testModelDirectory], ["train", "--out", data + "/m", "--epochs", "1", "--labels", "content,black,bars,noise,frozen,repeat"]] {
                let r = try run(vidformerBinary, command + ["--data", data])
                #expect(r.status == 1)
                #expect(r.stderr.contains(message), "\(command[0]): \(r.stderr)")
                #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
            }
        }
    }

    @Test func unwritableOutputsFailCleanly() throws {
        let input = sample("cfr_h264.mp4")
        let missing = try run(vidformerBinary, ["classify", "--model", testModelDirectory, "-o", dir + "/no/such/folder/x.json", input])
        #expect(missing.status == 1 && missing.stderr.contains("does not exist"))
        let full = try run(vidformerBinary, ["classify", "--model", testModelDirectory, "-o", "/dev/full", input])
        #expect(full.status == 1 && full.stderr == "vidformer: /dev/full: write failed (No space left on device)\n", "\(full.stderr)")
        if geteuid() != 0 {  // root ignores permissions
            let locked = dir + "/locked"
            try FileManager.default.createDirectory(atPath: locked, withIntermediateDirectories: true)
            chmod(locked, 0o555)
            defer { chmod(locked, 0o755) }
            let r = try run(vidformerBinary, ["classify", "--model", testModelDirectory, "-o", locked + "/x.json", input])
            #expect(r.status == 1 && r.stderr.contains("cannot create"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: locked).isEmpty)
        }
    }
}
