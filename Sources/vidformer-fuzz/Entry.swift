import Foundation
import Vidformer

#if FUZZING
/// libFuzzer's driver (linked by -sanitize=fuzzer); SwiftPM names the executable's entry point
/// itself, so `main` below hands control to the driver instead of libFuzzer's own `main`.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt
#endif

/// With the fuzzer (built by Tools/fuzz.sh with -sanitize=fuzzer -DFUZZING): libFuzzer runs the
/// harness. Without it: replays inputs (files, or every file in a folder) through the same
/// harness, so saved findings stay regression tests. VIDFORMER_FUZZ_TARGET picks the target.
@main
struct FuzzMain {
    static func main() {
        #if FUZZING
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(runFuzzerDriver(&argc, &argv) { bytes, count in
            Harness.run(count > 0 ? Data(bytes: bytes!, count: count) : Data())
            return 0
        })
        #else
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
            guard let data = readWholeFile(f) else { continue }
            Harness.run(data)
        }
        print("replayed \(files.count) input(s) through \(Harness.target.rawValue)")
        #endif
    }
}
