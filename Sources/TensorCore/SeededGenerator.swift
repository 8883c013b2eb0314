#if canImport(Glibc)
import Glibc
#endif

/// A small, fast, seedable generator (xoshiro256**, seeded through SplitMix64): the same seed
/// gives the same numbers on every machine, which makes hashing, initialisation and data order
/// reproducible.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)
    private var spareNormal: Double?

    public init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    @inlinable static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    public mutating func next() -> UInt64 {
        let result = Self.rotl(s.1 &* 5, 7) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = Self.rotl(s.3, 45)
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextUniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Standard normal (Box–Muller; the second value is kept for the next call).
    public mutating func nextNormal() -> Double {
        if let spare = spareNormal { spareNormal = nil; return spare }
        var u = nextUniform()
        while u <= .leastNonzeroMagnitude { u = nextUniform() }
        let v = nextUniform()
        let r = (-2 * log(u)).squareRoot()
        spareNormal = r * sin(2 * .pi * v)
        return r * cos(2 * .pi * v)
    }

    /// A derived, independent seed: for per-layer or per-step streams.
    public static func derive(_ seed: UInt64, _ salt: UInt64) -> UInt64 {
        var g = SeededGenerator(seed: seed ^ (salt &* 0x9E37_79B9_7F4A_7C15))
        return g.next()
    }
}
