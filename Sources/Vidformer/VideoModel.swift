import Foundation
import ReformerModel
import TensorCore
import VideoIO

/// How frames are taken from a video for a model: fixed when the model is trained.
public struct FrameSettings: Codable, Sendable, Equatable {
    public var width = 64
    public var height = 64
    public var patch = 16
    /// Samples per second.
    public var fps = 4.0
    public var aspect: AspectPolicy = .stretch
    /// How decoded pictures shrink to the frame (older configs: bilinear).
    public var scaling: ScalingFilter = .bilinear
    /// Tokens carry the change since the previous sampled frame too (older configs: no).
    public var motion = false
    /// Tokens carry `DetailMeter` statistics measured on a grey picture this many times
    /// sharper than the frame (0: none; older configs: none).
    public var detail = 0
    /// With `detail`: a fourth statistic, each patch's share of black-level pixels (older configs: no).
    public var detailDark = false
    /// With `detail`: the statistics' token values are multiplied by this (older configs: 1).
    public var detailGain: Float = 1
    /// Each frame also gets a summary token: the whole picture shrunk to one patch
    /// (`PatchTokenizer.summary`; older configs: no).
    public var summary = false
    /// Gains a config may hold (train's `--detail-gain` and `validate` check the same range).
    public static let detailGainLimit: Float = 64

    public init() {}
    public var tokenizer: PatchTokenizer {
        PatchTokenizer(patch: patch, frameWidth: width, frameHeight: height, motion: motion,
                       detail: detailMeter?.features ?? 0, detailGain: detailGain, summary: summary)
    }
    /// Bytes of one RGB frame.
    public var rgbBytes: Int { width * height * 3 }
    public var detailMeter: DetailMeter? {
        detail > 0 ? DetailMeter(patch: patch, scale: detail, frameWidth: width, frameHeight: height, dark: detailDark) : nil
    }

    enum CodingKeys: String, CodingKey { case width, height, patch, fps, aspect, scaling, motion, detail, detailDark, detailGain, summary }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        width = try c.decode(Int.self, forKey: .width)
        height = try c.decode(Int.self, forKey: .height)
        patch = try c.decode(Int.self, forKey: .patch)
        fps = try c.decode(Double.self, forKey: .fps)
        aspect = try c.decode(AspectPolicy.self, forKey: .aspect)
        scaling = try c.decodeIfPresent(ScalingFilter.self, forKey: .scaling) ?? .bilinear
        motion = try c.decodeIfPresent(Bool.self, forKey: .motion) ?? false
        detail = try c.decodeIfPresent(Int.self, forKey: .detail) ?? 0
        detailDark = try c.decodeIfPresent(Bool.self, forKey: .detailDark) ?? false
        detailGain = try c.decodeIfPresent(Float.self, forKey: .detailGain) ?? 1
        summary = try c.decodeIfPresent(Bool.self, forKey: .summary) ?? false
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(width, forKey: .width)
        try c.encode(height, forKey: .height)
        try c.encode(patch, forKey: .patch)
        try c.encode(fps, forKey: .fps)
        try c.encode(aspect, forKey: .aspect)
        try c.encode(scaling, forKey: .scaling)
        try c.encode(motion, forKey: .motion)
        if detail > 0 { try c.encode(detail, forKey: .detail) }
        if detailDark { try c.encode(detailDark, forKey: .detailDark) }
        if detailGain != 1 { try c.encode(detailGain, forKey: .detailGain) }
        if summary { try c.encode(summary, forKey: .summary) }
    }

    /// Frame-source options that produce exactly these frames (callers add trimming and threads).
    public var sourceOptions: FrameSourceOptions {
        var o = FrameSourceOptions()
        o.width = width
        o.height = height
        o.aspect = aspect
        o.scaling = scaling
        o.fps = fps
        o.detail = detailMeter
        return o
    }
}

/// Everything needed to rebuild a trained model: labels, frame settings, network sizes,
/// smoothing, and where the weights came from. Stored as `config.json` beside `model.safetensors`.
public struct ModelConfig: Codable, Sendable, Equatable {
    public var format = "vidformer-model"
    public var version = 1
    public var name: String
    public var labels: [String]
    public var frames: FrameSettings
    public var network: NetworkConfig
    /// Scale of the time signal in the position embeddings (nil: 1, as in older configs).
    public var timeSignal: Float?
    /// Time-signal scales a config may hold (train's `--time-signal` and `validate` check the same range).
    public static let timeSignalRange: ClosedRange<Float> = 0...16
    /// Tokens also carry a learned summary of their whole frame (nil: no, as in older configs).
    public var frameContext: Bool?
    /// The label the contract's definition of black decides, whatever the network says: frames
    /// with at least `blackShare` of the picture's pixels at or below 10% of the luma range
    /// (measured on every sampled frame) get it, and no other frame does (nil: the network
    /// decides every label, as in older configs).
    public var blackLabel: String?
    /// The share of black-level pixels that makes a frame black.
    public static let blackShare = 0.98
    /// Shortest segment per label, in seconds; shorter runs merge into their neighbours.
    public var minimumSegmentSeconds: [String: Double]
    /// Free-form facts about training (data, epochs, seed, date, command).
    public var training: [String: String]

    public init(name: String, labels: [String], frames: FrameSettings, network: NetworkConfig,
                minimumSegmentSeconds: [String: Double] = [:], training: [String: String] = [:]) {
        self.name = name
        self.labels = labels
        self.frames = frames
        self.network = network
        self.minimumSegmentSeconds = minimumSegmentSeconds
        self.training = training
    }

    public var classifierConfig: ClassifierConfig {
        ClassifierConfig(tokenWidth: frames.tokenizer.tokenWidth, tokensPerFrame: frames.tokenizer.tokensPerFrame,
                         labels: labels, network: network, timeSignal: timeSignal ?? 1,
                         frameContext: frameContext ?? false)
    }

    /// Checks what a hand-edited or damaged config could get wrong.
    public func validate() throws {
        func fail(_ why: String) -> ModelError { ModelError("config: \(why)") }
        guard format == "vidformer-model" else { throw fail("format is '\(format)', expected 'vidformer-model'") }
        guard version == 1 else { throw fail("version \(version) is not supported") }
        guard labels.count >= 2, Set(labels).count == labels.count, labels.allSatisfy({ !$0.isEmpty }) else {
            throw fail("labels must be at least two distinct non-empty names")
        }
        guard frames.width > 0, frames.height > 0, frames.patch > 0, frames.width <= 1024, frames.height <= 1024,
              frames.width % frames.patch == 0, frames.height % frames.patch == 0 else {
            throw fail("frame size \(frames.width)x\(frames.height) is not a whole number of \(frames.patch)-pixel patches")
        }
        guard frames.fps > 0, frames.fps <= 240 else { throw fail("fps \(frames.fps) is out of range") }
        guard (0...8).contains(frames.detail) else { throw fail("detail scale \(frames.detail) is out of range (0-8)") }
        guard frames.detailGain > 0, frames.detailGain <= FrameSettings.detailGainLimit else {
            throw fail("detail gain \(frames.detailGain) is out of range (above 0, at most \(Int(FrameSettings.detailGainLimit)))")
        }
        if let t = timeSignal, !Self.timeSignalRange.contains(t) {
            throw fail("time signal \(t) is out of range (\(Int(Self.timeSignalRange.lowerBound))-\(Int(Self.timeSignalRange.upperBound)))")
        }
        if let b = blackLabel, !labels.contains(b) {
            throw fail("black label '\(b)' is not one of the labels (\(labels.joined(separator: ",")))")
        }
        let n = network, a = n.attention
        guard n.width > 0, n.layers > 0, n.hidden > 0, n.feedForwardChunk > 0, a.heads > 0, a.headWidth > 0,
              a.rounds > 0, a.chunk > 0, n.width <= 4096, n.layers <= 64 else { throw fail("network sizes must be positive") }
        guard a.headRolesFit else {
            throw fail("look-back heads (\(a.lookBack?.heads ?? 0)) and local heads (\(a.localHeads ?? 0)) exceed the \(a.heads) heads")
        }
    }
}

public struct ModelError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// A model on disk: `DIR/config.json` and `DIR/model.safetensors`.
public final class VideoModel {
    public let config: ModelConfig
    public let classifier: FrameClassifier
    public let location: String

    public init(config: ModelConfig, location: String = "<memory>") {
        self.config = config
        self.location = location
        classifier = FrameClassifier(config: config.classifierConfig)
    }

    public static let configFile = "config.json"
    public static let weightsFile = "model.safetensors"

    /// Loads a model directory, naming the file and the reason on failure.
    public static func load(_ directory: String) throws -> VideoModel {
        let dir = URL(fileURLWithPath: directory)
        let configURL = dir.appendingPathComponent(configFile), weightsURL = dir.appendingPathComponent(weightsFile)
        let configData: Data
        do { configData = try Data(contentsOf: configURL) } catch {
            throw ModelError("\(configURL.path): cannot read the model config (\(Self.reason(error)))")
        }
        let config: ModelConfig
        do { config = try JSONDecoder().decode(ModelConfig.self, from: configData) } catch {
            throw ModelError("\(configURL.path): not a vidformer model config (\(Self.reason(error)))")
        }
        do { try config.validate() } catch { throw ModelError("\(configURL.path): \(error)") }
        let model = VideoModel(config: config, location: directory)
        let weights: Data
        do { weights = try Data(contentsOf: weightsURL, options: .mappedIfSafe) } catch {
            throw ModelError("\(weightsURL.path): cannot read the weights (\(Self.reason(error)))")
        }
        do {
            let (tensors, _) = try Safetensors.decode(weights)
            try model.classifier.load(tensors)
        } catch {
            throw ModelError("\(weightsURL.path): \(error)")
        }
        return model
    }

    /// Writes both files atomically (temporary names in the same folder, then renames).
    public func save(to directory: String, extraTensors: [String: Tensor] = [:]) throws {
        let dir = URL(fileURLWithPath: directory)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let configData = try encoder.encode(config)
        let weights = try Safetensors.encode(classifier.namedTensors.merging(extraTensors) { a, _ in a },
                                             metadata: ["format": "vidformer", "name": config.name])
        try AtomicFile.write(weights, to: dir.appendingPathComponent(Self.weightsFile).path)
        try AtomicFile.write(configData + Data("\n".utf8), to: dir.appendingPathComponent(Self.configFile).path)
    }

    static func reason(_ error: Error) -> String {
        if let e = error as? CocoaError, let underlying = e.userInfo[NSUnderlyingErrorKey] as? NSError {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if let e = error as? DecodingError {
            switch e {
            case .keyNotFound(let key, _): return "missing key '\(key.stringValue)'"
            case .typeMismatch(_, let c), .valueNotFound(_, let c):
                return "bad value at '\(c.codingPath.map { $0.stringValue }.joined(separator: "."))'"
            case .dataCorrupted(let c): return c.debugDescription
            default: return "\(e)"
            }
        }
        return error.localizedDescription
    }
}
