import COpenBLAS
#if canImport(Glibc)
import Glibc
#endif

/// Which of OpenBLAS's kernel sets this process runs, and a better one when it runs the wrong one.
///
/// OpenBLAS picks its kernels once, when the library loads, from the CPU's model number. On a
/// virtual CPU it does not know (seen on this project's machines: "Intel(R) Xeon(R) Processor",
/// with AVX-512) it falls back to its oldest set, Prescott (SSE3): the first training epoch took
/// 1,893 s instead of about 165 s, and classifying the demo 2.04–2.12 s instead of 1.21–1.36 s
/// (BENCHMARKS.md "Session 11"). The choice cannot be changed inside
/// a running process; `OPENBLAS_CORETYPE` in the environment of a new one can, so the command
/// line tool starts itself again with it (`betterCoreType`, used by `main`).
public enum BLASKernels {
    /// The kernel set OpenBLAS chose for this process ("Haswell", "SkylakeX", "Prescott", ...).
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "" }
        return String(cString: name)
    }

    /// The most capable kernel set of OpenBLAS 0.3 that a CPU with these feature flags (as
    /// /proc/cpuinfo spells them) can run: SkylakeX with AVX-512 F/BW/DQ/VL, Haswell with AVX2
    /// and FMA, Sandybridge with AVX; nil without AVX.
    public static func preferredCoreType(flags: Set<String>) -> String? {
        if flags.isSuperset(of: ["avx512f", "avx512bw", "avx512dq", "avx512vl", "avx2", "fma"]) { return "SkylakeX" }
        if flags.isSuperset(of: ["avx2", "fma"]) { return "Haswell" }
        if flags.contains("avx") { return "Sandybridge" }
        return nil
    }

    /// The core type to restart with, or nil to carry on: only when OpenBLAS fell back to its
    /// generic Prescott kernels, the CPU can run better ones, and the user has not chosen a core
    /// type themselves (`OPENBLAS_CORETYPE` set, even to something slow, is left alone). The
    /// flags are read only in that case (every start asks).
    public static func betterCoreType(environment: [String: String], coreName: String,
                                      cpuFlags: @autoclosure () -> Set<String>) -> String? {
        guard environment["OPENBLAS_CORETYPE"] == nil, coreName.lowercased() == "prescott" else { return nil }
        return preferredCoreType(flags: cpuFlags())
    }

    /// The first processor's feature flags from /proc/cpuinfo (empty where there is none).
    public static func cpuFlags(cpuinfo path: String = "/proc/cpuinfo") -> Set<String> {
        guard let file = fopen(path, "r") else { return [] }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>? = nil
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line)
            guard text.hasPrefix("flags"), let colon = text.firstIndex(of: ":") else { continue }
            return Set(text[text.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init))
        }
        return []
    }
}
