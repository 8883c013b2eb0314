import Foundation
import VideoIO

/// `vidformer probe`: describes an input and what sampling would take from it.
public struct ProbeCommand {
    public var spec: InputSpec
    public var stream: Int?
    public var fps: Double?
    public var tokenizer: PatchTokenizer

    public init(spec: InputSpec, stream: Int?, fps: Double?, tokenizer: PatchTokenizer) {
        self.spec = spec
        self.stream = stream
        self.fps = fps
        self.tokenizer = tokenizer
    }

    public func run() throws -> ProbeReport { try Probe.run(spec, stream: stream) }

    /// The report as a JSON document for scripts.
    public func json(_ report: ProbeReport) throws -> String {
        var streams: [[String: Any]] = []
        for s in report.streams {
            let i = s.info
            var d: [String: Any] = [
                "index": i.index, "codec": i.codec, "width": i.width, "height": i.height,
                "pixel_format": i.pixelFormat, "frame_rate": i.averageFrameRate,
                "base_frame_rate": i.baseFrameRate, "rotation": i.rotation.rawValue,
                "variable_frame_rate": s.variableFrameRate, "selected": s.isDefault,
                "start_time": i.startTime,
            ]
            d["duration"] = i.duration ?? NSNull()
            d["frames"] = i.frameCount ?? NSNull()
            streams.append(d)
        }
        let samples = report.expectedSamples(fps: fps)
        let sampling: [String: Any] = [
            "fps": fps ?? NSNull(),
            "frames": samples ?? NSNull(),
            "frame_size": [tokenizer.frameWidth, tokenizer.frameHeight],
            "patch": tokenizer.patch,
            "tokens_per_frame": tokenizer.tokensPerFrame,
            "tokens": samples.map { $0 * tokenizer.tokensPerFrame } ?? NSNull(),
        ]
        let doc: [String: Any] = [
            "input": report.input,
            "container": report.container,
            "container_long_name": report.containerLongName,
            "duration": report.duration ?? NSNull(),
            "bit_rate": report.bitRate ?? NSNull(),
            "streams": streams,
            "sampling": sampling,
        ]
        let data = try JSONSerialization.data(withJSONObject: doc, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// The report as aligned text for people.
    public func text(_ report: ProbeReport) -> String {
        var out = "Input:      \(report.input)\n"
        out += "Container:  \(report.container) (\(report.containerLongName))\n"
        out += "Duration:   \(report.duration.map { Format.clock($0) } ?? "unknown")"
        if let br = report.bitRate { out += ", \(br / 1000) kb/s" }
        out += "\n"
        for s in report.streams {
            let i = s.info
            out += "Stream #\(i.index)\(s.isDefault ? " (selected)" : ""): \(i.codec), \(i.width)x\(i.height), \(i.pixelFormat), "
            out += i.averageFrameRate > 0 ? String(format: "%.3f fps", i.averageFrameRate) : "unknown fps"
            out += s.variableFrameRate ? " (variable)" : " (constant)"
            if i.rotation != .none { out += ", rotated \(i.rotation.rawValue)°" }
            if let n = i.frameCount { out += ", \(n) frames" }
            out += "\n"
        }
        let samples = report.expectedSamples(fps: fps)
        out += "Sampling:   " + (fps.map { String(format: "%g fps", $0) } ?? "every frame")
        out += " -> \(samples.map(String.init) ?? "?") frames of \(tokenizer.frameWidth)x\(tokenizer.frameHeight), "
        out += "\(tokenizer.tokensPerFrame) tokens each"
        if let samples { out += " (\(samples * tokenizer.tokensPerFrame) tokens)" }
        out += "\n"
        return out
    }
}

enum Format {
    /// `h:mm:ss.ss` for people.
    static func clock(_ seconds: Double) -> String {
        let s = max(0, seconds)
        let h = Int(s / 3600), m = Int(s.truncatingRemainder(dividingBy: 3600) / 60)
        let rest = s - Double(h * 3600 + m * 60)
        return String(format: "%d:%02d:%05.2f", h, m, rest)
    }
}
