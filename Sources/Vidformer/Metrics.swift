import Foundation

/// Frame and segment metrics of predicted against true label sequences (label indices per
/// frame; -1 = unlabelled, left out of every count).
public struct Metrics: Sendable {
    public let labels: [String]
    /// `confusion[truth][prediction]` frame counts.
    public private(set) var confusion: [[Int]]
    private var segmentCounts: [Double: (tp: Int, fp: Int, fn: Int)] = [:]
    private var editTotal = 0.0
    private var sequences = 0
    public static let overlaps: [Double] = [0.10, 0.25, 0.50]

    public init(labels: [String]) {
        self.labels = labels
        confusion = Array(repeating: Array(repeating: 0, count: labels.count), count: labels.count)
        for k in Self.overlaps { segmentCounts[k] = (0, 0, 0) }
    }

    /// Adds one video's frames.
    public mutating func add(truth: [Int], prediction: [Int]) {
        precondition(truth.count == prediction.count)
        var t: [Int] = [], p: [Int] = []
        for (a, b) in zip(truth, prediction) where a >= 0 && b >= 0 {
            confusion[a][b] += 1
            t.append(a); p.append(b)
        }
        guard !t.isEmpty else { return }
        let ts = Self.runs(t), ps = Self.runs(p)
        for k in Self.overlaps {
            let (tp, fp, fn) = Self.segmentMatches(truth: ts, prediction: ps, overlap: k)
            let c = segmentCounts[k]!
            segmentCounts[k] = (c.tp + tp, c.fp + fp, c.fn + fn)
        }
        editTotal += Self.editScore(ts.map(\.label), ps.map(\.label))
        sequences += 1
    }

    public var frames: Int { confusion.joined().reduce(0, +) }
    public var accuracy: Double {
        let correct = labels.indices.map { confusion[$0][$0] }.reduce(0, +)
        return frames == 0 ? 0 : Double(correct) / Double(frames)
    }

    public func precision(_ i: Int) -> Double {
        let predicted = labels.indices.map { confusion[$0][i] }.reduce(0, +)
        return predicted == 0 ? 0 : Double(confusion[i][i]) / Double(predicted)
    }
    public func recall(_ i: Int) -> Double {
        let actual = confusion[i].reduce(0, +)
        return actual == 0 ? 0 : Double(confusion[i][i]) / Double(actual)
    }
    public func f1(_ i: Int) -> Double {
        let p = precision(i), r = recall(i)
        return p + r == 0 ? 0 : 2 * p * r / (p + r)
    }
    /// Support (true frames) of a label.
    public func support(_ i: Int) -> Int { confusion[i].reduce(0, +) }

    /// Mean F1 over labels that occur in the truth or the predictions.
    public var macroF1: Double {
        let present = labels.indices.filter { i in support(i) > 0 || labels.indices.contains { j in confusion[j][i] > 0 } }
        return present.isEmpty ? 0 : present.map(f1).reduce(0, +) / Double(present.count)
    }

    /// Segmental F1 at an IoU threshold (a predicted segment is a hit when it overlaps an unmatched
    /// true segment of its label by at least `overlap` intersection-over-union).
    public func segmentalF1(_ overlap: Double) -> Double {
        guard let c = segmentCounts[overlap] else { return 0 }
        let p = c.tp + c.fp == 0 ? 0 : Double(c.tp) / Double(c.tp + c.fp)
        let r = c.tp + c.fn == 0 ? 0 : Double(c.tp) / Double(c.tp + c.fn)
        return p + r == 0 ? 0 : 2 * p * r / (p + r)
    }

    /// Mean over videos of `1 − Levenshtein(segment labels) / longer length` (0…1).
    public var editScore: Double { sequences == 0 ? 0 : editTotal / Double(sequences) }

    struct Run { var label: Int; var start: Int; var end: Int }

    static func runs(_ seq: [Int]) -> [Run] {
        var out: [Run] = []
        for (i, l) in seq.enumerated() {
            if let last = out.last, last.label == l { out[out.count - 1].end = i + 1 } else { out.append(Run(label: l, start: i, end: i + 1)) }
        }
        return out
    }

    static func segmentMatches(truth: [Run], prediction: [Run], overlap: Double) -> (Int, Int, Int) {
        var used = [Bool](repeating: false, count: truth.count)
        var tp = 0, fp = 0
        for p in prediction {
            var best = -1, bestIoU = 0.0
            for (j, t) in truth.enumerated() where t.label == p.label && !used[j] {
                let inter = max(0, min(p.end, t.end) - max(p.start, t.start))
                let union = max(p.end, t.end) - min(p.start, t.start)
                let iou = Double(inter) / Double(union)
                if iou > bestIoU { bestIoU = iou; best = j }
            }
            if best >= 0 && bestIoU >= overlap { tp += 1; used[best] = true } else { fp += 1 }
        }
        return (tp, fp, used.filter { !$0 }.count)
    }

    static func editScore(_ a: [Int], _ b: [Int]) -> Double {
        if a.isEmpty && b.isEmpty { return 1 }
        if a.isEmpty || b.isEmpty { return 0 }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + [Int](repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return 1 - Double(previous[b.count]) / Double(max(a.count, b.count))
    }

    /// The report as ordered JSON.
    public var json: JSONValue {
        var perLabel: [(String, JSONValue)] = []
        for (i, l) in labels.enumerated() {
            perLabel.append((l, .object([("precision", .number(round4(precision(i)))), ("recall", .number(round4(recall(i)))),
                                         ("f1", .number(round4(f1(i)))), ("support", .integer(support(i)))])))
        }
        return .object([
            ("frames", .integer(frames)),
            ("accuracy", .number(round4(accuracy))),
            ("macro_f1", .number(round4(macroF1))),
            ("segmental_f1", .object(Self.overlaps.map { (String(format: "%.2f", $0), .number(round4(segmentalF1($0)))) })),
            ("edit_score", .number(round4(editScore))),
            ("labels", .object(perLabel)),
            ("confusion", .object([("rows_are", .string("truth")), ("labels", .array(labels.map { .string($0) })),
                                   ("counts", .array(confusion.map { .array($0.map { .integer($0) }) }))])),
        ])
    }

    public var table: String {
        var out = String(format: "Frames %d   accuracy %.2f%%   macro F1 %.3f   edit %.3f\n", frames, accuracy * 100, macroF1, editScore)
        out += "Segmental F1: " + Self.overlaps.map { String(format: "@%.2f %.3f", $0, segmentalF1($0)) }.joined(separator: "  ") + "\n\n"
        out += "  LABEL      PRECISION  RECALL  F1     SUPPORT\n"
        for (i, l) in labels.enumerated() {
            out += "  " + l.padding(toLength: 11, withPad: " ", startingAt: 0)
            out += String(format: "%-10.3f %-7.3f %-6.3f %d\n", precision(i), recall(i), f1(i), support(i))
        }
        out += "\nConfusion (rows: truth, columns: prediction)\n" + "            " + labels.map { $0.prefix(8).padding(toLength: 9, withPad: " ", startingAt: 0) }.joined() + "\n"
        for (i, l) in labels.enumerated() {
            out += "  " + l.padding(toLength: 10, withPad: " ", startingAt: 0)
            out += confusion[i].map { String($0).padding(toLength: 9, withPad: " ", startingAt: 0) }.joined() + "\n"
        }
        return out
    }
}

@inline(__always) func round4(_ x: Double) -> Double { (x * 1e4).rounded() / 1e4 }
