import Foundation

#if FUZZING
/// libFuzzer's entry point (built with -sanitize=fuzzer -parse-as-library -DFUZZING).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    Harness.run(Data(bytes: bytes, count: count))
    return 0
}
#else
/// Without the fuzzer: replays inputs (files, or every file in a folder) through the same
/// harness, so saved crashes stay regression tests.  VIDFORMER_FUZZ_TARGET picks the target.
@main
struct Replay {
    static func main() {
        var files: [String] = []
        for arg in CommandLine.arguments.dropFirst() {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: arg, isDirectory: &isDir), isDir.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: arg)) ?? []
                files += names.sorted().filter { !$0.hasPrefix(".") }.map { arg + "/" + $0 }
            } else {
                files.append(arg)
            }
        }
        for f in files {
            guard let data = FileManager.default.contents(atPath: f) else { continue }
            Harness.run(data)
        }
        print("replayed \(files.count) input(s) through \(Harness.target.rawValue)")
    }
}
#endif
