import Foundation
import VideoIO

/// `vidformer eval`: classifies each labelled video exactly as `classify` does (smoothing
/// included) and scores the label at every sampled frame against the sidecar's.
public enum Evaluator {
    public static func run(model: VideoModel, data: [(video: String, labels: String)], options: ClassifyOptions,
                           progress: (Int, String) -> Void = { _, _ in }) throws -> Metrics {
        var metrics = Metrics(labels: model.config.labels)
        var o = options
        o.keepFrames = true
        for (i, item) in data.enumerated() {
            progress(i, item.video)
            let spans = try LabelFile.read(item.labels, knownLabels: model.config.labels)
            let result: ClassifyResult
            do { result = try VideoClassifier(model: model, options: o).run(InputSpec(item.video)) }
            catch let e as FFmpegError { throw ClassifyError(e.message) }
            let times = result.frames?.map(\.time) ?? []
            let truth = LabelFile.frameLabels(times: times, spans: spans, labels: model.config.labels)
            let predicted = predictions(times: times, segments: result.segments, labels: model.config.labels)
            metrics.add(truth: truth, prediction: predicted)
        }
        return metrics
    }

    /// Scores label files made by something else (a baseline, another tool, a person) against
    /// the sidecars, at the frames this model's settings sample: `predictions/X.json` or
    /// `predictions/X.csv` for each labelled `X.mp4`. A missing prediction file is an error.
    public static func scoreFiles(labels: [String], frames: FrameSettings, data: [(video: String, labels: String)],
                                  predictions directory: String, cacheDirectory: String? = nil,
                                  progress: (Int, String) -> Void = { _, _ in }) throws -> Metrics {
        var metrics = Metrics(labels: labels)
        for (i, item) in data.enumerated() {
            progress(i, item.video)
            let stem = ((item.video as NSString).lastPathComponent as NSString).deletingPathExtension
            let candidates = ["json", "csv"].map { (directory as NSString).appendingPathComponent("\(stem).\($0)") }
            guard let file = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
                throw ClassifyError("\(item.video): no prediction file (\(candidates.joined(separator: " or ")))")
            }
            let truthSpans = try LabelFile.read(item.labels, knownLabels: labels)
            let predicted = try LabelFile.read(file, knownLabels: labels)
            let (times, _) = try TrainingData.decodeCached(item.video, frames: frames, cacheDirectory: cacheDirectory)
            let truth = LabelFile.frameLabels(times: times, spans: truthSpans, labels: labels)
            var guess = LabelFile.frameLabels(times: times, spans: predicted, labels: labels)
            // Frames the predictions do not cover count as the first label (the "nothing found" label).
            for j in guess.indices where guess[j] < 0 { guess[j] = 0 }
            metrics.add(truth: truth, prediction: guess)
        }
        return metrics
    }

    /// The segment label at each time.
    public static func predictions(times: [Double], segments: [Segment], labels: [String]) -> [Int] {
        let spans = segments.map { LabelledSpan(start: $0.start, end: $0.end, label: $0.label) }
        var out = LabelFile.frameLabels(times: times, spans: spans, labels: labels)
        // The last frame may sit exactly on the end of the last segment.
        if let last = segments.last, let index = labels.firstIndex(of: last.label) {
            for i in out.indices where out[i] < 0 && times[i] >= last.start { out[i] = index }
        }
        return out
    }
}
