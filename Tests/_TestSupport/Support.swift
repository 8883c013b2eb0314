import Foundation

/// Where the repository is, found from this file's path (works from any working directory).
public let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A committed sample video (see Tools/make_media.sh).
public func sample(_ name: String) -> String {
    repositoryRoot.appendingPathComponent("Media/samples/\(name)").path
}

/// The result of running a program to completion.
public struct ProcessResult {
    public var status: Int32
    public var stdout: Data
    public var stderr: String
    public var signalled: Bool
    public var text: String { String(decoding: stdout, as: UTF8.self) }
}

/// Runs `executable` with `arguments`, feeding `stdin` (or an empty stdin), collecting both outputs.
@discardableResult
public func run(_ executable: String, _ arguments: [String], stdin: Data? = nil, stdinFile: String? = nil,
                environment: [String: String]? = nil) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : "/usr/bin/env")
    process.arguments = executable.hasPrefix("/") ? arguments : [executable] + arguments
    if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    var input: Pipe?
    if let stdinFile {
        process.standardInput = FileHandle(forReadingAtPath: stdinFile)
    } else {
        input = Pipe()
        process.standardInput = input
    }
    try process.run()
    if let input {
        let data = stdin ?? Data()
        let writer = Thread {
            input.fileHandleForWriting.write(data)
            try? input.fileHandleForWriting.close()
        }
        writer.start()
    }
    final class Box: @unchecked Sendable { var data = Data() }
    let errBox = Box()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async { errBox.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    let errData = errBox.data
    process.waitUntilExit()
    return ProcessResult(status: process.terminationStatus, stdout: outData,
                         stderr: String(decoding: errData, as: UTF8.self),
                         signalled: process.terminationReason == .uncaughtSignal)
}

/// Whether a program is on PATH (tests that need ffmpeg's CLI as a reference skip without it).
public func haveTool(_ name: String) -> Bool {
    (try? run("sh", ["-c", "command -v \(name)"]).status) == 0
}

/// Relative error `|a-b| / max(|b|, floor)`.
public func relativeError(_ a: Double, _ b: Double, floor: Double = 1e-12) -> Double {
    abs(a - b) / max(abs(b), floor)
}

/// `‖a-b‖ / max(‖b‖, floor)` over whole vectors: the measure gradient checks use.
public func relativeNormError(_ a: [Double], _ b: [Double], floor: Double = 1e-12) -> Double {
    precondition(a.count == b.count)
    var num = 0.0, den = 0.0
    for i in a.indices { num += (a[i] - b[i]) * (a[i] - b[i]); den += b[i] * b[i] }
    return num.squareRoot() / max(den.squareRoot(), floor)
}

/// The built `vidformer` binary, beside the test bundle in the build folder.
public var vidformerBinary: String {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent("vidformer").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    return repositoryRoot.appendingPathComponent(".build/release/vidformer").path
}
