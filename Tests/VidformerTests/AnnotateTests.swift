import Foundation
import Testing
import _TestSupport

/// `vidformer annotate` end to end: the built binary over real folders.
@Suite(.serialized) struct AnnotateTests {
    let fm = FileManager.default

    func folder(_ name: String) throws -> String {
        let dir = fm.temporaryDirectory.appendingPathComponent("vf-annotate-\(name)-\(getpid())").path
        try? fm.removeItem(atPath: dir)
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    func annotate(_ args: [String], environment: [String: String]? = nil) throws -> ProcessResult {
        try run(vidformerBinary, ["annotate", "--model", testModelDirectory, "--no-progress"] + args, environment: environment)
    }

    func index(_ path: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
    }

    func copy(_ sampleName: String, to path: String) throws {
        try fm.copyItem(atPath: sample(sampleName), toPath: path)
    }

    @Test(.enabled(if: haveTool("ffmpeg"))) func goodFilesAnnotatedBadFilesRecorded() throws {
        let dir = try folder("mixed")
        defer { try? fm.removeItem(atPath: dir) }
        try fm.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: true)
        try copy("cfr_h264.mp4", to: dir + "/good.mp4")
        try copy("vp9.webm", to: dir + "/clip.webm")
        try copy("mjpeg.mov", to: dir + "/sub/deep.mov")
        // Broken: random bytes, an MP4 cut before its index, text named .mp4, audio only.
        var g = SystemRandomNumberGenerator()
        try Data((0..<50_000).map { _ in UInt8.random(in: 0...255, using: &g) }).write(to: URL(fileURLWithPath: dir + "/noise.mkv"))
        let whole = try Data(contentsOf: URL(fileURLWithPath: sample("longgop_h264.mp4")))
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: dir + "/truncated.mp4"))
        try Data("this is not a video\n".utf8).write(to: URL(fileURLWithPath: dir + "/text.mp4"))
        try run("ffmpeg", ["-nostdin", "-v", "error", "-f", "lavfi", "-i", "sine=d=1", "-c:a", "aac", dir + "/audio.mp4"])
        try Data("notes\n".utf8).write(to: URL(fileURLWithPath: dir + "/notes.rst"))

        let first = try annotate([dir, "-r", "--format", "json,vtt", "--jobs", "2"])
        #expect(first.status == 3, "some failed, some succeeded: \(first.stderr)")
        #expect(!first.signalled)
        for stem in ["good", "clip", "sub/deep"] {
            let json = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(stem).json"))
            let doc = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
            #expect((doc["segments"] as? [Any])?.isEmpty == false)
            let vtt = try String(contentsOfFile: "\(dir)/\(stem).vtt", encoding: .utf8)
            #expect(vtt.hasPrefix("WEBVTT"))
        }
        let records = try index(dir + "/vidformer-index.jsonl")
        let status = Dictionary(uniqueKeysWithValues: records.map { ($0["path"] as! String, $0["status"] as! String) })
        #expect(status == ["good.mp4": "ok", "clip.webm": "ok", "sub/deep.mov": "ok", "noise.mkv": "failed",
                           "truncated.mp4": "failed", "text.mp4": "failed", "audio.mp4": "failed"])
        for r in records where r["status"] as? String == "failed" {
            #expect((r["error"] as? String)?.isEmpty == false)
            #expect(first.stderr.contains("\(dir)/\(r["path"] as! String): "), "each failure named on stderr")
        }
        // The summary file lists every failure with its reason; the non-video file is reported as skipped.
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/vidformer-summary.json"))) as? [String: Any])
        #expect(summary["ok"] as? Int == 3 && summary["failed"] as? Int == 4)
        #expect((summary["skipped_not_video"] as? [[String: Any]])?.map { $0["path"] as? String } == ["notes.rst"])
        #expect(!(try fm.contentsOfDirectory(atPath: dir)).contains { $0.contains(".tmp-") })

        // A second run skips what is up to date; --force redoes it.
        let second = try annotate([dir, "-r", "--format", "json,vtt"])
        #expect(second.status == 3)
        #expect(second.stderr.contains("0 ok, 3 up to date, 4 failed"), "\(second.stderr)")
        let forced = try annotate([dir, "-r", "--format", "json,vtt", "--force"])
        #expect(forced.stderr.contains("3 ok, 0 up to date"), "\(forced.stderr)")
        // Changing a video makes it stale again.
        try copy("vfr_h264.mkv", to: dir + "/late.mkv")
        let third = try annotate([dir, "-r", "--format", "json,vtt"])
        #expect(third.stderr.contains("1 ok, 3 up to date"), "\(third.stderr)")
    }

    @Test func noneSucceededExitsOneAndMissingFolderIsAnError() throws {
        let dir = try folder("allbad")
        defer { try? fm.removeItem(atPath: dir) }
        try Data("not a video".utf8).write(to: URL(fileURLWithPath: dir + "/a.mp4"))
        let r = try annotate([dir])
        #expect(r.status == 1)
        let missing = try annotate([dir + "/nope"])
        #expect(missing.status == 1 && missing.stderr == "vidformer: \(dir)/nope: no such folder\n")
        let badShard = try annotate([dir, "--shard", "3/3"])
        #expect(badShard.status == 64)
    }

    /// Videos long enough that a run can be killed in the middle.
    func makeLongVideos(_ dir: String, count: Int) throws {
        for i in 0..<count {
            try run("ffmpeg", ["-nostdin", "-v", "error", "-f", "lavfi", "-i", "cellauto=s=96x64:rate=25:rule=\(30 + i)",
                               "-t", "120", "-c:v", "libx264", "-preset", "ultrafast", "\(dir)/v\(i).mp4"])
        }
    }

    @Test(.enabled(if: haveTool("ffmpeg"))) func killedRunResumesWithNothingLostOrDuplicated() throws {
        let dir = try folder("resume")
        defer { try? fm.removeItem(atPath: dir) }
        let out = dir + "/labels"
        try makeLongVideos(dir, count: 6)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: vidformerBinary)
        process.arguments = ["annotate", "--model", testModelDirectory, "--no-progress", dir, "--out", out, "--format", "json,csv",
                             "--jobs", "2", "--threads", "1"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Kill it once some (not all) videos are done.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let done = (try? index(out + "/vidformer-index.jsonl").count) ?? 0
            if done >= 2 { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        Thread.sleep(forTimeInterval: 0.3)  // children die with the parent
        let before = try index(out + "/vidformer-index.jsonl").count
        #expect(before < 6, "the kill came in the middle of the run")

        let resumed = try annotate([dir, "--out", out, "--format", "json,csv"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("\(6 - before) ok, \(before) up to date"), "\(resumed.stderr)")
        let names = try fm.contentsOfDirectory(atPath: out).sorted()
        let expected = (0..<6).flatMap { ["v\($0).csv", "v\($0).json"] } + ["vidformer-index.jsonl", "vidformer-summary.json"]
        #expect(names == expected.sorted(), "exactly one complete set of outputs each, no temporaries")
        for i in 0..<6 {
            let doc = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(out)/v\(i).json"))) as? [String: Any])
            let segs = try #require(doc["segments"] as? [[String: Any]])
            #expect(abs((segs.last?["end"] as? Double ?? 0) - 120) < 0.3, "complete annotation of v\(i)")
            let csv = try String(contentsOfFile: "\(out)/v\(i).csv", encoding: .utf8)
            #expect(csv.hasPrefix("start,end,label,score\n") && csv.split(separator: "\n").count == segs.count + 1)
        }
        let records = try index(out + "/vidformer-index.jsonl")
        #expect(records.count == 6 && Set(records.map { $0["path"] as! String }).count == 6)
        #expect(records.allSatisfy { $0["status"] as? String == "ok" })
    }

    @Test func shardsCoverEveryVideoExactlyOnce() throws {
        let dir = try folder("shards")
        defer { try? fm.removeItem(atPath: dir) }
        let names = ["cfr_h264.mp4", "vp9.webm", "mpeg2.ts", "mpeg4.avi", "mjpeg.mov", "offset.ts", "odd_17x13.mkv", "vfr_h264.mkv"]
        for n in names { try copy(n, to: dir + "/" + n) }
        var seen: [String] = []
        for k in 0..<3 {
            let r = try annotate([dir, "--shard", "\(k)/3"])
            #expect(r.status == 0, "\(r.stderr)")
            seen += try index("\(dir)/vidformer-index.shard-\(k)-of-3.jsonl").map { $0["path"] as! String }
        }
        #expect(seen.sorted() == names.sorted(), "every video in exactly one shard")
        // A Slurm job array and a Kubernetes indexed Job pick the same shards.
        let slurm = try annotate([dir], environment: ["SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "3"])
        #expect(slurm.stderr.contains("shard 1/3 from SLURM_ARRAY_TASK_ID"), "\(slurm.stderr)")
        let k8s = try annotate([dir, "--shards", "3"], environment: ["JOB_COMPLETION_INDEX": "2"])
        #expect(k8s.stderr.contains("shard 2/3 from JOB_COMPLETION_INDEX"), "\(k8s.stderr)")
        let merged = try run(vidformerBinary, ["annotate", "--merge", dir])
        #expect(merged.status == 0)
        let all = try index(dir + "/vidformer-index.jsonl")
        #expect(all.map { $0["path"] as! String } == names.sorted())
    }
}
