// The Reformer paper's duplication task, scaled to this machine: a one-layer causal language
// model learns sequences `0 w 0 w` (w random symbols) and is scored on predicting the copied
// half. It checks that LSH attention can learn to find one far-away token among many.
//
//   vidformer-duplication train --out DIR [--attention lsh --rounds 4 …]
//   vidformer-duplication eval  --model DIR [--settings full,lsh-8,lsh-4,lsh-2,lsh-1]
//
// Tools/duplication_task.sh runs the paper's grid and writes the table.
import Foundation
import ReformerModel
import TensorCore

struct Failure: Error, CustomStringConvertible { let description: String }

/// `--key value` options; every key must be known.
struct Options {
    var values: [String: String] = [:]
    init(_ args: ArraySlice<String>, known: Set<String>) throws {
        var it = args.makeIterator()
        while let a = it.next() {
            guard a.hasPrefix("--"), known.contains(String(a.dropFirst(2))) else {
                throw Failure(description: "unknown option '\(a)' (known: \(known.sorted().map { "--" + $0 }.joined(separator: " ")))")
            }
            guard let v = it.next() else { throw Failure(description: "\(a) needs a value") }
            values[String(a.dropFirst(2))] = v
        }
    }
    func string(_ k: String, _ d: String) -> String { values[k] ?? d }
    func int(_ k: String, _ d: Int) throws -> Int {
        guard let s = values[k] else { return d }
        guard let v = Int(s), v > 0 else { throw Failure(description: "--\(k) wants a positive whole number, not '\(s)'") }
        return v
    }
    func double(_ k: String, _ d: Double) throws -> Double {
        guard let s = values[k] else { return d }
        guard let v = Double(s), v > 0 else { throw Failure(description: "--\(k) wants a positive number, not '\(s)'") }
        return v
    }
}

/// `full`, `local`, `lsh-R`.
func attentionSetting(_ s: String, base: AttentionConfig) throws -> AttentionConfig {
    var a = base
    if s == "full" { a.kind = .full; a.rounds = 1; return a }
    if s == "local" { a.kind = .local; a.rounds = 1; return a }
    if s.hasPrefix("lsh-"), let r = Int(s.dropFirst(4)), r > 0 { a.kind = .lsh; a.rounds = r; return a }
    throw Failure(description: "attention setting '\(s)' is not full, local or lsh-R")
}

/// One sequence `0 w 0 w` of `length` symbols (`length` even): `w` has `length/2 − 1` symbols
/// drawn from `1..<vocabulary`.
func duplicationSequence(length: Int, vocabulary: Int, generator g: inout SeededGenerator) -> [Int] {
    let n = length / 2 - 1
    let w = (0..<n).map { _ in 1 + Int(g.next() % UInt64(vocabulary - 1)) }
    return [0] + w + [0] + w
}

/// Targets for the copied half: row `t` predicts symbol `t + 1`; rows before the second `0`
/// predict nothing (`-1`), as in the paper's loss on the second half.
func targets(_ seq: [Int]) -> [Int] {
    let half = seq.count / 2
    return (0..<seq.count).map { t in t >= half && t + 1 < seq.count ? seq[t + 1] : -1 }
}

/// Loss and correct/total predictions of one sequence; with `dLogitsScale`, also the logits' gradient.
func score(_ logits: Tensor, targets: [Int], vocabulary: Int, dLogitsScale: Float?) -> (loss: Double, correct: Int, total: Int, dLogits: Tensor?) {
    var d = Tensor(zeros: logits.shape)
    let loss = logits.withUnsafeBufferPointer { l in
        d.withUnsafeMutableBufferPointer { g in
            Kernels.softmaxCrossEntropy(l.baseAddress!, targets: targets, classes: vocabulary, scale: dLogitsScale ?? 0,
                                        dlogits: g.baseAddress!)
        }
    }
    var correct = 0, total = 0
    for (t, y) in targets.enumerated() where y >= 0 {
        total += 1
        var best = 0
        for j in 1..<vocabulary where logits.scalars[t * vocabulary + j] > logits.scalars[t * vocabulary + best] { best = j }
        if best == y { correct += 1 }
    }
    return (loss, correct, total, dLogitsScale == nil ? nil : d)
}

func writeLine(_ s: String, to handle: FileHandle = .standardOutput) { handle.write((s + "\n").data(using: .utf8)!) }

func json(_ object: [String: Any]) -> String {
    String(data: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), encoding: .utf8)!
}

func train(_ o: Options) throws {
    let out = o.string("out", "")
    guard !out.isEmpty else { throw Failure(description: "train needs --out DIR") }
    let length = try o.int("length", 512), vocabulary = try o.int("vocabulary", 64)
    guard length % 2 == 0, length >= 8, vocabulary >= 3 else { throw Failure(description: "--length must be even and at least 8, --vocabulary at least 3") }
    let width = try o.int("width", 128), heads = try o.int("heads", 4)
    let base = AttentionConfig(kind: .lsh, heads: heads, headWidth: width / heads, rounds: 1, chunk: try o.int("chunk", 64), causal: true)
    let attention = try attentionSetting(o.string("attention", "lsh-4"), base: base)
    let network = NetworkConfig(width: width, layers: try o.int("layers", 1), hidden: try o.int("hidden", 4 * width),
                                feedForwardChunk: 1024, attention: attention, seed: UInt64(try o.int("seed", 1)))
    let model = SequenceModel(config: SequenceModelConfig(vocabulary: vocabulary, maxLength: length, network: network))
    // --init DIR: continue from another run's weights (same shapes) with a fresh schedule.
    var earlierSteps = 0
    if let initial = o.values["init"] {
        let (tensors, meta) = try Safetensors.decode(Data(contentsOf: URL(fileURLWithPath: initial + "/model.safetensors")))
        try model.load(tensors)
        earlierSteps = Int(meta["steps"] ?? "0") ?? 0
    }
    let steps = try o.int("steps", 4000), batch = try o.int("batch", 8)
    var settings = AdamW.Settings()
    settings.learningRate = Float(try o.double("lr", 1e-3))
    settings.warmupSteps = try o.int("warmup", 200)
    settings.totalSteps = steps
    settings.weightDecay = 0
    let optimizer = AdamW(model.parameters, settings: settings)
    let budget = try o.double("minutes", 1e9) * 60
    let logEvery = try o.int("log-every", 50)
    // A continued run draws sequences the first run did not.
    let dataSeed = UInt64(try o.int("data-seed", 7))
    var data = SeededGenerator(seed: earlierSteps == 0 ? dataSeed : SeededGenerator.derive(dataSeed, UInt64(earlierSteps)))
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    _ = FileManager.default.createFile(atPath: out + "/log.jsonl", contents: nil)
    let log = try FileHandle(forWritingTo: URL(fileURLWithPath: out + "/log.jsonl"))
    let start = Date()
    var lossSum = 0.0, correct = 0, total = 0, seen = 0
    var done = 0
    while done < steps {
        model.zeroGrads()
        for b in 0..<batch {
            let seq = duplicationSequence(length: length, vocabulary: vocabulary, generator: &data)
            let y = targets(seq)
            let seed = SeededGenerator.derive(UInt64(earlierSteps + done), UInt64(b))
            let (logits, trace) = model.forward(seq, hashSeed: seed, trace: true)
            let s = score(logits, targets: y, vocabulary: vocabulary, dLogitsScale: 1 / Float(batch * (length / 2 - 1)))
            guard s.loss.isFinite else { throw Failure(description: "loss is \(s.loss) at step \(done + 1)") }
            model.backward(s.dLogits!, trace: trace!)
            lossSum += s.loss / Double(s.total); correct += s.correct; total += s.total; seen += 1
        }
        optimizer.update()
        done += 1
        let elapsed = Date().timeIntervalSince(start)
        if done % logEvery == 0 || done == steps || elapsed > budget {
            let line = json(["step": done, "loss": lossSum / Double(max(seen, 1)), "accuracy": Double(correct) / Double(max(total, 1)),
                             "seconds": (elapsed * 10).rounded() / 10, "lr": Double(optimizer.learningRate(at: done))])
            writeLine(line, to: log)
            writeLine(line, to: .standardError)
            lossSum = 0; correct = 0; total = 0; seen = 0
        }
        if elapsed > budget { writeLine("time budget reached at step \(done) of \(steps)", to: .standardError); break }
    }
    let meta = ["steps": String(earlierSteps + done), "batch": String(batch), "seconds": String(Int(Date().timeIntervalSince(start))),
                "trained_with": o.string("attention", "lsh-4")]
    try Safetensors.encode(model.namedTensors, metadata: meta).write(to: URL(fileURLWithPath: out + "/model.safetensors"))
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(model.config).write(to: URL(fileURLWithPath: out + "/config.json"))
}

func evaluate(_ o: Options) throws {
    let dir = o.string("model", "")
    guard !dir.isEmpty else { throw Failure(description: "eval needs --model DIR") }
    let config = try JSONDecoder().decode(SequenceModelConfig.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json")))
    let trained = SequenceModel(config: config)
    let (tensors, meta) = try Safetensors.decode(Data(contentsOf: URL(fileURLWithPath: dir + "/model.safetensors")))
    try trained.load(tensors)
    let sequences = try o.int("sequences", 64)
    let length = config.maxLength
    for setting in o.string("settings", "full,lsh-8,lsh-4,lsh-2,lsh-1").split(separator: ",") {
        let model = trained.withAttention(try attentionSetting(String(setting), base: config.network.attention))
        // The same held-out sequences for every setting, from a stream training never drew from.
        var data = SeededGenerator(seed: UInt64(try o.int("seed", 1_000_003)))
        var correct = 0, total = 0
        for i in 0..<sequences {
            let seq = duplicationSequence(length: length, vocabulary: config.vocabulary, generator: &data)
            let (logits, _) = model.forward(seq, hashSeed: SeededGenerator.derive(0xE7A1, UInt64(i)))
            let s = score(logits, targets: targets(seq), vocabulary: config.vocabulary, dLogitsScale: nil)
            correct += s.correct; total += s.total
        }
        writeLine(json(["trained_with": meta["trained_with"] ?? "?", "evaluated_with": String(setting),
                        "accuracy": Double(correct) / Double(total), "predictions": total,
                        "steps": Int(meta["steps"] ?? "") ?? 0]))
    }
}

Parallel.configureBLAS()
let args = CommandLine.arguments
do {
    guard args.count >= 2 else { throw Failure(description: "usage: vidformer-duplication train|eval --option value …") }
    let common: Set<String> = ["threads"]
    switch args[1] {
    case "train":
        let o = try Options(args.dropFirst(2), known: common.union(["out", "length", "vocabulary", "width", "heads", "chunk", "attention",
                                                                    "layers", "hidden", "seed", "steps", "batch", "lr", "warmup",
                                                                    "minutes", "log-every", "data-seed", "init"]))
        Parallel.workers = try o.int("threads", 1)
        try train(o)
    case "eval":
        let o = try Options(args.dropFirst(2), known: common.union(["model", "sequences", "settings", "seed"]))
        Parallel.workers = try o.int("threads", 1)
        try evaluate(o)
    default:
        throw Failure(description: "unknown command '\(args[1])' (train or eval)")
    }
} catch {
    writeLine("vidformer-duplication: \(error)", to: .standardError)
    exit(1)
}
