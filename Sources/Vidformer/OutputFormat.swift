import Foundation

/// The output formats of `classify` and `annotate`.
public enum OutputFormat: String, CaseIterable, Sendable {
    case table, json, jsonl, csv, vtt, srt

    /// From a file name's extension (`-o out.vtt`), when it names one.
    public init?(path: String) {
        let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
        switch ext {
        case "json": self = .json
        case "jsonl", "ndjson": self = .jsonl
        case "csv": self = .csv
        case "vtt": self = .vtt
        case "srt": self = .srt
        case "txt": self = .table
        default: return nil
        }
    }
}

/// Renders a `ClassifyResult` in each format.
public enum ResultWriter {
    public static func render(_ r: ClassifyResult, as format: OutputFormat) -> String {
        switch format {
        case .json: return document(r).rendered(pretty: true) + "\n"
        case .jsonl: return r.segments.map { segmentLine($0) + "\n" }.joined() + summaryLine(r) + "\n"
        case .csv: return csv(r.segments)
        case .vtt: return vtt(r.segments)
        case .srt: return srt(r.segments)
        case .table: return table(r)
        }
    }

    public static func segmentValue(_ s: Segment) -> JSONValue {
        .object([("start", .time(s.start)), ("end", .time(s.end)), ("label", .string(s.label)),
                 ("score", .number((s.score * 1e4).rounded() / 1e4))])
    }

    /// One JSON Lines record for a final segment.
    public static func segmentLine(_ s: Segment) -> String {
        var pairs: [(String, JSONValue)] = [("type", .string("segment"))]
        if case .object(let rest) = segmentValue(s) { pairs += rest }
        return JSONValue.object(pairs).rendered()
    }

    /// The closing JSON Lines record: everything of the JSON document except segments and frames.
    public static func summaryLine(_ r: ClassifyResult) -> String {
        guard case .object(let pairs) = document(r, includeSegments: false) else { return "{}" }
        return JSONValue.object([("type", .string("summary"))] + pairs).rendered()
    }

    public static func document(_ r: ClassifyResult, includeSegments: Bool = true) -> JSONValue {
        var seconds: [(String, JSONValue)] = []
        for label in r.labels where (r.seconds[label] ?? 0) > 0 { seconds.append((label, .time(r.seconds[label]!))) }
        var pairs: [(String, JSONValue)] = [
            ("input", .string(r.input)),
            ("duration", .time(r.duration)),
            ("sample_rate", .number(r.sampleRate)),
            ("model", .object([("name", .string(r.modelName)), ("labels", .array(r.labels.map { .string($0) }))])),
            ("video", .object([("label", .string(r.dominantLabel)), ("seconds", .object(seconds))])),
        ]
        if includeSegments {
            pairs.append(("segments", .array(r.segments.map(segmentValue))))
            if let frames = r.frames {
                pairs.append(("frames", .array(frames.map { f in
                    let best = f.best
                    var scores: [(String, JSONValue)] = []
                    for (i, label) in r.labels.enumerated() { scores.append((label, .number((Double(f.probabilities[i]) * 1e4).rounded() / 1e4))) }
                    return .object([("t", .time(f.time)), ("label", .string(r.labels[best])), ("scores", .object(scores))])
                })))
            }
        }
        var stats: [(String, JSONValue)] = [
            ("frames_decoded", .integer(r.stats.framesDecoded)),
            ("frames_sampled", .integer(r.stats.framesSampled)),
            ("decode_errors", .integer(r.stats.decodeErrors)),
        ]
        // Frames whose timestamps went backwards or repeated are dropped and counted.
        if r.stats.timestampsOutOfOrder > 0 { stats.append(("timestamps_out_of_order", .integer(r.stats.timestampsOutOfOrder))) }
        stats += [
            ("tokens", .integer(r.tokens)),
            ("seconds", .number((r.wallSeconds * 1000).rounded() / 1000)),
            ("peak_rss_mb", .integer(Int(r.peakRSSMegabytes.rounded()))),
        ]
        if let w = r.warning { stats.append(("warning", .string(w))) }
        pairs.append(("stats", .object(stats)))
        return .object(pairs)
    }

    public static func csv(_ segments: [Segment]) -> String {
        var out = "start,end,label,score\n"
        for s in segments {
            out += String(format: "%.3f,%.3f,", s.start, s.end) + csvField(s.label) + String(format: ",%.4f\n", s.score)
        }
        return out
    }

    static func csvField(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }

    /// `hh:mm:ss.mmm` (VTT) or `hh:mm:ss,mmm` (SRT).
    static func timestamp(_ t: Double, separator: Character) -> String {
        let ms = Int((max(0, t) * 1000).rounded())
        return String(format: "%02d:%02d:%02d%@%03d", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, String(separator), ms % 1000)
    }

    public static func vtt(_ segments: [Segment]) -> String {
        var out = "WEBVTT\n\n"
        for (i, s) in segments.enumerated() {
            out += "\(i + 1)\n\(timestamp(s.start, separator: ".")) --> \(timestamp(s.end, separator: "."))\n"
            out += "\(s.label) (\(String(format: "%.2f", s.score)))\n\n"
        }
        return out
    }

    public static func srt(_ segments: [Segment]) -> String {
        var out = ""
        for (i, s) in segments.enumerated() {
            out += "\(i + 1)\n\(timestamp(s.start, separator: ",")) --> \(timestamp(s.end, separator: ","))\n"
            out += "\(s.label) (\(String(format: "%.2f", s.score)))\n\n"
        }
        return out
    }

    public static func table(_ r: ClassifyResult) -> String {
        var out = "\(r.input): \(Format.clock(r.duration)) analysed at \(String(format: "%g", r.sampleRate)) fps with model '\(r.modelName)'\n\n"
        out += "  START         END           LABEL      SCORE\n"
        for s in r.segments {
            out += "  " + Format.clock(s.start).padding(toLength: 14, withPad: " ", startingAt: 0)
            out += Format.clock(s.end).padding(toLength: 14, withPad: " ", startingAt: 0)
            out += s.label.padding(toLength: 11, withPad: " ", startingAt: 0) + String(format: "%.2f", s.score) + "\n"
        }
        out += "\n  Whole video: \(r.dominantLabel)"
        let parts = r.labels.compactMap { l in r.seconds[l].flatMap { $0 > 0 ? "\(l) \(Format.clock($0))" : nil } }
        out += " (" + parts.joined(separator: ", ") + ")\n"
        out += String(format: "  %d frames decoded, %d sampled, %d decode errors, %.1f s, peak %.0f MB\n",
                      r.stats.framesDecoded, r.stats.framesSampled, r.stats.decodeErrors, r.wallSeconds, r.peakRSSMegabytes)
        if let w = r.warning { out += "  Warning: \(w)\n" }
        return out
    }
}
