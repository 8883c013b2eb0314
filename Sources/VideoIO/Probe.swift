import CFFmpeg

/// What a file holds, as `vidformer probe` shows it.
public struct ProbeReport: Sendable, Codable, Equatable {
    public struct Stream: Sendable, Codable, Equatable {
        public var info: VideoStreamInfo
        /// Frame durations differ within the first packets (variable frame rate).
        public var variableFrameRate: Bool
        public var isDefault: Bool
    }
    public var input: String
    public var container: String
    public var containerLongName: String
    public var duration: Double?
    public var bitRate: Int?
    public var streams: [Stream]
    /// The stream `classify` would read.
    public var selectedStream: Int

    /// Frames a `fps` grid would sample over the duration (at most one per decoded frame).
    public func expectedSamples(fps: Double?) -> Int? {
        guard let stream = streams.first(where: { $0.info.index == selectedStream }) else { return nil }
        guard let duration = stream.info.duration ?? duration else { return stream.info.frameCount }
        let frames = stream.info.frameCount ?? Int((duration * max(stream.info.averageFrameRate, 0)).rounded())
        guard let fps else { return frames }
        let grid = Int((duration * fps).rounded(.up))
        return frames > 0 ? min(frames, grid) : grid
    }
}

public enum Probe {
    /// Opens the input, describes every video stream, and checks timing regularity by reading
    /// up to `scanPackets` packets of each.
    public static func run(_ spec: InputSpec, stream requested: Int? = nil, scanPackets: Int = 600) throws -> ProbeReport {
        let input = try MediaInput(spec)
        let selected = try input.videoStreamIndex(requested: requested)
        var videoIndexes: [Int] = []
        for i in 0..<input.streamCount where input.stream(i).pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_VIDEO {
            videoIndexes.append(i)
        }
        var timestamps: [Int: [Int64]] = [:]
        let packet = PacketBox()
        var read = 0
        while read < scanPackets * max(1, videoIndexes.count) {
            let code = av_read_frame(input.context, packet.packet)
            if code == AVCode.again { continue }
            if code < 0 { break }
            let index = Int(packet.packet.pointee.stream_index)
            if videoIndexes.contains(index), packet.packet.pointee.pts != AVCode.noPTS {
                timestamps[index, default: []].append(packet.packet.pointee.pts)
                read += 1
            }
            av_packet_unref(packet.packet)
        }
        let format = input.context.pointee.iformat.pointee
        let container = String(cString: format.name)
        let longName = format.long_name.map { String(cString: $0) } ?? container
        let streams = videoIndexes.map { i -> ProbeReport.Stream in
            let st = input.stream(i)
            return ProbeReport.Stream(info: FrameSource.describe(stream: st, index: i, input: input),
                                      variableFrameRate: isVariable(timestamps[i] ?? []),
                                      isDefault: i == selected)
        }
        let duration = input.context.pointee.duration > 0 ? Double(input.context.pointee.duration) / Double(AV_TIME_BASE) : nil
        let bitRate = input.context.pointee.bit_rate > 0 ? Int(input.context.pointee.bit_rate) : nil
        return ProbeReport(input: spec.displayName, container: container, containerLongName: longName,
                           duration: duration, bitRate: bitRate, streams: streams, selectedStream: selected)
    }

    /// True when frame durations (sorted PTS deltas) differ by more than 1% and one tick.
    static func isVariable(_ pts: [Int64]) -> Bool {
        let sorted = pts.sorted()
        var deltas: [Int64] = []
        for i in 1..<max(1, sorted.count) where sorted[i] > sorted[i - 1] { deltas.append(sorted[i] - sorted[i - 1]) }
        guard let lo = deltas.min(), let hi = deltas.max() else { return false }
        return Double(hi - lo) > max(1, Double(lo) * 0.01)
    }
}
