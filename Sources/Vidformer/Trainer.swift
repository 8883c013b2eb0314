import Foundation
import ReformerModel
import TensorCore
import VideoIO

/// Settings of `vidformer train`.
public struct TrainOptions: Sendable {
    public var epochs = 10
    public var optimizer = AdamW.Settings()
    /// Tokens per training step: longer videos are cropped at a random start to fit.
    public var tokenBudget = 16_384
    public var seed: UInt64 = 1
    public var validationFraction = 0.2
    public var validationDirectory: String?
    /// Weight classes by inverse square-root frequency.
    public var balanceClasses = true
    /// Mirror half of the training crops left to right.
    public var mirror = false
    /// Share of training crops given a synthetic repeat (needs `content` and `repeat` labels):
    /// 3–15 s of content pasted over content at least `repeatGap` seconds later.
    public var syntheticRepeats = 0.0
    /// Synthetic repeats planned in each such crop (each on content no earlier one took).
    public var repeatsPerCrop = 1
    /// Each synthetic repeat mixes in a random share of the next frame (as if sampled between frames).
    public var repeatBlend = false
    public var repeatGap = 20.0
    /// Share of training crops given a synthetic hold (needs `content` and `frozen` labels):
    /// a content frame held still over the next 2–10 s, labelled frozen.
    public var syntheticHolds = 0.0
    /// Average the weights of the last this-many epochs (0 or 1: off). The average replaces the
    /// best single epoch only if it scores better on the held-out videos (or, without any, always).
    public var averageLast = 0
    public init() {}
}

/// One line of progress or summary for the caller to show.
public enum TrainEvent {
    case step(epoch: Int, step: Int, totalSteps: Int, loss: Double, tokensPerSecond: Double, etaSeconds: Double)
    case epoch(epoch: Int, trainLoss: Double, validation: Metrics?, best: Bool, seconds: Double)
    case note(String)
}

public struct TrainError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// Trains a `VideoModel` on labelled videos with AdamW, keeps the best checkpoint (by validation
/// macro F1, or training loss without validation), and can resume exactly where it stopped.
public final class Trainer {
    public let model: VideoModel
    public let options: TrainOptions
    public let outputDirectory: String
    let train: [DecodedVideo]
    let validation: [DecodedVideo]
    let optimizer: AdamW
    let classWeights: [Float]
    /// How synthetic repeats are made (nil when they are off): label indices, the gap and the
    /// copy lengths in frames.
    let syntheticRepeats: (content: Int, repeated: Int, gap: Int, lengths: ClosedRange<Int>)?
    let syntheticHolds: (content: Int, frozen: Int, lengths: ClosedRange<Int>)?
    var startEpoch = 0
    var best = -Double.infinity
    /// Running mean of the weights over the averaged epochs so far, by parameter name.
    var average: [String: Tensor] = [:]

    static let stateFile = "training-state.json"
    static let stateWeights = "training-state.safetensors"

    public init(model: VideoModel, train: [DecodedVideo], validation: [DecodedVideo], options: TrainOptions,
                outputDirectory: String) {
        self.model = model
        self.train = train
        self.validation = validation
        self.options = options
        self.outputDirectory = outputDirectory
        var settings = options.optimizer
        settings.totalSteps = max(1, options.epochs * Self.stepsPerEpoch(train, model: model, budget: options.tokenBudget))
        optimizer = AdamW(model.classifier.parameters, settings: settings)
        let k = model.config.labels.count
        let fps = model.config.frames.fps
        if options.syntheticRepeats > 0, let c = model.config.labels.firstIndex(of: "content"),
           let r = model.config.labels.firstIndex(of: "repeat") {
            syntheticRepeats = (c, r, Int((options.repeatGap * fps).rounded(.up)),
                                max(1, Int((3 * fps).rounded()))...max(1, Int((15 * fps).rounded())))
        } else {
            syntheticRepeats = nil
        }
        if options.syntheticHolds > 0, let c = model.config.labels.firstIndex(of: "content"),
           let z = model.config.labels.firstIndex(of: "frozen") {
            syntheticHolds = (c, z, max(1, Int((2 * fps).rounded()))...max(1, Int((10 * fps).rounded())))
        } else {
            syntheticHolds = nil
        }
        var counts = [Double](repeating: 0, count: k)
        for v in train { for l in v.labels where l >= 0 { counts[l] += 1 } }
        let total = counts.reduce(0, +)
        classWeights = counts.map { c in
            guard options.balanceClasses, c > 0, total > 0 else { return 1 }
            return Float((total / Double(k) / c).squareRoot())
        }
    }

    static func stepsPerEpoch(_ videos: [DecodedVideo], model: VideoModel, budget: Int) -> Int {
        let maxFrames = max(1, budget / model.config.frames.tokenizer.tokensPerFrame)
        return videos.map { ($0.frameCount + maxFrames - 1) / maxFrames }.reduce(0, +)
    }

    /// Restores model, optimiser and position from `outputDirectory` (after an interruption).
    public func resume() throws {
        let dir = URL(fileURLWithPath: outputDirectory)
        let stateURL = dir.appendingPathComponent(Self.stateFile)
        guard let data = try? Data(contentsOf: stateURL),
              let state = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let epoch = state["next_epoch"] as? Int, let step = state["step"] as? Int else {
            throw TrainError("\(stateURL.path): no training state to resume from")
        }
        let weights = try Data(contentsOf: dir.appendingPathComponent(Self.stateWeights))
        let (tensors, _) = try Safetensors.decode(weights)
        try model.classifier.load(tensors.filter { !$0.key.hasPrefix("optimizer.") && !$0.key.hasPrefix(Self.averagePrefix) })
        try optimizer.restore(tensors, step: step)
        average = [:]
        for (name, t) in tensors where name.hasPrefix(Self.averagePrefix) { average[String(name.dropFirst(Self.averagePrefix.count))] = t }
        startEpoch = epoch
        best = state["best"] as? Double ?? -Double.infinity
    }

    /// Runs the remaining epochs, reporting through `report`.
    public func run(report: (TrainEvent) -> Void) throws {
        let k = model.config.labels.count
        let p = model.config.frames.tokenizer.tokensPerFrame
        let maxFrames = max(1, options.tokenBudget / p)
        let tokenizer = model.config.frames.tokenizer
        let total = optimizer.settings.totalSteps
        let started = ResourceUsage.now()
        var stepsThisRun = 0
        for epoch in startEpoch..<options.epochs {
            let epochStart = ResourceUsage.now()
            // The data order and crops depend only on (seed, epoch): resuming repeats them exactly.
            var rng = SeededGenerator(seed: SeededGenerator.derive(options.seed, UInt64(epoch)))
            // Each video appears once per token-budget's worth of its frames.
            var order: [Int] = []
            for (i, v) in train.enumerated() {
                order += repeatElement(i, count: (v.frameCount + maxFrames - 1) / maxFrames)
            }
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            var lossSum = 0.0, lossCount = 0
            for item in order {
                let video = train[item]
                let frames = min(maxFrames, video.frameCount)
                let start = video.frameCount > frames ? Int(rng.next() % UInt64(video.frameCount - frames + 1)) : 0
                var targets = Array(video.labels[start..<(start + frames)])
                guard targets.contains(where: { $0 >= 0 }) else { continue }
                var augmentation = Augmentation()
                if options.mirror { augmentation.mirror = rng.next() % 2 == 1 }
                // Holds first: a repeat then never copies frames a hold has covered.
                if let plan = syntheticHolds, rng.nextUniform() < options.syntheticHolds,
                   var hold = Augmentation.planHold(labels: targets, content: plan.content, lengths: plan.lengths, generator: &rng) {
                    for i in hold.target..<(hold.target + hold.count) { targets[i] = plan.frozen }
                    hold.source += start
                    hold.target += start
                    augmentation.pastes.append(hold)
                }
                if let plan = syntheticRepeats, rng.nextUniform() < options.syntheticRepeats {
                    for _ in 0..<options.repeatsPerCrop {
                        guard var paste = Augmentation.planRepeat(labels: targets, content: plan.content, gap: plan.gap,
                                                                  lengths: plan.lengths, blend: options.repeatBlend,
                                                                  generator: &rng) else { break }
                        for i in paste.target..<(paste.target + paste.count) { targets[i] = plan.repeated }
                        paste.source += start
                        paste.target += start
                        augmentation.pastes.append(paste)
                    }
                }
                let input = video.tokens(start..<(start + frames), tokenizer: tokenizer, augmentation: augmentation)
                model.classifier.zeroGrads()
                let hashSeed = SeededGenerator.derive(options.seed ^ 0x5EED, UInt64(optimizer.step + 1))
                let (out, trace) = model.classifier.forward(input, firstFrame: start, hashSeed: hashSeed, trace: true)
                let labelled = targets.filter { $0 >= 0 }.count
                var dLogits = Tensor(zeros: [frames, k])
                let loss = out.frameLogits.withUnsafeBufferPointer { l in
                    dLogits.withUnsafeMutableBufferPointer { d in
                        Kernels.softmaxCrossEntropy(l.baseAddress!, targets: targets, classes: k, weights: classWeights,
                                                    scale: 1 / Float(labelled), dlogits: d.baseAddress!)
                    }
                } / Double(labelled)
                guard loss.isFinite else {
                    throw TrainError("loss became \(loss) at step \(optimizer.step + 1) (epoch \(epoch + 1), \(video.path)); try a lower --lr")
                }
                model.classifier.backward(dFrameLogits: dLogits, dVideoLogits: nil, trace: trace!)
                let norm = optimizer.update()
                guard norm.isFinite else { throw TrainError("gradient norm became \(norm) at step \(optimizer.step); try a lower --lr") }
                lossSum += loss
                lossCount += 1
                stepsThisRun += 1
                let elapsed = ResourceUsage.now() - started
                let rate = Double(stepsThisRun) / max(elapsed, 1e-9)
                report(.step(epoch: epoch + 1, step: optimizer.step, totalSteps: total, loss: loss,
                             tokensPerSecond: Double(stepsThisRun * frames * p) / max(elapsed, 1e-9),
                             etaSeconds: Double(total - optimizer.step) / max(rate, 1e-9)))
            }
            let trainLoss = lossCount > 0 ? lossSum / Double(lossCount) : 0
            var metrics: Metrics?
            if !validation.isEmpty { metrics = evaluate(validation) }
            let score = metrics?.macroF1 ?? -trainLoss
            let improved = score > best
            if improved {
                best = score
                try model.save(to: outputDirectory)
            }
            let averaged = options.averageLast > 1 ? epoch - (options.epochs - options.averageLast) + 1 : 0
            if averaged > 0 { accumulateAverage(count: averaged) }
            try saveState(nextEpoch: epoch + 1)
            report(.epoch(epoch: epoch + 1, trainLoss: trainLoss, validation: metrics, best: improved,
                          seconds: ResourceUsage.now() - epochStart))
            if averaged > 1 && epoch == options.epochs - 1 { try judgeAverage(epochs: averaged, report: report) }
        }
    }

    static let averagePrefix = "average."

    /// Folds the current weights into the running mean as its `count`-th member.
    func accumulateAverage(count: Int) {
        for p in model.classifier.parameters {
            guard count > 1, var mean = average[p.name] else { average[p.name] = p.value; continue }
            let f = 1 / Float(count)
            mean.withUnsafeMutableBufferPointer { m in
                p.value.withUnsafeBufferPointer { w in
                    for i in 0..<m.count { m[i] += (w[i] - m[i]) * f }
                }
            }
            average[p.name] = mean
        }
    }

    /// Scores the averaged weights on the held-out videos and saves them as the model if they beat
    /// the best epoch; the training state keeps the last epoch's own weights.
    func judgeAverage(epochs: Int, report: (TrainEvent) -> Void) throws {
        let own = model.classifier.namedTensors
        try model.classifier.load(average)
        defer { try? model.classifier.load(own) }
        var text = "weights averaged over the last \(epochs) epochs"
        if validation.isEmpty {
            try model.save(to: outputDirectory)
            text += ": saved (no held-out videos to judge them)"
        } else {
            let m = evaluate(validation)
            let keep = m.macroF1 > best
            if keep {
                best = m.macroF1
                try model.save(to: outputDirectory)
            }
            text += String(format: ": val accuracy %.2f%% macro F1 %.3f, ", m.accuracy * 100, m.macroF1)
                + (keep ? "saved" : "not better than the best epoch, not kept")
        }
        report(.note(text))
    }

    /// Raw per-frame argmax over whole videos (no smoothing), for quick validation.
    public func evaluate(_ videos: [DecodedVideo]) -> Metrics {
        var metrics = Metrics(labels: model.config.labels)
        let tokenizer = model.config.frames.tokenizer
        let k = model.config.labels.count
        for v in videos {
            let (out, _) = model.classifier.forward(v.tokens(0..<v.frameCount, tokenizer: tokenizer))
            var predictions: [Int] = []
            for f in 0..<v.frameCount {
                var best = 0
                for j in 1..<k where out.frameLogits[f * k + j] > out.frameLogits[f * k + best] { best = j }
                predictions.append(best)
            }
            metrics.add(truth: v.labels, prediction: predictions)
        }
        return metrics
    }

    func saveState(nextEpoch: Int) throws {
        let dir = URL(fileURLWithPath: outputDirectory)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var tensors = model.classifier.namedTensors.merging(optimizer.stateTensors) { a, _ in a }
        for (name, t) in average { tensors[Self.averagePrefix + name] = t }
        try AtomicFile.write(try Safetensors.encode(tensors), to: dir.appendingPathComponent(Self.stateWeights).path)
        let state: [String: Any] = ["next_epoch": nextEpoch, "step": optimizer.step, "best": best, "seed": options.seed]
        try AtomicFile.write(try JSONSerialization.data(withJSONObject: state, options: [.sortedKeys]),
                             to: dir.appendingPathComponent(Self.stateFile).path)
    }
}
