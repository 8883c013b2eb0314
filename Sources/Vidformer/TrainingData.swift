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
    /// `DetailMeter` bytes per frame (`detailBytes` each; empty without detail statistics).
    public var detail: [UInt8] = []
    public var detailBytes = 0
    public var frameCount: Int { times.count }

    public init(path: String, times: [Double], rgb: [UInt8], labels: [Int], frameBytes: Int,
                detail: [UInt8] = [], detailBytes: Int = 0) {
        precondition(rgb.count == times.count * frameBytes && detail.count == times.count * detailBytes)
        self.path = path
        self.times = times
        self.rgb = rgb
        self.labels = labels
        self.frameBytes = frameBytes
        self.detail = detail
        self.detailBytes = detailBytes
    }

    /// Patch tokens of frames `range`, frame-major, as the model takes them; `augmentation`
    /// changes the frames first (training only).
    public func tokens(_ range: Range<Int>, tokenizer: PatchTokenizer, augmentation: Augmentation = Augmentation()) -> Tensor {
        var out: [Float] = []
        out.reserveCapacity(range.count * tokenizer.tokensPerFrame * tokenizer.tokenWidth)
        func frame(_ f: Int) -> [UInt8] { augmentation.frame(f, of: self, width: tokenizer.frameWidth) }
        // Motion tokens see the frame before the crop too, exactly as classify would.
        var previous = tokenizer.motion && range.lowerBound > 0 ? frame(range.lowerBound - 1) : nil
        for f in range {
            let current = frame(f)
            let detail = tokenizer.detail > 0 ? augmentation.detail(f, of: self, patchesAcross: tokenizer.patchesAcross, features: tokenizer.detail) : []
            tokenizer.append(current, previous: previous, detail: detail, to: &out)
            if tokenizer.motion { previous = current }
        }
        return Tensor(shape: [range.count * tokenizer.tokensPerFrame, tokenizer.tokenWidth], scalars: out)
    }
}

/// Label-preserving changes to a training crop: a left-right mirror of every frame,
/// stretches of earlier frames pasted over later ones (synthetic repeats), each copy shifted in
/// brightness and dithered a little, as a re-encode would, and one frame held still over the
/// frames after it (synthetic holds).
public struct Augmentation: Sendable, Equatable {
    public struct Paste: Sendable, Equatable {
        /// First frame copied, first frame overwritten, frames.
        public var source: Int, target: Int, count: Int
        /// Added to every byte of the copy.
        public var brightness: Int
        /// Per-pixel noise in `-dither...dither`, from `seed`.
        public var dither: Int
        public var seed: UInt64
        /// How much of the next source frame is mixed in, out of 256: a copy sampled between
        /// the original's frames, as a re-encode with other timestamps is.
        public var phase: Int
        /// Every overwritten frame shows `source` itself, exactly, and has no change since the
        /// frame before (a hold).
        public var still: Bool
        public init(source: Int, target: Int, count: Int, brightness: Int = 0, dither: Int = 0, seed: UInt64 = 0, phase: Int = 0,
                    still: Bool = false) {
            precondition((0..<256).contains(phase))
            precondition(!still || (brightness == 0 && dither == 0 && phase == 0), "a hold is an exact copy")
            self.still = still
            self.source = source
            self.target = target
            self.count = count
            self.brightness = brightness
            self.dither = dither
            self.seed = seed
            self.phase = phase
        }

        /// The source frame shown at frame `f` (one of `target..<target + count`).
        func shown(at f: Int) -> Int { still ? source : source + (f - target) }
    }

    public var mirror = false
    public var pastes: [Paste] = []
    public init(mirror: Bool = false, pastes: [Paste] = []) {
        self.mirror = mirror
        self.pastes = pastes
    }

    /// Frame `f` of `video` (RGB rows of `width` pixels) as this augmentation shows it.
    func frame(_ f: Int, of video: DecodedVideo, width: Int) -> [UInt8] {
        let n = video.frameBytes
        var bytes: [UInt8]
        if let p = paste(covering: f) {
            let from = p.shown(at: f)
            bytes = Array(video.rgb[(from * n)..<((from + 1) * n)])
            if p.phase > 0 && from + 1 < video.frameCount {
                let next = (from + 1) * n, a = 256 - p.phase
                for i in 0..<n { bytes[i] = UInt8((a * Int(bytes[i]) + p.phase * Int(video.rgb[next + i]) + 128) >> 8) }
            }
            if p.brightness != 0 || p.dither > 0 {
                var g = SeededGenerator(seed: SeededGenerator.derive(p.seed, UInt64(f - p.target)))
                let span = UInt64(2 * p.dither + 1)
                for i in 0..<n {
                    let noise = p.dither > 0 ? Int(g.next() % span) - p.dither : 0
                    bytes[i] = UInt8(clamping: Int(bytes[i]) + p.brightness + noise)
                }
            }
        } else {
            bytes = Array(video.rgb[(f * n)..<((f + 1) * n)])
        }
        if mirror { Self.mirrorRows(&bytes, across: width, size: 3) }
        return bytes
    }

    /// Reverses every row of `across` groups of `size` bytes (pixels of a frame, or patches'
    /// statistics).
    static func mirrorRows(_ bytes: inout [UInt8], across: Int, size: Int) {
        let row = across * size
        for start in stride(from: 0, to: bytes.count, by: row) {
            var a = start, b = start + row - size
            while a < b {
                for c in 0..<size { bytes.swapAt(a + c, b + c) }
                a += size
                b -= size
            }
        }
    }

    func paste(covering f: Int) -> Paste? { pastes.first { ($0.target..<($0.target + $0.count)).contains(f) } }

    /// Detail bytes of frame `f` as this augmentation shows it: a paste carries its source's
    /// statistics (a hold: its texture, and no change), a mirror swaps patch columns.
    func detail(_ f: Int, of video: DecodedVideo, patchesAcross: Int, features k: Int) -> [UInt8] {
        let n = video.detailBytes
        let p = paste(covering: f)
        let from = p?.shown(at: f) ?? f
        var bytes = Array(video.detail[(from * n)..<((from + 1) * n)])
        if p?.still == true {
            // Features 0 and 1 of every patch are change; 2 is texture.
            for i in stride(from: 0, to: n, by: k) { bytes[i] = 0; bytes[i + 1] = 0 }
        }
        if mirror { Self.mirrorRows(&bytes, across: patchesAcross, size: k) }
        return bytes
    }

    /// `run[i]`: how many frames from `i` on carry `label` (and a 0 after the last).
    static func runs(of label: Int, in labels: [Int]) -> [Int] {
        var run = [Int](repeating: 0, count: labels.count + 1)
        for i in stride(from: labels.count - 1, through: 0, by: -1) { run[i] = labels[i] == label ? run[i + 1] + 1 : 0 }
        return run
    }

    /// A synthetic hold for a crop with labels `labels`: the `content` frame before `count`
    /// (between `lengths` bounds) further `content` frames is shown over them. Nil when the
    /// crop has no such run.
    public static func planHold(labels: [Int], content: Int, lengths: ClosedRange<Int>, generator g: inout SeededGenerator) -> Paste? {
        let n = labels.count, contentRun = runs(of: content, in: labels)
        for _ in 0..<24 {
            let count = lengths.lowerBound + Int(g.next() % UInt64(lengths.count))
            guard n - count >= 1 else { continue }
            let target = 1 + Int(g.next() % UInt64(n - count))
            guard labels[target - 1] == content, contentRun[target] >= count else { continue }
            return Paste(source: target - 1, target: target, count: count, still: true)
        }
        return nil
    }

    /// A synthetic repeat for a crop with labels `labels` (`-1` unlabelled): `count` frames
    /// (between `lengths` bounds) of `content` copied at least `gap` frames later over other
    /// `content` frames, so the faults cut into the video stay as they are. Nil when the crop
    /// has no room. Indices are within the crop.
    public static func planRepeat(labels: [Int], content: Int, gap: Int, lengths: ClosedRange<Int>, blend: Bool = false,
                                  generator g: inout SeededGenerator) -> Paste? {
        let n = labels.count, contentRun = runs(of: content, in: labels)
        for _ in 0..<24 {
            let count = lengths.lowerBound + Int(g.next() % UInt64(lengths.count))
            let lastSource = n - gap - count
            guard lastSource >= 0 else { continue }
            let source = Int(g.next() % UInt64(lastSource + 1))
            guard contentRun[source] >= count else { continue }
            // source ≤ n − gap − count, so there is always a target slot.
            let firstTarget = source + gap, lastTarget = n - count
            let target = firstTarget + Int(g.next() % UInt64(lastTarget - firstTarget + 1))
            guard contentRun[target] >= count else { continue }
            return Paste(source: source, target: target, count: count, brightness: Int(g.next() % 9) - 4, dither: 3, seed: g.next(),
                         phase: blend ? Int(g.next() % 256) : 0)
        }
        return nil
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
        let (times, bytes) = try decodeCached(video, frames: frames, cacheDirectory: cacheDirectory)
        // Cached bytes: every frame's RGB, then every frame's detail statistics.
        let frameBytes = frames.rgbBytes, detailBytes = frames.detailMeter?.bytesPerFrame ?? 0
        let split = times.count * frameBytes
        return DecodedVideo(path: video, times: times, rgb: Array(bytes[..<split]),
                            labels: LabelFile.frameLabels(times: times, spans: spans, labels: labels),
                            frameBytes: frameBytes, detail: Array(bytes[split...]), detailBytes: detailBytes)
    }

    static func decodeCached(_ video: String, frames: FrameSettings, cacheDirectory: String?) throws -> ([Double], [UInt8]) {
        let key = try cacheKey(video, frames: frames)
        let cachePath = cacheDirectory.map { ($0 as NSString).appendingPathComponent("\(key).frames") }
        let perFrame = frames.rgbBytes + (frames.detailMeter?.bytesPerFrame ?? 0)
        if let cachePath, let cached = readCache(cachePath), cached.1.count == cached.0.count * perFrame { return cached }
        let options = frames.sourceOptions
        let source: FrameSource
        do { source = try FrameSource(InputSpec(video), options: options) } catch let e as FFmpegError { throw ClassifyError(e.message) }
        var times: [Double] = []
        var rgb: [UInt8] = [], detail: [UInt8] = []
        while let f = try source.next() {
            times.append(f.time)
            rgb.append(contentsOf: f.rgb)
            detail.append(contentsOf: f.detail)
        }
        guard !times.isEmpty else { throw ClassifyError("\(video): no decodable video frames") }
        rgb.append(contentsOf: detail)
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
        let detail = frames.detail > 0 ? "|detail\(frames.detail)" + (frames.detailDark ? "|dark" : "") : ""
        mix(Array("\(size)|\(mtime)|\(frames.width)x\(frames.height)|\(frames.fps)|\(frames.aspect.rawValue)|v1\(scaling)\(detail)".utf8))
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
