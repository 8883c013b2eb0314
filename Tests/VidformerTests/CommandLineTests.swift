import Foundation
import Testing
import TensorCore
import _TestSupport

@Suite struct CommandLineTests {
    @Test func helpGoesToStdoutWithExitZero() throws {
        for args in [["--help"], ["help"], ["probe", "--help"], ["help", "probe"], ["probe", "-h"]] {
            let r = try run(vidformerBinary, args)
            #expect(r.status == 0, "\(args)")
            #expect(r.text.hasPrefix("OVERVIEW:"), "\(args)")
            #expect(r.stderr.isEmpty)
        }
        let probe = try run(vidformerBinary, ["probe", "--help"]).text
        for section in ["USAGE: vidformer probe", "ARGUMENTS:", "OPTIONS:", "--fps <rate>", "(default: 4)", "(values: text, json)"] {
            #expect(probe.contains(section), "probe help lacks \(section)")
        }
    }

    /// On a CPU that OpenBLAS does not recognise it loads its generic kernels; the tool then
    /// starts itself again with OPENBLAS_CORETYPE (OpenBLAS reports each choice with
    /// OPENBLAS_VERBOSE=2), prints its output once, and leaves a core type the user set alone.
    @Test func runsOpenBLASWithKernelsTheCPUCanRun() throws {
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil,
              BLASKernels.preferredCoreType(flags: BLASKernels.cpuFlags()) != nil else { return }
        let r = try run(vidformerBinary, ["--version"], environment: ["OPENBLAS_VERBOSE": "2"])
        #expect(r.status == 0)
        #expect(r.text.split(separator: "\n").count == 1 && r.text.hasPrefix("vidformer "))
        let cores = r.stderr.split(separator: "\n").filter { $0.hasPrefix("Core: ") }
        #expect(!cores.isEmpty && cores.last != "Core: Prescott", "\(cores)")
        let kept = try run(vidformerBinary, ["--version"], environment: ["OPENBLAS_VERBOSE": "2", "OPENBLAS_CORETYPE": "Prescott"])
        #expect(kept.status == 0)
        #expect(kept.stderr.split(separator: "\n").filter { $0.hasPrefix("Core: ") } == ["Core: Prescott"])
    }

    @Test func versionPrints() throws {
        let r = try run(vidformerBinary, ["--version"])
        #expect(r.status == 0 && r.text.hasPrefix("vidformer "))
    }

    @Test(arguments: [
        (["probe"], "missing argument <input>"),
        (["probe", "--bogus", "x"], "unknown option '--bogus'"),
        (["probe", "--fps", "abc", "x"], "--fps expects a number"),
        (["probe", "--format", "xml", "x"], "--format must be one of text, json"),
        (["probe", "a", "b"], "unexpected argument 'b'"),
        (["nosuch"], "unknown subcommand 'nosuch'"),
    ])
    func usageErrorsExit64WithUsageLines(args: [String], message: String) throws {
        let r = try run(vidformerBinary, args)
        #expect(r.status == 64)
        #expect(r.text.isEmpty)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.first.map { $0.hasPrefix("Error: ") && $0.contains(message) } ?? false, "\(r.stderr)")
        #expect(lines.count >= 2 && lines[1].hasPrefix("Usage: vidformer"))
        #expect(r.stderr.contains("--help"))
    }

    @Test func optionEqualsValueAndDoubleDash() throws {
        let path = sample("cfr_h264.mp4")
        let a = try run(vidformerBinary, ["probe", "--format=json", "--fps=2", path])
        let b = try run(vidformerBinary, ["probe", "--format", "json", "--fps", "2", "--", path])
        #expect(a.status == 0 && b.status == 0)
        #expect(a.text == b.text)
        let json = try JSONSerialization.jsonObject(with: a.stdout) as? [String: Any]
        let sampling = json?["sampling"] as? [String: Any]
        #expect(sampling?["frames"] as? Int == 8)
        #expect(sampling?["tokens"] as? Int == 128)
    }

    @Test func probeReportsStreamsAndRotation() throws {
        let r = try run(vidformerBinary, ["probe", "--format", "json", sample("rotated.mp4")])
        let json = try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        let streams = try #require(json["streams"] as? [[String: Any]])
        #expect(streams.count == 1)
        #expect(streams[0]["codec"] as? String == "h264")
        #expect(streams[0]["width"] as? Int == 320 && streams[0]["height"] as? Int == 240)
        #expect(streams[0]["rotation"] as? Int != 0)
        let vfr = try run(vidformerBinary, ["probe", "--format", "json", sample("vfr_h264.mkv")])
        let vstreams = (try JSONSerialization.jsonObject(with: vfr.stdout) as? [String: Any])?["streams"] as? [[String: Any]]
        #expect(vstreams?.first?["variable_frame_rate"] as? Bool == true)
    }

    @Test func probeFromStdinMatchesTheFile() throws {
        let path = sample("vfr_h264.mkv")
        let a = try run(vidformerBinary, ["probe", "--format", "json", path])
        let b = try run(vidformerBinary, ["probe", "--format", "json", "-"], stdinFile: path)
        #expect(b.status == 0, "\(b.stderr)")
        let sa = (try JSONSerialization.jsonObject(with: a.stdout) as? [String: Any])?["streams"] as? [[String: Any]]
        let sb = (try JSONSerialization.jsonObject(with: b.stdout) as? [String: Any])?["streams"] as? [[String: Any]]
        #expect(sa?.first?["codec"] as? String == sb?.first?["codec"] as? String)
        #expect(sa?.first?["width"] as? Int == sb?.first?["width"] as? Int)
    }

    @Test func badInputIsOneLineNamingTheFile() throws {
        let r = try run(vidformerBinary, ["probe", "/nonexistent/clip.mp4"])
        #expect(r.status == 1)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("/nonexistent/clip.mp4") && lines[0].contains("No such file"))
    }
}
