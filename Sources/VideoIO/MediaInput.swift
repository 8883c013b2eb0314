import CFFmpeg
import Foundation

/// Where frames come from and how libavformat should read them.
public struct InputSpec: Sendable, Equatable {
    /// A path, `-` for standard input, or any URL libavformat opens.
    public var location: String
    /// Forces a demuxer (`rawvideo`, `matroska`, …); nil lets libavformat probe.
    public var format: String?
    /// Demuxer options handed to libavformat as they are (`video_size`, `pixel_format`, `framerate`).
    public var options: [String: String]
    /// Seconds without a single byte of input before reading gives up (stdin that never sends).
    public var idleTimeout: Double?

    public init(_ location: String, format: String? = nil, options: [String: String] = [:], idleTimeout: Double? = nil) {
        self.location = location
        self.format = format
        self.options = options
        self.idleTimeout = idleTimeout
    }

    /// The name used in messages: `<stdin>` for `-`.
    public var displayName: String { location == "-" ? "<stdin>" : location }
    var url: String { location == "-" ? "pipe:0" : location }
}

/// Lets a reader be abandoned: libavformat polls this between blocking reads.
final class InterruptState: @unchecked Sendable {
    private let lock = NSLock()
    private var deadline: Double = .infinity
    private var cancelled = false
    let idleTimeout: Double?
    private(set) var timedOut = false

    init(idleTimeout: Double?) { self.idleTimeout = idleTimeout; touch() }

    /// Restarts the idle clock; called whenever data arrives.
    func touch() {
        guard let idle = idleTimeout else { return }
        lock.lock(); deadline = Self.now() + idle; lock.unlock()
    }
    func cancel() { lock.lock(); cancelled = true; lock.unlock() }

    func shouldInterrupt() -> Bool {
        lock.lock(); defer { lock.unlock() }
        if cancelled || StopSignal.isRequested { return true }
        if Self.now() > deadline { timedOut = true; return true }
        return false
    }
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}

/// Reads standard input through poll(2) with a short timeout, so a reader waiting on a silent
/// pipe still notices SIGINT/SIGTERM and its idle timeout (a plain blocking read would not).
final class StandardInputIO {
    let context: UnsafeMutablePointer<AVIOContext>

    init?(interrupt: InterruptState) {
        let size = 1 << 16
        guard let buffer = av_malloc(size) else { return nil }
        let opaque = Unmanaged.passUnretained(interrupt).toOpaque()
        guard let ctx = avio_alloc_context(buffer.assumingMemoryBound(to: UInt8.self), Int32(size), 0, opaque, { opaque, buf, size in
            let state = Unmanaged<InterruptState>.fromOpaque(opaque!).takeUnretainedValue()
            while true {
                if state.shouldInterrupt() { return state.timedOut ? vf_averror(ETIMEDOUT) : vf_averror_exit() }
                var fds = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
                let ready = poll(&fds, 1, 100)
                if ready < 0 && errno != EINTR { return vf_averror(errno) }
                if ready <= 0 { continue }
                let n = read(0, buf, Int(size))
                if n < 0 { if errno == EINTR || errno == EAGAIN { continue }; return vf_averror(errno) }
                if n == 0 { return vf_averror_eof() }
                state.touch()
                return Int32(n)
            }
        }, nil, nil) else {
            var b: UnsafeMutableRawPointer? = buffer
            av_freep(&b)
            return nil
        }
        ctx.pointee.seekable = 0
        context = ctx
    }

    deinit {
        var buffer: UnsafeMutableRawPointer? = UnsafeMutableRawPointer(context.pointee.buffer)
        av_freep(&buffer)
        var c: UnsafeMutablePointer<AVIOContext>? = context
        avio_context_free(&c)
    }
}

/// Owns an opened `AVFormatContext`.
final class MediaInput {
    let context: UnsafeMutablePointer<AVFormatContext>
    let interrupt: InterruptState
    let spec: InputSpec
    private let standardInput: StandardInputIO?

    init(_ spec: InputSpec) throws {
        vf_quiet_logs()
        self.spec = spec
        interrupt = InterruptState(idleTimeout: spec.idleTimeout)
        guard let allocated = avformat_alloc_context() else {
            throw FFmpegError(.open, message: "\(spec.displayName): out of memory")
        }
        allocated.pointee.interrupt_callback.callback = { opaque in
            guard let opaque else { return 0 }
            return Unmanaged<InterruptState>.fromOpaque(opaque).takeUnretainedValue().shouldInterrupt() ? 1 : 0
        }
        allocated.pointee.interrupt_callback.opaque = Unmanaged.passUnretained(interrupt).toOpaque()
        if spec.location == "-" {
            guard let io = StandardInputIO(interrupt: interrupt) else {
                avformat_free_context(allocated)
                throw FFmpegError(.open, message: "<stdin>: out of memory")
            }
            standardInput = io
            allocated.pointee.pb = io.context
            allocated.pointee.flags |= AVFMT_FLAG_CUSTOM_IO
        } else {
            standardInput = nil
        }

        var inputFormat: UnsafePointer<AVInputFormat>? = nil
        if let name = spec.format {
            inputFormat = av_find_input_format(name)
            if inputFormat == nil {
                avformat_free_context(allocated)
                throw FFmpegError(.open, message: "\(spec.displayName): unknown input format '\(name)'")
            }
        }
        var options: OpaquePointer? = nil
        for (key, value) in spec.options.sorted(by: { $0.key < $1.key }) { av_dict_set(&options, key, value, 0) }
        defer { av_dict_free(&options) }

        var ctx: UnsafeMutablePointer<AVFormatContext>? = allocated
        let code = avformat_open_input(&ctx, spec.url, inputFormat, &options)
        // On failure avformat_open_input frees the context and sets ctx to nil.
        guard code >= 0, let opened = ctx else {
            throw FFmpegError(interrupt.timedOut ? .timeout : .open, code: code,
                              message: "\(spec.displayName): \(Self.describeOpenFailure(code, interrupt, spec: spec))")
        }
        context = opened
        let info = avformat_find_stream_info(opened, nil)
        if info < 0 {
            // Every stored property is set, so throwing runs deinit, which closes the input
            // (closing it here as well freed it twice: found by the demux fuzzer).
            throw FFmpegError(interrupt.timedOut ? .timeout : .open, code: info,
                              message: "\(spec.displayName): cannot read stream information: \(Self.describeOpenFailure(info, interrupt, spec: spec))")
        }
    }

    deinit {
        var c: UnsafeMutablePointer<AVFormatContext>? = context
        avformat_close_input(&c)
    }

    private static func describeOpenFailure(_ code: Int32, _ interrupt: InterruptState, spec: InputSpec) -> String {
        if interrupt.timedOut { return "no data within \(interrupt.idleTimeout ?? 0) s" }
        if spec.location != "-", let attributes = try? FileManager.default.attributesOfItem(atPath: spec.location),
           let size = attributes[.size] as? Int {
            if size == 0 { return "empty file (0 bytes)" }
            // An MP4/MOV whose first box is 'ftyp' but that libavformat cannot open lacks its index.
            if code == AVCode.invalidData, let h = FileHandle(forReadingAtPath: spec.location) {
                let head = (try? h.read(upToCount: 8)) ?? Data()
                try? h.close()
                if head.count == 8, String(decoding: head[4..<8], as: UTF8.self) == "ftyp" {
                    return "MP4/MOV without its index (no moov atom): the file is truncated or was never finalised"
                }
            }
        }
        if code == AVCode.eof { return "the file ends before any frame (no video data)" }
        if code == AVCode.invalidData { return "not a video file libavformat can read (\(FFmpegError.text(code)))" }
        return FFmpegError.text(code)
    }

    var streamCount: Int { Int(context.pointee.nb_streams) }
    var containerName: String { context.pointee.iformat.map { String(cString: $0.pointee.name) } ?? "" }

    /// Inputs libavformat opens as "video" that are not: still images and text rendered as
    /// pictures (libavformat's tty/bintext demuxers take .txt, .bin, .nfo… files).
    static func notVideo(container: String, codec: AVCodecID, location: String) -> String? {
        let textArt: Set<AVCodecID> = [AV_CODEC_ID_ANSI, AV_CODEC_ID_BINTEXT, AV_CODEC_ID_XBIN, AV_CODEC_ID_IDF]
        if textArt.contains(codec) || ["tty", "bin", "xbin", "adf", "idf"].contains(container) {
            return "not a video (libavformat reads it as text art, \(container))"
        }
        // image2 with a %d pattern is an image sequence, which is a video.
        if (container == "image2" && !location.contains("%")) || container.hasSuffix("_pipe") {
            return "a still image (\(container)), not a video"
        }
        return nil
    }
    func stream(_ index: Int) -> UnsafeMutablePointer<AVStream> { context.pointee.streams[index]! }

    /// The stream FFmpeg considers best among video streams, or the one asked for.
    func videoStreamIndex(requested: Int?) throws -> Int {
        if let requested {
            guard requested >= 0, requested < streamCount else {
                throw FFmpegError(.noVideoStream, message: "\(spec.displayName): no stream \(requested) (the file has \(streamCount))")
            }
            guard stream(requested).pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_VIDEO else {
                throw FFmpegError(.noVideoStream, message: "\(spec.displayName): stream \(requested) is not a video stream")
            }
            return requested
        }
        let best = av_find_best_stream(context, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
        guard best >= 0 else {
            throw FFmpegError(.noVideoStream, code: best, message: "\(spec.displayName): no video stream")
        }
        if let why = Self.notVideo(container: containerName, codec: stream(Int(best)).pointee.codecpar.pointee.codec_id, location: spec.location) {
            throw FFmpegError(.noVideoStream, message: "\(spec.displayName): \(why)")
        }
        return Int(best)
    }
}
