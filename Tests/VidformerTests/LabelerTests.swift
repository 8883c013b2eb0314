import Foundation
import Testing
@testable import Vidformer
import VideoIO
import _TestSupport

@Suite struct LabelerTests {
    func frame(_ i: Int, size: Int = 32) -> SampledFrame {
        var state = UInt64(i) &* 0x9E37_79B9_7F4A_7C15 | 1
        let rgb = (0..<(size * size * 3)).map { _ -> UInt8 in state ^= state << 13; state ^= state >> 7; state ^= state << 17; return UInt8(state & 255) }
        return SampledFrame(index: i, time: Double(i) * 0.25, pts: Int64(i), isKeyFrame: false, width: size, height: size, rgb: rgb)
    }

    @Test func windowsLabelEveryFrameOnceWithinTheBudgetAndRememberTheWholePast() throws {
        let model = try VideoModel.load(testModelDirectory)
        let labeler = Labeler(model: model, windowFrames: 5, contextFrames: 3, memoryFrames: 8)
        var labelled: [FrameLabel] = []
        for i in 0..<203 { labelled += labeler.add(frame(i)) }
        labelled += labeler.finish()
        #expect(labelled.map(\.time) == (0..<203).map { Double($0) * 0.25 })
        #expect(labelled.allSatisfy { abs($0.probabilities.reduce(0, +) - 1) < 1e-4 })
        #expect(labeler.largestInput <= 5 + 3 + 8, "bank + context + window: \(labeler.largestInput)")
        let bank = labeler.memoryIndices
        #expect(bank.count <= 8 && bank.count >= 4)
        #expect(bank.first == 0, "the very first frame is still remembered")
        #expect(bank.last! >= 150, "and the bank reaches recent frames: \(bank)")
        #expect(zip(bank, bank.dropFirst()).allSatisfy { $1 - $0 == labeler.memoryStride }, "evenly spread: \(bank)")
    }

    /// The last window's labels depend on the very first frame (through the bank, 190 frames and
    /// dozens of windows later) and not on a frame the bank has let go.
    @Test func lateWindowsStillSeeTheFirstFrameThroughTheBank() throws {
        let model = try VideoModel.load(testModelDirectory)
        func lastLabels(replacing index: Int?) -> [[Float]] {
            let labeler = Labeler(model: model, windowFrames: 5, contextFrames: 3, memoryFrames: 8)
            var labelled: [FrameLabel] = []
            for i in 0..<203 { labelled += labeler.add(frame(i == index ? 10_000 + i : i)) }
            labelled += labeler.finish()
            #expect(labeler.memoryIndices.contains(0) && !labeler.memoryIndices.contains(1) && !labeler.memoryIndices.contains(2))
            return labelled.suffix(3).map(\.probabilities)
        }
        let base = lastLabels(replacing: nil)
        #expect(lastLabels(replacing: 0) != base, "frame 0 is in the bank: the last window attends to it")
        #expect(lastLabels(replacing: 1) == base, "frame 1 left the bank: nothing of it is left")
    }

    @Test func aWholeVideoInOneWindowNeedsNoBank() throws {
        let model = try VideoModel.load(testModelDirectory)
        let (window, context, memory) = Labeler.windowSizes(maxTokens: 160_000, tokensPerFrame: 16)
        #expect(window + context + memory <= 10_000 && window >= 6_000)
        let labeler = Labeler(model: model, windowFrames: window, contextFrames: context, memoryFrames: memory)
        var labelled: [FrameLabel] = []
        for i in 0..<40 { labelled += labeler.add(frame(i)) }
        #expect(labelled.isEmpty, "nothing is final before the end when the video fits one window")
        labelled += labeler.finish()
        #expect(labelled.count == 40 && labeler.memoryIndices.isEmpty && labeler.largestInput == 40)
    }

    @Test func theBlackDefinitionDecidesBlackBothWays() {
        var row: [Float] = [0.2, 0.5, 0.1, 0.1, 0.05, 0.05]
        Labeler.applyBlackDefinition(&row, black: 1, isBlack: false)
        let want: [Float] = [0.4, 0, 0.2, 0.2, 0.1, 0.1]
        #expect(zip(row, want).allSatisfy { abs($0 - $1) < 1e-6 }, "\(row)")
        row = [0.2, 0.5, 0.1, 0.1, 0.05, 0.05]
        Labeler.applyBlackDefinition(&row, black: 1, isBlack: true)
        #expect(row == [0, 1, 0, 0, 0, 0])
        row = [0, 1, 0]
        Labeler.applyBlackDefinition(&row, black: 1, isBlack: false)
        #expect(row == [1, 0, 0], "all the mass was on black: the first other label")
        row = [1, 0, 0]
        Labeler.applyBlackDefinition(&row, black: 0, isBlack: false)
        #expect(row == [0, 1, 0])
    }

    /// With `blackLabel`, frames measured black are black for sure and the rest cannot be; the
    /// other labels keep the network's proportions (same weights with and without the setting).
    @Test func aModelWithTheBlackDefinitionLabelsMeasuredBlackFrames() throws {
        let plain = try VideoModel.load(testModelDirectory)
        var config = plain.config
        config.blackLabel = "black"
        let ruled = VideoModel(config: config)
        try ruled.classifier.load(plain.classifier.namedTensors)
        func labels(_ model: VideoModel) -> [FrameLabel] {
            let labeler = Labeler(model: model, windowFrames: 7, contextFrames: 3, memoryFrames: 4)
            var out: [FrameLabel] = []
            for i in 0..<40 {
                var f = frame(i)
                f.darkShare = [0.99, 0.5, nil, 0.98, 0.979][i % 5]
                out += labeler.add(f)
            }
            return out + labeler.finish()
        }
        let a = labels(plain), b = labels(ruled)
        #expect(a.count == 40 && b.count == 40)
        for (i, (p, q)) in zip(a, b).enumerated() {
            #expect(p.time == q.time)
            if i % 5 == 0 || i % 5 == 3 {
                #expect(q.probabilities == [0, 1, 0, 0, 0, 0], "frame \(i): at least 98% dark")
            } else {
                #expect(q.probabilities[1] == 0, "frame \(i)")
                let rest = 1 - p.probabilities[1]
                for j in [0, 2, 3, 4, 5] { #expect(abs(q.probabilities[j] - p.probabilities[j] / rest) < 1e-5) }
            }
        }
    }
}
