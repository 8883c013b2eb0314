import Foundation
import Testing
import _TestSupport

/// Replays saved fuzz findings (Tests/FuzzRegressions/<target>) and the bad-input corpus
/// through the fuzz harness built without the fuzzer: every input must end without a signal.
@Suite struct FuzzRegressionTests {
    var replayer: String { URL(fileURLWithPath: vidformerBinary).deletingLastPathComponent().appendingPathComponent("vidformer-fuzz").path }

    @Test(arguments: ["demux", "safetensors", "labels"])
    func savedFindingsStayFixed(target: String) throws {
        let dir = repositoryRoot.appendingPathComponent("Tests/FuzzRegressions/\(target)").path
        var inputs = [dir]
        // The broken-media corpus doubles as demux input.
        if target == "demux", let bad = badInputs { inputs.append(bad) }
        let r = try run(replayer, inputs, environment: ["VIDFORMER_FUZZ_TARGET": target])
        #expect(r.status == 0 && !r.signalled, "\(target): \(r.stderr)")
        #expect(r.text.hasPrefix("replayed ") && r.text.contains(" through \(target)"))
    }
}
