import Foundation

/// Where the default model lives, so `classify` works with no `--model` from any directory.
///
/// Looked up in order: `$VIDFORMER_MODEL`; `share/vidformer/default-model` beside an installed
/// binary (`bin/../share/…`); and the repository's `Media/models/default`, found from the
/// binary's own path (`.build/<config>/vidformer` → the package root).
public enum DefaultModel {
    /// The running binary's real path (`/proc/self/exe`; argv[0] may be a bare name found on PATH).
    public static var runningExecutable: String {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        return CommandLine.arguments.first ?? ""
    }

    public static func candidates(executable: String = runningExecutable) -> [String] {
        var list: [String] = []
        if let env = ProcessInfo.processInfo.environment["VIDFORMER_MODEL"], !env.isEmpty { list.append(env) }
        let exe = URL(fileURLWithPath: executable).resolvingSymlinksInPath()
        let bin = exe.deletingLastPathComponent()
        list.append(bin.deletingLastPathComponent().appendingPathComponent("share/vidformer/default-model").path)
        // .build/<triple>/<config>/vidformer or .build/<config>/vidformer
        var dir = bin
        for _ in 0..<4 {
            dir = dir.deletingLastPathComponent()
            let candidate = dir.appendingPathComponent("Media/models/default").path
            if !list.contains(candidate) { list.append(candidate) }
        }
        return list
    }

    /// The first candidate holding a config, or nil.
    public static func locate() -> String? {
        candidates().first { FileManager.default.fileExists(atPath: $0 + "/" + VideoModel.configFile) }
    }
}
