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
}
