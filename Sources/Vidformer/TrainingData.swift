import Foundation
import TensorCore
import VideoIO

/// One labelled video, decoded to the model's frames (kept as RGB bytes: 4x smaller than floats).
public struct DecodedVideo: Sendable {
    public var path: String
    public var times: [Double]
    public var rgb: [UInt8]
    public var labels: [Int]
    public var frameBytes: Int
    public var frameCount: Int { times.count }

    /// Patch tokens of frames `range`, frame-major, as the model takes them.
    public func tokens(_ range: Range<Int>, tokenizer: PatchTokenizer) -> Tensor {
        var out: [Float] = []
        out.reserveCapacity(range.count * tokenizer.tokensPerFrame * tokenizer.tokenWidth)
        func frame(_ f: Int) -> [UInt8] { Array(rgb[(f * frameBytes)..<((f + 1) * frameBytes)]) }
        // Motion tokens see the frame before the crop too, exactly as classify would.
        var previous = tokenizer.motion && range.lowerBound > 0 ? frame(range.lowerBound - 1) : nil
        for f in range {
            let current = frame(f)
            tokenizer.append(current, previous: previous, to: &out)
            if tokenizer.motion { previous = current }
        }
        return Tensor(shape: [range.count * tokenizer.tokensPerFrame, tokenizer.tokenWidth], scalars: out)
    }
}

/// Finds labelled videos and decodes them once: decoded frames are cached on disk, keyed by
/// the file's size, modification time, its first and last 64 KB, and the frame settings, so
/// later epochs and later runs never decode again.
public enum TrainingData {
    static let videoExtensions: Set<String> = ["mp4", "mkv", "mov", "webm", "avi", "ts", "m4v", "mpg", "mpeg", "nut", "y4m", "flv", "wmv", "3gp"]

    /// Videos in `directory` (recursively) that have a sidecar label file, sorted by path.
    public static func find(_ directory: String) throws -> [(video: String, labels: String)] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw ClassifyError("\(directory): not a folder")
        }
        guard let walker = FileManager.default.enumerator(atPath: directory) else { throw ClassifyError("\(directory): cannot list the folder") }
        var found: [(String, String)] = []
        for case let relative as String in walker {
            if relative.split(separator: "/").contains(where: { $0.hasPrefix(".") }) { continue }
            let ext = (relative as NSString).pathExtension.lowercased()
            guard videoExtensions.contains(ext) else { continue }
            let path = (directory as NSString).appendingPathComponent(relative)
            if let sidecar = LabelFile.sidecar(for: path) { found.append((path, sidecar)) }
        }
        return found.sorted { $0.0 < $1.0 }
    }

    /// Decodes (or loads from the cache) one labelled video.
    public static func load(video: String, labelFile: String, labels: [String], frames: FrameSettings,
                            cacheDirectory: String?) throws -> DecodedVideo {
        let spans = try LabelFile.read(labelFile, knownLabels: labels)
        let (times, rgb) = try decodeCached(video, frames: frames, cacheDirectory: cacheDirectory)
        return DecodedVideo(path: video, times: times, rgb: rgb,
                            labels: LabelFile.frameLabels(times: times, spans: spans, labels: labels),
                            frameBytes: frames.width * frames.height * 3)
    }

    static func decodeCached(_ video: String, frames: FrameSettings, cacheDirectory: String?) throws -> ([Double], [UInt8]) {
        let key = try cacheKey(video, frames: frames)
        let cachePath = cacheDirectory.map { ($0 as NSString).appendingPathComponent("\(key).frames") }
        if let cachePath, let cached = readCache(cachePath) { return cached }
        let options = frames.sourceOptions
        let source: FrameSource
        do { source = try FrameSource(InputSpec(video), options: options) } catch let e as FFmpegError { throw ClassifyError(e.message) }
        var times: [Double] = []
        var rgb: [UInt8] = []
        while let f = try source.next() {
            times.append(f.time)
            rgb.append(contentsOf: f.rgb)
        }
        guard !times.isEmpty else { throw ClassifyError("\(video): no decodable video frames") }
        if let cachePath, let dir = cacheDirectory {
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try? AtomicFile.write(encodeCache(times, rgb), to: cachePath)
        }
        return (times, rgb)
    }

    /// A 64-bit FNV-1a hash of what identifies the decoded frames.
    static func cacheKey(_ video: String, frames: FrameSettings) throws -> String {
        let attributes = try FileManager.default.attributesOfItem(atPath: video)
        let size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
        let mtime = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        var hash = FNV1a()
        func mix(_ bytes: [UInt8]) { hash.mix(bytes) }
        let scaling = frames.scaling == .bilinear ? "" : "|" + frames.scaling.rawValue
        mix(Array("\(size)|\(mtime)|\(frames.width)x\(frames.height)|\(frames.fps)|\(frames.aspect.rawValue)|v1\(scaling)".utf8))
        if let handle = FileHandle(forReadingAtPath: video) {
            defer { try? handle.close() }
            mix([UInt8](handle.readData(ofLength: 65536)))
            if size > 131072 { try? handle.seek(toOffset: UInt64(size - 65536)); mix([UInt8](handle.readData(ofLength: 65536))) }
        }
        return String(hash.value, radix: 16)
    }

    static let magic = Array("VFFRAMES1".utf8)

    static func encodeCache(_ times: [Double], _ rgb: [UInt8]) -> Data {
        var data = Data(magic)
        var count = UInt64(times.count).littleEndian
        withUnsafeBytes(of: &count) { data.append(contentsOf: $0) }
        times.withUnsafeBytes { data.append(contentsOf: $0) }
        data.append(contentsOf: rgb)
        return data
    }

    static func readCache(_ path: String) -> ([Double], [UInt8])? {
        guard let data = readWholeFile(path), data.count >= magic.count + 8,
              [UInt8](data.prefix(magic.count)) == magic else { return nil }
        let bytes = [UInt8](data)
        var count: UInt64 = 0
        for i in 0..<8 { count |= UInt64(bytes[magic.count + i]) << UInt64(8 * i) }
        let timesStart = magic.count + 8
        guard count > 0, count < 100_000_000, bytes.count >= timesStart + Int(count) * 8 else { return nil }
        var times = [Double](repeating: 0, count: Int(count))
        times.withUnsafeMutableBytes { dst in
            bytes.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[timesStart..<(timesStart + Int(count) * 8)])) }
        }
        let rgb = Array(bytes[(timesStart + Int(count) * 8)...])
        guard rgb.count % Int(count) == 0 else { return nil }
        return (times, rgb)
    }
}
