/// A stretch of the video with one label.
public struct Segment: Codable, Sendable, Equatable {
    public var start: Double
    public var end: Double
    public var label: String
    /// Mean probability of `label` over the segment's frames.
    public var score: Double
}

/// One sampled frame's label probabilities.
public struct FrameLabel: Sendable {
    public var time: Double
    public var probabilities: [Float]
    public var best: Int {
        var b = 0
        for i in probabilities.indices where probabilities[i] > probabilities[b] { b = i }
        return b
    }
}

/// Turns per-frame labels into smoothed segments, incrementally.
///
/// Smoothing: a run of frames with one label that lasts less than that label's minimum
/// duration is merged into a neighbour — the one whose label the run's frames found more
/// probable — so no one-frame flicker survives. A segment is final (and returned) once the two
/// runs after it exist: merges can then only extend later runs. Segments tile the time line:
/// each ends where the next begins, the first starts at the analysis start, the last ends at
/// the end time given to `finish`.
public final class SegmentBuilder {
    struct Run {
        var label: Int
        var start: Double
        var lastTime: Double
        var count: Int
        var sums: [Double]
        var duration: Double { lastTime - start }
    }

    public let labels: [String]
    let minimum: [Double]
    let frameInterval: Double
    private var runs: [Run] = []
    private var origin: Double?
    /// Every segment returned so far (not kept when `keepSegments` is off: endless streams).
    public private(set) var emitted: [Segment] = []
    public var keepSegments = true
    /// Seconds per label over everything emitted.
    public private(set) var seconds: [String: Double] = [:]

    /// - Parameters: `minimumSeconds` per label name (missing: `defaultMinimum`); `frameInterval`
    ///   is the sampling interval (a run's duration counts its last frame's interval too).
    public init(labels: [String], minimumSeconds: [String: Double], defaultMinimum: Double, frameInterval: Double, start: Double? = nil) {
        self.labels = labels
        minimum = labels.map { minimumSeconds[$0] ?? defaultMinimum }
        self.frameInterval = frameInterval
        origin = start
    }

    /// Adds frames in time order; returns the segments that became final.
    public func add(_ frames: [FrameLabel]) -> [Segment] {
        for f in frames {
            if origin == nil { origin = f.time }
            let b = f.best
            if var last = runs.last, last.label == b {
                last.lastTime = f.time
                last.count += 1
                for i in last.sums.indices { last.sums[i] += Double(f.probabilities[i]) }
                runs[runs.count - 1] = last
            } else {
                runs.append(Run(label: b, start: runs.isEmpty ? (origin ?? f.time) : f.time, lastTime: f.time, count: 1,
                                sums: f.probabilities.map(Double.init)))
            }
        }
        smooth(final: false)
        guard runs.count > 2 else { return [] }
        let ready = runs.count - 2
        var out: [Segment] = []
        for i in 0..<ready { out.append(segment(runs[i], end: runs[i + 1].start)) }
        runs.removeFirst(ready)
        record(out)
        return out
    }

    /// Closes the time line at `end` and returns the remaining segments.
    public func finish(end: Double) -> [Segment] {
        smooth(final: true)
        var out: [Segment] = []
        for (i, r) in runs.enumerated() {
            let e = i + 1 < runs.count ? runs[i + 1].start : max(end, r.start)
            out.append(segment(r, end: e))
        }
        runs.removeAll()
        record(out)
        return out
    }

    private func record(_ segments: [Segment]) {
        for s in segments { seconds[s.label, default: 0] += s.end - s.start }
        if keepSegments { emitted.append(contentsOf: segments) }
    }

    private func segment(_ r: Run, end: Double) -> Segment {
        Segment(start: r.start, end: end, label: labels[r.label], score: r.sums[r.label] / Double(max(r.count, 1)))
    }

    /// Merges short runs until none is left (the tail run is allowed to be short unless `final`).
    private func smooth(final: Bool) {
        while true {
            let limit = final ? runs.count : runs.count - 1
            var shortest: Int?
            for i in 0..<max(0, limit) where runs.count > 1 {
                let r = runs[i]
                if r.duration + frameInterval < minimum[r.label] - 1e-9,
                   shortest == nil || r.duration < runs[shortest!].duration { shortest = i }
            }
            guard let i = shortest else { return }
            let short = runs[i]
            let target: Int
            if i == 0 { target = 1 } else if i == runs.count - 1 { target = i - 1 } else {
                target = short.sums[runs[i - 1].label] >= short.sums[runs[i + 1].label] ? i - 1 : i + 1
            }
            var merged = runs[target]
            merged.start = min(merged.start, short.start)
            merged.lastTime = max(merged.lastTime, short.lastTime)
            merged.count += short.count
            for k in merged.sums.indices { merged.sums[k] += short.sums[k] }
            runs[target] = merged
            runs.remove(at: i)
            // Neighbours that now share a label become one run.
            var j = 1
            while j < runs.count {
                if runs[j].label == runs[j - 1].label {
                    runs[j - 1].lastTime = runs[j].lastTime
                    runs[j - 1].count += runs[j].count
                    for k in runs[j - 1].sums.indices { runs[j - 1].sums[k] += runs[j].sums[k] }
                    runs.remove(at: j)
                } else { j += 1 }
            }
        }
    }
}
