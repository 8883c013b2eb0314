import Foundation

/// A labelled span read from a sidecar file.
public struct LabelledSpan: Equatable, Sendable {
    public var start: Double
    public var end: Double
    public var label: String
}

/// Reads sidecar labels: `X.json` in the output's shape (only `segments` is read) or `X.csv`
/// with `start,end,label` (more columns are ignored). Errors name the file and the line
/// (CSV) or the segment's index (JSON).
public enum LabelFile {
    public struct ParseError: Error, CustomStringConvertible {
        public let description: String
    }

    /// The sidecar of a video, if one exists: same name, `.json` preferred over `.csv`.
    public static func sidecar(for video: String) -> String? {
        let base = (video as NSString).deletingPathExtension
        for ext in ["json", "csv"] where FileManager.default.fileExists(atPath: "\(base).\(ext)") { return "\(base).\(ext)" }
        return nil
    }

    public static func read(_ path: String, knownLabels: [String]? = nil) throws -> [LabelledSpan] {
        guard let data = readWholeFile(path) else {
            throw ParseError(description: "\(path): cannot read the label file")
        }
        return try parse(data, path: path, knownLabels: knownLabels)
    }

    /// Parses and validates label-file bytes; `path`'s extension picks CSV or JSON and names errors.
    public static func parse(_ data: Data, path: String, knownLabels: [String]? = nil) throws -> [LabelledSpan] {
        if path.lowercased().hasSuffix(".csv") {
            var lines: [Int] = []
            let spans = try parseCSV(data, path: path, lines: &lines)
            try validate(spans, path: path, knownLabels: knownLabels, lines: lines)
            return spans
        }
        let spans = try parseJSON(data, path: path)
        try validate(spans, path: path, knownLabels: knownLabels, lines: nil)
        return spans
    }

    static func parseJSON(_ data: Data, path: String) throws -> [LabelledSpan] {
        guard let doc = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ParseError(description: "\(path): not a JSON object")
        }
        guard let segments = doc["segments"] as? [[String: Any]] else {
            throw ParseError(description: "\(path): no \"segments\" array")
        }
        return try segments.enumerated().map { i, s in
            guard let start = (s["start"] as? NSNumber)?.doubleValue, let end = (s["end"] as? NSNumber)?.doubleValue,
                  let label = s["label"] as? String else {
                throw ParseError(description: "\(path): segment \(i + 1) needs numeric start, end and a label")
            }
            return LabelledSpan(start: start, end: end, label: label)
        }
    }

    /// `lines` receives each span's line number in the file (1-based) for error messages.
    static func parseCSV(_ data: Data, path: String, lines: inout [Int]) throws -> [LabelledSpan] {
        guard let text = String(data: data, encoding: .utf8) else { throw ParseError(description: "\(path): not UTF-8 text") }
        var spans: [LabelledSpan] = []
        var columns: (start: Int, end: Int, label: Int)?
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if columns == nil {
                guard let s = fields.firstIndex(of: "start"), let e = fields.firstIndex(of: "end"), let l = fields.firstIndex(of: "label") else {
                    throw ParseError(description: "\(path):\(n + 1): the header must name start, end and label")
                }
                columns = (s, e, l)
                continue
            }
            let c = columns!
            guard fields.count > max(c.start, c.end, c.label), let start = Double(fields[c.start]), let end = Double(fields[c.end]) else {
                throw ParseError(description: "\(path):\(n + 1): expected start,end,label with numeric times")
            }
            spans.append(LabelledSpan(start: start, end: end, label: fields[c.label].trimmingCharacters(in: CharacterSet(charactersIn: "\""))))
            lines.append(n + 1)
        }
        if columns == nil { throw ParseError(description: "\(path): empty label file") }
        return spans
    }

    static func validate(_ spans: [LabelledSpan], path: String, knownLabels: [String]?, lines: [Int]?) throws {
        func where_(_ i: Int) -> String { lines.map { "\(path):\($0[i])" } ?? "\(path): segment \(i + 1)" }
        let order = spans.indices.sorted { spans[$0].start < spans[$1].start }
        for (k, i) in order.enumerated() {
            let s = spans[i]
            guard s.start.isFinite, s.end.isFinite, s.start >= 0 else { throw ParseError(description: "\(where_(i)): negative or invalid start \(s.start)") }
            guard s.end > s.start else { throw ParseError(description: "\(where_(i)): end \(s.end) is not after start \(s.start)") }
            guard !s.label.isEmpty else { throw ParseError(description: "\(where_(i)): empty label") }
            if let known = knownLabels, !known.contains(s.label) {
                throw ParseError(description: "\(where_(i)): unknown label '\(s.label)' (the model knows \(known.joined(separator: ", ")))")
            }
            if k > 0 {
                let previous = spans[order[k - 1]]
                if s.start < previous.end - 1e-6 {
                    throw ParseError(description: "\(where_(i)): overlaps the segment ending at \(previous.end)")
                }
            }
        }
    }

    /// The label index of each time (`-1` where no span covers it).
    public static func frameLabels(times: [Double], spans: [LabelledSpan], labels: [String]) -> [Int] {
        let sorted = spans.sorted { $0.start < $1.start }
        let index = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
        var out = [Int](repeating: -1, count: times.count)
        var j = 0
        for (i, t) in times.enumerated() {
            while j < sorted.count && sorted[j].end <= t { j += 1 }
            if j < sorted.count && sorted[j].start <= t && t < sorted[j].end { out[i] = index[sorted[j].label] ?? -1 }
        }
        return out
    }
}
