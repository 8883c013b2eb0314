import Testing
@testable import VideoIO
import _TestSupport

/// Brute force: for each grid point, the nearest frame (earlier one on ties), each frame once,
/// grid points only up to one frame duration past the last frame (the last gap, capped by the
/// nominal frame duration when given).
func referenceSample(_ times: [Double], fps: Double, start: Double = 0, nominal: Double? = nil) -> [Int] {
    guard let last = times.last else { return [] }
    var duration = times.count > 1 ? last - times[times.count - 2] : (nominal ?? 1e-9)
    if let nominal { duration = min(duration, nominal) }
    let end = last + duration
    var chosen = Set<Int>()
    var k = 0
    while true {
        let g = start + Double(k) / fps
        if g >= end { break }
        var best = 0
        for i in times.indices where abs(times[i] - g) < abs(times[best] - g) { best = i }
        chosen.insert(best)
        k += 1
    }
    return chosen.sorted()
}

func runSampler(_ times: [Double], fps: Double?, start: Double = 0) -> [Int] {
    var sampler = NearestFrameSampler(fps: fps, start: start)
    var out: [Int] = []
    for (i, t) in times.enumerated() where sampler.offer(t) { out.append(i - 1) }
    if sampler.finish() { out.append(times.count - 1) }
    return out
}

@Suite struct NearestFrameSamplerTests {
    @Test(arguments: [0.5, 1, 2, 4, 7.5, 30, 100])
    func matchesBruteForceOnRandomTimelines(fps: Double) {
        var state: UInt64 = 12345 &+ UInt64(fps * 1000)
        func uniform() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) * 0x1.0p-53
        }
        for trial in 0..<100 {
            let n = [0, 1, 2, 7, 64, 300][trial % 6]
            var t = uniform() * 0.1
            var times: [Double] = []
            for _ in 0..<n { times.append(t); t += 0.005 + uniform() * 0.2 }
            let got = runSampler(times, fps: fps)
            let want = referenceSample(times, fps: fps)
            #expect(got == want, "trial \(trial) n \(n) fps \(fps)")
        }
    }

    @Test func everyFrameWithoutFPS() {
        #expect(runSampler([0, 0.1, 0.3], fps: nil) == [0, 1, 2])
        #expect(runSampler([], fps: nil) == [])
    }

    @Test func constantRateGridPicksExactFrames() {
        let times = (0..<120).map { Double($0) / 30 }
        #expect(runSampler(times, fps: 1) == [0, 30, 60, 90])
        #expect(runSampler(times, fps: 30) == Array(0..<120))
        #expect(runSampler(times, fps: 60) == Array(0..<120))
    }
}
