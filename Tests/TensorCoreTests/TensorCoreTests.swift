import Foundation
import Testing
import TensorCore
import _TestSupport

func referenceMatmul(_ a: [Float], _ b: [Float], m: Int, k: Int, n: Int, transA: Bool, transB: Bool) -> [Double] {
    var c = [Double](repeating: 0, count: m * n)
    for i in 0..<m { for j in 0..<n {
        var s = 0.0
        for p in 0..<k {
            let av = transA ? a[p * m + i] : a[i * k + p]
            let bv = transB ? b[j * k + p] : b[p * n + j]
            s += Double(av) * Double(bv)
        }
        c[i * n + j] = s
    } }
    return c
}

@Suite struct TensorCoreTests {
    @Test(arguments: [(1, 1, 1), (2, 7, 3), (64, 64, 64), (300, 17, 129), (0, 4, 4), (5, 0, 3)])
    func gemmMatchesDoubleReference(m: Int, k: Int, n: Int) {
        var g = SeededGenerator(seed: UInt64(m * 1000 + k * 10 + n))
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = Tensor(randomNormal: [max(1, m * k)], std: 1, generator: &g).scalars
            let b = Tensor(randomNormal: [max(1, k * n)], std: 1, generator: &g).scalars
            var c = [Float](repeating: 7, count: max(1, m * n))
            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                BLAS.gemm(ap.baseAddress!, transA: ta, bp.baseAddress!, transB: tb, cp.baseAddress!, m: m, n: n, k: k)
            } } }
            let want = referenceMatmul(a, b, m: m, k: k, n: n, transA: ta, transB: tb)
            let got = Array(c.prefix(m * n)).map(Double.init)
            #expect(relativeNormError(got, want, floor: 1) < 1e-5, "m=\(m) k=\(k) n=\(n) ta=\(ta) tb=\(tb)")
        }
    }

    @Test func gemmAccumulatesWithBeta() {
        let a: [Float] = [1, 2, 3, 4], b: [Float] = [1, 0, 0, 1]
        var c: [Float] = [10, 10, 10, 10]
        a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
            BLAS.gemm(ap.baseAddress!, bp.baseAddress!, cp.baseAddress!, m: 2, n: 2, k: 2, alpha: 2, beta: 1)
        } } }
        #expect(c == [12, 14, 16, 18])
    }

    @Test(arguments: [0, 1, 2, 7, 64, 1000])
    func parallelChunksCoverEveryIndexOnce(count: Int) {
        var hits = [Int](repeating: 0, count: count)
        hits.withUnsafeMutableBufferPointer { h in
            nonisolated(unsafe) let p = h.baseAddress
            Parallel.forEachChunk(count) { range in for i in range { p![i] += 1 } }
        }
        #expect(hits.allSatisfy { $0 == 1 })
    }

    @Test func seededGeneratorIsReproducibleAndNormal() {
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42), c = SeededGenerator(seed: 43)
        let xs = (0..<20_000).map { _ in a.nextNormal() }
        #expect(xs == (0..<20_000).map { _ in b.nextNormal() })
        #expect(xs.prefix(10) != (0..<10).map { _ in c.nextNormal() }[...])
        let mean = xs.reduce(0, +) / Double(xs.count)
        let variance = xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(xs.count)
        #expect(abs(mean) < 0.03 && abs(variance - 1) < 0.03)
        var u = SeededGenerator(seed: 1)
        #expect((0..<1000).map { _ in u.nextUniform() }.allSatisfy { $0 >= 0 && $0 < 1 })
    }

    @Test func softmaxAndLogSumExpMatchDouble() {
        var g = SeededGenerator(seed: 3)
        for n in [1, 2, 7, 64] {
            var x = (0..<n).map { _ in Float(g.nextNormal() * 30) }
            let xd = x.map(Double.init)
            let m = xd.max()!
            let lse = m + log(xd.map { exp($0 - m) }.reduce(0, +))
            let l1 = x.withUnsafeBufferPointer { Kernels.logSumExp($0.baseAddress!, n) }
            let l2 = x.withUnsafeMutableBufferPointer { Kernels.softmaxRow($0.baseAddress!, n) }
            #expect(relativeError(Double(l1), lse, floor: 1) < 1e-6 && relativeError(Double(l2), lse, floor: 1) < 1e-6)
            #expect(relativeNormError(x.map(Double.init), xd.map { exp($0 - lse) }) < 1e-5)
        }
    }

    @Test func crossEntropyGradientMatchesFiniteDifferences() {
        var g = SeededGenerator(seed: 5)
        let k = 5, targets = [2, 0, -1, 4]
        let logits = (0..<(targets.count * k)).map { _ in Float(g.nextNormal()) }
        let weights: [Float] = [1, 2, 0.5, 1, 3]
        var grad = [Float](repeating: 0, count: logits.count)
        _ = logits.withUnsafeBufferPointer { l in grad.withUnsafeMutableBufferPointer { d in
            Kernels.softmaxCrossEntropy(l.baseAddress!, targets: targets, classes: k, weights: weights, scale: 1, dlogits: d.baseAddress!)
        } }
        func loss(_ x: [Double]) -> Double {
            var total = 0.0
            for (r, t) in targets.enumerated() where t >= 0 {
                let row = Array(x[(r * k)..<((r + 1) * k)])
                let m: Double = row.max()!
                var s = 0.0
                for v in row { s += exp(v - m) }
                let w = Double(weights[t])
                total += w * (m + log(s) - row[t])
            }
            return total
        }
        var numeric = [Double](repeating: 0, count: logits.count)
        var x = logits.map(Double.init)
        for i in x.indices {
            let v = x[i]; x[i] = v + 1e-6; let a = loss(x); x[i] = v - 1e-6; let b = loss(x); x[i] = v
            numeric[i] = (a - b) / 2e-6
        }
        #expect(relativeNormError(grad.map(Double.init), numeric) < 1e-5)
    }
}

@Suite struct ExpTests {
    @Test func fastExpMatchesDoubleAcrossTheRange() {
        var worst = 0.0
        var x: Float = -87
        while x < 88 {
            let err = relativeError(Double(Kernels.exp(x)), Foundation.exp(Double(x)))
            worst = max(worst, err)
            x += 0.0137
        }
        #expect(worst < 5e-7, "worst relative error \(worst)")
        var lanes = SIMD8<Float>(repeating: 0)
        for i in 0..<8 { lanes[i] = Float(i) * 7.3 - 30 }
        let v = Kernels.exp(lanes)
        for i in 0..<8 { #expect(v[i] == Kernels.exp(lanes[i]), "SIMD and scalar agree bit for bit") }
        #expect(Kernels.exp(-1e9) < 1e-37 && Kernels.exp(-1e9) >= 0)
        #expect(Kernels.exp(0) == 1)
    }
}

@Suite struct BLASKernelTests {
    @Test func preferredCoreTypeFollowsTheCPUFeatures() {
        let avx512: Set<String> = ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl"]
        #expect(BLASKernels.preferredCoreType(flags: avx512) == "SkylakeX")
        // AVX-512 without the byte/word instructions the SkylakeX kernels use: Haswell's.
        #expect(BLASKernels.preferredCoreType(flags: avx512.subtracting(["avx512bw"])) == "Haswell")
        #expect(BLASKernels.preferredCoreType(flags: ["avx", "avx2", "fma"]) == "Haswell")
        #expect(BLASKernels.preferredCoreType(flags: ["avx", "avx2"]) == "Sandybridge")
        #expect(BLASKernels.preferredCoreType(flags: ["sse2", "sse4_2"]) == nil)
    }

    @Test func restartsOnlyFromTheGenericKernelsAndNeverAgainstTheUser() {
        let flags: Set<String> = ["avx", "avx2", "fma"]
        #expect(BLASKernels.betterCoreType(environment: [:], coreName: "Prescott", cpuFlags: flags) == "Haswell")
        #expect(BLASKernels.betterCoreType(environment: [:], coreName: "Haswell", cpuFlags: flags) == nil)
        #expect(BLASKernels.betterCoreType(environment: [:], coreName: "SkylakeX", cpuFlags: flags) == nil)
        #expect(BLASKernels.betterCoreType(environment: ["OPENBLAS_CORETYPE": "Prescott"], coreName: "Prescott", cpuFlags: flags) == nil)
        #expect(BLASKernels.betterCoreType(environment: [:], coreName: "Prescott", cpuFlags: ["sse3"]) == nil)
    }

    @Test func readsTheFlagsOfProcCpuinfo() throws {
        let path = NSTemporaryDirectory() + "cpuinfo-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let text = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu sse2 avx avx2 fma\tavx512f\n\n" +
            "processor\t: 1\nflags\t\t: fpu\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(BLASKernels.cpuFlags(cpuinfo: path) == ["fpu", "sse2", "avx", "avx2", "fma", "avx512f"])
        #expect(BLASKernels.cpuFlags(cpuinfo: path + "-missing") == [])
    }
}

@Suite struct DenormalTests {
    /// After `flushDenormals`, a product below the smallest normal float is zero, on the calling
    /// thread and on `forEachPart`'s workers. The operands are parsed from strings at run time so
    /// that the optimizer cannot fold the products at compile time.
    @Test func productsBelowTheNormalRangeAreFlushedToZero() {
        #if arch(x86_64)
        let small = Float("1e-30")!, smaller = Float("1e-12")!
        Parallel.flushDenormals()
        #expect(small * smaller == 0)
        // A normal product is untouched.
        #expect(smaller * smaller > 0)
        let saved = Parallel.workers
        Parallel.workers = 2
        defer { Parallel.workers = saved }
        var results = [Float](repeating: -1, count: 2)
        results.withUnsafeMutableBufferPointer { out in
            let base = out.baseAddress!
            Parallel.forEachPart(2) { part, _ in base[part] = small * smaller }
        }
        #expect(results == [0, 0])
        // A value that is already denormal counts as zero as an input too.
        let tiny = Float(bitPattern: UInt32("256")!)
        #expect(tiny * Float("1e30")! == 0)
        #endif
    }
}
