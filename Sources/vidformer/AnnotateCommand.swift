import Foundation
import TensorCore
import Vidformer
import VideoIO
#if canImport(Glibc)
import Glibc
#endif

extension Commands {
    static let annotate = CommandSpec(
        name: "annotate",
        abstract: "Label every video in a folder: parallel, resumable, shardable across machines.",
        discussion: """
        Each video is classified in a child process of its own (a file that crashes a decoder
        costs only that file), its outputs written atomically beside it or under --out. A video
        whose outputs are up to date (same size, modification time, model and settings, as
        recorded in the run's index) is skipped, so an interrupted run is finished by running
        it again. The index (vidformer-index.jsonl: one JSON record per video) and a summary
        (vidformer-summary.json: counts and every failure with its reason) go to --out or the
        folder. Exit status: 0 all done, 3 some videos failed, 1 none could be done.

        Sharding: --shard K/N takes the videos whose relative path hashes to K (0-based) of N,
        so N machines split a folder with no coordination. Without --shard, a Slurm job array
        (SLURM_ARRAY_TASK_ID with SLURM_ARRAY_TASK_COUNT or _MIN/_MAX) or a Kubernetes indexed
        Job (JOB_COMPLETION_INDEX, with --shards N) picks the shard. Each shard writes its own
        index; --merge DIR joins them.
        """,
        arguments: [ArgumentSpec(name: "folder", help: "The folder of videos.", optional: true)],
        options: [
            ModelOptions.spec,
            .option("format", "<f,…>", "Output formats, comma-separated: json, jsonl, csv, vtt, srt, table.", default: "json"),
            .option("out", "<dir>", "Write outputs under this folder, mirroring the tree.", default: "beside each video"),
            .flag("recursive", short: "r", "Descend into sub-folders."),
            .option("include", "<glob>", "Only files whose relative path or name matches (repeatable).", repeatable: true),
            .option("exclude", "<glob>", "Leave out files whose relative path or name matches (repeatable).", repeatable: true),
            .flag("force", "Redo videos whose outputs are up to date."),
            .option("jobs", short: "j", "<n>", "Videos processed at once.", default: "the core count (fewer if memory is short: 1.5 GB each)"),
            .option("threads", "<n>", "Threads per video (decoding and model).", default: "cores / jobs"),
            .option("shard", "<K/N>", "Take only shard K (0-based) of N.", default: "from Slurm or Kubernetes, else everything"),
            .option("shards", "<n>", "Shard count with a Kubernetes indexed Job (JOB_COMPLETION_INDEX gives K)."),
            .option("merge", "<dir>", "Merge the shard indexes in this folder into vidformer-index.jsonl, then exit."),
            .option("fps", "<rate>", "Sampling rate.", default: "the model's"),
            .flag("keyframes-only", "Decode key frames only (fast scan)."),
            .option("max-tokens", "<n>", "Tokens the model sees at once per video (memory ceiling per job).", default: "160000"),
            .flag("progress", "Show a progress bar on stderr."),
            .flag("no-progress", "Never show a progress bar."),
            .flag("quiet", short: "q", "Only errors and the final summary on stderr."),
        ],
        run: runAnnotate)

    static func runAnnotate(_ p: ParsedArguments) throws -> Int32 {
        if let dir = p.string("merge") { return try AnnotateRun.merge(dir) }
        guard let folder = p.positionals.first else { throw CLIError.usage("missing argument <folder>", command: "annotate") }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir) else {
            throw CLIError.failure("\(folder): no such folder")
        }
        guard isDir.boolValue else { throw CLIError.failure("\(folder): not a folder (use 'vidformer classify' for one video)") }
        guard access(folder, R_OK | X_OK) == 0 else { throw CLIError.failure("\(folder): cannot read the folder (\(String(cString: strerror(errno))))") }

        var formats: [OutputFormat] = []
        for name in (p.string("format") ?? "json").split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard let f = OutputFormat(rawValue: name) else {
                throw CLIError.usage("--format: unknown format '\(name)' (json, jsonl, csv, vtt, srt, table)", command: "annotate")
            }
            if !formats.contains(f) { formats.append(f) }
        }
        guard !formats.isEmpty else { throw CLIError.usage("--format needs at least one format", command: "annotate") }

        let cores = ProcessInfo.processInfo.activeProcessorCount
        // One single-threaded job per core is the fastest split (decoding parallelises across
        // files better than within one), as long as each job's 1 GB ceiling fits in memory.
        let memoryJobs = Int(Double(ProcessInfo.processInfo.physicalMemory) / 1.5e9)
        let jobs = try p.int("jobs") ?? max(1, min(cores, memoryJobs))
        guard jobs > 0 else { throw CLIError.usage("--jobs must be positive", command: "annotate") }
        let threads = try p.int("threads") ?? max(1, cores / jobs)
        guard threads > 0 else { throw CLIError.usage("--threads must be positive", command: "annotate") }
        if let fps = try p.double("fps"), fps <= 0 { throw CLIError.usage("--fps must be positive", command: "annotate") }
        if let t = try p.int("max-tokens"), t < 64 { throw CLIError.usage("--max-tokens must be at least 64", command: "annotate") }

        let quiet = p.has("quiet")
        let shard = try Shard.resolve(p.string("shard"), shards: p.int("shards"), environment: ProcessInfo.processInfo.environment)
        if let shard, let source = shard.source, !quiet {
            FileHandle.standardError.write(Data("vidformer: annotate: shard \(shard.index)/\(shard.count) from \(source)\n".utf8))
        }
        let modelPath: String
        if let given = p.string("model") { modelPath = given } else {
            guard let found = DefaultModel.locate() else {
                throw CLIError.failure("no default model found (looked in \(DefaultModel.candidates().joined(separator: ", "))); pass --model DIR")
            }
            modelPath = found
        }
        do { _ = try VideoModel.load(modelPath) } catch { throw CLIError.failure("\(error)") }

        var childArguments = ["--model", modelPath, "--threads", String(threads), "--no-progress", "--report"]
        if let fps = p.string("fps") { childArguments += ["--fps", fps] }
        if p.has("keyframes-only") { childArguments.append("--keyframes-only") }
        if let t = p.string("max-tokens") { childArguments += ["--max-tokens", t] }

        let outRoot = p.string("out")
        if let outRoot {
            do { try FileManager.default.createDirectory(atPath: outRoot, withIntermediateDirectories: true) } catch {
                throw CLIError.failure("\(outRoot): cannot create the output folder (\(error.localizedDescription))")
            }
        }
        let settingsKey = AnnotateRun.settingsKey(modelPath: modelPath, formats: formats, childArguments: childArguments)
        let run = AnnotateRun(
            folder: folder, outRoot: outRoot, recursive: p.has("recursive"), include: p.strings("include"),
            exclude: p.strings("exclude"), formats: formats, force: p.has("force"), jobs: jobs, shard: shard,
            childArguments: childArguments, settingsKey: settingsKey, quiet: quiet,
            showProgress: !quiet && (p.toggle("progress") ?? isTerminal(2)))
        return try run.execute()
    }
}

/// Which part of a folder this process takes.
struct Shard: Equatable {
    var index: Int
    var count: Int
    /// Where it came from when not given by --shard (said on stderr).
    var source: String?

    static func resolve(_ text: String?, shards: Int?, environment env: [String: String]) throws -> Shard? {
        if let text {
            let parts = text.split(separator: "/")
            guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]), n > 0, (0..<n).contains(k) else {
                throw CLIError.usage("--shard must be K/N with 0 <= K < N; got '\(text)'", command: "annotate")
            }
            return Shard(index: k, count: n)
        }
        if let id = env["SLURM_ARRAY_TASK_ID"].flatMap(Int.init) {
            if let n = env["SLURM_ARRAY_TASK_COUNT"].flatMap(Int.init), n > 0 {
                let lo = env["SLURM_ARRAY_TASK_MIN"].flatMap(Int.init) ?? 0
                guard (0..<n).contains(id - lo) else { throw CLIError.failure("SLURM_ARRAY_TASK_ID \(id) is outside the array") }
                return Shard(index: id - lo, count: n, source: "SLURM_ARRAY_TASK_ID=\(id) of SLURM_ARRAY_TASK_COUNT=\(n)")
            }
            if let lo = env["SLURM_ARRAY_TASK_MIN"].flatMap(Int.init), let hi = env["SLURM_ARRAY_TASK_MAX"].flatMap(Int.init), hi >= lo {
                guard (lo...hi).contains(id) else { throw CLIError.failure("SLURM_ARRAY_TASK_ID \(id) is outside \(lo)-\(hi)") }
                return Shard(index: id - lo, count: hi - lo + 1, source: "SLURM_ARRAY_TASK_ID=\(id) in \(lo)-\(hi)")
            }
        }
        if let k = env["JOB_COMPLETION_INDEX"].flatMap(Int.init) {
            guard let n = shards else {
                throw CLIError.usage("JOB_COMPLETION_INDEX is set: pass --shards N (the Job's completions)", command: "annotate")
            }
            guard n > 0, (0..<n).contains(k) else { throw CLIError.failure("JOB_COMPLETION_INDEX \(k) is outside 0..<\(n)") }
            return Shard(index: k, count: n, source: "JOB_COMPLETION_INDEX=\(k) with --shards \(n)")
        }
        if let n = shards { throw CLIError.usage("--shards \(n) needs JOB_COMPLETION_INDEX (or use --shard K/N)", command: "annotate") }
        return nil
    }

    /// FNV-1a of the relative path: the same on every machine and every run.
    static func hash(_ relativePath: String) -> UInt64 { FNV1a.hash(relativePath) }

    func owns(_ relativePath: String) -> Bool { Int(Shard.hash(relativePath) % UInt64(count)) == index }
    var suffix: String { ".shard-\(index)-of-\(count)" }
}

/// One `annotate` run over a folder.
final class AnnotateRun {
    struct Video {
        var relative: String
        var path: String
        var outputs: [String]
        var size: Int64
        var mtime: Double
        var duration: Double = 0
    }

    static let videoExtensions: Set<String> = ["mp4", "m4v", "mov", "mkv", "webm", "avi", "ts", "mts", "m2ts", "mpg", "mpeg",
                                               "vob", "wmv", "asf", "flv", "3gp", "3g2", "ogv", "mxf", "nut", "y4m", "dv", "f4v",
                                               "rm", "rmvb", "divx", "h264", "264", "hevc", "265", "ivf"]
    /// Outputs and sidecars: never candidates, never reported.
    static let ignoredExtensions: Set<String> = ["json", "jsonl", "csv", "vtt", "srt", "txt", "svg", "md", "partial"]

    let folder: String, outRoot: String?
    let recursive: Bool, include: [String], exclude: [String]
    let formats: [OutputFormat]
    let force: Bool, jobs: Int
    let shard: Shard?
    let childArguments: [String], settingsKey: String
    let quiet: Bool, showProgress: Bool
    let indexPath: String, summaryPath: String

    init(folder: String, outRoot: String?, recursive: Bool, include: [String], exclude: [String], formats: [OutputFormat],
         force: Bool, jobs: Int, shard: Shard?, childArguments: [String], settingsKey: String, quiet: Bool, showProgress: Bool) {
        self.folder = folder
        self.outRoot = outRoot
        self.recursive = recursive
        self.include = include
        self.exclude = exclude
        self.formats = formats
        self.force = force
        self.jobs = jobs
        self.shard = shard
        self.childArguments = childArguments
        self.settingsKey = settingsKey
        self.quiet = quiet
        self.showProgress = showProgress
        let base = outRoot ?? folder
        indexPath = base + "/vidformer-index" + (shard?.suffix ?? "") + ".jsonl"
        summaryPath = base + "/vidformer-summary" + (shard?.suffix ?? "") + ".json"
    }

    /// Model identity (config and weights) plus every setting that changes the outputs.
    static func settingsKey(modelPath: String, formats: [OutputFormat], childArguments: [String]) -> String {
        var hash = FNV1a()
        func mix<S: Sequence>(_ bytes: S) where S.Element == UInt8 { hash.mix(bytes) }
        mix(Array((try? Data(contentsOf: URL(fileURLWithPath: modelPath + "/config.json"))) ?? Data()))
        let weights = modelPath + "/model.safetensors"
        var st = stat()
        if stat(weights, &st) == 0 { mix("\(st.st_size):\(st.st_mtim.tv_sec):\(st.st_mtim.tv_nsec)".utf8) }
        let settings = childArguments.enumerated().filter { i, a in
            // Paths and thread counts do not change the labels.
            !["--threads", "--model"].contains(a) && !(i > 0 && ["--threads", "--model"].contains(childArguments[i - 1]))
        }.map(\.element)
        mix(settings.joined(separator: " ").utf8)
        return String(format: "%016llx", hash.value) + "|" + formats.map(\.rawValue).joined(separator: ",")
    }

    func log(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    func matches(_ patterns: [String], _ relative: String) -> Bool {
        let name = (relative as NSString).lastPathComponent
        return patterns.contains { fnmatch($0, relative, 0) == 0 || fnmatch($0, name, 0) == 0 }
    }

    /// Candidate files (relative paths, sorted), leaving out hidden files, outputs and our own folder.
    func candidates() -> [String] {
        var out: [String] = []
        let fm = FileManager.default
        let outAbs = outRoot.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        func walk(_ dir: String, _ prefix: String) {
            guard let names = try? fm.contentsOfDirectory(atPath: dir) else {
                log("vidformer: \(dir): cannot read the folder; skipped\n")
                return
            }
            for name in names.sorted() where !name.hasPrefix(".") {
                let path = dir + "/" + name
                let rel = prefix.isEmpty ? name : prefix + "/" + name
                var isDir: ObjCBool = false
                guard fm.fileExists(atPath: path, isDirectory: &isDir) else { continue }
                if isDir.boolValue {
                    if recursive, URL(fileURLWithPath: path).standardizedFileURL.path != outAbs { walk(path, rel) }
                    continue
                }
                let ext = (name as NSString).pathExtension.lowercased()
                if Self.ignoredExtensions.contains(ext) || name.hasPrefix("vidformer-index") || name.hasPrefix("vidformer-summary") { continue }
                if !include.isEmpty && !matches(include, rel) { continue }
                if matches(exclude, rel) { continue }
                if let shard, !shard.owns(rel) { continue }
                out.append(rel)
            }
        }
        walk(folder, "")
        return out
    }

    /// Output files of a video; two videos that would share names (a.mp4, a.mkv) keep their extension.
    func outputs(for relative: String, clash: Bool) -> [String] {
        let base = (outRoot ?? folder) + "/" + (clash ? relative : (relative as NSString).deletingPathExtension)
        return formats.map { base + "." + ($0 == .table ? "txt" : $0.rawValue) }
    }

    // MARK: index

    static func readIndex(_ path: String) -> [String: [String: Any]] {
        guard let data = readWholeFile(path) else { return [:] }
        var records: [String: [String: Any]] = [:]
        for line in data.split(separator: 10) {
            // A line cut short by a kill is simply not a record.
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                  let rel = obj["path"] as? String else { continue }
            records[rel] = obj
        }
        return records
    }

    static func record(_ v: Video, status: String, key: String?, summary: [String: Any]? = nil, error: String? = nil,
                       warning: String? = nil) -> JSONValue {
        var pairs: [(String, JSONValue)] = [("path", .string(v.relative)), ("status", .string(status))]
        if status == "ok" {
            pairs.append(("outputs", .array(v.outputs.map { .string($0) })))
            if let video = summary?["video"] as? [String: Any] {
                pairs.append(("label", .string(video["label"] as? String ?? "")))
                if let secs = video["seconds"] as? [String: Any] {
                    pairs.append(("seconds", .object(secs.keys.sorted().map { ($0, .time((secs[$0] as? Double) ?? 0)) })))
                }
            }
            if let d = summary?["duration"] as? Double { pairs.append(("duration", .time(d))) }
            if let stats = summary?["stats"] as? [String: Any], let e = stats["decode_errors"] as? Int, e > 0 {
                pairs.append(("decode_errors", .integer(e)))
            }
        }
        if let error { pairs.append(("error", .string(error))) }
        if let warning { pairs.append(("warning", .string(warning))) }
        pairs.append(("size", .integer(Int(v.size))))
        pairs.append(("mtime", .number(v.mtime)))
        if let key { pairs.append(("settings", .string(key))) }
        pairs.append(("finished", .string(ISO8601DateFormatter().string(from: Date()))))
        return .object(pairs)
    }

    static func merge(_ dir: String) throws -> Int32 {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else {
            throw CLIError.failure("\(dir): cannot read the folder")
        }
        let shards = names.filter { $0.hasPrefix("vidformer-index.shard-") && $0.hasSuffix(".jsonl") }.sorted()
        guard !shards.isEmpty else { throw CLIError.failure("\(dir): no shard indexes (vidformer-index.shard-K-of-N.jsonl) to merge") }
        var lines: [String: String] = [:]
        var finished: [String: String] = [:]
        for file in ["vidformer-index.jsonl"] + shards {
            guard let data = readWholeFile(dir + "/" + file) else { continue }
            for line in data.split(separator: 10) {
                guard let obj = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                      let rel = obj["path"] as? String else { continue }
                let when = obj["finished"] as? String ?? ""
                if let seen = finished[rel], seen > when { continue }
                finished[rel] = when
                lines[rel] = String(decoding: line, as: UTF8.self)
            }
        }
        let text = lines.keys.sorted().map { lines[$0]! + "\n" }.joined()
        do { try AtomicFile.write(Data(text.utf8), to: dir + "/vidformer-index.jsonl") } catch { throw CLIError.failure("\(error)") }
        var counts: [String: Int] = [:]
        for line in lines.values {
            if let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let s = obj["status"] as? String {
                counts[s, default: 0] += 1
            }
        }
        let desc = counts.keys.sorted().map { "\(counts[$0]!) \($0)" }.joined(separator: ", ")
        FileHandle.standardError.write(Data("vidformer: merged \(shards.count) shard indexes into \(dir)/vidformer-index.jsonl: \(lines.count) videos (\(desc))\n".utf8))
        return 0
    }

    // MARK: the run

    func execute() throws -> Int32 {
        let started = Date()
        StopSignal.install()
        var index = Self.readIndex((outRoot ?? folder) + "/vidformer-index.jsonl")
        if shard != nil { index.merge(Self.readIndex(indexPath)) { _, new in new } }
        let indexHandle = try openIndexForAppend()
        defer { try? indexHandle.close() }

        // 1. What is there, and what is already done.
        let names = candidates()
        var stems: [String: Int] = [:]
        for rel in names { stems[(rel as NSString).deletingPathExtension, default: 0] += 1 }
        var todo: [Video] = []
        var upToDate = 0
        for rel in names {
            let path = folder + "/" + rel
            var st = stat()
            guard stat(path, &st) == 0 else { continue }
            let mtime = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
            let v = Video(relative: rel, path: path, outputs: outputs(for: rel, clash: stems[(rel as NSString).deletingPathExtension]! > 1),
                          size: Int64(st.st_size), mtime: mtime)
            if !force, let r = index[rel], r["status"] as? String == "ok", r["settings"] as? String == settingsKey,
               (r["size"] as? Int).map(Int64.init) == v.size, let m = r["mtime"] as? Double, abs(m - mtime) < 1e-6,
               v.outputs.allSatisfy({ FileManager.default.fileExists(atPath: $0) }) {
                upToDate += 1
                continue
            }
            todo.append(v)
        }

        // 2. Probe the rest (in child processes too: a hostile file can only take a child down).
        var videos: [Video] = []
        var notVideo: [(String, String)] = []
        var failures: [(String, String)] = []
        if !todo.isEmpty && !quiet && todo.count > 20 { log("vidformer: annotate: probing \(todo.count) files…\n") }
        let probes = probeAll(todo)
        for (v, outcome) in zip(todo, probes) {
            switch outcome {
            case .video(let duration):
                var v = v
                v.duration = duration
                videos.append(v)
            case .notVideo(let why): notVideo.append((v.relative, why))
            case .failed(let why):
                failures.append((v.relative, why))
                log("vidformer: \(v.path): \(why)\n")
                write(Self.record(v, status: "failed", key: settingsKey, error: why), to: indexHandle)
            }
        }

        // Temporaries left by a killed run: one listing per output folder, not one per video.
        removeTemporaries(videos)

        // 3. Classify, `jobs` at a time.
        let total = videos.reduce(0) { $0 + $1.duration }
        var ok = 0, doneSeconds = 0.0, interrupted = false
        var queue = videos[...]
        final class Job {
            let video: Video, child: Subprocess
            var progress = 0.0, summary: [String: Any]?, messages: [String] = []
            init(_ v: Video, _ c: Subprocess) { video = v; child = c }
        }
        var running: [Job] = []
        let bar = ProgressBar(enabled: showProgress, label: "annotate")
        var announcedStop = false
        var finished = 0
        while !queue.isEmpty || !running.isEmpty {
            let stop = StopSignal.requested != 0
            if stop {
                let abandon = StopSignal.requested == SIGTERM || StopSignal.count >= 2 || running.isEmpty
                if abandon {
                    for job in running {
                        job.child.kill(SIGKILL)
                        while !job.child.poll() { usleep(1000) }
                        _ = job.child.finalLines()
                        removeTemporaries(job.video)
                    }
                    running.removeAll()
                    interrupted = true
                    break
                }
                if !announcedStop {
                    bar.finish()
                    log("vidformer: annotate: stopping: finishing \(running.count) video(s) in progress; interrupt again to abandon them\n")
                    announcedStop = true
                }
            }
            while !stop && running.count < jobs, let v = queue.popFirst() {
                do {
                    for dir in Set(v.outputs.map { ($0 as NSString).deletingLastPathComponent }) {
                        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                    }
                    let child = try Subprocess(Subprocess.selfPath, ["classify", v.path] + childArguments + v.outputs.flatMap { ["-o", $0] })
                    running.append(Job(v, child))
                } catch {
                    failures.append((v.relative, "\(error)"))
                    log("vidformer: \(v.path): \(error)\n")
                }
            }
            if stop && queue.count > 0 { interrupted = true; queue.removeAll() }
            var fds = running.map { pollfd(fd: $0.child.stderrFD, events: Int16(POLLIN), revents: 0) }
            _ = fds.withUnsafeMutableBufferPointer { Glibc.poll($0.baseAddress, nfds_t($0.count), 100) }
            var still: [Job] = []
            for job in running {
                let v = job.video, child = job.child
                let exited = child.poll()
                for line in exited ? child.finalLines() : child.drain() {
                    if line.hasPrefix("progress ") {
                        let parts = line.split(separator: " ")
                        if parts.count >= 2, let d = Double(parts[1]) { job.progress = min(d, v.duration) }
                    } else if line.hasPrefix("summary ") {
                        job.summary = try? JSONSerialization.jsonObject(with: Data(line.dropFirst(8).utf8)) as? [String: Any]
                    } else if !line.isEmpty {
                        job.messages.append(line)
                    }
                }
                guard exited else { still.append(job); continue }
                let summary = job.summary, messages = job.messages
                doneSeconds += v.duration
                finished += 1
                let reason = messages.last.map { m -> String in
                    var m = m
                    if m.hasPrefix("vidformer: ") { m.removeFirst(11) }
                    if m.hasPrefix(v.path + ": ") { m.removeFirst(v.path.count + 2) }
                    return m
                }
                if child.exitStatus == 0, let summary, v.outputs.allSatisfy({ FileManager.default.fileExists(atPath: $0) }) {
                    ok += 1
                    write(Self.record(v, status: "ok", key: settingsKey, summary: summary, warning: messages.isEmpty ? nil : reason), to: indexHandle)
                } else {
                    let why: String
                    if let s = child.signal { why = "crashed (signal \(s))" + (reason.map { ": \($0)" } ?? "") }
                    else { why = reason ?? "failed (exit status \(child.exitStatus ?? -1))" }
                    removeTemporaries(v)
                    failures.append((v.relative, why))
                    bar.finish()
                    log("vidformer: \(v.path): \(why)\n")
                    write(Self.record(v, status: "failed", key: settingsKey, error: why), to: indexHandle)
                }
            }
            running = still
            let inFlight = running.reduce(0) { $0 + $1.progress }
            if !announcedStop {
                bar.label = "annotate \(finished)/\(videos.count) files"
                bar.update(done: doneSeconds + inFlight, total: total)
            }
        }
        bar.finish()
        try compactIndex()

        // 4. Summary file and line.
        let wall = Date().timeIntervalSince(started)
        let summary: JSONValue = .object([
            ("folder", .string(folder)),
            ("shard", shard.map { .string("\($0.index)/\($0.count)") } ?? .null),
            ("ok", .integer(ok)), ("up_to_date", .integer(upToDate)), ("failed", .integer(failures.count)),
            ("not_video", .integer(notVideo.count)), ("interrupted", .bool(interrupted)),
            ("video_seconds", .time(doneSeconds)), ("wall_seconds", .time(wall)),
            ("failures", .array(failures.map { .object([("path", .string($0.0)), ("error", .string($0.1))]) })),
            ("skipped_not_video", .array(notVideo.map { .object([("path", .string($0.0)), ("reason", .string($0.1))]) })),
        ])
        do { try AtomicFile.write(Data((summary.rendered(pretty: true) + "\n").utf8), to: summaryPath) } catch {
            log("vidformer: \(error)\n")
        }
        var line = "vidformer: annotate: \(ok) ok, \(upToDate) up to date, \(failures.count) failed, \(notVideo.count) not video"
        line += String(format: "; %.2f h of video in %@", doneSeconds / 3600, ProgressBar.clock(wall))
        if wall > 0 && doneSeconds > 0 { line += String(format: " (%.1fx realtime)", doneSeconds / wall) }
        if interrupted { line += "; interrupted: run again to finish" }
        log(line + "\n")
        if !notVideo.isEmpty && !quiet {
            let shown = notVideo.prefix(5).map { "\($0.0) (\($0.1))" }.joined(separator: ", ")
            log("vidformer: annotate: skipped \(notVideo.count) file(s) that are not video: \(shown)\(notVideo.count > 5 ? ", …" : "") (see \(summaryPath))\n")
        }
        if interrupted { return 1 }
        if failures.isEmpty { return 0 }
        return ok + upToDate > 0 ? 3 : 1
    }

    enum ProbeOutcome { case video(Double), notVideo(String), failed(String) }

    /// Probes files in parallel child processes.
    func probeAll(_ videos: [Video]) -> [ProbeOutcome] {
        var results = [ProbeOutcome?](repeating: nil, count: videos.count)
        var next = 0
        var running: [(Int, Subprocess)] = []
        let width = max(jobs, ProcessInfo.processInfo.activeProcessorCount)
        var lines: [Int: [String]] = [:]
        while next < videos.count || !running.isEmpty {
            while running.count < width && next < videos.count {
                if let child = try? Subprocess(Subprocess.selfPath, ["probe", "--format", "json", videos[next].path]) {
                    running.append((next, child))
                } else {
                    results[next] = .failed("cannot start a probe")
                }
                next += 1
            }
            var fds = running.flatMap { [pollfd(fd: $0.1.stdoutFD, events: Int16(POLLIN), revents: 0), pollfd(fd: $0.1.stderrFD, events: Int16(POLLIN), revents: 0)] }
            _ = fds.withUnsafeMutableBufferPointer { Glibc.poll($0.baseAddress, nfds_t($0.count), 50) }
            running.removeAll { i, child in
                guard child.poll() else { lines[i, default: []] += child.drain(); return false }
                let errs = (lines[i] ?? []) + child.finalLines()
                results[i] = classifyProbe(videos[i], status: child.exitStatus ?? -1, signal: child.signal, json: child.stdoutData, errors: errs)
                return true
            }
        }
        return results.map { $0 ?? .failed("not probed") }
    }

    func classifyProbe(_ v: Video, status: Int32, signal: Int32?, json: Data, errors: [String]) -> ProbeOutcome {
        let ext = (v.relative as NSString).pathExtension.lowercased()
        let looksLikeVideo = Self.videoExtensions.contains(ext)
        var reason = errors.last(where: { !$0.isEmpty }) ?? "cannot be read"
        if reason.hasPrefix("vidformer: ") { reason.removeFirst(11) }
        if reason.hasPrefix(v.path + ": ") { reason.removeFirst(v.path.count + 2) }
        if let signal { return .failed("probe crashed (signal \(signal))") }
        guard status == 0, let obj = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else {
            return looksLikeVideo ? .failed(reason) : .notVideo(reason)
        }
        let streams = obj["streams"] as? [[String: Any]] ?? []
        guard let selected = streams.first(where: { $0["selected"] as? Bool == true }) else {
            return looksLikeVideo ? .failed("no video stream") : .notVideo("no video stream")
        }
        // Still images and text art never get here: probe itself rejects them (MediaInput.notVideo).
        let duration = (obj["duration"] as? Double) ?? (selected["duration"] as? Double) ?? 0
        return .video(duration)
    }

    /// Removes AtomicFile temporaries (`.NAME.tmp-…`) of these videos' outputs.
    func removeTemporaries(_ videos: [Video]) {
        var prefixes: [String: Set<String>] = [:]   // folder -> ".name.tmp-" prefixes
        for v in videos {
            for o in v.outputs {
                prefixes[(o as NSString).deletingLastPathComponent, default: []].insert("." + (o as NSString).lastPathComponent + ".tmp-")
            }
        }
        for (dir, wanted) in prefixes {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where name.hasPrefix(".") {
                guard let cut = name.range(of: ".tmp-"), wanted.contains(String(name[..<cut.upperBound])) else { continue }
                try? FileManager.default.removeItem(atPath: dir + "/" + name)
            }
        }
    }

    func removeTemporaries(_ v: Video) { removeTemporaries([v]) }

    func openIndexForAppend() throws -> FileHandle {
        if !FileManager.default.fileExists(atPath: indexPath) {
            guard FileManager.default.createFile(atPath: indexPath, contents: nil) else {
                throw CLIError.failure("\(indexPath): cannot create the run's index (\(String(cString: strerror(errno))))")
            }
        }
        guard let h = FileHandle(forWritingAtPath: indexPath) else {
            throw CLIError.failure("\(indexPath): cannot open the run's index for writing")
        }
        h.seekToEndOfFile()
        // A previous run killed mid-line: start on a fresh line.
        if let data = readWholeFile(indexPath), let last = data.last, last != 10 { h.write(Data([10])) }
        return h
    }

    func write(_ record: JSONValue, to handle: FileHandle) {
        handle.write(Data((record.rendered() + "\n").utf8))
    }

    /// One record per video (the latest), rewritten atomically.
    func compactIndex() throws {
        guard let data = readWholeFile(indexPath) else { return }
        var latest: [String: String] = [:]
        var order: [String] = []
        for line in data.split(separator: 10) {
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any], let rel = obj["path"] as? String else { continue }
            if latest[rel] == nil { order.append(rel) }
            latest[rel] = String(decoding: line, as: UTF8.self)
        }
        let text = order.sorted().map { latest[$0]! + "\n" }.joined()
        do { try AtomicFile.write(Data(text.utf8), to: indexPath) } catch { throw CLIError.failure("\(error)") }
    }
}
