import CFFmpeg

/// How frames are chosen and what they become.
public struct FrameSourceOptions: Sendable, Equatable {
    /// Output frame size in pixels (the model's input).
    public var width = 64, height = 64
    public var aspect: AspectPolicy = .stretch
    /// How pixels are resampled to the small frame.
    public var scaling: ScalingFilter = .bilinear
    /// Samples per second on a grid from `start`; nil keeps every decoded frame.
    public var fps: Double?
    /// Decode key frames only (`AVDISCARD_NONKEY`).
    public var keyframesOnly = false
    /// Let the decoder drop non-reference frames when sampling at a third of the frame rate or less.
    public var skipNonReference = true
    /// Seconds from the start of the stream (PTS-based); `start` seeks, `end` stops reading.
    public var start: Double = 0
    public var end: Double?
    /// A stream index; nil picks FFmpeg's best video stream.
    public var stream: Int?
    /// Decoder threads; 0 lets FFmpeg choose.
    public var threads = 0
    /// Per-patch statistics of a sharper grey picture to measure on every sampled frame
    /// (`SampledFrame.detail`); its frame size must be `width` x `height`.
    public var detail: DetailMeter?
    /// Measure each sampled frame's share of black-level pixels (`SampledFrame.darkShare`): on
    /// the detail canvas when it covers the whole frame, otherwise on a grey picture of its own.
    public var darkShare = false

    public init() {}
}

/// What the chosen video stream is.
public struct VideoStreamInfo: Sendable, Codable, Equatable {
    public var index: Int
    public var codec: String
    public var width: Int, height: Int
    public var pixelFormat: String
    /// Average and base frame rates (0 when unknown).
    public var averageFrameRate: Double, baseFrameRate: Double
    public var rotation: Rotation
    /// Seconds; nil when neither the stream nor the container knows.
    public var duration: Double?
    public var timeBase: Double
    /// PTS (in seconds) that counts as time zero.
    public var startTime: Double
    public var frameCount: Int?
}

/// Counters a run reports.
public struct DecodeStats: Sendable, Codable, Equatable {
    public var packetsRead = 0
    public var framesDecoded = 0
    public var framesSampled = 0
    /// Packets the decoder rejected plus frames it flagged corrupt.
    public var decodeErrors = 0
    /// Frames dropped because their time did not move forward.
    public var timestampsOutOfOrder = 0
    /// Set when reading stopped on an error rather than at the end of input.
    public var readError: String?
    public init() {}
}

/// One sampled frame: its presentation time and its picture at the model's size.
public struct SampledFrame: Sendable {
    /// Ordinal among sampled frames, from 0.
    public var index: Int
    /// Seconds from the stream's first presentation timestamp.
    public var time: Double
    public var pts: Int64
    public var isKeyFrame: Bool
    public var width: Int, height: Int
    /// `height` rows of `width` pixels, R G B bytes each.
    public var rgb: [UInt8]
    /// What `FrameSourceOptions.detail` measured (empty without it).
    public var detail: [UInt8]
    /// With `FrameSourceOptions.darkShare`: the share of the picture's pixels at or below the
    /// black level (`DetailMeter.darkShare(of:)`); nil when not measured.
    public var darkShare: Double?

    public init(index: Int, time: Double, pts: Int64, isKeyFrame: Bool, width: Int, height: Int, rgb: [UInt8], detail: [UInt8] = [], darkShare: Double? = nil) {
        self.index = index
        self.time = time
        self.pts = pts
        self.isKeyFrame = isKeyFrame
        self.width = width
        self.height = height
        self.rgb = rgb
        self.detail = detail
        self.darkShare = darkShare
    }
}

/// Decodes one video stream and yields sampled frames, holding O(1) decoded frames at a time.
public final class FrameSource {
    public let info: VideoStreamInfo
    public let options: FrameSourceOptions
    public private(set) var stats = DecodeStats()
    public let name: String

    private let input: MediaInput
    private let decoder: VideoDecoder
    private let scaler: FrameScaler
    private let detailScaler: FrameScaler?
    /// A grey picture for `darkShare` when the detail canvas cannot serve (none, or letterboxed).
    private let darkScaler: FrameScaler?
    /// Side of that picture: 65,536 point samples of the frame.
    static let darkCanvasSide = 256
    /// The grey canvas of the last sampled frame (detail statistics only).
    private var previousCanvas: [UInt8]?
    private let packet = PacketBox()
    private let decoded = FrameBox()
    private let held = FrameBox()
    private var heldTime = 0.0
    private var heldKey = false
    private var sampler: NearestFrameSampler
    private var origin: Int64
    private var lastTime: Double?
    private var flushing = false
    private var finished = false
    private var pending: SampledFrame?
    private var consecutiveFailures = 0

    public init(_ spec: InputSpec, options: FrameSourceOptions = FrameSourceOptions()) throws {
        precondition(options.width > 0 && options.height > 0)
        name = spec.displayName
        self.options = options
        input = try MediaInput(spec)
        let index = try input.videoStreamIndex(requested: options.stream)
        let stream = input.stream(index)
        for i in 0..<input.streamCount where i != index { input.stream(i).pointee.discard = AVDISCARD_ALL }
        info = Self.describe(stream: stream, index: index, input: input)

        let skipping: FrameSkipping
        if options.keyframesOnly {
            skipping = .nonKey
        } else if options.skipNonReference, let fps = options.fps, info.averageFrameRate > 0, fps * 3 <= info.averageFrameRate {
            skipping = .nonReference
        } else {
            skipping = .none
        }
        decoder = try VideoDecoder(stream: stream, threads: options.threads, skipping: skipping, name: name)
        scaler = FrameScaler(outWidth: options.width, outHeight: options.height, rotation: info.rotation, aspect: options.aspect,
                             filter: options.scaling)
        if let meter = options.detail {
            precondition(meter.frameWidth == options.width && meter.frameHeight == options.height, "detail meter is for another frame size")
            detailScaler = FrameScaler(greyWidth: meter.canvasWidth, height: meter.canvasHeight, rotation: info.rotation, aspect: options.aspect)
        } else {
            detailScaler = nil
        }
        // Letterbox padding is black: measure on a picture that is all picture.
        darkScaler = options.darkShare && !(detailScaler != nil && options.aspect == .stretch)
            ? FrameScaler(greyWidth: Self.darkCanvasSide, height: Self.darkCanvasSide, rotation: .none, aspect: .stretch) : nil
        sampler = NearestFrameSampler(fps: options.fps, start: options.start)
        let startPTS = stream.pointee.start_time
        origin = startPTS == AVCode.noPTS ? 0 : startPTS
        if options.start > 0 { seek(to: options.start, stream: stream) }
    }

    /// Stops a blocking read from another thread (SIGINT); `next()` then ends the stream.
    public func cancel() { input.interrupt.cancel() }

    /// The next sampled frame, or nil at the end of the stream (or of `--end`).
    public func next() throws -> SampledFrame? {
        while pending == nil && !finished { try step() }
        defer { pending = nil }
        return pending
    }

    // MARK: - Decoding loop

    private func step() throws {
        if StopSignal.isRequested && !flushing {
            stats.readError = stats.readError ?? "interrupted"
            flushing = true
            _ = decoder.send(nil)
        }
        let code = decoder.receive(into: decoded.frame)
        if code >= 0 {
            consecutiveFailures = 0
            try accept(decoded.frame)
            return
        }
        if code == AVCode.eof { try finish(); return }
        if code != AVCode.again {
            stats.decodeErrors += 1
            consecutiveFailures += 1
            if consecutiveFailures > 10_000 {
                throw FFmpegError(.decoder, code: code, message: "\(name): decoder keeps failing: \(FFmpegError.text(code))")
            }
            return
        }
        if flushing { try finish(); return }
        feed()
    }

    /// Reads packets until one of ours reaches the decoder, or input ends (then flushes).
    private func feed() {
        while true {
            let code = av_read_frame(input.context, packet.packet)
            if code == AVCode.again { continue }
            if code < 0 {
                if code != AVCode.eof {
                    stats.readError = StopSignal.isRequested ? "interrupted" : input.interrupt.timedOut
                        ? "no data for \(input.spec.idleTimeout ?? 0) s"
                        : FFmpegError.text(code)
                }
                flushing = true
                _ = decoder.send(nil)
                return
            }
            input.interrupt.touch()
            defer { av_packet_unref(packet.packet) }
            guard Int(packet.packet.pointee.stream_index) == info.index else { continue }
            stats.packetsRead += 1
            let sent = decoder.send(packet.packet)
            if sent < 0 && sent != AVCode.again && sent != AVCode.eof {
                stats.decodeErrors += 1
                continue
            }
            return
        }
    }

    private func accept(_ frame: UnsafeMutablePointer<AVFrame>) throws {
        defer { av_frame_unref(frame) }
        stats.framesDecoded += 1
        if frame.pointee.decode_error_flags != 0 || (frame.pointee.flags & AV_FRAME_FLAG_CORRUPT) != 0 {
            stats.decodeErrors += 1
        }
        var ts = frame.pointee.best_effort_timestamp
        if ts == AVCode.noPTS { ts = frame.pointee.pts }
        let time: Double
        if ts == AVCode.noPTS {
            let rate = info.averageFrameRate > 0 ? info.averageFrameRate : 25
            time = (lastTime ?? -1 / rate) + 1 / rate
        } else {
            time = Double(ts - origin) * info.timeBase
        }
        if let lastTime, time <= lastTime {
            stats.timestampsOutOfOrder += 1
            return
        }
        if time < options.start - 1e-9 { return }
        if let end = options.end, time >= end {
            try finish()
            return
        }
        lastTime = time
        if sampler.offer(time) { try emitHeld() }
        av_frame_unref(held.frame)
        av_frame_move_ref(held.frame, frame)
        heldTime = time
        heldKey = vf_frame_is_key(held.frame) != 0
    }

    private func finish() throws {
        guard !finished else { return }
        finished = true
        let nominal = info.averageFrameRate > 0 ? 1 / info.averageFrameRate : nil
        // Nothing decoded, nothing held: there is no last frame to emit.
        if lastTime != nil, sampler.finish(nominalFrameDuration: nominal) { try emitHeld() }
        av_frame_unref(held.frame)
    }

    private func emitHeld() throws {
        let rgb = try scaler.convert(held.frame, name: name)
        var detail: [UInt8] = []
        var dark: Double?
        if let detailScaler, let meter = options.detail {
            let canvas = try detailScaler.convert(held.frame, name: name)
            detail = meter.measure(canvas, previous: previousCanvas)
            if options.darkShare && darkScaler == nil { dark = DetailMeter.darkShare(of: canvas) }
            previousCanvas = canvas
        }
        if let darkScaler { dark = DetailMeter.darkShare(of: try darkScaler.convert(held.frame, name: name)) }
        pending = SampledFrame(index: stats.framesSampled, time: heldTime, pts: held.frame.pointee.best_effort_timestamp,
                               isKeyFrame: heldKey, width: options.width, height: options.height, rgb: rgb, detail: detail,
                               darkShare: dark)
        stats.framesSampled += 1
    }

    private func seek(to seconds: Double, stream: UnsafeMutablePointer<AVStream>) {
        let target = origin + Int64((seconds / info.timeBase).rounded(.down))
        // Land on the key frame at or before the target; frames before `start` are then dropped.
        // A stream that cannot seek (a pipe) is simply read from the beginning.
        if avformat_seek_file(input.context, Int32(info.index), Int64.min, target, target, 0) < 0 {
            _ = av_seek_frame(input.context, Int32(info.index), target, AVSEEK_FLAG_BACKWARD)
        }
    }

    // MARK: - Description

    static func describe(stream: UnsafeMutablePointer<AVStream>, index: Int, input: MediaInput) -> VideoStreamInfo {
        let par = stream.pointee.codecpar.pointee
        let tb = av_q2d(stream.pointee.time_base)
        var duration: Double?
        if stream.pointee.duration > 0 && stream.pointee.duration != AVCode.noPTS {
            duration = Double(stream.pointee.duration) * tb
        } else if input.context.pointee.duration > 0 {
            duration = Double(input.context.pointee.duration) / Double(AV_TIME_BASE)
        }
        func rate(_ q: AVRational) -> Double { q.den > 0 && q.num > 0 ? av_q2d(q) : 0 }
        let format = AVPixelFormat(rawValue: par.format)
        return VideoStreamInfo(
            index: index,
            codec: String(cString: avcodec_get_name(par.codec_id)),
            width: Int(par.width), height: Int(par.height),
            pixelFormat: av_get_pix_fmt_name(format).map { String(cString: $0) } ?? "unknown",
            averageFrameRate: rate(stream.pointee.avg_frame_rate),
            baseFrameRate: rate(stream.pointee.r_frame_rate),
            rotation: Rotation(displayMatrixDegrees: vf_stream_rotation(stream)),
            duration: duration,
            timeBase: tb,
            startTime: stream.pointee.start_time == AVCode.noPTS ? 0 : Double(stream.pointee.start_time) * tb,
            frameCount: stream.pointee.nb_frames > 0 ? Int(stream.pointee.nb_frames) : nil)
    }
}
